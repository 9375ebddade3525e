"""JSON-RPC over HTTP (Deribit) against a real loopback HTTP server: what reaches the server (path,
query, body, headers), answers and errors through ``BaseRpcClient._call``, timeouts, retries, secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from deriv_runtime.auth.errors import InsecureTransportError
from deriv_runtime.calls import CallInfo
from deriv_runtime.errors import (
    AuthenticationError,
    CallTimeout,
    ConnectionFailed,
    ConnectionLost,
    OutcomeUnknown,
    RequestValidationError,
    ResponseError,
    TooManyRequests,
    TransportClosed,
    TransportError,
)
from deriv_runtime.rpc import BaseRpcClient, Channel, capture_meta
from deriv_runtime.rpc_http import HttpStatusError, JsonRpcHttpTransport, encode_query

from ._httpserver import HTTPTestServer, Reply, closed_port_url

CANARY = "tok-CANARY-7f3e9a"
BOOK = {"instrument_name": "BTC-PERPETUAL", "best_bid_price": 1.5}
READS = CallInfo("public/get_order_book", False, (), False, (), repeatable=True)
ACTS = CallInfo(
    "private/buy", True, ("trade:read_write",), False, (), repeatable=False, check="get_order_state"
)


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 20.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def envelope(result: Any = None, *, error: dict[str, Any] | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", **extra}
    body.update({"error": error} if error is not None else {"result": result})
    return orjson.dumps(body)


@pytest.fixture
def server() -> Iterator[HTTPTestServer]:
    with HTTPTestServer() as srv:
        srv.serve(
            "/api/v2/public/get_order_book",
            envelope(BOOK, usIn=10, usOut=25, usDiff=15, testnet=True),
            headers={"Content-Type": "application/json"},
        )
        srv.serve("/api/v2/public/get_time", envelope(1_700_000_000_000))
        yield srv


def api(server: HTTPTestServer) -> str:
    return server.url("/api/v2")


# -- what goes out ---------------------------------------------------------------------------------


def test_get_puts_params_in_the_query_as_deribit_documents(server: HTTPTestServer) -> None:
    params = {
        "instrument_name": "BTC PERP&x=1",
        "depth": 5,
        "include_old": True,
        "expired": False,
        "price": 0.1,
        "tiny": 1e-7,
        "amount": 3725.0,
        "ids": ["a b", "c&d"],
    }

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server)) as client:
            with capture_meta() as meta:
                book = await client._call("public/get_order_book", params, dict[str, Any])
            assert book == BOOK
            assert (meta[0].us_in, meta[0].us_diff, meta[0].testnet) == (10, 15, True)
            assert await client._call("public/get_time", None, int) == 1_700_000_000_000
            # an optional left out is simply absent
            await client._call("public/get_order_book", {"instrument_name": "X"}, dict[str, Any])

    run(scenario)
    assert server.targets == [
        "/api/v2/public/get_order_book?instrument_name=BTC%20PERP%26x%3D1&depth=5&include_old=true"
        "&expired=false&price=0.1&tiny=0.0000001&amount=3725.0&ids=a%20b&ids=c%26d",
        "/api/v2/public/get_time",
        "/api/v2/public/get_order_book?instrument_name=X",
    ]
    assert {r.method for r in server.requests} == {"GET"} and all(not r.body for r in server.requests)


def test_params_without_a_query_form_or_with_credentials_are_posted(server: HTTPTestServer) -> None:
    server.serve("/api/v2/public/auth", envelope({"access_token": "x"}))
    nested = {"trades": [{"price": 1.5, "amount": 10}], "label": None}

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server)) as client:
            await client._call("public/get_order_book", nested, dict[str, Any])
            await client._call("public/get_order_book", {"ids": []}, dict[str, Any])
            secret = {"grant_type": "client_credentials", "client_id": "id", "client_secret": CANARY}
            await client._call("public/auth", secret, dict[str, Any])

    run(scenario)
    assert [r.method for r in server.requests] == ["POST", "POST", "POST"]
    assert [orjson.loads(r.body)["params"] for r in server.requests[:2]] == [nested, {"ids": []}]
    assert all(CANARY not in target for target in server.targets)
    assert encode_query("m", {"a": {"b": 1}}) is None and encode_query("m", {"a": [{"b": 1}]}) is None
    with pytest.raises(RequestValidationError, match="nan"):
        encode_query("m", {"price": float("nan")})


def test_post_sends_the_json_rpc_request_object_with_incrementing_ids(server: HTTPTestServer) -> None:
    server.route("/api/v2/private/buy", lambda n: Reply(body=envelope({"order": n}, id=n)))

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server), http_method="POST") as client:
            for n in (1, 2):
                got = await client._call(
                    "private/buy", {"amount": 10, "post_only": True}, dict[str, Any], info=ACTS
                )
                assert got == {"order": n}
            await client._call("public/get_time", None, int)
            with pytest.raises(RequestValidationError, match="inf"):
                await client._call("private/buy", {"price": float("inf")}, dict[str, Any])

    run(scenario)
    first, second, third = server.requests
    assert (first.method, first.target, first.headers["Content-Type"]) == (
        "POST",
        "/api/v2/private/buy",
        "application/json",
    )
    assert orjson.loads(first.body) == {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "private/buy",
        "params": {"amount": 10, "post_only": True},
    }
    assert orjson.loads(second.body)["id"] == 2
    assert orjson.loads(third.body) == {"jsonrpc": "2.0", "id": 3, "method": "public/get_time"}


def test_an_answer_for_another_id_is_refused(server: HTTPTestServer) -> None:
    server.serve("/api/v2/private/buy", envelope({"order": 1}, id=999))

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server), http_method="POST") as client:
            with pytest.raises(ResponseError, match="another request's id"):
                await client._call("private/buy", {"amount": 1}, dict[str, Any])

    run(scenario)


# -- answers and errors ----------------------------------------------------------------------------


def test_json_rpc_errors_with_http_400_become_typed_exceptions(server: HTTPTestServer) -> None:
    server.serve(
        "/api/v2/private/get_positions",
        envelope(error={"code": 13009, "message": "unauthorized", "data": {"reason": "expired"}}, usIn=1),
        status=400,
    )
    server.serve(
        "/api/v2/private/buy",
        envelope(error={"code": 10028, "message": "too_many_requests", "data": {"wait": 2.5}}),
        status=400,
    )

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server)) as client:
            with pytest.raises(AuthenticationError) as auth:
                await client._call("private/get_positions", {"currency": "BTC"}, list[Any])
            assert auth.value.code == 13009 and auth.value.data == {"reason": "expired"}
            with pytest.raises(TooManyRequests) as limited:
                await client._call("private/buy", {"amount": 1}, dict[str, Any])
            assert limited.value.retry_after == 2.5 and limited.value.code == 10028

    run(scenario)


def test_429_without_a_json_rpc_body_is_too_many_requests_with_retry_after(server: HTTPTestServer) -> None:
    server.serve("/api/v2/public/ticker", b"slow down", status=429, headers={"Retry-After": "7"})
    server.serve("/api/v2/public/get_index", b"", status=429)

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server)) as client:
            with pytest.raises(TooManyRequests) as limited:
                await client._call("public/ticker", {"instrument_name": "X"}, dict[str, Any])
            assert limited.value.retry_after == 7.0 and "429" in str(limited.value)
            with pytest.raises(TooManyRequests) as unhinted:
                await client._call("public/get_index", None, dict[str, Any])
            assert unhinted.value.retry_after is None

    run(scenario)


def test_other_answers_give_clear_errors_without_the_body(server: HTTPTestServer) -> None:
    server.serve("/api/v2/public/a", f"internal error for {CANARY}".encode(), status=500)
    server.serve("/api/v2/public/b", orjson.dumps({"detail": CANARY}), status=502)
    server.serve("/api/v2/public/c", f"<html>{CANARY}</html>".encode())
    server.serve("/api/v2/public/d", orjson.dumps({"hello": CANARY}))

    async def scenario() -> list[BaseException]:
        errors: list[BaseException] = []
        async with BaseRpcClient.over_http(api(server)) as client:
            for name, expected in (("a", HttpStatusError), ("b", HttpStatusError), ("c", ResponseError)):
                with pytest.raises(expected) as caught:
                    await client._call(f"public/{name}", None, dict[str, Any])
                errors.append(caught.value)
            with pytest.raises(ResponseError, match="not a JSON-RPC answer") as caught:
                await client._call("public/d", None, dict[str, Any])
            errors.append(caught.value)
            with pytest.raises(HttpStatusError, match="404") as missing:
                await client._call("public/missing", None, dict[str, Any])
            errors.append(missing.value)
        return errors

    errors = run(scenario)
    assert "HTTP 500 Internal Server Error" in str(errors[0]) and errors[0].status == 500  # type: ignore[attr-defined]
    assert "502" in str(errors[1]) and "200" in str(errors[2])
    for error in errors:
        assert CANARY not in str(error) and CANARY not in repr(error)
        assert CANARY not in str(error.__context__) and CANARY not in str(error.__cause__)


# -- timeouts, connections, retries ----------------------------------------------------------------


def test_a_server_that_never_answers_is_a_call_timeout(server: HTTPTestServer) -> None:
    server.route("/api/v2/public/slow", lambda n: Reply(body=envelope(1), delay=30))

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server), timeout=0.3) as client:
            with pytest.raises(CallTimeout, match="public/slow"):
                await client._call("public/slow", None, int)
            with pytest.raises(CallTimeout):
                await client._call("public/slow", None, int, timeout=0.2)

    run(scenario)


def test_cannot_connect_is_connection_failed_and_a_closed_client_refuses() -> None:
    async def scenario() -> None:
        async with BaseRpcClient.over_http(closed_port_url("/api/v2")) as client:
            with pytest.raises(ConnectionFailed):
                await client._call("public/get_time", None, int, info=READS)
        with pytest.raises(TransportClosed):
            await client._call("public/get_time", None, int)

    run(scenario)


def test_a_dropped_call_is_never_sent_again(server: HTTPTestServer) -> None:
    server.route("/api/v2/private/buy", lambda n: Reply(drop=True))
    server.route("/api/v2/public/get_index", lambda n: Reply(drop=True))

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server), http_method="POST") as client:
            with pytest.raises(OutcomeUnknown, match="get_order_state"):
                await client._call("private/buy", {"amount": 1}, dict[str, Any], info=ACTS)
            with pytest.raises(ConnectionLost) as lost:
                await client._call("public/get_index", None, dict[str, Any], info=READS)
            assert type(lost.value) is ConnectionLost

    run(scenario)
    assert server.count("/api/v2/private/buy") == 1
    assert server.count("/api/v2/public/get_index") == 1  # sent: not repeated, even when repeatable


class RefusesFirstConnect(httpx.AsyncBaseTransport):
    """Fails the first connection attempt (nothing sent), then connects for real."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts == 1:
            raise httpx.ConnectError("refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize(("info", "retried"), [(READS, True), (ACTS, False), (None, False)])
def test_only_repeatable_calls_retry_once_when_nothing_was_sent(
    server: HTTPTestServer, info: CallInfo | None, retried: bool
) -> None:
    flaky = RefusesFirstConnect()

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=flaky) as http:
            async with BaseRpcClient.over_http(api(server), client=http) as client:
                if retried:
                    assert await client._call("public/get_time", None, int, info=info) == 1_700_000_000_000
                else:
                    with pytest.raises(ConnectionFailed):
                        await client._call("public/get_time", None, int, info=info)
            assert not http.is_closed  # a client handed in is not closed by the transport

    run(scenario)
    assert (flaky.attempts, server.total) == ((2, 1) if retried else (1, 0))


# -- refusals and secrets ----------------------------------------------------------------------------


def test_plain_http_is_refused_except_to_loopback() -> None:
    with pytest.raises(InsecureTransportError, match="loopback"):
        JsonRpcHttpTransport("http://www.deribit.com/api/v2")
    with pytest.raises(InsecureTransportError):
        BaseRpcClient.over_http("http://10.0.0.1/api/v2", token=CANARY)
    with pytest.raises(ValueError, match="http_method"):
        JsonRpcHttpTransport("https://www.deribit.com/api/v2", http_method="PUT")  # type: ignore[arg-type]

    async def closes() -> None:
        transport = JsonRpcHttpTransport("https://www.deribit.com/api/v2")
        await transport.close()
        transport = JsonRpcHttpTransport("http://localhost:1/api/v2")
        await transport.close()

    run(closes)


def test_subscribing_over_http_is_refused_clearly(server: HTTPTestServer) -> None:
    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server)) as client:
            with pytest.raises(TransportError, match="WebSocket"):
                async with client.subscribe(Channel("ticker.BTC-PERPETUAL.100ms", dict[str, Any])):
                    pytest.fail("HTTP has no subscriptions")

    run(scenario)
    assert server.total == 0


def test_the_bearer_token_is_sent_but_never_shown(
    server: HTTPTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.serve(
        "/api/v2/private/get_positions",
        envelope(error={"code": 13009, "message": f"bad token {CANARY}", "data": {"token": CANARY}}),
        status=400,
        headers={"X-Echo": f"Bearer {CANARY}"},
    )
    server.serve("/api/v2/private/boom", f"Authorization: Bearer {CANARY}".encode(), status=503)
    shown: list[str] = []

    async def scenario() -> None:
        async with BaseRpcClient.over_http(api(server), token=CANARY) as client:
            shown.extend([repr(client), repr(client.transport), str(client.transport)])
            await client._call("public/get_order_book", {"instrument_name": "X"}, dict[str, Any])
            for method, error in (
                ("private/get_positions", AuthenticationError),
                ("private/boom", HttpStatusError),
            ):
                with pytest.raises(error) as caught:
                    await client._call(method, None, list[Any])
                shown.extend(
                    [str(caught.value), repr(caught.value), repr(getattr(caught.value, "data", None))]
                )

    run(scenario)
    assert all(r.headers["Authorization"] == f"Bearer {CANARY}" for r in server.requests)
    assert caplog.records, "httpx logged nothing: the check below would prove nothing"
    shown.extend(record.getMessage() for record in caplog.records)
    assert not [text for text in shown if CANARY in text]
