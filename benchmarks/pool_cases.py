"""``pool_memory``: 10,000 subscriptions over a connection pool, RSS over time, reported per stream.

A server child (``_pool_server``: the Options mock, its clock ticking so that every proposal is priced
again on each tick) and a client child (``_pool_child``: 10,000 proposal streams with distinct
amounts over a :class:`~deriv_runtime.pool.PooledTransport` of 10 connections, a consumer task per
stream) run in their own processes; the client samples its resident set size once a second. The row
compares RSS per stream at the end with RSS per stream when the warm-up ended: flat means a ratio
close to 1. Full run: 10 minutes after a 1-minute warm-up; ``--quick``: 2,000 streams over 4
connections, 12 s.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .harness import PYTHON, BenchError, Outcome, Row, Workspace, run, server_process

HERE = Path(__file__).resolve().parent


def _mock(ws: Workspace, tree: Path, tick_interval: float) -> AbstractContextManager[str]:
    """The Options mock in its own process; yields its port."""
    argv = [str(HERE / "_pool_server.py"), str(tree), str(tick_interval)]
    return server_process(ws, argv, "the mock server of pool_memory", stop_timeout=30)


def pool_memory(ws: Workspace) -> Outcome:
    quick = ws.settings.quick
    streams, connections = (2_000, 4) if quick else (10_000, 10)
    seconds, warmup = (12.0, 4.0) if quick else (600.0, 60.0)
    tree = ws.tree()
    with _mock(ws, tree, 1.0) as port:
        args = [str(tree), port, str(streams), str(connections), str(seconds), str(warmup)]
        _, proc = run([PYTHON, str(HERE / "_pool_child.py"), *args], ws.env)
    r: dict[str, Any] = json.loads(proc.stdout)
    samples: list[tuple[float, int]] = [(t, b) for t, b in r["samples"]]
    warm = [b for t, b in samples if t >= warmup]
    if len(warm) < 2:
        raise BenchError("pool_memory: too few RSS samples after the warm-up")
    base = r["rss_before"]
    per_stream = [(b - base) / streams for b in warm]
    at_warm, at_end = per_stream[0], per_stream[-1]
    peak = max(per_stream)
    kib = 1024.0
    row = Row(
        "pool_memory",
        f"RSS per stream at the end ({streams:,} streams, {connections} connections, {seconds:.0f} s)",
        at_end,
        (min(per_stream), peak),
        "RSS per stream when the warm-up ended",
        at_warm,
        (at_warm, at_warm),
        "flat after warm-up (ratio <= 1.05)",
        {**r, "per_stream_bytes": per_stream},
        unit="B",
    )
    rate = r["messages"] / seconds
    note = (
        f"pool_memory: {streams:,} streams over {connections} connections (load {r['load']}), opened in "
        f"{r['open_s']:.1f} s; RSS {base / kib / kib:.0f} MiB before, "
        f"{warm[0] / kib / kib:.0f} MiB after warm-up, {warm[-1] / kib / kib:.0f} MiB after "
        f"{seconds:.0f} s ({at_warm / kib:.1f} -> {at_end / kib:.1f} KiB per stream, peak "
        f"{peak / kib:.1f}); {rate:,.0f} msg/s read, {r['dropped']:,} dropped, {r['gaps']} gaps."
    )
    return Outcome([row], [note])
