"""Generating twice, with different hash seeds, gives byte-identical trees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES, OPTIONS_RELEASES, ROOT, SHARED_SCHEMAS

CLI = [sys.executable, "-m", "deriv_codegen", "generate", "deriv-options", "--offline", "--force"]
DERIBIT_DOC = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(out: Path, seed: str, *extra: str, cli: list[str] = CLI) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    proc = subprocess.run(
        [*cli, "--out", str(out), *extra], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_two_runs_are_byte_identical(tmp_path: Path) -> None:
    source = (
        ["--from", str(OPTIONS_RELEASES[-1]), "--label", "same"]
        if OPTIONS_RELEASES
        else ["--from", str(FIXTURES / "mini"), "--label", "same"]
    )
    _run(tmp_path / "a", "1", *source)
    _run(tmp_path / "b", "987654", *source)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys()
    assert len(a) > 5
    assert [name for name in a if a[name] != b[name]] == []


@pytest.mark.skipif(
    not DERIBIT_DOC.is_file(), reason=f"the Deribit document is not in the mirror ({DERIBIT_DOC})"
)
def test_deribit_runs_are_byte_identical_and_a_second_run_is_a_no_op(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "deriv_codegen", "generate", "deribit", "--offline"]
    _run(tmp_path / "a", "1", "--force", cli=cli)
    _run(tmp_path / "b", "987654", "--force", cli=cli)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys()
    assert len(a) > 100
    assert [name for name in a if a[name] != b[name]] == []
    again = _run(tmp_path / "a", "5", cli=cli)
    assert "is up to date" in again
    assert _tree(tmp_path / "a") == a
