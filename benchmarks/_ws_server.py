"""Benchmark peer: a minimal, fast WebSocket server (run as a child process; prints its port).

* ``{"ticks": ..., "subscribe": 1, "req_id": n}`` -> ``N`` tick frames as fast as possible
  (N from ``"count"`` in the passthrough), all carrying ``req_id`` n;
* anything else with a ``req_id`` -> a ``ping``-shaped answer with that ``req_id``.
Tick frames are serialised once and written to the socket in large chunks, so the server is never
the bottleneck of the tick benchmark: the client's receive path is what gets measured.
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

TICK = (
    '{{"echo_req":{{"ticks":"R_100","subscribe":1}},"msg_type":"tick","req_id":{req_id},'
    '"subscription":{{"id":"c84a793b-8a87-7999-ce10-9b22f7ceead3"}},'
    '"tick":{{"ask":1234.56,"bid":1234.36,"epoch":{epoch},"id":"c84a793b-8a87-7999-ce10-9b22f7ceead3",'
    '"pip_size":2,"quote":{quote},"symbol":"R_100"}}}}'
)


async def handler(ws: ServerConnection) -> None:
    async for raw in ws:
        request = json.loads(raw)
        req_id = request.get("req_id", 0)
        if "ticks" in request:
            count = int(request.get("passthrough", {}).get("count", 10000))
            frames = [
                Frame(
                    Opcode.TEXT,
                    TICK.format(req_id=req_id, epoch=1700000000 + i, quote=1234.46 + i % 100 / 100).encode(),
                ).serialize(mask=False)
                for i in range(count)
            ]
            for start in range(0, count, 500):
                ws.transport.write(b"".join(frames[start : start + 500]))
                await ws.drain()
        elif "forget" in request:
            await ws.send(f'{{"forget":1,"msg_type":"forget","req_id":{req_id},"echo_req":{{}}}}')
        else:
            await ws.send(f'{{"ping":"pong","msg_type":"ping","req_id":{req_id},"echo_req":{{"ping":1}}}}')


async def main() -> None:
    async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        # Serve until the parent closes stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
