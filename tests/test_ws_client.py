"""The generated client over real WebSockets, end to end against the mock server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from deriv_runtime import APIError, RequestValidationError, ResponseError
from deriv_runtime.errors import (
    CallTimeout,
    ConnectionFailed,
    ConnectionLost,
    StreamOverflow,
    TransportClosed,
)
from deriv_runtime.mock import MockServer
from deriv_runtime.testing import InMemoryTransport
from deriv_runtime.ws import ReconnectPolicy, WebSocketTransport

from .conftest import CONTRACT_PARAMS

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
PARAMS: dict[str, Any] = dict(CONTRACT_PARAMS)


@pytest.fixture
def server(deriv_options_dist: Path) -> Iterator[MockServer]:
    with MockServer("deriv_options", tick_interval=0.005, seed=1).run_in_thread() as running:
        yield running


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


@asynccontextmanager
async def client_for(url: Any, **options: Any) -> AsyncIterator[Any]:
    from deriv_options import OptionsClient

    options.setdefault("reconnect", FAST)
    async with OptionsClient.connect(url, **options) as client:
        yield client


def test_a_call_returns_its_typed_answer(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            pong = await client.ping()
            assert type(pong).__name__ == "PingResponse"
            assert pong.ping == "pong"
            assert (await client.time()).time is not None

    run(scenario)


def test_1000_concurrent_calls_each_reach_their_caller(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            answers = await asyncio.gather(*[client.ping(passthrough={"n": i}) for i in range(1000)])
            assert [a.echo_req["passthrough"]["n"] for a in answers] == list(range(1000))
            assert client.transport.protocol.pending == {}

    run(scenario)


def test_api_errors_are_typed(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            with pytest.raises(APIError) as err:
                await client.sell(123456789, price=1)
            assert err.value.code and err.value.message
            assert err.value.echo_req["sell"] == 123456789

    run(scenario)


def test_invalid_request_never_reaches_the_server(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            before = len(server.requests)
            with pytest.raises(RequestValidationError) as err:
                await client.ticks("not a symbol!")
            assert err.value.fields[0].startswith("ticks")
            with pytest.raises(RequestValidationError) as err:
                await client.proposal(**{**PARAMS, "duration_unit": "weeks"})  # type: ignore[arg-type]
            assert err.value.fields == ["duration_unit"]
            assert len(server.requests) == before

    run(scenario)


def test_numbers_are_not_coerced(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            proposal = await client.proposal(**{**PARAMS, "amount": 10.5})
            assert server.requests[-1]["amount"] == 10.5
            assert proposal.proposal is not None
            receipt = await client.buy(proposal.proposal.id, price=100.25)
            assert server.requests[-1]["price"] == 100.25
            assert receipt.buy is not None and isinstance(receipt.buy.buy_price, float)

    run(scenario)


def test_timeout_cancellation_and_late_answers(server: MockServer, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            server.delay_calls["time"] = 0.3
            started = time.monotonic()
            with pytest.raises(CallTimeout):
                await client.time(timeout=0.05)
            assert time.monotonic() - started < 0.25
            task = asyncio.create_task(client.time())
            await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client.transport.protocol.pending == {}
            # the late answers arrive now; they must not be taken for this ping's answer
            pong = await client.ping(timeout=2)
            assert pong.msg_type == "ping"
            await asyncio.sleep(0.4)
            assert (await client.ping()).msg_type == "ping"

    with caplog.at_level(logging.WARNING, logger="deriv_runtime.ws"):
        run(scenario)
    assert any("nobody is waiting" in r.getMessage() for r in caplog.records)


def test_stream_context_manager_unsubscribes(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            got = []
            async with client.subscribe_ticks("R_100") as ticks:
                async for tick in ticks:
                    got.append(tick)
                    if len(got) == 5:
                        break
            assert all(type(t).__name__ == "TicksResponse" and t.tick.quote for t in got)
            epochs = [t.tick.epoch for t in got]
            assert epochs == sorted(epochs)
            for _ in range(100):
                if not server.subscriptions:
                    break
                await asyncio.sleep(0.01)
            assert server.subscriptions == []
            assert any("forget" in r for r in server.requests)

    run(scenario)


def test_forget_all_ends_local_streams(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client, client.subscribe_ticks("R_100") as ticks:
            await ticks.__anext__()
            answer = await client.forget_all("ticks")
            assert answer.forget_all
            rest = [t async for t in ticks]  # ends instead of hanging
            assert len(rest) < 50

    run(scenario)


def test_ticks_history_stream_yields_history_then_ticks(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            kinds = []
            async with client.subscribe_ticks_history("R_100", end="latest", count=10) as stream:
                async for message in stream:
                    kinds.append(type(message).__name__)
                    if len(kinds) == 3:
                        break
            assert kinds[0] == "TicksHistoryResponse"
            assert kinds[1:] == ["TicksResponse", "TicksResponse"]

    run(scenario)


def test_trade_flow_proposal_buy_open_contract_sell(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url, strict=True) as client:
            start = (await client.balance()).balance.balance
            proposal = (await client.proposal(**PARAMS)).proposal
            receipt = (await client.buy(proposal.id, price=proposal.ask_price)).buy
            updates = []
            async with client.subscribe_proposal_open_contract(contract_id=receipt.contract_id) as poc:
                async for update in poc:
                    updates.append(update.proposal_open_contract)
                    if update.proposal_open_contract.is_sold:
                        break
            assert updates[-1].is_sold and updates[-1].contract_id == receipt.contract_id
            after = (await client.balance()).balance.balance
            assert after == pytest.approx(start - receipt.buy_price + float(updates[-1].sell_price or 0))

    run(scenario)


def test_garbage_and_unknown_req_ids_do_not_stop_the_reader(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            await client.ping()
            await server.send_garbage()
            await server.answer_unknown_req_id()
            assert (await client.ping()).ping == "pong"
            assert client.transport.connections == 1
            # three garbage frames and one unknown req_id: all counted, one warning (throttled)
            assert client.transport.ignored_frames == 4

    with caplog.at_level(logging.WARNING, logger="deriv_runtime.ws"):
        run(scenario)
    (record,) = [r for r in caplog.records if "ignored" in r.getMessage()]
    assert "not JSON" in record.getMessage()


def test_drop_fails_calls_in_flight_promptly(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url) as client:
            server.delay_calls["time"] = 5
            task = asyncio.create_task(client.time(timeout=10))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await server.drop_all()
            with pytest.raises(ConnectionLost):
                await task
            assert time.monotonic() - started < 1
            server.delay_calls.clear()
            assert (await client.ping(timeout=5)).ping == "pong"  # waits for the reconnect
            assert client.transport.connections == 2

    run(scenario)


def test_fifty_drops_with_five_live_streams(server: MockServer) -> None:
    symbols = ["R_10", "R_25", "R_50", "R_75", "R_100"]

    async def scenario() -> None:
        tasks_before = asyncio.all_tasks()
        urls: list[str] = []

        def url() -> str:
            urls.append(server.url)
            return server.url

        async with client_for(url) as client:
            async with contextlib_streams(client, symbols) as streams:
                counts = [0] * 5
                stop = asyncio.Event()

                async def consume(i: int) -> None:
                    async for _tick in streams[i]:
                        counts[i] += 1
                        if stop.is_set():
                            return

                consumers = [asyncio.create_task(consume(i)) for i in range(5)]
                call_times: list[float] = []
                transport = client.transport
                for drop in range(50):
                    connections = transport.connections
                    await server.drop_all()
                    started = time.monotonic()
                    try:
                        await client.ping(timeout=1.0)
                    except (ConnectionLost, CallTimeout):
                        pass
                    call_times.append(time.monotonic() - started)
                    while transport.connections == connections or not transport.is_connected:
                        await asyncio.sleep(0.002)
                    seen = list(counts)  # every stream must deliver again on the new connection
                    while any(c <= s for c, s in zip(counts, seen, strict=True)):
                        await asyncio.sleep(0.002)
                    assert all(s.gaps == drop + 1 for s in streams)
                stop.set()
                await asyncio.wait_for(asyncio.gather(*consumers), 5)
                assert all(s.gaps >= 50 for s in streams)
                assert max(call_times) < 1.5
            assert client.transport.connections >= 51
            assert len(urls) == client.transport.connections  # the URL callable ran on every connect
        await asyncio.sleep(0)
        leftover = asyncio.all_tasks() - tasks_before
        assert leftover == set()

    run(scenario, timeout=120)
    gc.collect()


@asynccontextmanager
async def contextlib_streams(client: Any, symbols: list[str]) -> AsyncIterator[list[Any]]:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(client.subscribe_ticks(s)) for s in symbols]


def test_keepalive_detects_a_silent_peer(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url, ping_interval=0.1, ping_timeout=0.2) as client:
            async with client.subscribe_ticks("R_100") as ticks:
                await ticks.__anext__()
                server.silent = True
                await asyncio.sleep(0.6)
                server.silent = False
                deadline = time.monotonic() + 5
                while client.transport.connections < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert client.transport.connections >= 2
                await asyncio.wait_for(ticks.__anext__(), 2)
                assert ticks.gaps >= 1

    run(scenario)


def test_slow_consumer_drop_oldest_keeps_memory_bounded(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url, stream_buffer=8) as client:
            async with client.subscribe_ticks("R_100") as ticks:
                await ticks.__anext__()
                await asyncio.sleep(0.3)  # ~60 ticks arrive meanwhile
                queue = ticks._messages
                assert len(queue) <= 8
                assert ticks.dropped > 0
                newest = [t.tick.epoch async for t in _take(ticks, 8)]
                assert newest == sorted(newest)

    run(scenario)


async def _take(stream: Any, n: int) -> AsyncIterator[Any]:
    for _ in range(n):
        yield await stream.__anext__()


def test_slow_consumer_fail_policy(server: MockServer) -> None:
    async def scenario() -> None:
        async with client_for(server.url, stream_buffer=4, overflow="fail") as client:
            async with client.subscribe_ticks("R_100") as ticks:
                await asyncio.sleep(0.2)
                with pytest.raises(StreamOverflow):
                    async for _ in ticks:
                        pass

    run(scenario)


def test_close_ends_streams_and_fails_waits(server: MockServer) -> None:
    async def scenario() -> None:
        from deriv_options import OptionsClient

        transport = WebSocketTransport(server.url, reconnect=FAST)
        client = OptionsClient(transport)
        await transport.connect()
        server.delay_calls["time"] = 5
        waiting = asyncio.create_task(client.time())
        stream = client.subscribe_ticks("R_100")
        await stream.__aenter__()

        async def drain() -> int:
            return len([t async for t in stream])

        draining = asyncio.create_task(drain())
        await asyncio.sleep(0.05)
        await client.close()
        with pytest.raises(TransportClosed):
            await waiting
        assert await asyncio.wait_for(draining, 1) >= 0
        await stream.__aexit__(None, None, None)
        with pytest.raises(TransportClosed):
            await client.ping()

    run(scenario)


def test_refused_handshake_and_giving_up(server: MockServer) -> None:
    async def scenario() -> None:
        server.refuse_handshake = True
        with pytest.raises(ConnectionFailed, match="503"):
            async with client_for(server.url):
                pass
        server.refuse_handshake = False
        policy = ReconnectPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=3)
        async with client_for(server.url, reconnect=policy) as client:
            async with client.subscribe_ticks("R_100") as ticks:
                await ticks.__anext__()
                server.refuse_handshake = True
                await server.drop_all()
                with pytest.raises(ConnectionFailed, match="gave up reconnecting after 3 attempts"):
                    async for _ in ticks:
                        pass
            with pytest.raises(ConnectionFailed):
                await client.ping()

    run(scenario)


def test_urls_with_secrets_are_not_logged(server: MockServer, caplog: pytest.LogCaptureFixture) -> None:
    canary = "otp-CANARY-5f2e"

    async def scenario() -> None:
        with pytest.raises(ConnectionFailed) as err:
            async with client_for(f"ws://127.0.0.1:9/ws/demo?otp={canary}"):
                pass
        assert canary not in str(err.value)
        async with client_for(f"{server.url}&extra={canary}") as client:
            await client.ping()
            await server.drop_all()
            await client.ping(timeout=5)
            assert canary not in repr(client) + repr(client.transport)

    with caplog.at_level(logging.DEBUG):
        run(scenario)
    assert caplog.records
    assert not [r for r in caplog.records if canary in r.getMessage()]


def test_strict_mode_checks_answers_against_the_schema(deriv_options_dist: Path) -> None:
    from deriv_options import OptionsClient

    bad = {"msg_type": "ping", "ping": "PONG!", "echo_req": {"ping": 1}}
    client = OptionsClient(InMemoryTransport(lambda p: bad), strict=True)
    with pytest.raises(ResponseError, match="ping"):
        run(client.ping)
    lenient = OptionsClient(InMemoryTransport(lambda p: bad))
    assert run(lenient.ping).ping == "PONG!"


def test_subscribe_buy_survives_a_drop_against_the_mock_without_buying_twice(server: MockServer) -> None:
    """The same rule against the project's mock: the stream follows the bought contract."""

    async def scenario() -> None:
        from deriv_options.models.buy import BuyParameters

        params = BuyParameters(**{**PARAMS, "duration": 1, "duration_unit": "d"})
        async with client_for(server.url) as client:
            async with client.subscribe_buy("1", price=10, parameters=params) as stream:
                first = await stream.__anext__()
                contract_id = first.buy.contract_id
                await stream.__anext__()
                await server.drop_all()
                while stream.gaps == 0:
                    message = await stream.__anext__()
                message = await stream.__anext__()
                assert type(message).__name__ == "ProposalOpenContractResponse"
                assert message.proposal_open_contract.contract_id == contract_id
            assert sum(1 for r in server.requests if "buy" in r) == 1
            assert list(server.account.contracts) == [contract_id]

    run(scenario)
