"""The mock's module layout: no import cycles (not even through ``TYPE_CHECKING`` imports), every
module importable on its own in a fresh interpreter, a core that knows no API, no oversized module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import deriv_runtime.mock
import pytest

PACKAGE = "deriv_runtime.mock"
ROOT = Path(deriv_runtime.mock.__file__).resolve().parent
MAX_LINES = 620


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """The mock modules ``name`` imports anywhere (top level, functions, ``TYPE_CHECKING``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for target in targets:
            # the deepest mock module the import names (``from .core import ws`` names core.ws)
            module = target
            while module and module not in MODULES:
                module = module.rpartition(".")[0]
            if module and module != name and module.startswith(PACKAGE):
                found.add(module)
    # a package's own __init__ runs before its modules: not an edge worth a cycle
    return {t for t in found if t != PACKAGE and not name.startswith(t + ".")}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(GRAPH):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_the_core_knows_no_api() -> None:
    core = f"{PACKAGE}.core"
    for name, imported in GRAPH.items():
        if name.startswith(core):
            assert all(i.startswith(core) for i in imported), f"{name} imports {sorted(imported)}"


def test_no_module_is_oversized() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {n: s for n, s in sizes.items() if s > MAX_LINES} == {}


def _import_alone(name: str) -> tuple[str, int, str]:
    code = f"import importlib; importlib.import_module({name!r})"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    return name, proc.returncode, proc.stderr[-2000:]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_alone(name: str) -> None:
    _, code, err = _import_alone(name)
    assert code == 0, err
