"""Deribit authentication in the client (issue 9): grants over WebSocket and HTTP, token life,
re-authentication on reconnect before private channels come back, fork / exchange / logout, 2FA,
and secrets that never show. Over real sockets, against ``MockDeribit`` (which verifies signatures,
scopes and token rotation with its own code) and against servers of the tests' own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from deriv_runtime.auth.deribit import DeribitAuth
from deriv_runtime.auth.deribit_scope import DeribitScope, DeribitToken, scope_text
from deriv_runtime.auth.deribit_signing import HmacSigner, KeySigner
from deriv_runtime.auth.errors import AuthError, TokenStoreError
from deriv_runtime.auth.keys import SigningKey
from deriv_runtime.auth.secret import Secret
from deriv_runtime.auth.tokens import FileTokenStore, MemoryTokenStore, TokenSet
from deriv_runtime.errors import (
    AuthenticationError,
    ConnectionFailed,
    PermissionDenied,
    SecondFactorRequired,
    TransportError,
)
from deriv_runtime.mock.deribit import MockDeribit
from deriv_runtime.rpc import BaseRpcClient, Channel
from deriv_runtime.rpc_sync import SyncBaseRpcClient
from deriv_runtime.ws import ReconnectPolicy

from .test_deribit_client import requires_deribit
from .test_mock_deribit import SPEC, run

pytestmark = requires_deribit

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
CLIENT_ID = "canary-client"
#: A planted secret: it must never show in a log, a repr, an error or a URL.
CANARY = "CANARY-s3cr3t-0123456789"
SUMMARY = ("private/get_account_summary", {"currency": "BTC"})


def _mock(**options: Any) -> MockDeribit:
    options.setdefault("clients", {CLIENT_ID: CANARY})
    return MockDeribit(SPEC, **options)


async def _summary(client: BaseRpcClient) -> Any:
    return await client._call(*SUMMARY, Any)


async def _drain(stream: Any) -> None:
    while True:
        await stream.__anext__()


def _grants(mock: MockDeribit, grant_type: str) -> int:
    return sum(1 for t in mock.tokens_issued if t.grant_type == grant_type)


# -- scopes and tokens ----------------------------------------------------------------------------


def test_scopes_are_read_into_their_parts_and_compared() -> None:
    scope = DeribitScope.parse("mainaccount session:bot trade:read_write wallet:read expires:600 ip:1.2.3.4")
    assert (scope.session, scope.expires, scope.mainaccount, scope.connection) == ("bot", 600, True, False)
    assert scope.level("trade") == "read_write" and scope.level("wallet") == "read"
    assert scope.level("account") == "none"
    assert DeribitScope.parse("read").access == {"account": "read", "trade": "read", "wallet": "read"}
    assert scope.covers(DeribitScope.parse("trade:read wallet:read"))
    assert not scope.covers(DeribitScope.parse("wallet:read_write"))
    assert scope.widened(DeribitScope.parse("wallet:read_write account:read")) == [
        "wallet:read_write",
        "account:read",
    ]
    assert DeribitScope.parse("connection trade:read").connection
    assert scope_text(["read", "session:bot"]) == "read session:bot"
    for bad in ("trade:read write", "a&b=c", "x\ny"):
        with pytest.raises(ValueError, match="scope name"):
            scope_text([bad])


def test_a_token_answer_is_read_and_its_secrets_never_show() -> None:
    result = {
        "access_token": CANARY + "-access",
        "refresh_token": CANARY + "-refresh",
        "expires_in": 900,
        "scope": "connection mainaccount trade:read",
        "token_type": "bearer",
    }
    token = DeribitToken.from_result(result, now=1000.0)
    assert (token.expires_at, token.refresh_due(0.8), token.session_scoped) == (1900.0, 1720.0, False)
    assert token.access_token.reveal() == CANARY + "-access"
    assert CANARY not in repr(token) and CANARY not in str(token)
    stored = DeribitToken.from_token_set(token.to_token_set(), now=1100.0)
    assert (stored.expires_in, stored.scope, stored.refresh_token) == (
        800.0,
        token.scope,
        token.refresh_token,
    )
    for broken in (
        {**result, "access_token": ""},
        {**result, "expires_in": 0},
        {**result, "token_type": "mac"},
    ):
        with pytest.raises(AuthError) as info:
            DeribitToken.from_result(broken)
        assert CANARY not in str(info.value)


def test_keys_can_only_sign_and_secrets_and_signers_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        DeribitAuth(client_id=CLIENT_ID, client_secret=CANARY, signer=HmacSigner(CLIENT_ID, CANARY))
    with pytest.raises(ValueError, match="refresh_at"):
        DeribitAuth.client_credentials(CLIENT_ID, CANARY, refresh_at=1.5)
    auth = DeribitAuth.client_signature(CLIENT_ID, CANARY)
    assert CANARY not in repr(auth) and "client_signature" in repr(auth)


# -- grants over WebSocket ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: DeribitAuth.client_credentials(CLIENT_ID, CANARY, scope=["account:read", "trade:read_write"]),
        lambda: DeribitAuth.client_signature(CLIENT_ID, CANARY, scope=["account:read", "trade:read_write"]),
    ],
    ids=["client_credentials", "client_signature"],
)
def test_the_websocket_connection_is_authenticated_before_use(make: Callable[[], DeribitAuth]) -> None:
    mock = _mock()
    auth = make()

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, auth=auth) as client:
            assert client.auth is auth
            assert mock.requests[0]["method"] == "public/auth"  # before anything else
            await _summary(client)  # no access_token param: the connection is authenticated
            token = auth.token
            assert token is not None and token.scope.level("trade") == "read_write"

    run(scenario)
    assert auth.grants == 1


def test_wrong_credentials_fail_the_first_connect_with_the_servers_error() -> None:
    mock = _mock()

    async def scenario() -> None:
        async with mock:
            with pytest.raises(AuthenticationError) as info:
                async with BaseRpcClient.connect(
                    mock.ws_url, auth=DeribitAuth.client_credentials(CLIENT_ID, "wrong-" + CANARY)
                ):
                    pass
            assert info.value.code == 13004
            assert CANARY not in str(info.value)

    run(scenario)


def test_three_private_channels_are_resubscribed_after_re_authentication_on_every_reconnect() -> None:
    mock = _mock(tick_interval=0.02)
    auth = DeribitAuth.client_signature(CLIENT_ID, CANARY)
    channels = [
        Channel(name, Any, private=True) for name in ("user.portfolio.BTC", "user.orders.future.BTC.raw")
    ]
    public = Channel("ticker.BTC-PERPETUAL.100ms", Any)
    seen: dict[str, int] = {}

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, auth=auth, reconnect=FAST) as client:
            private = client.subscribe(*channels)
            third = client.subscribe(Channel("user.portfolio.ETH", Any, private=True))
            ticker = client.subscribe(public)
            streams = [private, third, ticker]
            for stream in streams:
                await stream.__aenter__()

            async def read(stream: Any) -> None:
                async for note in stream:
                    seen[note.channel] = seen.get(note.channel, 0) + 1

            async def everyone_gets(more: int) -> None:
                base = dict(seen)
                names = [*[c.name for c in channels], "user.portfolio.ETH", public.name]
                while any(seen.get(n, 0) < base.get(n, 0) + more for n in names):
                    await asyncio.sleep(0.01)

            readers = [asyncio.create_task(read(s)) for s in streams]
            await everyone_gets(1)
            for drop in range(1, 4):
                mock.requests.clear()
                assert await mock.drop_all() == 1
                while any(s.gaps < drop for s in streams):
                    await asyncio.sleep(0.01)
                await everyone_gets(1)
                methods = [r["method"] for r in mock.requests]
                # on the new connection: authenticated before any channel is asked for again
                assert methods[0] == "public/auth"
                assert methods.index("public/subscribe") > 0
                assert methods.count("private/subscribe") == 2
            for reader in readers:
                reader.cancel()
            assert mock.total_connections == 4

    run(scenario)
    # the first grant signed, then every reconnect used (and rotated) the refresh token
    assert (auth.grants, auth.refreshes) == (4, 3)
    assert _grants(mock, "refresh_token") == 3


def test_a_refused_re_authentication_ends_streams_with_connection_failed() -> None:
    mock = _mock(tick_interval=0.02)
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY)

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, auth=auth, reconnect=FAST) as client:
            async with client.subscribe(Channel("user.portfolio.BTC", Any, private=True)) as stream:
                await stream.__anext__()
                token = auth.token
                assert token is not None and token.refresh_token is not None
                mock.tokens.clients.clear()  # the key was revoked: neither refresh nor credentials work
                mock.revoke_token(token.refresh_token.reveal())
                await mock.drop_all()
                with pytest.raises(ConnectionFailed, match="refused") as info:
                    await _drain(stream)
                assert isinstance(info.value.__cause__, AuthenticationError)
                assert CANARY not in str(info.value)

    run(scenario)


def test_the_token_is_refreshed_in_the_background_before_it_expires() -> None:
    mock = _mock(token_ttl=1.0)
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY, refresh_at=0.5)

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, auth=auth) as client:
            first = auth.token
            assert first is not None
            await asyncio.sleep(1.3)  # past the first token's expiry
            assert auth.refreshes >= 2
            assert auth.token is not first
            await _summary(client)

    run(scenario)


# -- token life over HTTP -------------------------------------------------------------------------


class RecordingStore(MemoryTokenStore):
    """Remembers, at each save, which token the client was using then."""

    def __init__(self, auth_ref: list[DeribitAuth]) -> None:
        super().__init__()
        self.auth_ref = auth_ref
        self.saved: list[tuple[str, str | None]] = []
        self.fail = False

    def save(self, tokens: TokenSet) -> None:
        if self.fail:
            raise TokenStoreError("cannot write the token file (test)")
        using = self.auth_ref[0].token
        self.saved.append((tokens.access_token.reveal(), using.access_token.reveal() if using else None))
        super().save(tokens)


def _stored_auth() -> tuple[DeribitAuth, RecordingStore]:
    ref: list[DeribitAuth] = []
    store = RecordingStore(ref)
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY, store=store)
    ref.append(auth)
    return auth, store


def test_fifty_concurrent_http_callers_share_one_refresh_persisted_before_use() -> None:
    mock = _mock()
    auth, store = _stored_auth()

    async def scenario() -> None:
        async with mock, BaseRpcClient.over_http(mock.http_url, auth=auth) as client:
            await _summary(client)
            first = auth.token
            assert first is not None and (auth.grants, auth.refreshes) == (1, 0)
            # make the token due: 80 % of its life has passed
            object.__setattr__(first, "obtained_at", first.obtained_at - first.expires_in)
            await asyncio.gather(*(_summary(client) for _ in range(50)))
            assert auth.refreshes == 1 and _grants(mock, "refresh_token") == 1
            second = auth.token
            assert second is not None and second is not first

    run(scenario)
    # every grant was saved while the previous token (or none) was still the one in use
    assert [using for _, using in store.saved] == [None, store.saved[0][0]]
    loaded = store.load()
    assert loaded is not None and loaded.access_token == auth.token.access_token  # type: ignore[union-attr]


def test_a_token_that_cannot_be_persisted_is_never_used() -> None:
    mock = _mock()
    auth, store = _stored_auth()

    async def scenario() -> None:
        async with mock, BaseRpcClient.over_http(mock.http_url, auth=auth) as client:
            await _summary(client)
            first = auth.token
            store.fail = True
            with pytest.raises(TokenStoreError):
                await auth.refresh()
            assert auth.token is first

    run(scenario)


def test_an_unauthorized_answer_refreshes_once_and_the_call_goes_through() -> None:
    mock = _mock()
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY)

    async def scenario() -> None:
        async with mock, BaseRpcClient.over_http(mock.http_url, auth=auth) as client:
            await _summary(client)
            token = auth.token
            assert token is not None
            mock.revoke_token(token.access_token.reveal())
            await _summary(client)
            assert auth.refreshes == 1

    run(scenario)


def test_a_stored_refresh_token_is_enough_and_the_store_file_stays_private(tmp_path: Path) -> None:
    mock = _mock()
    path = tmp_path / "deribit.json"

    async def scenario() -> None:
        async with mock:
            first = DeribitAuth.client_credentials(CLIENT_ID, CANARY, store=FileTokenStore(path))
            async with BaseRpcClient.over_http(mock.http_url, auth=first) as client:
                await _summary(client)
            again = DeribitAuth.from_store(FileTokenStore(path))
            async with BaseRpcClient.connect(mock.ws_url, auth=again) as client:
                await _summary(client)
                assert again.refreshes == 1 and again.grants == 1

    run(scenario)
    assert path.stat().st_mode & 0o077 == 0
    assert CANARY not in path.read_text()  # the secret is never stored, only tokens


# -- fork, exchange, logout, 2FA ------------------------------------------------------------------


def test_fork_token_needs_a_session_scope_and_exchange_never_widens() -> None:
    mock = _mock()

    async def scenario() -> None:
        async with mock:
            plain = DeribitAuth.client_credentials(CLIENT_ID, CANARY, scope=["account:read", "trade:read"])
            async with BaseRpcClient.connect(mock.ws_url, auth=plain):
                with pytest.raises(AuthError, match="session-scoped"):
                    await plain.fork_token("worker")
                with pytest.raises(AuthError, match="widen"):
                    await plain.exchange_token(7, scope=["trade:read_write"])
            session = DeribitAuth.client_credentials(
                CLIENT_ID, CANARY, scope=["session:main", "account:read", "trade:read"]
            )
            async with BaseRpcClient.connect(mock.ws_url, auth=session) as client:
                forked = await session.fork_token("worker")
                assert forked.scope.session == "worker"
                assert session.token is not None and session.token.scope.session == "main"  # unchanged
                await _summary(client)
                with pytest.raises(ValueError, match="scope name"):
                    await session.fork_token("two words")
                sub = await session.exchange_token(7, scope=["account:read"])
                assert sub.scope.level("trade") == "none" and session.token.scope.level("trade") == "read"
            worker = DeribitAuth.from_token(forked)  # the second client, with the forked session
            async with BaseRpcClient.connect(mock.ws_url, auth=worker) as client:
                await _summary(client)
                assert worker.token is not None and worker.token.scope.session == "worker"
                assert (worker.grants, worker.refreshes) == (1, 1)

    run(scenario)


def test_logout_closes_the_connection_and_forgets_the_token() -> None:
    mock = _mock()
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY)

    async def scenario() -> None:
        async with mock:
            async with BaseRpcClient.connect(mock.ws_url, auth=auth, reconnect=FAST) as client:
                await client.logout()
                assert auth.token is None
                with pytest.raises(TransportError):
                    await _summary(client)
            assert mock.total_connections == 1  # nothing reconnected
            async with BaseRpcClient.over_http(mock.http_url) as http:
                with pytest.raises(TransportError, match="WebSocket only"):
                    await http.logout()

    run(scenario)


def test_second_factor_required_is_its_own_error_and_never_retried() -> None:
    mock = _mock()
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY)

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, auth=auth) as client:
            gate = mock.require_second_factor(SUMMARY[0])
            with pytest.raises(SecondFactorRequired) as info:
                await _summary(client)
            assert info.value.code == 13668 and not isinstance(info.value, AuthenticationError)
            assert gate.refusals == 1  # asked once: never retried, never re-authenticated
            assert auth.grants == 1
            mock.clear_second_factor()
            await _summary(client)

    run(scenario)


# -- secrets --------------------------------------------------------------------------------------


class _RecordingSigner:
    """Signs with ``inner`` and keeps every signature made (to look for them where they must not be)."""

    def __init__(self, inner: HmacSigner) -> None:
        self.inner = inner
        self.client_id = inner.client_id
        self.asymmetric = False
        self.signatures: list[str] = []

    def sign(self, message: bytes) -> str:
        signature = self.inner.sign(message)
        self.signatures.append(signature)
        return signature


def test_canary_secrets_never_reach_logs_reprs_errors_or_urls(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mock = _mock()
    signer = _RecordingSigner(HmacSigner(CLIENT_ID, CANARY))
    auths = [DeribitAuth.client_credentials(CLIENT_ID, CANARY), DeribitAuth(signer=signer)]
    shown: list[str] = []
    urls: list[str] = []

    async def record(request: httpx.Request) -> None:
        urls.append(str(request.url))

    async def scenario() -> None:
        async with mock:
            for auth in auths:
                http = httpx.AsyncClient(event_hooks={"request": [record]})
                async with http, BaseRpcClient.over_http(mock.http_url, auth=auth, client=http) as client:
                    await _summary(client)
                    shown.extend([repr(auth), repr(auth.token), repr(client), str(auth.scope)])
                async with BaseRpcClient.connect(mock.ws_url, auth=auth) as client:
                    await _summary(client)
            bad = DeribitAuth.client_credentials(CLIENT_ID, "x" + CANARY)
            async with BaseRpcClient.over_http(mock.http_url, auth=bad) as client:
                with pytest.raises(AuthenticationError) as info:
                    await _summary(client)
            shown.extend([str(info.value), repr(info.value)])

    run(scenario)
    tokens = [t for t in (a.token for a in auths) if t is not None]
    refresh = [t.refresh_token.reveal() for t in tokens if t.refresh_token is not None]
    assert len(signer.signatures) == 1  # the HTTP grant; the WebSocket one used the refresh token
    planted = [CANARY, *(t.access_token.reveal() for t in tokens), *refresh, *signer.signatures]
    assert len(urls) == 4  # a grant and a call per HTTP client
    for text in [*shown, caplog.text, *urls]:
        for secret in planted:
            assert secret not in text
    assert threading.active_count() >= 1


def test_secrets_are_wrapped() -> None:
    auth = DeribitAuth.client_credentials(CLIENT_ID, Secret(CANARY))
    assert CANARY not in repr(auth)


class _SyncRpc(SyncBaseRpcClient[BaseRpcClient]):
    _async_class = BaseRpcClient


def test_the_blocking_client_authenticates_over_websocket_and_http() -> None:
    mock = _mock()
    ws_auth = DeribitAuth.client_signature(CLIENT_ID, CANARY, scope=["account:read"])
    http_auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY, scope=["account:read"])
    with mock.run_in_thread():
        with _SyncRpc.connect(mock.ws_url, auth=ws_auth) as client:
            client._run(_summary(client.async_client))
            assert client.auth is ws_auth and ws_auth.token is not None
            client.logout()
            assert ws_auth.token is None
        with _SyncRpc.over_http(mock.http_url, auth=http_auth) as client:
            client._run(_summary(client.async_client))
            assert http_auth.grants == 1


# -- keys, HTTP signing, scopes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.generate("rsa", rsa_bits=2048)


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_a_key_registered_through_create_api_key_authenticates_by_signature(
    kind: str, rsa_key: SigningKey
) -> None:
    key = rsa_key if kind == "rsa" else SigningKey.generate("ed25519")
    mock = _mock()

    async def scenario() -> None:
        async with mock:
            admin = DeribitAuth.client_credentials(CLIENT_ID, CANARY, scope=["account:read_write"])
            async with BaseRpcClient.connect(mock.ws_url, auth=admin) as client:
                created = await client._call(
                    "private/create_api_key",
                    {"public_key": key.public_pem(), "max_scope": "account:read trade:read", "name": "k"},
                    Any,
                )
            client_id = created["client_id"]
            auth = DeribitAuth.key_signature(client_id, key, scope=["account:read"])
            async with BaseRpcClient.connect(mock.ws_url, auth=auth) as client:
                await _summary(client)
            async with BaseRpcClient.over_http(mock.http_url, auth=KeySigner(client_id, key)) as client:
                await _summary(client)  # every request signed by the key, no token at all
            # an asymmetric key cannot be used as client credentials, whatever its "secret" is
            wrong = DeribitAuth.client_credentials(client_id, created.get("client_secret") or "x")
            with pytest.raises(AuthenticationError):
                async with BaseRpcClient.connect(mock.ws_url, auth=wrong):
                    pass

    run(scenario)


def test_signed_http_requests_and_basic_auth_reach_private_methods() -> None:
    mock = _mock()

    async def scenario() -> None:
        async with mock:
            signer = HmacSigner(CLIENT_ID, CANARY)
            for http_method in ("GET", "POST"):
                async with BaseRpcClient.over_http(mock.http_url, auth=signer, http_method=http_method) as c:
                    await _summary(c)
            forged = HmacSigner(CLIENT_ID, "not-" + CANARY)
            async with BaseRpcClient.over_http(mock.http_url, auth=forged) as client:
                with pytest.raises(AuthenticationError):
                    await _summary(client)
            async with BaseRpcClient.over_http(mock.http_url, basic_auth=(CLIENT_ID, CANARY)) as client:
                await _summary(client)

    run(scenario)
    headers = [v for r in mock.http_requests for k, v in r.headers if k.lower() == "authorization"]
    assert headers and all(CANARY not in h for h in headers)


def test_a_scope_too_narrow_for_the_method_is_permission_denied() -> None:
    mock = _mock()
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY, scope=["account:read", "trade:read"])

    async def scenario() -> None:
        async with mock, BaseRpcClient.connect(mock.ws_url, auth=auth) as client:
            await _summary(client)
            with pytest.raises(PermissionDenied):
                await client._call("private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10}, Any)

    run(scenario)
    assert auth.scope is not None and auth.scope.level("trade") == "read"


@pytest.mark.parametrize("session", [False, True], ids=["connection-scoped", "session-scoped"])
def test_a_refresh_invalidates_a_connection_scoped_token_and_keeps_a_session_scoped_one(
    session: bool,
) -> None:
    mock = _mock()
    scope = ["account:read", *(["session:bot"] if session else [])]
    auth = DeribitAuth.client_credentials(CLIENT_ID, CANARY, scope=scope)

    async def scenario() -> None:
        async with mock, BaseRpcClient.over_http(mock.http_url, auth=auth) as client:
            await _summary(client)
            old = auth.token
            assert old is not None and old.session_scoped is session
            new = await auth.refresh()
            assert new.session_scoped is session and auth.token is new
            await _summary(client)  # the client moved to the new token at once
            async with BaseRpcClient.over_http(mock.http_url, token=old.access_token) as stale:
                if session:
                    await _summary(stale)
                else:
                    with pytest.raises(AuthenticationError):
                        await _summary(stale)

    run(scenario)
    assert (auth.grants, auth.refreshes) == (2, 1)
