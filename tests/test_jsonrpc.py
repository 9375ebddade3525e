"""The sans-I/O JSON-RPC 2.0 core (Deribit), without sockets."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from deriv_runtime.calls import Resume
from deriv_runtime.errors import (
    AuthenticationError,
    DerivError,
    JsonRpcError,
    PermissionDenied,
    TooManyRequests,
    jsonrpc_error,
)
from deriv_runtime.jsonrpc import Ignored, JsonRpcProtocol, Reply, Respond, StreamMessage, StreamState
from deriv_runtime.wire import Wire

SECRET = "s3cr3t-token-value"


def frame(**message: object) -> str:
    return json.dumps({"jsonrpc": "2.0", **message})


def notify(channel: str, **data: object) -> str:
    return frame(method="subscription", params={"channel": channel, "data": data})


def subscribe(*channels: str, private: bool = False) -> dict[str, Any]:
    method = "private/subscribe" if private else "public/subscribe"
    return {"method": method, "params": {"channels": list(channels)}}


def sent(out: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(out.data)
    assert message["id"] == out.req_id
    return message


def test_it_is_a_wire() -> None:
    wire: Wire = JsonRpcProtocol()  # checked by mypy too
    assert wire.label({"method": "public/get_order_book", "params": {}}) == "public/get_order_book"
    assert wire.label({}) == "?"


def test_requests_get_fresh_ids_and_answers_find_their_caller() -> None:
    p = JsonRpcProtocol()
    a = p.call("public/get_time", {"method": "public/get_time"})
    b = p.call("public/get_order_book", {"method": "public/get_order_book", "params": {"depth": 5}})
    assert (a.req_id, b.req_id) == (1, 2)
    assert json.loads(a.data) == {"jsonrpc": "2.0", "id": 1, "method": "public/get_time"}  # no params
    assert json.loads(b.data) == {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "public/get_order_book",
        "params": {"depth": 5},
    }
    assert p.pending == {1: "public/get_time", 2: "public/get_order_book"}
    second = p.receive(frame(id=2, result={"bids": []}, usIn=1, usOut=2))
    first = p.receive(frame(id=1, result=1700000000000))
    assert isinstance(second, Reply) and second.req_id == 2 and second.message["result"] == {"bids": []}
    assert isinstance(first, Reply) and first.req_id == 1 and first.message["result"] == 1700000000000
    assert p.pending == {}


def test_a_broken_request_is_refused_before_it_is_registered() -> None:
    p = JsonRpcProtocol()
    with pytest.raises(ValueError, match="method"):
        p.call("?", {"params": {}})
    with pytest.raises(ValueError, match="named parameters"):
        p.call("public/test", {"method": "public/test", "params": [1, 2]})
    with pytest.raises(ValueError, match="id"):
        p.call("public/test", {"method": "public/test", "id": 7})
    assert p.pending == {}


def test_a_thousand_interleaved_calls_answered_in_random_order_reach_their_ids() -> None:
    p = JsonRpcProtocol()
    outs = [p.call(f"m{i}", {"method": "public/get_index_price", "params": {"n": i}}) for i in range(1000)]
    assert len({o.req_id for o in outs}) == 1000
    by_id = {o.req_id: json.loads(o.data)["params"]["n"] for o in outs}
    order = list(by_id)
    random.Random(7).shuffle(order)
    for req_id in order:
        event = p.receive(frame(id=req_id, result={"echo": by_id[req_id]}))
        assert isinstance(event, Reply) and event.req_id == req_id
        assert event.message["result"]["echo"] == by_id[req_id]
    assert p.pending == {}


def test_an_error_answer_is_a_reply_to_its_caller() -> None:
    p = JsonRpcProtocol()
    out = p.call("private/buy", {"method": "private/buy", "params": {"amount": 10}})
    error = {"code": 13009, "message": "unauthorized", "data": {"reason": "token expired"}}
    event = p.receive(frame(id=out.req_id, error=error))
    assert isinstance(event, Reply) and event.message["error"] == error and event.ended == []
    assert p.pending == {}


def test_late_unknown_garbage_and_batch_frames_are_ignored_with_value_free_reasons() -> None:
    p = JsonRpcProtocol()
    out = p.call("public/test", {"method": "public/test"})
    p.abandon(out.req_id)  # the caller timed out
    late = p.receive(frame(id=out.req_id, result=SECRET))
    assert isinstance(late, Ignored) and "nobody is waiting" in late.reason and not late.quiet
    events = [
        late,
        p.receive(frame(id=999, result=SECRET)),
        p.receive(frame(id=SECRET, result=1)),
        p.receive(frame(id=True, result=1)),
        p.receive(frame(id=None, error={"code": -32700, "message": SECRET})),
        p.receive(frame(result=SECRET)),
        p.receive(f'{{"id": 1, "result": "{SECRET}"'),
        p.receive(json.dumps([{"jsonrpc": "2.0", "id": 1, "result": SECRET}])),
        p.receive(json.dumps(SECRET)),
        p.receive(b"\xff\xfe"),
        p.receive(notify(SECRET, value=SECRET)),
        p.receive(frame(method="subscription", params={"data": SECRET})),
        p.receive(frame(method=SECRET, params={"x": SECRET})),
        p.receive(frame(method="heartbeat", params={"type": SECRET})),
        p.receive(frame(method="subscription", id=5, params={"channel": SECRET})),
    ]
    assert all(isinstance(e, Ignored) for e in events)
    assert all(SECRET not in e.reason for e in events if isinstance(e, Ignored))
    assert "batch" in events[7].reason  # type: ignore[union-attr]
    assert not any(e.quiet for e in events if isinstance(e, Ignored))
    assert p.pending == {}


def test_notifications_route_by_channel_to_the_stream_that_subscribed_it() -> None:
    p = JsonRpcProtocol()
    groups = [
        ("ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.100ms", "ticker.SOL_USDC-PERPETUAL.100ms"),
        ("book.BTC-PERPETUAL.100ms", "book.ETH-PERPETUAL.100ms", "trades.BTC-PERPETUAL.raw"),
        (
            "user.orders.any.any.raw",
            "user.trades.any.any.raw",
            "user.portfolio.btc",
            "user.changes.any.any.raw",
        ),
    ]
    streams: list[StreamState] = []
    for i, channels in enumerate(groups):
        state, out = p.open_stream("subscribe", subscribe(*channels, private=i == 2))
        assert sent(out) == {
            "jsonrpc": "2.0",
            "id": out.req_id,
            "method": "private/subscribe" if i == 2 else "public/subscribe",
            "params": {"channels": list(channels)},
        }
        assert state.channels == channels and state.private == (i == 2) and state.req_id == out.req_id
        first = p.receive(frame(id=out.req_id, result=list(channels)))
        assert isinstance(first, StreamMessage) and first.stream is state and not state.ended
        streams.append(state)
    assert sum(len(s.channels) for s in streams) == 10
    assert p.pending == {}  # subscribe requests are streams, not calls
    rng = random.Random(3)
    flat = [(channel, i) for i, channels in enumerate(groups) for channel in channels]
    for n in range(200):
        channel, owner = rng.choice(flat)
        event = p.receive(notify(channel, n=n))
        assert isinstance(event, StreamMessage) and event.stream is streams[owner]
        assert event.message["params"] == {"channel": channel, "data": {"n": n}}
    stray = p.receive(notify("ticker.XRP-PERPETUAL.100ms", n=0))
    assert isinstance(stray, Ignored) and "no stream" in stray.reason


def test_two_streams_never_share_a_channel() -> None:
    p = JsonRpcProtocol()
    p.open_stream("subscribe", subscribe("ticker.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.100ms"))
    before = dict(p.streams)
    with pytest.raises(ValueError, match=r"'book\.BTC-PERPETUAL\.100ms' is already subscribed"):
        p.open_stream("subscribe", subscribe("trades.BTC-PERPETUAL.raw", "book.BTC-PERPETUAL.100ms"))
    assert p.streams == before  # nothing half-registered: the free channel is still free
    state, _ = p.open_stream("subscribe", subscribe("trades.BTC-PERPETUAL.raw", "trades.BTC-PERPETUAL.raw"))
    assert state.channels == ("trades.BTC-PERPETUAL.raw",)  # listed twice, held once
    with pytest.raises(ValueError, match="subscribe"):
        p.open_stream("ticker", {"method": "public/ticker", "params": {"channels": ["x"]}})
    with pytest.raises(ValueError, match="channels"):
        p.open_stream("subscribe", {"method": "public/subscribe", "params": {"channels": []}})


def test_an_error_or_empty_subscribe_answer_ends_the_stream_and_frees_its_channels() -> None:
    p = JsonRpcProtocol()
    state, out = p.open_stream("subscribe", subscribe("user.orders.any.any.raw", private=True))
    error = {"code": 13778, "message": "raw_subscriptions_not_available_for_unauthorized"}
    event = p.receive(frame(id=out.req_id, error=error))
    assert isinstance(event, StreamMessage) and event.stream is state and state.ended
    assert p.streams == {}
    empty, out2 = p.open_stream("subscribe", subscribe("user.orders.any.any.raw"))  # the channel is free
    event2 = p.receive(frame(id=out2.req_id, result=[]))
    assert isinstance(event2, StreamMessage) and empty.ended and p.streams == {}
    assert p.close_stream(empty) is None  # already over: nothing to send


def test_closing_a_stream_sends_unsubscribe_and_swallows_its_answer() -> None:
    p = JsonRpcProtocol()
    ticks, out = p.open_stream(
        "subscribe", subscribe("ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.100ms")
    )
    p.receive(frame(id=out.req_id, result=list(ticks.channels)))
    orders, o_out = p.open_stream("subscribe", subscribe("user.orders.any.any.raw", private=True))
    p.receive(frame(id=o_out.req_id, result=["user.orders.any.any.raw"]))
    unsub = p.close_stream(ticks)
    assert unsub is not None and ticks.ended
    assert sent(unsub)["method"] == "public/unsubscribe"
    assert sent(unsub)["params"] == {"channels": ["ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.100ms"]}
    assert unsub.req_id not in p.pending
    answer = p.receive(frame(id=unsub.req_id, result=list(ticks.channels)))
    assert isinstance(answer, Ignored) and answer.quiet
    # a notification already in flight for the closed stream is not delivered anywhere
    late = p.receive(notify("ticker.BTC-PERPETUAL.100ms", last=1))
    assert isinstance(late, Ignored) and not late.quiet
    assert p.close_stream(ticks) is None  # closing twice sends nothing
    private_unsub = p.close_stream(orders)
    assert private_unsub is not None and sent(private_unsub)["method"] == "private/unsubscribe"
    assert p.streams == {}


def test_closing_before_the_subscribe_answer_swallows_that_answer_too() -> None:
    p = JsonRpcProtocol()
    state, out = p.open_stream("subscribe", subscribe("ticker.BTC-PERPETUAL.100ms"))
    unsub = p.close_stream(state)
    assert unsub is not None
    answer = p.receive(frame(id=out.req_id, result=["ticker.BTC-PERPETUAL.100ms"]))
    assert isinstance(answer, Ignored) and answer.quiet


def test_a_callers_own_unsubscribe_ends_or_trims_the_streams_it_stops() -> None:
    p = JsonRpcProtocol()
    both, b_out = p.open_stream(
        "subscribe", subscribe("ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.100ms")
    )
    one, _ = p.open_stream("subscribe", subscribe("book.BTC-PERPETUAL.100ms"))
    assert isinstance(p.receive(frame(id=b_out.req_id, result=list(both.channels))), StreamMessage)
    channels = ["ticker.ETH-PERPETUAL.100ms", "book.BTC-PERPETUAL.100ms"]
    out = p.call("public/unsubscribe", {"method": "public/unsubscribe", "params": {"channels": channels}})
    reply = p.receive(frame(id=out.req_id, result=channels))
    assert isinstance(reply, Reply) and reply.ended == [one] and one.ended
    assert both.channels == ("ticker.BTC-PERPETUAL.100ms",) and not both.ended
    assert isinstance(p.receive(notify("ticker.ETH-PERPETUAL.100ms")), Ignored)
    assert isinstance(p.receive(notify("ticker.BTC-PERPETUAL.100ms")), StreamMessage)
    p.connection_lost()
    (again,) = p.resubscribe()  # only what is still held is subscribed again
    assert sent(again)["params"] == {"channels": ["ticker.BTC-PERPETUAL.100ms"]}
    everything = p.call("private/unsubscribe_all", {"method": "private/unsubscribe_all", "params": {}})
    reply2 = p.receive(frame(id=everything.req_id, result="ok"))
    assert isinstance(reply2, Reply) and reply2.ended == [both] and p.streams == {}


def test_connection_lost_fails_calls_and_resubscribes_public_then_private_after_auth() -> None:
    p = JsonRpcProtocol()
    call = p.call("public/get_time", {"method": "public/get_time"})
    ticker, t_out = p.open_stream(
        "subscribe", subscribe("ticker.BTC-PERPETUAL.100ms", "trades.BTC-PERPETUAL.raw")
    )
    orders, o_out = p.open_stream("subscribe", subscribe("user.orders.any.any.raw", private=True))
    p.receive(frame(id=t_out.req_id, result=list(ticker.channels)))
    p.receive(frame(id=o_out.req_id, result=list(orders.channels)))
    assert p.authenticated() == []  # nothing was lost yet: re-authenticating re-sends nothing
    assert p.connection_lost() == ([call.req_id], [])
    assert p.pending == {}
    late = p.receive(frame(id=call.req_id, result=1))
    assert isinstance(late, Ignored)
    (again,) = p.resubscribe()
    assert again.req_id not in {t_out.req_id, o_out.req_id, call.req_id} and ticker.req_id == again.req_id
    assert sent(again) == {
        "jsonrpc": "2.0",
        "id": again.req_id,
        "method": "public/subscribe",
        "params": {"channels": ["ticker.BTC-PERPETUAL.100ms", "trades.BTC-PERPETUAL.raw"]},
    }
    assert ticker.resubscriptions == 1 and orders.resubscriptions == 0
    assert p.resubscribe() == []  # already re-sent on this connection
    # the private stream is held, not ended; closing it now would send nothing the server knows
    assert not orders.ended and orders.key in p.streams
    (private,) = p.authenticated()
    assert sent(private)["method"] == "private/subscribe"
    assert sent(private)["params"] == {"channels": ["user.orders.any.any.raw"]}
    assert orders.resubscriptions == 1 and orders.req_id == private.req_id
    assert p.authenticated() == []
    # answers and notifications reach the same stream objects
    first = p.receive(frame(id=again.req_id, result=list(ticker.channels)))
    assert isinstance(first, StreamMessage) and first.stream is ticker
    event = p.receive(notify("user.orders.any.any.raw", order_id="1"))
    assert isinstance(event, StreamMessage) and event.stream is orders


def test_authenticated_may_come_before_resubscribe_and_held_streams_keep_their_channels() -> None:
    p = JsonRpcProtocol()
    orders, _ = p.open_stream("subscribe", subscribe("user.orders.any.any.raw", private=True))
    ticker, _ = p.open_stream("subscribe", subscribe("ticker.BTC-PERPETUAL.100ms"))
    p.connection_lost()
    with pytest.raises(ValueError, match="already subscribed"):
        p.open_stream("subscribe", subscribe("user.orders.any.any.raw"))
    assert p.close_stream(ticker) is None  # not subscribed on the new connection: nothing to undo
    (private,) = p.authenticated()  # the on-connect hook authenticated first
    assert sent(private)["params"]["channels"] == ["user.orders.any.any.raw"]
    assert orders.req_id == private.req_id and orders.resubscriptions == 1
    assert p.resubscribe() == []


def test_a_stream_that_acts_is_never_resent() -> None:
    p = JsonRpcProtocol()
    resume = Resume(
        "subscribe",
        (("method", "private/subscribe"), ("params", {"channels": ["user.orders.any.any.raw"]})),
        (),
    )
    acting, out = p.open_stream("subscribe", subscribe("user.acting.raw", private=True), repeatable=False)
    followed, f_out = p.open_stream(
        "subscribe", subscribe("user.other.raw", private=True), repeatable=False, resume=resume
    )
    p.receive(frame(id=f_out.req_id, result=["user.other.raw"]))
    failed, stranded = p.connection_lost()
    assert failed == [] and stranded == [acting] and acting.outcome_unknown and acting.ended
    assert out.req_id not in p.pending
    assert p.resubscribe() == []
    (again,) = p.authenticated()
    assert sent(again)["params"] == {"channels": ["user.orders.any.any.raw"]}
    assert followed.channels == ("user.orders.any.any.raw",) and followed.repeatable
    assert isinstance(p.receive(notify("user.other.raw")), Ignored)


def test_a_heartbeat_test_request_is_answered_and_the_answer_swallowed() -> None:
    p = JsonRpcProtocol()
    event = p.receive(frame(method="heartbeat", params={"type": "test_request"}))
    assert isinstance(event, Respond)
    assert sent(event.out) == {
        "jsonrpc": "2.0",
        "id": event.out.req_id,
        "method": "public/test",
        "params": {},
    }
    assert event.out.req_id not in p.pending
    answer = p.receive(frame(id=event.out.req_id, result={"version": "2.1.1"}))
    assert isinstance(answer, Ignored) and answer.quiet
    beat = p.receive(frame(method="heartbeat", params={"type": "heartbeat"}))
    assert isinstance(beat, Ignored) and beat.quiet


def test_set_heartbeat_is_a_normal_call() -> None:
    p = JsonRpcProtocol()
    out = p.set_heartbeat(30)
    assert sent(out) == {
        "jsonrpc": "2.0",
        "id": out.req_id,
        "method": "public/set_heartbeat",
        "params": {"interval": 30},
    }
    assert p.pending == {out.req_id: "public/set_heartbeat"}
    reply = p.receive(frame(id=out.req_id, result="ok"))
    assert isinstance(reply, Reply) and reply.message["result"] == "ok"
    for bad in (9, 0, -1, True, 10.5):
        with pytest.raises(ValueError, match="interval"):
            p.set_heartbeat(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (10028, TooManyRequests),
        (10066, TooManyRequests),
        (10000, AuthenticationError),
        (13004, AuthenticationError),
        (13009, AuthenticationError),
        (13021, PermissionDenied),
        (13403, PermissionDenied),
        (11042, PermissionDenied),
    ],
)
def test_error_codes_map_to_typed_errors(code: int, cls: type[JsonRpcError]) -> None:
    error = jsonrpc_error("private/buy", {"code": code, "message": "short_message", "data": {"x": 1}})
    assert type(error) is cls and isinstance(error, JsonRpcError) and isinstance(error, DerivError)
    assert (error.method, error.code, error.message, error.data) == (
        "private/buy",
        code,
        "short_message",
        {"x": 1},
    )
    assert str(error) == f"private/buy: error {code}: short_message"


def test_unknown_codes_keep_code_message_and_data() -> None:
    error = jsonrpc_error("private/buy", {"code": 10009, "message": "not_enough_funds", "data": [1]})
    assert type(error) is JsonRpcError
    assert (error.code, error.message, error.data) == (10009, "not_enough_funds", [1])
    odd = jsonrpc_error("public/test", {"code": "10028", "message": 5})
    assert type(odd) is JsonRpcError and odd.code is None and odd.message == "no message"
    assert type(jsonrpc_error("public/test", None)) is JsonRpcError


def test_a_retry_hint_is_read_when_the_data_gives_one() -> None:
    hinted = jsonrpc_error(
        "private/buy", {"code": 10028, "message": "too_many_requests", "data": {"wait": 2}}
    )
    assert isinstance(hinted, TooManyRequests) and hinted.retry_after == 2.0
    for data in (None, {}, {"wait": "2"}, {"wait": -1}, {"wait": True}, [2]):
        plain = jsonrpc_error("private/buy", {"code": 10028, "message": "too_many_requests", "data": data})
        assert isinstance(plain, TooManyRequests) and plain.retry_after is None


def test_error_data_never_shows_in_the_message() -> None:
    data = {"reason": "bad token", "param": "access_token", "value": SECRET}
    error = jsonrpc_error("private/get_positions", {"code": 13009, "message": "unauthorized", "data": data})
    assert isinstance(error, AuthenticationError) and error.data == data
    assert SECRET not in str(error) and SECRET not in repr(error) and "bad token" not in str(error)
    long = jsonrpc_error("public/test", {"code": 1, "message": "m" * 1000})
    assert len(str(long)) < 250 and long.message == "m" * 1000


def test_the_heartbeat_the_caller_set_is_set_again_on_every_new_connection() -> None:
    p = JsonRpcProtocol()
    assert [json.loads(o.data)["method"] for o in p.resubscribe()] == []  # none set: nothing to restore
    out = p.call("public/set_heartbeat", {"method": "public/set_heartbeat", "params": {"interval": 30}})
    p.receive(json.dumps({"jsonrpc": "2.0", "id": out.req_id, "result": "ok"}))
    p.connection_lost()
    (again,) = p.resubscribe()
    sent = json.loads(again.data)
    assert sent["method"] == "public/set_heartbeat" and sent["params"] == {"interval": 30}
    assert sent["id"] != out.req_id
    ignored = p.receive(json.dumps({"jsonrpc": "2.0", "id": sent["id"], "result": "ok"}))
    assert isinstance(ignored, Ignored) and ignored.quiet  # our own bookkeeping: swallowed
    p.call("public/disable_heartbeat", {"method": "public/disable_heartbeat"})
    p.connection_lost()
    assert p.resubscribe() == []
