"""Deribit access scopes and tokens: what ``public/auth`` grants, parsed into its parts.

A Deribit scope is a space-separated list of names (facts from Deribit's authentication and
access-scope documentation, paraphrased):

* ``connection`` - the token belongs to this connection (the default); ``session:NAME`` - the
  token belongs to a named session, survives the connection and can be forked;
* ``account:LEVEL``, ``trade:LEVEL``, ``wallet:LEVEL``, ``block_trade:LEVEL``, ``custody:LEVEL``
  with ``LEVEL`` one of ``none``, ``read``, ``read_write``; the bare ``read`` / ``read_write``
  name every area at once;
* ``expires:SECONDS`` (a shorter token lifetime), ``ip:ADDRESS``, ``mainaccount``, and others
  this module keeps as they are (``DeribitScope.names``).

:class:`DeribitScope` reads a scope string; :meth:`DeribitScope.covers` says whether one scope
grants at least what another does (used so that exchanging a token never widens it silently).
:class:`DeribitToken` is one grant: the access and refresh tokens (as
:class:`~deriv_runtime.auth.secret.Secret`), the lifetime, the scope, and when to refresh.

Session vs connection scope (Deribit's authentication guide): refreshing a *connection-scoped*
token invalidates the previous access token; refreshing a *session-scoped* one keeps the session
(and its previous access token stays valid until it expires). :attr:`DeribitToken.session_scoped`
tells which one a token is; :class:`~deriv_runtime.auth.deribit.DeribitAuth` never hands out a
connection-scoped token after it was refreshed.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import AuthError
from .secret import Secret
from .tokens import TokenSet

__all__ = ["AREAS", "LEVELS", "DeribitScope", "DeribitToken", "scope_text"]

#: Areas a scope grants access to, each at one of :data:`LEVELS`.
AREAS = ("account", "trade", "wallet", "block_trade", "block_rfq", "custody")
#: Access levels, weakest first.
LEVELS = ("none", "read", "read_write")
Level = Literal["none", "read", "read_write"]
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
#: One scope name: no spaces, no control characters, nothing that could split a request.
_NAME = re.compile(r"[A-Za-z0-9_]+(?::[A-Za-z0-9_.\-@/]+)?")
#: The areas the bare ``read`` / ``read_write`` names stand for.
_ALL = ("account", "trade", "wallet")


def scope_text(scope: str | Iterable[str] | None) -> str | None:
    """The ``scope`` parameter for a list of scope names (``["read", "session:bot"]`` ->
    ``"read session:bot"``); ``None`` for none. A name that is not a scope name raises
    :class:`ValueError` (so nothing odd reaches the request)."""
    if scope is None:
        return None
    names = scope.split() if isinstance(scope, str) else list(scope)
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"not a Deribit scope name: {name!r} (like 'trade:read_write', 'session:bot')")
    return " ".join(names) or None


@dataclass(frozen=True)
class DeribitScope:
    """A granted (or requested) scope, read into its parts. ``str()`` gives it back as sent."""

    names: tuple[str, ...] = ()
    #: ``area -> level`` for every area the scope names (see :data:`AREAS`).
    access: Mapping[str, Level] = field(default_factory=dict)
    #: The ``session:NAME`` of a session-scoped token, else ``None``.
    session: str | None = None
    #: ``expires:SECONDS``, if asked for.
    expires: int | None = None

    @classmethod
    def parse(cls, scope: str | Iterable[str] | None) -> DeribitScope:
        """Read a scope string (unknown names are kept in :attr:`names` and otherwise ignored)."""
        names = tuple(scope.split() if isinstance(scope, str) else (scope or ()))
        access: dict[str, Level] = {}
        session: str | None = None
        expires: int | None = None
        for name in names:
            key, _, value = name.partition(":")
            if key in ("read", "read_write") and not value:
                for area in _ALL:
                    access[area] = _wider(access.get(area, "none"), key)
            elif key in AREAS and value in _RANK:
                access[key] = _wider(access.get(key, "none"), value)
            elif key == "session" and value:
                session = value
            elif key == "expires" and value.isdigit():
                expires = int(value)
        return cls(names, access, session, expires)

    @property
    def connection(self) -> bool:
        """The token belongs to one connection (no ``session:`` scope)."""
        return self.session is None

    @property
    def mainaccount(self) -> bool:
        return "mainaccount" in self.names

    def level(self, area: str) -> Level:
        """The access level for ``area`` (``"none"`` when the scope does not name it)."""
        return self.access.get(area, "none")

    def allows(self, area: str, level: Level) -> bool:
        """At least ``level`` on ``area``."""
        return _RANK[self.level(area)] >= _RANK[level]

    def covers(self, other: DeribitScope) -> bool:
        """This scope grants at least every access level ``other`` grants."""
        return all(self.allows(area, level) for area, level in other.access.items())

    def widened(self, other: DeribitScope) -> list[str]:
        """The areas where ``other`` grants more than this scope (``["wallet:read_write"]``)."""
        return [f"{a}:{lvl}" for a, lvl in other.access.items() if not self.allows(a, lvl)]

    def __str__(self) -> str:
        return " ".join(self.names)


def _wider(a: str, b: str) -> Level:
    level = a if _RANK[a] >= _RANK[b] else b
    return "read_write" if level == "read_write" else "read" if level == "read" else "none"


@dataclass(frozen=True, repr=False)
class DeribitToken:
    """One grant of ``public/auth`` (or ``fork_token`` / ``exchange_token``)."""

    access_token: Secret
    refresh_token: Secret | None
    #: Lifetime in seconds as granted, and when it was granted (Unix time).
    expires_in: float
    obtained_at: float
    scope: DeribitScope
    token_type: str = "bearer"  # noqa: S105 - a token type, not a password

    @classmethod
    def from_result(cls, result: Any, *, now: float | None = None) -> DeribitToken:
        """Read the ``result`` of ``public/auth``; :class:`AuthError` if it is not a grant
        (the message never shows the values)."""
        if not isinstance(result, Mapping):
            raise AuthError("public/auth answered without a token object")
        access, refresh = result.get("access_token"), result.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise AuthError("public/auth answered without an access_token")
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            raise AuthError("public/auth answered with an unreadable refresh_token")
        expires_in = result.get("expires_in")
        if (
            not isinstance(expires_in, int | float)
            or isinstance(expires_in, bool)
            or not math.isfinite(expires_in)
            or expires_in <= 0
        ):
            raise AuthError("public/auth answered without a positive expires_in")
        token_type = result.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise AuthError("public/auth granted a token that is not a bearer token")
        scope = result.get("scope")
        return cls(
            Secret(access),
            Secret(refresh) if refresh else None,
            float(expires_in),
            time.time() if now is None else now,
            DeribitScope.parse(scope if isinstance(scope, str) else ""),
        )

    @property
    def expires_at(self) -> float:
        return self.obtained_at + self.expires_in

    @property
    def session_scoped(self) -> bool:
        """``True`` for a ``session:NAME`` token (refreshing keeps the previous one valid)."""
        return self.scope.session is not None

    def refresh_due(self, fraction: float = 0.8) -> float:
        """When to refresh (Unix time): ``fraction`` of the lifetime after it was granted."""
        return self.obtained_at + self.expires_in * fraction

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    def to_token_set(self) -> TokenSet:
        """The form a :class:`~deriv_runtime.auth.tokens.TokenStore` keeps."""
        return TokenSet(self.access_token, "Bearer", self.refresh_token, self.expires_at, self.scope.names)

    @classmethod
    def from_token_set(cls, tokens: TokenSet, *, now: float | None = None) -> DeribitToken:
        """A stored token set (its remaining lifetime counted from ``now``)."""
        now = time.time() if now is None else now
        left = max(0.0, tokens.expires_at - now) if tokens.expires_at is not None else 0.0
        return cls(tokens.access_token, tokens.refresh_token, left, now, DeribitScope.parse(tokens.scopes))

    def __repr__(self) -> str:
        kind = f"session {self.scope.session!r}" if self.session_scoped else "connection"
        return f"DeribitToken({kind}, scope={str(self.scope)!r}, expires_in={self.expires_in:g})"
