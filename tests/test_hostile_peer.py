"""The WebSocket runtime against servers of the tests' own that misbehave on purpose.

Not the project's mock: each server here is a few lines on 127.0.0.1 that does exactly one hostile
thing - drops a connection in the middle of an order, stops reading, never answers, answers with
an error that is not an object, floods garbage, sends huge messages. Every scenario runs under a
hang guard (``run``); no test asserts a timing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from deriv_runtime.drift import drift_of, raw_of
from deriv_runtime.errors import (
    CallTimeout,
    ConnectionFailed,
    OutcomeUnknown,
    ResponseError,
    TransportClosed,
)
from deriv_runtime.ws import ReconnectPolicy
from websockets.asyncio.server import ServerConnection, serve

from .conftest import CONTRACT_PARAMS

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
Handler = Callable[[ServerConnection], Awaitable[None]]


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


@asynccontextmanager
async def hostile(handler: Handler, **options: Any) -> AsyncIterator[str]:
    """A WebSocket server on 127.0.0.1 running ``handler`` for every connection; yields its URL."""
    async with serve(handler, "127.0.0.1", 0, compression=None, **options) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def answer(request: dict[str, Any], msg_type: str, body: Any, **extra: Any) -> str:
    message = {"echo_req": request, "msg_type": msg_type, msg_type: body, **extra}
    if "req_id" in request:
        message["req_id"] = request["req_id"]
    return orjson.dumps(message).decode()


def receipt(contract_id: int) -> dict[str, Any]:
    return {
        "balance_after": 990.0,
        "buy_price": 10.0,
        "contract_id": contract_id,
        "longcode": "Win payout if ...",
        "payout": 19.5,
        "purchase_time": 1_700_000_000,
        "shortcode": "CALL_R_100_19.5_1700000000_5T_S0P_0",
        "start_time": 1_700_000_000,
        "transaction_id": 555,
    }


def open_contract(contract_id: int, n: int) -> dict[str, Any]:
    return {"contract_id": contract_id, "bid_price": f"{10 + n}.00", "is_sold": 0, "status": "open"}


@asynccontextmanager
async def client_for(url: Any, **options: Any) -> AsyncIterator[Any]:
    from deriv_options import OptionsClient

    options.setdefault("reconnect", FAST)
    async with OptionsClient.connect(url, **options) as client:
        yield client


BUY_PARAMS: dict[str, Any] = dict(CONTRACT_PARAMS)


def buy_parameters() -> Any:
    from deriv_options.models.buy import BuyParameters

    return BuyParameters(**BUY_PARAMS)


# -- 1. orders are never repeated -----------------------------------------------------------------


class Exchange:
    """Counts what the client sends across connections; drops each connection on cue."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.connections = 0

    def count(self, call: str) -> int:
        return sum(1 for r in self.requests if call in r)

    async def requests_on(self, ws: ServerConnection) -> AsyncIterator[dict[str, Any]]:
        """Every request of one connection, recorded."""
        self.connections += 1
        async for frame in ws:
            request = orjson.loads(frame)
            self.requests.append(request)
            yield request


def test_subscribe_buy_after_a_drop_follows_the_contract_and_never_buys_again(
    deriv_options_dist: Path,
) -> None:
    exchange = Exchange()

    async def handler(ws: ServerConnection) -> None:
        async for request in exchange.requests_on(ws):
            if "buy" in request:
                sub = {"id": "sub-buy"}
                await ws.send(answer(request, "buy", receipt(77), subscription=sub))
                poc = answer(request, "proposal_open_contract", open_contract(77, 0), subscription=sub)
                await ws.send(poc)
                ws.transport.abort()  # mid-order: the receipt is out, the connection is not
                return
            if "proposal_open_contract" in request:
                sub = {"id": "sub-poc"}
                for n in range(1, 4):
                    await ws.send(
                        answer(request, "proposal_open_contract", open_contract(77, n), subscription=sub)
                    )
            elif "forget" in request:
                await ws.send(answer(request, "forget", 1))

    async def scenario() -> None:
        async with hostile(handler) as url, client_for(url) as client:
            async with client.subscribe_buy("1", price=10, parameters=buy_parameters()) as stream:
                first = await stream.__anext__()
                assert type(first).__name__ == "BuyResponse" and first.buy.contract_id == 77
                seen = [await stream.__anext__() for _ in range(4)]  # 1 before the drop, 3 after it
                assert {type(m).__name__ for m in seen} == {"ProposalOpenContractResponse"}
                assert [m.proposal_open_contract.bid_price for m in seen] == [
                    "10.00",
                    "11.00",
                    "12.00",
                    "13.00",
                ]
                assert stream.gaps == 1

        assert exchange.count("buy") == 1, exchange.requests
        (follow,) = [r for r in exchange.requests if "proposal_open_contract" in r]
        assert follow["contract_id"] == 77 and follow["subscribe"] == 1 and "price" not in follow
        assert exchange.connections == 2

    run(scenario)


def test_subscribe_buy_dropped_before_the_receipt_ends_with_outcome_unknown(deriv_options_dist: Path) -> None:
    exchange = Exchange()

    async def handler(ws: ServerConnection) -> None:
        async for request in exchange.requests_on(ws):
            if "buy" in request:
                ws.transport.abort()  # the order may have been placed; no receipt ever comes
                return
            if "ping" in request:
                await ws.send(answer(request, "ping", "pong"))

    async def scenario() -> None:
        async with hostile(handler) as url, client_for(url) as client:
            with pytest.raises(OutcomeUnknown) as err:
                async with client.subscribe_buy("1", price=10, parameters=buy_parameters()):
                    pytest.fail("the stream must not open: its receipt never came")
            assert "portfolio or profit_table" in str(err.value) and "may or may not" in str(err.value)
            assert (await client.ping()).ping == "pong"  # the client reconnected and works
            assert client.transport.protocol.streams == {}

        assert exchange.count("buy") == 1, exchange.requests
        assert exchange.connections == 2

    run(scenario)


def test_read_only_streams_that_need_trade_scope_still_resubscribe(deriv_options_dist: Path) -> None:
    from deriv_options import CALLS

    assert CALLS["balance"].repeatable and CALLS["transaction"].repeatable
    assert CALLS["proposal_open_contract"].repeatable and CALLS["auto_get"].repeatable
    assert not CALLS["buy"].repeatable and not CALLS["auto_start"].repeatable
    assert CALLS["buy"].resume is not None and CALLS["auto_start"].resume is not None
    exchange = Exchange()

    async def handler(ws: ServerConnection) -> None:
        async for request in exchange.requests_on(ws):
            if "balance" in request:
                body = {"balance": 100.0 + exchange.connections, "currency": "USD", "loginid": "DEMO1"}
                await ws.send(answer(request, "balance", body, subscription={"id": "b"}))
                if exchange.connections == 1:
                    ws.transport.abort()
                    return

    async def scenario() -> None:
        async with hostile(handler) as url, client_for(url) as client:
            async with client.subscribe_balance() as stream:
                assert (await stream.__anext__()).balance.balance == 101.0
                assert (await stream.__anext__()).balance.balance == 102.0
        assert exchange.count("balance") == 2

    run(scenario)


def test_a_request_that_acts_is_not_resent_when_its_send_fails() -> None:
    """A send can raise ConnectionClosed after the frame was handed to the socket (the drop is
    seen while draining): an order must then end with OutcomeUnknown, a read may be sent again."""
    from deriv_runtime.calls import CallInfo
    from deriv_runtime.ws import WebSocketTransport
    from websockets.exceptions import ConnectionClosedError

    class HalfSent:
        def __init__(self) -> None:
            self.frames: list[str] = []

        async def send(self, data: str) -> None:
            self.frames.append(data)
            if len(self.frames) == 1:
                raise ConnectionClosedError(None, None)

        send_soon = send  # the transport's calls send through the connection's coalescing send

        async def wait_closed(self) -> None:
            return None

    buy = CallInfo("buy", True, ("trade",), True, ("buy",), repeatable=False, check="portfolio")
    ping = CallInfo("ping", False, (), False, ("ping",), repeatable=True)

    async def scenario() -> None:
        transport = WebSocketTransport("ws://127.0.0.1:9")
        ws = HalfSent()
        transport._ws = ws
        transport._supervisor = asyncio.ensure_future(asyncio.sleep(3600))
        transport._connected.set()
        with pytest.raises(OutcomeUnknown, match="check with portfolio"):
            await transport.request({"buy": "1", "price": 10}, timeout=1, info=buy)
        assert len(ws.frames) == 1 and transport.protocol.pending == {}
        ws.frames.clear()
        with pytest.raises(CallTimeout):  # re-sent once (a read), then nobody answers
            await transport.request({"ping": 1}, timeout=0.2, info=ping)
        assert len(ws.frames) == 2 and transport.protocol.pending == {}
        transport._supervisor.cancel()

    run(scenario)


# -- 3. reconnect never dies ----------------------------------------------------------------------


def ticker(counter: list[int]) -> Handler:
    async def handler(ws: ServerConnection) -> None:
        counter.append(1)
        async for frame in ws:
            request = orjson.loads(frame)
            if "ticks" in request:
                for n in range(3):
                    tick = {"quote": 100.0 + n, "symbol": "R_100", "epoch": 1, "id": "t"}
                    await ws.send(answer(request, "tick", tick, subscription={"id": "t"}))
                ws.transport.abort()
                return
            if "ping" in request:
                await ws.send(answer(request, "ping", "pong"))

    return handler


def test_a_failing_url_source_is_one_failed_attempt_and_the_stream_resumes(deriv_options_dist: Path) -> None:
    connections: list[int] = []
    calls = 0

    async def scenario() -> None:
        async with hostile(ticker(connections)) as url:

            async def otp_url() -> str:
                nonlocal calls
                calls += 1
                if calls == 2:
                    raise RuntimeError("OTP endpoint answered 503")
                if calls == 3:
                    raise ValueError("refusing an insecure URL: http://example.invalid/?otp=CANARY")
                return url

            async with client_for(otp_url) as client:
                async with client.subscribe_ticks("R_100") as ticks:
                    quotes = [(await ticks.__anext__()).tick.quote for _ in range(6)]
                    assert quotes == [100.0, 101.0, 102.0] * 2
                    assert ticks.gaps == 1
        assert calls == 4 and len(connections) == 2

    run(scenario)


def test_giving_up_fails_everything_with_the_cause_and_close_does_not_raise(
    deriv_options_dist: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connections: list[int] = []
    calls = 0

    async def scenario() -> None:
        async with hostile(ticker(connections)) as url:

            def otp_url() -> str:
                nonlocal calls
                calls += 1
                if calls > 1:
                    raise RuntimeError("OTP endpoint answered 503 for wss://x/?otp=CANARY-OTP")
                return url

            policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=3)
            client_cm = client_for(otp_url, reconnect=policy)
            client = await client_cm.__aenter__()
            async with client.subscribe_ticks("R_100") as ticks:
                with pytest.raises(ConnectionFailed, match="gave up reconnecting after 3 attempts") as err:
                    async for _ in ticks:
                        pass
                assert isinstance(err.value.__cause__, RuntimeError)
                assert "CANARY-OTP" not in str(err.value)
            with pytest.raises(ConnectionFailed):
                await client.ping()
            await client_cm.__aexit__(None, None, None)  # must not raise the background error
            await client.close()

    with caplog.at_level(logging.DEBUG, logger="deriv_runtime"):
        run(scenario)
    assert calls == 4
    assert not any("CANARY-OTP" in r.getMessage() for r in caplog.records)


# -- 4. every wait has a deadline -----------------------------------------------------------------


def test_a_peer_that_stops_reading_cannot_block_a_call_past_its_deadline(deriv_options_dist: Path) -> None:
    stop = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await stop.wait()  # reads nothing: its queue fills, then the TCP window closes

    big = {"blob": "x" * 2**20}

    async def scenario() -> None:
        async with hostile(handler, max_size=None, max_queue=1) as url:
            async with client_for(url, ping_interval=None) as client:
                transport = client.transport
                results = await asyncio.gather(
                    *[client.ping(passthrough=big, timeout=2) for _ in range(24)], return_exceptions=True
                )
                assert all(isinstance(r, CallTimeout) for r in results), results
                assert any("could not send" in str(r) for r in results), "no send was ever blocked"
                assert transport.protocol.pending == {} and transport._futures == {}
                # a cancelled call leaves nothing behind either
                task = asyncio.ensure_future(client.ping(passthrough=big, timeout=30))
                await asyncio.sleep(0.2)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert transport.protocol.pending == {} and transport._futures == {}
                stop.set()

    run(scenario)


def test_closing_against_a_peer_that_stopped_reading_ends_within_the_close_timeout(
    deriv_options_dist: Path,
) -> None:
    stop = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await stop.wait()  # reads nothing and never closes (no keepalive of its own)

    async def scenario() -> None:
        async with hostile(handler, max_size=None, max_queue=1, ping_interval=None, close_timeout=0.5) as url:
            try:
                options = {"ping_interval": None, "connect_options": {"close_timeout": 0.5}}
                async with client_for(url, **options) as client:
                    ws = client.transport._ws
                    big = {"blob": "x" * 2**20}
                    results = await asyncio.gather(
                        *[client.ping(passthrough=big, timeout=1) for _ in range(24)], return_exceptions=True
                    )
                    assert {type(r) for r in results} == {CallTimeout}, results
                    assert ws.transport.get_write_buffer_size() > 0  # the closing handshake cannot leave
                    await client.close()  # bounded by close_timeout (the guard below is far longer)
                    assert ws.transport.is_closing()
            finally:
                stop.set()

    run(scenario, guard=20)


def test_a_stream_that_never_gets_its_first_answer_times_out(deriv_options_dist: Path) -> None:
    async def handler(ws: ServerConnection) -> None:
        async for _ in ws:
            pass  # reads everything, answers nothing (pings are answered by the library)

    async def scenario() -> None:
        async with hostile(handler) as url:
            async with client_for(url, timeout=1, ping_interval=0.1, ping_timeout=1) as client:
                with pytest.raises(CallTimeout, match="ticks: no first answer within 1"):
                    async with client.subscribe_ticks("R_100"):
                        pytest.fail("no answer came: the stream must not open")
                with pytest.raises(CallTimeout, match="no answer within 1"):
                    await client.ping()
                transport = client.transport
                assert transport.protocol.streams == {} and transport.protocol.pending == {}
                assert transport._queues == {} and transport.connections == 1  # pings kept it up

    run(scenario)


def test_a_stream_refused_at_once_raises_when_opened(deriv_options_dist: Path) -> None:
    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = orjson.loads(frame)
            error = {"code": "InvalidSymbol", "message": "Symbol NOPE is invalid."}
            message = {"echo_req": request, "msg_type": "tick", "error": error, "req_id": request["req_id"]}
            await ws.send(orjson.dumps(message).decode())

    async def scenario() -> None:
        from deriv_runtime import APIError

        async with hostile(handler) as url, client_for(url) as client:
            with pytest.raises(APIError, match="InvalidSymbol"):
                async with client.subscribe_ticks("NOPE"):
                    pytest.fail("refused: must not open")
            assert client.transport._queues == {}

    run(scenario)


# -- 5. errors are never swallowed ----------------------------------------------------------------


@pytest.mark.parametrize("error", ["boom", ["boom"], 42, None])
def test_an_error_that_is_not_an_object_raises(deriv_options_dist: Path, error: Any) -> None:
    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = orjson.loads(frame)
            msg_type = "tick" if "ticks" in request else "ping"
            message = {"echo_req": request, "msg_type": msg_type, "req_id": request["req_id"]}
            if msg_type == "tick":
                message["subscription"] = {"id": "t"}
                await ws.send(orjson.dumps({**message, "tick": {"quote": 1.0}}).decode())
            await ws.send(orjson.dumps({**message, "error": error}).decode())

    async def scenario() -> None:
        async with hostile(handler) as url, client_for(url) as client:
            with pytest.raises(ResponseError, match="error that is not an object") as err:
                await client.ping()
            assert err.value.raw["error"] == error and err.value.raw["msg_type"] == "ping"
            async with client.subscribe_ticks("R_100") as ticks:
                assert (await ticks.__anext__()).tick.quote == 1.0
                with pytest.raises(ResponseError, match="error that is not an object"):
                    await ticks.__anext__()

    run(scenario)


# -- 9. memory ------------------------------------------------------------------------------------


def test_stream_buffers_are_bounded_in_bytes(deriv_options_dist: Path) -> None:
    sent = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = orjson.loads(frame)
            if "ticks" in request:
                for n in range(40):  # 40 unread messages of 1 MiB each
                    tick = {"quote": float(n), "symbol": "R_100", "pad": "x" * 2**20}
                    await ws.send(answer(request, "tick", tick, subscription={"id": "t"}))
                await ws.send(answer(request, "ping", "pong", req_id=10**6))
                sent.set()

    async def scenario() -> None:
        async with hostile(handler, max_size=None) as url:
            async with client_for(url, stream_buffer_bytes=4 * 2**20, max_message_size=None) as client:
                async with client.subscribe_ticks("R_100") as ticks:
                    await sent.wait()
                    await asyncio.sleep(0.3)  # let the reader take every frame
                    queue = ticks._messages
                    assert queue.buffered_bytes <= 4 * 2**20, queue.buffered_bytes
                    assert len(queue) <= 4 and ticks.dropped >= 36
                    assert (await ticks.__anext__()).tick.quote >= 36.0  # the newest were kept

    run(scenario)


def test_a_garbage_flood_is_counted_not_logged_frame_by_frame(
    deriv_options_dist: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = orjson.loads(frame)
            for _ in range(5000):
                await ws.send("not json at all")
            await ws.send(answer(request, "ping", "pong"))

    async def scenario() -> None:
        async with hostile(handler) as url, client_for(url) as client:
            assert (await client.ping()).ping == "pong"
            assert client.transport.ignored_frames == 5000

    with caplog.at_level(logging.WARNING, logger="deriv_runtime.ws"):
        run(scenario)
    assert len([r for r in caplog.records if "ignored" in r.getMessage()]) <= 2


# -- 10. the websockets hook ----------------------------------------------------------------------


def test_the_websockets_dispatch_hook_is_still_called(deriv_options_dist: Path) -> None:
    """The transport overrides ``ClientConnection.process_event`` (internal to websockets). If a new
    websockets release stops calling it, every answer would wait for its deadline: fail loudly here."""

    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            await ws.send(answer(orjson.loads(frame), "ping", "pong"))

    async def scenario() -> None:
        async with hostile(handler) as url, client_for(url) as client:
            try:
                await client.ping(timeout=5)
            except CallTimeout:
                pytest.fail("websockets no longer calls process_event: the dispatch hook in ws.py is dead")
            ws = client.transport._ws
            assert ws.dispatched == 1, "answers arrived some other way than through the dispatch hook"

    run(scenario)


def test_close_is_idempotent_and_ends_streams(deriv_options_dist: Path) -> None:
    counter: list[int] = []

    async def scenario() -> None:
        async with hostile(ticker(counter)) as url, client_for(url, reconnect=False) as client:
            await client.close()
            await client.close()
            with pytest.raises(TransportClosed):
                await client.ping()

    run(scenario)


def test_unreadable_answers_keep_their_values_out_of_error_messages(deriv_options_dist: Path) -> None:
    canary = "CANARY-OTP-5f1e"

    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = orjson.loads(frame)
            call = "time" if "time" in request else "ping"
            await ws.send(answer(request, call, f"wss://x/?otp={canary}"))

    async def scenario() -> None:
        async with hostile(handler) as url:
            async with client_for(url) as client:
                drifted = await client.time()  # read anyway: the drift reported, never its value
                assert [d.where for d in drift_of(drifted)] == ["time"]
                assert canary not in repr(drift_of(drifted)) and canary not in str(drift_of(drifted)[0])
                assert canary in str(raw_of(drifted))  # kept for the user, outside the report
            async with client_for(url, strict=True) as client:
                with pytest.raises(ResponseError, match="breaks its schema") as err:
                    await client.ping()
                assert canary not in str(err.value) and "the value" in str(err.value)

    run(scenario)
