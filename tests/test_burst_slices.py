"""A read that brings a burst of messages is handed over in slices (``_dispatching.BURST_SLICE``),
in order, with nothing lost: a stream's consumer works between two slices, answers inside the burst
reach their calls, and closing mid-burst hands everything received over first.

The peer writes each burst with one ``transport.write`` (already framed), so the client reads it in
as few reads as the socket allows. No timing is asserted; ``run`` is a hang guard.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from deriv_runtime._dispatching import BURST_SLICE, QUICKACK_READ
from deriv_runtime.jsonrpc import JsonRpcProtocol
from deriv_runtime.ws import WebSocketTransport
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

CHANNEL = "ticker.BTC-PERPETUAL.raw"
BURST = 20 * BURST_SLICE + 7
SHORT = 3 * BURST_SLICE + 7


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def _frame(message: dict[str, Any]) -> bytes:
    return Frame(Opcode.TEXT, orjson.dumps({"jsonrpc": "2.0", **message})).serialize(mask=False)


def _burst(answer_to: int | None = None) -> bytes:
    """``BURST`` notifications numbered in order; the answer to ``answer_to`` in the middle."""
    frames = [
        _frame({"method": "subscription", "params": {"channel": CHANNEL, "data": n}}) for n in range(BURST)
    ]
    if answer_to is not None:
        frames.insert(BURST // 2, _frame({"id": answer_to, "result": "inside the burst"}))
    return b"".join(frames)


async def _peer(ws: ServerConnection) -> None:
    """Subscribes; ``public/burst`` is answered inside a burst written at once."""
    async for raw in ws:
        request = orjson.loads(raw)
        method, req_id = request["method"], request["id"]
        if method == "public/subscribe":
            await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": req_id, "result": [CHANNEL]}).decode())
        elif method == "public/burst":
            ws.transport.write(_burst(answer_to=req_id))
        elif method == "public/short_burst":  # small enough for one read; the answer comes last
            frames = [
                {"method": "subscription", "params": {"channel": CHANNEL, "data": n}} for n in range(SHORT)
            ]
            ws.transport.write(b"".join(_frame(f) for f in frames) + _frame({"id": req_id, "result": "last"}))
        elif method == "public/ping":  # a small answer
            await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": req_id, "result": "pong"}).decode())
        elif method == "public/burst_and_close":
            ws.transport.write(_burst() + _frame({"id": req_id, "result": "last"}))
            ws.transport.close()


@asynccontextmanager
async def connected() -> AsyncIterator[WebSocketTransport]:
    async with serve(_peer, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        transport = WebSocketTransport(
            f"ws://127.0.0.1:{port}",
            wire=JsonRpcProtocol,
            compression=None,
            reconnect=False,
            stream_buffer=10 * BURST,
        )
        await transport.connect()
        try:
            yield transport
        finally:
            await transport.close()


SUBSCRIBE = {"method": "public/subscribe", "params": {"channels": [CHANNEL]}}


def test_a_burst_arrives_whole_and_in_order_and_its_answer_reaches_the_call() -> None:
    async def scenario() -> None:
        async with connected() as transport, transport.subscribe(SUBSCRIBE, timeout=5) as queue:
            assert "result" in await queue.__anext__()
            for round_ in range(3):
                call = asyncio.ensure_future(transport.request({"method": "public/burst"}, timeout=10))
                seen, most = [], 0
                while len(seen) < BURST:  # the consumer waits for the burst, as a stream's reader does
                    seen.append((await queue.__anext__())["params"]["data"])
                    most = max(most, len(queue) + 1)
                assert seen == list(range(BURST)), round_
                assert (await call)["result"] == "inside the burst"
                # it read between slices: never more than a few slices waited at once
                assert most <= 4 * BURST_SLICE
            assert transport.ignored_frames == 0 and queue.dropped == 0

    run(scenario)


def test_a_connection_closing_after_a_burst_hands_the_burst_over_first() -> None:
    async def scenario() -> None:
        async with connected() as transport, transport.subscribe(SUBSCRIBE, timeout=5) as queue:
            assert "result" in await queue.__anext__()
            # the answer comes after the whole burst, right before the peer closes: it is received
            # before the connection is lost, so the call gets it (never ConnectionLost)
            answer = await transport.request({"method": "public/burst_and_close"}, timeout=10)
            assert answer["result"] == "last"

    run(scenario)


def test_closing_the_client_mid_burst_is_clean() -> None:
    async def scenario() -> None:
        async with connected() as transport:
            async with transport.subscribe(SUBSCRIBE, timeout=5) as queue:
                assert "result" in await queue.__anext__()
                await transport.request({"method": "public/burst"}, timeout=10)
                await transport.close()  # the rest of the burst may still be held: handed over, then ended
                got = [message async for message in queue]
                assert [m["params"]["data"] for m in got] == list(range(len(got)))

    run(scenario)


def test_a_connection_aborted_while_a_burst_is_held_hands_the_burst_over_first() -> None:
    async def scenario() -> None:
        async with connected() as transport, transport.subscribe(SUBSCRIBE, timeout=5) as queue:
            assert "result" in await queue.__anext__()
            call = asyncio.ensure_future(transport.request({"method": "public/short_burst"}, timeout=10))
            assert (await queue.__anext__())["params"]["data"] == 0  # the first slice is handed over
            ws = transport._ws
            assert ws._backlog  # the rest of the read is held
            lost = ws.connection_lost
            at_loss: list[Any] = []

            def recording(exc: Exception | None) -> None:
                lost(exc)
                at_loss.append((ws._backlog, ws.dispatched))

            ws.connection_lost = recording
            ws.transport.abort()
            # everything read before the connection was lost is handed over before the loss is seen:
            # the answer at the end of the burst reaches the call
            assert (await call)["result"] == "last"
            assert at_loss == [(None, 1 + SHORT + 1)]  # subscribe answer, burst, answer: all handed over

    run(scenario)


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's")
def test_a_large_read_makes_the_connection_acknowledge_at_once_and_small_ones_do_not() -> None:
    async def scenario() -> None:
        async with connected() as transport, transport.subscribe(SUBSCRIBE, timeout=5) as queue:
            assert "result" in await queue.__anext__()
            ws = transport._ws
            before = ws.quickacks
            for _ in range(20):  # small answers: one read each, below QUICKACK_READ
                await transport.request({"method": "public/ping"}, timeout=10)
            assert ws.quickacks == before
            await transport.request({"method": "public/burst"}, timeout=10)
            assert len(_burst()) >= 4 * QUICKACK_READ
            assert ws.quickacks > before  # the burst came in at least one read of QUICKACK_READ or more

    run(scenario)
