"""Benchmark client for ``legacy_client`` (a fresh interpreter): the generated v3 client
(``V3Client``, the legacy Deriv WebSocket API v3) vs raw websockets, against ``_ws_server`` in Deriv
mode (the Options API's framing, which v3 shares).

argv: tree_dir port quick(0/1). The raw loops and the loops driving the client are
``_ws_child``'s (``websocket_client``), so both benchmarks measure the same things. Before the
rounds, one of the server's tick frames is validated with v3's ``TicksResponse`` (the client would
otherwise read a drifted frame field by field, and measure that). Prints one JSON object with every
sample.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._ws_child import (
    our_in_flight,
    our_sequential,
    our_ticks,
    raw_in_flight,
    raw_sequential,
    raw_ticks,
)
from benchmarks._ws_server import TICK


async def main() -> None:
    tree, port, quick = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    sys.path.insert(0, tree)
    from deriv_runtime.legacy import v3_url

    # Imported by name: the generated package is on the path only here (not for the type checker).
    V3Client: Any = importlib.import_module("deriv_v3").V3Client
    TicksResponse: Any = importlib.import_module("deriv_v3.models.ticks").TicksResponse

    sample = TicksResponse.model_validate_json(TICK.format(req_id=1, epoch=1700000000, quote=1234.46))
    if sample.tick is None or sample.tick.quote is None:
        raise SystemExit("v3's TicksResponse did not read the server's tick frame")
    raw_url = f"ws://127.0.0.1:{port}"
    # The client is given the URL an application uses (with its app_id), on the local server.
    url = v3_url(1089, endpoint=f"{raw_url}/websockets/v3")
    rounds = 3 if quick else 5
    ticks_n = 20000 if quick else 50000
    calls_n = 2000 if quick else 5000
    keys = ("raw_ticks", "our_ticks", "raw_seq", "our_seq", "raw_100", "our_100")
    out: dict[str, list[float]] = {k: [] for k in keys}
    async with V3Client.connect(url, compression=None, ping_interval=None) as client:
        async with client.subscribe_ticks("R_100", passthrough={"count": 1}) as stream:
            first = await stream.__anext__()
        await our_ticks(client, 1000)  # warm-up: builds the tick model
        await our_sequential(client, 200)
        await our_in_flight(client, 200)
        for _ in range(rounds):
            out["raw_ticks"].append(await raw_ticks(raw_url, ticks_n))
            out["our_ticks"].append(await our_ticks(client, ticks_n))
            out["raw_seq"].append(await raw_sequential(raw_url, calls_n))
            out["our_seq"].append(await our_sequential(client, calls_n))
            out["raw_100"].append(await raw_in_flight(raw_url, calls_n * 2))
            out["our_100"].append(await our_in_flight(client, calls_n * 2))
    result: dict[str, Any] = dict(out)
    result["tick"] = {"type": type(first).__qualname__, "tick": first.model_dump(mode="json")["tick"]}
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
