"""Call deadlines share one loop timer per transport (``_socket_edges._Deadlines``): every waiting call still
times out on its own deadline, whatever the order in which calls start and finish.

A silent peer never answers, an echo peer always does. No timing is asserted: a deadline that was
missed would leave its call waiting for a far longer one, and the hang guard of ``run`` fails it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from deriv_runtime.errors import CallTimeout
from deriv_runtime.jsonrpc import JsonRpcProtocol
from deriv_runtime.ws import WebSocketTransport
from websockets.asyncio.server import ServerConnection, serve

#: Longer than every short deadline below, far shorter than the long ones: a short call that
#: waited for a long call's deadline would trip it.
GUARD = 10.0
LONG = 600.0


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), GUARD)

    return asyncio.run(bounded())


async def _peer(ws: ServerConnection) -> None:
    """Answers ``public/echo`` at once; never answers anything else."""
    async for raw in ws:
        request = orjson.loads(raw)
        if request.get("method") == "public/echo":
            await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "ok"}).decode())


@asynccontextmanager
async def transport() -> AsyncIterator[WebSocketTransport]:
    async with serve(_peer, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        t = WebSocketTransport(f"ws://127.0.0.1:{port}", wire=JsonRpcProtocol, reconnect=False)
        await t.connect()
        try:
            yield t
        finally:
            await t.close()


ECHO = {"method": "public/echo"}
SILENT = {"method": "public/get_time"}


def _waiting(t: WebSocketTransport) -> int:
    deadlines = t._deadlines
    return 0 if deadlines is None else len(deadlines._calls)


def test_a_short_deadline_started_after_a_long_one_is_kept() -> None:
    async def scenario() -> None:
        async with transport() as t:
            long = asyncio.ensure_future(t.request(SILENT, timeout=LONG))
            await asyncio.sleep(0)
            with pytest.raises(CallTimeout, match=r"no answer within 0\.05"):
                await t.request(SILENT, timeout=0.05)
            assert not long.done()  # the long call keeps waiting: its own deadline is far away
            long.cancel()
            with pytest.raises(asyncio.CancelledError):
                await long
            assert _waiting(t) == 0 and t.protocol.pending == {}

    run(scenario)


def test_calls_that_finish_early_leave_the_timer_to_later_deadlines() -> None:
    async def scenario() -> None:
        async with transport() as t:
            for _ in range(50):  # answered long before their deadlines: the timer is armed for the first
                assert (await t.request(ECHO, timeout=0.05))["result"] == "ok"
            assert _waiting(t) == 0
            # a later, longer deadline: the timer fires for the answered calls, then for this one
            with pytest.raises(CallTimeout, match=r"no answer within 0\.2"):
                await t.request(SILENT, timeout=0.2)
            assert (await t.request(ECHO, timeout=LONG))["result"] == "ok"  # nothing is left behind
            assert _waiting(t) == 0 and t.protocol.pending == {}

    run(scenario)


def test_many_deadlines_in_any_order_each_expire_and_answers_still_arrive() -> None:
    async def scenario() -> None:
        async with transport() as t:
            timeouts = [0.3, 0.05, 0.2, 0.1, 0.25, 0.15] * 5
            silent = [asyncio.ensure_future(t.request(SILENT, timeout=s)) for s in timeouts]
            answered = [asyncio.ensure_future(t.request(ECHO, timeout=s)) for s in timeouts]
            results = await asyncio.gather(*silent, *answered, return_exceptions=True)
            assert all(isinstance(r, CallTimeout) for r in results[: len(timeouts)])
            assert all(r["result"] == "ok" for r in results[len(timeouts) :])  # type: ignore[index]
            assert _waiting(t) == 0 and t.protocol.pending == {} and t._futures == {}

    run(scenario)


def test_calls_without_a_timeout_take_no_deadline() -> None:
    async def scenario() -> None:
        async with transport() as t:
            assert (await t.request(ECHO, timeout=None))["result"] == "ok"
            assert t._deadlines is None

    run(scenario)
