"""The connection pool (:class:`deriv_runtime.pool.PooledTransport`) against the mock servers over
real sockets: streams spread under a per-connection cap, single connections dropped, every stream
re-subscribed on its own connection and nowhere else."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deriv_runtime.errors import ConnectionFailed, TransportClosed
from deriv_runtime.mock import MockServer
from deriv_runtime.pool import PooledTransport, PoolFull
from deriv_runtime.transport import Transport
from deriv_runtime.ws import ReconnectPolicy

from .conftest import CONTRACT_PARAMS

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)


@pytest.fixture
def server(deriv_options_dist: Path) -> Iterator[MockServer]:
    # no clock: a stream speaks only when (re-)subscribed, so what arrives is exactly the resumptions
    with MockServer("deriv_options", tick_interval=None, seed=1).run_in_thread() as running:
        yield running


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


def mock_numbers(server: MockServer, pool: PooledTransport) -> list[int]:
    """The mock's connection number of each member's current connection, by member index."""
    by_port = {session.link.ws.remote_address[1]: session.number for session in server.sessions()}
    return [by_port[member._ws.local_address[1]] for member in pool.members]


def amounts_by_connection(server: MockServer) -> dict[int, Counter[int]]:
    """The proposal amounts each live mock connection is subscribed to (a Counter: duplicates show)."""
    return {
        session.number: Counter(int(sub.request["amount"]) for sub in list(session.subscriptions.values()))
        for session in server.sessions()
    }


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def test_the_pool_is_a_transport() -> None:
    pool = PooledTransport("ws://127.0.0.1:1", connections=3, max_streams_per_connection=7)
    assert isinstance(pool, Transport)
    assert (pool.size, pool.capacity, pool.load()) == (3, 21, [0, 0, 0])
    with pytest.raises(ValueError, match="connections"):
        PooledTransport("ws://127.0.0.1:1", connections=0)
    with pytest.raises(ValueError, match="max_streams_per_connection"):
        PooledTransport("ws://127.0.0.1:1", max_streams_per_connection=0)


def test_2000_streams_over_4_connections_survive_5_single_drops(server: MockServer) -> None:
    from deriv_options import OptionsClient

    total, size = 2000, 4

    async def scenario() -> None:
        pool = PooledTransport(
            server.url, connections=size, max_streams_per_connection=total // size, reconnect=FAST
        )
        async with OptionsClient(pool) as client:
            params = {k: v for k, v in CONTRACT_PARAMS.items() if k != "amount"}
            streams = [client.subscribe_proposal(**params, amount=1 + i) for i in range(total)]
            try:
                for start in range(0, total, 250):  # opened 250 at a time, concurrently
                    await asyncio.gather(*(s.__aenter__() for s in streams[start : start + 250]))
                for stream in streams:
                    assert (await stream.__anext__()).proposal is not None
                homes = [pool.home_of(stream) for stream in streams]
                assert pool.load() == [total // size] * size
                assert Counter(homes) == dict.fromkeys(range(size), total // size)

                def check_server() -> None:
                    """Each member's connection carries exactly its own streams, once each."""
                    numbers = mock_numbers(server, pool)
                    held = amounts_by_connection(server)
                    assert sorted(held) == sorted(numbers)
                    for index, number in enumerate(numbers):
                        mine = Counter(1 + i for i, home in enumerate(homes) if home == index)
                        assert held[number] == mine
                    assert len(server.subscriptions) == total

                check_server()
                victims = [2, 0, 3, 1, 2]
                gaps = [0] * size
                for victim in victims:
                    member = pool.members[victim]
                    opened = member.connections
                    number = mock_numbers(server, pool)[victim]
                    assert await server.drop_connection(number)
                    gaps[victim] += 1
                    await until(lambda m=member, n=opened + 1: m.connections == n and m.is_connected)
                    for stream, home in zip(streams, homes, strict=True):
                        assert stream.gaps == gaps[home]  # the other connections were not touched
                        if home == victim:  # resumed: its re-subscription's first answer arrives
                            message = await asyncio.wait_for(stream.__anext__(), 10)
                            assert message.proposal is not None
                    assert [pool.home_of(stream) for stream in streams] == homes
                    # the old connection is gone on the mock's side too, the new one carries its streams
                    await until(lambda: server.connection_count == size)
                    await until(lambda: len(server.subscriptions) >= total)
                    check_server()
                assert gaps == [1, 1, 2, 1]
                assert pool.connections == size + len(victims)
                assert all(s.dropped == 0 for s in streams)
            finally:
                await asyncio.gather(*(s.__aexit__(None, None, None) for s in streams))
            assert pool.load() == [0] * size
            await until(lambda: not server.subscriptions)  # every stream was forgotten on its connection

    run(scenario)


def test_calls_are_spread_and_the_cap_is_kept(server: MockServer) -> None:
    from deriv_options import OptionsClient

    async def scenario() -> None:
        pool = PooledTransport(server.url, connections=2, max_streams_per_connection=2, reconnect=FAST)
        sent: Counter[int] = Counter()
        for index, member in enumerate(pool.members):
            request = member.request

            async def counted(payload: Any, *, _i: int = index, _r: Any = request, **kw: Any) -> Any:
                sent[_i] += 1
                return await _r(payload, **kw)

            member.request = counted  # type: ignore[method-assign]
        async with OptionsClient(pool) as client:
            assert pool.connections == 2 and pool.is_connected
            answers = await asyncio.gather(*(client.ping(passthrough={"n": i}) for i in range(10)))
            assert [a.echo_req["passthrough"]["n"] for a in answers] == list(range(10))
            assert sent == {0: 5, 1: 5}
            symbols = ["R_10", "R_25", "R_50", "R_75"]
            streams = [client.subscribe_ticks(symbol) for symbol in symbols]
            for stream in streams:
                await stream.__aenter__()
            assert pool.load() == [2, 2]
            assert [pool.home_of(s) for s in streams] == [0, 1, 0, 1]
            with pytest.raises(PoolFull, match="every connection of the pool carries 2 streams"):
                async with client.subscribe_ticks("R_100"):
                    pass
            assert pool.load() == [2, 2]
            await streams[1].__aexit__(None, None, None)
            async with client.subscribe_ticks("R_100") as more:  # the freed place, on member 1
                assert pool.home_of(more) == 1
                assert pool.load() == [2, 2]
            for stream in (streams[0], *streams[2:]):
                await stream.__aexit__(None, None, None)
            assert pool.load() == [0, 0]

    run(scenario)


def test_closing_closes_every_connection(server: MockServer) -> None:
    from deriv_options import OptionsClient

    async def scenario() -> None:
        pool = PooledTransport(server.url, connections=3, reconnect=FAST)
        client = OptionsClient(pool)
        await client.__aenter__()
        await until(lambda: server.connection_count == 3)
        async with client.subscribe_ticks("R_10") as ticks:
            await ticks.__anext__()
            await client.close()
            async for _ in ticks:  # the stream ends
                pass
        with pytest.raises(TransportClosed):
            await client.ping()
        with pytest.raises(TransportClosed):
            async with client.subscribe_ticks("R_25"):
                pass
        await until(lambda: server.connection_count == 0)
        await pool.close()  # twice is fine

    run(scenario)


def test_on_connect_runs_on_every_connection_and_a_failed_open_closes_the_pool(server: MockServer) -> None:
    async def scenario() -> None:
        seen: list[str] = []

        async def on_connect(call: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
            seen.append((await call({"ping": 1}))["ping"])

        pool = PooledTransport(server.url, connections=3, reconnect=FAST, on_connect=on_connect)
        await pool.connect()
        try:
            assert seen == ["pong"] * 3
            await server.drop_connection(mock_numbers(server, pool)[1])
            await until(lambda: pool.connections == 4 and pool.is_connected)
            assert seen == ["pong"] * 4
        finally:
            await pool.close()

        calls = 0

        def url() -> str:
            nonlocal calls
            calls += 1
            return server.url if calls != 2 else "ws://127.0.0.1:1/nothing-here"

        broken = PooledTransport(url, connections=3, reconnect=False)
        with pytest.raises(ConnectionFailed):
            await broken.connect()
        await until(lambda: server.connection_count == 0)

    run(scenario)


def test_json_rpc_over_the_pool() -> None:
    from deriv_runtime.jsonrpc import JsonRpcProtocol
    from deriv_runtime.mock.deribit import MockDeribit
    from deriv_runtime.rpc import BaseRpcClient, Channel

    from .conftest import SHARED_SCHEMAS

    spec = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"
    if not spec.is_file():
        pytest.skip("the Deribit OpenAPI document is not mirrored")
    mock = MockDeribit(spec, tick_interval=0.02)
    names = ["ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.100ms"]

    async def scenario() -> None:
        pool = PooledTransport(
            lambda: mock.ws_url,  # called on every connect: the mock has its port by then
            connections=2,
            max_streams_per_connection=1,
            reconnect=FAST,
            wire=JsonRpcProtocol,
        )
        async with mock, BaseRpcClient(pool) as client:
            for _ in range(4):
                assert isinstance(await client._call("public/get_time", None, int), int)
            first = client.subscribe(Channel(names[0], Any))
            second = client.subscribe(Channel(names[1], Any))
            async with first, second:
                assert (pool.home_of(first), pool.home_of(second)) == (0, 1)
                assert (await first.__anext__()).channel == names[0]
                with pytest.raises(PoolFull):
                    async with client.subscribe(Channel(names[0], Any)):
                        pass
                assert await mock.drop_all() == 2
                await until(lambda: first.gaps == 1 and second.gaps == 1)
                for stream, name in ((first, names[0]), (second, names[1])):
                    while (await stream.__anext__()).channel != name:
                        pass
                assert sorted(c for _, c in mock.subscriptions) == sorted(names)
            assert pool.load() == [0, 0]

    run(scenario)


def test_connect_with_pool_runs_the_client_over_n_connections() -> None:
    from deriv_runtime.mock.deribit import MockDeribit
    from deriv_runtime.rpc import BaseRpcClient, Channel

    from .conftest import SHARED_SCHEMAS

    spec = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"
    if not spec.is_file():
        pytest.skip("the Deribit OpenAPI document is not mirrored")
    mock = MockDeribit(spec, tick_interval=0.02)
    names = ["ticker.BTC-PERPETUAL.100ms", "ticker.ETH-PERPETUAL.100ms"]

    async def scenario() -> None:
        async with mock:
            opening = BaseRpcClient.connect(mock.ws_url, pool=2, max_streams_per_connection=1, reconnect=FAST)
            async with opening as client:
                pool = client.transport
                assert isinstance(pool, PooledTransport) and pool.size == 2
                assert mock.total_connections == 2
                async with client.subscribe(Channel(names[0], Any)) as first:
                    async with client.subscribe(Channel(names[1], Any)) as second:
                        assert (pool.home_of(first), pool.home_of(second)) == (0, 1)
                        assert (await second.__anext__()).channel == names[1]
                        with pytest.raises(PoolFull):
                            async with client.subscribe(Channel(names[0], Any)):
                                pass

    run(scenario)


def test_the_bench_report_prints_bytes_as_bytes() -> None:
    from benchmarks.report import figure, span

    assert figure(512.0, "B") == "512 B"
    assert figure(14.5 * 1024, "B") == "14.50 KiB"
    assert figure(63 * 2**20, "B") == "63.0 MiB"
    assert figure(0.042) == "42 ms"
    assert span((1024.0, 2048.0), "B") == "1.00 KiB - 2.00 KiB"
