"""What an HTTP client needs from a credential: :class:`Credentials`, and the simplest one, a PAT.

The REST client calls, for every request::

    token = await credentials.bearer()                  # or credentials.bearer_sync()
    headers["Authorization"] = authorization_header(token)
    response = await send(...)
    if response.status_code == 401:
        await credentials.invalidate(token)             # refreshes if it can (once for all callers)
        retry = await credentials.bearer()
        if retry != token:                              # a new token: retry the request once
            ...
        # same token (a PAT, or nothing to refresh with): surface the 401

``invalidate`` with a token that is no longer the current one (another request already caused a
refresh) does nothing, so a burst of 401s leads to one refresh.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from .errors import AuthError
from .secret import Secret, SecretLike

__all__ = ["Credentials", "PersonalAccessToken", "authorization_header"]


@runtime_checkable
class Credentials(Protocol):
    """A source of bearer tokens for HTTP requests (``Authorization: Bearer <token>``)."""

    async def bearer(self) -> Secret:
        """The token to send now (refreshed first if it expired or was invalidated)."""
        ...

    def bearer_sync(self) -> Secret:
        """:meth:`bearer` for blocking clients; safe to call from many threads."""
        ...

    async def invalidate(self, rejected: SecretLike) -> None:
        """The server answered 401 to ``rejected``: refresh if possible (no-op if already rotated).

        May raise :class:`AuthError` when no new token can be had (authorize again). When
        :meth:`bearer` then gives the same token (a PAT), the 401 stands.
        """
        ...

    def invalidate_sync(self, rejected: SecretLike) -> None:
        """:meth:`invalidate` for blocking clients."""
        ...


def authorization_header(token: Secret) -> str:
    """``"Bearer <token>"``, the value of the ``Authorization`` header. Do not log it."""
    value = token.reveal()
    if not value or not all("!" <= ch <= "~" for ch in value):  # visible ASCII only (RFC 6750 §2.1)
        raise AuthError("the bearer token is empty or contains characters not allowed in an HTTP header")
    return "Bearer " + value


class PersonalAccessToken:
    """A Personal Access Token from the Deriv dashboard: a fixed bearer token, nothing to refresh."""

    __slots__ = ("_token",)

    def __init__(self, token: str | Secret) -> None:
        value = Secret(token).reveal().strip()  # a pasted token often brings a newline along
        if not value:
            raise ValueError("the personal access token is empty")
        self._token = Secret(value)
        authorization_header(self._token)  # refuses header-breaking characters early

    @classmethod
    def from_env(cls, name: str = "DERIV_PAT") -> PersonalAccessToken:
        """Read the token from the environment variable ``name``."""
        value = os.environ.get(name)
        if not value:
            raise AuthError(
                f"environment variable {name} is not set (it should hold a personal access token)"
            )
        return cls(value)

    def __repr__(self) -> str:
        return f"PersonalAccessToken({self._token!r})"

    __str__ = __repr__

    async def bearer(self) -> Secret:
        return self._token

    def bearer_sync(self) -> Secret:
        return self._token

    async def invalidate(self, rejected: SecretLike) -> None:
        """Nothing to refresh: the caller gets the same token back and should surface the 401."""

    def invalidate_sync(self, rejected: SecretLike) -> None:
        """Nothing to refresh."""

    async def authorization(self) -> str:
        """``"Bearer <token>"``."""
        return authorization_header(self._token)

    def authorization_sync(self) -> str:
        return authorization_header(self._token)
