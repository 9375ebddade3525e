#!/usr/bin/env python3
"""Run a nox session with nothing installed beforehand: ``python3 dev.py SESSION [nox args]``.

Creates ``.venv-dev`` (stdlib venv) with pinned nox and uv the first time, then runs
``nox -s SESSION``. Sessions build their own environments under ``.nox/``; ``generate`` also leaves
``.venv`` ready (the runtime, the generator and the generated clients), and

    python3 dev.py run -- COMMAND [ARGS]     e.g.  python3 dev.py run -- deriv-mock
                                                   python3 dev.py run -- python examples/stream_ticks.py

runs a command in it (``source .venv/bin/activate`` does the same for a whole shell).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOT = ROOT / ".venv-dev"
TOOLS = ["nox==2026.10.20", "uv==0.13.9"]
STAMP = BOOT / ".tools"
#: The project's environment: made ready by ``generate`` (see noxfile.py), used by ``run``.
PROJECT_ENV = ROOT / ".venv"


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in {"-h", "--help"}:
        print(__doc__.strip())
        print("\nsessions: generate, tests, lint, typecheck, bench   (python3 dev.py list: all)")
        print("run -- COMMAND: run a command in .venv, which generate leaves ready")
        return 0 if len(sys.argv) >= 2 else 2
    if sys.argv[1] == "run":
        return run(sys.argv[2:])
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


def run(argv: list[str]) -> int:
    """Run ``argv`` in the project's environment (.venv): its ``python``, its scripts first on PATH."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    bindir = PROJECT_ENV / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    if not argv:
        print("usage: python3 dev.py run -- COMMAND [ARGS]")
        print("   e.g. python3 dev.py run -- deriv-mock")
        print("        python3 dev.py run -- python examples/stream_ticks.py")
        return 2
    if not python.exists():
        print(f"dev.py: no {PROJECT_ENV.name} yet: run python3 dev.py generate first", file=sys.stderr)
        return 2
    path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "VIRTUAL_ENV": str(PROJECT_ENV), "PATH": path}
    env.pop("PYTHONHOME", None)
    program = str(python) if argv[0] in {"python", "python3"} else shutil.which(argv[0], path=path)
    if program is None:
        print(f"dev.py: {argv[0]}: no such command in {PROJECT_ENV.name} or on PATH", file=sys.stderr)
        return 127
    if os.name == "nt":
        try:
            return subprocess.run([program, *argv[1:]], env=env, check=False).returncode
        except KeyboardInterrupt:
            return 130
    os.execve(program, [program, *argv[1:]], env)  # noqa: S606 - the command gets Ctrl-C and the exit status


if __name__ == "__main__":
    sys.exit(main())
