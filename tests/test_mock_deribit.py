"""The Deribit mock (``deriv_runtime.mock.deribit``) against the runtime's JSON-RPC client, over
WebSocket and HTTP: every method of the pinned OpenAPI document answers valid results, errors carry
Deribit's codes, channels stream through drops, heartbeats are enforced, faults are injectable,
secrets stay out of the record.

Results are validated with ``jsonschema`` against the document's own result schemas, read here
independently of the mock (only ``nullable`` and the document's prose ``type`` names are taught to
the validator)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import websockets
from deriv_runtime.errors import (
    AuthenticationError,
    ConnectionLost,
    JsonRpcError,
    PermissionDenied,
    TooManyRequests,
)
from deriv_runtime.mock.core.synth import Synthesiser
from deriv_runtime.mock.deribit import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MockDeribit
from deriv_runtime.mock.deribit.rpc import DERIBIT_HINTS
from deriv_runtime.rpc import BaseRpcClient, Channel, RpcStream, capture_meta
from deriv_runtime.rpc_http import HttpStatusError
from deriv_runtime.ws import ReconnectPolicy

from .conftest import SHARED_SCHEMAS

SPEC = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"
pytestmark = pytest.mark.skipif(not SPEC.is_file(), reason="the Deribit OpenAPI document is not mirrored")

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
#: A session-scoped grant: its refresh token can be forked (public/fork_token refuses a connection's).
CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": DEFAULT_CLIENT_ID,
    "client_secret": DEFAULT_CLIENT_SECRET,
    "scope": "session:mock",
}


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 60.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


# -- the document, read independently of the mock --------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return data


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: v if k in ("enum", "example") else _nullable(v) for k, v in node.items()}
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _is_pair(checker: Any, value: Any) -> bool:
    return isinstance(value, list)


_TYPES = jsonschema.Draft4Validator.TYPE_CHECKER.redefine_many(
    {
        "price-amount pair": _is_pair,
        "timestamp-value pair": _is_pair,
        "full-change tuple": _is_pair,
        "list": lambda checker, value: isinstance(value, dict),
    }
)
Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, type_checker=_TYPES)


def result_schema(document: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The ``result`` member of the method's success answer, as the document gives it."""
    answer = document["paths"][f"/{method}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    parts = answer.get("allOf", [answer])
    members = [p["properties"]["result"] for p in parts if "result" in p.get("properties", {})]
    # One answer gives its result bare beside the envelope (the part without jsonrpc/usIn...).
    result = members[0] if members else next(p for p in parts if "jsonrpc" not in p.get("properties", {}))
    return {**_nullable(result), "components": document["components"]}


def check_result(document: Mapping[str, Any], method: str, result: Any) -> None:
    errors = sorted(Validator(result_schema(document, method)).iter_errors(result), key=str)
    assert not errors, f"{method}: {errors[0].message} at {list(errors[0].absolute_path)}"


def spec_methods(document: Mapping[str, Any]) -> list[str]:
    return sorted(p[1:] for p, item in document["paths"].items() if "get" in item)


# -- every method ------------------------------------------------------------------------------------


def test_every_method_of_the_document_answers_a_valid_result_over_websocket(document: dict[str, Any]) -> None:
    mock = MockDeribit(SPEC, tick_interval=None)
    params_of = Synthesiser(11, optional=0.5, hints=DERIBIT_HINTS)
    methods = spec_methods(document)
    assert len(methods) == 77 and methods == sorted(mock.spec.methods)

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as client:
            token = await client._call("public/auth", CREDENTIALS, dict[str, Any])
            check_result(document, "public/auth", token)
            for method in methods:
                params = (
                    CREDENTIALS
                    if method == "public/auth"
                    else params_of.generate(mock.methods[method].params_schema)
                )
                with capture_meta() as meta:
                    result = await client._call(method, params, Any)
                check_result(document, method, result)
                us_in, us_out = meta[0].us_in, meta[0].us_out
                assert meta[0].testnet is True and us_in and us_out and us_out >= us_in
            book = await client._call(
                "public/get_order_book", {"instrument_name": "ETH-PERPETUAL"}, dict[str, Any]
            )
            assert (
                book["instrument_name"] == "ETH-PERPETUAL"
                and 1000 < book["best_bid_price"] < book["best_ask_price"]
            )
            assert await client._call("public/test", None, dict[str, Any]) == {"version": mock.server_version}
            assert abs(await client._call("public/get_time", None, int) - time.time() * 1000) < 60_000

    run(scenario)


def test_http_get_and_post_answer_like_the_websocket(document: dict[str, Any]) -> None:
    mock = MockDeribit(SPEC, tick_interval=None)
    sample: dict[str, dict[str, Any]] = {
        "public/get_order_book": {"instrument_name": "BTC-PERPETUAL", "depth": 5},
        "public/get_instruments": {"currency": "ETH", "kind": "future", "expired": False},
        "public/get_time": {},
        "private/get_order_margin_by_ids": {"ids": ["ETH-1", "ETH-2"]},
        "private/get_account_summary": {"currency": "BTC", "extended": True},
    }

    async def scenario() -> None:
        async with mock:
            token = mock.issue_token()
            for verb in ("GET", "POST"):
                async with BaseRpcClient.over_http(mock.http_url, http_method=verb, token=token) as client:
                    for method, params in sample.items():
                        check_result(document, method, await client._call(method, params, Any))
            gets = [r for r in mock.http_requests if r.method == "GET"]
            assert [r.path for r in gets] == [f"/api/v2/{m}" for m in sample]
            assert gets[3].query == {"ids": ["ETH-1", "ETH-2"]} and gets[0].query["depth"] == ["5"]
            # The query was read with the parameters' types.
            decoded = {r["method"]: r["params"] for r in mock.requests[: len(sample)]}
            assert decoded["public/get_order_book"]["depth"] == 5
            assert decoded["public/get_instruments"]["expired"] is False
            assert decoded["private/get_order_margin_by_ids"]["ids"] == ["ETH-1", "ETH-2"]
            assert all(r.status == 200 for r in mock.http_requests)
            async with httpx.AsyncClient() as raw:  # the JSON-RPC request object to the API root
                answer = await raw.post(
                    mock.http_url, json={"jsonrpc": "2.0", "id": 7, "method": "public/get_time"}
                )
                assert (
                    answer.status_code == 200
                    and answer.json()["id"] == 7
                    and answer.json()["testnet"] is True
                )
                bad = await raw.post(f"{mock.http_url}/public/get_time", content=b"{nope")
                assert bad.status_code == 400 and bad.json()["error"]["code"] == -32700
                assert (await raw.get(f"http://127.0.0.1:{mock.http_port}/elsewhere")).status_code == 404
                assert (await raw.delete(f"{mock.http_url}/public/get_time")).status_code == 405

    run(scenario)


# -- errors ------------------------------------------------------------------------------------------


def test_bad_params_and_unknown_methods_get_json_rpc_codes() -> None:
    mock = MockDeribit(SPEC, tick_interval=None)

    async def scenario() -> None:
        async with mock:
            async with BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as ws:
                with pytest.raises(JsonRpcError) as missing:
                    await ws._call("public/get_order_book", {"depth": 5}, Any)
                assert missing.value.code == -32602 and missing.value.data["param"] == "instrument_name"
                with pytest.raises(JsonRpcError) as typed:
                    await ws._call("public/get_order_book", {"instrument_name": "X", "depth": "five"}, Any)
                assert typed.value.code == -32602 and typed.value.data["param"] == "depth"
                with pytest.raises(JsonRpcError) as enum:
                    await ws._call("public/get_index", {"currency": "DOGE"}, Any)
                assert enum.value.code == -32602 and enum.value.data["param"] == "currency"
                with pytest.raises(JsonRpcError) as unknown:
                    await ws._call("public/no_such_method", None, Any)
                assert unknown.value.code == -32601
                with pytest.raises(JsonRpcError) as heartbeat:
                    await ws._call("public/set_heartbeat", {"interval": 5}, Any)
                assert heartbeat.value.code == -32602
            async with BaseRpcClient.over_http(mock.http_url) as http:
                with pytest.raises(JsonRpcError) as over_get:
                    await http._call("public/get_order_book", {"instrument_name": "X", "depth": "five"}, Any)
                assert over_get.value.code == -32602
                with pytest.raises(JsonRpcError) as ws_only:
                    await http._call("public/subscribe", {"channels": ["ticker.BTC-PERPETUAL.raw"]}, Any)
                assert ws_only.value.code == -32601
            assert {r.status for r in mock.http_requests} == {400}

    run(scenario)


def test_private_methods_need_a_token() -> None:
    mock = MockDeribit(SPEC, tick_interval=None)
    params = {"currency": "BTC"}

    async def scenario() -> None:
        async with mock:
            async with BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as ws:
                with pytest.raises(AuthenticationError) as no_token:
                    await ws._call("private/get_positions", params, Any)
                assert no_token.value.code == 13009
                with pytest.raises(AuthenticationError):
                    await ws._call("private/get_positions", {**params, "access_token": "forged"}, Any)
                with pytest.raises(JsonRpcError) as wrong:
                    await ws._call("public/auth", {**CREDENTIALS, "client_secret": "wrong"}, Any)
                assert wrong.value.code == 13004
                issued = mock.issue_token()
                await ws._call("private/get_positions", {**params, "access_token": issued}, Any)
                with pytest.raises(
                    AuthenticationError
                ):  # the token authenticated one call, not the connection
                    await ws._call("private/get_positions", params, Any)
                token = await ws._call("public/auth", CREDENTIALS, dict[str, Any])
                await ws._call("private/get_positions", params, Any)  # the connection is authenticated now
                refreshed = await ws._call(
                    "public/auth",
                    {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                    dict[str, Any],
                )
                assert refreshed["access_token"] != token["access_token"]
                with pytest.raises(JsonRpcError, match="13004"):  # a refresh token is used once
                    await ws._call(
                        "public/auth",
                        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                        Any,
                    )
                stamp = str(int(time.time() * 1000))
                signature = hmac.new(
                    DEFAULT_CLIENT_SECRET.encode(), f"{stamp}\nn0nce\n".encode(), hashlib.sha256
                ).hexdigest()
                signed = {
                    "grant_type": "client_signature",
                    "client_id": DEFAULT_CLIENT_ID,
                    "timestamp": stamp,
                }
                await ws._call(
                    "public/auth", {**signed, "nonce": "n0nce", "signature": signature}, dict[str, Any]
                )
            async with BaseRpcClient.over_http(mock.http_url) as anonymous:
                with pytest.raises(AuthenticationError):
                    await anonymous._call("private/get_positions", params, Any)
            async with BaseRpcClient.over_http(mock.http_url, token=issued) as bearer:
                await bearer._call("private/get_positions", params, Any)
            basic = httpx.BasicAuth(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
            async with httpx.AsyncClient(auth=basic) as raw:
                answer = await raw.get(f"{mock.http_url}/private/get_positions", params=params)
                assert answer.status_code == 200 and "result" in answer.json()
        async with MockDeribit(SPEC, tokens=None, tick_interval=None) as lenient:  # any non-empty token
            async with BaseRpcClient.over_http(lenient.http_url, token="anything") as client:
                await client._call("private/get_positions", params, Any)
        async with MockDeribit(SPEC, require_auth=False, tick_interval=None) as open_mock:
            async with BaseRpcClient.connect(open_mock.ws_url, reconnect=FAST) as client:
                await client._call("private/get_positions", params, Any)

    run(scenario)


def test_forced_json_rpc_errors_are_typed_by_code() -> None:
    mock = MockDeribit(SPEC, tick_interval=None, require_auth=False)

    async def scenario() -> None:
        async with mock:
            mock.fail_next(10028, "private/buy", data={"wait": 1.5})
            mock.fail_next(13009, "public/ticker")
            mock.fail_next(13021, "private/withdraw")
            mock.fail_next(19999, "public/get_index", message="brand_new", data={"detail": 1})
            fault = mock.fail_next(10028, "public/get_time", count=2)
            buy = {"instrument_name": "BTC-PERPETUAL", "amount": 10}
            async with BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as ws:
                with pytest.raises(TooManyRequests) as limited:
                    await ws._call("private/buy", buy, Any)
                assert limited.value.code == 10028 and limited.value.retry_after == 1.5
                await ws._call("private/buy", buy, Any)  # once only
                with pytest.raises(AuthenticationError):
                    await ws._call("public/ticker", {"instrument_name": "BTC-PERPETUAL"}, Any)
                with pytest.raises(PermissionDenied):
                    await ws._call("private/withdraw", {"currency": "BTC", "address": "a", "amount": 1}, Any)
                with pytest.raises(JsonRpcError) as odd:
                    await ws._call("public/get_index", {"currency": "BTC"}, Any)
                assert (
                    type(odd.value) is JsonRpcError
                    and odd.value.code == 19999
                    and odd.value.data == {"detail": 1}
                )
                assert odd.value.message == "brand_new"
                with pytest.raises(TooManyRequests):
                    await ws._call("public/get_time", None, int)
            async with BaseRpcClient.over_http(mock.http_url) as http:  # the same faults, over HTTP
                with pytest.raises(TooManyRequests) as again:
                    await http._call("public/get_time", None, int)
                assert again.value.retry_after is None
                await http._call("public/get_time", None, int)
            assert fault.hits == 2 and mock.rpc_faults.faults == []

    run(scenario)


def test_http_faults_and_websocket_knobs() -> None:
    mock = MockDeribit(SPEC, tick_interval=None)

    async def scenario() -> None:
        async with mock:
            mock.fail_http_next(503, "public/get_time")
            mock.fail_http_next(429, "public/get_time", retry_after=2)
            mock.disconnect_http_next("public/get_time")
            async with BaseRpcClient.over_http(mock.http_url) as http:
                with pytest.raises(HttpStatusError) as unavailable:
                    await http._call("public/get_time", None, int)
                assert unavailable.value.status == 503
                with pytest.raises(TooManyRequests) as limited:
                    await http._call("public/get_time", None, int)
                assert limited.value.retry_after == 2
                with pytest.raises(ConnectionLost):
                    await http._call("public/get_time", None, int)
                mock.set_http_delay(0.2, "public/get_time")
                started = time.monotonic()
                await http._call("public/get_time", None, int)
                assert time.monotonic() - started >= 0.2
            mock.delay_calls["public/get_time"] = 0.2
            async with BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as ws:
                started = time.monotonic()
                await ws._call("public/get_time", None, int)
                assert time.monotonic() - started >= 0.2
                await mock.send_garbage()  # the runtime ignores garbage; the mock answers it with errors
                assert await ws._call("public/test", None, dict[str, Any]) == {"version": mock.server_version}
            async with websockets.connect(mock.ws_url) as raw:
                await raw.send("}{ not json")
                assert json.loads(await raw.recv())["error"]["code"] == -32700
                await raw.send("[1, 2]")
                assert json.loads(await raw.recv())["error"]["code"] == -32600
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(mock.base_url + "/ws/elsewhere"):
                    pass
            mock.refuse_handshake = True
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(mock.ws_url):
                    pass

    run(scenario)


# -- channels ----------------------------------------------------------------------------------------


STREAMS = [
    ["ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.raw", "quote.BTC-PERPETUAL"],
    ["book.BTC-PERPETUAL.100ms", "book.ETH-PERPETUAL.none.10.100ms", "trades.BTC-PERPETUAL.raw"],
    [
        "trades.ETH-PERPETUAL.100ms",
        "deribit_price_index.btc_usd",
        "estimated_expiration_price.eth_usd",
        "markprice.options.btc_usd",
    ],
]


def test_ten_channels_in_three_subscriptions_stream_through_three_drops(document: dict[str, Any]) -> None:
    mock = MockDeribit(SPEC, tick_interval=0.02)
    schemas = {
        template: _nullable(entry["notifications"]["schema"])
        for template, entry in document["components"]["x-subscriptions"].items()
    }
    received: dict[str, list[Any]] = {name: [] for names in STREAMS for name in names}

    def template_of(channel: str) -> str:
        found = mock.spec.channel(channel)
        assert found is not None
        return found[0].template

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as client:
            streams: list[RpcStream[Any]] = [
                client.subscribe(*(Channel(n, Any) for n in names)) for names in STREAMS
            ]
            for stream in streams:
                await stream.__aenter__()
            assert sorted(c for _, c in mock.subscriptions) == sorted(received)

            async def read(stream: RpcStream[Any]) -> None:
                async for note in stream:
                    received[note.channel].append(note.data)

            readers = [asyncio.create_task(read(s)) for s in streams]

            async def every_channel_gets(n: int) -> None:
                while any(len(notes) < n for notes in received.values()):
                    await asyncio.sleep(0.01)

            await every_channel_gets(3)
            for drop in range(1, 4):
                before = {name: len(notes) for name, notes in received.items()}
                assert await mock.drop_all() == 1
                while any(s.gaps < drop for s in streams):
                    await asyncio.sleep(0.01)
                while any(len(received[name]) < before[name] + 2 for name in received):
                    await asyncio.sleep(0.01)
            assert [s.gaps for s in streams] == [3, 3, 3] and mock.total_connections == 4
            for reader in readers:
                reader.cancel()
            for stream in streams:
                await stream.__aexit__(None, None, None)

    run(scenario)
    for name, notes in received.items():
        schema = schemas[template_of(name)]
        for data in notes:
            errors = list(Validator(schema).iter_errors(data))
            assert not errors, f"{name}: {errors[0].message}"
    for name in ("ticker.BTC-PERPETUAL.100ms", "book.BTC-PERPETUAL.100ms", "trades.ETH-PERPETUAL.100ms"):
        instrument = name.split(".")[1]
        notes = received[name]
        assert all(d["instrument_name"] == instrument for d in notes)
        stamps = [d["timestamp"] for d in notes]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    prices = {d["mark_price"] for d in received["ticker.BTC-PERPETUAL.100ms"]}
    assert len(prices) > 1 and all(50_000 < p < 70_000 for p in prices)  # it moves, around BTC's price
    book = received["book.BTC-PERPETUAL.100ms"]
    assert book[0]["type"] == "snapshot"
    # after each (re)subscription: a snapshot, then changes chained by prev_change_id
    for previous, current in itertools.pairwise(book):
        if current["type"] == "change":
            assert current["prev_change_id"] == previous["change_id"]
    assert sum(1 for d in book if d["type"] == "snapshot") == 4
    assert all(d["index_name"] == "btc_usd" for d in received["deribit_price_index.btc_usd"])


def test_unknown_and_private_channels_are_left_out() -> None:
    mock = MockDeribit(SPEC, tick_interval=None, require_auth=False)

    async def scenario() -> None:
        async with mock, websockets.connect(mock.ws_url) as raw:
            channels = ["ticker.BTC-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.1s", "nope", "user.portfolio.btc"]
            await raw.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "public/subscribe",
                        "params": {"channels": channels},
                    }
                )
            )
            assert json.loads(await raw.recv())["result"] == ["ticker.BTC-PERPETUAL.100ms"]
            private = ["user.portfolio.BTC", "announcements"]
            await raw.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 2,
                        "method": "private/subscribe",
                        "params": {"channels": private},
                    }
                )
            )
            assert json.loads(await raw.recv())["result"] == private
            sent = await mock.step()
            assert {n["params"]["channel"] for n in sent} == {"ticker.BTC-PERPETUAL.100ms", *private}
            for _ in sent:
                assert json.loads(await raw.recv())["method"] == "subscription"
            await raw.send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "public/unsubscribe_all"}))
            assert json.loads(await raw.recv())["result"] == "ok"
            assert mock.subscriptions == [] and await mock.step() == []

    run(scenario)


# -- heartbeats --------------------------------------------------------------------------------------


def test_heartbeats_are_answered_by_the_runtime_and_enforced_on_a_silent_client() -> None:
    mock = MockDeribit(SPEC, tick_interval=None, heartbeat_scale=0.01)  # 10 s -> 0.1 s

    async def scenario() -> None:
        async with mock:
            async with BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as client:
                assert await client._call("public/set_heartbeat", {"interval": 10}, str) == "ok"
                await asyncio.sleep(0.7)
                assert mock.sessions()[0].test_requests >= 4
                assert mock.total_connections == 1 and mock.heartbeat_closes == 0
                assert sum(r["method"] == "public/test" for r in mock.requests) >= 4
                await client._call("public/get_time", None, int)
            async with websockets.connect(mock.ws_url) as raw:
                request = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "public/set_heartbeat",
                    "params": {"interval": 10},
                }
                await raw.send(json.dumps(request))
                assert json.loads(await raw.recv())["result"] == "ok"
                test_request = json.loads(await raw.recv())
                assert test_request == {
                    "jsonrpc": "2.0",
                    "method": "heartbeat",
                    "params": {"type": "test_request"},
                }
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(raw.recv(), 2.0)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
                assert mock.heartbeat_closes == 1

    run(scenario)


# -- records and documents ---------------------------------------------------------------------------


def test_secrets_are_redacted_in_the_records() -> None:
    mock = MockDeribit(SPEC, tick_interval=None)
    secret_values = [DEFAULT_CLIENT_SECRET]

    async def scenario() -> None:
        async with mock:
            async with BaseRpcClient.connect(mock.ws_url, reconnect=FAST) as ws:
                token = await ws._call("public/auth", CREDENTIALS, dict[str, Any])
                secret_values.extend([token["access_token"], token["refresh_token"]])
                await ws._call(
                    "private/get_positions", {"currency": "BTC", "access_token": token["access_token"]}, Any
                )
                signed = {
                    "grant_type": "client_signature",
                    "client_id": "x",
                    "timestamp": "1",
                    "signature": "s1gnature",
                }
                with pytest.raises(JsonRpcError):
                    await ws._call("public/auth", signed, Any)
            async with BaseRpcClient.over_http(mock.http_url, token=token["access_token"]) as http:
                await http._call(
                    "public/auth",
                    {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                    Any,
                )
                await http._call("private/get_positions", {"currency": "BTC"}, Any)

    run(scenario)
    text = repr(mock.requests) + repr(mock.http_requests)
    assert not [s for s in [*secret_values, "s1gnature"] if s in text]
    assert mock.requests[0]["params"]["client_secret"] == "<redacted>"
    assert mock.requests[1]["params"]["access_token"] == "<redacted>"
    assert ("Authorization", "Bearer <redacted>") in mock.http_requests[-1].headers
    assert [t.grant_type for t in mock.tokens_issued] == ["client_credentials", "refresh_token"]


def test_the_document_comes_as_a_mapping_a_file_or_a_package(
    document: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "mock_deribit_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "openapi.json").write_bytes(SPEC.read_bytes())  # a stand-in for the generated package
    monkeypatch.syspath_prepend(str(tmp_path))
    for mock in (MockDeribit(document), MockDeribit(str(SPEC)), MockDeribit(package="mock_deribit_pkg")):
        assert sorted(mock.spec.methods) == spec_methods(document) and len(mock.spec.channels) == 16
    with pytest.raises(TypeError):
        MockDeribit()
    with pytest.raises(LookupError):
        MockDeribit(package="no_such_package_here")

    with MockDeribit(document, tick_interval=None).run_in_thread() as threaded:
        answer = httpx.get(f"{threaded.http_url}/public/get_time")
        assert answer.status_code == 200 and isinstance(answer.json()["result"], int)
