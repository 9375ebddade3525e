"""Generating twice, with different hash seeds, gives byte-identical trees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import FIXTURES, OPTIONS_RELEASES, ROOT

CLI = [sys.executable, "-m", "deriv_codegen", "generate", "deriv-options", "--offline", "--force"]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(out: Path, seed: str, *extra: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    proc = subprocess.run(
        [*CLI, "--out", str(out), *extra], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


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
