#!/usr/bin/env python3
"""Run a nox session with nothing installed beforehand: ``python3 dev.py SESSION [nox args]``.

Creates ``.venv-dev`` (stdlib venv) with pinned nox and uv the first time, then runs
``nox -s SESSION``. Sessions build their own environments under ``.nox/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOT = ROOT / ".venv-dev"
TOOLS = ["nox==2026.10.20", "uv==0.13.9"]
STAMP = BOOT / ".tools"


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in {"-h", "--help"}:
        print(__doc__.strip())
        print("\nsessions: generate, tests, lint, typecheck, bench   (python3 dev.py list: all)")
        return 0 if len(sys.argv) >= 2 else 2
    bindir = BOOT / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    if not python.exists() or not STAMP.exists() or STAMP.read_text() != "\n".join(TOOLS):
        print(f"dev.py: setting up {BOOT.name} with {' '.join(TOOLS)}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(BOOT)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *TOOLS], check=True
        )
        STAMP.write_text("\n".join(TOOLS))
    session, rest = sys.argv[1], sys.argv[2:]
    args = (
        [str(python), "-m", "nox", "--list"]
        if session == "list"
        else [str(python), "-m", "nox", "-s", session, *rest]
    )
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(args, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
