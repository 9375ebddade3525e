"""The generated JSON-RPC package (our mini Deribit-like document) against a real loopback JSON-RPC peer.

Typed results (objects, lists, scalars, nullable scalars), params sent under their JSON names, optional
arguments left at None not sent, strict params validation refusing bad values before anything is
sent, typed channel notifications, the blocking twin, and OPERATIONS from the override file.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from deriv_runtime.errors import RequestValidationError
from deriv_runtime.rpc import Notification
from deriv_runtime.ws import ReconnectPolicy

from ._jsonrpc_peer import JsonRpcPeer
from .conftest import ROOT

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)

ITEMS = [
    {"name": "a", "kind": "spot", "created": 1, "expires": None, "colour": "red"},
    {"name": "b", "kind": "brand-new-kind", "created": 2, "expires": 9},
]
METHODS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "public/get_time": lambda p: 1_700_000_000_000,
    "public/get_items": lambda p: ITEMS,
    "public/get_book": lambda p: {
        "instrument_name": p["instrument_name"],
        "best_bid_price": None,
        "bids": [[1.5, 2.0]],
        "stats": {"volume": 3.5, "high": None},
    },
    "private/get_balance": lambda p: None if p["currency"] == "BBB" else 12.5,
    "private/place_order": lambda p: {"order": {"order_id": "o-1", "state": "open"}, "trades": []},
}


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def params_sent(peer: JsonRpcPeer, method: str) -> list[dict[str, Any] | None]:
    return [r.get("params") for r in peer.requests if r["method"] == method]


def test_results_are_typed_objects_lists_and_scalars(mini_rpc: ModuleType) -> None:
    from mini_rpc.models.public_get_book import GetBookResult, GetBookResultStats
    from mini_rpc.models.public_list_items import ListItemsResultItem

    peer = JsonRpcPeer(METHODS)

    async def scenario() -> None:
        async with peer.serving() as url, mini_rpc.MiniRpcClient.connect(url, reconnect=FAST) as client:
            assert await client.public.get_time() == 1_700_000_000_000
            items = await client.public.list_items(currency="AAA")
            assert [type(i) for i in items] == [ListItemsResultItem, ListItemsResultItem]
            assert items[0].expires is None and items[1].expires == 9
            assert items[0].model_extra == {"colour": "red"}  # tolerant: unknown fields kept
            assert items[1].kind == "brand-new-kind"  # tolerant: enums are not closed in answers
            book = await client.public.get_book(instrument_name="X-1")
            assert isinstance(book, GetBookResult) and isinstance(book.stats, GetBookResultStats)
            assert book.best_bid_price is None and book.bids == [[1.5, 2.0]]
            assert await client.private.get_balance(currency="AAA") == 12.5
            assert await client.private.get_balance(currency="BBB") is None  # nullable scalar
            order = await client.private.place_order(instrument_name="X-1", amount=1.0)
            assert order.order is not None and order.order.order_id == "o-1" and order.trades == []

    run(scenario)


def test_params_go_under_their_json_names_and_none_is_not_sent(mini_rpc: ModuleType) -> None:
    peer = JsonRpcPeer(METHODS)

    async def scenario() -> None:
        async with peer.serving() as url, mini_rpc.MiniRpcClient.connect(url, reconnect=FAST) as client:
            await client.public.list_items(currency="AAA", from_=1_000, count=5)
            await client.public.list_items(currency="BBB", kind=None)
            await client.public.get_time()
            await client.private.place_order(instrument_name="X-1", amount=2.5)
            await client.private.place_order(instrument_name="X-1", amount=2.5, note=None, label="mine")
            await client.private.place_order(instrument_name="X-1", amount=2.5, note="hi", price=10.0)

    run(scenario)
    assert params_sent(peer, "public/get_items") == [
        {"currency": "AAA", "count": 5, "from": 1_000},
        {"currency": "BBB"},
    ]
    assert params_sent(peer, "public/get_time") == [None]  # no params: none sent
    assert params_sent(peer, "private/place_order") == [
        {"instrument_name": "X-1", "amount": 2.5},  # note left UNSET: not sent
        {"instrument_name": "X-1", "amount": 2.5, "label": "mine", "note": None},  # nullable: null sent
        {"instrument_name": "X-1", "amount": 2.5, "price": 10.0, "note": "hi"},
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.public.list_items(currency="CCC"), "currency"),  # not in the enum
        (lambda c: c.public.list_items(currency="AAA", count="5"), "count"),  # strict: no coercion
        (lambda c: c.public.list_items(currency="AAA", count=0), "count"),  # minimum 1
        (lambda c: c.public.get_book(instrument_name="X", depth=7), "depth"),  # not 1, 5 or 10
        (lambda c: c.private.place_order(instrument_name="X", amount=1.0, label="too-long-label"), "label"),
        (lambda c: c.private.place_order(instrument_name="X", amount="1"), "amount"),
    ],
)
def test_bad_params_are_refused_before_anything_is_sent(
    mini_rpc: ModuleType, call: Callable[[Any], Awaitable[Any]], field: str
) -> None:
    peer = JsonRpcPeer(METHODS)

    async def scenario() -> None:
        async with peer.serving() as url, mini_rpc.MiniRpcClient.connect(url, reconnect=FAST) as client:
            with pytest.raises(RequestValidationError) as refused:
                await call(client)
            assert field in str(refused.value)
            assert "too-long-label" not in str(refused.value)  # values stay out of the message

    run(scenario)
    assert peer.requests == []


def test_channel_notifications_are_typed(mini_rpc: ModuleType) -> None:
    from mini_rpc.channels import ticker, user_orders
    from mini_rpc.models.channel_ticker import TickerData
    from mini_rpc.models.channel_user_orders import UserOrdersDataItem

    tick = ticker("X-1", "100ms")
    orders = user_orders("AAA")
    assert (tick.name, tick.private) == ("ticker.X-1.100ms", False)
    assert (orders.name, orders.private) == ("user.orders.AAA", True)

    def data(channel: str, n: int) -> Any:
        if channel.startswith("ticker."):
            return {"instrument_name": "X-1", "last_price": n + 0.5, "best_bid_price": None, "new": 1}
        return [{"order_id": f"o-{n}", "state": "filled", "price": None}]

    peer = JsonRpcPeer(METHODS)

    async def scenario() -> list[Notification[Any]]:
        async with peer.serving() as url, mini_rpc.MiniRpcClient.connect(url, reconnect=FAST) as client:
            async with client.subscribe(tick, orders) as stream:
                await peer.notify([tick.name, orders.name], rounds=2, data=data)
                return [await anext(stream) for _ in range(4)]

    notes = run(scenario)
    assert peer.subscribes == [["ticker.X-1.100ms", "user.orders.AAA"]]
    assert (
        next(r for r in peer.requests if r["method"].endswith("/subscribe"))["method"] == "private/subscribe"
    )
    assert [n.channel for n in notes] == [tick.name, orders.name] * 2
    assert isinstance(notes[0].data, TickerData) and notes[0].data.last_price == 1.5
    assert notes[0].data.model_extra == {"new": 1}
    assert [type(o) for o in notes[1].data] == [UserOrdersDataItem]
    assert notes[3].data[0].order_id == "o-4"


def test_the_blocking_twin_calls_and_streams(mini_rpc: ModuleType) -> None:
    from mini_rpc.channels import ticker

    peer = JsonRpcPeer(METHODS)

    def blocking(url: str, loop: asyncio.AbstractEventLoop) -> tuple[int, list[str], float | None, Any]:
        with mini_rpc.MiniRpcSyncClient.connect(url, reconnect=FAST) as client:
            now = client.public.get_time()
            names = [i.name for i in client.public.list_items(currency="AAA")]
            balance = client.private.get_balance(currency="BBB")
            with pytest.raises(RequestValidationError):
                client.public.list_items(currency="nope")
            with client.subscribe(ticker("X-1", "raw")) as stream:
                tick = {"instrument_name": "X-1", "last_price": 2.5}
                notify = peer.notify(["ticker.X-1.raw"], data=lambda channel, n: tick)
                asyncio.run_coroutine_threadsafe(notify, loop).result(5)
                note = next(stream)
            return now, names, balance, note

    async def scenario() -> Any:
        async with peer.serving() as url:
            return await asyncio.to_thread(blocking, url, asyncio.get_running_loop())

    now, names, balance, note = run(scenario)
    assert (now, names, balance) == (1_700_000_000_000, ["a", "b"], None)
    assert note.channel == "ticker.X-1.raw" and note.data.last_price == 2.5


def test_operations_say_what_may_be_repeated_and_need_no_models(mini_rpc_dist: Path) -> None:
    probe = """
import sys, mini_rpc
from mini_rpc import OPERATIONS
print(sorted(m for m in sys.modules if m.startswith("mini_rpc.models")))
print({n: (i.auth_required, i.repeatable) for n, i in sorted(OPERATIONS.items())})
print(mini_rpc.WS_URL, mini_rpc.TESTNET_WS_URL, mini_rpc.HTTP_URL, mini_rpc.TESTNET_HTTP_URL)
"""
    env = {"PYTHONPATH": f"{mini_rpc_dist}:{ROOT / 'runtime'}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out[0] == "[]"  # importing the package and OPERATIONS loads no models
    assert out[1] == str(
        {
            "private/get_balance": (True, True),  # [reconnect] repeatable
            "private/place_order": (True, False),  # [reconnect] never_repeat
            "public/get_book": (False, True),  # no auth: repeatable by default
            "public/get_items": (False, True),
            "public/get_time": (False, True),
        }
    )
    assert out[2].split() == [
        "wss://api.mini.example/ws/api/v1",
        "wss://test.mini.example/ws/api/v1",
        "https://api.mini.example/api/v1",
        "https://test.mini.example/api/v1",
    ]


def test_exports_are_complete_and_lazy(mini_rpc: ModuleType) -> None:
    for name in mini_rpc.__all__:
        assert getattr(mini_rpc, name) is not None
    assert set(dir(mini_rpc)) >= set(mini_rpc.__all__)
    from mini_rpc import models

    for name in models.__all__:
        assert isinstance(getattr(models, name), type)
    assert "ListItemsResultItem" in models.__all__ and "TickerData" in models.__all__
