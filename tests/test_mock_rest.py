"""The mock's REST API and OAuth server (``MockDeriv``): real sockets, httpx and the raw ``websockets``
client, every answer checked against the OpenAPI document with ``jsonschema``; bounded in time."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from deriv_runtime.mock import MockDeriv
from deriv_runtime.schemas import load_openapi
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .conftest import ROOT

PAT = "test-pat-0123456789"
REDIRECT = "http://127.0.0.1:53682/callback"  # a registered loopback URI, on another port
DOC_URI = "urn:deriv-options-openapi"
CALL_PARAMS: dict[str, Any] = {
    "amount": 10,
    "basis": "stake",
    "contract_type": "CALL",
    "currency": "USD",
    "duration": 5,
    "duration_unit": "t",
    "underlying_symbol": "R_100",
}
#: A contract that does not settle during a test.
LONG_PARAMS = {**CALL_PARAMS, "duration": 30, "duration_unit": "m"}
FORCED = (400, 401, 403, 404, 422, 429, 500, 502, 503, 504)


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def mock_package(deriv_options_dist: Path) -> str:
    return "deriv_options"


@pytest.fixture
def mock_deriv_options() -> dict[str, Any]:
    return {"tick_interval": 0.01, "pats": [PAT]}


@pytest.fixture
def api(mock_deriv: MockDeriv) -> Iterator[httpx.Client]:
    """An HTTP client for the mock's REST API, with the app id and the PAT."""
    headers = {"Deriv-App-ID": mock_deriv.app_id, "Authorization": f"Bearer {PAT}"}
    with httpx.Client(base_url=mock_deriv.rest_url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
def document(mock_package: str) -> Mapping[str, Any]:
    return load_openapi(mock_package)


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def validator(document: Mapping[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` in the OpenAPI document, ``$ref``s resolved in it."""
    resource = Resource.from_contents(dict(document), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
    return Draft202012Validator({"$ref": DOC_URI + pointer}, registry=registry)


def operation(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    method, path = key.split(" ", 1)
    op: Mapping[str, Any] = document["paths"][path][method.lower()]
    return op


def schema_pointer(document: Mapping[str, Any], key: str, status: int) -> str:
    """The schema an answer must follow: the documented one for ``status``, else (an error the
    operation does not document) the error schema the operation references most."""
    method, path = key.split(" ", 1)
    responses = operation(document, key)["responses"]
    documented = responses.get(str(status), {}).get("content", {}).get("application/json")
    if documented is not None:
        return _pointer(
            "paths", path, method.lower(), "responses", str(status), "content", "application/json", "schema"
        )
    refs = Counter(
        r["content"]["application/json"]["schema"]["$ref"]
        for code, r in responses.items()
        if int(code) >= 400 and "$ref" in r.get("content", {}).get("application/json", {}).get("schema", {})
    )
    return refs.most_common(1)[0][0] if refs else "#/components/schemas/Error"


def assert_answer(document: Mapping[str, Any], key: str, response: httpx.Response, status: int) -> Any:
    """``response`` has ``status`` and a body valid for the operation's schema of that status."""
    assert response.status_code == status, (key, response.status_code, response.text)
    if not response.content:
        assert not operation(document, key)["responses"][str(status)].get("content"), key
        return None
    if response.headers["content-type"].startswith("text/"):
        return response.text
    body = response.json()
    validator(document, schema_pointer(document, key, status)).validate(body)
    if status >= 400:
        assert body["errors"][0]["status"] == status
        if "data" in body:
            assert body["data"] == {}
    return body


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize(mock: MockDeriv, challenge: str, **extra: str) -> tuple[httpx.Response, dict[str, str]]:
    params = {
        "client_id": mock.app_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-" + secrets.token_hex(4),
        **extra,
    }
    params = {k: v for k, v in params.items() if v != "<omit>"}
    response = httpx.get(mock.oauth_authorize_url, params=params, timeout=5, follow_redirects=False)
    query: dict[str, str] = {}
    if response.status_code == 302:
        location = response.headers["location"]
        assert location.startswith(params["redirect_uri"] + "?")
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query.get("state") == params.get("state")
    return response, query


def token(mock: MockDeriv, **form: str) -> httpx.Response:
    return httpx.post(mock.oauth_token_url, data={"client_id": mock.app_id, **form}, timeout=5)


def login(mock: MockDeriv, **extra: str) -> dict[str, Any]:
    """The whole authorization code flow; the token endpoint's answer."""
    verifier, challenge = pkce()
    _, query = authorize(mock, challenge, **extra)
    answer = token(
        mock,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def ws_ping(url: str) -> dict[str, Any]:
    async with connect(url) as ws:
        await ws.send(json.dumps({"ping": 1, "req_id": 1}))
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 2))
        return answer


async def ws_call(url: str, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    answers = []
    async with connect(url) as ws:
        for number, request in enumerate(requests, 1):
            await ws.send(json.dumps({**request, "req_id": number}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 2))
                if message.get("req_id") == number and message.get("msg_type") != "proposal_open_contract":
                    answers.append(message)
                    break
    return answers


def refused_status(url: str) -> int:
    async def attempt() -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass
        status: int = refused.value.response.status_code
        body = json.loads(refused.value.response.body or b"{}")
        assert body["errors"][0]["status"] == status
        return status

    result: int = run(attempt)
    return result


# -- every operation --------------------------------------------------------------------------------


def valid_requests(mock: MockDeriv) -> list[tuple[str, int, dict[str, Any]]]:
    """A valid request for each REST operation (in an order that lets later ones use earlier ones),
    and the status it must get."""
    demo = mock.demo_account_id
    agent = {"agent_id": 1001, "amount": "50.00", "currency": "USD"}
    return [
        ("GET /v1/health", 200, {}),
        ("GET /trading/v1/options/accounts", 200, {}),
        (
            "POST /trading/v1/options/accounts",
            201,
            {"json": {"account_type": "real", "currency": "USD", "group": "row"}},
        ),
        (
            "POST /trading/v1/options/accounts",
            200,
            {"json": {"account_type": "demo", "currency": "USD", "group": "row"}},
        ),
        ("POST /trading/v1/options/accounts/{accountId}/otp", 200, {"path": {"accountId": demo}}),
        (
            "POST /trading/v1/options/accounts/{account_id}/reset-demo-balance",
            200,
            {"path": {"account_id": demo}},
        ),
        (
            "POST /trading/v1/options/contracts/bulk-purchase/demo",
            200,
            {"json": {"accounts": [{"token": PAT, "account_id": demo}], "contract_parameters": CALL_PARAMS}},
        ),
        (
            "POST /trading/v1/options/contracts/bulk-purchase/real",
            200,
            {
                "json": {
                    "accounts": [{"token": PAT, "account_id": "<real>"}],
                    "contract_parameters": CALL_PARAMS,
                }
            },
        ),
        ("GET /trading/v1/options/legacy/accounts", 200, {}),
        ("GET /trading/v1/options/legacy/migration-status", 200, {}),
        ("GET /trading/v1/options/legacy/statement", 200, {"params": {"loginid": "CR90000001", "limit": 5}}),
        (
            "GET /applications/v1/markup-statistics",
            200,
            {"params": {"date_from": "2026-05-01", "date_to": "2026-05-06"}},
        ),
        ("GET /account/v1/nickname", 200, {}),
        ("GET /payment-agents/v1/agent-statistics", 200, {}),
        ("GET /payment-agents/v1/agents", 200, {"params": {"currency": "USD", "country": "id"}}),
        ("GET /payment-agents/v1/agents/{id}", 200, {"path": {"id": "1001"}}),
        ("GET /payment-agents/v1/agents/{id}", 200, {"path": {"id": "me"}}),
        (
            "POST /payment-agents/v1/transfer",
            200,
            {"json": {"data": {"to_nickname": "client_nickname", "amount": "100.00", "currency": "USD"}}},
        ),
        ("POST /payment-agents/v1/withdraw/verification_code", 200, {"json": {"data": agent}}),
        (
            "POST /payment-agents/v1/withdraw",
            200,
            {"json": {"data": {**agent, "verification_code": "<code>", "request_id": "wd-1"}}},
        ),
        ("GET /payment-agents/v1/withdraw/{request_id}", 200, {"path": {"request_id": "wd-1"}}),
    ]


def send(client: httpx.Client, key: str, spec: Mapping[str, Any], **extra: Any) -> httpx.Response:
    method, path = key.split(" ", 1)
    for name, value in (spec.get("path") or {}).items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return client.request(method, path, params=spec.get("params"), json=spec.get("json"), **extra)


def test_every_operation_answers_with_its_schema(
    mock_deriv: MockDeriv, api: httpx.Client, document: Mapping[str, Any]
) -> None:
    requests = valid_requests(mock_deriv)
    covered = {key for key, _, _ in requests}
    for key, status, spec in requests:
        if key.endswith("/withdraw"):
            spec["json"]["data"]["verification_code"] = mock_deriv.rest.last_verification_code
        if key.endswith("bulk-purchase/real"):
            real = next(a for a in mock_deriv.accounts.values() if a.account_type == "real")
            spec["json"]["accounts"][0]["account_id"] = real.loginid
        body = assert_answer(document, key, send(api, key, spec), status)
        if key == "GET /v1/health":
            assert body == "OK"

    # The WebSocket endpoints: 101 on the WebSocket port (with an OTP from the REST API where
    # needed); on the REST port, no OTP is 401 and a plain HTTP request is 400.
    ws_keys = {f"GET {p}" for p in document["paths"] if "/ws/" in p}
    real = next(a for a in mock_deriv.accounts.values() if a.account_type == "real")
    for key in sorted(ws_keys):
        kind = key.rsplit("/", 1)[1]
        if kind == "public":
            url = mock_deriv.public_url
        else:
            account = mock_deriv.demo_account_id if kind == "demo" else real.loginid
            otp = api.post(f"/trading/v1/options/accounts/{account}/otp").json()["data"]["url"]
            assert f"/ws/{kind}?otp=" in otp
            url = otp
        assert run(functools.partial(ws_ping, url))["ping"] == "pong"
        path = key.split(" ", 1)[1]
        if kind != "public":
            assert_answer(document, key, api.get(path), 401)
        assert_answer(document, key, api.get(path, params={"otp": "x"}), 400)
    covered |= ws_keys

    every = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item}
    assert covered == every
    assert mock_deriv.schema_problems == []


def test_app_id_and_bearer_token_are_checked(
    mock_deriv: MockDeriv, api: httpx.Client, document: Mapping[str, Any]
) -> None:
    mock_deriv.register_pat("trade-only", ["trade"])
    checked = Counter[str]()
    for key, _, spec in valid_requests(mock_deriv):
        op = operation(document, key)
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header" and p.get("required")}
        if "Deriv-App-ID" in headers:
            answer = send(api, key, spec, headers={"Deriv-App-ID": ""})
            body = assert_answer(document, key, answer, 400)
            assert body["errors"][0].get("field", "Deriv-App-ID") == "Deriv-App-ID"
            checked["app id"] += 1
        if op.get("security"):
            for authorization in ("", "Bearer not-a-token", "Basic dXNlcjpwYXNz", f"Bearer {PAT}x"):
                answer = send(api, key, spec, headers={"Authorization": authorization})
                assert_answer(document, key, answer, 401)
                assert answer.headers["www-authenticate"].startswith("Bearer")
            scopes = {s for requirement in op["security"] for s in requirement["oauth2"]}
            if "trade" not in scopes:  # a valid token without the operation's scope: 403
                answer = send(api, key, spec, headers={"Authorization": "Bearer trade-only"})
                assert_answer(document, key, answer, 403)
            checked["bearer"] += 1
        else:  # no OAuth token needed (health, bulk purchase: PATs in the body)
            answer = send(api, key, spec, headers={"Authorization": ""})
            assert answer.status_code != 401, key
    assert checked["app id"] >= 9
    assert checked["bearer"] >= 15
    assert mock_deriv.schema_problems == []


def test_routing_params_and_bodies(
    mock_deriv: MockDeriv, api: httpx.Client, document: Mapping[str, Any]
) -> None:
    assert api.get("/no/such/path").status_code == 404
    wrong = api.delete("/trading/v1/options/accounts")
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "POST"}

    key = "GET /applications/v1/markup-statistics"
    missing = assert_answer(document, key, api.get("/applications/v1/markup-statistics"), 400)
    assert missing["errors"][0]["code"] == "FieldIsRequired"
    bad = api.get(
        "/applications/v1/markup-statistics", params={"date_from": "May 1", "date_to": "2026-05-06"}
    )
    assert_answer(document, key, bad, 400)
    backwards = api.get(
        "/applications/v1/markup-statistics", params={"date_from": "2026-05-07", "date_to": "2026-05-06"}
    )
    assert_answer(document, key, backwards, 422)
    stats = api.get(
        "/applications/v1/markup-statistics", params={"date_from": "2026-05-01", "date_to": "2026-05-06"}
    )
    data = assert_answer(document, key, stats, 200)["data"]
    assert [row["app_id"] for row in data["breakdown"]] == [mock_deriv.app_id]
    assert data["total_contract_count"] == sum(row["contract_count"] for row in data["breakdown"])

    key = "GET /trading/v1/options/legacy/statement"
    too_late = api.get(
        "/trading/v1/options/legacy/statement", params={"loginid": "CR90000001", "date_to": 2**31}
    )
    assert_answer(document, key, too_late, 422)
    malformed = api.get("/trading/v1/options/legacy/statement", params={"loginid": "cr-1"})
    assert_answer(document, key, malformed, 400)
    page = api.get(
        "/trading/v1/options/legacy/statement", params={"loginid": "CR90000001", "action_type": "buy"}
    )
    rows = assert_answer(document, key, page, 200)["transactions"]
    assert rows and all(r["action_type"] == "buy" for r in rows)
    assert [r["transaction_time"] for r in rows] == sorted(
        (r["transaction_time"] for r in rows), reverse=True
    )
    mock_deriv.rest.legacy_migration_status = "pending"
    assert_answer(
        document, key, api.get("/trading/v1/options/legacy/statement", params={"loginid": "CR90000001"}), 409
    )
    status = api.get("/trading/v1/options/legacy/migration-status")
    assert status.json() == {"status": "pending"}
    assert status.headers["cache-control"] == "no-store"

    key = "POST /trading/v1/options/accounts"
    body = assert_answer(
        document, key, api.post("/trading/v1/options/accounts", json={"currency": "USD"}), 400
    )
    assert body["errors"][0]["field"] in ("group", "account_type")
    garbage = api.post(
        "/trading/v1/options/accounts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_answer(document, key, garbage, 400)

    key = "POST /payment-agents/v1/withdraw"
    bad_code = api.post(
        "/payment-agents/v1/withdraw",
        json={"data": {"agent_id": 1001, "amount": "50.00", "currency": "USD", "verification_code": "12ab"}},
    )
    assert assert_answer(document, key, bad_code, 400)["errors"][0]["code"] == "VerificationCodeFormatInvalid"
    wrong_code = api.post(
        "/payment-agents/v1/withdraw",
        json={
            "data": {"agent_id": 1001, "amount": "50.00", "currency": "USD", "verification_code": "000000"}
        },
    )
    assert assert_answer(document, key, wrong_code, 400)["errors"][0]["code"] == "InvalidOTP"
    key = "GET /payment-agents/v1/agents/{id}"
    assert assert_answer(document, key, api.get("/payment-agents/v1/agents/abc"), 400)["errors"][0][
        "code"
    ] == ("InvalidAgentID")
    assert assert_answer(document, key, api.get("/payment-agents/v1/agents/99"), 404)["errors"][0][
        "code"
    ] == ("AgentNotFound")
    assert mock_deriv.schema_problems == []


# -- accounts, OTPs and the WebSocket ------------------------------------------------------------------


def test_otp_opens_one_websocket_connection_once_before_it_expires(
    mock_deriv: MockDeriv, api: httpx.Client
) -> None:
    demo = mock_deriv.demo_account_id
    url = api.post(f"/trading/v1/options/accounts/{demo}/otp").json()["data"]["url"]
    assert url.startswith(f"{mock_deriv.ws_url}/trading/v1/options/ws/demo?otp=")
    balance = run(lambda: ws_call(url, {"balance": 1}))[0]["balance"]
    assert balance["loginid"] == demo
    assert refused_status(url) == 401  # the same OTP, again

    mock_deriv.otp_ttl = 0.2
    expiring = api.post(f"/trading/v1/options/accounts/{demo}/otp").json()["data"]["url"]
    time.sleep(0.3)
    assert refused_status(expiring) == 401

    mock_deriv.otp_ttl = 120
    demo_otp = api.post(f"/trading/v1/options/accounts/{demo}/otp").json()["data"]["url"]
    assert refused_status(demo_otp.replace("/ws/demo?", "/ws/real?")) == 401  # demo OTP, real endpoint
    assert refused_status(f"{mock_deriv.ws_url}/trading/v1/options/ws/demo?otp=made-up") == 401
    assert refused_status(f"{mock_deriv.ws_url}/trading/v1/options/ws/demo") == 401
    assert run(lambda: ws_ping(mock_deriv.public_url))["ping"] == "pong"  # no OTP needed

    issued, used = mock_deriv.otps_issued, mock_deriv.otps_used
    assert len(issued) == 3 and len(used) == 1
    assert [r.refusals for r in issued] == [1, 1, 1]
    assert all(r.account_id == demo and r.kind == "demo" for r in issued)
    assert all(
        r.expires_at - r.issued_at == pytest.approx(ttl)
        for r, ttl in zip(issued, (120, 0.2, 120), strict=True)
    )

    missing = api.post("/trading/v1/options/accounts/DOT123/otp")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == "AccountNotFound"


def test_accounts_are_the_websocket_accounts(mock_deriv: MockDeriv, api: httpx.Client) -> None:
    demo = mock_deriv.demo_account_id
    created = api.post(
        "/trading/v1/options/accounts", json={"account_type": "real", "currency": "USD", "group": "row"}
    )
    assert created.status_code == 201
    (real,) = created.json()["data"]
    assert real["account_type"] == "real" and real["balance"] == 0
    again = api.post(
        "/trading/v1/options/accounts", json={"account_type": "real", "currency": "USD", "group": "row"}
    )
    assert again.status_code == 200 and again.json()["data"]["account_id"] == real["account_id"]
    listed = {a["account_id"]: a for a in api.get("/trading/v1/options/accounts").json()["data"]}
    assert set(listed) == {demo, real["account_id"]}

    real_url = api.post(f"/trading/v1/options/accounts/{real['account_id']}/otp").json()["data"]["url"]
    assert "/ws/real?otp=" in real_url
    balance, bought = run(
        lambda: ws_call(real_url, {"balance": 1}, {"buy": "1", "price": 10, "parameters": LONG_PARAMS})
    )
    assert balance["balance"] == {"balance": 0, "currency": "USD", "loginid": real["account_id"]}
    assert bought["error"]["code"] == "InsufficientBalance"

    demo_url = mock_deriv.otp_url()

    async def trade_then_reset() -> tuple[float, float]:
        async with connect(demo_url) as ws:
            await ws.send(json.dumps({"balance": 1, "subscribe": 1, "req_id": 1}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 2))
            await ws.send(json.dumps({"buy": "1", "price": 10, "parameters": LONG_PARAMS, "req_id": 2}))
            after_buy = None
            while after_buy is None:
                message = json.loads(await asyncio.wait_for(ws.recv(), 2))
                if message.get("msg_type") == "buy":
                    after_buy = message["buy"]["balance_after"]
            listed = await asyncio.to_thread(api.get, "/trading/v1/options/accounts")
            rest_balance = next(a["balance"] for a in listed.json()["data"] if a["account_id"] == demo)
            assert rest_balance == after_buy
            reset = await asyncio.to_thread(
                api.post, f"/trading/v1/options/accounts/{demo}/reset-demo-balance"
            )
            assert reset.status_code == 200 and reset.content == b""
            while True:  # the balance stream sees the reset
                message = json.loads(await asyncio.wait_for(ws.recv(), 2))
                if message.get("msg_type") == "balance" and message["balance"]["balance"] == 10000:
                    return first["balance"]["balance"], after_buy

    start, after_buy = run(trade_then_reset)
    assert start == 10000 and after_buy == 9990
    not_demo = api.post(f"/trading/v1/options/accounts/{real['account_id']}/reset-demo-balance")
    assert not_demo.status_code == 400
    assert api.post("/trading/v1/options/accounts/DOT1/reset-demo-balance").status_code == 404


def test_bulk_purchase_buys_per_account(mock_deriv: MockDeriv, api: httpx.Client) -> None:
    demo = mock_deriv.demo_account_id
    url = "/trading/v1/options/contracts/bulk-purchase/demo"
    accounts = [
        {"token": PAT, "account_id": demo},
        {"token": "stolen", "account_id": demo},
        {"token": PAT, "account_id": "DOT999"},
    ]

    async def buy_while_watching() -> tuple[httpx.Response, dict[str, Any]]:
        async with connect(mock_deriv.otp_url()) as ws:  # the account's streams see the purchase
            await ws.send(json.dumps({"transaction": 1, "subscribe": 1, "req_id": 1}))
            json.loads(await asyncio.wait_for(ws.recv(), 2))
            answer = await asyncio.to_thread(
                api.post,
                url,
                json={"accounts": accounts, "contract_parameters": LONG_PARAMS},
                headers={"Authorization": ""},
            )
            streamed: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 2))["transaction"]
            return answer, streamed

    answer, streamed = run(buy_while_watching)
    assert answer.status_code == 200
    ok, bad_token, unknown = answer.json()["data"]["transactions"]
    assert streamed["action"] == "buy" and streamed["contract_id"] == ok["contract_id"]
    assert ok["account_id"] == demo and ok["buy_price"] == 10 and ok["contract_id"] > 0
    assert bad_token["error"]["code"] == "InvalidToken"
    assert unknown["error"]["code"] == "AccountNotFound"
    assert mock_deriv.account.balance == 9990

    none_valid = api.post(url, json={"accounts": accounts[1:], "contract_parameters": CALL_PARAMS})
    assert none_valid.status_code == 400
    assert [e["field"] for e in none_valid.json()["errors"]] == ["accounts.0.token", "accounts.1.account_id"]
    no_app = api.post(
        url, json={"accounts": accounts[:1], "contract_parameters": CALL_PARAMS}, headers={"Deriv-App-ID": ""}
    )
    assert no_app.status_code == 400
    assert mock_deriv.schema_problems == []


def test_operations_without_behaviour_are_synthesised(
    mock_deriv: MockDeriv, api: httpx.Client, document: Mapping[str, Any]
) -> None:
    key = "GET /payment-agents/v1/agents/{id}"
    del mock_deriv.rest.handlers[key]
    for _ in range(3):
        body = assert_answer(document, key, api.get("/payment-agents/v1/agents/1"), 200)
        assert body["errors"] == [] and body["metadata"]["endpoint"] == "/payment-agents/v1/agents/1"
    assert mock_deriv.schema_problems == []


# -- OAuth 2.0 ---------------------------------------------------------------------------------------


def test_authorization_code_flow_with_pkce(mock_deriv: MockDeriv) -> None:
    verifier, challenge = pkce()
    redirect, query = authorize(mock_deriv, challenge)
    assert redirect.status_code == 302
    assert set(query) == {"code", "state"}
    wrong = token(
        mock_deriv,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        code_verifier=pkce()[0],
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    spent = token(
        mock_deriv,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert spent.json()["error"] == "invalid_grant"  # a failed redemption spends the code too

    verifier, challenge = pkce()
    _, query = authorize(mock_deriv, challenge)
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT}
    other_redirect = token(
        mock_deriv, **{**form, "redirect_uri": "http://127.0.0.1:1/other", "code_verifier": verifier}
    )
    assert other_redirect.json()["error"] == "invalid_grant"
    verifier, challenge = pkce()
    _, query = authorize(mock_deriv, challenge)
    form["code"] = query["code"]
    answer = token(mock_deriv, **form, code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert set(tokens["scope"].split()) == {"account_manage", "application_read", "payment", "trade"}

    bearer = {"Authorization": f"Bearer {tokens['access_token']}", "Deriv-App-ID": mock_deriv.app_id}
    accounts = httpx.get(f"{mock_deriv.rest_url}/trading/v1/options/accounts", headers=bearer, timeout=5)
    assert accounts.status_code == 200
    otp = httpx.post(
        f"{mock_deriv.rest_url}/trading/v1/options/accounts/{mock_deriv.demo_account_id}/otp",
        headers=bearer,
        timeout=5,
    )
    assert run(lambda: ws_ping(otp.json()["data"]["url"]))["ping"] == "pong"

    reused = token(mock_deriv, **form, code_verifier=verifier)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # Reusing a code revokes what it issued (RFC 6749 §4.1.2).
    assert (
        httpx.get(f"{mock_deriv.rest_url}/trading/v1/options/accounts", headers=bearer, timeout=5).status_code
        == 401
    )
    assert (
        token(mock_deriv, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code
        == 400
    )
    assert mock_deriv.token_requests == {"authorization_code": 5, "refresh_token": 1}


def test_refresh_rotates_and_access_tokens_expire(mock_deriv: MockDeriv) -> None:
    mock_deriv.access_token_ttl = 1.0
    first = login(mock_deriv, scope="trade")
    assert first["scope"] == "trade" and first["expires_in"] == 1
    headers = {"Authorization": f"Bearer {first['access_token']}", "Deriv-App-ID": mock_deriv.app_id}
    url = f"{mock_deriv.rest_url}/trading/v1/options/accounts"
    assert httpx.get(url, headers=headers, timeout=5).status_code == 200
    nickname = httpx.get(f"{mock_deriv.rest_url}/account/v1/nickname", headers=headers, timeout=5)
    assert nickname.status_code == 403  # the grant has the trade scope only
    time.sleep(1.1)
    expired = httpx.get(url, headers=headers, timeout=5)
    assert expired.status_code == 401
    assert "expired" in expired.json()["errors"][0]["message"]

    mock_deriv.access_token_ttl = 3600
    second = token(mock_deriv, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"] and rotated["scope"] == "trade"
    headers["Authorization"] = f"Bearer {rotated['access_token']}"
    assert httpx.get(url, headers=headers, timeout=5).status_code == 200
    assert mock_deriv.token_requests == {"authorization_code": 1, "refresh_token": 1}  # exactly one refresh

    replay = token(mock_deriv, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # Replaying a rotated refresh token revokes the whole grant (reuse detection).
    assert httpx.get(url, headers=headers, timeout=5).status_code == 401
    assert (
        token(mock_deriv, grant_type="refresh_token", refresh_token=rotated["refresh_token"]).status_code
        == 400
    )
    kinds = [(t.kind, t.grant_type) for t in mock_deriv.tokens_issued]
    assert kinds == [
        ("access", "authorization_code"),
        ("refresh", "authorization_code"),
        ("access", "refresh_token"),
        ("refresh", "refresh_token"),
    ]


def test_authorization_requests_are_validated(mock_deriv: MockDeriv) -> None:
    _, challenge = pkce()
    _, plain = authorize(mock_deriv, challenge, code_challenge_method="plain")
    assert plain["error"] == "invalid_request" and "S256" in plain["error_description"]
    _, no_method = authorize(mock_deriv, challenge, code_challenge_method="<omit>")  # defaults to plain
    assert no_method["error"] == "invalid_request"
    _, no_challenge = authorize(mock_deriv, "", code_challenge="<omit>")
    assert no_challenge["error"] == "invalid_request"
    _, implicit = authorize(mock_deriv, challenge, response_type="token")
    assert implicit["error"] == "unsupported_response_type"
    _, scope = authorize(mock_deriv, challenge, scope="trade admin")
    assert scope["error"] == "invalid_scope"
    _, no_state = authorize(mock_deriv, challenge, state="<omit>")
    assert no_state["error"] == "invalid_request"

    # Not redirected: an unknown client, or a redirect URI not registered for it.
    unknown, _ = authorize(mock_deriv, challenge, client_id="999")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_client"
    evil, _ = authorize(mock_deriv, challenge, redirect_uri="https://evil.example/cb")
    assert evil.status_code == 400 and "location" not in evil.headers

    mock_deriv.oauth_approve = False
    _, denied = authorize(mock_deriv, challenge)
    assert denied["error"] == "access_denied"
    mock_deriv.oauth_approve = True
    _, approved = authorize(mock_deriv, challenge, client_id="<omit>", app_id=mock_deriv.app_id)
    assert "code" in approved

    json_body = httpx.post(mock_deriv.oauth_token_url, json={"grant_type": "authorization_code"}, timeout=5)
    assert json_body.status_code == 400 and json_body.json()["error"] == "invalid_request"
    assert token(mock_deriv, grant_type="password").json()["error"] == "unsupported_grant_type"
    stranger = httpx.post(
        mock_deriv.oauth_token_url, data={"grant_type": "refresh_token", "client_id": "x"}, timeout=5
    )
    assert stranger.status_code == 401 and stranger.json()["error"] == "invalid_client"
    assert mock_deriv.oauth.authorize_requests == 10


# -- faults -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "GET /trading/v1/options/accounts",  # Error: errors + meta
        "GET /account/v1/nickname",  # ErrorResponse: data + errors + metadata
        "GET /payment-agents/v1/agents/{id}",  # PAErrorResponse: errors[].detail
    ],
)
def test_forced_statuses_answer_in_the_operation_envelope(
    mock_deriv: MockDeriv, api: httpx.Client, document: Mapping[str, Any], key: str
) -> None:
    spec = next(s for k, _, s in valid_requests(mock_deriv) if k == key)
    for status in FORCED:
        mock_deriv.fail_next(status, key)
        answer = send(api, key, spec)
        body = assert_answer(document, key, answer, status)
        if status == 429:
            assert answer.headers["retry-after"] == "1"
        else:
            assert "retry-after" not in answer.headers
        assert body["errors"][0]["code"]
        assert send(api, key, spec).status_code == 200  # only the next one
    assert mock_deriv.schema_problems == []


def test_fault_counts_scopes_delays_and_drops(
    mock_deriv: MockDeriv, api: httpx.Client, document: Mapping[str, Any]
) -> None:
    url = "/trading/v1/options/accounts"
    mock_deriv.fail_next(503, f"GET {url}", count=2, retry_after=7, code="InternalServerError")
    assert [api.get(url).status_code for _ in range(3)] == [503, 503, 200]
    mock_deriv.fail_next(
        404, "3855391d-78e9-438b-b2db-b9aa41527add", code="AccountNotFound"
    )  # by operationId
    assert api.get(url).json()["errors"][0]["code"] == "AccountNotFound"
    with pytest.raises(ValueError, match="codes"):
        mock_deriv.fail_next(400, f"GET {url}", code="NoSuchCode")
    with pytest.raises(KeyError, match="several methods"):
        mock_deriv.fail_next(400, url)
    with pytest.raises(KeyError):
        mock_deriv.fail_next(400, "/no/such/operation")

    fault = mock_deriv.fail_always(429)  # every operation
    assert api.get("/v1/health").status_code == 429
    assert api.get(url).headers["retry-after"] == "1"
    assert fault.hits == 2
    mock_deriv.clear_faults()
    assert api.get("/v1/health").status_code == 200

    mock_deriv.fail_next(503, "oauth2.token")
    answer = httpx.post(mock_deriv.oauth_token_url, data={"grant_type": "refresh_token"}, timeout=5)
    assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"

    mock_deriv.set_rest_delay(0.3, "GET /v1/health")
    started = time.monotonic()
    assert api.get("/v1/health").status_code == 200
    assert time.monotonic() - started >= 0.25
    mock_deriv.clear_faults()

    mock_deriv.disconnect_next(f"GET {url}")
    with pytest.raises(httpx.TransportError):
        api.get(url)
    assert api.get(url).status_code == 200
    statuses = [(r.operation, r.status) for r in mock_deriv.rest_requests if r.path == url]
    assert statuses[-2:] == [(f"GET {url}", None), (f"GET {url}", 200)]


# -- observability ----------------------------------------------------------------------------------


def test_secrets_stay_out_of_logs_and_records(
    mock_deriv: MockDeriv, api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    verifier, challenge = pkce()
    _, query = authorize(mock_deriv, challenge)
    tokens = token(
        mock_deriv,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    ).json()
    token(mock_deriv, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    url = api.post(f"/trading/v1/options/accounts/{mock_deriv.demo_account_id}/otp").json()["data"]["url"]
    otp = parse_qs(urlsplit(url).query)["otp"][0]
    run(lambda: ws_ping(url))
    refused_status(url)
    api.get("/trading/v1/options/ws/demo", params={"otp": otp})

    secrets_used = [PAT, verifier, query["code"], tokens["access_token"], tokens["refresh_token"], otp]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("deriv_runtime"))
    assert "mock REST: POST /oauth2/token -> 200" in logged
    recorded = repr(mock_deriv.rest_requests) + repr(mock_deriv.tokens_issued) + repr(mock_deriv.otps_issued)
    for secret in secrets_used:
        assert secret not in logged
        assert secret not in recorded
    headers = {name.lower(): value for name, value in mock_deriv.rest_requests[-1].headers}
    assert headers["authorization"] == "Bearer <redacted>"
    assert mock_deriv.rest_requests[-1].query == {"otp": ["<redacted>"]}
    assert mock_deriv.rest_requests[1].body["code_verifier"] == ["<redacted>"]


# -- CLI --------------------------------------------------------------------------------------------


def test_cli_serves_rest_and_websocket(deriv_options_dist: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(deriv_options_dist), str(ROOT / "runtime")])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deriv_runtime.mock",
            "--port",
            "0",
            "--tick-interval",
            "0.05",
            "--pat",
            "cli-pat",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "public:" in line:
                break
        text = "".join(lines)
        urls = dict(re.findall(r"^\s+([\w ]+):\s+((?:http|ws)://\S+)", text, re.MULTILINE))
        assert set(urls) >= {"REST API", "OAuth authorize", "OAuth token", "authenticated", "public"}, text
        assert urls["OAuth token"] == urls["REST API"] + "/oauth2/token"
        app_id = re.search(r"app id:\s+(\S+)", text)
        account = re.search(r"demo account:\s+(\S+)", text)
        assert app_id and account, text

        headers = {"Authorization": "Bearer cli-pat", "Deriv-App-ID": app_id.group(1)}
        otp = httpx.post(
            f"{urls['REST API']}/trading/v1/options/accounts/{account.group(1)}/otp",
            headers=headers,
            timeout=5,
        )
        assert otp.status_code == 200
        assert run(lambda: ws_ping(otp.json()["data"]["url"]))["ping"] == "pong"
        assert run(lambda: ws_ping(urls["authenticated"]))["ping"] == "pong"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "Stopped." in out
    assert "cli-pat" not in out + err
