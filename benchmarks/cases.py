"""The benchmarks. Each takes the shared :class:`Workspace` and returns rows for the report."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .harness import (
    PYTHON,
    REPO,
    BenchError,
    Outcome,
    Row,
    Workspace,
    interleaved,
    median,
    run,
    spread,
    wall,
)
from .http_cases import http_client
from .legacy_cases import legacy_client
from .pool_cases import pool_memory
from .runtime_cases import jsonrpc_client, websocket_client
from .subs_cases import many_subscriptions

T = TypeVar("T")

_DMCG_CHILD = Path(__file__).resolve().parent / "_dmcg_child.py"
_SECONDS = re.compile(r"([0-9]+\.[0-9]+) s\)$", re.M)
_SOURCE_SECONDS = re.compile(r"^(\S+) \S+: .*\(.*?([0-9]+\.[0-9]+) s\)$", re.M)


def _reported_seconds(stdout: str) -> float:
    """The seconds the CLI reports for its own work (``... (37 files, 1.56 s)``)."""
    found = _SECONDS.findall(stdout)
    if not found:
        raise BenchError(f"no '(... N.NN s)' in the CLI's output:\n{stdout}")
    return float(found[-1])


def _reported_by_source(stdout: str, sources: list[str]) -> dict[str, float]:
    """The seconds the CLI reports for each source (``deribit 2.0.0: ... (112 files, 1.54 s)``)."""
    found = {m[0]: float(m[1]) for m in _SOURCE_SECONDS.findall(stdout)}
    missing = [name for name in sources if name not in found]
    if missing:
        raise BenchError(f"no '(... N.NN s)' line for {', '.join(missing)} in the CLI's output:\n{stdout}")
    return {name: found[name] for name in sources}


def _cli_runner(
    ws: Workspace, cmd: list[str], reported: list[T], read: Callable[[str], T]
) -> Callable[[], float]:
    """A runner of the CLI command ``cmd`` (from the repository) that also keeps what the CLI
    reports of its own time (``read`` of its output) in ``reported``."""

    def runner() -> float:
        elapsed, proc = run(cmd, ws.env, cwd=REPO)
        reported.append(read(proc.stdout))
        return elapsed

    return runner


def _all_apis_row(
    case: str,
    pinned: list[str],
    all_s: list[float],
    options_s: list[float],
    reported_all: list[dict[str, float]],
) -> Row:
    """``generate --force`` of every pinned API against ``generate deriv-options --force``."""
    return Row(
        case,
        f"generate --force: all {len(pinned)} pinned APIs ({', '.join(pinned)})",
        median(all_s),
        spread(all_s),
        "generate deriv-options --force",
        median(options_s),
        spread(options_s),
        "all <= 8 s",
        {"ours_samples": all_s, "baseline_samples": options_s, "cli_reported_s": reported_all},
    )


def _pinned() -> list[str]:
    """Names of every pinned source (``schemas/sources.toml``), in the file's order."""
    from deriv_codegen.sources import load_sources

    return list(load_sources(REPO / "schemas" / "sources.toml").sources)


# --- generate_full ------------------------------------------------------------------------------


def _prefix_local_refs(node: Any, prefix: str) -> Any:
    """Re-point ``#/...`` references of a schema moved to ``prefix`` (``#/$defs/NAME``)."""
    if isinstance(node, list):
        return [_prefix_local_refs(v, prefix) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
            out[key] = prefix + value[1:]
        else:
            out[key] = _prefix_local_refs(value, prefix)
    return out


def _baseline_inputs(ws: Workspace) -> dict[str, Any]:
    """Write the baseline documents (WebSocket calls only / every pair) and the options as JSON.

    Also fills the workspace's download cache from the mirror, as the CLI would on its first run.
    """
    # deriv_codegen ships no py.typed marker (yet): mypy sees an untyped installed package.
    from deriv_codegen.fetch import (
        FetchOptions,
        fetch,
        mirrors_from_env,
    )
    from deriv_codegen.ir import BundleInfo
    from deriv_codegen.models import DMCG_OPTIONS
    from deriv_codegen.readers import (
        BundleFiles,
        read_bundle,
    )
    from deriv_codegen.sources import load_sources

    sources = load_sources(REPO / "schemas" / "sources.toml")
    source = sources.get("deriv-options")
    options = FetchOptions(
        cache_dir=ws.cache_dir, mirrors=(*mirrors_from_env(), *sources.mirrors), offline=True
    )
    bundle = fetch(source, options)
    ir = read_bundle(
        bundle, source.layout, BundleInfo(source.name, source.version, source.sha256, str(bundle))
    )
    ws_ops = ir.bound("deriv-ws")
    ws_files = {name for op in ws_ops for name in op.source_files}
    files = BundleFiles.open(bundle)
    every = [n for n in files.names() if n.endswith(("_request.schema.json", "_response.schema.json"))]

    def document(names: list[str]) -> dict[str, Any]:
        defs: dict[str, Any] = {}
        for name in names:
            key = name.removesuffix(".schema.json")
            schema = files.json(name)
            schema.pop("$schema", None)
            defs[key] = _prefix_local_refs(schema, f"#/$defs/{key}")
        return {"$defs": defs}

    out: dict[str, Any] = {"version": source.version, "ws_calls": len(ws_ops)}
    for label, names in (("ws", sorted(ws_files)), ("all", every)):
        path = ws.root / f"baseline-{label}.json"
        path.write_text(json.dumps(document(names)), encoding="utf-8")
        out[f"{label}_doc"] = path
        out[f"{label}_files"] = len(names)
    opts = ws.root / "dmcg-options.json"
    opts.write_text(json.dumps(DMCG_OPTIONS), encoding="utf-8")
    out["options"] = opts
    return out


def _dmcg_runner(
    ws: Workspace, doc: Path, options: Path, splits: list[dict[str, Any]]
) -> Callable[[], float]:
    cmd = [PYTHON, str(_DMCG_CHILD), str(doc), str(options), str(ws.root / f"{doc.stem}.out.py")]

    def runner() -> float:
        elapsed, proc = run(cmd, ws.env, cwd=ws.root)
        splits.append(json.loads(proc.stdout))
        return elapsed

    return runner


def generate_full(ws: Workspace) -> Outcome:
    n = ws.settings.runs(3, 5)
    inputs = _baseline_inputs(ws)
    pinned = _pinned()
    out, out_all = ws.root / "full", ws.root / "full-all"
    cmd = ws.generate_cmd(out, force=True)
    cmd_all = ws.generate_cmd(out_all, force=True, sources=())
    reported: list[float] = []
    reported_all: list[dict[str, float]] = []

    ours = _cli_runner(ws, cmd, reported, _reported_seconds)
    ours_all = _cli_runner(ws, cmd_all, reported_all, lambda out: _reported_by_source(out, pinned))
    ws_splits: list[dict[str, Any]] = []
    all_splits: list[dict[str, Any]] = []
    runners = {
        "ours": ours,
        "ours_all": ours_all,
        "dmcg": _dmcg_runner(ws, inputs["ws_doc"], inputs["options"], ws_splits),
    }
    if not ws.settings.quick:  # the informational baseline: not worth the time of a quick run
        runners["dmcg_all"] = _dmcg_runner(ws, inputs["all_doc"], inputs["options"], all_splits)
    samples = interleaved(runners, n)
    for warmed in (reported, reported_all, ws_splits, all_splits):
        del warmed[:1]
    ws.adopt_tree(out_all)

    ours_s, all_s, dmcg_s = samples["ours"], samples["ours_all"], samples["dmcg"]
    ws_calls, ws_files, all_files = inputs["ws_calls"], inputs["ws_files"], inputs["all_files"]
    cli = f"generate deriv-options --force ({ws_calls} calls)"
    rows = [
        Row(
            "generate_full",
            cli,
            median(ours_s),
            spread(ours_s),
            f"datamodel-code-generator alone, {ws_files} WS schemas",
            median(dmcg_s),
            spread(dmcg_s),
            "ours <= 3 s",
            {
                "ours_samples": ours_s,
                "baseline_samples": dmcg_s,
                "cli_reported_s": reported,
                "baseline_splits": ws_splits,
            },
        ),
        _all_apis_row("generate_full", pinned, all_s, ours_s, reported_all),
    ]
    if "dmcg_all" in samples:
        dmcg_all_s = samples["dmcg_all"]
        rows.append(
            Row(
                "generate_full",
                cli,
                median(ours_s),
                spread(ours_s),
                f"datamodel-code-generator alone, all {all_files} schemas",
                median(dmcg_all_s),
                spread(dmcg_all_s),
                "informational",
                {"baseline_samples": dmcg_all_s, "baseline_splits": all_splits},
            )
        )
    split = ws_splits
    per_source = ", ".join(f"{name} {median([r[name] for r in reported_all]):.2f} s" for name in pinned)
    notes = [
        f"generate_full: the CLI reports {median(reported):.2f} s of its own work (median) of the "
        f"{median(ours_s):.2f} s wall time. The baseline spends "
        f"{median([s['import_s'] for s in split]):.2f} s in `import datamodel_code_generator` (lazy) and "
        f"{median([s['generate_s'] for s in split]):.2f} s in generate(), its heavy imports included "
        f"({split[0]['classes']} classes in one module).",
        f"generate_full (all pinned APIs): {median(all_s):.2f} s wall; the CLI reports per API "
        f"(medians): {per_source}.",
    ]
    return Outcome(rows, notes)


# --- generate_legacy ----------------------------------------------------------------------------


def generate_legacy(ws: Workspace) -> Outcome:
    """``generate deriv-legacy-v3 --force`` (the 120 calls of the v3 documentation bundle) against
    ``generate deriv-options --force``, and every pinned API together."""
    n = ws.settings.runs(3, 5)
    pinned = _pinned()
    out_v3, out_opt, out_all = ws.root / "legacy", ws.root / "legacy-options", ws.root / "legacy-all"
    cmd_v3 = ws.generate_cmd(out_v3, force=True, sources=("deriv-legacy-v3",))
    cmd_opt = ws.generate_cmd(out_opt, force=True)
    cmd_all = ws.generate_cmd(out_all, force=True, sources=())
    reported_v3: list[float] = []
    reported_all: list[dict[str, float]] = []

    legacy = _cli_runner(ws, cmd_v3, reported_v3, _reported_seconds)

    def options() -> float:
        return run(cmd_opt, ws.env, cwd=REPO)[0]

    every = _cli_runner(ws, cmd_all, reported_all, lambda out: _reported_by_source(out, pinned))
    samples = interleaved({"legacy": legacy, "options": options, "all": every}, n)
    for warmed in (reported_v3, reported_all):
        del warmed[:1]
    v3_s, opt_s, all_s = samples["legacy"], samples["options"], samples["all"]
    rows = [
        Row(
            "generate_legacy",
            "generate deriv-legacy-v3 --force (120 calls)",
            median(v3_s),
            spread(v3_s),
            "generate deriv-options --force",
            median(opt_s),
            spread(opt_s),
            "legacy <= 4 s",
            {"ours_samples": v3_s, "baseline_samples": opt_s, "cli_reported_s": reported_v3},
        ),
        _all_apis_row("generate_legacy", pinned, all_s, opt_s, reported_all),
    ]
    per_source = ", ".join(f"{name} {median([r[name] for r in reported_all]):.2f} s" for name in pinned)
    notes = [
        f"generate_legacy: the CLI reports {median(reported_v3):.2f} s of its own work for the v3 bundle "
        f"(median) of {median(v3_s):.2f} s wall; all pinned APIs {median(all_s):.2f} s wall, per API "
        f"(medians): {per_source}."
    ]
    return Outcome(rows, notes)


# --- generate_unchanged -------------------------------------------------------------------------


def generate_unchanged(ws: Workspace) -> Outcome:
    n = ws.settings.runs(10, 20)
    pinned = _pinned()
    out = ws.tree().parent  # every pinned source, up to date
    cmd = ws.generate_cmd(out, force=False)
    cmd_all = ws.generate_cmd(out, force=False, sources=())
    for command in (cmd, cmd_all):
        _, first = run(command, ws.env, cwd=REPO)
        if "up to date" not in first.stdout or "files," in first.stdout:
            raise RuntimeError(f"generate without --force did not take the no-op path:\n{first.stdout}")
    reported: list[float] = []
    reported_all: list[dict[str, float]] = []

    ours = _cli_runner(ws, cmd, reported, _reported_seconds)
    ours_all = _cli_runner(ws, cmd_all, reported_all, lambda out: _reported_by_source(out, pinned))
    runners = {"ours": ours, "ours_all": ours_all, "pass": wall([PYTHON, "-c", "pass"], ws.env, ws.root)}
    samples = interleaved(runners, n)
    del reported[0], reported_all[0]  # the warm-up
    ours_s, all_s, pass_s = samples["ours"], samples["ours_all"], samples["pass"]
    rows = [
        Row(
            "generate_unchanged",
            "generate deriv-options (up to date)",
            median(ours_s),
            spread(ours_s),
            "python -c pass",
            median(pass_s),
            spread(pass_s),
            "ours <= 0.3 s",
            {"ours_samples": ours_s, "baseline_samples": pass_s, "cli_reported_s": reported},
        ),
        Row(
            "generate_unchanged",
            f"generate (all {len(pinned)} pinned APIs up to date)",
            median(all_s),
            spread(all_s),
            "python -c pass",
            median(pass_s),
            spread(pass_s),
            "all <= 0.3 s",
            {"ours_samples": all_s, "baseline_samples": pass_s, "cli_reported_s": reported_all},
        ),
    ]
    per_source = ", ".join(
        f"{name} {median([r[name] for r in reported_all]) * 1000:.0f} ms" for name in pinned
    )
    note = (
        f"generate_unchanged: the CLI reports {median(reported) * 1000:.0f} ms in its up-to-date check "
        f"(median); the rest of the {median(ours_s) * 1000:.0f} ms is interpreter start-up and imports. "
        f"All pinned APIs: {median(all_s) * 1000:.0f} ms wall, checks {per_source}."
    )
    return Outcome(rows, [note])


# --- import_client ------------------------------------------------------------------------------

_MARK = "@@bench-start"


def _importtime_total(stmt: str, ws: Workspace) -> float:
    """Sum of the top-level cumulative ``-X importtime`` entries of ``stmt``, in seconds."""
    code = f"import sys; sys.stderr.write({_MARK!r} + chr(10)); sys.stderr.flush(); {stmt}"
    _, proc = run([PYTHON, "-X", "importtime", "-c", code], ws.env, cwd=ws.root)
    _, _, after = proc.stderr.partition(_MARK + "\n")
    total = 0
    for line in after.splitlines():
        if not line.startswith("import time:"):
            continue
        _, cumulative, name = line.split("|", 2)
        if not name[1:].startswith(" ") and cumulative.strip().isdigit():
            total += int(cumulative)
    return total / 1e6


def import_client(ws: Workspace) -> Outcome:
    n = ws.settings.runs(10, 20)

    def on_path(package: str) -> str:
        return f"import sys; sys.path.insert(0, {str(ws.tree(package))!r})"

    stmts = {
        "ours": f"{on_path('deriv_options')}; import deriv_options; deriv_options.OptionsClient",
        "v3": f"{on_path('deriv_v3')}; import deriv_v3; deriv_v3.V3Client",
        "deribit": f"{on_path('deribit_api')}; import deribit_api; deribit_api.DeribitClient",
        "pydantic": "import pydantic, websockets",
        "basemodel": "from pydantic import BaseModel; import websockets",
        "pass": "pass",
    }
    samples = interleaved({k: wall([PYTHON, "-c", v], ws.env, ws.root) for k, v in stmts.items()}, n)
    start = median(samples["pass"])

    def net(key: str) -> float:
        return median(samples[key]) - start

    k = ws.settings.runs(3, 5)
    importtime = {key: [_importtime_total(stmts[key], ws) for _ in range(k)] for key in ("ours", "pydantic")}
    subject = "import deriv_options; .OptionsClient"
    ours_spread = spread(samples["ours"], start)
    data = {"samples": samples, "python_c_pass_median": start}
    rows = [
        Row(
            "import_client",
            subject,
            net("ours"),
            ours_spread,
            "import pydantic, websockets",
            net("pydantic"),
            spread(samples["pydantic"], start),
            "ratio <= 1.3",
            data,
        ),
        *(
            Row(
                "import_client",
                f"import {package}; .{client}",
                net(key),
                spread(samples[key], start),
                "import pydantic, websockets",
                net("pydantic"),
                spread(samples["pydantic"], start),
                "ratio <= 1.3",
            )
            for key, package, client in (
                ("v3", "deriv_v3", "V3Client"),
                ("deribit", "deribit_api", "DeribitClient"),
            )
        ),
        Row(
            "import_client",
            subject,
            net("ours"),
            ours_spread,
            "from pydantic import BaseModel; import websockets",
            net("basemodel"),
            spread(samples["basemodel"], start),
            "informational",
        ),
        Row(
            "import_client",
            "-X importtime total: " + subject,
            median(importtime["ours"]),
            spread(importtime["ours"]),
            "-X importtime total: import pydantic, websockets",
            median(importtime["pydantic"]),
            spread(importtime["pydantic"]),
            "informational",
            {"importtime_samples": importtime},
        ),
    ]
    note = (
        f"import_client: wall times are minus interpreter start-up (python -c pass, median "
        f"{start * 1000:.0f} ms); -X importtime totals are {k} runs each and inflated by the tracing itself."
    )
    return Outcome(rows, [note])


# --- first_call_import --------------------------------------------------------------------------

_FIRST_CALL = """\
import importlib, json, pkgutil, sys, time
sys.path.insert(0, sys.argv[1])
mode = sys.argv[2]
import deriv_options
deriv_options.OptionsClient
from deriv_runtime.client import build_request
from pydantic import BaseModel
t0 = time.perf_counter()
modules, built = 0, 0
if mode != "lazy":
    import deriv_options.models as pkg
    mods = [importlib.import_module(pkg.__name__ + "." + m.name) for m in pkgutil.iter_modules(pkg.__path__)]
    modules = len(mods)
    if mode == "eager_build":
        for mod in mods:
            for obj in list(vars(mod).values()):
                if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == mod.__name__:
                    obj.model_rebuild()
                    built += bool(obj.__pydantic_complete__)
t1 = time.perf_counter()
from deriv_options.models.buy import BuyParameters, BuyRequest
t2 = time.perf_counter()
params = BuyParameters(
    contract_type="CALL", currency="USD", underlying_symbol="R_100",
    amount=10, basis="stake", duration=5, duration_unit="t",
)
payload = {"buy": "1", "price": 10.5, "parameters": params}
message = json.dumps(build_request(deriv_options.CALLS["buy"], BuyRequest, payload))
t3 = time.perf_counter()
assert '"contract_type":"CALL"' in message.replace(" ", ""), message
print(json.dumps({"before_s": t1 - t0, "import_buy_s": t2 - t1, "first_call_s": t3 - t2,
                  "total_s": t3 - t0, "modules": modules, "built": built}))
"""


def first_call_import(ws: Workspace) -> Outcome:
    n = ws.settings.runs(5, 10)
    tree = ws.tree()
    results: dict[str, list[dict[str, Any]]] = {"lazy": [], "eager": [], "eager_build": []}

    def runner(mode: str) -> Callable[[], float]:
        def measure() -> float:
            _, proc = run([PYTHON, "-c", _FIRST_CALL, str(tree), mode], ws.env, cwd=ws.root)
            result: dict[str, Any] = json.loads(proc.stdout)
            results[mode].append(result)
            return float(result["total_s"])

        return measure

    samples = interleaved({mode: runner(mode) for mode in results}, n)
    for runs in results.values():
        del runs[0]  # the warm-up

    def med(mode: str, key: str) -> float:
        return median([r[key] for r in results[mode]])

    subject = "lazy: import models.buy + first BuyRequest"
    eager = results["eager"][0]["modules"]
    rows = [
        Row(
            "first_call_import",
            subject,
            median(samples["lazy"]),
            spread(samples["lazy"]),
            f"eager: import all {eager} model modules, same call",
            median(samples["eager"]),
            spread(samples["eager"]),
            "informational",
            {"samples": samples, "splits": results},
        ),
        Row(
            "first_call_import",
            subject,
            median(samples["lazy"]),
            spread(samples["lazy"]),
            f"eager: import and build all {results['eager_build'][0]['built']} models, same call",
            median(samples["eager_build"]),
            spread(samples["eager_build"]),
            "informational",
        ),
    ]
    ms = 1000
    note = (
        f"first_call_import (medians, after the client is imported): import models.buy "
        f"{med('lazy', 'import_buy_s') * ms:.1f} ms + first validate/serialise "
        f"{med('lazy', 'first_call_s') * ms:.1f} ms (validators are built on first use: defer_build); "
        f"importing all model modules {med('eager', 'before_s') * ms:.1f} ms; building every model "
        f"{(med('eager_build', 'before_s') - med('eager', 'before_s')) * ms:.0f} ms more; "
        f"after a build-all the call costs {med('eager_build', 'first_call_s') * ms:.1f} ms."
    )
    return Outcome(rows, [note])


BENCHMARKS: dict[str, Callable[[Workspace], Outcome]] = {
    "generate_full": generate_full,
    "generate_legacy": generate_legacy,
    "generate_unchanged": generate_unchanged,
    "import_client": import_client,
    "first_call_import": first_call_import,
    "websocket_client": websocket_client,
    "jsonrpc_client": jsonrpc_client,
    "legacy_client": legacy_client,
    "http_client": http_client,
    "pool_memory": pool_memory,
    "many_subscriptions": many_subscriptions,
}
