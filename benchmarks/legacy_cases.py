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

from .harness import Outcome, Workspace, median
from .runtime_cases import _client, protocol_rows


def legacy_client(ws: Workspace) -> Outcome:
    r = _client(ws, "deriv", "_legacy_child.py", ws.tree("deriv_v3"))
    rows = protocol_rows(
        r,
        ("legacy_tick_stream", "legacy_request", "legacy_in_flight"),
        (
            "V3Client: frame -> TicksResponse -> user's iterator (s/msg)",
            "V3Client: sequential client.ping() (s/call)",
            "V3Client: 100 client.ping() in flight (s/call)",
        ),
        "ticks",
        stream_data={"tick": r["tick"]},
    )
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
