"""Sessions: generate (the main job), tests (the whole gate), lint, typecheck, bench.

Run through ``python3 dev.py SESSION`` on a fresh clone, or ``nox -s SESSION`` if nox is installed.

Two distributions come from this repository: the runtime (``runtime/pyproject.toml``,
``deriv-runtime``) and the generator (``pyproject.toml``, ``deriv-codegen``, which depends on the
runtime). Every session installs both, editable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PYTHON = "3.11"
ROOT = Path(__file__).resolve().parent
#: The project's environment that ``generate`` leaves ready: the runtime, the generator and the
#: generated clients, editable. ``python3 dev.py run -- CMD`` runs in it (or activate it).
PROJECT_ENV = ROOT / ".venv"
# Installed packages keep compiled bytecode, so imports (and benchmarks) do not depend on
# whether this machine may write __pycache__ (PYTHONDONTWRITEBYTECODE).
ENV = {"UV_COMPILE_BYTECODE": "1"}
RUFF = "ruff==0.17.6"  # the generator's own pin (pyproject.toml), which formats generated code


def _install(session: nox.Session, extras: str = "") -> None:
    """The runtime and the generator, editable (the generator depends on this very runtime)."""
    session.install("-e", "./runtime", "-e", f".[{extras}]" if extras else ".", env=ENV)


def generated_dists() -> list[Path]:
    """The pinned builds in generated/ (each a distribution: generated/<package>/pyproject.toml)."""
    out = ROOT / "generated"
    if not out.is_dir():
        return []
    return [d for d in sorted(out.iterdir()) if d.name.isidentifier() and (d / "pyproject.toml").is_file()]


def _env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@nox.session(python=False)
def generate(session: nox.Session) -> None:
    """Generate every pinned client into generated/, and leave .venv ready with the runtime, the
    generator and the generated clients installed (pass args through: dev.py generate -- --force)."""
    python = _env_python(PROJECT_ENV)
    if not python.exists():
        session.log(f"creating {PROJECT_ENV.name} (the project's environment)")
        subprocess.run([sys.executable, "-m", "venv", str(PROJECT_ENV)], check=True)
    uv = shutil.which("uv")

    def install(*args: str) -> None:
        if uv is not None:
            session.run(uv, "pip", "install", "-q", "--python", str(python), *args, env=ENV, external=True)
        else:
            session.run(str(python), "-m", "pip", "install", "-q", *args, external=True)

    install("-e", "./runtime", "-e", ".")
    session.run(str(python), "-m", "deriv_codegen", "generate", *session.posargs, external=True)
    dists = generated_dists()
    if dists:
        install(*(arg for d in dists for arg in ("-e", str(d.relative_to(ROOT)))))
    names = ", ".join(d.name for d in dists) or "no generated client"
    session.log(
        f"ready: {PROJECT_ENV.name} has deriv_runtime, deriv_codegen and {names}. "
        "Run in it: python3 dev.py run -- deriv-mock   |   python3 dev.py run -- python SCRIPT.py"
    )


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole gate: lint (ruff check, ruff format --check), mypy --strict on the generator and the
    runtime, then the test suite (which also type-checks generated packages with mypy --strict).
    Arguments go to pytest: dev.py tests -- -k packaging."""
    _install(session, "dev")
    _lint(session)
    session.run("mypy")
    session.run("pytest", *session.posargs, env={"PYTHONHASHSEED": "0"})


def _lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check (part of tests)."""
    session.install(RUFF)
    _lint(session)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the generator, the runtime and the pinned generated clients."""
    _install(session, "dev")
    session.run("mypy")
    session.run("deriv-codegen", "generate")
    for dist in generated_dists():
        session.run("mypy", "--strict", str(dist / dist.name))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks, reported as ratios against baselines measured in the same run."""
    _install(session, "dev")
    session.run("python", "-m", "benchmarks", *session.posargs)
