"""Runtime benchmarks: the WebSocket client against raw ``websockets`` in the same run.

A server child process (``_ws_server``) and a client child process (``_ws_child``) run on the two
cores; throughputs are medians of interleaved rounds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .harness import PYTHON, BenchError, Outcome, Row, Workspace, median, run, spread

HERE = Path(__file__).resolve().parent


def _per_msg(rates: list[float]) -> list[float]:
    return [1.0 / r for r in rates]


def websocket_client(ws: Workspace) -> Outcome:
    tree = ws.tree()
    server = subprocess.Popen(
        [PYTHON, str(HERE / "_ws_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(ws.env),
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise BenchError("the benchmark WebSocket server did not start")
        _, proc = run(
            [PYTHON, str(HERE / "_ws_child.py"), str(tree), port, "1" if ws.settings.quick else "0"], ws.env
        )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    r = json.loads(proc.stdout)
    ticks, raw_ticks = _per_msg(r["our_ticks"]), _per_msg(r["raw_ticks"])
    seq, raw_seq = _per_msg(r["our_seq"]), _per_msg(r["raw_seq"])
    flight = _per_msg(r["our_100"])
    us = 1e-6
    rows = [
        Row(
            "tick_stream",
            "frame -> TicksResponse -> user's iterator (s/msg)",
            median(ticks),
            spread(ticks),
            "raw websockets + orjson receive loop",
            median(raw_ticks),
            spread(raw_ticks),
            "throughput >= 60 % of raw (ratio <= 1.67)",
            {"ours_msgs_per_s": r["our_ticks"], "raw_msgs_per_s": r["raw_ticks"]},
        ),
        Row(
            "request_response",
            "sequential client.ping() (s/call)",
            median(seq),
            spread(seq),
            "raw send + recv + orjson",
            median(raw_seq),
            spread(raw_seq),
            ">= 85 % of raw (ratio <= 1.18)",
            {"ours_calls_per_s": r["our_seq"], "raw_calls_per_s": r["raw_seq"]},
        ),
        Row(
            "in_flight_100",
            "100 client.ping() in flight (s/call)",
            median(flight),
            spread(flight),
            "sequential client.ping()",
            median(seq),
            spread(seq),
            ">= 3x sequential (ratio <= 0.33)",
            {"calls_per_s": r["our_100"]},
        ),
        Row(
            "request_build",
            "BuyRequest + BuyParameters models built, validated, serialised",
            r["build"]["ours_us"] * us,
            (r["build"]["ours_us"] * us, r["build"]["ours_us"] * us),
            "orjson.dumps of the same payload",
            r["build"]["baseline_us"] * us,
            (r["build"]["baseline_us"] * us, r["build"]["baseline_us"] * us),
            "ours <= 10 us",
        ),
        Row(
            "request_build",
            "same request, parameters as a dict (validated the same)",
            r["build"]["plain_us"] * us,
            (r["build"]["plain_us"] * us, r["build"]["plain_us"] * us),
            "orjson.dumps of the same payload",
            r["build"]["baseline_us"] * us,
            (r["build"]["baseline_us"] * us, r["build"]["baseline_us"] * us),
            "ours <= 10 us",
        ),
    ]
    m = {k: median(r[k]) for k in ("our_ticks", "raw_ticks", "our_seq", "raw_seq", "our_100")}
    note = (
        f"websocket_client: ticks {m['our_ticks']:,.0f} msg/s vs raw {m['raw_ticks']:,.0f} msg/s "
        f"({m['our_ticks'] / m['raw_ticks']:.0%}); sequential calls {m['our_seq']:,.0f}/s vs raw "
        f"{m['raw_seq']:,.0f}/s ({m['our_seq'] / m['raw_seq']:.0%}); 100 in flight "
        f"{m['our_100']:,.0f}/s ({m['our_100'] / m['our_seq']:.1f}x sequential); request build "
        f"{r['build']['ours_us']:.1f} us with models, {r['build']['plain_us']:.1f} us with a dict."
    )
    return Outcome(rows, [note])


__all__ = ["websocket_client"]
