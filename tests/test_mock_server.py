"""The mock Deriv Options server: real sockets, the raw ``websockets`` client, bounded in time."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from deriv_runtime.mock import MockServer
from deriv_runtime.mock.synth import Synthesiser, regex_string, synthesise
from deriv_runtime.schemas import load_schemas
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .conftest import ROOT, SHARED_SCHEMAS

RELEASE = SHARED_SCHEMAS / "deriv-options" / "production_v20260630_0.zip"
pytestmark = pytest.mark.skipif(
    not RELEASE.is_file(), reason=f"upstream mirror not found at {RELEASE} (CI has it)"
)

CALL_PARAMS: dict[str, Any] = {
    "amount": 10,
    "basis": "stake",
    "contract_type": "CALL",
    "currency": "USD",
    "duration": 5,
    "duration_unit": "t",
    "underlying_symbol": "R_100",
}


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def options_dist(deriv_options_dist: Path) -> Path:
    """``deriv_options`` generated from the mirror (conftest), importable for the whole session."""
    return deriv_options_dist


@pytest.fixture
def mock_package(options_dist: Path) -> str:
    return "deriv_options"


@pytest.fixture
def mock_server_options() -> dict[str, Any]:
    return {"tick_interval": 0.01}


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


def response_schema(call: str) -> dict[str, Any]:
    return dict(load_schemas("deriv_options").calls[call].response)


def assert_valid(call: str, message: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(response_schema(call)).validate(message)


class Client:
    """A raw WebSocket client speaking Deriv's protocol (req_id correlation by hand)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.held: list[dict[str, Any]] = []

    async def send(self, payload: dict[str, Any]) -> int:
        self.next_id += 1
        payload.setdefault("req_id", self.next_id)
        await self.ws.send(json.dumps(payload))
        return int(payload["req_id"])

    async def recv(self, timeout: float = 2.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        return message

    async def next_for(self, req_id: int, timeout: float = 2.0) -> dict[str, Any]:
        """The next message carrying ``req_id`` (others are held back for later)."""
        for index, message in enumerate(self.held):
            if message.get("req_id") == req_id:
                return self.held.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - time.monotonic()))
            if message.get("req_id") == req_id:
                return message
            self.held.append(message)

    async def call(self, payload: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
        return await self.next_for(await self.send(payload), timeout)

    async def quiet_for(self, req_id: int, seconds: float) -> bool:
        """True if nothing for ``req_id`` arrives within ``seconds``."""
        self.held = [m for m in self.held if m.get("req_id") != req_id]
        try:
            await self.next_for(req_id, seconds)
        except TimeoutError:
            return True
        return False


async def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


# -- the synthesiser ------------------------------------------------------------------------------


def test_synthesiser_makes_valid_requests_and_responses_for_every_call(options_dist: Path) -> None:
    schemas = load_schemas("deriv_options")
    for seed in range(3):
        for call, pair in schemas.calls.items():
            for schema, optional in ((pair.request, 0.0), (pair.request, 0.7), (pair.response, 1.0)):
                value = Synthesiser(seed, optional=optional, now=lambda: 1_750_000_000).generate(schema)
                jsonschema.Draft4Validator(dict(schema)).validate(value)
                again = Synthesiser(seed, optional=optional, now=lambda: 1_750_000_000).generate(schema)
                assert value == again, call  # deterministic


@pytest.mark.parametrize(
    "pattern",
    [
        r"^(?:[\w-]{32,128}|1)$",
        r"^(?=.{1,20}$)[+-]?[0-9]+\.?[0-9]*$",
        r"^([0-9]{4}-(0?[1-9]|1[012])-(0?[1-9]|[12][0-9]|3[01])|[0-9]{1,10})$",
        r"^[A-Z]{2,4}[0-9]{1,10}$",
        r"(ab|cd)\1[^x-z]\d{2}",
        r"^\p{L}+ \x{b0}$",
    ],
)
def test_regex_strings_match_their_pattern(pattern: str) -> None:
    import random

    rng = random.Random(1)
    compiled = re.compile(pattern.replace(r"\p{L}", r"[^\W\d_]").replace(r"\x{b0}", "\u00b0"))
    for _ in range(20):
        assert compiled.search(regex_string(pattern, rng, max_length=40))


def test_synthesiser_honours_bounds_enums_and_one_of() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "required": ["n", "e", "o", "a"],
        "properties": {
            "n": {"type": "number", "minimum": 5, "maximum": 6, "exclusiveMaximum": True},
            "e": {"enum": [None, "x"], "type": ["null", "string"]},
            "o": {"oneOf": [{"type": "string", "pattern": "^a+$"}, {"type": "integer"}]},
            "a": {"type": "array", "minItems": 3, "uniqueItems": True, "items": {"enum": [1, 2, 3, 4]}},
        },
        "additionalProperties": False,
    }
    for seed in range(10):
        value = synthesise(schema, seed=seed)
        jsonschema.Draft4Validator(schema).validate(value)
        assert 5 <= value["n"] < 6
        assert value["e"] == "x"
        assert len(set(value["a"])) == len(value["a"]) >= 3


def test_importing_the_mock_starts_and_loads_nothing() -> None:
    code = "import sys, deriv_runtime.mock as m; print(sorted(k for k in sys.modules if 'websockets' in k))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# -- every call ----------------------------------------------------------------------------------


def test_every_call_answers_schema_valid(mock_server: MockServer) -> None:
    import deriv_options

    calls = deriv_options.CALLS
    schemas = load_schemas("deriv_options")
    assert set(calls) == set(schemas.calls)

    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            mult = await client.call(
                {
                    "buy": "1",
                    "price": 20,
                    "parameters": {
                        "amount": 20,
                        "basis": "stake",
                        "contract_type": "MULTUP",
                        "currency": "USD",
                        "multiplier": 10,
                        "underlying_symbol": "R_100",
                    },
                }
            )
            day = await client.call(
                {"buy": "1", "price": 10, "parameters": {**CALL_PARAMS, "duration": 1, "duration_unit": "d"}}
            )
            mult_id, day_id = mult["buy"]["contract_id"], day["buy"]["contract_id"]
            special: dict[str, dict[str, Any]] = {
                "buy": {"buy": "1", "price": 10, "parameters": dict(CALL_PARAMS)},
                "proposal": {"proposal": 1, **CALL_PARAMS},
                "contract_update": {
                    "contract_update": 1,
                    "contract_id": mult_id,
                    "limit_order": {"take_profit": 5.0, "stop_loss": 3.0},
                },
                "contract_update_history": {"contract_update_history": 1, "contract_id": mult_id},
                "cancel": {"cancel": mult_id},
                "proposal_open_contract": {"proposal_open_contract": 1, "contract_id": day_id},
                "sell": {"sell": day_id, "price": 0},
                "statement": {"statement": 1, "description": 1},
            }
            last = ["contract_update", "contract_update_history", "cancel", "proposal_open_contract", "sell"]
            order = [c for c in sorted(calls) if c not in last and c != "logout"] + [*last, "logout"]
            for index, call in enumerate(order):
                request = special.get(call) or Synthesiser(index, optional=0.0).generate(
                    schemas.calls[call].request
                )
                request = {**request, "req_id": 1000 + index}
                answer = await client.call(dict(request))
                assert "error" not in answer, (call, answer)
                assert answer["msg_type"] in calls[call].msg_types
                assert answer["echo_req"] == request
                assert answer["req_id"] == 1000 + index
                assert_valid(call, answer)
        assert mock_server.schema_problems == []

    run(scenario)


# -- protocol errors ------------------------------------------------------------------------------


def test_invalid_unknown_and_garbage_requests_get_errors_and_the_connection_stays_up(
    mock_server: MockServer,
) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            bad = await client.call({"ticks": 5})
            assert bad["error"]["code"] == "InputValidationFailed"
            assert bad["msg_type"] == "ticks"
            assert "ticks" in bad["error"]["details"]
            assert bad["echo_req"] == {"ticks": 5, "req_id": bad["req_id"]}

            nested = await client.call(
                {"buy": "1", "price": 1, "parameters": {**CALL_PARAMS, "amount": "ten"}}
            )
            assert list(nested["error"]["details"]) == ["parameters.amount"]
            missing = await client.call({"proposal": 1, "currency": "USD", "bogus": 2})
            assert {"contract_type", "underlying_symbol", "bogus"} <= set(missing["error"]["details"])

            unknown = await client.call({"no_such_call": 1})
            assert unknown["error"]["code"] == "UnrecognisedRequest"
            assert unknown["msg_type"] == "error"

            for frame in ("{not json", b"\x00\x01binary", "[1, 2]", '"text"'):
                await ws.send(frame)
                garbage = await client.recv()
                assert garbage["error"]["code"] == "BadRequest", frame
                assert "req_id" not in garbage
            assert (await client.call({"ping": 1}))["ping"] == "pong"

        async with connect(mock_server.public_url) as ws:
            client = Client(ws)
            assert (await client.call({"balance": 1}))["error"]["code"] == "AuthorizationRequired"
            assert (await client.call({"time": 1}))["time"] > 1_700_000_000

    run(scenario)


# -- streams -------------------------------------------------------------------------------------


def test_ticks_stream_at_a_fast_rate_and_forget_stops_it(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            request = {"ticks": "R_100", "subscribe": 1}
            first = await client.call(request)
            sub_id = first["subscription"]["id"]
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", sub_id)
            messages = [first] + [await client.next_for(first["req_id"]) for _ in range(10)]
            epochs = [m["tick"]["epoch"] for m in messages]
            assert epochs == sorted(set(epochs))
            for message in messages:
                assert message["subscription"] == {"id": sub_id}
                assert message["echo_req"] == request
                assert message["tick"]["pip_size"] == 2
                assert round(message["tick"]["quote"], 2) == message["tick"]["quote"]
                assert_valid("ticks", message)
            again = await client.call({"ticks": "R_100", "subscribe": 1})
            assert again["error"]["code"] == "AlreadySubscribed"

            assert (await client.call({"forget": sub_id}))["forget"] == 1
            assert await client.quiet_for(first["req_id"], 0.2)
            assert (await client.call({"forget": sub_id}))["forget"] == 0
            assert mock_server.subscriptions == []

    run(scenario)


def test_forget_all_stops_every_stream_of_a_type(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            ticks_id = await client.send({"ticks": ["R_100", "R_50"], "subscribe": 1})
            a, b = await client.next_for(ticks_id), await client.next_for(ticks_id)
            assert {a["tick"]["symbol"], b["tick"]["symbol"]} == {"R_100", "R_50"}
            balance = await client.call({"balance": 1, "subscribe": 1})
            history = await client.call(
                {"ticks_history": "R_10", "end": "latest", "style": "candles", "subscribe": 1}
            )
            assert {s.kind for s in mock_server.subscriptions} == {"ticks", "balance", "candles"}

            stopped = await client.call({"forget_all": ["ticks", "candles"]})
            assert set(stopped["forget_all"]) == {
                a["subscription"]["id"],
                b["subscription"]["id"],
                history["subscription"]["id"],
            }
            assert await client.quiet_for(ticks_id, 0.2)
            assert [s.id for s in mock_server.subscriptions] == [balance["subscription"]["id"]]
            assert (await client.call({"forget_all": "balance"}))["forget_all"] == [
                balance["subscription"]["id"]
            ]

    run(scenario)


def test_ticks_history_in_ticks_and_candles_then_streaming(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            history = await client.call({"ticks_history": "R_100", "end": "latest", "count": 10})
            assert history["msg_type"] == "history"
            times = history["history"]["times"]
            assert len(times) == len(history["history"]["prices"]) == 10
            assert times == sorted(times)
            assert_valid("ticks_history", history)

            candles = await client.call(
                {"ticks_history": "R_100", "end": "latest", "count": 5, "style": "candles", "granularity": 60}
            )
            assert candles["msg_type"] == "candles"
            assert len(candles["candles"]) == 5
            for candle in candles["candles"]:
                assert candle["low"] <= min(candle["open"], candle["close"]) <= candle["high"]
                assert candle["epoch"] % 60 == 0

            stream = await client.call(
                {"ticks_history": "R_50", "end": "latest", "count": 3, "style": "candles", "subscribe": 1}
            )
            ohlc = await client.next_for(stream["req_id"])
            assert ohlc["msg_type"] == "ohlc"
            assert ohlc["subscription"] == stream["subscription"]
            assert ohlc["ohlc"]["symbol"] == "R_50"
            assert_valid("ticks_history", ohlc)

            ticks = await client.call({"ticks_history": "R_25", "end": "latest", "count": 3, "subscribe": 1})
            assert ticks["msg_type"] == "history"
            tick = await client.next_for(ticks["req_id"])
            assert tick["msg_type"] == "tick"
            assert tick["tick"]["symbol"] == "R_25"
            assert tick["tick"]["epoch"] > ticks["history"]["times"][-1]

    run(scenario)


# -- trading -------------------------------------------------------------------------------------


def test_proposal_buy_contract_until_expiry_moves_the_balance(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            balance_sub = await client.call({"balance": 1, "subscribe": 1})
            assert balance_sub["balance"]["balance"] == 10000.0
            assert balance_sub["balance"]["currency"] == "USD"
            txn_sub = await client.call({"transaction": 1, "subscribe": 1})

            proposal = await client.call({"proposal": 1, "subscribe": 1, **CALL_PARAMS})
            quote = proposal["proposal"]
            assert quote["id"] == proposal["subscription"]["id"]
            assert quote["ask_price"] == 10
            assert quote["payout"] > quote["ask_price"]
            update = await client.next_for(proposal["req_id"])
            assert update["proposal"]["spot_time"] > quote["spot_time"]

            too_cheap = await client.call({"buy": quote["id"], "price": 9.5})
            assert too_cheap["error"]["code"] == "PriceMoved"
            unknown = await client.call({"buy": "f" * 36, "price": 100})
            assert unknown["error"]["code"] == "InvalidContractProposal"

            bought = await client.call({"buy": quote["id"], "price": 10})
            receipt = bought["buy"]
            assert receipt["buy_price"] == 10
            assert receipt["balance_after"] == 9990.0
            assert mock_server.balance <= 9990.0 + receipt["payout"]

            poc = await client.call(
                {"proposal_open_contract": 1, "contract_id": receipt["contract_id"], "subscribe": 1}
            )
            updates = [poc]
            while not updates[-1]["proposal_open_contract"]["is_sold"]:
                updates.append(await client.next_for(poc["req_id"]))
            final = updates[-1]["proposal_open_contract"]
            assert final["status"] in {"won", "lost"}
            assert final["is_expired"] == 1
            assert final["exit_spot"] is not None
            assert len(final["tick_stream"]) == 6  # entry tick + 5 ticks
            for message in updates:
                assert message["subscription"] == poc["subscription"]
                assert_valid("proposal_open_contract", message)
            assert await client.quiet_for(poc["req_id"], 0.1)  # the stream ended with the contract
            assert poc["subscription"]["id"] not in {s.id for s in mock_server.subscriptions}

            won = final["status"] == "won"
            expected = 9990.0 + (receipt["payout"] if won else 0.0)
            assert (await client.call({"balance": 1}))["balance"]["balance"] == pytest.approx(expected)
            seen = [(await client.next_for(balance_sub["req_id"]))["balance"]["balance"] for _ in range(2)]
            assert seen == pytest.approx([9990.0, expected])
            actions = [(await client.next_for(txn_sub["req_id"]))["transaction"] for _ in range(2)]
            assert [t["action"] for t in actions] == ["buy", "sell"]
            assert actions[0]["amount"] == -10
            assert actions[0]["contract_id"] == receipt["contract_id"]
        assert mock_server.schema_problems == []

    run(scenario)


def test_buy_with_subscribe_streams_the_contract(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            params = {**CALL_PARAMS, "contract_type": "DIGITEVEN", "duration": 3}
            bought = await client.call({"buy": "1", "price": 10, "parameters": params, "subscribe": 1})
            assert bought["msg_type"] == "buy"
            assert "subscription" in bought
            message = await client.next_for(bought["req_id"])
            while not message["proposal_open_contract"]["is_sold"]:
                assert message["msg_type"] == "proposal_open_contract"
                message = await client.next_for(bought["req_id"])
            assert message["proposal_open_contract"]["contract_id"] == bought["buy"]["contract_id"]

    run(scenario)


def test_sell_closes_an_open_contract_and_credits_the_balance(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            params = {**CALL_PARAMS, "duration": 1, "duration_unit": "d"}
            receipt = (await client.call({"buy": "1", "price": 10, "parameters": params}))["buy"]
            contract_id = receipt["contract_id"]
            portfolio = (await client.call({"portfolio": 1}))["portfolio"]["contracts"]
            assert [c["contract_id"] for c in portfolio] == [contract_id]
            await wait_until(lambda: mock_server.account.contracts[contract_id].entry is not None)

            sold = await client.call({"sell": contract_id, "price": 0})
            assert sold["sell"]["contract_id"] == contract_id
            assert sold["sell"]["balance_after"] == pytest.approx(9990.0 + sold["sell"]["sold_for"])
            assert (await client.call({"portfolio": 1}))["portfolio"]["contracts"] == []
            assert (await client.call({"sell": contract_id, "price": 0}))["error"]["code"] == (
                "InvalidSellContractProposal"
            )
            assert (await client.call({"sell": 1, "price": 0}))["error"]["code"] == "ContractNotFound"

            poc = await client.call({"proposal_open_contract": 1, "contract_id": contract_id})
            assert poc["proposal_open_contract"]["status"] == "sold"
            table = (await client.call({"profit_table": 1}))["profit_table"]
            assert [t["contract_id"] for t in table["transactions"]] == [contract_id]
            statement = (await client.call({"statement": 1}))["statement"]
            assert [t["action_type"] for t in statement["transactions"]] == ["sell", "buy"]

    run(scenario)


def test_same_seed_same_quotes(options_dist: Path) -> None:
    async def quotes(seed: int) -> list[float]:
        async with MockServer(tick_interval=0.01, seed=seed) as server, connect(server.url) as ws:
            client = Client(ws)
            req_id = await client.send({"ticks": "R_75", "subscribe": 1})
            return [(await client.next_for(req_id))["tick"]["quote"] for _ in range(5)]

    async def scenario() -> None:
        assert await quotes(7) == await quotes(7)
        assert await quotes(7) != await quotes(8)

    run(scenario)


def test_manual_clock_steps_on_demand(options_dist: Path) -> None:
    async def scenario() -> None:
        async with MockServer(tick_interval=None) as server, connect(server.url) as ws:
            client = Client(ws)
            req_id = await client.send({"ticks": "R_100", "subscribe": 1})
            first = await client.next_for(req_id)
            assert await client.quiet_for(req_id, 0.1)
            ticks = await server.step(3)
            assert [t.symbol for t in ticks] == ["R_100"] * 3
            messages = [await client.next_for(req_id) for _ in range(3)]
            assert [m["tick"]["quote"] for m in messages] == [t.quote for t in ticks]
            epochs = [first["tick"]["epoch"]] + [m["tick"]["epoch"] for m in messages]
            assert epochs == sorted(set(epochs))

    run(scenario)


# -- faults --------------------------------------------------------------------------------------


def test_drop_after_aborts_or_closes_connections(mock_server: MockServer) -> None:
    async def pings_until_dropped(url: str) -> tuple[int, ConnectionClosed]:
        async with connect(url) as ws:
            client = Client(ws)
            answered = 0
            try:
                for _ in range(10):
                    await client.call({"ping": 1})
                    answered += 1
            except ConnectionClosed as exc:
                return answered, exc
        raise AssertionError("the connection was not dropped")

    async def scenario() -> None:
        async with connect(mock_server.url) as ws:  # a live connection is affected too
            client = Client(ws)
            mock_server.drop_after(2)
            await client.call({"ping": 1})
            await client.call({"ping": 1})
            with pytest.raises(ConnectionClosed) as closed:
                await client.call({"ping": 1})
            assert closed.value.rcvd is None  # aborted: no close frame

        answered, exc = await pings_until_dropped(mock_server.url)  # and new ones
        assert answered == 2
        assert exc.rcvd is None

        mock_server.drop_after(3, mode="close")
        answered, exc = await pings_until_dropped(mock_server.url)
        assert answered == 3
        assert exc.rcvd is not None
        assert exc.rcvd.code == 1011

        mock_server.drop_after(None)
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            for _ in range(5):
                await client.call({"ping": 1})

    run(scenario)


def test_drop_all_drops_every_live_connection(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as one, connect(mock_server.url) as two:
            await wait_until(lambda: mock_server.connection_count == 2)
            assert await mock_server.drop_all() == 2
            for ws in (one, two):
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 2)
            await wait_until(lambda: mock_server.connection_count == 0)
        async with connect(mock_server.url) as ws:
            assert (await Client(ws).call({"ping": 1}))["ping"] == "pong"
        assert mock_server.total_connections == 3
        assert len(mock_server.paths) == 3
        assert all(p.startswith("/trading/v1/options/ws/demo?otp=") for p in mock_server.paths)

    run(scenario)


def test_delay_holds_answers_per_call(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            mock_server.delay_calls = {"ping": 0.3}
            started = time.monotonic()
            slow = await client.send({"ping": 1})
            fast = await client.send({"time": 1})
            assert (await client.recv())["req_id"] == fast  # answered out of order
            assert (await client.recv())["req_id"] == slow
            assert time.monotonic() - started >= 0.25

            mock_server.delay_calls = {}
            mock_server.delay = 0.2
            started = time.monotonic()
            await client.call({"time": 1})
            assert time.monotonic() - started >= 0.15
            mock_server.delay = 0

    run(scenario)


def test_garbage_frames(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            await client.call({"ping": 1})
            assert await mock_server.send_garbage() == 1
            text, binary, array = [await asyncio.wait_for(ws.recv(), 2) for _ in range(3)]
            assert isinstance(text, str)
            with pytest.raises(json.JSONDecodeError):
                json.loads(text)
            assert isinstance(binary, bytes)
            assert json.loads(array) == [1, 2, 3]

            mock_server.garbage_every = 2
            for _ in range(2):
                await client.send({"ping": 1})
            frames = [await asyncio.wait_for(ws.recv(), 2) for _ in range(3)]
            mock_server.garbage_every = None
            assert [json.loads(f)["msg_type"] for f in frames[:2]] == ["ping", "ping"]
            assert frames[2] == "}{ mock garbage: this frame is not JSON"
            assert (await client.call({"ping": 1}))["ping"] == "pong"

    run(scenario)


def test_answer_with_an_unknown_req_id(mock_server: MockServer) -> None:
    async def scenario() -> None:
        async with connect(mock_server.url) as ws:
            client = Client(ws)
            await client.call({"ping": 1, "req_id": 41})
            (stray,) = await mock_server.answer_unknown_req_id()
            message = await client.recv()
            assert message["req_id"] == stray != 41
            assert_valid("ping", message)
            assert message["echo_req"]["req_id"] == stray

    run(scenario)


def test_refuse_handshake_and_otp(mock_server: MockServer) -> None:
    async def scenario() -> None:
        mock_server.refuse_handshake = True
        with pytest.raises(InvalidStatus) as refused:
            async with connect(mock_server.url):
                pass
        assert refused.value.response.status_code == 503
        mock_server.refuse_handshake = False

        mock_server.require_otp = True
        with pytest.raises(InvalidStatus) as bad_otp:
            async with connect(mock_server.url.replace("mock-otp", "wrong")):
                pass
        assert bad_otp.value.response.status_code == 401
        once = mock_server.issue_otp()
        async with connect(once) as ws:
            assert (await Client(ws).call({"ping": 1}))["ping"] == "pong"
        with pytest.raises(InvalidStatus):
            async with connect(once):
                pass
        async with connect(mock_server.public_url) as ws:  # the public endpoint needs none
            assert (await Client(ws).call({"ping": 1}))["ping"] == "pong"
        assert mock_server.total_connections == 2
        assert len(mock_server.paths) == 5

    run(scenario)


def test_silent_server_answers_nothing_not_even_pings() -> None:
    async def scenario(server: MockServer) -> None:
        async with connect(server.url, ping_interval=None) as ws:
            client = Client(ws)
            ticks = await client.call({"ticks": "R_100", "subscribe": 1})
            server.silent = True
            pong = await ws.ping()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pong), 0.3)
            request = await client.send({"ping": 1})
            assert await client.quiet_for(ticks["req_id"], 0.2)
            assert not pong.done()

            server.silent = False
            await asyncio.wait_for(pong, 2)
            assert (await client.next_for(request))["ping"] == "pong"
            await client.next_for(ticks["req_id"])  # the stream resumes

    async def in_loop() -> None:  # the server on the test's own event loop this time
        async with MockServer(tick_interval=0.01) as server:
            await scenario(server)

    run(in_loop)


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_serves_until_sigint(options_dist: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(options_dist), str(ROOT / "runtime")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "deriv_runtime.mock", "--port", "0", "--tick-interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 15
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"ws://\S+", line)
            url = found.group(0) if found else None
        assert url is not None, proc.stderr.read() if proc.stderr else ""

        async def ping() -> dict[str, Any]:
            async with connect(url) as ws:
                return await Client(ws).call({"ping": 1})

        assert run(ping)["ping"] == "pong"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "Stopped." in out
