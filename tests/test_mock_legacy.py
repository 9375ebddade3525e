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
import re
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
