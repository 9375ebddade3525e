"""Generate a client distribution from a bundle: read -> models -> render -> format -> write.

The output directory is replaced atomically: the new tree is written and formatted in a staging
directory beside it and renamed into place, so a failed run leaves the previous tree untouched.
A stamp file records a key of every input; when the key and the tree on disk match, the run is
a no-op (this is what makes regeneration with unchanged inputs fast).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import CodegenError, Problem
from .ir import BundleInfo
from .limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from .config import ApiConfig
    from .ir import ApiIR

STAMP = ".deriv-codegen.json"
_GENERATOR_DIR = Path(__file__).resolve().parent


@dataclass
class BuildResult:
    package: str
    out_dir: Path
    up_to_date: bool
    seconds: float
    ws_calls: int = 0
    rest_operations: int = 0
    rest_schemas: int = 0
    #: RPC-style APIs (Deribit): operations and subscription channels.
    operations: int = 0
    channels: int = 0
    files: int = 0
    problems: list[Problem] = field(default_factory=list)


def _generator_fingerprint() -> str:
    from .render import templates_dir

    h = hashlib.sha256(__version__.encode())
    roots = [_GENERATOR_DIR, templates_dir()]
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.suffix in {".py", ".jinja"}:
                h.update(p.relative_to(root).as_posix().encode())
                h.update(p.read_bytes())
    for dist in ("datamodel-code-generator", "ruff", "jinja2"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=missing".encode())
    return h.hexdigest()


def build_key(info: BundleInfo, package: str, config_file: Path | None) -> str:
    h = hashlib.sha256()
    for part in (info.source, info.version, info.sha256, package, _generator_fingerprint()):
        h.update(part.encode() + b"\0")
    if config_file is not None and config_file.is_file():
        h.update(config_file.read_bytes())
    return h.hexdigest()


def _tree_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != STAMP and "__pycache__" not in p.parts
    }


def is_up_to_date(dest: Path, key: str) -> bool:
    try:
        stamp = json.loads((dest / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict) and stamp.get("build_key") == key and stamp.get("files") == _tree_files(dest)
    )


def generate(
    bundle: Path,
    info: BundleInfo,
    layout: str,
    package: str,
    out_dir: Path,
    overrides_dir: Path,
    *,
    force: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> BuildResult:
    """Generate ``package`` from ``bundle`` into ``out_dir``; a bundle over ``limits`` raises
    :class:`~deriv_codegen.errors.LimitExceeded` before anything is written."""
    started = time.perf_counter()
    config_file = overrides_dir / f"{info.source}.toml"
    dest = out_dir / package
    key = build_key(info, package, config_file)
    if not force and is_up_to_date(dest, key):
        return BuildResult(package, dest, True, time.perf_counter() - started)

    _require_generator_extra()
    from .config import load_api_config
    from .readers import read_bundle

    config = load_api_config(overrides_dir, info.source)
    ir = read_bundle(bundle, layout, info, limits, config)
    files, problems, counts = renderer(ir)(ir, config, package, limits)
    write_tree(dest, files, key)
    return BuildResult(
        package,
        dest,
        False,
        time.perf_counter() - started,
        files=len(files),
        problems=sorted(set(problems)),
        **counts,
    )


Rendered = tuple[dict[str, str], list[Problem], dict[str, int]]
Renderer = Callable[["ApiIR", "ApiConfig", str, Limits], Rendered]


def renderer(ir: ApiIR) -> Renderer:
    """The renderer of the wires the operations are bound to: ``jsonrpc-*`` -> the JSON-RPC one,
    ``deriv-*`` (or nothing read at all) -> the Deriv one. One package speaks one protocol family."""
    kinds = ir.binding_kinds()
    rpc = {k for k in kinds if k.startswith("jsonrpc-")}
    deriv = kinds - rpc
    if rpc and deriv:
        raise CodegenError(
            f"{ir.bundle.source}: operations bound to {', '.join(sorted(kinds))}: a package is generated "
            "for the Deriv wires or for JSON-RPC, not both"
        )
    return _render_rpc if rpc else _render_deriv


def _render_deriv(ir: ApiIR, config: ApiConfig, package: str, limits: Limits) -> Rendered:
    """A Deriv API (``deriv-ws`` and ``deriv-rest`` operations) -> its client package's files."""
    from .models import build_call_models
    from .render import build_view, render_package, screen_calls
    from .rest import build_rest

    screen_calls(ir)
    label = f"{ir.bundle.source} {ir.bundle.version}"
    ws_ops = ir.bound("deriv-ws")
    models = build_call_models(ws_ops, label, limits)
    rest = build_rest(ir, label)
    view = build_view(ir, models, config, package, rest)
    files = render_package(view, models, ir)
    problems = [*ir.problems, *(p for m in models for p in m.problems), *rest.problems, *view.problems]
    counts = {
        "ws_calls": len(ws_ops),
        "rest_operations": len(ir.bound("deriv-rest")),
        "rest_schemas": len(ir.rest_schemas),
    }
    return files, problems, counts


def _render_rpc(ir: ApiIR, config: ApiConfig, package: str, limits: Limits) -> Rendered:
    """An RPC-style API (operations and channels: Deribit's JSON-RPC) -> its client package's files."""
    from .rpc_models import build_rpc_models
    from .rpc_render import build_rpc_view, render_rpc_package

    label = f"{ir.bundle.source} {ir.bundle.version}"
    ops, channels = build_rpc_models(ir, label, config.channel_names, limits)
    view = build_rpc_view(ir, ops, channels, config, package)
    files = render_rpc_package(view, ops, channels, ir.openapi)
    problems = [*ir.problems, *view.problems]
    problems += [p for m in ops for p in m.problems] + [p for c in channels for p in c.problems]
    return files, problems, {"operations": len(ir.operations), "channels": len(ir.channels)}


def _require_generator_extra() -> None:
    import importlib.util

    missing = [m for m in ("datamodel_code_generator", "jinja2") if importlib.util.find_spec(m) is None]
    if missing:
        raise CodegenError(
            f"the build step needs {', '.join(missing)}, which are not installed: "
            "pip install deriv-codegen, which depends on them (generated clients need only deriv-runtime)"
        )


def check_parses(rel: str, source: str | bytes, dest: Path) -> None:
    """A generated Python file must parse; one that does not is a generator bug, reported as such."""
    try:
        compile(source, rel, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        raise CodegenError(
            f"generated file {rel} does not parse (line {line}: {msg}); nothing was written and "
            f"{dest} is untouched. This is a bug of deriv-codegen: please report it with the bundle"
        ) from None


def write_tree(dest: Path, files: dict[str, str], key: str) -> None:
    """Write ``files`` under ``dest``, formatted, replacing any previous tree atomically.

    Every Python file is parsed before anything is written and again after formatting, before the
    staging directory replaces ``dest``: a file that does not parse leaves the previous tree as it was.
    """
    for rel, text in sorted(files.items()):
        if rel.endswith(".py"):
            check_parses(rel, text, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.staging-{os.getpid()}"
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for rel, text in sorted(files.items()):
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                path.write_text(text, encoding="utf-8", newline="\n")
            except UnicodeEncodeError as exc:
                raise CodegenError(
                    f"generated file {rel} cannot be written as UTF-8 ({exc.reason} at {exc.start}): "
                    "the bundle carries a lone surrogate"
                ) from None
        format_tree(staging)
        for path in sorted(staging.rglob("*.py")):
            check_parses(path.relative_to(staging).as_posix(), path.read_bytes(), dest)
        stamp = {"build_key": key, "files": _tree_files(staging)}
        (staging / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if dest.exists():
            dest.rename(old)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _ruff() -> str:
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]
    except ImportError:
        found = shutil.which("ruff")
        if found:
            return found
        raise CodegenError(
            "ruff is needed to format generated code: pip install deriv-codegen (it depends on ruff)"
        ) from None
    return str(find_ruff_bin())


def format_tree(root: Path) -> None:
    """Sort imports, drop unused ones, and format: once, over the whole tree."""
    ruff = _ruff()
    common = ["--isolated", "--line-length", "110", "--target-version", "py311", "--no-cache"]
    for args in (
        [ruff, "check", *common, "--select", "I,F401", "--fix", "--quiet", "--exit-zero", str(root)],
        [ruff, "format", *common, str(root)],
    ):
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            raise CodegenError(f"formatting generated code failed ({' '.join(args[1:3])}); see output above")
