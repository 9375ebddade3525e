"""The v3 mock (``deriv_runtime.mock.legacy``) over real sockets, with a raw ``websockets`` client:
every call of the mirrored bundle answers valid data, ``app_id`` is required, ``authorize`` opens
the token's account and scopes, streams flow and are forgotten, buy/portfolio/sell move one
account, the core's faults apply, and no secret reaches the record.

Answers are validated with ``jsonschema`` (draft-04) against each call's ``receive.json`` read here
from the mirror's zip, independently of the mock."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import websockets
from deriv_runtime.mock import MockLegacy
from deriv_runtime.mock.core.synth import Synthesiser
from deriv_runtime.mock.legacy import DEFAULT_TOKEN, load_spec
from deriv_runtime.mock.legacy.spec import LegacySpec

from .conftest import SHARED_SCHEMAS

ZIP = SHARED_SCHEMAS / "deriv-legacy-v3" / "deriv-api-docs-6571f72.zip"
pytestmark = pytest.mark.skipif(not ZIP.is_file(), reason="the v3 bundle is not mirrored")

#: v3 contract parameters the mock prices (``symbol``, not Options' ``underlying_symbol``).
PARAMS: dict[str, Any] = {
    "amount": 10,
    "basis": "stake",
    "contract_type": "CALL",
    "currency": "USD",
    "duration": 5,
    "duration_unit": "t",
    "symbol": "R_100",
}


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 60.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


# -- the bundle, read independently of the mock ----------------------------------------------------


def _read_bundle() -> dict[str, dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = {}
    entry = re.compile(r"/config/v3/([a-z0-9_]+)/(send|receive|example)\.json$")
    with zipfile.ZipFile(ZIP) as archive:
        for name in archive.namelist():
            match = entry.search(name)
            if match:
                calls.setdefault(match.group(1), {})[match.group(2)] = json.loads(archive.read(name))
    return calls


BUNDLE = _read_bundle() if ZIP.is_file() else {}
#: The mock's reading (requests are built from its ``send`` schemas, whose PCRE/POSIX-only
#: patterns it rewrote; answers are checked against the bundle's own ``receive.json``).
SPEC: LegacySpec | None = load_spec(ZIP) if ZIP.is_file() else None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    """``pattern`` with Python's ``re``; a PCRE-only pattern it cannot compile is not checked."""
    if not isinstance(instance, str):
        return
    try:
        found = re.search(pattern, instance)
    except re.error:
        return
    if found is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


Draft4 = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _pattern})


def receive_errors(call: str, message: Mapping[str, Any]) -> list[str]:
    validator = Draft4(BUNDLE[call]["receive"])
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(message)]


def send_is_valid(call: str, request: Mapping[str, Any]) -> bool:
    assert SPEC is not None
    return not list(Draft4(SPEC.calls[call].send).iter_errors(request))


# -- a raw client --------------------------------------------------------------------------------


class Client:
    """A raw v3 client: ``call`` sends a request and returns its answer (matched by ``req_id``);
    everything else received is kept in :attr:`pushed`."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pushed: list[dict[str, Any]] = []

    async def call(self, request: Mapping[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        req_id = next(self.ids)
        await self.ws.send(json.dumps({**request, "req_id": req_id}))
        return await self.expect(lambda m: m.get("req_id") == req_id, timeout)

    async def expect(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first message (already pushed or arriving) for which ``predicate`` holds."""
        for message in self.pushed:
            if predicate(message):
                self.pushed.remove(message)
                return message
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if predicate(message):
                return dict(message)
            self.pushed.append(message)


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[Client]:
    async with websockets.connect(url, open_timeout=5) as ws:
        yield Client(ws)


@asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[MockLegacy]:
    options.setdefault("tick_interval", 0.02)
    async with MockLegacy(ZIP, **options) as mock:
        yield mock


async def login(client: Client, token: str = DEFAULT_TOKEN, **extra: Any) -> dict[str, Any]:
    answer = await client.call({"authorize": token, **extra})
    assert "error" not in answer, answer
    return dict(answer["authorize"])


def ok(answer: Mapping[str, Any]) -> dict[str, Any]:
    assert "error" not in answer, answer
    return dict(answer)


# -- the schemas ---------------------------------------------------------------------------------


def test_every_source_form_reads_the_same_120_calls(tmp_path: Path) -> None:
    from_zip = load_spec(ZIP)
    with zipfile.ZipFile(ZIP) as archive:
        archive.extractall(tmp_path)
    from_root = load_spec(tmp_path)
    (v3,) = tmp_path.glob("*/config/v3")
    from_v3 = load_spec(v3)
    assert len(from_zip.calls) == 120
    assert from_zip.version == "6571f7210045a89a92c6cb699d5f93bb102b8ad5" == from_root.version
    for spec in (from_root, from_v3):
        assert set(spec.calls) == set(from_zip.calls) == set(BUNDLE)
        assert spec.calls["authorize"].send == BUNDLE["authorize"]["send"]
    call = from_zip.calls["balance"]
    assert (call.auth_required, call.auth_scopes, call.streams) == (
        True,
        ("read", "trading_information"),
        True,
    )
    assert from_zip.calls["ticks_history"].msg_types == ("history", "tick", "candles", "ohlc")
    assert {"authorize", "tokens"} <= from_zip.calls["authorize"].sensitive
    assert ("account_list.*", "broker_code") in from_zip.calls["account_list"].contradictions
    with pytest.raises(LookupError):
        load_spec(tmp_path / "nowhere")
    with pytest.raises(TypeError):
        load_spec()


def test_a_package_shipping_its_schemas_is_read_like_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder_pkg = tmp_path / "v3_folder_pkg"
    (folder_pkg / "schemas").mkdir(parents=True)
    (folder_pkg / "__init__.py").write_text("")
    json_pkg = tmp_path / "v3_json_pkg"
    json_pkg.mkdir()
    (json_pkg / "__init__.py").write_text("")
    for name in ("ping", "time", "authorize"):
        target = folder_pkg / "schemas" / name
        target.mkdir()
        for kind in ("send", "receive"):
            (target / f"{kind}.json").write_text(json.dumps(BUNDLE[name][kind]))
    doc = {
        "version": "x1",
        "calls": {
            n: {"request": BUNDLE[n]["send"], "response": BUNDLE[n]["receive"]} for n in ("ping", "time")
        },
    }
    (json_pkg / "schemas.json").write_text(json.dumps(doc))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert set(load_spec(package="v3_folder_pkg").calls) == {"ping", "time", "authorize"}
    from_json: LegacySpec = load_spec(package="v3_json_pkg")
    assert (set(from_json.calls), from_json.version) == ({"ping", "time"}, "x1")
    with pytest.raises(LookupError):
        load_spec(package="no_such_v3_package")


# -- every call ----------------------------------------------------------------------------------


MULTIPLIER: dict[str, Any] = {
    "amount": 10,
    "basis": "stake",
    "contract_type": "MULTUP",
    "currency": "USD",
    "multiplier": 10,
    "symbol": "R_100",
}


def _request(call: str, contract_id: int, multipliers: list[int]) -> dict[str, Any]:
    """A request the call's ``send.json`` accepts: the upstream example when it does (with what the
    mock's little market knows: a symbol, a contract it sold), else one synthesised from the schema."""
    stateful: dict[str, dict[str, Any]] = {
        "authorize": {"authorize": DEFAULT_TOKEN},
        "buy": {"buy": "1", "price": 100, "parameters": PARAMS},
        "proposal": {"proposal": 1, **PARAMS},
        "sell": {"sell": contract_id, "price": 0},
        "cancel": {"cancel": multipliers[0]},
        "contract_update": {
            "contract_update": 1,
            "contract_id": multipliers[1],
            "limit_order": {"take_profit": 5},
        },
        "proposal_open_contract": {"proposal_open_contract": 1, "contract_id": contract_id},
        "contract_update_history": {"contract_update_history": 1, "contract_id": contract_id},
        "ticks": {"ticks": "R_100"},
        "ticks_history": {"ticks_history": "R_100", "end": "latest", "count": 10},
        "forget_all": {"forget_all": "ticks"},
    }
    if call in stateful:
        return stateful[call]
    example = BUNDLE[call].get("example")
    if isinstance(example, dict) and send_is_valid(call, example):
        return {k: v for k, v in example.items() if k != "loginid"}
    assert SPEC is not None
    synthesised = Synthesiser(7, optional=0.0).generate(SPEC.calls[call].send)
    assert send_is_valid(call, synthesised), call
    return dict(synthesised)


def test_every_call_answers_valid_data() -> None:
    async def scenario() -> tuple[dict[str, list[str]], dict[str, str]]:
        async with serving(tick_interval=None) as mock, connect(mock.url) as client:
            await login(client)
            bought = ok(await client.call({"buy": "1", "price": 100, "parameters": PARAMS}))
            contract_id = bought["buy"]["contract_id"]
            multipliers = []
            for _ in range(2):
                answer = ok(await client.call({"buy": "1", "price": 100, "parameters": MULTIPLIER}))
                multipliers.append(answer["buy"]["contract_id"])
            problems: dict[str, list[str]] = {}
            errors: dict[str, str] = {}
            for call in sorted(BUNDLE):
                if call == "logout":
                    continue
                request = _request(call, contract_id, multipliers)
                answer = await client.call(request)
                assert answer["echo_req"].get(call) is not None, (call, answer)
                if "error" in answer:
                    errors[call] = answer["error"]["code"]
                    continue
                assert answer["msg_type"] in BUNDLE[call]["receive"]["properties"]["msg_type"]["enum"], call
                found = receive_errors(call, answer)
                if found:
                    problems[call] = found
            answer = await client.call({"logout": 1})
            assert receive_errors("logout", ok(answer)) == []
            assert mock.schema_problems == []
            return problems, errors

    problems, errors = run(scenario, guard=120)
    # account_list: the schema requires broker_code and forbids it (additionalProperties: false)
    assert problems.pop("account_list") == [
        "account_list.0: Additional properties are not allowed ('broker_code' was unexpected)"
    ]
    assert problems == {}
    assert errors == {}


# -- app_id ----------------------------------------------------------------------------------------


def test_app_id_is_required() -> None:
    async def refused(url: str) -> tuple[dict[str, Any], int | None]:
        async with connect(url) as client:
            await client.ws.send(json.dumps({"ping": 1, "req_id": 1}))
            answer = json.loads(await asyncio.wait_for(client.ws.recv(), 5))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(client.ws.recv(), 5)
            assert client.ws.close_reason == "InvalidAppID"
            return answer, client.ws.close_code

    async def scenario() -> None:
        async with serving(app_ids=[31063]) as mock:
            assert mock.url.endswith("/websockets/v3?app_id=31063&l=EN")
            for url in (mock.url_for(None), mock.url_for("abc"), mock.url_for(1089), mock.url_for(0)):
                answer, code = await refused(url)
                assert answer == {
                    "echo_req": {"ping": 1, "req_id": 1},
                    "error": {"code": "InvalidAppID", "message": "Your app_id is invalid."},
                    "msg_type": "ping",
                    "req_id": 1,
                }
                assert code == 1008
            async with connect(mock.url) as client:
                assert ok(await client.call({"ping": 1}))["ping"] == "pong"
            with pytest.raises(websockets.InvalidStatus) as refused_path:
                await websockets.connect(f"{mock.base_url}/websockets/v2?app_id=31063")
            assert refused_path.value.response.status_code == 404
        async with serving(app_id_refusal="handshake") as mock:
            with pytest.raises(websockets.InvalidStatus) as refused_handshake:
                await websockets.connect(mock.url_for(None))
            assert refused_handshake.value.response.status_code == 401
            assert b"InvalidAppID" in refused_handshake.value.response.body
            async with connect(mock.url_for(12345, language="ES", brand="deriv")) as client:
                assert ok(await client.call({"time": 1}))["msg_type"] == "time"
                (session,) = mock.sessions()
                assert (session.app_id, session.language, session.brand) == ("12345", "ES", "deriv")

    run(scenario)


# -- authorize and scopes --------------------------------------------------------------------------


def test_authorize_opens_the_tokens_account_and_scopes() -> None:
    async def scenario() -> None:
        async with serving() as mock:
            real = mock.add_account("real", currency="USD", balance=500)
            read_only = mock.add_token(scopes=["read"])
            trader = mock.add_token(
                "trader-token-1", loginid=real.loginid, scopes=["trade", "trading_information"]
            )
            async with connect(mock.url) as client:
                denied = await client.call({"portfolio": 1})
                assert denied["error"] == {"code": "AuthorizationRequired", "message": "Please log in."}
                assert denied["msg_type"] == "portfolio"
                bad = await client.call({"authorize": "not-a-known-token"})
                assert bad["error"]["code"] == "InvalidToken"
                assert bad["echo_req"]["authorize"] == "<not shown>"

                account = await login(client, read_only)
                assert (account["loginid"], account["scopes"], account["is_virtual"]) == (
                    "VRTC90000001",
                    ["read"],
                    1,
                )
                assert (
                    receive_errors(
                        "authorize", {"authorize": account, "echo_req": {}, "msg_type": "authorize"}
                    )
                    == []
                )
                assert ok(await client.call({"balance": 1}))["balance"]["balance"] == 10000
                assert ok(await client.call({"portfolio": 1}))["portfolio"] == {
                    "contracts": []
                }  # read suffices
                refused = await client.call({"buy": "1", "price": 10, "parameters": PARAMS})
                assert refused["error"] == {
                    "code": "PermissionDenied",
                    "message": "Permission denied, requires trade scope.",
                }
                assert (await client.call({"cashier": "deposit"}))["error"]["code"] == "PermissionDenied"

                # a second token: its account answers calls that name its loginid
                both = await login(client, trader, tokens=[read_only])
                assert [a["loginid"] for a in both["account_list"]] == [real.loginid, "VRTC90000001"]
                assert both["scopes"] == ["trade", "trading_information"]
                bought = ok(await client.call({"buy": "1", "price": 10, "parameters": PARAMS}))
                assert bought["buy"]["balance_after"] == 490
                other = ok(await client.call({"balance": 1, "loginid": "VRTC90000001"}))
                assert other["balance"]["loginid"] == "VRTC90000001"
                assert (
                    await client.call(
                        {"buy": "1", "price": 10, "parameters": PARAMS, "loginid": "VRTC90000001"}
                    )
                )["error"]["code"] == "PermissionDenied"
                stranger = await client.call({"balance": 1, "loginid": "CR12345"})
                assert stranger["error"]["code"] == "PermissionDenied"
                assert ok(await client.call({"balance": 1, "account": "all"}))["balance"][
                    "accounts"
                ].keys() == {
                    real.loginid,
                    "VRTC90000001",
                }

                assert ok(await client.call({"logout": 1}))["logout"] == 1
                assert (await client.call({"balance": 1}))["error"]["code"] == "AuthorizationRequired"
                assert mock.revoke_token(trader)
                assert (await client.call({"authorize": trader}))["error"]["code"] == "InvalidToken"

    run(scenario)


# -- trading ---------------------------------------------------------------------------------------


def test_authorize_balance_stream_buy_portfolio_sell() -> None:
    async def scenario() -> None:
        async with serving(tick_interval=0.02) as mock, connect(mock.url) as client:
            await login(client)
            first = ok(await client.call({"balance": 1, "subscribe": 1}))
            balance_id = first["subscription"]["id"]
            assert first["balance"] == {
                "balance": 10000.0,
                "currency": "USD",
                "id": balance_id,
                "loginid": "VRTC90000001",
            }
            proposal = ok(await client.call({"proposal": 1, **{**PARAMS, "duration": 50}}))
            assert receive_errors("proposal", proposal) == []
            bought = ok(await client.call({"buy": proposal["proposal"]["id"], "price": 10, "subscribe": 1}))
            contract_id = bought["buy"]["contract_id"]
            poc_id = bought["subscription"]["id"]
            debit = await client.expect(lambda m: m.get("subscription", {}).get("id") == balance_id)
            assert debit["balance"]["balance"] == 9990.0
            update = await client.expect(lambda m: m.get("msg_type") == "proposal_open_contract")
            assert update["subscription"]["id"] == poc_id
            assert update["proposal_open_contract"]["contract_id"] == contract_id
            assert receive_errors("proposal_open_contract", update) == []

            listed = ok(await client.call({"portfolio": 1}))["portfolio"]["contracts"]
            assert [c["contract_id"] for c in listed] == [contract_id]
            assert listed[0]["symbol"] == "R_100"
            sold = ok(await client.call({"sell": contract_id, "price": 0}))
            assert sold["sell"]["contract_id"] == contract_id
            credit = await client.expect(lambda m: m.get("subscription", {}).get("id") == balance_id)
            assert credit["balance"]["balance"] == round(9990.0 + sold["sell"]["sold_for"], 2)
            final = await client.expect(
                lambda m: (
                    m.get("msg_type") == "proposal_open_contract"
                    and m["proposal_open_contract"]["is_sold"] == 1
                )
            )
            assert final["proposal_open_contract"]["status"] == "sold"
            assert ok(await client.call({"portfolio": 1}))["portfolio"]["contracts"] == []
            assert mock.balance == credit["balance"]["balance"]
            statement = ok(await client.call({"statement": 1, "description": 1}))["statement"]
            assert [t["action_type"] for t in statement["transactions"]] == ["sell", "buy"]
            assert mock.schema_problems == []

    run(scenario)


def test_streams_are_forgotten() -> None:
    async def scenario() -> None:
        async with serving(tick_interval=0.02) as mock, connect(mock.url) as client:
            await login(client)
            ticks = ok(await client.call({"ticks": "R_100", "subscribe": 1}))
            tick_id = ticks["subscription"]["id"]
            assert ticks["tick"]["symbol"] == "R_100" and ticks["tick"]["id"] == tick_id
            again = await client.call({"ticks": "R_100", "subscribe": 1})
            assert again["error"]["code"] == "AlreadySubscribed"
            pushed = await client.expect(lambda m: m.get("subscription", {}).get("id") == tick_id)
            assert receive_errors("ticks", pushed) == []
            balance = ok(await client.call({"balance": 1, "subscribe": 1}))["subscription"]["id"]
            status = ok(await client.call({"website_status": 1, "subscribe": 1}))
            assert receive_errors("website_status", status) == []
            assert {kind for _, kind, _ in mock.subscriptions} == {"ticks", "balance", "website_status"}

            assert ok(await client.call({"forget": tick_id}))["forget"] == 1
            assert ok(await client.call({"forget": tick_id}))["forget"] == 0
            client.pushed.clear()
            await asyncio.sleep(0.1)
            assert not [m for m in client.pushed if m.get("subscription", {}).get("id") == tick_id]
            forgotten = ok(await client.call({"forget_all": ["balance", "website_status", "ticks"]}))
            assert sorted(forgotten["forget_all"]) == sorted([balance, status["subscription"]["id"]])
            assert mock.subscriptions == []

    run(scenario)


# -- faults ----------------------------------------------------------------------------------------


def test_the_cores_faults_apply() -> None:
    async def scenario() -> None:
        async with serving(tick_interval=0.01) as mock:
            async with connect(mock.url) as client:
                await login(client)
                ok(await client.call({"ticks": "R_100", "subscribe": 1}))
                mock.drop_after(3, mode="close", code=1011)
                with pytest.raises(websockets.ConnectionClosed):
                    await client.expect(lambda m: False, timeout=5)
                assert client.ws.close_code == 1011
            mock.drop_after(None)
            async with connect(mock.url) as client:
                # a new connection is not authorized: the client must authorize again
                assert (await client.call({"balance": 1}))["error"]["code"] == "AuthorizationRequired"
                await login(client)
                assert await mock.drop_all() == 1
                with pytest.raises(websockets.ConnectionClosed):
                    await client.call({"ping": 1})
            mock.fail_next("RateLimit", "ping", message="You have reached the rate limit for ping.")
            mock.delay_calls["time"] = 0.2
            async with connect(mock.url) as client:
                limited = await client.call({"ping": 1})
                assert limited["error"] == {
                    "code": "RateLimit",
                    "message": "You have reached the rate limit for ping.",
                }
                assert ok(await client.call({"ping": 1}))["ping"] == "pong"
                started = asyncio.get_running_loop().time()
                ok(await client.call({"time": 1}))
                assert asyncio.get_running_loop().time() - started >= 0.2
                await mock.send_garbage(["text"])
                assert (await client.ws.recv()) == "}{ mock garbage: this frame is not JSON"
                await client.ws.send("not json")
                rejected = json.loads(await client.ws.recv())
                assert rejected["error"]["code"] == "BadRequest"
                unknown = await client.call({"no_such_call": 1})
                assert unknown["error"]["code"] == "UnrecognisedRequest"
                invalid = await client.call({"ticks_history": "R_100"})
                assert invalid["error"]["code"] == "InputValidationFailed"
                assert "end" in invalid["error"]["details"]
            mock.refuse_handshake = True
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(mock.url)

    run(scenario)


# -- records ---------------------------------------------------------------------------------------


def test_records_and_logs_keep_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    secret = "a1-very-secret-token-value"
    other = "a1-another-secret-token"

    async def scenario() -> None:
        async with serving(tokens={secret: ["read", "admin"]}) as mock:
            mock.add_token(other)
            async with connect(mock.url) as client:
                answer = await client.call(
                    {"authorize": secret, "tokens": [other], "passthrough": {"mine": 1}}
                )
                assert answer["echo_req"]["authorize"] == "<not shown>"
                assert answer["echo_req"]["tokens"] == ["<not shown>"]
                assert answer["passthrough"] == {"mine": 1}
                changed = await client.call(
                    {"mt5_password_check": 1, "login": "MTR1000", "password": "Hunter2pass!"}
                )
                assert changed["echo_req"]["password"] == "<not shown>"
                await client.call({"authorize": "unknown-token-xyz"})
            records = json.dumps([mock.requests, [r.message for r in mock.received]])
            assert [r.call for r in mock.received] == ["authorize", "mt5_password_check", "authorize"]
            assert mock.received[1].loginid == "VRTC90000001"
            assert mock.received[0].message["authorize"] == "<redacted>"
            assert mock.received[0].message["tokens"] == "<redacted>"
            assert repr(mock.tokens) == "<TokenBook 2 tokens>"
            assert '"authorize": "***"' in mock_logs(caplog)  # frames are logged, masked
            for value in (secret, other, "Hunter2pass!", "unknown-token-xyz"):
                assert value not in records
                assert value not in mock_logs(caplog)
                assert value not in repr(mock.tokens.grants())

    with caplog.at_level("DEBUG"):
        run(scenario)


def mock_logs(caplog: pytest.LogCaptureFixture) -> str:
    """What the mock logged (the test's own raw client logs its frames too)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("deriv_runtime"))


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_serves_the_v3_api() -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "runtime")}
    command = [
        sys.executable,
        "-m",
        "deriv_runtime.mock",
        "--api",
        "legacy",
        "--spec",
        str(ZIP),
        "--port",
        "0",
    ]
    proc = subprocess.Popen(
        [*command, "--app-id", "4242", "--token", "cli-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any("WebSocket:" in line for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        found = re.search(r"WebSocket:\s+(ws://\S+)", "".join(lines))
        assert found, lines
        assert "app_id=4242" in found.group(1)

        async def session() -> dict[str, Any]:
            async with connect(found.group(1)) as client:
                return await login(client, "cli-token")

        assert run(session)["loginid"] == "VRTC90000001"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
