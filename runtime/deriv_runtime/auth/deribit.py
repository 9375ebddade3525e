"""Deribit authentication for the generated JSON-RPC clients: grants, token life, re-authentication.

    from deriv_runtime.auth.deribit import DeribitAuth
    from deriv_runtime.auth.keys import SigningKey

    auth = DeribitAuth.key_signature("GgUXjYUj", SigningKey.load("private.pem", password=...),
                                     scope=["read", "trade:read_write", "session:bot"],
                                     store=FileTokenStore("~/.config/bot/deribit.json"))
    async with DeribitClient.connect(url, auth=auth) as client:     # authenticated before use
        summary = await client.private.get_account_summary(currency="BTC")
        print(client.auth.token)                                    # DeribitToken(session 'bot', ...)

Grants (``public/auth``, seed "Authentication"):

* :meth:`DeribitAuth.client_credentials` - client id and secret sent in the request (over HTTP
  always in a POST body, never in a URL);
* :meth:`DeribitAuth.client_signature` - HMAC-SHA256 signature with the client secret; the secret
  never leaves the process;
* :meth:`DeribitAuth.key_signature` - an Ed25519 or RSA key registered with Deribit (seed
  "Asymmetric API keys"); only ``client_signature`` exists for these keys, and nothing here can
  send a key as ``client_credentials``;
* :meth:`DeribitAuth.from_store` - only a stored refresh token (``refresh_token`` grant).

Every signature is made afresh, with a new CSPRNG nonce and the current millisecond timestamp
(:mod:`deriv_runtime.auth.deribit_signing`); none is cached or reused.

Token life:

* The token is refreshed (``grant_type=refresh_token``) at ``refresh_at`` (default 80 %) of its
  lifetime: over WebSocket by a background task on the live connection, over HTTP before the
  request that finds it due. Concurrent callers share one refresh.
* A refreshed token set is saved to the ``store`` (the rotated refresh token with it) *before*
  the new access token is used; a store that cannot be written stops the refresh with
  :class:`~deriv_runtime.auth.errors.TokenStoreError`.
* Over WebSocket every new connection is authenticated before anything else is sent on it (the
  transport's ``on_connect``): with the refresh token when there is one (falling back to the
  credentials if the server refuses it), else with the credentials; only then are the private
  channels subscribed again.
* Connection-scoped vs session-scoped (see :mod:`~deriv_runtime.auth.deribit_scope`): after a
  refresh the previous access token of a connection-scoped grant is never used again; over HTTP a
  request the server refused as unauthorized (13009) is sent once more with a refreshed token.
* :meth:`DeribitAuth.fork_token` (session-scoped tokens only, refused locally otherwise) and
  :meth:`DeribitAuth.exchange_token` (another subaccount; an explicit ``scope`` may narrow but
  never widen: refused locally, and a wider grant from the server is refused too) return a *new*
  token for another client (``DeribitAuth.from_token(token)``): this client keeps its own token,
  so its identity never changes behind its back, and the new token is not written to this
  client's store.
* ``private/logout`` is :meth:`deriv_runtime.rpc.BaseRpcClient.logout` (WebSocket only).

Errors: a refused grant is the server's :class:`~deriv_runtime.errors.AuthenticationError`
(13004 invalid credentials, 13009 unauthorized); 13668 is
:class:`~deriv_runtime.errors.SecondFactorRequired` and is never retried.

Secrets (client secret, key, tokens, signatures) are held as
:class:`~deriv_runtime.auth.secret.Secret` or inside signer objects whose ``repr`` shows only the
client id; nothing here logs a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import AuthenticationError, ResponseError, jsonrpc_error
from .deribit_scope import DeribitScope, DeribitToken, scope_text
from .errors import AuthError
from .secret import Secret
from .tokens import TokenStore

if TYPE_CHECKING:
    from .deribit_signing import Signer
    from .keys import SigningKey

__all__ = ["DeribitAuth", "RpcCall"]

log = logging.getLogger("deriv_runtime.auth.deribit")

#: Sends one JSON-RPC request (``{"method": ..., "params": ...}``) and returns its answer envelope.
RpcCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

#: Methods that carry their own credentials: never sent with the client's token or signature.
TOKEN_METHODS = frozenset({"public/auth", "public/fork_token", "public/exchange_token"})


async def _result(call: RpcCall, method: str, params: Mapping[str, Any]) -> Any:
    answer = await call({"method": method, "params": dict(params)})
    if "error" in answer:
        # a server may echo what it was sent (or knows): no credential of the request reaches the
        # exception, its message or its data
        from .._redact import scrub_data

        sent = [v.reveal() if isinstance(v, Secret) else v for v in params.values()]
        raise jsonrpc_error(method, scrub_data(answer["error"], [v for v in sent if isinstance(v, str)]))
    if "result" not in answer:
        raise ResponseError(f"{method}: the answer has neither result nor error")
    return answer["result"]


class DeribitAuth:
    """Credentials and the current token of one client (see the module docstring).

    Use the constructors (:meth:`client_credentials`, :meth:`client_signature`,
    :meth:`key_signature`, :meth:`from_store`) and give the object to ``DeribitClient.connect(...,
    auth=)`` or ``DeribitClient.over_http(..., auth=)``. One object serves one client at a time.
    """

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | Secret | None = None,
        signer: Signer | None = None,
        scope: str | Iterable[str] | None = None,
        store: TokenStore | None = None,
        token: DeribitToken | None = None,
        refresh_at: float = 0.8,
        data: str = "",
    ) -> None:
        if signer is not None and client_secret is not None:
            raise ValueError("give either a signer (client_signature) or a client secret, not both")
        if client_secret is not None and not client_id:
            raise ValueError("client_credentials needs the client_id")
        if not 0.1 <= refresh_at < 1.0:
            raise ValueError("refresh_at is a fraction of the token lifetime, between 0.1 and 1")
        self._client_id = signer.client_id if signer is not None else client_id
        self._secret = Secret(client_secret) if client_secret is not None else None
        self._signer = signer
        self._scope = scope_text(scope)
        self._data = data
        self.store = store
        self.refresh_at = refresh_at
        self._token = token
        #: Grants made so far (``public/auth`` of any grant type, fork and exchange included).
        self.grants = 0
        #: Refreshes made so far (``grant_type=refresh_token``).
        self.refreshes = 0
        self._inflight: asyncio.Task[DeribitToken] | None = None
        self._call: RpcCall | None = None
        self._timer: asyncio.Task[None] | None = None
        self._generation = 0
        #: Refresh in the background (WebSocket); over HTTP a due token is refreshed on use.
        self._background = False

    # -- constructors -----------------------------------------------------------------------------

    @classmethod
    def client_credentials(cls, client_id: str, client_secret: str | Secret, **options: Any) -> DeribitAuth:
        """``grant_type=client_credentials``: the secret travels in the grant request."""
        return cls(client_id=client_id, client_secret=client_secret, **options)

    @classmethod
    def client_signature(cls, client_id: str, client_secret: str | Secret, **options: Any) -> DeribitAuth:
        """``grant_type=client_signature`` with an HMAC-SHA256 of the client secret."""
        from .deribit_signing import HmacSigner

        return cls(signer=HmacSigner(client_id, client_secret), **options)

    @classmethod
    def key_signature(cls, client_id: str, key: SigningKey, **options: Any) -> DeribitAuth:
        """``grant_type=client_signature`` signed with an Ed25519 or RSA private key."""
        from .deribit_signing import KeySigner

        return cls(signer=KeySigner(client_id, key), **options)

    @classmethod
    def from_token(cls, token: DeribitToken, **options: Any) -> DeribitAuth:
        """A token from :meth:`fork_token` / :meth:`exchange_token` (or any grant): the client
        authenticates with its refresh token."""
        if token.refresh_token is None:
            raise AuthError("the token has no refresh_token: it cannot authenticate a new connection")
        return cls(token=token, **options)

    @classmethod
    def from_store(cls, store: TokenStore, **options: Any) -> DeribitAuth:
        """Only the refresh token kept in ``store`` (no credentials): it must still be valid."""
        return cls(store=store, **options)

    def __repr__(self) -> str:
        grant = (
            "client_signature"
            if self._signer is not None
            else "client_credentials"
            if self._secret is not None
            else "refresh_token"
        )
        return f"DeribitAuth({grant}, client_id={self._client_id!r}, token={self._token!r})"

    # -- state ------------------------------------------------------------------------------------

    @property
    def token(self) -> DeribitToken | None:
        """The token in use (``None`` before the first grant, and after a logout)."""
        return self._token

    @property
    def scope(self) -> DeribitScope | None:
        """The scope granted to the token in use."""
        return self._token.scope if self._token is not None else None

    @property
    def signer(self) -> Signer | None:
        """The signer of ``client_signature`` grants (also signs HTTP requests), if any."""
        return self._signer

    def _credential_params(self) -> dict[str, Any]:
        if self._signer is not None:
            from .deribit_signing import grant_params

            params = grant_params(self._signer, data=self._data)
        elif self._secret is not None:
            params = {
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._secret.reveal(),
            }
        else:
            raise AuthError(
                "no usable Deribit token and no credentials to get one: the stored refresh token is "
                "missing or was refused; authenticate with client credentials or a key again"
            )
        if self._scope is not None:
            params["scope"] = self._scope
        return params

    def _stored(self) -> DeribitToken | None:
        if self._token is None and self.store is not None:
            stored = self.store.load()
            if stored is not None and stored.refresh_token is not None:
                self._token = DeribitToken.from_token_set(stored)
        return self._token

    async def _adopt(self, result: Any) -> DeribitToken:
        """A new grant: saved first (the rotated refresh token with it), then used."""
        token = DeribitToken.from_result(result)
        if self.store is not None:
            await asyncio.to_thread(self.store.save, token.to_token_set())
        self._token = token
        self._generation += 1
        self._schedule()
        return token

    # -- grants -----------------------------------------------------------------------------------

    async def grant(self, call: RpcCall) -> DeribitToken:
        """A new token from the credentials (``client_credentials`` or ``client_signature``)."""
        self.grants += 1
        return await self._adopt(await _result(call, "public/auth", self._credential_params()))

    async def _refresh_with(self, call: RpcCall, token: DeribitToken) -> DeribitToken:
        if token.refresh_token is None:
            raise AuthError("the token has no refresh_token: authenticate with the credentials")
        self.grants += 1
        self.refreshes += 1
        params = {"grant_type": "refresh_token", "refresh_token": token.refresh_token.reveal()}
        return await self._adopt(await _result(call, "public/auth", params))

    async def authenticate(self, call: RpcCall) -> DeribitToken:
        """Authenticate through ``call`` (a new connection): refresh token first, else credentials."""
        token = self._stored()
        if token is not None and token.refresh_token is not None:
            try:
                return await self._refresh_with(call, token)
            except AuthenticationError:
                if self._signer is None and self._secret is None:
                    self._token = None
                    raise
                log.info("the refresh token was refused; authenticating with the credentials")
        return await self.grant(call)

    async def on_connect(self, call: RpcCall) -> None:
        """The WebSocket transport's hook: authenticate every new connection before it is used."""
        await self.authenticate(call)

    async def refresh(self) -> DeribitToken:
        """Refresh now through the attached client (one refresh however many callers ask)."""
        call = self._attached()
        if self._inflight is None or self._inflight.done():
            token = self._stored()
            if token is None:
                self._inflight = asyncio.ensure_future(self.authenticate(call))
            else:
                self._inflight = asyncio.ensure_future(self._refresh_with(call, token))
        return await asyncio.shield(self._inflight)

    async def access_token(self) -> Secret:
        """The access token to send now (HTTP ``Bearer``): granted or refreshed first when due."""
        token = self._stored()
        if token is None or time.time() >= token.refresh_due(self.refresh_at):
            token = await self.refresh()
        return token.access_token

    async def rejected(self, access: Secret) -> None:
        """The server refused ``access`` as unauthorized: refresh, unless another caller already did."""
        token = self._token
        if token is not None and token.access_token == access:
            self._token = token if token.refresh_token is not None else None
            await self.refresh()

    # -- fork, exchange ---------------------------------------------------------------------------

    async def fork_token(self, session_name: str) -> DeribitToken:
        """``public/fork_token``: a token for a new session ``session_name`` (for another client),
        from this session-scoped token. Refused locally (:class:`AuthError`) for a connection-scoped
        token, (:class:`ValueError`) for a name that is not one word."""
        token = self._token
        if token is None or token.refresh_token is None:
            raise AuthError("fork_token needs a token with a refresh_token: authenticate first")
        if not token.session_scoped:
            raise AuthError(
                "fork_token needs a session-scoped token (ask for scope 'session:NAME'); "
                "this one is connection-scoped"
            )
        scope_text([f"session:{session_name}"])  # a plain name: raises ValueError otherwise
        params = {"refresh_token": token.refresh_token.reveal(), "session_name": session_name}
        return await self._new_token("public/fork_token", params)

    async def _new_token(self, method: str, params: Mapping[str, Any]) -> DeribitToken:
        """A token for another client: read and returned, never adopted here."""
        self.grants += 1
        return DeribitToken.from_result(await _result(self._attached(), method, params))

    async def exchange_token(
        self, subject_id: int, *, scope: str | Iterable[str] | None = None
    ) -> DeribitToken:
        """``public/exchange_token``: a token for subaccount ``subject_id`` (for another client).

        ``scope`` may narrow the current scope, never widen it: asking for more is refused locally,
        and a grant wider than the current scope is refused (:class:`AuthError`) before it is used.
        """
        token = self._token
        if token is None or token.refresh_token is None:
            raise AuthError("exchange_token needs a token with a refresh_token: authenticate first")
        if isinstance(subject_id, bool) or not isinstance(subject_id, int) or subject_id <= 0:
            raise ValueError("subject_id is the positive id of the target subaccount")
        params: dict[str, Any] = {"refresh_token": token.refresh_token.reveal(), "subject_id": subject_id}
        wanted = scope_text(scope)
        if wanted is not None:
            wider = token.scope.widened(DeribitScope.parse(wanted))
            if wider:
                raise AuthError(f"exchange_token would widen the scope ({', '.join(wider)}): refused")
            params["scope"] = wanted
        granted = await self._new_token("public/exchange_token", params)
        wider = token.scope.widened(granted.scope)
        if wider:
            raise AuthError(f"exchange_token granted a wider scope ({', '.join(wider)}): not used")
        return granted

    # -- the client's side ------------------------------------------------------------------------

    def attach(self, call: RpcCall, *, background: bool) -> None:
        """Bind to a client's transport (``call`` sends a request on it); done by the client.
        ``background``: refresh on a timer (WebSocket) rather than when a request finds it due."""
        if self._call is not None:
            raise RuntimeError("this DeribitAuth already serves another client: make one per client")
        self._call = call
        self._background = background
        self._schedule()

    def _attached(self) -> RpcCall:
        if self._call is None:
            raise AuthError("not attached to a client: pass auth= to DeribitClient.connect/over_http")
        return self._call

    async def detach(self) -> None:
        """The client closed: stop the refresh timer and let go of the transport."""
        timer, self._timer, self._call = self._timer, None, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await timer

    def forget(self) -> None:
        """Drop the token in memory (after ``private/logout``); the store is left as it is."""
        self._token = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        """(Re)arm the background refresh of an attached WebSocket client."""
        if self._call is None or self._token is None or not self._background:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().create_task(self._refresh_later(self._generation))

    async def _refresh_later(self, generation: int) -> None:
        token = self._token
        if token is None:
            return
        await asyncio.sleep(max(0.0, token.refresh_due(self.refresh_at) - time.time()))
        while generation == self._generation and self._call is not None:
            try:
                await self.refresh()
                return  # _adopt armed the next timer
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection dropped: on_connect re-authenticates
                log.warning("refreshing the Deribit token failed: %s", type(exc).__name__)
                if generation != self._generation:
                    return
                await asyncio.sleep(1.0)
