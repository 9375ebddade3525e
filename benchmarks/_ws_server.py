"""Benchmark peer: a minimal, fast WebSocket server (run as a child process; prints its port).

``python _ws_server.py`` speaks Deriv's framing (``websocket_client``):

* ``{"ticks": ..., "subscribe": 1, "req_id": n}`` -> ``N`` tick frames as fast as possible
  (N from ``"count"`` in the passthrough), all carrying ``req_id`` n;
* anything else with a ``req_id`` -> a ``ping``-shaped answer with that ``req_id``.

``python _ws_server.py jsonrpc`` speaks Deribit's JSON-RPC 2.0 (``jsonrpc_client``):

* ``public/subscribe`` -> its answer (the channels), then for each ``ticker.BENCH-N.raw`` channel ``N``
  ticker notifications as fast as possible (the count rides in the instrument name: a subscribe
  request has no other place for it);
* ``*/unsubscribe`` -> its answer; anything else -> a ``public/get_time``-shaped answer with its ``id``.

Stream frames are serialised once (before the subscribe answer is sent, so that no client's clock
includes it) and written to the socket in large chunks, so the server is never the bottleneck of a
stream benchmark: the client's receive path is what gets measured.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

TICK = (
    '{{"echo_req":{{"ticks":"R_100","subscribe":1}},"msg_type":"tick","req_id":{req_id},'
    '"subscription":{{"id":"c84a793b-8a87-7999-ce10-9b22f7ceead3"}},'
    '"tick":{{"ask":1234.56,"bid":1234.36,"epoch":{epoch},"id":"c84a793b-8a87-7999-ce10-9b22f7ceead3",'
    '"pip_size":2,"quote":{quote},"symbol":"R_100"}}}}'
)

#: A Deribit perpetual ticker notification as the exchange sends it (fields the document does not
#: list included: the model keeps them as extras).
RPC_TICKER = (
    '{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"{channel}","data":{{'
    '"timestamp":{timestamp},"stats":{{"volume_usd":284061480,"volume":7871.02139035,'
    '"price_change":0.7229,"low":35213.5,"high":36824.5}},"state":"open","settlement_price":36169.49,'
    '"open_interest":502097590,"min_price":35898.37,"max_price":36991.72,"mark_price":{mark},'
    '"last_price":{last},"interest_value":1.7362511643080387,"instrument_name":"{instrument}",'
    '"index_price":36441.64,"funding_8h":0.0000211,"estimated_delivery_price":36441.64,'
    '"current_funding":0,"best_bid_price":{bid},"best_bid_amount":5000,"best_ask_price":{ask},'
    '"best_ask_amount":100}}}}}}'
)
CHUNK = 500


async def _write_all(ws: ServerConnection, frames: list[bytes]) -> None:
    for start in range(0, len(frames), CHUNK):
        ws.transport.write(b"".join(frames[start : start + CHUNK]))
        await ws.drain()


def _frame(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


async def deriv_handler(ws: ServerConnection) -> None:
    async for raw in ws:
        request = json.loads(raw)
        req_id = request.get("req_id", 0)
        if "ticks" in request:
            count = int(request.get("passthrough", {}).get("count", 10000))
            frames = [
                _frame(TICK.format(req_id=req_id, epoch=1700000000 + i, quote=1234.46 + i % 100 / 100))
                for i in range(count)
            ]
            await _write_all(ws, frames)
        elif "forget" in request:
            await ws.send(f'{{"forget":1,"msg_type":"forget","req_id":{req_id},"echo_req":{{}}}}')
        else:
            await ws.send(f'{{"ping":"pong","msg_type":"ping","req_id":{req_id},"echo_req":{{"ping":1}}}}')


def _notifications(channel: str) -> list[bytes]:
    """``N`` ticker notifications for ``ticker.BENCH-N.raw`` (none for other channels)."""
    kind, _, rest = channel.partition(".")
    instrument = rest.rpartition(".")[0]
    count = instrument.rpartition("-")[2]
    if kind != "ticker" or not count.isdigit():
        return []
    return [
        _frame(
            RPC_TICKER.format(
                channel=channel,
                instrument=instrument,
                timestamp=1700000000000 + i,
                mark=36446.51 + i % 100 / 100,
                last=36457.5 + i % 50,
                bid=36442.5 + i % 100 / 2,
                ask=36443.0 + i % 100 / 2,
            )
        )
        for i in range(int(count))
    ]


async def jsonrpc_handler(ws: ServerConnection) -> None:
    async for raw in ws:
        request = orjson.loads(raw)
        req_id, method = request.get("id"), request.get("method", "")
        params = request.get("params") or {}
        if method.endswith("/subscribe"):
            channels = params.get("channels", [])
            frames = [frame for channel in channels for frame in _notifications(channel)]
            answer = {"jsonrpc": "2.0", "id": req_id, "result": channels, "testnet": False}
            await ws.send(orjson.dumps(answer).decode())
            await _write_all(ws, frames)
        elif method.endswith("/unsubscribe"):
            answer = {"jsonrpc": "2.0", "id": req_id, "result": params.get("channels", [])}
            await ws.send(orjson.dumps(answer).decode())
        else:
            await ws.send(
                f'{{"jsonrpc":"2.0","id":{req_id},"result":1700000000000,"usIn":1700000000000000,'
                '"usOut":1700000000000012,"usDiff":12,"testnet":false}'
            )


HANDLERS: dict[str, Callable[[ServerConnection], Awaitable[None]]] = {
    "deriv": deriv_handler,
    "jsonrpc": jsonrpc_handler,
}


async def main(mode: str) -> None:
    async with serve(HANDLERS[mode], "127.0.0.1", 0, compression=None, max_queue=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        # Serve until the parent closes stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "deriv"))
