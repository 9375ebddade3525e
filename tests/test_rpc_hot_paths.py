"""The shortcuts of the JSON-RPC hot paths keep the long way's answers.

Notifications are routed by the wire before the general notification code, read by each channel's
core validator, and built as tuples; results are read by a validator looked up once per result
type. A value that drifts from its type is read field by field, its drift reported on the model
(:mod:`deriv_runtime.drift`); one with no model to carry the report still raises
:class:`ResponseError` (never reaches the caller as a wrong value), and frames the fast route does
not take still get the long way's reasons.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from deriv_runtime.drift import drift_of
from deriv_runtime.errors import ResponseError
from deriv_runtime.jsonrpc import Ignored, JsonRpcProtocol, StreamMessage
from deriv_runtime.models import ResponseModel
from deriv_runtime.rpc import BaseRpcClient, Channel, Notification
from deriv_runtime.ws import ReconnectPolicy

from ._jsonrpc_peer import JsonRpcPeer

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
CHANNEL = "ticker.BTC-PERPETUAL.raw"


class Ticker(ResponseModel):
    instrument_name: str | None = None
    last_price: float | None = None


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def frame(**message: object) -> str:
    return json.dumps({"jsonrpc": "2.0", **message})


def subscribed() -> tuple[JsonRpcProtocol, Any]:
    p = JsonRpcProtocol()
    state, _ = p.open_stream(
        "public/subscribe", {"method": "public/subscribe", "params": {"channels": [CHANNEL]}}
    )
    return p, state


def test_a_notification_for_a_held_channel_is_its_streams_message() -> None:
    p, state = subscribed()
    event = p.receive(frame(method="subscription", params={"channel": CHANNEL, "data": {"x": 1}}))
    assert type(event) is StreamMessage and event.stream is state
    assert event.message["params"]["data"] == {"x": 1}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"method": "subscription", "id": 3, "params": {"channel": CHANNEL}}, "request from the server"),
        ({"method": "subscription", "params": [CHANNEL]}, "without params"),
        ({"method": "subscription", "params": {"channel": 5}}, "without a channel"),
        ({"method": "subscription", "params": {"channel": [CHANNEL]}}, "without a channel"),
        ({"method": "subscription", "params": {"channel": "ticker.OTHER.raw"}}, "no stream holds"),
        ({"method": None, "params": {"channel": CHANNEL}}, "unknown method"),
        ({"method": "Subscription", "params": {"channel": CHANNEL}}, "unknown method"),
    ],
)
def test_frames_off_the_fast_route_keep_their_reasons(message: dict[str, Any], reason: str) -> None:
    p, _ = subscribed()
    event = p.receive(frame(**message))
    assert isinstance(event, Ignored) and reason in event.reason


def test_a_broken_request_is_still_refused_with_the_names_it_should_not_have() -> None:
    p = JsonRpcProtocol()
    with pytest.raises(ValueError, match=r"not \['id', 'jsonrpc'\]"):
        p.call("public/get_time", {"method": "public/get_time", "jsonrpc": "2.0", "id": 9})
    assert p.pending == {}


def test_a_notification_that_breaks_its_type_is_read_or_raises_and_the_stream_goes_on() -> None:
    peer = JsonRpcPeer()
    values = iter([{"last_price": 1.5}, {"last_price": "not a number"}, {"last_price": 2.5}, [1]])

    async def scenario() -> None:
        async with peer.serving() as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            channels: list[Channel[Any]] = [Channel(CHANNEL, Ticker), Channel("trades.X.raw", list[int])]
            async with client.subscribe(*channels) as stream:
                await peer.notify([CHANNEL], rounds=4, data=lambda channel, n: next(values))
                good = await stream.__anext__()
                assert isinstance(good, Notification) and good == (CHANNEL, Ticker(last_price=1.5))
                drifted = await stream.__anext__()  # read: the field raw, the drift on the data
                assert drifted.data.last_price == "not a number"
                assert [d.where for d in drift_of(drifted.data)] == ["last_price"]
                assert (await stream.__anext__()).data.last_price == 2.5  # the stream goes on
                with pytest.raises(ResponseError, match=re.escape(CHANNEL)):  # not a Ticker at all
                    await stream.__anext__()
                await peer.notify(["trades.X.raw"], data=lambda channel, n: ["x"])
                with pytest.raises(ResponseError, match=re.escape("trades.X.raw")):  # a non-model type too
                    await stream.__anext__()
                await peer.notify(["trades.X.raw"], data=lambda channel, n: [1, 2])
                assert await stream.__anext__() == ("trades.X.raw", [1, 2])

    run(scenario)


def test_results_are_read_by_type_the_same_every_time() -> None:
    answers = iter([7, "7", "x", [{"last_price": 1}], [{"last_price": "x"}], {"last_price": 3}])
    peer = JsonRpcPeer({"public/next": lambda params: next(answers)})

    async def scenario() -> None:
        async with peer.serving() as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            assert await client._call("public/next", None, int) == 7
            assert await client._call("public/next", None, int) == 7  # lax, as the models are
            with pytest.raises(ResponseError, match="public/next: cannot read the answer") as bad:
                await client._call("public/next", None, int)
            assert bad.value.raw["result"] == "x"
            # list[Ticker] is a new object on every call: it reads the same each time
            assert await client._call("public/next", None, list[Ticker]) == [Ticker(last_price=1.0)]
            (drifted,) = await client._call("public/next", None, list[Ticker])  # the item carries it
            assert drifted.last_price == "x" and [d.where for d in drift_of(drifted)] == ["last_price"]
            ticker = await client._call("public/next", None, Ticker)
            assert isinstance(ticker, Ticker) and ticker.last_price == 3.0

    run(scenario)
