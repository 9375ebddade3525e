"""Exceptions of :mod:`deriv_runtime.auth`: credentials, the OAuth flow, token storage.

    DerivError                          (deriv_runtime.errors)
    └── AuthError                       base class of everything below; also: no usable token
        ├── OAuthError                  the authorization server said no: ``.code``, ``.description``
        │                               (an ``error`` in the callback, or from the token endpoint)
        ├── OAuthStateError             the callback's ``state`` is missing, wrong or reused, or a code
        │                               is used twice; raised before any token request is sent
        ├── OAuthTimeout                no callback / no token endpoint answer in time (a TimeoutError)
        ├── InsecureTransportError      plain http:// or ws:// to a host that is not loopback (a ValueError)
        └── TokenStoreError             a token store could not be read or written (or is too open)

Messages never include a secret (tokens, codes, verifiers, client secrets) nor a URL query: URLs
are shown through :func:`deriv_runtime._redact.redact_url`.
"""

from __future__ import annotations

from ..errors import DerivError

__all__ = [
    "AuthError",
    "InsecureTransportError",
    "OAuthError",
    "OAuthStateError",
    "OAuthTimeout",
    "TokenStoreError",
]


class AuthError(DerivError):
    """Authentication failed, or no usable credential is available (authorize again)."""


class OAuthError(AuthError):
    """An OAuth 2.0 error answer (RFC 6749 §4.1.2.1 / §5.2).

    ``code`` is the server's ``error`` (``access_denied``, ``invalid_grant``...), ``description`` its
    ``error_description`` with anything that looks like one of our secrets masked, ``status`` the
    HTTP status of a token endpoint answer (``None`` for a callback error).
    """

    def __init__(self, code: str, description: str | None = None, *, status: int | None = None) -> None:
        self.code = code
        self.description = description
        self.status = status
        text = code if not description else f"{code}: {description}"
        if status is not None:
            text = f"{text} (HTTP {status})"
        super().__init__(text)


class OAuthStateError(AuthError):
    """The callback cannot be trusted (state missing, mismatched, duplicated or already used).

    Nothing was sent to the token endpoint. Start a new authorization.
    """


class OAuthTimeout(AuthError, TimeoutError):
    """No redirect callback arrived in time, or the token endpoint did not answer in time."""


class InsecureTransportError(AuthError, ValueError):
    """A credential would travel in clear text: ``http://``/``ws://`` to a host that is not loopback."""


class TokenStoreError(AuthError):
    """A token store could not be read or written, or its file is readable by other users."""
