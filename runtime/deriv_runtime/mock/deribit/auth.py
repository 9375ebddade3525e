"""``public/auth``, the tokens the mock issues and accepts, and HTTP ``Authorization`` headers.

Grants (the ``grant_type`` of ``public/auth``), for the keys of :mod:`.keys`:

* ``client_credentials``: ``client_id`` and ``client_secret`` of a Deribit-generated key (an
  asymmetric key is refused: 13004, it must sign);
* ``client_signature``: ``client_id``, ``timestamp`` (ms), ``signature``, optional ``nonce`` and
  ``data``: the signature of ``"{timestamp}\\n{nonce}\\n{data}"`` by the key (HMAC with its secret,
  or its private key), the timestamp within 60 s of the mock's clock, the nonce not used before
  (see :mod:`.keys`);
* ``refresh_token``: a refresh token the mock issued, used once (it rotates). Refreshing a
  connection-scoped token invalidates the access token issued with it; a session-scoped one
  (``session:NAME``) keeps it valid.

Bad credentials: 13004 ``invalid_credentials`` with the reason; a missing parameter: -32602. The
``password`` grant is refused. Each grant issues an access token and a refresh token; the scope
granted is the one asked for narrowed to the key's ``max_scope`` (:mod:`.scopes`), ``expires:N``
sets the access token's life (else the mock's ``ttl``).

``public/fork_token`` (:meth:`TokenBook.fork`): the refresh token of a session-scoped token (a
connection-scoped one: 13004) gives a new token pair with the same scope under the new session
name. ``public/exchange_token`` (:meth:`TokenBook.exchange`): a refresh token and a ``subject_id``
give a new token pair for that subject, with the same scope, or with the ``scope`` asked for when
it does not exceed the original's (narrowing is allowed, widening: 13403 ``scope_exceeded``). Both
leave the refresh token they were given valid.

A private method accepts a token when :attr:`TokenBook.accept_any` (the mock was given
``tokens=None``: any non-empty token, unrestricted), or it is one the mock was given (unrestricted),
or one it issued and not yet expired or revoked (its granted scope applies). Otherwise: 13009
``unauthorized``. Over HTTP, instead of a token (:meth:`TokenBook.check_header`):
``Authorization: Bearer TOKEN``, ``Basic base64(client_id:client_secret)`` of a Deribit-generated
key, or ``deri-hmac-sha256 id=...,ts=...,sig=...,nonce=...`` (scheme in any case, fields in any
order) signed as :func:`~.keys.request_payload` says; the last two act with the key's
``max_scope``. Bad headers: 13009 with the reason.

Tokens are kept only in memory to check them; :attr:`TokenBook.issued` lists fingerprints. Times
come from :attr:`TokenBook.clock` (epoch seconds; replaceable, so tests can move it).
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.record import fingerprint
from .keys import Client, Clients, CredentialError, auth_payload, request_payload
from .params import RpcError, invalid_params
from .scopes import DEFAULT_MAX_SCOPE, DEFAULT_WORDS, Scope

__all__ = ["DEFAULT_SCOPE", "HttpCredentials", "IssuedToken", "TokenBook", "unauthorized"]

#: The scope granted when none is asked for, to a key with the default ``max_scope``.
DEFAULT_SCOPE = " ".join([*DEFAULT_WORDS, DEFAULT_MAX_SCOPE])
_TOKEN_CHARS = string.ascii_letters + string.digits
_HEADER_FIELDS = ("id", "ts", "sig", "nonce")


def unauthorized(reason: str) -> RpcError:
    return RpcError(13009, "unauthorized", {"reason": reason})


def _invalid_credentials(reason: str) -> RpcError:
    return RpcError(13004, "invalid_credentials", {"reason": reason})


@dataclass(slots=True)
class IssuedToken:
    """A token pair the mock issued: fingerprints only, never the tokens."""

    grant_type: str
    client_id: str | None
    access_fingerprint: str
    refresh_fingerprint: str
    scope: str
    issued_at: float
    expires_at: float
    subject_id: int | None = None
    session: str | None = None


@dataclass(slots=True)
class HttpCredentials:
    """An HTTP request's ``Authorization`` header and what a ``deri-hmac-sha256`` one signs."""

    scheme: str  # lower case: bearer, basic, deri-hmac-sha256...
    credential: str  # for basic: the decoded ``client_id:client_secret``
    method: str = "GET"
    uri: str = ""
    body: bytes = b""


@dataclass(slots=True)
class _Grant:
    """What a token pair grants (no token in it)."""

    grant_type: str
    client_id: str | None
    scope: Scope
    ttl: float
    subject_id: int | None = None


@dataclass(slots=True)
class _Access:
    grant: _Grant
    expires_at: float
    refresh: str


@dataclass(slots=True)
class _Refresh:
    grant: _Grant
    access: str


def _stamp(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid_params(name, "must be milliseconds since the epoch")
    try:
        return int(value)
    except ValueError:
        raise invalid_params(name, "must be milliseconds since the epoch") from None


class TokenBook:
    """Keys, grants and the tokens accepted (see the module docstring)."""

    def __init__(
        self,
        clients: Mapping[str, str],
        tokens: Iterable[str] | None,
        *,
        ttl: float = 900.0,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        #: Epoch seconds: the clock of token lives and signed timestamps.
        self.clock: Callable[[], float] = clock or time.time
        #: The keys ``public/auth`` accepts.
        self.clients = Clients(self._now, seed=seed)
        for client_id, secret in clients.items():
            self.clients.with_secret(client_id, secret, Scope.parse(DEFAULT_MAX_SCOPE))
        #: Accept any non-empty token (``tokens=None``).
        self.accept_any = tokens is None
        #: Tokens accepted without being issued.
        self.static = set(tokens or ())
        self.ttl = ttl
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._rng = random.Random(f"{seed}:tokens")  # noqa: S311 - a mock's tokens
        #: Every token pair issued, oldest first.
        self.issued: list[IssuedToken] = []

    def _now(self) -> float:
        return self.clock()  # looked up each time: the clock may be replaced

    def _token(self) -> str:
        return "".join(self._rng.choice(_TOKEN_CHARS) for _ in range(43))

    # -- accepting ----------------------------------------------------------------------------

    def check(self, token: str | None) -> Scope | None:
        """The scope ``token`` grants a private method (``None``: unrestricted), or 13009."""
        if not token:
            raise unauthorized("a private method needs an access token")
        if self.accept_any or token in self.static:
            return None
        entry = self._access.get(token)
        if entry is None:
            raise unauthorized("invalid access token")
        if self.clock() >= entry.expires_at:
            raise unauthorized("the access token has expired")
        return entry.grant.scope

    def check_header(self, auth: HttpCredentials) -> Scope | None:
        """The scope an HTTP ``Authorization`` header grants (module docstring), or 13009."""
        if auth.scheme == "bearer":
            return self.check(auth.credential)
        try:
            if auth.scheme == "basic":
                client_id, _, secret = auth.credential.partition(":")
                return self.clients.check_secret(client_id, secret).max_scope
            if auth.scheme == "deri-hmac-sha256":
                return self._check_signed_request(auth).max_scope
        except CredentialError as exc:
            raise unauthorized(str(exc)) from None
        raise unauthorized(f"unsupported Authorization scheme {auth.scheme!r}")

    def _check_signed_request(self, auth: HttpCredentials) -> Client:
        fields: dict[str, str] = {}
        for part in auth.credential.split(","):
            name, sep, value = part.strip().partition("=")
            if sep:
                fields[name.strip().lower()] = value.strip()
        missing = [f for f in _HEADER_FIELDS if not fields.get(f)]
        if missing:
            raise CredentialError(f"the deri-hmac-sha256 header lacks {', '.join(missing)}")
        try:
            stamp = int(fields["ts"])
        except ValueError:
            raise CredentialError("ts must be milliseconds since the epoch") from None
        payload = request_payload(stamp, fields["nonce"], auth.method, auth.uri, auth.body)
        return self.clients.check_signature(fields["id"], stamp, fields["nonce"], payload, fields["sig"])

    def revoke(self, token: str) -> bool:
        """Stop accepting an access or refresh token."""
        found = self._access.pop(token, None) is not None
        found = self._refresh.pop(token, None) is not None or found
        if token in self.static:
            self.static.discard(token)
            found = True
        return found

    def revoke_pair(self, access: str) -> None:
        """Stop accepting an access token and the refresh token issued with it (``private/logout``)."""
        entry = self._access.pop(access, None)
        if entry is not None:
            self._refresh.pop(entry.refresh, None)
        self.static.discard(access)

    # -- grants -------------------------------------------------------------------------------

    def grant(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The result of ``public/auth`` for ``params``."""
        grant_type = params.get("grant_type")
        asked = params.get("scope")
        asked_scope = Scope.parse(asked) if isinstance(asked, str) and asked.strip() else None
        if grant_type == "refresh_token":
            return self._refreshed(self._required(params, "refresh_token"), params)
        if grant_type == "client_credentials":
            client_id = self._required(params, "client_id")
            secret = self._required(params, "client_secret")
            client = self._verified(lambda: self.clients.check_secret(client_id, secret))
        elif grant_type == "client_signature":
            client = self._verified_signature(params)
        elif grant_type == "password":
            raise _invalid_credentials("the password grant is not supported by the mock")
        else:
            raise invalid_params(
                "grant_type", "must be client_credentials, client_signature or refresh_token"
            )
        return self._issue(self._granted(str(grant_type), asked_scope, client), params)

    @staticmethod
    def _required(params: Mapping[str, Any], name: str) -> str:
        value = params.get(name)
        if not isinstance(value, str) or not value:
            raise invalid_params(name, "required parameter is missing")
        return value

    @staticmethod
    def _verified(check: Callable[[], Client]) -> Client:
        try:
            return check()
        except CredentialError as exc:
            raise _invalid_credentials(str(exc)) from None

    def _verified_signature(self, params: Mapping[str, Any]) -> Client:
        client_id = self._required(params, "client_id")
        signature = self._required(params, "signature")
        stamp = _stamp(params.get("timestamp"), "timestamp")
        nonce, data = params.get("nonce"), params.get("data")
        nonce_text = "" if nonce is None else str(nonce)
        payload = auth_payload(stamp, nonce_text, "" if data is None else str(data))
        return self._verified(
            lambda: self.clients.check_signature(client_id, stamp, nonce_text, payload, signature)
        )

    def _granted(self, grant_type: str, asked: Scope | None, client: Client | None) -> _Grant:
        """A new grant: the scope asked for narrowed to the key's (module docstring)."""
        ceiling = client.max_scope if client is not None else Scope.parse(DEFAULT_MAX_SCOPE)
        scope = (asked or Scope(words=list(DEFAULT_WORDS))).narrowed(ceiling)
        client_id = client.client_id if client is not None else None
        return _Grant(grant_type, client_id, scope, self._ttl(scope, self.ttl))

    @staticmethod
    def _ttl(scope: Scope, default: float) -> float:
        return float(scope.expires) if scope.expires is not None else default

    def _refreshed(self, refresh: str, params: Mapping[str, Any]) -> dict[str, Any]:
        entry = self._refresh.pop(refresh, None)
        if entry is None:
            raise _invalid_credentials("unknown or already used refresh token")
        if entry.grant.scope.session is None:  # connection-scoped: the old access token ends
            self._access.pop(entry.access, None)
        old = entry.grant
        grant = _Grant("refresh_token", old.client_id, old.scope.copy(), old.ttl, old.subject_id)
        return self._issue(grant, params)

    def _known(self, refresh: str) -> _Grant:
        entry = self._refresh.get(refresh)
        if entry is None:
            raise _invalid_credentials("unknown or already used refresh token")
        return entry.grant

    def fork(self, refresh: str, session_name: str) -> dict[str, Any]:
        """``public/fork_token`` (module docstring)."""
        base = self._known(refresh)
        if base.scope.session is None:
            raise _invalid_credentials("fork_token needs a session-scoped token (scope session:NAME)")
        scope = base.scope.in_session(session_name)
        return self._issue(_Grant("fork_token", base.client_id, scope, base.ttl, base.subject_id), {})

    def exchange(self, refresh: str, subject_id: int, scope: str | None = None) -> dict[str, Any]:
        """``public/exchange_token`` (module docstring)."""
        base = self._known(refresh)
        wanted = base.scope.copy()
        if scope is not None and scope.strip():
            wanted = Scope.parse(scope)
            above = wanted.exceeding(base.scope)
            if above:
                raise RpcError(
                    13403,
                    "scope_exceeded",
                    {"reason": "the scope asked for exceeds the original token's", "scope": " ".join(above)},
                )
            wanted = wanted.narrowed(base.scope)
        ttl = self._ttl(wanted, base.ttl)
        return self._issue(_Grant("exchange_token", base.client_id, wanted, ttl, subject_id), {})

    def issue(self, client_id: str | None, scope: str | None = None) -> dict[str, Any]:
        """A token pair for ``client_id``, as a ``client_credentials`` grant (no request)."""
        client = self.clients.get(client_id) if client_id is not None else None
        grant = self._granted("client_credentials", Scope.parse(scope) if scope else None, client)
        grant.client_id = client_id
        return self._issue(grant, {})

    def _issue(self, grant: _Grant, params: Mapping[str, Any]) -> dict[str, Any]:
        access, refresh = self._token(), self._token()
        now = self.clock()
        self._access[access] = _Access(grant, now + grant.ttl, refresh)
        self._refresh[refresh] = _Refresh(grant, access)
        shown = grant.scope.text()
        self.issued.append(
            IssuedToken(
                grant.grant_type,
                grant.client_id,
                fingerprint(access),
                fingerprint(refresh),
                shown,
                now,
                now + grant.ttl,
                grant.subject_id,
                grant.scope.session,
            )
        )
        result: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(grant.ttl),
            "refresh_token": refresh,
            "scope": shown,
            "token_type": "bearer",
        }
        if isinstance(params.get("state"), str):
            result["state"] = params["state"]
        return result
