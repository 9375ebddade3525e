"""Golden records: our own small bundle -> the committed expected tree, which type-checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deriv_codegen.build import STAMP

from .conftest import ROOT
from .golden.regen import EXPECTED


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != STAMP and "__pycache__" not in p.parts
    }


def test_generated_tree_matches_golden_records(mini_dist: Path) -> None:
    expected = _tree(EXPECTED / "mini_api")
    actual = _tree(mini_dist)
    assert sorted(actual) == sorted(expected), "file list differs; run: python -m tests.golden.regen"
    for name in expected:
        assert actual[name] == expected[name], f"{name} differs (regen: python -m tests.golden.regen)"


def test_golden_tree_passes_mypy_strict(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"), "mini_api"],
        cwd=EXPECTED / "mini_api",
        capture_output=True,
        text=True,
        check=False,
        env={"MYPYPATH": str(ROOT / "runtime"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
