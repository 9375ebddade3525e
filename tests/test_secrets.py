"""Secrets stay out of validation errors, REST error messages and log records; path parameters
cannot change the path. Against the generated packages and a hostile HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType, TracebackType
from urllib.parse import quote

import pytest
from deriv_runtime.auth import PersonalAccessToken
from deriv_runtime.drift import drift_of
from deriv_runtime.errors import (
    BadRequest,
    RequestValidationError,
    ResponseError,
    RestError,
    ServerError,
    Unauthorized,
)
from pydantic import ValidationError

from ._httpserver import LoopbackServer
from .conftest import CONTRACT_PARAMS

PAT = "pat-CANARY-bearer-5be0a1"  # the client's own token (Authorization header)
BODY_PAT = "pat-CANARY-body-91c3d7"  # an end user's PAT inside a bulk-purchase body
OTP = "otp-CANARY-77aa10"
CLIENT_SECRET = "cs-CANARY-4f2e9b"
CANARIES = (PAT, BODY_PAT, OTP, CLIENT_SECRET)
APP_ID = "10000"


def rendered(exc: BaseException) -> list[str]:
    """Every way an exception's content usually reaches a log or a screen."""
    texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    for name in ("message", "code", "errors", "body", "detail", "details"):
        value = getattr(exc, name, None)
        texts.append(repr(value() if callable(value) else value))
    if isinstance(exc, ValidationError):
        texts += [str(exc.errors()), exc.json(), repr(exc.errors(include_url=False))]
    return texts


def assert_clean(texts: list[str], canaries: tuple[str, ...] = CANARIES) -> None:
    leaks = [(c, t) for t in texts for c in canaries if c in t]
    assert not leaks, leaks[:3]


# -- A1: request models hide their inputs in validation errors -------------------------------


def _raises_clean(build: Callable[[], object], canary: str) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        build()
    assert_clean(rendered(err.value), (canary,))
    return err.value


@pytest.mark.parametrize("body_name", ["BulkPurchaseDemoBody", "BulkPurchaseRealBody"])
def test_rest_body_models_hide_a_pat_in_validation_errors(deriv_options_dist: Path, body_name: str) -> None:
    from deriv_options import rest_models

    body = getattr(rest_models, body_name)
    params = dict(CONTRACT_PARAMS)
    # the PAT itself fails (too long)
    long_pat = BODY_PAT + "x" * 600
    error = _raises_clean(
        lambda: body(contract_parameters=params, accounts=[{"token": long_pat, "account_id": "CR1"}]),
        BODY_PAT,
    )
    assert [e["loc"] for e in error.errors()] == [("accounts", 0, "token")]
    assert "at most 512" in str(error)  # the rule is still told
    # a neighbour fails: a missing account id (the error's input is the item holding the PAT)
    _raises_clean(lambda: body(contract_parameters=params, accounts=[{"token": BODY_PAT}]), BODY_PAT)
    # the list fails as a whole (its input holds every PAT)
    many = [{"token": BODY_PAT, "account_id": "CR1"}] * 101
    _raises_clean(lambda: body(contract_parameters=params, accounts=many), BODY_PAT)
    _raises_clean(lambda: body.model_validate({"accounts": many}), BODY_PAT)
    _raises_clean(lambda: body.model_validate_json(json.dumps({"accounts": [{"token": BODY_PAT}]})), BODY_PAT)
    item = getattr(rest_models, body_name.replace("Body", "AccountsItem"))
    _raises_clean(lambda: item(token=BODY_PAT, account_id=5), BODY_PAT)
    # valid models still build, and the PAT still reaches the wire form
    ok = body(contract_parameters=params, accounts=[{"token": BODY_PAT, "account_id": "CR1"}])
    assert ok.accounts[0].token.get_secret_value() == BODY_PAT


def test_websocket_request_models_hide_inputs(deriv_options_dist: Path) -> None:
    from deriv_options.models.buy import BuyRequest

    _raises_clean(lambda: BuyRequest(buy=PAT, price=1.0), PAT)  # breaks the id pattern
    _raises_clean(lambda: BuyRequest.model_validate({"buy": "1", "passthrough": {"pat": PAT}}), PAT)
    _raises_clean(lambda: BuyRequest(buy="1", price=-1.0, passthrough={"pat": PAT}), PAT)
    error = _raises_clean(lambda: BuyRequest(buy="1", price=1.0, token=PAT), PAT)  # extra="forbid"
    assert error.errors()[0]["type"] == "extra_forbidden"


def test_mini_request_models_hide_inputs(mini: ModuleType) -> None:
    from mini_api.models.greet import GreetRequest
    from mini_api.rest_models import PostAccountsByIdBody

    error = _raises_clean(lambda: GreetRequest(greet=1, name=PAT), PAT)  # breaks ^[A-Za-z ]{1,40}$
    assert error.errors()[0]["type"] == "string_pattern_mismatch"
    _raises_clean(lambda: GreetRequest(greet=1, name="Bob", times=9, passthrough={"t": PAT}), PAT)
    _raises_clean(lambda: GreetRequest.model_validate({"name": "Bob", "passthrough": {"t": PAT}}), PAT)
    _raises_clean(lambda: PostAccountsByIdBody(name=[PAT]), PAT)
    assert GreetRequest(greet=1, name="Bob").name == "Bob"


# -- a hostile server on 127.0.0.1 -----------------------------------------------------------


class HostileServer:
    """Answers every request with ``status`` and a body quoting the request's headers and body.

    ``style``: ``"envelope"`` (``{"errors": [{"code", "message", "detail"}]}``), ``"oauth"``
    (``{"error", "error_description"}``), ``"text"`` (not JSON) or ``"bad-200"`` (200 with an
    answer that breaks the model, quoting the request). The status line's reason phrase and a
    response header quote the Authorization header too. Raw request targets are recorded.
    """

    def __init__(self, status: int = 400, style: str = "envelope") -> None:
        self.status = status
        self.style = style
        self.targets: list[str] = []
        self._server: LoopbackServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.targets.append(handler.path)
        auth = handler.headers.get("Authorization", "")
        echo = (
            f"you sent {handler.command} {handler.path} with Authorization: {auth}; "
            f"headers {dict(handler.headers)!r}; body {body.decode(errors='replace')}; "
            f"client_secret={CLIENT_SECRET}; your socket: wss://ws.example/ws/demo?otp={OTP}"
        )
        status, payload = self.status, b""
        if self.style == "envelope":
            detail = {"message": echo, "token": auth.split()[-1] if auth else "", "request": body.decode()}
            item = {"code": f"Bad{auth.split()[-1] if auth else ''}", "message": echo, "detail": detail}
            payload = json.dumps({"errors": [item]}).encode()
        elif self.style == "oauth":
            payload = json.dumps({"error": "invalid_token", "error_description": echo}).encode()
        elif self.style == "text":
            payload = echo.encode()
        elif self.style == "bad-200":
            status = 200
            payload = json.dumps({"id": {"echo": echo}}).encode()
        handler.send_response(status, f"Rejected {auth}")
        handler.send_header("Content-Type", "text/plain" if self.style == "text" else "application/json")
        handler.send_header("X-Echo", auth)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def __enter__(self) -> HostileServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def do_GET(self) -> None:
                owner._answer(self, b"")

            def do_POST(self) -> None:
                owner._answer(self, self.rfile.read(int(self.headers.get("Content-Length", "0"))))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = LoopbackServer(Handler)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records] + [repr(r.__dict__) for r in caplog.records]


# -- A2: REST error messages scrub what the server echoes --------------------------------------


@pytest.mark.parametrize(
    ("status", "style", "error_type"),
    [
        (400, "envelope", BadRequest),
        (401, "envelope", Unauthorized),
        (500, "envelope", ServerError),
        (400, "oauth", BadRequest),
        (401, "oauth", Unauthorized),
        (500, "text", ServerError),
    ],
)
def test_rest_errors_scrub_echoed_credentials(
    deriv_options_dist: Path,
    hostile: HostileServer,
    caplog: pytest.LogCaptureFixture,
    status: int,
    style: str,
    error_type: type[RestError],
) -> None:
    from deriv_options import OptionsRestClient, OptionsRestSyncClient

    hostile.status, hostile.style = status, style
    accounts = [{"token": BODY_PAT, "account_id": "CR1"}]
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        with OptionsRestSyncClient(
            app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=hostile.url
        ) as api:
            with pytest.raises(error_type) as err:
                api.bulk_purchase_demo(contract_parameters=dict(CONTRACT_PARAMS), accounts=accounts)
            texts += rendered(err.value)
            assert err.value.status == status
            with pytest.raises(error_type) as err:
                api.list_accounts()
            texts += rendered(err.value)

        async def async_side() -> None:
            async with OptionsRestClient(
                app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=hostile.url
            ) as api:
                with pytest.raises(error_type) as err:
                    await api.bulk_purchase_real(contract_parameters=dict(CONTRACT_PARAMS), accounts=accounts)
                texts.extend(rendered(err.value))

        asyncio.run(asyncio.wait_for(async_side(), 30))
    if style in ("envelope", "oauth"):
        assert "***" in texts[0]  # the server's message is kept, with the secrets masked
    assert_clean(texts)
    records = logged(caplog)
    assert any("HTTP Request" in m for m in records)  # httpx did log the exchange
    assert_clean(records)


def test_unreadable_answers_and_contract_errors_scrub_echoed_credentials(
    mini: ModuleType, hostile: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    hostile.style = "bad-200"
    with caplog.at_level(logging.DEBUG):
        with mini.MiniRestSyncClient(
            app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=hostile.url
        ) as api:
            drifted = api.get_accounts_by_id(id="acc-1")  # read anyway, the drift reported
            api.strict, api._schema_package = True, ""  # strict reading, without the contract check
            with pytest.raises(ResponseError) as err:
                api.get_accounts_by_id(id="acc-1")
    assert [d.where for d in drift_of(drifted)] == ["id"]
    assert_clean([repr(drift_of(drifted)), *map(str, drift_of(drifted))])
    texts = rendered(err.value)
    assert "cannot read" in texts[0]
    assert_clean(texts)
    assert_clean(logged(caplog))


# -- A3: path parameters are one segment each ------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["../../admin", "x?admin=1", "a/b#c", "%2E%2E", "a b&c=d", "..%2F", "ü/../x", "#"],
)
def test_path_parameters_are_percent_encoded(mini: ModuleType, hostile: HostileServer, value: str) -> None:
    hostile.status = 404
    with mini.MiniRestSyncClient(
        app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=hostile.url
    ) as api:
        with pytest.raises(RestError):
            api.get_accounts_by_id(id=value)
        with pytest.raises(RestError):
            api.post_accounts_by_id(id=value, name="n")
    expected = "/v1/accounts/" + quote(value, safe="")
    assert hostile.targets == [expected, expected]
    assert "?" not in expected and "#" not in expected and "/" not in expected[len("/v1/accounts/") :]


@pytest.mark.parametrize("value", ["..", ".", ""])
def test_dot_segments_and_empty_path_parameters_are_refused(
    mini: ModuleType, hostile: HostileServer, value: str
) -> None:
    async def async_side() -> None:
        async with mini.MiniRestClient(
            app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=hostile.url
        ) as api:
            with pytest.raises(RequestValidationError, match="path parameter"):
                await api.get_accounts_by_id(id=value)

    with mini.MiniRestSyncClient(
        app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=hostile.url
    ) as api:
        with pytest.raises(RequestValidationError, match="path parameter") as err:
            api.get_accounts_by_id(id=value)
        assert err.value.fields == ["id"]
    asyncio.run(asyncio.wait_for(async_side(), 30))
    assert hostile.targets == []  # nothing was sent


def test_scrub_masks_known_values_and_credential_patterns() -> None:
    from deriv_runtime._redact import scrub

    text = (
        f'Authorization: Bearer {PAT} {{"token": "{BODY_PAT}", "account_id": "CR1"}} '
        f"client_secret={CLIENT_SECRET}&x=1 wss://h/ws?otp={OTP} {quote(PAT, safe='')} "
        "Basic dXNlcjpwYXNz"
    )
    clean = scrub(text, [PAT])
    assert_clean([clean])
    assert '"account_id": "CR1"' in clean and "dXNlcjpwYXNz" not in clean
    assert scrub("tokens: 3 of 5 left", []) == "tokens: 3 of 5 left"
