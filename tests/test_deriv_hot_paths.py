"""The Deriv hot paths (a running stream's messages, plain replies, cached validators) decide as the
general code does; none of these tests measures time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deriv_runtime.calls import CallInfo
from deriv_runtime.client import build_request, parse_response
from deriv_runtime.errors import APIError, RequestValidationError
from deriv_runtime.models import RequestModel, ResponseModel
from deriv_runtime.protocol import Ignored, Protocol, Reply, StreamMessage
from pydantic import ValidationError


def frame(**message: object) -> bytes:
    return json.dumps(message).encode()


def running_stream() -> tuple[Protocol, Any]:
    p = Protocol()
    state, out = p.open_stream("ticks", {"ticks": "R_100", "subscribe": 1})
    first = p.receive(frame(msg_type="tick", req_id=out.req_id, subscription={"id": "s1"}))
    assert isinstance(first, StreamMessage) and state.subscription_id == "s1"
    return p, state


def test_a_running_streams_messages_take_the_hot_path_and_arrive_unchanged() -> None:
    p, state = running_stream()
    for quote in (1.5, 2.5, 3.5):
        data = frame(msg_type="tick", req_id=state.req_id, tick={"quote": quote})
        event = p.receive(data)
        assert isinstance(event, StreamMessage) and event.stream is state
        assert event.message["tick"]["quote"] == quote


def test_an_error_on_a_running_stream_still_ends_it() -> None:
    p, state = running_stream()
    event = p.receive(frame(msg_type="tick", req_id=state.req_id, error={"code": "X", "message": "m"}))
    assert isinstance(event, StreamMessage) and state.ended and state.key not in p.streams


def test_a_bool_req_id_is_routed_as_before() -> None:
    p, state = running_stream()  # req_id 1: True == 1, as the general code has always read it
    event = p.receive(frame(msg_type="tick", req_id=True))
    assert isinstance(event, StreamMessage) and event.stream is state


def test_messages_by_subscription_id_alone_still_reach_their_stream() -> None:
    p, state = running_stream()
    event = p.receive(frame(msg_type="tick", subscription={"id": "s1"}))
    assert isinstance(event, StreamMessage) and event.stream is state


def test_plain_replies_end_no_stream_and_forget_replies_still_do() -> None:
    p, state = running_stream()
    out = p.call("ping", {"ping": 1})
    reply = p.receive(frame(msg_type="ping", ping="pong", req_id=out.req_id))
    assert isinstance(reply, Reply) and reply.ended == [] and not state.ended
    out = p.call("forget_all", {"forget_all": "ticks"})
    reply = p.receive(frame(msg_type="forget_all", forget_all=["s1"], req_id=out.req_id))
    assert isinstance(reply, Reply) and reply.ended == [state] and state.ended
    late = p.receive(frame(msg_type="ping", req_id=out.req_id))
    assert isinstance(late, Ignored)


class _Req(RequestModel):
    ping: int
    token: str | None = None


class _Resp(ResponseModel):
    ping: str | None = None
    msg_type: str


INFO = CallInfo(
    name="ping", auth_required=False, auth_scopes=(), streams=False, msg_types=("ping",), repeatable=True
)


def test_a_bad_request_is_refused_every_time_without_its_values() -> None:
    assert build_request(INFO, _Req, {"ping": 1}) == {"ping": 1}
    for _ in range(2):  # the validator is looked up once; it refuses every time
        with pytest.raises(RequestValidationError) as caught:
            build_request(INFO, _Req, {"ping": "1", "token": 5})
        assert "'1'" not in str(caught.value) and caught.value.fields == ["ping", "token"]
        assert all("input" not in error for error in caught.value.errors)


def test_answers_are_read_by_the_cached_validator_and_drift_is_still_reported() -> None:
    good = parse_response(INFO, _Resp, {"msg_type": "ping", "ping": "pong"})
    assert good.ping == "pong"
    from deriv_runtime.drift import drift_of

    drifted = parse_response(INFO, _Resp, {"msg_type": "ping", "ping": 5})
    assert drift_of(drifted)
    with pytest.raises(APIError):
        parse_response(INFO, _Resp, {"msg_type": "ping", "error": {"code": "X", "message": "m"}})


class _Inner(RequestModel):
    amount: float
    basis: str | None = None
    note: str | None = None


class _Outer(RequestModel):
    buy: str
    parameters: _Inner | dict[str, Any] | None = None


def test_a_nested_model_goes_out_as_its_model_dump() -> None:
    inner = _Inner(amount=1.5, note=None)  # note given (as None), basis not: only what was set
    body = build_request(INFO, _Outer, {"buy": "1", "parameters": inner})
    assert body == {
        "buy": "1",
        "parameters": inner.model_dump(mode="json", by_alias=True, exclude_unset=True),
    }
    assert body["parameters"] == {"amount": 1.5, "note": None}


def test_a_request_model_built_by_hand_is_validated_and_hides_its_inputs() -> None:
    assert _Inner(amount=2.0).model_fields_set == {"amount"}
    with pytest.raises(ValidationError) as caught:
        _Inner(amount="2.0")  # type: ignore[arg-type]  # strict: a string is not a number
    assert "2.0" not in str(caught.value) and caught.value.errors()[0]["input"] == "***"
