"""The back half of the authorization code flow: token exchange, refresh, and refreshing credentials.

:class:`OAuthClient` talks to the token endpoint (RFC 6749 §4.1.3 with the PKCE ``code_verifier``,
and §6 refresh) over httpx, with a timeout on every request and redirects never followed. Every
token set it obtains is saved to its :class:`TokenStore` before it is returned.

:class:`OAuthCredentials` implements :class:`Credentials` on top of it: it hands out the current
access token and refreshes it when it is about to expire (``skew`` seconds early) or after
:meth:`~OAuthCredentials.invalidate`. Many concurrent callers cause **one** refresh: coroutines
share one refresh task per event loop (an ``asyncio.Lock`` guards its creation, after a re-check),
threads queue on a ``threading.Lock`` and re-check once they hold it, and the async refresh holds
that same thread lock, so sync and async callers never refresh in parallel either. The rotated
token set reaches the store before any caller sees it; if saving fails, the caller gets
:class:`TokenStoreError` and the set is kept aside and saved again on the next attempt (with
rotating refresh tokens, the old refresh token may already be dead).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from .._redact import redact_text, redact_url
from .authorize import AuthorizationCode, AuthorizationRequest, _error_code, _error_description
from .config import OAuthConfig
from .credentials import authorization_header
from .errors import AuthError, OAuthError, OAuthTimeout, TokenStoreError
from .secret import Secret, SecretLike
from .secure import require_secure
from .tokens import MemoryTokenStore, TokenSet, TokenStore

if TYPE_CHECKING:
    import httpx

__all__ = ["OAuthClient", "OAuthCredentials"]

DEFAULT_TIMEOUT = 30.0
_MIN_SCRUB = 4


@dataclass(frozen=True)
class _TokenRequest:
    what: str
    url: str
    form: dict[str, str]
    headers: dict[str, str]
    #: Values to mask if the server echoes them in an error description.
    secrets: tuple[str, ...]
    previous: TokenSet | None = None

    def __repr__(self) -> str:
        return f"_TokenRequest({self.what!r}, {redact_url(self.url)!r})"


class OAuthClient:
    """Token endpoint client: authorization code exchange and refresh.

    ``http`` / ``http_sync``: clients to use (their TLS settings are left alone; each request still
    gets this client's ``timeout`` and ``follow_redirects=False``). Without one, a fresh
    ``httpx.AsyncClient`` / ``httpx.Client`` with default (verifying) TLS is used per request:
    token requests are rare, and that binds nothing to an event loop.
    """

    def __init__(
        self,
        config: OAuthConfig,
        store: TokenStore | None = None,
        http: httpx.AsyncClient | None = None,
        *,
        http_sync: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.config = config
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.timeout = timeout
        self.clock = clock
        self._http = http
        self._http_sync = http_sync

    def __repr__(self) -> str:
        url = redact_url(self.config.token_url)
        return f"OAuthClient(client_id={self.config.client_id!r}, token_url={url!r})"

    # -- public API -----------------------------------------------------------------------------

    async def exchange(
        self, code: AuthorizationCode, request: AuthorizationRequest | None = None
    ) -> TokenSet:
        """Exchange a verified code (from :meth:`AuthorizationRequest.complete`) for tokens; saved first."""
        req = self._exchange_request(code, request)
        tokens = await self._send(req)
        await asyncio.to_thread(self.persist, tokens)
        return tokens

    def exchange_sync(self, code: AuthorizationCode, request: AuthorizationRequest | None = None) -> TokenSet:
        req = self._exchange_request(code, request)
        tokens = self._send_sync(req)
        self.persist(tokens)
        return tokens

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        """A new token set from ``tokens.refresh_token`` (``grant_type=refresh_token``); saved first."""
        new = await self._send(self._refresh_request(tokens))
        await asyncio.to_thread(self.persist, new)
        return new

    def refresh_sync(self, tokens: TokenSet) -> TokenSet:
        new = self._send_sync(self._refresh_request(tokens))
        self.persist(new)
        return new

    def persist(self, tokens: TokenSet) -> None:
        """Save ``tokens`` to the store; any failure becomes :class:`TokenStoreError`."""
        try:
            self.store.save(tokens)
        except TokenStoreError:
            raise
        except Exception as exc:
            raise TokenStoreError(f"the token store failed to save: {type(exc).__name__}") from exc

    def load(self) -> TokenSet | None:
        """The stored token set, if any; any failure becomes :class:`TokenStoreError`."""
        try:
            return self.store.load()
        except TokenStoreError:
            raise
        except Exception as exc:
            raise TokenStoreError(f"the token store failed to load: {type(exc).__name__}") from exc

    def credentials(self, tokens: TokenSet | None = None, *, skew: float = 30.0) -> OAuthCredentials:
        """:class:`OAuthCredentials` over this client (tokens from the store when not given)."""
        return OAuthCredentials(self, tokens, skew=skew)

    # -- requests -------------------------------------------------------------------------------

    def _exchange_request(
        self, code: AuthorizationCode, request: AuthorizationRequest | None
    ) -> _TokenRequest:
        if not isinstance(code, AuthorizationCode):
            raise TypeError(
                "exchange() takes the AuthorizationCode returned by AuthorizationRequest.complete()"
            )
        request = request if request is not None else code.request
        if request.config.client_id != self.config.client_id:
            raise ValueError("the authorization request was made for another client_id")
        request._take_code(code)  # from this request, completed (state checked), not exchanged yet
        form = {
            "grant_type": "authorization_code",
            "code": code.code.reveal(),
            "redirect_uri": request.redirect_uri,
            "client_id": self.config.client_id,
            "code_verifier": request.code_verifier.reveal(),
        }
        return self._with_client_auth(
            "token endpoint", self.config.token_url, form, (code.code, request.code_verifier), None
        )

    def _refresh_request(self, tokens: TokenSet) -> _TokenRequest:
        if tokens.refresh_token is None:
            raise AuthError("no refresh token: the token set cannot be refreshed; authorize again")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token.reveal(),
            "client_id": self.config.client_id,
        }
        return self._with_client_auth(
            "token endpoint",
            self.config.refresh_endpoint,
            form,
            (tokens.refresh_token, tokens.access_token),
            tokens,
        )

    def _with_client_auth(
        self,
        what: str,
        url: str,
        form: dict[str, str],
        secrets: tuple[Secret, ...],
        previous: TokenSet | None,
    ) -> _TokenRequest:
        require_secure(url, what)
        headers = {"Accept": "application/json", "Cache-Control": "no-store"}
        secret = self.config.client_secret
        if secret is not None:
            secrets = (*secrets, secret)
            if self.config.client_auth == "client_secret_post":
                form["client_secret"] = secret.reveal()
            else:  # RFC 6749 §2.3.1: form-encode both parts, then Basic
                pair = f"{quote_plus(self.config.client_id)}:{quote_plus(secret.reveal())}"
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return _TokenRequest(what, url, form, headers, tuple(s.reveal() for s in secrets), previous)

    async def _send(self, req: _TokenRequest) -> TokenSet:
        import httpx

        now = self.clock()
        try:
            if self._http is not None:
                response = await self._http.post(
                    req.url, data=req.form, headers=req.headers, timeout=self.timeout, follow_redirects=False
                )
            else:
                async with httpx.AsyncClient(timeout=self.timeout) as http:
                    response = await http.post(
                        req.url, data=req.form, headers=req.headers, follow_redirects=False
                    )
        except httpx.TimeoutException:
            raise OAuthTimeout(
                f"the {req.what} did not answer within {self.timeout:g} s ({redact_url(req.url)})"
            ) from None
        except httpx.HTTPError as exc:
            raise AuthError(_transport_failure(req, exc)) from None
        return self._read(
            req, response.status_code, response.headers.get("content-type", ""), response.content, now
        )

    def _send_sync(self, req: _TokenRequest) -> TokenSet:
        import httpx

        now = self.clock()
        try:
            if self._http_sync is not None:
                response = self._http_sync.post(
                    req.url, data=req.form, headers=req.headers, timeout=self.timeout, follow_redirects=False
                )
            else:
                with httpx.Client(timeout=self.timeout) as http:
                    response = http.post(req.url, data=req.form, headers=req.headers, follow_redirects=False)
        except httpx.TimeoutException:
            raise OAuthTimeout(
                f"the {req.what} did not answer within {self.timeout:g} s ({redact_url(req.url)})"
            ) from None
        except httpx.HTTPError as exc:
            raise AuthError(_transport_failure(req, exc)) from None
        return self._read(
            req, response.status_code, response.headers.get("content-type", ""), response.content, now
        )

    def _read(self, req: _TokenRequest, status: int, content_type: str, body: bytes, now: float) -> TokenSet:
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = None
        if 200 <= status < 300 and isinstance(payload, Mapping) and "access_token" in payload:
            return TokenSet.from_token_response(payload, now=now, previous=req.previous)
        if isinstance(payload, Mapping) and isinstance(payload.get("error"), str):
            description = payload.get("error_description")
            raise OAuthError(
                _error_code(payload["error"]),
                _scrub(description, req.secrets) if isinstance(description, str) else None,
                status=status,
            )
        kind = content_type.split(";", maxsplit=1)[0].strip() or "no content type"
        raise OAuthError(
            "invalid_response",
            f"the {req.what} ({redact_url(req.url)}) answered HTTP {status} ({kind}) "
            "with neither a token nor an OAuth error",
            status=status,
        )


def _transport_failure(req: _TokenRequest, exc: Exception) -> str:
    detail = _scrub(str(exc), req.secrets)
    return f"cannot reach the {req.what} ({redact_url(req.url)}): {type(exc).__name__}" + (
        f": {detail}" if detail else ""
    )


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Server-provided text without any of our secrets or URL queries, one line, bounded."""
    for value in secrets:
        if len(value) >= _MIN_SCRUB:
            text = text.replace(value, "***")
    return _error_description(redact_text(text))


@dataclass
class _LoopState:
    lock: asyncio.Lock
    inflight: asyncio.Task[Secret] | None = None


class OAuthCredentials:
    """:class:`Credentials` from an :class:`OAuthClient`: the current access token, refreshed as needed.

    ``tokens``: the token set to start with (e.g. what :meth:`OAuthClient.exchange` returned);
    ``None`` loads it from the client's store on first use. ``skew``: refresh this many seconds
    before ``expires_at``. ``lock_timeout``: how long a caller waits for a refresh running elsewhere.

    Do not call the ``*_sync`` methods from a running event loop's thread: use the async ones there.
    """

    def __init__(
        self,
        client: OAuthClient,
        tokens: TokenSet | None = None,
        *,
        skew: float = 30.0,
        lock_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.skew = skew
        self.lock_timeout = lock_timeout if lock_timeout is not None else 2 * client.timeout + 10
        self._tokens = tokens
        self._rejected: Secret | None = None
        self._unsaved: TokenSet | None = None
        self._thread_lock = threading.Lock()
        self._guard = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        #: How many refresh requests this object sent (for tests and metrics).
        self.refreshes = 0

    def __repr__(self) -> str:
        tokens = self._tokens
        if tokens is None:
            return f"OAuthCredentials(client_id={self.client.config.client_id!r}, tokens=None)"
        return (
            f"OAuthCredentials(client_id={self.client.config.client_id!r}, expires_at={tokens.expires_at!r}, "
            f"refreshable={tokens.refresh_token is not None})"
        )

    @property
    def tokens(self) -> TokenSet | None:
        """The token set in use (``None`` before the first load)."""
        return self._tokens

    # -- Credentials ----------------------------------------------------------------------------

    async def bearer(self) -> Secret:
        tokens = self._tokens
        if tokens is not None and self._usable(tokens):
            return tokens.access_token
        return await self._renew()

    def bearer_sync(self) -> Secret:
        tokens = self._tokens
        if tokens is not None and self._usable(tokens):
            return tokens.access_token
        return self._renew_sync()

    async def invalidate(self, rejected: SecretLike) -> None:
        """The server refused ``rejected`` (HTTP 401): refresh now, unless it is no longer current.

        Raises :class:`AuthError` when no new token can be had (no refresh token: authorize again),
        :class:`OAuthError` when the refresh is refused (``invalid_grant``: authorize again).
        """
        if self._mark_rejected(rejected):
            await self._renew()

    def invalidate_sync(self, rejected: SecretLike) -> None:
        if self._mark_rejected(rejected):
            self._renew_sync()

    async def authorization(self) -> str:
        """``"Bearer <access token>"``."""
        return authorization_header(await self.bearer())

    def authorization_sync(self) -> str:
        return authorization_header(self.bearer_sync())

    # -- internals ------------------------------------------------------------------------------

    def _usable(self, tokens: TokenSet) -> bool:
        if tokens.expired(self.skew, self.client.clock()):
            return False
        rejected = self._rejected
        return rejected is None or tokens.access_token != rejected

    def _mark_rejected(self, given: SecretLike) -> bool:
        rejected = given if isinstance(given, Secret) else Secret(given.reveal())
        tokens = self._tokens
        if tokens is None or tokens.access_token != rejected:
            return False  # already rotated (another 401 caused the refresh), or never handed out
        self._rejected = rejected
        return True

    def _adopt(self, tokens: TokenSet) -> Secret:
        self._tokens = tokens
        self._unsaved = None
        if self._rejected is not None and tokens.access_token != self._rejected:
            self._rejected = None
        return tokens.access_token

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._guard:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _LoopState(asyncio.Lock())
            return state

    async def _renew(self) -> Secret:
        state = self._loop_state()
        async with state.lock:
            tokens = self._tokens  # re-check: a refresh may have finished while we waited
            if tokens is not None and self._usable(tokens):
                return tokens.access_token
            task = state.inflight
            if task is None or task.done():
                task = asyncio.get_running_loop().create_task(self._renew_task())
                task.add_done_callback(_retrieve)
                state.inflight = task
        # Shielded: a cancelled caller does not abort the refresh (its result must reach the store).
        return await asyncio.shield(task)

    async def _renew_task(self) -> Secret:
        deadline = time.monotonic() + self.lock_timeout
        while not self._thread_lock.acquire(blocking=False):  # a sync caller is refreshing
            if time.monotonic() > deadline:
                raise AuthError("timed out waiting for another token refresh to finish")
            await asyncio.sleep(0.01)
        try:
            tokens = self._tokens
            if tokens is not None and self._usable(tokens):
                return tokens.access_token
            if self._unsaved is not None:
                await asyncio.to_thread(self.client.persist, self._unsaved)
                return self._adopt(self._unsaved)
            current = self._pick(await asyncio.to_thread(self.client.load))
            if self._usable(current):
                return self._adopt(current)
            self._check_refreshable(current)
            self.refreshes += 1
            new = await self.client._send(self.client._refresh_request(current))
            try:
                await asyncio.to_thread(self.client.persist, new)
            except TokenStoreError:
                self._unsaved = new
                raise
            return self._adopt(new)
        finally:
            self._thread_lock.release()

    def _renew_sync(self) -> Secret:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "bearer_sync()/invalidate_sync() called from a running event loop: await bearer()"
            )
        if not self._thread_lock.acquire(timeout=self.lock_timeout):
            raise AuthError("timed out waiting for another token refresh to finish")
        try:
            tokens = self._tokens  # re-check: another thread may have refreshed while we waited
            if tokens is not None and self._usable(tokens):
                return tokens.access_token
            if self._unsaved is not None:
                self.client.persist(self._unsaved)
                return self._adopt(self._unsaved)
            current = self._pick(self.client.load())
            if self._usable(current):
                return self._adopt(current)
            self._check_refreshable(current)
            self.refreshes += 1
            new = self.client._send_sync(self.client._refresh_request(current))
            try:
                self.client.persist(new)
            except TokenStoreError:
                self._unsaved = new
                raise
            return self._adopt(new)
        finally:
            self._thread_lock.release()

    def _pick(self, stored: TokenSet | None) -> TokenSet:
        """The set to continue from: the store's if it differs from ours (another process refreshed)."""
        current = self._tokens
        if stored is not None and (current is None or stored.access_token != current.access_token):
            current = stored
        if current is None:
            raise AuthError("no OAuth tokens yet: run the authorization flow (OAuthClient.exchange) first")
        return current

    def _check_refreshable(self, tokens: TokenSet) -> None:
        if tokens.refresh_token is None:
            why = "was rejected" if self._rejected is not None else "expired"
            raise AuthError(f"the access token {why} and there is no refresh token: authorize again")


def _retrieve(task: asyncio.Task[Secret]) -> None:
    """Mark the refresh task's exception as retrieved (its callers may all have been cancelled)."""
    if not task.cancelled():
        task.exception()
