"""``legacy_client``: the generated v3 client (``V3Client``, the legacy Deriv WebSocket API v3)
against raw ``websockets`` in the same run.

The v3 API speaks the Options API's wire protocol, so the server child is ``websocket_client``'s
(``_ws_server`` in Deriv mode) and the client child (``_legacy_child``) runs ``_ws_child``'s loops
with a ``V3Client`` connected to a v3 URL (``v3_url``, with an ``app_id``; no authorization: ticks and
``ping`` need none): a tick stream into the user's iterator, sequential ``ping()`` calls and 100
``ping()`` calls in flight, each versus its raw loop (for the last, a reader task resolving a dict of
futures), interleaved, medians of rounds.
"""

from __future__ import annotations

from .harness import Outcome, Row, Workspace, median, spread
from .runtime_cases import _client, _per_msg


def legacy_client(ws: Workspace) -> Outcome:
    r = _client(ws, "deriv", "_legacy_child.py", ws.tree("deriv_v3"))
    ticks, raw_ticks = _per_msg(r["our_ticks"]), _per_msg(r["raw_ticks"])
    seq, raw_seq = _per_msg(r["our_seq"]), _per_msg(r["raw_seq"])
    flight, raw_flight = _per_msg(r["our_100"]), _per_msg(r["raw_100"])
    rows = [
        Row(
            "legacy_tick_stream",
            "V3Client: frame -> TicksResponse -> user's iterator (s/msg)",
            median(ticks),
            spread(ticks),
            "raw websockets + orjson receive loop",
            median(raw_ticks),
            spread(raw_ticks),
            "throughput >= 80 % of raw (ratio <= 1.25)",
            {"ours_msgs_per_s": r["our_ticks"], "raw_msgs_per_s": r["raw_ticks"], "tick": r["tick"]},
        ),
        Row(
            "legacy_request",
            "V3Client: sequential client.ping() (s/call)",
            median(seq),
            spread(seq),
            "raw send + recv + orjson",
            median(raw_seq),
            spread(raw_seq),
            ">= 92 % of raw (ratio <= 1.09)",
            {"ours_calls_per_s": r["our_seq"], "raw_calls_per_s": r["raw_seq"]},
        ),
        Row(
            "legacy_in_flight",
            "V3Client: 100 client.ping() in flight (s/call)",
            median(flight),
            spread(flight),
            "raw reader task resolving a dict of futures",
            median(raw_flight),
            spread(raw_flight),
            ">= 75 % of raw (ratio <= 1.33)",
            {"calls_per_s": r["our_100"], "raw_calls_per_s": r["raw_100"]},
        ),
    ]
    m = {k: median(r[k]) for k in ("our_ticks", "raw_ticks", "our_seq", "raw_seq", "our_100", "raw_100")}
    note = (
        f"legacy_client (V3Client): ticks {m['our_ticks']:,.0f} msg/s vs raw {m['raw_ticks']:,.0f} msg/s "
        f"({m['our_ticks'] / m['raw_ticks']:.0%}); sequential ping {m['our_seq']:,.0f}/s vs raw "
        f"{m['raw_seq']:,.0f}/s ({m['our_seq'] / m['raw_seq']:.0%}); 100 in flight {m['our_100']:,.0f}/s "
        f"vs raw {m['raw_100']:,.0f}/s ({m['our_100'] / m['raw_100']:.0%}); the server's tick frame read as "
        f"{r['tick']['type']} (quote {r['tick']['tick']['quote']})."
    )
    return Outcome(rows, [note])


__all__ = ["legacy_client"]
