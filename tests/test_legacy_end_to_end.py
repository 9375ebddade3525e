"""Issue 10's acceptance tests for the whole v3 path: the generated ``deriv_v3`` client (generated from
the mirror by ``test_legacy_v3``'s fixture), ``LegacyAuth`` and ``MockLegacy``, over real sockets.

authorize -> balance stream -> buy -> portfolio -> sell; then 10 forced drops with two private streams:
on every new connection ``authorize`` is the first request, the streams come back after it, and the
purchase is never sent twice; a call the token's scopes do not allow fails before anything is sent.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator
from typing import Any

import pytest
from deriv_codegen.build import BuildResult
from deriv_runtime.auth.legacy import LegacyAuth, ScopeError
from deriv_runtime.legacy import v3_url
from deriv_runtime.mock import MockLegacy
from deriv_runtime.ws import ReconnectPolicy

from .conftest import imported
from .test_legacy_v3 import V3_ZIP, v3

__all__ = ["v3"]  # the generated package, shared fixture

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="module")
def api(v3: BuildResult) -> Iterator[types.ModuleType]:
    with imported(v3.out_dir, "deriv_v3") as module:
        yield module


def _run(scenario: Any, guard: float = 60.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def _url(mock: MockLegacy) -> str:
    return v3_url(1089, language="en", endpoint=f"ws://127.0.0.1:{mock.port}/websockets/v3")


def test_authorize_balance_buy_portfolio_sell(api: types.ModuleType) -> None:
    mock = MockLegacy(V3_ZIP, tick_interval=0.05)
    auth = LegacyAuth(mock.token)

    async def scenario() -> None:
        async with mock, api.V3Client.connect(_url(mock), auth=auth) as client:
            assert auth.loginid is not None and "trade" in auth.scopes
            async with client.subscribe_balance() as balances:
                first = await balances.__anext__()
                before = first.balance.balance
                proposal = await client.proposal(
                    amount=10,
                    basis="stake",
                    contract_type="CALL",
                    currency=first.balance.currency,
                    duration=5,
                    duration_unit="t",
                    symbol="R_100",
                )
                bought = await client.buy(proposal.proposal.id, price=100)
                contract_id = bought.buy.contract_id
                after = await balances.__anext__()
                assert after.balance.balance < before
            portfolio = await client.portfolio()
            assert contract_id in [c.contract_id for c in portfolio.portfolio.contracts]
            sold = await client.sell(contract_id, price=0)
            assert sold.sell.contract_id == contract_id

    _run(scenario)
    calls = [r.call for r in mock.received]
    assert calls[0] == "authorize" and calls.count("buy") == 1 and "sell" in calls


def test_ten_drops_two_private_streams_authorize_first_never_buy_again(
    api: types.ModuleType,
) -> None:
    mock = MockLegacy(V3_ZIP, tick_interval=0.02)
    auth = LegacyAuth(mock.token)
    drops = 10

    async def scenario() -> list[int]:
        async with mock, api.V3Client.connect(_url(mock), auth=auth, reconnect=FAST) as client:
            balance = client.subscribe_balance()
            contract = client.subscribe_buy(
                "1",
                price=100,
                parameters={
                    "amount": 10,
                    "basis": "stake",
                    "contract_type": "CALL",
                    "currency": "USD",
                    "duration": 5,
                    "duration_unit": "m",
                    "symbol": "R_100",
                },
            )
            streams = [balance, contract]
            for stream in streams:
                await stream.__aenter__()
            received = [0, 0]

            async def read(index: int, stream: Any) -> None:
                async for _ in stream:
                    received[index] += 1

            async def both_get_more_than(base: list[int]) -> None:
                while any(n <= b for n, b in zip(received, base, strict=True)):
                    await asyncio.sleep(0.01)

            readers = [asyncio.create_task(read(i, s)) for i, s in enumerate(streams)]
            await both_get_more_than([0, 0])
            for drop in range(1, drops + 1):
                before = list(received)  # balance only speaks when it changes or is re-opened
                assert await mock.drop_all() == 1
                while any(s.gaps < drop for s in streams):
                    await asyncio.sleep(0.01)
                await both_get_more_than(before)
            for reader in readers:
                reader.cancel()
            gaps = [s.gaps for s in streams]
            for stream in streams:
                await stream.__aexit__(None, None, None)
            return gaps

    assert _run(scenario) == [drops, drops]
    by_connection: dict[int, list[str | None]] = {}
    for request in mock.received:
        by_connection.setdefault(request.connection, []).append(request.call)
    assert len(by_connection) == drops + 1
    for number, calls in by_connection.items():
        assert calls[0] == "authorize", (number, calls)
        if number > 1:  # the contract is followed, never bought again
            assert "buy" not in calls and "balance" in calls and "proposal_open_contract" in calls
    assert [c for calls in by_connection.values() for c in calls].count("buy") == 1


def test_a_call_beyond_the_tokens_scopes_fails_before_anything_is_sent(api: types.ModuleType) -> None:
    mock = MockLegacy(V3_ZIP, tokens={"read-only-token-1234": ["read"]})
    auth = LegacyAuth("read-only-token-1234")

    async def scenario() -> None:
        async with mock, api.V3Client.connect(_url(mock), auth=auth) as client:
            await client.balance()
            sent = len(mock.received)
            with pytest.raises(ScopeError, match="trade"):
                await client.buy("1", price=10)
            assert len(mock.received) == sent

    _run(scenario)
