"""The sans-I/O protocol core, without sockets."""

from __future__ import annotations

import json

from deriv_runtime.calls import Resume
from deriv_runtime.protocol import Ignored, Protocol, Reply, StreamMessage


def frame(**message: object) -> str:
    return json.dumps(message)


def test_requests_get_fresh_ids_and_answers_find_their_caller() -> None:
    p = Protocol()
    a = p.call("ping", {"ping": 1})
    b = p.call("time", {"time": 1})
    assert (a.req_id, b.req_id) == (1, 2)
    assert json.loads(a.data) == {"ping": 1, "req_id": 1}
    second = p.receive(frame(msg_type="time", time=5, req_id=2))
    first = p.receive(frame(msg_type="ping", ping="pong", req_id=1))
    assert isinstance(second, Reply) and second.req_id == 2 and second.message["time"] == 5
    assert isinstance(first, Reply) and first.req_id == 1
    assert p.pending == {}


def test_late_unknown_and_garbage_frames_are_ignored_not_delivered() -> None:
    p = Protocol()
    out = p.call("ping", {"ping": 1})
    p.abandon(out.req_id)  # the caller timed out
    late = p.receive(frame(msg_type="ping", req_id=out.req_id))
    assert isinstance(late, Ignored) and "nobody is waiting" in late.reason
    assert isinstance(p.receive(frame(msg_type="ping", req_id=999)), Ignored)
    assert isinstance(p.receive("not json {"), Ignored)
    assert isinstance(p.receive("[1, 2]"), Ignored)
    assert isinstance(p.receive(frame(msg_type="ping")), Ignored)
    assert isinstance(p.receive(b"\xff\xfe"), Ignored)


def test_stream_messages_route_by_req_id_and_subscription_id() -> None:
    p = Protocol()
    state, out = p.open_stream("ticks", {"ticks": "R_100", "subscribe": 1})
    first = p.receive(
        frame(msg_type="tick", tick={"quote": 1.5}, subscription={"id": "s-1"}, req_id=out.req_id)
    )
    assert isinstance(first, StreamMessage) and first.stream is state
    assert state.subscription_id == "s-1"
    by_sub = p.receive(frame(msg_type="tick", tick={"quote": 1.6}, subscription={"id": "s-1"}))
    assert isinstance(by_sub, StreamMessage) and by_sub.stream is state


def test_closing_a_stream_sends_forget_and_swallows_its_answer() -> None:
    p = Protocol()
    state, out = p.open_stream("ticks", {"ticks": "R_100", "subscribe": 1})
    p.receive(frame(msg_type="tick", subscription={"id": "s-1"}, req_id=out.req_id))
    forget = p.close_stream(state)
    assert forget is not None and json.loads(forget.data) == {"forget": "s-1", "req_id": forget.req_id}
    answer = p.receive(frame(msg_type="forget", forget=1, req_id=forget.req_id))
    assert isinstance(answer, Ignored) and answer.quiet
    # a tick already in flight for the forgotten stream is not delivered anywhere
    assert isinstance(
        p.receive(frame(msg_type="tick", subscription={"id": "s-1"}, req_id=out.req_id)), Ignored
    )
    never_confirmed, _ = p.open_stream("ticks", {"ticks": "R_50", "subscribe": 1})
    assert p.close_stream(never_confirmed) is None


def test_forget_all_reply_ends_the_streams_it_names() -> None:
    p = Protocol()
    ticks, t_out = p.open_stream("ticks", {"ticks": "R_100", "subscribe": 1})
    balance, b_out = p.open_stream("balance", {"balance": 1, "subscribe": 1})
    p.receive(frame(msg_type="tick", subscription={"id": "t"}, req_id=t_out.req_id))
    p.receive(frame(msg_type="balance", subscription={"id": "b"}, req_id=b_out.req_id))
    out = p.call("forget_all", {"forget_all": "ticks"})
    reply = p.receive(frame(msg_type="forget_all", forget_all=["t"], req_id=out.req_id))
    assert isinstance(reply, Reply)
    assert reply.ended == [ticks] and ticks.ended and not balance.ended
    assert list(p.streams.values()) == [balance]


def test_an_error_answer_ends_the_stream() -> None:
    p = Protocol()
    state, out = p.open_stream("ticks", {"ticks": "NOPE", "subscribe": 1})
    event = p.receive(frame(msg_type="ticks", error={"code": "InvalidSymbol"}, req_id=out.req_id))
    assert isinstance(event, StreamMessage) and state.ended
    assert p.streams == {}


def test_connection_lost_fails_calls_and_resubscribe_keeps_streams() -> None:
    p = Protocol()
    call = p.call("ping", {"ping": 1})
    state, out = p.open_stream("ticks", {"ticks": "R_100", "subscribe": 1})
    p.receive(frame(msg_type="tick", subscription={"id": "old"}, req_id=out.req_id))
    assert p.connection_lost() == ([call.req_id], [])
    assert state.subscription_id is None
    (again,) = p.resubscribe()
    assert again.req_id != out.req_id and state.req_id == again.req_id
    assert json.loads(again.data) == {"ticks": "R_100", "subscribe": 1, "req_id": again.req_id}
    assert state.resubscriptions == 1
    # the old req_id is no longer routed; the new one is
    assert isinstance(p.receive(frame(msg_type="tick", req_id=out.req_id)), Ignored)
    event = p.receive(frame(msg_type="tick", subscription={"id": "new"}, req_id=again.req_id))
    assert isinstance(event, StreamMessage) and event.stream is state


BUY_RESUME = Resume(
    "proposal_open_contract",
    (("proposal_open_contract", 1), ("subscribe", 1)),
    (("contract_id", ("buy", "contract_id")),),
)


def test_a_stream_that_acts_is_never_resent_it_follows_what_it_created() -> None:
    p = Protocol()
    buy = {"buy": "1", "price": 10, "subscribe": 1}
    state, out = p.open_stream("buy", buy, repeatable=False, resume=BUY_RESUME)
    p.receive(frame(msg_type="buy", buy={"contract_id": 42}, subscription={"id": "s1"}, req_id=out.req_id))
    assert p.connection_lost() == ([], [])
    (again,) = p.resubscribe()
    sent = json.loads(again.data)
    assert sent == {"proposal_open_contract": 1, "subscribe": 1, "contract_id": 42, "req_id": again.req_id}
    assert "buy" not in sent and state.call == "proposal_open_contract" and not state.ended
    # a second drop re-opens the follow-up, never the purchase
    p.connection_lost()
    (third,) = p.resubscribe()
    assert json.loads(third.data)["contract_id"] == 42 and "buy" not in json.loads(third.data)


def test_a_stream_that_acts_ends_stranded_when_its_receipt_never_came() -> None:
    p = Protocol()
    state, _ = p.open_stream("buy", {"buy": "1", "subscribe": 1}, repeatable=False, resume=BUY_RESUME)
    p.open_stream("ticks", {"ticks": "R_100", "subscribe": 1})
    failed, stranded = p.connection_lost()
    assert failed == [] and stranded == [state] and state.outcome_unknown and state.ended
    (again,) = p.resubscribe()
    assert json.loads(again.data)["ticks"] == "R_100"
    # an error answer is a receipt of nothing: no follow-up either
    p2 = Protocol()
    s2, out2 = p2.open_stream("buy", {"buy": "1", "subscribe": 1}, repeatable=False, resume=BUY_RESUME)
    p2.receive(frame(msg_type="buy", buy={}, req_id=out2.req_id))  # receipt without the id it needs
    assert p2.connection_lost()[1] == [s2] and p2.resubscribe() == []
