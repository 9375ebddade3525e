"""Sessions: generate (the main job), tests, lint, typecheck, bench.

Run through ``python3 dev.py SESSION`` on a fresh clone, or ``nox -s SESSION`` if nox is installed.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

PYTHON = "3.11"
# Installed packages keep compiled bytecode, so imports (and benchmarks) do not depend on
# whether this machine may write __pycache__ (PYTHONDONTWRITEBYTECODE).
ENV = {"UV_COMPILE_BYTECODE": "1"}


def _install(session: nox.Session, extras: str) -> None:
    session.install("-e", f".[{extras}]", env=ENV)


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Generate every pinned client into generated/ (pass args through: nox -s generate -- --force)."""
    _install(session, "generator")
    session.run("deriv-codegen", "generate", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (golden records, functional, every Options release, determinism, downloads)."""
    _install(session, "dev")
    session.run("pytest", *session.posargs, env={"PYTHONHASHSEED": "0"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the generator, the runtime and the generated clients."""
    _install(session, "dev")
    session.run("mypy")
    session.run("deriv-codegen", "generate")
    for dist in sorted(os.listdir("generated")):
        if not dist.startswith("."):
            session.run("mypy", "--strict", os.path.join("generated", dist, dist))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks, reported as ratios against baselines measured in the same run."""
    _install(session, "dev")
    session.run("python", "-m", "benchmarks", *session.posargs)
