"""Golden records: our own small bundles -> the committed expected trees, which type-check.

``mini_api`` is the Deriv Options layout (tests/fixtures/mini), ``mini_rpc`` the Deribit one (JSON-RPC
operations and channels, tests/fixtures/mini_rpc), ``mini_v3`` the Deriv v3 documentation layout
(tests/fixtures/mini_v3: PCRE patterns, look-ahead, patternProperties, sensitive fields, p2p names,
a string default on an integer).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from deriv_codegen.build import STAMP

from .conftest import ROOT
from .golden.regen import EXPECTED


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != STAMP and "__pycache__" not in p.parts
    }


def _same(actual: dict[str, bytes], expected: dict[str, bytes]) -> None:
    assert sorted(actual) == sorted(expected), "file list differs; run: python -m tests.golden.regen"
    for name, content in expected.items():
        assert actual[name] == content, f"{name} differs (regen: python -m tests.golden.regen)"


def test_generated_tree_matches_golden_records(mini_dist: Path) -> None:
    _same(_tree(mini_dist), _tree(EXPECTED / "mini_api"))


def test_generated_rpc_tree_matches_golden_records(mini_rpc_dist: Path) -> None:
    _same(_tree(mini_rpc_dist), _tree(EXPECTED / "mini_rpc"))


def test_generated_v3_tree_matches_golden_records(mini_v3_dist: Path) -> None:
    _same(_tree(mini_v3_dist), _tree(EXPECTED / "mini_v3"))


@pytest.mark.parametrize("package", ["mini_api", "mini_rpc", "mini_v3"])
def test_golden_tree_passes_mypy_strict(package: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"), package],
        cwd=EXPECTED / package,
        capture_output=True,
        text=True,
        check=False,
        env={"MYPYPATH": str(ROOT / "runtime"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
