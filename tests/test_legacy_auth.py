"""Deriv v3 ``authorize`` over real sockets, against the tests' own v3 server on 127.0.0.1.

Every connection is authorized before private streams come back (10 forced drops), nothing that
acts is sent twice, public streams come back too, scopes are checked before anything is sent, a
refused token is final, logout forgets, accounts switch, and tokens never show.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from deriv_runtime.auth.errors import AuthError
from deriv_runtime.auth.legacy import (
    Authorization,
    AuthorizationRefused,
    LegacyAuth,
    NotAuthorized,
    ScopeError,
)
from deriv_runtime.auth.legacy_oauth import parse_redirect
from deriv_runtime.auth.secret import Secret
from deriv_runtime.calls import CallInfo, Resume
from deriv_runtime.client import BaseClient, Stream
from deriv_runtime.errors import APIError, ConnectionFailed, DerivError
from deriv_runtime.legacy import v3_url
from deriv_runtime.protocol import Protocol
from deriv_runtime.ws import ReconnectPolicy
from pydantic import BaseModel, ConfigDict

from ._v3_server import Account, V3Server

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
CR = "a1-f7pnteezo4jzhpxclctizt27hyeot"
VR = "a1clwe3vfuuus5kraceykdsoqm4snfq"
READ_ONLY = "readonlytoken0123456789"
CANARY = "canary-Zq8vK2xP9wLm4TnR7yB3"
#: The seed's redirect, stray spaces and all.
SEED_REDIRECT = (
    f"https://example.com/redirect/?acct1=cr799393& token1={CR}&cur1=usd& acct2=vrtc1859315& "
    f"token2={VR}& cur2=usd"
)
PRIVATE_CALLS = {"balance", "transaction", "proposal_open_contract", "portfolio", "buy"}


class Anything(BaseModel):
    model_config = ConfigDict(extra="allow")


def info(
    name: str,
    scopes: tuple[str, ...] = (),
    *,
    streams: bool = False,
    repeatable: bool = True,
    resume: Resume | None = None,
) -> CallInfo:
    return CallInfo(
        name, bool(scopes), scopes, streams, (name,), repeatable, resume, "portfolio" if resume else ""
    )


READ = ("read", "trading_information")
TICKS = info("ticks", streams=True)
BALANCE = info("balance", READ, streams=True)
TRANSACTION = info("transaction", READ, streams=True)
PORTFOLIO = info("portfolio", READ)
SELL = info("sell", ("trade",), repeatable=False)
POC = Resume(
    "proposal_open_contract",
    (("proposal_open_contract", 1), ("subscribe", 1)),
    (("contract_id", ("buy", "contract_id")),),
)
BUY = info("buy", ("trade",), streams=True, repeatable=False, resume=POC)
AUTHORIZE = info("authorize")
LOGOUT = info("logout")


def accounts() -> dict[str, Account]:
    return {
        CR: Account("CR799393", ("read", "trade", "trading_information", "payments", "admin")),
        VR: Account("VRTC1859315", ("read", "trade")),
        READ_ONLY: Account("CR100001", ("read",)),
        CANARY: Account("CR424242", ("read", "trade")),
    }


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


@asynccontextmanager
async def connected(server: V3Server, auth: LegacyAuth, **options: Any) -> AsyncIterator[BaseClient]:
    options.setdefault("reconnect", FAST)
    async with BaseClient.connect(v3_url(1089, endpoint=server.endpoint), auth=auth, **options) as client:
        yield client


async def call(client: BaseClient, what: CallInfo, payload: dict[str, Any]) -> Anything:
    return await client._call(what, Anything, payload, Anything, None)


def stream(client: BaseClient, what: CallInfo, payload: dict[str, Any]) -> Stream[Anything]:
    return client._stream(what, Anything, payload, Anything)


async def next_of(*streams: Stream[Anything]) -> list[Anything]:
    return [await s.__anext__() for s in streams]


async def drain(source: Stream[Anything]) -> None:
    """Read until the stream fails (raising its error)."""
    while True:
        await source.__anext__()


# -- authorize on connect --------------------------------------------------------------------------


def test_every_connection_is_authorized_first_and_the_account_is_typed() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth(CR)
            async with connected(server, auth) as client:
                assert client.auth is auth
                assert server.frames[0].call == "authorize"
                assert server.frames[0].message["authorize"] == CR
                assert "tokens" not in server.frames[0].message
                assert server.app_ids == ["1089"]
                authorization = auth.authorization
                assert isinstance(authorization, Authorization)
                assert authorization.loginid == auth.loginid == "CR799393"
                assert authorization.currency == "USD"
                assert "trade" in auth.scopes and "admin" in auth.scopes
                assert authorization.balance == Decimal("10000.1")
                assert authorization.country is None  # a number on the wire: left out, not fatal
                assert [a.loginid for a in auth.accounts] == ["CR799393"]
                assert authorization.accounts[0].is_virtual is False
                assert "echo_req" not in authorization.raw and CR not in repr(authorization.raw)
                assert (await call(client, PORTFOLIO, {"portfolio": 1})).portfolio == {"contracts": []}
                assert server.frames[-1].authorized == "CR799393"

    run(scenario)


def test_several_tokens_go_in_one_authorize() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth([CR, Secret(VR)], add_to_login_history=True)
            async with connected(server, auth):
                first = server.frames[0].message
                assert first["authorize"] == CR and first["tokens"] == [VR]
                assert first["add_to_login_history"] == 1
                assert [a.loginid for a in auth.accounts] == ["CR799393", "VRTC1859315"]

    run(scenario)


# -- reconnects --------------------------------------------------------------------------------------


def test_ten_drops_reauthorize_before_private_streams_and_nothing_is_bought_twice() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth(CR)
            async with connected(server, auth) as client:
                async with (
                    stream(client, BALANCE, {"balance": 1}) as balance,
                    stream(client, TRANSACTION, {"transaction": 1}) as transaction,
                    stream(client, TICKS, {"ticks": "R_100"}) as ticks,
                    stream(client, BUY, {"buy": "proposal-1", "price": 10}) as bought,
                ):
                    receipt = await bought.__anext__()
                    contract = receipt.buy["contract_id"]  # type: ignore[attr-defined]
                    await next_of(balance, transaction, ticks)
                    for drop in range(10):
                        number = server.connections
                        await server.drop()
                        wanted = {"authorize", "balance", "transaction", "ticks", "proposal_open_contract"}

                        def back(n: int = number + 1, wanted: set[str] = wanted) -> bool:
                            return wanted <= {f.call for f in server.on(n)}

                        await server.wait_for(back)
                        frames = server.on(number + 1)
                        order = [f.call for f in frames]
                        assert order[0] == "authorize", (drop, order)  # before every resubscription
                        private = [i for i, f in enumerate(frames) if f.call in PRIVATE_CALLS]
                        public = [i for i, f in enumerate(frames) if f.call == "ticks"]
                        assert private and public and min(private) > max(public), (drop, order)
                        assert all(f.authorized == "CR799393" for f in frames if f.call in PRIVATE_CALLS)
                        assert "buy" not in order  # the purchase is never sent again
                        follow = next(f for f in frames if f.call == "proposal_open_contract")
                        assert follow.message["contract_id"] == contract
                        await next_of(balance, transaction, ticks, bought)
                    assert len(server.calls("buy")) == 1
                    assert len(server.calls("authorize")) == 11 == auth.authorizations
                    assert ticks.gaps == balance.gaps == transaction.gaps == bought.gaps == 10
                    states = client.transport.protocol.streams.values()  # type: ignore[attr-defined]
                    assert sorted(s.call for s in states if s.private) == [
                        "balance",
                        "proposal_open_contract",
                        "transaction",
                    ]

    run(scenario)


def test_without_auth_every_stream_comes_back_after_a_drop() -> None:
    """A client without ``auth`` (the Options API: authorized by its URL) has no hook to wait for:
    its private streams come back with the public ones."""

    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            url = v3_url(1089, endpoint=server.endpoint)
            async with BaseClient.connect(url, reconnect=FAST) as client:
                assert client.auth is None
                protocol = client.transport.protocol  # type: ignore[attr-defined]
                await call(client, AUTHORIZE, {"authorize": CR})  # by hand: not repeated on reconnect
                async with (
                    stream(client, BALANCE, {"balance": 1}) as balance,
                    stream(client, TICKS, {"ticks": "R_100"}) as ticks,
                ):
                    await next_of(balance, ticks)
                    assert "balance" in protocol.private_calls
                    await server.drop()
                    await server.wait_for(lambda: {"balance", "ticks"} <= {f.call for f in server.on(2)})
                    assert "authorize" not in {f.call for f in server.on(2)}
                    with pytest.raises(APIError) as refused:  # the server's answer: not authorized
                        await drain(balance)
                    assert refused.value.code == "AuthorizationRequired"
                    await ticks.__anext__()

    run(scenario)


def test_private_streams_come_back_only_when_authenticated_in_the_protocol() -> None:
    protocol = Protocol()
    protocol.private_calls.add("balance")
    public, _ = protocol.open_stream("ticks", {"ticks": "R_100", "subscribe": 1})
    private, _ = protocol.open_stream("balance", {"balance": 1, "subscribe": 1})
    explicit, _ = protocol.open_stream("transaction", {"transaction": 1, "subscribe": 1}, private=True)
    assert (public.private, private.private, explicit.private) == (False, True, True)
    assert protocol.resubscribe() == protocol.authenticated() == []  # the first connection: nothing lost
    protocol.connection_lost()
    first = [o.data for o in protocol.resubscribe()]
    then = [o.data for o in protocol.authenticated()]
    assert len(first) == 1 and '"ticks"' in first[0]
    assert len(then) == 2 and all('"ticks"' not in d for d in then)
    assert protocol.resubscribe() == protocol.authenticated() == []  # each lost stream comes back once
    assert public.resubscriptions == private.resubscriptions == explicit.resubscriptions == 1


def test_the_follow_up_of_a_private_purchase_is_private() -> None:
    protocol = Protocol()
    bought, _ = protocol.open_stream(
        "buy", {"buy": "p", "subscribe": 1}, repeatable=False, resume=POC, private=True
    )
    protocol.receive(
        f'{{"req_id": {bought.req_id}, "buy": {{"contract_id": 7}}, "subscription": {{"id": "s"}}}}'
    )
    protocol.connection_lost()
    assert protocol.resubscribe() == []
    (follow,) = protocol.authenticated()
    assert bought.call == "proposal_open_contract" and bought.private
    assert '"contract_id":7' in follow.data and '"buy"' not in follow.data


# -- scopes -----------------------------------------------------------------------------------------


def test_a_scope_the_token_lacks_is_refused_locally() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth(READ_ONLY)
            async with connected(server, auth) as client:
                sent = len(server.frames)
                with pytest.raises(ScopeError) as refused:
                    await call(client, SELL, {"sell": 1, "price": 0})
                error = refused.value
                assert (error.call, error.needed, error.held, error.loginid) == (
                    "sell",
                    ("trade",),
                    ("read",),
                    "CR100001",
                )
                assert "sell" in str(error) and "trade" in str(error) and "read" in str(error)
                with pytest.raises(ScopeError):
                    stream(client, BUY, {"buy": "p", "price": 1})
                assert len(server.frames) == sent  # nothing went out
                # one of the listed scopes is enough (balance: read or trading_information)
                async with stream(client, BALANCE, {"balance": 1}) as balance:
                    await balance.__anext__()
                # another account of the session (loginid=...) is left to the server
                with pytest.raises(APIError) as server_said:
                    await call(client, SELL, {"sell": 1, "price": 0, "loginid": "VRTC1859315"})
                assert server_said.value.code == "PermissionDenied"
            unchecked = LegacyAuth(READ_ONLY, check_scopes=False)
            async with connected(server, unchecked) as client:
                with pytest.raises(APIError) as server_said:
                    await call(client, SELL, {"sell": 1, "price": 0})
                assert server_said.value.code == "PermissionDenied"

    run(scenario)


# -- refused tokens ------------------------------------------------------------------------------------


def test_an_invalid_token_is_a_typed_error_at_connect() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            with pytest.raises(AuthorizationRefused) as refused:
                async with connected(server, LegacyAuth("not-a-known-token")):
                    pass
            assert refused.value.code == "InvalidToken"
            assert refused.value.call == "authorize"
            assert isinstance(refused.value, AuthError) and isinstance(refused.value, APIError)
            assert refused.value.echo_req == {}
            assert server.connections == 1  # not retried

    run(scenario)


def test_a_token_refused_on_reconnect_is_final() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            async with connected(server, LegacyAuth(VR)) as client:
                async with stream(client, TICKS, {"ticks": "R_100"}) as ticks:
                    await ticks.__anext__()
                    del server.tokens[VR]  # revoked while connected
                    await server.drop()
                    with pytest.raises(ConnectionFailed) as failed:
                        await drain(ticks)
                    assert isinstance(failed.value.__cause__, AuthorizationRefused)
                with pytest.raises(ConnectionFailed):
                    await call(client, PORTFOLIO, {"portfolio": 1})
                await asyncio.sleep(0.1)
                assert server.connections == 2  # no retry loop against a refused token

    run(scenario)


# -- logout, switching ----------------------------------------------------------------------------------


def test_logout_forgets_the_authorization() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth(CR)
            async with connected(server, auth) as client:
                await auth.logout()
                assert server.frames[-1].message["logout"] == 1
                assert auth.authorization is None and auth.loginid is None and auth.scopes == ()
                sent = len(server.frames)
                with pytest.raises(NotAuthorized) as refused:
                    await call(client, PORTFOLIO, {"portfolio": 1})
                assert refused.value.call == "portfolio" and "logged out" in str(refused.value)
                assert len(server.frames) == sent
                await call(client, TICKS, {"ticks": "R_100"})  # public calls still work
                await server.drop()
                await server.wait_for(lambda: server.connections == 2)
                await call(client, TICKS, {"ticks": "R_100"})
                assert [f.call for f in server.on(2)] == ["ticks"]  # nothing to authorize with
                await auth.switch(token=VR)  # authorize again
                assert auth.loginid == "VRTC1859315"

    run(scenario)


def test_the_logout_call_of_the_client_forgets_too() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth(CR)
            async with connected(server, auth) as client:
                answer = await call(client, LOGOUT, {"logout": 1})
                assert answer.logout == 1  # type: ignore[attr-defined]
                assert auth.authorization is None

    run(scenario)


def test_switching_accounts_by_loginid_and_by_token() -> None:
    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth.from_accounts(parse_redirect(SEED_REDIRECT))
            async with connected(server, auth) as client:
                assert auth.loginid == "CR799393"
                switched = await auth.switch(loginid="vrtc1859315")
                assert switched.loginid == auth.loginid == "VRTC1859315"
                assert auth.scopes == ("read", "trade")
                assert server.frames[-1].message == {
                    "authorize": VR,
                    "req_id": server.frames[-1].message["req_id"],
                }
                await server.drop()
                await server.wait_for(lambda: server.connections == 2 and server.on(2))
                assert server.on(2)[0].message["authorize"] == VR  # reconnects use the new account
                # the generated authorize call switches too, and is adopted
                await call(client, AUTHORIZE, {"authorize": CR})
                assert auth.loginid == "CR799393"
                with pytest.raises(AuthError, match="no token is known"):
                    await auth.switch(loginid="CR000001")
                with pytest.raises(ValueError, match="not both"):
                    await auth.switch(token=CR, loginid="CR799393")
                with pytest.raises(AuthorizationRefused):
                    await auth.switch(token="unknown-token")
                assert auth.loginid == "CR799393"  # the previous token stays for reconnects
                with pytest.raises(AuthorizationRefused) as refused:  # through the client's call too
                    await call(client, AUTHORIZE, {"authorize": "unknown-token"})
                assert refused.value.code == "InvalidToken" and refused.value.echo_req == {}
                assert auth.loginid == "CR799393"
                async with stream(client, BALANCE, {"balance": 1}) as balance:
                    await balance.__anext__()
                    sent = len(server.frames)
                    with pytest.raises(AuthError, match="private stream"):
                        await auth.switch(loginid="VRTC1859315")
                    with pytest.raises(AuthError, match="private stream"):
                        await call(client, AUTHORIZE, {"authorize": VR})
                    assert len(server.frames) == sent
                    await call(client, AUTHORIZE, {"authorize": CR})  # the same account: fine

    run(scenario)


def test_tokens_are_checked_and_one_auth_serves_one_client() -> None:
    with pytest.raises(ValueError, match="not a Deriv API token") as bad:
        LegacyAuth("has spaces in it")
    assert "spaces" not in str(bad.value).replace("has spaces", "")
    with pytest.raises(ValueError, match="up to 10"):
        LegacyAuth([f"token{i}" for i in range(12)])
    with pytest.raises(ValueError, match="repeats"):
        LegacyAuth([CR, CR])
    with pytest.raises(TypeError):
        LegacyAuth(123)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth(CR)
            async with connected(server, auth):
                with pytest.raises(RuntimeError, match="another client"):
                    async with connected(server, auth):
                        pass
                await server.wait_for(lambda: len(server._live) == 1)  # the second one was closed
            with pytest.raises(AuthError, match="not attached"):
                await auth.logout()

    run(scenario)


# -- secrets ------------------------------------------------------------------------------------------


def test_canary_tokens_never_reach_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []

    async def scenario() -> None:
        async with V3Server(accounts()) as server:
            auth = LegacyAuth(CANARY)
            async with connected(server, auth) as client:
                await call(client, PORTFOLIO, {"portfolio": 1})
                async with stream(client, BALANCE, {"balance": 1}) as balance:
                    await balance.__anext__()
                    await server.drop()
                    await server.wait_for(lambda: server.connections == 2)
                    await balance.__anext__()
                try:
                    await call(client, SELL, {"sell": 1, "price": 0})
                except DerivError as exc:
                    shown.extend([str(exc), repr(exc)])
                shown.extend([repr(auth), repr(auth.authorization), repr(auth.accounts), repr(client)])
                assert client.transport.protocol.pending == {}  # type: ignore[attr-defined]
            bad = LegacyAuth("x" + CANARY)
            try:
                async with connected(server, bad):
                    pass
            except AuthorizationRefused as exc:
                shown.extend([str(exc), repr(exc), repr(exc.args), str(exc.details), str(exc.echo_req)])
            shown.append(repr(bad))
            accounts_ = parse_redirect(f"acct1=CR1&token1={CANARY}&cur1=usd")
            shown.extend([repr(accounts_), str(accounts_)])

    run(scenario)
    assert any("authorize" in r.getMessage() for r in caplog.records)  # frames were logged, masked
    assert len(shown) >= 10
    for text in [*shown, caplog.text]:
        assert CANARY not in text


def test_v3_url_is_what_the_client_connects_to() -> None:
    assert v3_url(1089) == "wss://ws.derivws.com/websockets/v3?app_id=1089"
