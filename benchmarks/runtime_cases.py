"""Runtime benchmarks: the generated clients against raw ``websockets`` in the same run.

A server child process (``_ws_server``, in Deriv or JSON-RPC mode) and a client child process
(``_ws_child`` for the Deriv Options client, ``_rpc_child`` for the Deribit JSON-RPC client) run on the
two cores; throughputs are medians of interleaved rounds.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from .harness import PYTHON, Outcome, Row, Workspace, median, run, server_process, spread

HERE = Path(__file__).resolve().parent


def _per_msg(rates: list[float]) -> list[float]:
    return [1.0 / r for r in rates]


def _server(ws: Workspace, mode: str) -> AbstractContextManager[str]:
    """Run ``_ws_server.py MODE`` in its own process; yields its port."""
    return server_process(ws, [str(HERE / "_ws_server.py"), mode], f"the benchmark WebSocket server ({mode})")


def _client(ws: Workspace, mode: str, child: str, tree: Path) -> dict[str, Any]:
    """Run the client child ``child`` against a fresh server in ``mode``; its JSON result."""
    with _server(ws, mode) as port:
        _, proc = run([PYTHON, str(HERE / child), str(tree), port, "1" if ws.settings.quick else "0"], ws.env)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def protocol_rows(
    r: dict[str, Any],
    names: tuple[str, str, str],
    subjects: tuple[str, str, str],
    stream: str,
    *,
    stream_data: dict[str, Any] | None = None,
    sequential: str | None = None,
    flight_data: dict[str, Any] | None = None,
) -> list[Row]:
    """The rows every protocol gets, each against its raw loop in the same run: a stream (samples
    ``our_<stream>``/``raw_<stream>``), sequential calls (``*_seq``) and 100 calls in flight
    (``*_100``); with ``sequential`` (its subject), in flight against sequential calls too."""
    ours, raw = _per_msg(r[f"our_{stream}"]), _per_msg(r[f"raw_{stream}"])
    seq, raw_seq = _per_msg(r["our_seq"]), _per_msg(r["raw_seq"])
    flight, raw_flight = _per_msg(r["our_100"]), _per_msg(r["raw_100"])
    msgs = {
        "ours_msgs_per_s": r[f"our_{stream}"],
        "raw_msgs_per_s": r[f"raw_{stream}"],
        **(stream_data or {}),
    }
    rows = [
        Row(
            names[0],
            subjects[0],
            median(ours),
            spread(ours),
            "raw websockets + orjson receive loop",
            median(raw),
            spread(raw),
            "throughput >= 80 % of raw (ratio <= 1.25)",
            msgs,
        ),
        Row(
            names[1],
            subjects[1],
            median(seq),
            spread(seq),
            "raw send + recv + orjson",
            median(raw_seq),
            spread(raw_seq),
            ">= 92 % of raw (ratio <= 1.09)",
            {"ours_calls_per_s": r["our_seq"], "raw_calls_per_s": r["raw_seq"]},
        ),
        Row(
            names[2],
            subjects[2],
            median(flight),
            spread(flight),
            "raw reader task resolving a dict of futures",
            median(raw_flight),
            spread(raw_flight),
            ">= 75 % of raw (ratio <= 1.33)",
            {"calls_per_s": r["our_100"], "raw_calls_per_s": r["raw_100"]},
        ),
    ]
    if sequential is not None:
        rows.append(
            Row(
                names[2],
                subjects[2],
                median(flight),
                spread(flight),
                sequential,
                median(seq),
                spread(seq),
                ">= 3x sequential (ratio <= 0.33)",
                {"calls_per_s": r["our_100"], **(flight_data or {})},
            )
        )
    return rows


def websocket_client(ws: Workspace) -> Outcome:
    r = _client(ws, "deriv", "_ws_child.py", ws.tree())
    us = 1e-6
    rows = protocol_rows(
        r,
        ("tick_stream", "request_response", "in_flight_100"),
        (
            "frame -> TicksResponse -> user's iterator (s/msg)",
            "sequential client.ping() (s/call)",
            "100 client.ping() in flight (s/call)",
        ),
        "ticks",
        sequential="sequential client.ping()",
    )
    rows += [
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
            "ours <= 5 us",
        ),
    ]
    m = {k: median(r[k]) for k in ("our_ticks", "raw_ticks", "our_seq", "raw_seq", "our_100", "raw_100")}
    note = (
        f"websocket_client: ticks {m['our_ticks']:,.0f} msg/s vs raw {m['raw_ticks']:,.0f} msg/s "
        f"({m['our_ticks'] / m['raw_ticks']:.0%}); sequential calls {m['our_seq']:,.0f}/s vs raw "
        f"{m['raw_seq']:,.0f}/s ({m['our_seq'] / m['raw_seq']:.0%}); 100 in flight "
        f"{m['our_100']:,.0f}/s vs raw {m['raw_100']:,.0f}/s ({m['our_100'] / m['raw_100']:.0%}, "
        f"{m['our_100'] / m['our_seq']:.1f}x sequential); request build "
        f"{r['build']['ours_us']:.1f} us with models, {r['build']['plain_us']:.1f} us with a dict."
    )
    return Outcome(rows, [note])


# --- jsonrpc_client -----------------------------------------------------------------------------

#: Breakdown steps (``_rpc_child.breakdown``) and how the note names them.
_NOTE_STEPS = (
    ("orjson_loads_note", "orjson.loads (the raw loop's decoding; ours does not decode)"),
    ("route_raw_note", "JsonRpcProtocol.route_raw (routed from the text)"),
    ("read_frame_ticker", "frame validated from its bytes into TickerData"),
)
_CALL_STEPS = (
    ("build_request_get_time", "build_request"),
    ("protocol_call_and_reply", "JsonRpcProtocol.call + route_raw and receive of the answer"),
    ("validate_int_result", "result validation (core validator)"),
)


def jsonrpc_client(ws: Workspace) -> Outcome:
    r = _client(ws, "jsonrpc", "_rpc_child.py", ws.tree("deribit_api"))
    rows = protocol_rows(
        r,
        ("jsonrpc_stream", "jsonrpc_request", "jsonrpc_in_flight"),
        (
            "frame -> Notification[TickerData] -> user's iterator (s/msg)",
            "sequential public.get_time() (s/call)",
            "100 public.get_time() in flight (s/call)",
        ),
        "stream",
        stream_data={"sizes": r["sizes"]},
        sequential="sequential public.get_time()",
        flight_data={"breakdown_us": r["breakdown_us"]},
    )
    keys = ("our_stream", "raw_stream", "our_seq", "raw_seq", "our_100", "raw_100")
    m = {k: median(r[k]) for k in keys}
    b = r["breakdown_us"]

    def parts(steps: tuple[tuple[str, str], ...], total_us: float, rest: str, skip: str = "") -> str:
        shown = [f"{label} {b[key]:.1f} us" for key, label in steps]
        own = sum(b[key] for key, _ in steps if key != skip)
        return f"{'; '.join(shown)}; the rest ({rest}) {total_us - own:.1f} us"

    note_us, call_us = 1e6 / m["our_stream"], 1e6 / m["our_seq"]
    raw_note_us, raw_call_us = 1e6 / m["raw_stream"], 1e6 / m["raw_seq"]
    text = [
        f"jsonrpc_client: notifications {m['our_stream']:,.0f} msg/s vs raw {m['raw_stream']:,.0f} msg/s "
        f"({m['our_stream'] / m['raw_stream']:.0%}); sequential get_time {m['our_seq']:,.0f}/s vs raw "
        f"{m['raw_seq']:,.0f}/s ({m['our_seq'] / m['raw_seq']:.0%}); 100 in flight {m['our_100']:,.0f}/s "
        f"vs raw {m['raw_100']:,.0f}/s ({m['our_100'] / m['raw_100']:.0%}, "
        f"{m['our_100'] / m['our_seq']:.1f}x sequential).",
        f"jsonrpc_client per notification: {note_us:.1f} us, {note_us - raw_note_us:.1f} us more than raw "
        f"({raw_note_us:.1f} us): "
        + parts(_NOTE_STEPS, note_us, "frame parsing, stream queue, iterator, asyncio", "orjson_loads_note")
        + ".",
        f"jsonrpc_client per sequential call: {call_us:.1f} us, {call_us - raw_call_us:.1f} us more than "
        f"raw ({raw_call_us:.1f} us): "
        + parts(_CALL_STEPS, call_us, "send, the server's turn, receive, asyncio")
        + ".",
    ]
    return Outcome(rows, text)


__all__ = ["jsonrpc_client", "websocket_client"]
