"""Token sets and where they live between runs.

A :class:`TokenStore` has two plain methods, ``load()`` and ``save(tokens)``; they are called from
both the sync and the async paths (from a worker thread in the async one), so any implementation
that is thread-safe fits. :class:`MemoryTokenStore` keeps the set in memory;
:class:`FileTokenStore` keeps it in a JSON file only its owner can read:

* writes are atomic: a temporary file in the same directory, created ``0600``, written, fsynced,
  then ``os.replace``-d over the old file (and the directory fsynced), so a crash leaves either the
  old or the new token set, never half of one, and no temporary file on failure;
* ``load()`` refuses a file that group or others may read or write (on POSIX), with a message
  saying to ``chmod 600`` it: the refresh token in it is as good as the user's login. The path
  must name the file itself, not a symlink (``save`` would replace the link, not its target).
"""

from __future__ import annotations

import json
import math
import os
import stat
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ._atomic import write_file_atomic
from .errors import OAuthError, TokenStoreError
from .secret import Secret

__all__ = ["FileTokenStore", "MemoryTokenStore", "TokenSet", "TokenStore"]

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class TokenSet:
    """Tokens from the token endpoint. ``expires_at`` is a Unix time (``None``: no known expiry)."""

    access_token: Secret
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a password
    refresh_token: Secret | None = None
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.access_token, Secret) or not self.access_token:
            raise TypeError("TokenSet.access_token must be a non-empty Secret")
        if self.refresh_token is not None and not isinstance(self.refresh_token, Secret):
            raise TypeError("TokenSet.refresh_token must be a Secret")

    def expired(self, skew: float = 30.0, now: float | None = None) -> bool:
        """True when the access token expires within ``skew`` seconds."""
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at - skew

    @classmethod
    def from_token_response(
        cls, payload: Mapping[str, Any], *, now: float, previous: TokenSet | None = None
    ) -> TokenSet:
        """Read a successful token endpoint answer (RFC 6749 §5.1).

        A refresh answer without ``refresh_token`` keeps the previous one (§6); without ``scope``,
        the previous scopes. Raises :class:`OAuthError` for a missing access token or a token type
        other than Bearer.
        """
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuthError("invalid_response", "the token endpoint answered without an access_token")
        token_type = payload.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise OAuthError("unsupported_token_type", "the token endpoint issued a non-Bearer token")
        refresh = payload.get("refresh_token")
        refresh_token = Secret(refresh) if isinstance(refresh, str) and refresh else None
        if refresh_token is None and previous is not None:
            refresh_token = previous.refresh_token
        expires_at: float | None = None
        expires_in = payload.get("expires_in")
        if isinstance(expires_in, str) and expires_in.strip().isdigit():
            expires_in = int(expires_in)
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            if not math.isfinite(expires_in) or expires_in < 0:
                raise OAuthError("invalid_response", "the token endpoint gave an invalid expires_in")
            expires_at = now + float(expires_in)
        scope = payload.get("scope")
        if isinstance(scope, str):
            scopes = tuple(scope.split())
        else:
            scopes = previous.scopes if previous is not None else ()
        return cls(Secret(access), "Bearer", refresh_token, expires_at, scopes)

    def to_json(self) -> dict[str, Any]:
        """The stored form. **Contains the secrets in clear**: for token stores only."""
        return {
            "version": _FORMAT_VERSION,
            "access_token": self.access_token.reveal(),
            "token_type": self.token_type,
            "refresh_token": self.refresh_token.reveal() if self.refresh_token is not None else None,
            "expires_at": self.expires_at,
            "scope": " ".join(self.scopes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenSet:
        if not isinstance(data, Mapping) or data.get("version") != _FORMAT_VERSION:
            raise ValueError("not a token set (or an unknown format version)")
        access = data.get("access_token")
        refresh = data.get("refresh_token")
        expires_at = data.get("expires_at")
        token_type = data.get("token_type", "Bearer")
        scope = data.get("scope", "")
        if (
            not isinstance(access, str)
            or not access
            or not (refresh is None or isinstance(refresh, str))
            or not (expires_at is None or isinstance(expires_at, int | float))
            or not isinstance(token_type, str)
            or not isinstance(scope, str)
        ):
            raise ValueError("malformed token set")
        return cls(
            Secret(access),
            token_type,
            Secret(refresh) if refresh else None,
            float(expires_at) if expires_at is not None else None,
            tuple(scope.split()),
        )


@runtime_checkable
class TokenStore(Protocol):
    """Where a token set lives between runs. Both methods may be called from any thread."""

    def load(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...


class MemoryTokenStore:
    """Keeps the token set in this process only."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()

    def load(self) -> TokenSet | None:
        with self._lock:
            return self._tokens

    def save(self, tokens: TokenSet) -> None:
        with self._lock:
            self._tokens = tokens

    def __repr__(self) -> str:
        return f"MemoryTokenStore(empty={self._tokens is None})"


class FileTokenStore:
    """A JSON file, mode ``0600``, replaced atomically on every save."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    def load(self) -> TokenSet | None:
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise TokenStoreError(f"cannot read the token file {self.path}: {exc.strerror}") from None
            with os.fdopen(fd, "rb") as file:
                mode = os.fstat(file.fileno()).st_mode
                if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise TokenStoreError(
                        f"the token file {self.path} is accessible by group or others "
                        f"(mode {stat.S_IMODE(mode):04o}); it holds credentials: "
                        f"run `chmod 600 {self.path}` (or delete it and sign in again)"
                    )
                raw = file.read()
            try:
                return TokenSet.from_json(json.loads(raw))
            except (ValueError, TypeError, UnicodeDecodeError):
                raise TokenStoreError(
                    f"the token file {self.path} is not a valid token set; delete it and sign in again"
                ) from None

    def save(self, tokens: TokenSet) -> None:
        data = json.dumps(tokens.to_json(), indent=2).encode()
        with self._lock:
            try:
                write_file_atomic(self.path, data, mode=0o600, overwrite=True)
            except OSError as exc:
                raise TokenStoreError(
                    f"cannot write the token file {self.path}: {exc.strerror or type(exc).__name__}"
                ) from exc
