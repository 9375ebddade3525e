"""Issue 8's acceptance tests: the generated Deribit client (``deribit_api``, generated from the mirror
by the fixture of ``test_deribit_client``) against ``MockDeribit`` over real sockets.

Every generated method (discovered from ``OPERATIONS`` and the generated namespaces, never listed by
hand) is called over WebSocket and over HTTP with keyword arguments synthesised from its strict
params model; the answer comes back typed, carries the whole ``result``, and that result validates
against the result schema of the document (or, for the methods Deribit documents but the document
lacks, of the override file that adds them). Then: the blocking twin, 1,000 concurrent calls,
typed errors, channels through drops, heartbeats, and the HTTP query as the server reads it.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from deriv_codegen.build import BuildResult
from deriv_runtime.errors import (
    AuthenticationError,
    ConnectionLost,
    JsonRpcError,
    PermissionDenied,
    TooManyRequests,
)
from deriv_runtime.mock.core.synth import Synthesiser
from deriv_runtime.mock.deribit import MockDeribit
from deriv_runtime.mock.deribit.rpc import DERIBIT_HINTS, WS_ONLY
from deriv_runtime.rpc import BaseRpcClient, Channel, RpcStream
from deriv_runtime.transport import JsonObject, Transport
from pydantic import BaseModel, TypeAdapter

from .conftest import ROOT, imported
from .test_deribit_client import deribit, requires_deribit
from .test_mock_deribit import CREDENTIALS, FAST, Validator, _nullable, check_result, document, run

__all__ = ["deribit", "document"]  # fixtures shared with test_deribit_client / test_mock_deribit

pytestmark = requires_deribit

#: Methods answered over WebSocket only: not called over HTTP (the mock says so in ``WS_ONLY``).
HTTP_SKIPPED = frozenset(
    {
        "public/subscribe",
        "private/subscribe",
        "public/unsubscribe",
        "private/unsubscribe",
        "public/set_heartbeat",
        "private/logout",
    }
)
#: Closes the connection without answering: called on its own (test_logout_...).
WS_SKIPPED = frozenset({"private/logout"})


@pytest.fixture(scope="module")
def api(deribit: BuildResult) -> Iterator[types.ModuleType]:
    with imported(deribit.out_dir, "deribit_api") as module:
        yield module


# -- the generated methods, as the package describes them --------------------------------------------


@dataclass(frozen=True, slots=True)
class Method:
    wire: str  # public/get_order_book
    namespace: str  # public
    name: str  # get_order_book (the Python name)
    params: type[BaseModel]  # the strict RequestModel the method validates its arguments with
    result: Any  # the return annotation, resolved

    def bound(self, client: BaseRpcClient) -> Any:
        return getattr(getattr(client, self.namespace), self.name)


_WIRE = re.compile(r'self\._client\._call\(\s*"([^"]+)",\s*build_request\(_info, _m\.(\w+),')
_MODELS = re.compile(r"from \.models import (\w+) as _m")


def generated_methods(api: types.ModuleType) -> dict[str, Method]:
    """Every method of ``client.public`` / ``client.private``, read from the generated namespaces."""
    client_module = importlib.import_module(f"{api.__name__}.client")
    found: dict[str, Method] = {}
    for namespace in ("public", "private"):
        cls = getattr(client_module, f"{namespace.title()}Api")
        for name, function in inspect.getmembers(cls, inspect.iscoroutinefunction):
            if name.startswith("_"):
                continue
            source = inspect.getsource(function)
            call, module_name = _WIRE.search(source), _MODELS.search(source)
            assert call and module_name, f"{namespace}.{name}: not a generated call"
            wire, params_name = call.groups()
            module = importlib.import_module(f"{api.__name__}.models.{module_name.group(1)}")
            scope = {**vars(client_module), **vars(module)}
            result = typing.get_type_hints(function, globalns=scope)["return"]
            found[wire] = Method(wire, namespace, name, getattr(module, params_name), result)
    assert sorted(found) == sorted(api.OPERATIONS)
    return found


def is_typed(value: Any, annotation: Any) -> bool:
    """``value`` is an instance of ``annotation`` (generated models, lists of them, scalars)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if origin is list:
        return isinstance(value, list) and all(is_typed(v, args[0]) for v in value)
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(is_typed(value, a) for a in args)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return type(value) is annotation
    return isinstance(value, annotation)


def as_json(value: Any, annotation: Any) -> Any:
    return TypeAdapter(annotation).dump_python(value, mode="json", by_alias=True, exclude_unset=True)


class Recording:
    """A transport that keeps every answer it hands to the client (the raw JSON-RPC envelope)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.answers: list[JsonObject] = []

    async def request(self, payload: JsonObject, *, timeout: float | None, info: Any = None) -> JsonObject:
        answer = await self.inner.request(payload, timeout=timeout, info=info)
        self.answers.append(answer)
        return answer

    def subscribe(self, payload: JsonObject, **options: Any) -> Any:
        return self.inner.subscribe(payload, **options)


def added_result_schemas() -> dict[str, Any]:
    """Result schemas of the methods the override file adds (the document lacks them)."""
    overrides = tomllib.loads((ROOT / "schemas" / "overrides" / "deribit.toml").read_text(encoding="utf-8"))
    reader = overrides["reader"]
    return {
        name: reader["schemas"][entry["result"]] if isinstance(entry["result"], str) else entry["result"]
        for name, entry in reader["add"].items()
    }


def check_answer(document: Mapping[str, Any], method: str, result: Any) -> None:
    if f"/{method}" in document["paths"]:
        check_result(document, method, result)
        return
    schema = added_result_schemas()[method]
    errors = list(Validator(_nullable(schema)).iter_errors(result))
    assert not errors, f"{method}: {errors[0].message} at {list(errors[0].absolute_path)}"


# -- every method, over both transports ----------------------------------------------------------------


def test_every_generated_method_over_websocket_and_http(
    api: types.ModuleType, document: dict[str, Any]
) -> None:
    methods = generated_methods(api)
    assert len(methods) == 86
    # Only the methods the mock documents as WebSocket-only are left out over HTTP.
    assert set(methods) & WS_ONLY == HTTP_SKIPPED
    mock = MockDeribit(package="deribit_api", tick_interval=None)
    synth = Synthesiser(8, optional=0.3, hints=DERIBIT_HINTS)
    optional_sent = 0

    async def call_all(
        client: BaseRpcClient, recording: Recording, skipped: frozenset[str], token: Any
    ) -> int:
        calls = 0
        for wire, method in sorted(methods.items()):
            if wire in skipped:
                continue
            if wire == "public/auth":
                kwargs: dict[str, Any] = dict(CREDENTIALS)
            else:
                schema = method.params.model_json_schema()
                # fork_token / exchange_token need a refresh token the server issued
                overrides = (
                    {"refresh_token": token.refresh_token} if "refresh_token" in schema["properties"] else {}
                )
                kwargs = {**synth.generate(schema), **overrides}
                nonlocal optional_sent
                optional_sent += len(set(kwargs) - set(schema.get("required", ())))
            result = await method.bound(client)(**kwargs)
            assert is_typed(result, method.result), f"{wire}: {type(result).__name__} for {method.result}"
            assert not isinstance(result, dict), wire  # the typed result, never the envelope
            raw = recording.answers[-1]["result"]
            assert as_json(result, method.result) == raw, f"{wire}: the typed result lost part of the answer"
            check_answer(document, wire, raw)
            calls += 1
        return calls

    async def scenario() -> None:
        async with mock:
            async with api.DeribitClient.connect(mock.ws_url, reconnect=FAST) as ws:
                token = await ws.public.auth(**CREDENTIALS)
                recording = Recording(ws.transport)
                over_ws = await call_all(api.DeribitClient(recording), recording, WS_SKIPPED, token)
            assert over_ws == 86 - len(WS_SKIPPED)
            async with api.DeribitClient.over_http(mock.http_url) as anonymous:
                token = await anonymous.public.auth(**CREDENTIALS)  # the credentials go in a POST body
            async with api.DeribitClient.over_http(mock.http_url, token=token.access_token) as http:
                recording = Recording(http.transport)
                over_http = await call_all(api.DeribitClient(recording), recording, HTTP_SKIPPED, token)
            assert over_http == 86 - len(HTTP_SKIPPED)
            assert mock.total_connections == 1
            assert {r.status for r in mock.http_requests} == {200}
            assert {r.operation for r in mock.http_requests} >= set(methods) - HTTP_SKIPPED

    run(scenario)
    assert optional_sent > 20  # required params, and a few optional ones


def test_logout_closes_the_connection_without_an_answer_and_the_client_reconnects(
    api: types.ModuleType,
) -> None:
    mock = MockDeribit(package="deribit_api", tick_interval=None)

    async def scenario() -> None:
        async with mock, api.DeribitClient.connect(mock.ws_url, reconnect=FAST) as client:
            await client.public.auth(**CREDENTIALS)
            await client.private.get_positions(currency="BTC")
            with pytest.raises(ConnectionLost):  # OutcomeUnknown: private/logout is never repeated
                await client.private.logout(invalidate_token=True)
            assert isinstance(await client.public.get_time(), int)  # a new connection
            assert mock.total_connections == 2
            with pytest.raises(AuthenticationError):  # the new connection is not authenticated
                await client.private.get_positions(currency="BTC")
            assert [r["method"] for r in mock.requests].count("private/logout") == 1

    run(scenario)


# -- the blocking twin -----------------------------------------------------------------------------


def test_the_blocking_client_over_websocket(api: types.ModuleType, document: dict[str, Any]) -> None:
    from deribit_api.channels import ticker
    from deribit_api.models.channel_ticker import TickerData
    from deribit_api.models.private_get_positions import GetPositionsResultItem
    from deribit_api.models.public_auth import AuthResult
    from deribit_api.models.public_get_order_book import GetOrderBookResult

    mock = MockDeribit(package="deribit_api", tick_interval=0.02)
    with mock.run_in_thread(), api.DeribitSyncClient.connect(mock.ws_url, reconnect=FAST) as client:
        assert isinstance(client.public.get_time(), int)
        book = client.public.get_order_book(instrument_name="ETH-PERPETUAL", depth=5)
        assert type(book) is GetOrderBookResult and book.instrument_name == "ETH-PERPETUAL"
        check_result(document, "public/get_order_book", as_json(book, GetOrderBookResult))
        with pytest.raises(AuthenticationError):
            client.private.get_positions(currency="BTC")
        assert type(client.public.auth(**CREDENTIALS)) is AuthResult
        positions = client.private.get_positions(currency="ETH", kind="future")
        assert all(type(p) is GetPositionsResultItem for p in positions)
        with client.subscribe(ticker("BTC-PERPETUAL", "100ms")) as stream:
            note = next(stream)
        assert type(note.data) is TickerData and note.data.instrument_name == "BTC-PERPETUAL"
    assert mock.total_connections == 1


# -- many calls at once ----------------------------------------------------------------------------


def test_a_thousand_concurrent_calls_each_get_their_own_answer(api: types.ModuleType) -> None:
    mock = MockDeribit(package="deribit_api", tick_interval=None)
    names = [f"{('BTC', 'ETH')[i % 2]}-E2E{i:04d}" for i in range(1000)]

    async def call(client: Any, i: int) -> Any:
        if i % 2:
            return await client.public.ticker(instrument_name=names[i])
        return await client.public.get_order_book(instrument_name=names[i], depth=1 + i % 20)

    async def scenario() -> None:
        async with mock, api.DeribitClient.connect(mock.ws_url, reconnect=FAST) as client:
            answers = await asyncio.gather(*(call(client, i) for i in range(len(names))))
        assert [a.instrument_name for a in answers] == names
        for i, answer in enumerate(answers):  # each answer is its own instrument's book or ticker
            expected = "TickerResult" if i % 2 else "GetOrderBookResult"
            assert type(answer).__name__ == expected
            assert (answer.best_bid_price > 10_000) == names[i].startswith("BTC")
        assert mock.total_connections == 1
        sent = {r["params"]["instrument_name"]: r["params"] for r in mock.requests}
        assert len(sent) == 1000 and all(
            sent[n].get("depth", i % 20 + 1) == 1 + i % 20 for i, n in enumerate(names)
        )

    run(scenario)


# -- errors ----------------------------------------------------------------------------------------


def test_forced_errors_are_typed_through_the_generated_client(api: types.ModuleType) -> None:
    mock = MockDeribit(package="deribit_api", tick_interval=None)
    buy = {"instrument_name": "BTC-PERPETUAL", "amount": 10.0}
    withdraw = {"currency": "BTC", "address": "bc1-e2e", "amount": 0.5}

    async def errors(client: Any) -> None:
        mock.fail_next(10028, "private/buy", data={"wait": 1.5})
        with pytest.raises(TooManyRequests) as limited:
            await client.private.buy(**buy)
        assert limited.value.code == 10028 and limited.value.retry_after == 1.5
        assert (await client.private.buy(**buy)).order.instrument_name == "BTC-PERPETUAL"  # once only
        mock.fail_next(13009, "public/ticker")
        with pytest.raises(AuthenticationError) as unauthorized:
            await client.public.ticker(instrument_name="BTC-PERPETUAL")
        assert unauthorized.value.code == 13009
        mock.fail_next(13021, "private/withdraw")
        with pytest.raises(PermissionDenied) as forbidden:
            await client.private.withdraw(**withdraw)
        assert forbidden.value.code == 13021
        mock.fail_next(19999, "public/get_index", message="brand_new", data={"detail": 1})
        with pytest.raises(JsonRpcError) as unknown:
            await client.public.get_index(currency="BTC")
        assert type(unknown.value) is JsonRpcError
        assert (unknown.value.code, unknown.value.message, unknown.value.data) == (
            19999,
            "brand_new",
            {"detail": 1},
        )
        assert mock.rpc_faults.faults == []

    async def scenario() -> None:
        async with mock:
            async with api.DeribitClient.connect(mock.ws_url, reconnect=FAST) as ws:
                await ws.public.auth(**CREDENTIALS)
                await errors(ws)
            async with api.DeribitClient.over_http(mock.http_url, token=mock.issue_token()) as http:
                await errors(http)
            assert sorted({r.status for r in mock.http_requests}) == [200, 400]

    run(scenario)


# -- channels --------------------------------------------------------------------------------------


def test_ten_channels_in_three_subscriptions_survive_ten_drops(
    api: types.ModuleType, document: dict[str, Any]
) -> None:
    from deribit_api import channels as ch

    requests: list[list[Channel[Any]]] = [
        [ch.ticker("BTC-PERPETUAL", "100ms"), ch.ticker("ETH-PERPETUAL", "raw"), ch.quote("BTC-PERPETUAL")],
        [
            ch.book("BTC-PERPETUAL", "100ms"),
            ch.book_by_group_depth("ETH-PERPETUAL", "none", 10, "100ms"),
            ch.trades("BTC-PERPETUAL", "raw"),
        ],
        [
            ch.perpetual("BTC-PERPETUAL", "100ms"),
            ch.deribit_price_index("btc_usd"),
            ch.estimated_expiration_price("eth_usd"),
            ch.markprice_options("btc_usd"),
        ],
    ]
    by_name = {c.name: c for group in requests for c in group}
    assert len(by_name) == 10
    received: dict[str, list[Any]] = {name: [] for name in by_name}
    mock = MockDeribit(package="deribit_api", tick_interval=0.02)
    drops = 10

    async def scenario() -> list[int]:
        async with mock, api.DeribitClient.connect(mock.ws_url, reconnect=FAST) as client:
            streams: list[RpcStream[Any]] = [client.subscribe(*group) for group in requests]
            for stream in streams:
                await stream.__aenter__()
            assert sorted(c for _, c in mock.subscriptions) == sorted(by_name)

            async def read(stream: RpcStream[Any]) -> None:
                async for note in stream:
                    received[note.channel].append(note.data)

            async def every_channel_gets(counts: Mapping[str, int]) -> None:
                while any(len(received[name]) < n for name, n in counts.items()):
                    await asyncio.sleep(0.01)

            readers = [asyncio.create_task(read(s)) for s in streams]
            await every_channel_gets(dict.fromkeys(received, 2))
            for drop in range(1, drops + 1):
                before = {name: len(notes) for name, notes in received.items()}
                assert await mock.drop_all() == 1
                while any(s.gaps < drop for s in streams):
                    await asyncio.sleep(0.01)
                await every_channel_gets({name: n + 1 for name, n in before.items()})
            gaps = [s.gaps for s in streams]  # counted per stream
            for reader in readers:
                reader.cancel()
            for stream in streams:
                await stream.__aexit__(None, None, None)
            while mock.subscriptions:  # leaving a stream sends its unsubscribe (not awaited)
                await asyncio.sleep(0.01)
            assert mock.total_connections == drops + 1
            return gaps

    assert run(scenario) == [drops] * 3
    schemas = {
        t: _nullable(e["notifications"]["schema"])
        for t, e in document["components"]["x-subscriptions"].items()
    }
    for name, notes in received.items():
        data_type = by_name[name].data_type
        found = mock.spec.channel(name)
        assert found is not None
        for data in notes:
            assert is_typed(data, data_type), f"{name}: {type(data).__name__}"
            errors = list(Validator(schemas[found[0].template]).iter_errors(as_json(data, data_type)))
            assert not errors, f"{name}: {errors[0].message}"
    book = received["book.BTC-PERPETUAL.100ms"]
    assert sum(1 for d in book if d.type == "snapshot") == drops + 1  # one per (re)subscription


# -- heartbeats ------------------------------------------------------------------------------------


def test_heartbeats_through_the_generated_method_keep_the_connection(api: types.ModuleType) -> None:
    mock = MockDeribit(package="deribit_api", tick_interval=None, heartbeat_scale=0.01)  # 10 s -> 0.1 s

    async def scenario() -> None:
        async with mock, api.DeribitClient.connect(mock.ws_url, reconnect=FAST) as client:
            assert await client.public.set_heartbeat(interval=10) == "ok"
            for _ in range(5):
                await asyncio.sleep(0.15)
                assert isinstance(await client.public.get_time(), int)
            session = mock.sessions()[0]
            assert session.test_requests >= 5
            assert sum(r["method"] == "public/test" for r in mock.requests) >= 5  # the runtime answered
            assert mock.total_connections == 1 and mock.heartbeat_closes == 0

    run(scenario)


# -- HTTP GET, as the server reads it --------------------------------------------------------------


def test_the_http_query_of_generated_calls_as_the_server_reads_it(api: types.ModuleType) -> None:
    mock = MockDeribit(package="deribit_api", tick_interval=None)

    async def scenario() -> None:
        async with mock, api.DeribitClient.over_http(mock.http_url, token=mock.issue_token()) as http:
            await http.private.buy(
                instrument_name="BTC-PERPETUAL",
                amount=10.0,
                price=0.0000001,
                label="e2e a&b=c/ü",
                post_only=True,
                reduce_only=False,
            )
            await http.private.get_order_margin_by_ids(ids=["BTC-1", "BTC 2&3"])
            buy, margins = mock.http_requests[-2:]
            assert (buy.method, buy.path, buy.status) == ("GET", "/api/v2/private/buy", 200)
            assert buy.query == {
                "instrument_name": ["BTC-PERPETUAL"],
                "amount": ["10.0"],
                "price": ["0.0000001"],
                "label": ["e2e a&b=c/ü"],
                "post_only": ["true"],
                "reduce_only": ["false"],
            }
            assert (margins.path, margins.query) == (
                "/api/v2/private/get_order_margin_by_ids",
                {"ids": ["BTC-1", "BTC 2&3"]},
            )
            assert ("Authorization", "Bearer <redacted>") in buy.headers
            decoded = {r["method"]: r["params"] for r in mock.requests}  # read with the params' types
            assert decoded["private/buy"] == {
                "instrument_name": "BTC-PERPETUAL",
                "amount": 10.0,
                "price": 0.0000001,
                "label": "e2e a&b=c/ü",
                "post_only": True,
                "reduce_only": False,
            }
            assert decoded["private/get_order_margin_by_ids"] == {"ids": ["BTC-1", "BTC 2&3"]}

    run(scenario)


# -- the methods Deribit documents beyond its OpenAPI document (the mock lacked them) ---------------


def test_fork_and_exchange_token_and_create_api_key_are_answered(api: types.ModuleType) -> None:
    """The generator adds these from the override file; the mock answered them -32601 before."""
    mock = MockDeribit(package="deribit_api", tick_interval=None)

    async def scenario() -> None:
        async with mock:
            async with api.DeribitClient.connect(mock.ws_url, reconnect=FAST) as ws:
                token = await ws.public.auth(**CREDENTIALS)
                forked = await ws.public.fork_token(refresh_token=token.refresh_token, session_name="e2e")
                assert forked.access_token not in (token.access_token, None)
                with pytest.raises(JsonRpcError) as unknown:
                    await ws.public.exchange_token(refresh_token="not-issued", subject_id=7)
                assert unknown.value.code == 13004
                swapped = await ws.public.exchange_token(
                    refresh_token=token.refresh_token, subject_id=7, scope="account:read"
                )
                assert swapped.scope == "account:read" and swapped.token_type == "bearer"
                key = await ws.private.create_api_key(max_scope="account:read", name="e2e_key")
                assert (key.max_scope, key.name) == ("account:read", "e2e_key") and key.client_id
            async with api.DeribitClient.over_http(mock.http_url, token=forked.access_token) as http:
                assert (await http.private.create_api_key(max_scope="trade:read")).max_scope == "trade:read"
            assert [t.grant_type for t in mock.tokens_issued] == [
                "client_credentials",
                "fork_token",
                "exchange_token",
            ]

    run(scenario)
