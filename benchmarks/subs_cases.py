"""``many_subscriptions``: 1,000 tick subscriptions at 10 msg/s each on one connection, the client
process's CPU time per message, ours vs raw hand routing.

A server child (``_subs_server``: Deriv framing, every subscription's frames spread evenly, every
10 ms) and a client child (``_subs_child``) run in their own processes. The client, in interleaved
rounds on fresh connections, opens the subscriptions either through ``OptionsClient.subscribe_ticks``
(a consumer task per stream iterating typed ``TicksResponse`` messages) or by hand (``websockets`` +
orjson, one reader routing each frame by ``req_id`` to a dict of ``asyncio.Queue``, a consumer task
per subscription) and measures ``time.process_time()`` over a steady window after a warm-up. The row
compares CPU seconds per message received, so a difference in delivered counts does not bias it.
Full run: 5 rounds of a 10 s window after 2 s; ``--quick``: 3 rounds of 4 s after 1 s.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .harness import PYTHON, BenchError, Outcome, Row, Workspace, median, run, server_process, spread

HERE = Path(__file__).resolve().parent

STREAMS = 1_000
RATE = 10.0


def _server(ws: Workspace, rate: float) -> AbstractContextManager[str]:
    """``_subs_server.py RATE`` in its own process; yields its port."""
    return server_process(ws, [str(HERE / "_subs_server.py"), str(rate)], "the server of many_subscriptions")


def _per_msg(phases: list[dict[str, Any]]) -> list[float]:
    out: list[float] = []
    for phase in phases:
        if phase["messages"] <= 0:
            raise BenchError("many_subscriptions: a phase received no message in its window")
        out.append(phase["cpu_s"] / phase["messages"])
    return out


def many_subscriptions(ws: Workspace) -> Outcome:
    quick = ws.settings.quick
    window, warmup, rounds = (4.0, 1.0, 3) if quick else (10.0, 2.0, 5)
    tree = ws.tree()
    with _server(ws, RATE) as port:
        args = [str(tree), port, str(STREAMS), str(RATE), str(window), str(warmup), str(rounds)]
        _, proc = run([PYTHON, str(HERE / "_subs_child.py"), *args], ws.env)
    r: dict[str, Any] = json.loads(proc.stdout)
    ours, raw = _per_msg(r["ours"]), _per_msg(r["raw"])
    row = Row(
        "many_subscriptions",
        f"{STREAMS:,} subscribe_ticks streams x {RATE:g} msg/s, a task each (CPU s/msg)",
        median(ours),
        spread(ours),
        "raw websockets + orjson, req_id -> dict of asyncio.Queue, a task each",
        median(raw),
        spread(raw),
        "CPU <= 1.15x raw hand routing",
        r,
    )

    def summary(name: str) -> str:
        phases = r[name]
        rate = median([p["messages"] / p["wall_s"] for p in phases])
        cpu = median([p["cpu_s"] / p["wall_s"] for p in phases])
        got = median([p["messages"] for p in phases])
        dropped = sum(p["dropped"] for p in phases)
        expected = r["expected"]
        return (
            f"{name} {rate:,.0f} msg/s ({got:,.0f} received of {expected:,.0f} expected in {window:g} s), "
            f"{cpu:.1%} CPU of one core, {median([p['open_s'] for p in phases]):.2f} s to open, "
            f"{dropped} dropped"
        )

    note = (
        f"many_subscriptions ({STREAMS:,} streams x {RATE:g} msg/s, medians of {rounds} rounds): "
        f"{summary('ours')}; {summary('raw')}; {median(ours) * 1e6:.1f} vs {median(raw) * 1e6:.1f} us "
        "CPU per message."
    )
    return Outcome([row], [note])


__all__ = ["many_subscriptions"]
