"""Answers that drift from their schema are read anyway: the drift reported, the raw message kept.

Real servers send fields the schemas do not list, leave out fields marked required, send ``{}``
where a list is documented and numbers where strings are. In tolerant mode (the default) such a
message parses, the offending field keeps the value as received, :func:`deriv_runtime.drift_of` lists
where (never the value), :func:`deriv_runtime.raw_of` gives the message, and the drift is logged once
per call and field. Strict mode raises :class:`~deriv_runtime.DriftError` with every violation.
Unit tests on models, then the WebSocket, REST and JSON-RPC paths, over real sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import deriv_runtime.drift as drift_module
import orjson
import pytest
from deriv_runtime import Drift, DriftError, ResponseError, drift_of, raw_of
from deriv_runtime.calls import CallInfo
from deriv_runtime.client import BaseClient, parse_response
from deriv_runtime.drift import read_drifted
from deriv_runtime.models import ResponseModel
from deriv_runtime.rpc import BaseRpcClient, Channel
from deriv_runtime.testing import InMemoryTransport
from deriv_runtime.ws import ReconnectPolicy
from pydantic import Field, RootModel, TypeAdapter, ValidationError
from websockets.asyncio.server import ServerConnection, serve

from ._jsonrpc_peer import JsonRpcPeer
from .conftest import imported

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
SECRET = "CANARY-drift-7f3a"


class Item(ResponseModel):
    name: str | None = None
    size: float | None = None


class Inner(ResponseModel):
    code: str
    note: str | None = None


class Thing(ResponseModel):
    items: list[Item] | None = None
    label: str | None = None
    inner: Inner | None = None
    by_currency: dict[str, Item] | None = None
    kind: Literal["a", "b"] | None = None
    from_: int | None = Field(None, alias="from")
    tags: list[str] | None = None


class ThingResponse(ResponseModel):
    msg_type: Literal["thing"]
    thing: Thing | None = None
    echo_req: dict[str, Any] | None = None
    req_id: int | None = None


GOOD: dict[str, Any] = {
    "msg_type": "thing",
    "thing": {
        "items": [{"name": "a", "size": 1}],
        "label": "L",
        "inner": {"code": "c"},
        "by_currency": {"USD": {"size": 2}},
        "kind": "a",
        "from": 3,
        "tags": ["x"],
    },
}


def message(**thing: Any) -> dict[str, Any]:
    return {"msg_type": "thing", "thing": {**GOOD["thing"], **thing}}


def read(data: dict[str, Any], call: str = "thing") -> ThingResponse:
    return parse_response(info_of(call), ThingResponse, data)


def info_of(call: str) -> CallInfo:
    return CallInfo(call, False, (), False, ("thing",), repeatable=True)


def wheres(result: object) -> list[str]:
    return [d.where for d in drift_of(result)]


# -- unit: each kind of drift, on models ------------------------------------------------------


def test_a_message_that_matches_its_schema_has_no_drift_and_keeps_unknown_fields() -> None:
    result = read({**GOOD, "brand_new": {"x": 1}})
    assert drift_of(result) == () and raw_of(result) is None
    assert result.model_extra == {"brand_new": {"x": 1}}  # an unknown field is no drift
    assert isinstance(result.thing, Thing) and isinstance(result.thing.items[0], Item)  # type: ignore[index]


@pytest.mark.parametrize(
    ("drifted", "where", "field", "expected", "got"),
    [
        ({"items": {}}, "thing.items", "thing.items", "list[Item]", "object"),  # {} for a list
        ({"label": 5}, "thing.label", "thing.label", "str", "number"),  # a number for a string
        ({"inner": {"note": "n"}}, "thing.inner.code", "thing.inner.code", "str", "missing"),
        ({"kind": "c"}, "thing.kind", "thing.kind", "'a' | 'b'", "string"),  # an enum value not listed
        (
            {"items": [{"name": "a"}, {"name": 5}]},
            "thing.items[1].name",
            "thing.items[*].name",
            "str",
            "number",
        ),
        (
            {"by_currency": {"USD": {"size": "big"}}},
            "thing.by_currency.USD.size",
            "thing.by_currency.*.size",
            "float",
            "string",
        ),
        ({"from": "yesterday"}, "thing.from", "thing.from", "int", "string"),  # an aliased field
        ({"inner": "x"}, "thing.inner", "thing.inner", "Inner", "string"),  # a string for an object
        ({"tags": ["x", 7]}, "thing.tags[1]", "thing.tags[*]", "str", "number"),
    ],
)
def test_each_kind_of_drift_parses_and_is_reported_by_path(
    drifted: dict[str, Any], where: str, field: str, expected: str, got: str
) -> None:
    data = message(**drifted)
    result = read(data)
    assert isinstance(result, ThingResponse) and isinstance(result.thing, Thing)
    (found,) = drift_of(result)
    assert (found.where, found.field, found.expected, found.got) == (where, field, expected, got)
    assert raw_of(result) is data
    # the rest of the message is read as usual
    assert result.thing.label == drifted.get("label", "L")
    assert result.msg_type == "thing"


def test_the_offending_field_keeps_its_raw_value_and_nested_models_stay_typed() -> None:
    data = message(
        items=[{"name": "a", "size": 1}, {"name": 5, "size": 2}],
        label=5,
        inner={"note": "n"},
        by_currency={"USD": {"size": "big"}, "EUR": {"size": 1}},
    )
    result = read(data)
    thing = result.thing
    assert thing is not None and thing.label == 5
    assert thing.items is not None and [type(i) for i in thing.items] == [Item, Item]
    assert thing.items[0].name == "a" and thing.items[1].name == 5 and thing.items[1].size == 2.0
    assert isinstance(thing.inner, Inner) and thing.inner.code is None and thing.inner.note == "n"
    assert "code" not in thing.inner.model_fields_set  # a missing required field is None, not "set"
    assert thing.by_currency is not None and thing.by_currency["USD"].size == "big"
    assert thing.by_currency["EUR"].size == 1.0 and thing.kind == "a" and thing.from_ == 3
    assert sorted(wheres(result)) == [
        "thing.by_currency.USD.size",
        "thing.inner.code",
        "thing.items[1].name",
        "thing.label",
    ]
    # nested models carry their own part, relative to themselves, and their own raw object
    assert sorted(wheres(thing)) == ["by_currency.USD.size", "inner.code", "items[1].name", "label"]
    assert wheres(thing.items[1]) == ["name"] and raw_of(thing.items[1]) == {"name": 5, "size": 2}
    assert drift_of(thing.items[0]) == () and raw_of(result) is data and raw_of(thing) is data["thing"]


def test_a_missing_top_level_required_field_and_an_unlisted_message_type() -> None:
    gone = {k: v for k, v in GOOD.items() if k != "msg_type"}
    result = read(gone)
    assert result.msg_type is None and [(d.where, d.got, d.problem) for d in drift_of(result)] == [
        ("msg_type", "missing", "missing")
    ]
    other = read({**GOOD, "msg_type": "thing_v2"})
    assert other.msg_type == "thing_v2" and wheres(other) == ["msg_type"]


def test_a_drift_never_holds_the_value() -> None:
    result = read(message(label=123456789, items={"token": SECRET}, inner={"code": 5, "note": SECRET}))
    texts = [repr(drift_of(result)), *map(str, drift_of(result)), *(repr(d) for d in drift_of(result.thing))]
    assert not [t for t in texts if SECRET in t or "123456789" in t]
    assert SECRET in str(raw_of(result))  # kept for the user, outside the report


def test_a_union_takes_the_member_that_keeps_most_typed() -> None:
    class A(ResponseModel):
        a: int | None = None
        a2: int | None = None

    class B(ResponseModel):
        b: str | None = None

    class Holder(ResponseModel):
        pick: A | B | None = None

    data = {"pick": {"a": "x", "a2": "y", "b": 5}}
    with pytest.raises(ValidationError) as exc:
        Holder.model_validate(data)
    result = read_drifted(Holder, data, exc.value, call="union", what="union", raw=data)
    assert type(result.pick) is B and result.pick.b == 5 and wheres(result) == ["pick.b"]


def test_root_models_and_lists_of_models_carry_their_drift() -> None:
    class Prices(RootModel[list[float]]):
        pass

    bad = [1.0, "x", 2]
    with pytest.raises(ValidationError) as exc:
        Prices.model_validate(bad)
    prices = read_drifted(Prices, bad, exc.value, call="prices", what="prices", raw=bad)
    assert isinstance(prices, Prices) and prices.root == [1.0, "x", 2.0] and wheres(prices) == ["[1]"]

    items = [{"name": "a"}, {"name": 1}]
    with pytest.raises(ValidationError) as exc:
        TypeAdapter(list[Item]).validate_python(items)
    listed = read_drifted(list[Item], items, exc.value, call="items", what="items", raw=items)
    assert [type(i) for i in listed] == [Item, Item] and wheres(listed[1]) == ["name"]


@pytest.mark.parametrize(
    ("annotation", "value"),
    [(ThingResponse, "not an object"), (ThingResponse, [1]), (list[int], [1, "x"]), (int, "x")],
)
def test_what_has_no_model_to_carry_its_report_still_raises(annotation: Any, value: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        TypeAdapter(annotation).validate_python(value)
    with pytest.raises(ResponseError, match="x: cannot read") as err:
        read_drifted(annotation, value, exc.value, call="x", what="x: cannot read", raw={"m": value})
    assert err.value.raw == {"m": value} and not isinstance(err.value, DriftError)


def test_strict_reading_raises_every_violation_with_its_path() -> None:
    data = message(label=5, items={}, inner={})
    with pytest.raises(ValidationError) as exc:
        ThingResponse.model_validate(data)
    with pytest.raises(DriftError) as err:
        read_drifted(ThingResponse, data, exc.value, call="t", what="t: cannot read", raw=data, strict=True)
    assert sorted(d.where for d in err.value.drift) == ["thing.inner.code", "thing.items", "thing.label"]
    assert err.value.raw is data and "thing.label" in str(err.value)


# -- the log: once per call and field, never a value -----------------------------------------------


def drift_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "deriv_runtime.drift"]


def test_drift_is_logged_once_per_call_and_field_not_per_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="deriv_runtime.drift"):
        for n in range(200):
            items = [{"name": "ok"}] * (n % 5) + [{"name": n, "size": SECRET}]
            result = read(message(items=items, label=n), call="log_once")
            assert len(drift_of(result)) == 3  # every message reports its own drift
        read(message(label=1), call="log_once_other_call")
    records = drift_records(caplog)
    fields = sorted((r.args[0], r.args[1]) for r in records)  # type: ignore[index]
    assert fields == [
        ("log_once", "thing.items[*].name"),
        ("log_once", "thing.items[*].size"),
        ("log_once", "thing.label"),
        ("log_once_other_call", "thing.label"),
    ]
    assert all(r.levelno == logging.WARNING for r in records)
    assert not [r for r in records if SECRET in r.getMessage() or "199" in r.getMessage()]


def test_the_log_remembers_a_bounded_number_of_fields(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(drift_module, "MAX_LOGGED", 3)
    with caplog.at_level(logging.WARNING, logger="deriv_runtime.drift"):
        for n in range(50):
            read(message(label=1), call=f"bounded_{n}")
    assert len(drift_module._LOGGED) <= 3
    assert len(drift_records(caplog)) == 50


# -- the clients: calls, streams, strict mode -----------------------------------------------------


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


class ThingClient(BaseClient):
    async def thing(self) -> ThingResponse:
        from deriv_runtime.models import RequestModel

        class ThingRequest(RequestModel):
            thing: int

        return await self._call(THING, ThingRequest, {"thing": 1}, ThingResponse, None)


THING = info_of("thing_call")


def test_a_call_in_tolerant_mode_reads_and_in_strict_mode_refuses() -> None:
    bad = message(items={}, label=5)
    result = run(ThingClient(InMemoryTransport(lambda p: bad)).thing)
    assert (
        sorted(wheres(result)) == ["thing.items", "thing.label"] and raw_of(result)["thing"] == bad["thing"]
    )
    with pytest.raises(DriftError) as err:
        run(ThingClient(InMemoryTransport(lambda p: bad), strict=True).thing)
    assert sorted(d.where for d in err.value.drift) == ["thing.items", "thing.label"]


# -- over real sockets: a generated v3 client and a JSON-RPC client ---------------------------------


@pytest.fixture
def mini_v3(mini_v3_dist: Path) -> Iterator[ModuleType]:
    with imported(mini_v3_dist, "mini_v3") as module:
        yield module


class DriftingV3Server:
    """Answers ``authorize`` with the drift real v3 servers send, and streams ``ticks_history``
    messages each with a drifted ``prices`` list (and an unknown field)."""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks

    async def handler(self, ws: ServerConnection) -> None:
        async for frame in ws:
            request = orjson.loads(frame)
            req_id = request.get("req_id")
            base = {"echo_req": request, "req_id": req_id}
            if "authorize" in request:
                body = {"loginid": 5, "scopes": {}, "country": 12, "token": SECRET}
                await ws.send(orjson.dumps({**base, "msg_type": "authorize", "authorize": body}))
            elif "ticks_history" in request:
                for n in range(self.ticks):
                    history = {"prices": [1.5, f"n{n}", {}], "new": True}
                    sub = {"subscription": {"id": "s-1"}}
                    msg_type = "history" if n == 0 else "tick"
                    await ws.send(orjson.dumps({**base, **sub, "msg_type": msg_type, "history": history}))
            elif "forget" in request:
                await ws.send(orjson.dumps({**base, "msg_type": "forget", "forget": 1}))

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        async with serve(self.handler, "127.0.0.1", 0, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}"


def test_a_generated_v3_client_reads_drifted_answers_over_a_socket(
    mini_v3: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    server = DriftingV3Server(ticks=60)

    async def scenario() -> None:
        async with server.serving() as url:
            async with mini_v3.MiniV3Client.connect(url, reconnect=FAST) as client:
                answer = await client.authorize("tok")
                assert type(answer).__name__ == "AuthorizeResponse"
                assert answer.authorize.loginid == 5 and answer.authorize.scopes == {}
                assert answer.authorize.model_extra == {"country": 12, "token": SECRET}  # unknown: kept
                assert sorted((d.where, d.got) for d in drift_of(answer)) == [
                    ("authorize.loginid", "number"),
                    ("authorize.scopes", "object"),
                ]
                assert raw_of(answer)["authorize"]["token"] == SECRET
                seen = 0
                async with client.subscribe_ticks_history("R_100", end="latest") as stream:
                    async for tick in stream:
                        assert tick.history.prices[0] == 1.5 and tick.history.prices[1] == f"n{seen}"
                        assert [d.where for d in drift_of(tick)] == ["history.prices[1]", "history.prices[2]"]
                        assert tick.history.model_extra == {"new": True}
                        seen += 1
                        if seen == server.ticks:
                            break
            async with mini_v3.MiniV3Client.connect(url, reconnect=FAST, strict=True) as client:
                with pytest.raises(DriftError, match="breaks its schema") as err:
                    await client.authorize("tok")
                found = {(d.where, d.got, d.problem) for d in err.value.drift}
                assert found == {
                    ("authorize.loginid", "number", "type"),
                    ("authorize.scopes", "object", "type"),
                }
                assert SECRET not in str(err.value) and SECRET not in repr(err.value.drift)

    with caplog.at_level(logging.WARNING, logger="deriv_runtime.drift"):
        run(scenario)
    logged = sorted((r.args[0], r.args[1]) for r in drift_records(caplog))  # type: ignore[index]
    assert logged == [
        ("authorize", "authorize.loginid"),
        ("authorize", "authorize.scopes"),
        ("ticks_history", "history.prices[*]"),
    ]
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


class Ticker(ResponseModel):
    instrument_name: str | None = None
    last_price: float | None = None
    stats: dict[str, float] | None = None


def test_json_rpc_results_and_notifications_read_drift_over_a_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = "ticker.DRIFT-PERPETUAL.raw"
    peer = JsonRpcPeer(
        {"public/ticker": lambda params: {"instrument_name": 7, "last_price": "1.5", "stats": []}}
    )

    async def scenario() -> None:
        async with peer.serving() as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            result = await client._call("public/ticker", None, Ticker)
            assert isinstance(result, Ticker) and result.instrument_name == 7 and result.last_price == 1.5
            assert [(d.where, d.got) for d in drift_of(result)] == [
                ("instrument_name", "number"),
                ("stats", "array"),
            ]
            assert raw_of(result)["usIn"] == 1_000  # the whole answer
            async with client.subscribe(Channel(channel, Ticker)) as stream:
                await peer.notify(
                    [channel], rounds=50, data=lambda ch, n: {"last_price": n, "stats": {"v": "x"}}
                )
                for _ in range(50):
                    note = await stream.__anext__()
                    assert note.channel == channel and note.data.stats == {"v": "x"}
                    assert [d.where for d in drift_of(note.data)] == ["stats.v"]
                    assert raw_of(note.data)["params"]["channel"] == channel

    with caplog.at_level(logging.WARNING, logger="deriv_runtime.drift"):
        run(scenario)
    logged = sorted((r.args[0], r.args[1]) for r in drift_records(caplog))  # type: ignore[index]
    assert logged == [
        ("public/ticker", "instrument_name"),
        ("public/ticker", "stats"),
        (channel, "stats.*"),
    ]


def test_drift_is_a_public_value() -> None:
    d = Drift(("a", 1, "b"), "a[*].b", "str", "number", "string_type")
    assert d.where == "a[1].b" and str(d) == "a[1].b: expected str, got number (string_type)"
