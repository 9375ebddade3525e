"""Generated code at work: import it, build requests, parse responses, reject bad input."""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from deriv_runtime import UNSET, APIError, RequestValidationError, ResponseError, drift_of
from deriv_runtime.testing import InMemoryTransport
from pydantic import ValidationError


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def answer(msg_type: str, **body: Any) -> dict[str, Any]:
    return {"msg_type": msg_type, **body}


def test_import_loads_no_models(mini: ModuleType) -> None:
    assert not [m for m in sys.modules if m.startswith("mini_api.models.")]
    client_cls = mini.MiniClient
    assert client_cls.__name__ == "MiniClient"
    assert not [m for m in sys.modules if m.startswith("mini_api.models.")], (
        "importing the client loaded models"
    )


def test_call_metadata_is_typed_and_complete(mini: ModuleType) -> None:
    calls = mini.CALLS
    assert sorted(calls) == ["fill", "greet", "order"]
    order = calls["order"]
    assert (order.auth_required, order.auth_scopes, order.streams) == (True, ("trade", "admin"), True)
    assert order.msg_types == ("order", "fill")
    assert (calls["greet"].auth_required, calls["greet"].streams) == (False, False)
    assert mini.MSG_TYPES["fill"] == ("fill", "FillResponse")


def test_request_is_built_from_keyword_arguments(mini: ModuleType) -> None:
    transport = InMemoryTransport(lambda p: answer("greet", greet={"text": "hi", "mood": "calm"}))
    client = mini.MiniClient(transport)
    result = run(client.greet(name="Ann Lee"))
    assert transport.sent == [
        {"greet": 1, "name": "Ann Lee", "req_id": 1}
    ]  # constant filled in, None omitted
    assert type(result).__name__ == "GreetResponse"
    assert result.greet.text == "hi"


def test_optional_none_is_omitted_but_nullable_none_is_sent(mini: ModuleType) -> None:
    transport = InMemoryTransport(lambda p: answer("order", order={"id": 1, "amount": 2.5}))
    client = mini.MiniClient(transport)
    from mini_api.models.order import OrderLimits

    run(client.order("AB12", price=10.5, limits=OrderLimits(stop_loss=None), note=None))
    run(client.order(["AB12", "CD34"], price=10, side="sell"))
    assert transport.sent[0] == {
        "order": "AB12",
        "price": 10.5,
        "limits": {"stop_loss": None},
        "note": None,
        "req_id": 1,
    }
    assert transport.sent[1] == {"order": ["AB12", "CD34"], "price": 10, "side": "sell", "req_id": 2}
    assert "note" not in transport.sent[1]


def test_numbers_are_not_coerced(mini: ModuleType) -> None:
    transport = InMemoryTransport(lambda p: answer("order", order={"id": 7, "amount": 10.5}))
    client = mini.MiniClient(transport)
    result = run(client.order("AB12", price=10.5))
    assert transport.sent[0]["price"] == 10.5
    assert result.order.amount == 10.5
    assert result.order.id == 7
    with pytest.raises(RequestValidationError) as err:
        run(client.order("AB12", price="10.5"))  # type: ignore[arg-type]
    assert err.value.fields == ["price"]
    bad = InMemoryTransport(lambda p: answer("order", order={"id": 7.5}))
    drifted = run(mini.MiniClient(bad).order("AB12", price=1))  # read, the drift reported
    assert drifted.order.id == 7.5
    assert [str(d) for d in drift_of(drifted)] == ["order.id: expected int, got number (int_from_float)"]
    with pytest.raises(ResponseError, match="order"):
        run(mini.MiniClient(bad, strict=True).order("AB12", price=1))


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"name": "R2-D2"}, "name", "pattern"),
        ({"name": "Ann", "times": 9}, "times", "less than or equal to 5"),
        ({"name": "Ann", "times": "2"}, "times", "valid integer"),
    ],
)
def test_invalid_requests_name_the_field_and_are_not_sent(
    mini: ModuleType, kwargs: dict[str, Any], field: str, rule: str
) -> None:
    transport = InMemoryTransport(lambda p: pytest.fail("an invalid request reached the transport"))
    with pytest.raises(RequestValidationError) as err:
        run(mini.MiniClient(transport).greet(**kwargs))
    assert err.value.fields == [field]
    assert field in str(err.value)
    assert rule in str(err.value)
    assert transport.sent == []


def test_nested_and_lookahead_constraints(mini: ModuleType) -> None:
    from mini_api.models.order import OrderLimits, OrderRequest

    transport = InMemoryTransport(lambda p: answer("order"))
    client = mini.MiniClient(transport)
    run(client.order("AB12", price=1, barrier="+1.25"))
    with pytest.raises(RequestValidationError) as err:
        run(client.order("AB12", price=1, barrier="123456789"))  # longer than the look-ahead allows
    assert err.value.fields == ["barrier"]
    with pytest.raises(RequestValidationError) as err:
        run(client.order("A", price=1))
    assert all(f.startswith("order") for f in err.value.fields)
    with pytest.raises(ValidationError) as verr:
        OrderLimits.model_validate({"stop_loss": 1, "trailing": 2})
    assert verr.value.errors()[0]["loc"] == ("trailing",)
    with pytest.raises(ValidationError) as verr:
        OrderRequest.model_validate({"order": "AB12", "price": 1, "side": "hold"})
    assert verr.value.errors()[0]["loc"] == ("side",)
    with pytest.raises(ValidationError) as verr:
        OrderRequest.model_validate({"order": "AB12", "price": -1})
    assert verr.value.errors()[0]["loc"] == ("price",)


def test_responses_are_tolerant(mini: ModuleType) -> None:
    from mini_api.models.greet import GreetResponse
    from mini_api.models.order import OrderResponse

    # unknown fields kept, an enum value added upstream, a too-long string, required fields missing
    r = GreetResponse.model_validate(
        {
            "msg_type": "greet",
            "greet": {"text": "a very long greeting", "mood": "sleepy", "lang": "en"},
            "new": 1,
        }
    )
    assert r.greet is not None
    assert r.greet.mood == "sleepy"
    assert r.greet.model_extra == {"lang": "en"}
    assert r.model_extra == {"new": 1}
    assert r.echo_req is None
    o = OrderResponse.model_validate(
        {"msg_type": "order", "order": {"fills": [{"price": 1.5, "venue": "x"}]}}
    )
    assert o.order is not None
    assert o.order.fills is not None
    assert o.order.fills[0].price == 1.5
    with pytest.raises(ValidationError):
        GreetResponse.model_validate({"greet": {}})  # msg_type stays required: it routes the message


def test_api_error_becomes_typed_exception(mini: ModuleType) -> None:
    error = {"code": "InvalidPrice", "message": "Price too low", "details": {"field": "price"}}
    transport = InMemoryTransport(lambda p: {"msg_type": "order", "error": error})
    with pytest.raises(APIError) as err:
        run(mini.MiniClient(transport).order("AB12", price=1))
    e = err.value
    assert (e.code, e.message, e.details, e.call) == (
        "InvalidPrice",
        "Price too low",
        {"field": "price"},
        "order",
    )
    assert e.echo_req == {"order": "AB12", "price": 1}


def test_stream_yields_typed_messages_by_msg_type(mini: ModuleType) -> None:
    messages = [
        answer("order", order={"id": 1, "amount": 0.0}, subscription={"id": "s1"}),
        answer("fill", fill={"price": 10.5, "qty": 2}),
    ]
    transport = InMemoryTransport(lambda p: messages)
    client = mini.MiniClient(transport)

    async def consume() -> list[Any]:
        async with client.subscribe_order("AB12", price=1) as stream:
            return [m async for m in stream]

    got = run(consume())
    assert [type(m).__name__ for m in got] == ["OrderResponse", "FillResponse"]
    assert got[1].fill.price == 10.5
    assert transport.sent[0]["subscribe"] == 1
    assert not hasattr(client, "subscribe_greet")


def test_signatures_and_docstrings(mini: ModuleType) -> None:
    sig = inspect.signature(mini.MiniClient.order)
    params = sig.parameters
    assert params["order"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["price"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["price"].default is inspect.Parameter.empty
    assert params["side"].default is None
    assert params["note"].default is UNSET
    assert "req_id" not in params
    assert "subscribe" not in params
    assert "greet" not in inspect.signature(mini.MiniClient.greet).parameters  # constant, filled in
    doc = inspect.getdoc(mini.MiniClient.order) or ""
    assert "Place an order" in doc
    assert "price: Limit price." in doc
    assert "scopes: trade, admin" in doc


def test_class_names_come_from_the_call_not_titles(mini_dist: Path) -> None:
    classes: list[str] = []
    for module in sorted((mini_dist / "mini_api" / "models").glob("*.py")):
        classes += re.findall(r"^class (\w+)\(", module.read_text(), flags=re.M)
    assert "GreetRequest" in classes
    assert "Greet" in classes
    assert "OrderLimits" in classes
    assert not [c for c in classes if re.search(r"\d$", c)], classes
    assert not [c for c in classes if "Prose" in c or "Block" in c], classes


def test_models_namespace_exports_every_unique_class(mini: ModuleType) -> None:
    from mini_api import models

    for name in models.__all__:
        assert getattr(models, name).__name__ == name
    with pytest.raises(AttributeError):
        models.NoSuchModel  # noqa: B018
