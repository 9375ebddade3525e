"""Benchmark peer for ``many_subscriptions``: Deriv framing, many tick streams at a steady rate (run as
a child process; prints its port).

``python _subs_server.py RATE``:

* ``{"ticks": SYMBOL, "subscribe": 1, "req_id": n}`` -> at once a first tick frame carrying ``req_id``
  n and a subscription id of its own (unique per subscription); from then on the subscription gets
  ``RATE`` tick frames a second (default 10) until it is forgotten or the connection closes;
* ``{"forget": ID}`` -> its answer, and that subscription gets no more frames;
* anything else with a ``req_id`` -> a ``ping``-shaped answer with that ``req_id``.

The frames of all the connection's subscriptions are spread evenly: every 10 ms the server writes
the frames due by then (one write for all of them), round robin over the subscriptions, so each one
gets its ``RATE`` a second and the client sees a steady trickle, not bursts. The count due is
computed from the elapsed time, so a late timer catches up instead of lowering the rate. Each
subscription's frames are serialised once (a few variants with different quotes, cycled), so the
server's share of the two cores stays small.
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

TICK = (
    '{{"echo_req":{{"ticks":"{symbol}","subscribe":1}},"msg_type":"tick","req_id":{req_id},'
    '"subscription":{{"id":"{sub}"}},'
    '"tick":{{"ask":1234.56,"bid":1234.36,"epoch":{epoch},"id":"{sub}",'
    '"pip_size":2,"quote":{quote},"symbol":"{symbol}"}}}}'
)
#: Frames serialised per subscription, cycled.
VARIANTS = 8
PERIOD = 0.01


def _frame(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class _Subscription:
    __slots__ = ("frames", "next", "sub_id")

    def __init__(self, symbol: str, req_id: int, sub_id: str) -> None:
        self.sub_id = sub_id
        self.next = 0
        self.frames = [
            _frame(
                TICK.format(symbol=symbol, req_id=req_id, sub=sub_id, epoch=1700000000 + i, quote=1234.46 + i)
            )
            for i in range(VARIANTS)
        ]

    def take(self) -> bytes:
        frame = self.frames[self.next]
        self.next = (self.next + 1) % VARIANTS
        return frame


async def _pump(ws: ServerConnection, subs: list[_Subscription], rate: float) -> None:
    """Write every subscription's frames at ``rate`` a second each, every ``PERIOD`` seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0.0  # frames due so far, in subscription-seconds (the number of subscriptions varies)
    cursor = 0
    last = started
    while True:
        await asyncio.sleep(PERIOD)
        now = loop.time()
        sent += (now - last) * rate * len(subs)
        last = now
        due = int(sent)
        sent -= due
        if not subs or due <= 0:
            continue
        batch: list[bytes] = []
        count = len(subs)
        for _ in range(due):
            cursor %= count
            batch.append(subs[cursor].take())
            cursor += 1
        ws.transport.write(b"".join(batch))
        try:
            await ws.drain()
        except ConnectionClosed:
            return


async def handler(ws: ServerConnection, rate: float) -> None:
    subs: list[_Subscription] = []
    by_id: dict[str, _Subscription] = {}
    pump = asyncio.create_task(_pump(ws, subs, rate))
    try:
        async for raw in ws:
            request = json.loads(raw)
            req_id = request.get("req_id", 0)
            if "ticks" in request:
                sub = _Subscription(
                    str(request["ticks"]), req_id, f"{len(by_id):08x}-8a87-7999-ce10-9b22f7ceead3"
                )
                ws.transport.write(sub.take())  # the first tick: the subscription's answer
                subs.append(sub)
                by_id[sub.sub_id] = sub
            elif "forget" in request:
                gone = by_id.pop(str(request["forget"]), None)
                if gone is not None:
                    subs.remove(gone)
                answer = 1 if gone is not None else 0
                await ws.send(f'{{"forget":{answer},"msg_type":"forget","req_id":{req_id},"echo_req":{{}}}}')
            else:
                await ws.send(
                    f'{{"ping":"pong","msg_type":"ping","req_id":{req_id},"echo_req":{{"ping":1}}}}'
                )
    except ConnectionClosed:  # the client left while an answer was on its way
        pass
    finally:
        pump.cancel()


async def main(rate: float) -> None:
    async def serve_one(ws: ServerConnection) -> None:
        await handler(ws, rate)

    async with serve(serve_one, "127.0.0.1", 0, compression=None, max_queue=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        # Serve until the parent closes stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0))
