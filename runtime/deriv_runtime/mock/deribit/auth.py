"""``public/auth`` and the tokens the mock accepts on private methods.

Grants (the ``grant_type`` of ``public/auth``):

* ``client_credentials``: ``client_id`` and ``client_secret`` of a configured client;
* ``client_signature``: ``client_id``, ``timestamp`` (ms, within 60 s of now), ``signature`` =
  hex HMAC-SHA256 with the client's secret over ``"{timestamp}\\n{nonce}\\n{data}\\n"`` (``nonce``,
  ``data`` optional);
* ``refresh_token``: a refresh token the mock issued (used once: it rotates).

Each grant issues an access token (valid ``ttl`` seconds) and a refresh token. Bad credentials:
error 13004 ``invalid_credentials``; a missing parameter: -32602. The ``password`` grant is refused.

A private method accepts the token when :attr:`TokenBook.accept_any` (the mock was given
``tokens=None``: any non-empty token), or it is one the mock was given, or one it issued and not
yet expired. Otherwise (no token, unknown or expired): 13009 ``unauthorized``. Scopes are not
checked. Tokens are kept only as given; :attr:`TokenBook.issued` lists fingerprints.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.record import fingerprint
from .params import RpcError, invalid_params

__all__ = ["DEFAULT_SCOPE", "IssuedToken", "TokenBook", "unauthorized"]

DEFAULT_SCOPE = "connection mainaccount account:read_write trade:read_write wallet:read_write"
_TOKEN_CHARS = string.ascii_letters + string.digits
_SIGNATURE_WINDOW_MS = 60_000


def unauthorized(reason: str) -> RpcError:
    return RpcError(13009, "unauthorized", {"reason": reason})


def _invalid_credentials(reason: str) -> RpcError:
    return RpcError(13004, "invalid_credentials", {"reason": reason})


@dataclass(slots=True)
class IssuedToken:
    """A token pair ``public/auth`` issued: fingerprints only, never the tokens."""

    grant_type: str
    client_id: str | None
    access_fingerprint: str
    refresh_fingerprint: str
    scope: str
    issued_at: float
    expires_at: float


class TokenBook:
    """Clients, grants and the tokens accepted (see the module docstring)."""

    def __init__(
        self,
        clients: Mapping[str, str],
        tokens: Iterable[str] | None,
        *,
        ttl: float = 900.0,
        seed: int = 0,
    ) -> None:
        #: ``client_id -> client_secret`` accepted by ``public/auth``.
        self.clients = dict(clients)
        #: Accept any non-empty token (``tokens=None``).
        self.accept_any = tokens is None
        #: Tokens accepted without being issued.
        self.static = set(tokens or ())
        self.ttl = ttl
        self._access: dict[str, float] = {}  # token -> expiry (monotonic)
        self._refresh: dict[str, str | None] = {}  # token -> client_id
        self._rng = random.Random(f"{seed}:tokens")  # noqa: S311 - a mock's tokens
        #: Every grant issued, oldest first.
        self.issued: list[IssuedToken] = []

    def _token(self) -> str:
        return "".join(self._rng.choice(_TOKEN_CHARS) for _ in range(43))

    def check(self, token: str | None) -> None:
        """Accept ``token`` for a private method, or raise 13009."""
        if not token:
            raise unauthorized("a private method needs an access token")
        if self.accept_any or token in self.static:
            return
        expiry = self._access.get(token)
        if expiry is None:
            raise unauthorized("invalid access token")
        if time.monotonic() >= expiry:
            raise unauthorized("the access token has expired")

    def check_basic(self, client_id: str, secret: str) -> bool:
        """``Authorization: Basic`` with a configured client's credentials."""
        expected = self.clients.get(client_id)
        return expected is not None and hmac.compare_digest(expected, secret)

    def revoke(self, token: str) -> bool:
        found = self._access.pop(token, None) is not None
        found = self._refresh.pop(token, None) is not None or found
        if token in self.static:
            self.static.discard(token)
            found = True
        return found

    # -- grants -------------------------------------------------------------------------------

    def grant(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The result of ``public/auth`` for ``params``."""
        grant_type = params.get("grant_type")
        client_id: str | None = None
        if grant_type == "client_credentials":
            client_id = self._required(params, "client_id")
            secret = self._required(params, "client_secret")
            if not self.check_basic(client_id, secret):
                raise _invalid_credentials("unknown client_id or wrong client_secret")
        elif grant_type == "client_signature":
            client_id = self._required(params, "client_id")
            self._check_signature(client_id, params)
        elif grant_type == "refresh_token":
            refresh = self._required(params, "refresh_token")
            if refresh not in self._refresh:
                raise _invalid_credentials("unknown or already used refresh token")
            client_id = self._refresh.pop(refresh)
        elif grant_type == "password":
            raise _invalid_credentials("the password grant is not supported by the mock")
        else:
            raise invalid_params(
                "grant_type", "must be client_credentials, client_signature or refresh_token"
            )
        scope = params.get("scope")
        return self._issue(
            str(grant_type), client_id, scope if isinstance(scope, str) and scope else None, params
        )

    @staticmethod
    def _required(params: Mapping[str, Any], name: str) -> str:
        value = params.get(name)
        if not isinstance(value, str) or not value:
            raise invalid_params(name, "required parameter is missing")
        return value

    def _check_signature(self, client_id: str, params: Mapping[str, Any]) -> None:
        timestamp = params.get("timestamp")
        signature = self._required(params, "signature")
        try:
            stamp = int(str(timestamp))
        except ValueError:
            raise invalid_params("timestamp", "must be milliseconds since the epoch") from None
        if abs(time.time() * 1000 - stamp) > _SIGNATURE_WINDOW_MS:
            raise _invalid_credentials("the timestamp is more than 60 s away")
        secret = self.clients.get(client_id)
        if secret is None:
            raise _invalid_credentials("unknown client_id")
        nonce, data = str(params.get("nonce") or ""), str(params.get("data") or "")
        text = f"{timestamp}\n{nonce}\n{data}\n".encode()
        expected = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise _invalid_credentials("bad signature")

    def exchange(self, refresh: str, grant_type: str, scope: str | None = None) -> dict[str, Any]:
        """A new token pair for the client of ``refresh``, a refresh token the mock issued (kept
        valid): ``public/fork_token`` and ``public/exchange_token``. Unknown: 13004."""
        if refresh not in self._refresh:
            raise _invalid_credentials("unknown or already used refresh token")
        return self._issue(grant_type, self._refresh[refresh], scope or None, {})

    def issue(self, client_id: str | None, scope: str | None = None) -> dict[str, Any]:
        """A token pair for ``client_id``, as a ``client_credentials`` grant (no request)."""
        return self._issue("client_credentials", client_id, scope, {})

    def _issue(
        self, grant_type: str, client_id: str | None, scope: str | None, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        access, refresh = self._token(), self._token()
        now = time.monotonic()
        self._access[access] = now + self.ttl
        self._refresh[refresh] = client_id
        granted = scope or DEFAULT_SCOPE
        self.issued.append(
            IssuedToken(
                grant_type,
                client_id,
                fingerprint(access),
                fingerprint(refresh),
                granted,
                time.time(),
                time.time() + self.ttl,
            )
        )
        result: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(self.ttl),
            "refresh_token": refresh,
            "scope": granted,
            "token_type": "bearer",
        }
        if isinstance(params.get("state"), str):
            result["state"] = params["state"]
        return result
