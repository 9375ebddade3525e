"""The JSON-RPC client base (what generated Deribit clients stand on), over real sockets.

Typed results (objects, lists, scalars), JSON-RPC errors as typed exceptions, per-task metadata,
typed channel streams through reconnects. Models here are written by the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from deriv_runtime.drift import drift_of, raw_of
from deriv_runtime.errors import (
    AuthenticationError,
    JsonRpcError,
    PermissionDenied,
    TooManyRequests,
)
from deriv_runtime.models import ResponseModel
from deriv_runtime.rpc import BaseRpcClient, Channel, Notification, capture_meta
from deriv_runtime.ws import ReconnectPolicy

from ._jsonrpc_peer import JsonRpcPeer, RpcFailure

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
TOKEN = "tok-CANARY-91ab"


class OrderBook(ResponseModel):
    instrument_name: str | None = None
    best_bid_price: float | None = None


class Ticker(ResponseModel):
    instrument_name: str | None = None
    last_price: float | None = None


class Trade(ResponseModel):
    trade_id: str | None = None
    price: float | None = None


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def fail(code: int, message: str, data: Any = None) -> Callable[[dict[str, Any]], Any]:
    def method(params: dict[str, Any]) -> Any:
        raise RpcFailure(code, message, data)

    return method


def ticker(instrument: str) -> Channel[Ticker]:
    return Channel(f"ticker.{instrument}.100ms", Ticker)


def trades(instrument: str) -> Channel[list[Trade]]:
    return Channel(f"trades.{instrument}.raw", list[Trade])


PEER_METHODS = {
    "public/get_order_book": lambda p: {
        "instrument_name": p["instrument_name"],
        "best_bid_price": 1.5,
        "x": 1,
    },
    "public/get_time": lambda p: 1_700_000_000_000,
    "public/get_currencies": lambda p: [{"currency": "BTC"}, {"currency": "ETH"}],
    "public/bad": lambda p: {"best_bid_price": "not a number", "instrument_name": TOKEN},
    "private/buy": fail(10028, "too_many_requests", {"wait": 2.5}),
    "private/get_positions": fail(13009, "unauthorized", {"reason": f"token {TOKEN} expired"}),
    "private/withdraw": fail(13021, "forbidden"),
    "public/odd": fail(11099, "something_new", {"detail": 1}),
}


def test_results_are_typed_and_metadata_is_captured_per_task() -> None:
    peer = JsonRpcPeer(PEER_METHODS)

    async def scenario() -> None:
        async with peer.serving() as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            book = await client._call(
                "public/get_order_book", {"instrument_name": "BTC-PERPETUAL"}, OrderBook
            )
            assert isinstance(book, OrderBook) and book.best_bid_price == 1.5
            assert book.model_extra == {"x": 1}  # tolerant: unknown fields kept
            assert await client._call("public/get_time", None, int) == 1_700_000_000_000
            currencies = await client._call("public/get_currencies", None, list[dict[str, str]])
            assert [c["currency"] for c in currencies] == ["BTC", "ETH"]
            assert peer.requests[0]["params"] == {"instrument_name": "BTC-PERPETUAL"}
            assert "params" not in peer.requests[1]  # no params: none sent

            async def timed(n: int) -> list[Any]:
                with capture_meta() as meta:
                    for _ in range(n):
                        await client._call("public/get_time", None, int)
                return meta

            first, second = await asyncio.gather(timed(2), timed(5))
            assert (len(first), len(second)) == (2, 5)  # each task sees only its own calls
            assert (
                first[0].us_diff == 250 and first[0].testnet is True and first[0].method == "public/get_time"
            )

    run(scenario)


def test_json_rpc_errors_are_typed_and_keep_data_out_of_messages() -> None:
    peer = JsonRpcPeer(PEER_METHODS)

    async def scenario() -> None:
        async with peer.serving() as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            with pytest.raises(TooManyRequests) as limited:
                await client._call("private/buy", {"amount": 1}, dict[str, Any])
            assert limited.value.retry_after == 2.5 and limited.value.code == 10028
            with pytest.raises(AuthenticationError) as auth:
                await client._call("private/get_positions", None, list[dict[str, Any]])
            assert TOKEN not in str(auth.value) and TOKEN in str(auth.value.data)
            with pytest.raises(PermissionDenied):
                await client._call("private/withdraw", None, dict[str, Any])
            with pytest.raises(JsonRpcError) as odd:
                await client._call("public/odd", None, dict[str, Any])
            assert (
                type(odd.value) is JsonRpcError
                and odd.value.code == 11099
                and odd.value.data == {"detail": 1}
            )
            with pytest.raises(JsonRpcError, match="-32601"):
                await client._call("public/nope", None, dict[str, Any])
            bad = await client._call("public/bad", None, OrderBook)  # read, its drift reported
            assert isinstance(bad, OrderBook) and bad.best_bid_price == "not a number"
            assert [d.where for d in drift_of(bad)] == ["best_bid_price"] and TOKEN not in repr(drift_of(bad))
            assert raw_of(bad)["result"]["instrument_name"] == TOKEN

    run(scenario)


def test_channel_streams_yield_typed_notifications_through_drops() -> None:
    peer = JsonRpcPeer(PEER_METHODS)

    def data(channel: str, n: int) -> Any:
        if channel.startswith("ticker."):
            return {"instrument_name": channel.split(".")[1], "last_price": float(n)}
        return [{"trade_id": str(n), "price": float(n)}]

    async def scenario() -> None:
        async with peer.serving() as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            async with client.subscribe(ticker("BTC-PERPETUAL"), trades("ETH-PERPETUAL")) as stream:
                assert peer.subscribes == [["ticker.BTC-PERPETUAL.100ms", "trades.ETH-PERPETUAL.raw"]]
                for drop in range(3):
                    await peer.notify(stream.channels, data=data)
                    got = [await stream.__anext__(), await stream.__anext__()]
                    assert all(isinstance(n, Notification) for n in got)
                    by_channel = {n.channel: n.data for n in got}
                    tick = by_channel["ticker.BTC-PERPETUAL.100ms"]
                    assert isinstance(tick, Ticker) and tick.instrument_name == "BTC-PERPETUAL"
                    batch = by_channel["trades.ETH-PERPETUAL.raw"]
                    assert isinstance(batch, list) and isinstance(batch[0], Trade)
                    connections = len(peer.connections)
                    peer.connections[-1].transport.abort()
                    while len(peer.connections) == connections or len(peer.subscribes) < drop + 2:
                        await asyncio.sleep(0.01)
                assert stream.gaps == 3
            while peer.requests[-1]["method"] != "public/unsubscribe":  # leaving the block unsubscribes
                await asyncio.sleep(0.01)
            assert peer.requests[-1]["params"]["channels"] == stream.channels
            private = Channel("user.orders.BTC-PERPETUAL.raw", dict[str, Any], private=True)
            with pytest.raises(ValueError, match="named twice"):
                client.subscribe(ticker("X"), ticker("X"))
            async with client.subscribe(private):
                assert peer.subscribes[-1] == ["user.orders.BTC-PERPETUAL.raw"]
                assert peer.requests[-1]["method"] == "private/subscribe"

    run(scenario)


def test_a_refused_subscription_raises_when_opened() -> None:
    class Refusing(JsonRpcPeer):
        def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
            if request["method"] == "public/subscribe":
                return {"id": request["id"], "error": {"code": 11050, "message": "bad_request"}}
            return super()._answer(request)

    peer = Refusing()

    async def scenario() -> None:
        async with peer.serving() as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            with pytest.raises(JsonRpcError, match="11050"):
                async with client.subscribe(ticker("NOPE")):
                    pytest.fail("refused: the stream must not open")
            assert client.transport.protocol.streams == {}  # type: ignore[attr-defined]

    run(scenario)
