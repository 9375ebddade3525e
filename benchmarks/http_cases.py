"""``http_client``: the runtime's HTTP transports against raw ``httpx`` + orjson in the same run.

A server child process (``_http_server``, a minimal asyncio HTTP/1.1 keep-alive responder) and a
client child process (``_http_child``) run on the two cores; throughputs are medians of interleaved
rounds, each of ours next to its raw twin, each case on its own fresh pair of clients.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .harness import PYTHON, Outcome, Row, Workspace, median, run, server_process, spread

HERE = Path(__file__).resolve().parent

#: ``what`` of the child's keys -> (row name prefix, our call, the raw baseline).
_WHATS = {
    "get": (
        "http_rpc",
        "DeribitClient.over_http(...).public.get_time() (GET)",
        "raw httpx.AsyncClient GET + orjson.loads",
    ),
    "post": (
        "http_rpc_post",
        'over_http(..., http_method="POST").public.get_time()',
        "raw httpx.AsyncClient POST of the orjson body + orjson.loads",
    ),
    "rest": (
        "http_rest",
        "OptionsRestClient.get_health() (GET /v1/health)",
        "raw httpx.AsyncClient GET, status checked, .text",
    ),
}
_SHAPES = {
    "seq": ("request", "sequential", ">= 92 % of raw (ratio <= 1.09)"),
    "100": ("in_flight", "100 in flight", ">= 75 % of raw (ratio <= 1.33)"),
}


def _per_call(rates: list[float]) -> list[float]:
    return [1.0 / r for r in rates]


def _client(ws: Workspace) -> dict[str, Any]:
    """Run ``_http_child.py`` against a fresh ``_http_server.py``; its JSON result."""
    deribit, options = ws.tree("deribit_api"), ws.tree()
    with server_process(ws, [str(HERE / "_http_server.py")], "the benchmark HTTP server") as port:
        argv = [str(HERE / "_http_child.py"), str(deribit), str(options), port]
        _, proc = run([PYTHON, *argv, "1" if ws.settings.quick else "0"], ws.env)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def http_client(ws: Workspace) -> Outcome:
    r = _client(ws)
    rows: list[Row] = []
    parts: list[str] = []
    for what, (name, ours_subject, raw_subject) in _WHATS.items():
        shown: list[str] = []
        for shape, (suffix, how, goal) in _SHAPES.items():
            ours, raw = r[f"our_{what}_{shape}"], r[f"raw_{what}_{shape}"]
            ours_s, raw_s = _per_call(ours), _per_call(raw)
            rows.append(
                Row(
                    f"{name}_{suffix}",
                    f"{how}: {ours_subject} (s/call)",
                    median(ours_s),
                    spread(ours_s),
                    f"{raw_subject}, {how}",
                    median(raw_s),
                    spread(raw_s),
                    goal,
                    {"ours_calls_per_s": ours, "raw_calls_per_s": raw, "sizes": r["sizes"]},
                )
            )
            m_ours, m_raw = median(ours), median(raw)
            shown.append(f"{how} {m_ours:,.0f}/s vs raw {m_raw:,.0f}/s ({m_ours / m_raw:.0%})")
        parts.append(f"{what.upper()} {'; '.join(shown)}")
    note = "http_client: " + " | ".join(parts) + "."
    return Outcome(rows, [note])


__all__ = ["http_client"]
