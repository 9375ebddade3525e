"""The shared connection life driving the JSON-RPC wire, over real sockets.

The server here is the test's own JSON-RPC peer on 127.0.0.1 (answers in random order, channels,
heartbeats, forced drops); the transport is the same :class:`WebSocketTransport` the Deriv clients
use, given ``wire=JsonRpcProtocol``. No timing is asserted; ``run`` is a hang guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from deriv_runtime.errors import CallTimeout, ConnectionLost
from deriv_runtime.jsonrpc import JsonRpcProtocol
from deriv_runtime.ws import ReconnectPolicy, WebSocketTransport
from websockets.asyncio.server import ServerConnection, serve

from ._jsonrpc_peer import JsonRpcPeer, RpcFailure

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def _fail(params: dict[str, Any]) -> Any:
    raise RpcFailure(10028, "too_many_requests", {"wait": 1})


def new_peer() -> JsonRpcPeer:
    return JsonRpcPeer({"public/echo": lambda params: params, "public/fail": _fail})


@asynccontextmanager
async def connected(peer: JsonRpcPeer, **options: Any) -> AsyncIterator[WebSocketTransport]:
    async with peer.serving() as url:
        transport = WebSocketTransport(url, wire=JsonRpcProtocol, reconnect=FAST, **options)
        await transport.connect()
        try:
            yield transport
        finally:
            await transport.close()


def echo(n: int, batch: int) -> dict[str, Any]:
    return {"method": "public/echo", "params": {"n": n, "batch": batch}}


def test_1000_concurrent_calls_answered_out_of_order_reach_their_callers() -> None:
    peer = new_peer()

    async def scenario() -> None:
        async with connected(peer) as transport:
            answers = await asyncio.gather(
                *[transport.request(echo(i, 1000), timeout=20) for i in range(1000)]
            )
            assert [a["result"]["n"] for a in answers] == list(range(1000))
            assert answers[0]["usIn"] == 1_000  # the envelope stays available to the client layer
            assert transport.protocol.pending == {}
            error = await transport.request({"method": "public/fail", "params": {}}, timeout=5)
            assert error["error"]["code"] == 10028

    run(scenario)


def test_ten_channels_in_three_subscriptions_survive_ten_drops() -> None:
    peer = new_peer()
    groups = [
        [f"ticker.BTC-{i}.100ms" for i in range(4)],
        [f"book.ETH-{i}.raw" for i in range(3)],
        [f"trades.SOL-{i}.raw" for i in range(3)],
    ]

    async def scenario() -> None:
        async with connected(peer) as transport, asyncio.timeout(25):
            streams = []
            for channels in groups:
                cm = transport.subscribe(
                    {"method": "public/subscribe", "params": {"channels": channels}}, timeout=5
                )
                streams.append((cm, await cm.__aenter__()))
            for drop in range(10):
                await peer.notify([c for g in groups for c in g])
                for (_, queue), channels in zip(streams, groups, strict=True):
                    seen: set[str] = set()
                    while seen != set(channels):
                        message = await queue.__anext__()
                        if message.get("method") == "subscription":
                            seen.add(message["params"]["channel"])
                connections = len(peer.connections)
                peer.connections[-1].transport.abort()
                while len(peer.connections) == connections or len(peer.subscribes) < 3 * (drop + 2):
                    await asyncio.sleep(0.01)
            assert [q.gaps for _, q in streams] == [10, 10, 10]
            assert len(peer.connections) == 11
            assert sorted(peer.subscribes[-3:]) == sorted(groups)  # every channel, once per connection
            for cm, _ in streams:
                await cm.__aexit__(None, None, None)
            assert transport.protocol.streams == {}

    run(scenario)


def test_heartbeat_test_requests_are_answered_by_the_transport() -> None:
    peer = new_peer()

    async def scenario() -> None:
        async with connected(peer) as transport:
            for _ in range(3):
                await peer.heartbeat()
            while peer.tests_answered < 3:
                await asyncio.sleep(0.01)
            assert transport.protocol.pending == {}
            assert transport.ignored_frames == 0  # the answers to public/test are swallowed quietly

    run(scenario)


def test_a_silent_json_rpc_peer_is_bounded_by_deadlines() -> None:
    async def silent(ws: ServerConnection) -> None:
        async for _ in ws:
            pass

    async def scenario() -> None:
        async with serve(silent, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            transport = WebSocketTransport(f"ws://127.0.0.1:{port}", wire=JsonRpcProtocol, reconnect=False)
            await transport.connect()
            with pytest.raises(CallTimeout, match=r"public/get_time: no answer within 0\.3"):
                await transport.request({"method": "public/get_time"}, timeout=0.3)
            subscribe = {"method": "public/subscribe", "params": {"channels": ["ticker.X.raw"]}}
            with pytest.raises(CallTimeout, match="public/subscribe: no first answer"):
                async with transport.subscribe(subscribe, timeout=0.3):
                    pytest.fail("no answer: the stream must not open")
            assert transport.protocol.pending == {} and transport.protocol.streams == {}
            call = asyncio.ensure_future(transport.request({"method": "public/get_time"}, timeout=10))
            await asyncio.sleep(0.05)
            server.close(close_connections=True)
            with pytest.raises(ConnectionLost):
                await call
            await transport.close()

    run(scenario)


def test_the_heartbeat_is_set_again_after_a_reconnect() -> None:
    peer = JsonRpcPeer({"public/set_heartbeat": lambda params: "ok"})

    async def scenario() -> None:
        async with connected(peer) as transport:
            heartbeat = {"method": "public/set_heartbeat", "params": {"interval": 15}}
            assert (await transport.request(heartbeat, timeout=5))["result"] == "ok"
            peer.connections[-1].transport.abort()
            while len([r for r in peer.requests if r["method"] == "public/set_heartbeat"]) < 2:
                await asyncio.sleep(0.01)
            again = [r for r in peer.requests if r["method"] == "public/set_heartbeat"][-1]
            assert again["params"] == {"interval": 15} and len(peer.connections) == 2
            await peer.heartbeat()  # the new connection's test_request is answered too
            while peer.tests_answered < 1:
                await asyncio.sleep(0.01)
            assert transport.ignored_frames == 0  # the restored heartbeat's answer is swallowed quietly

    run(scenario)
