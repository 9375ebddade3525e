"""From credentials to an authenticated WebSocket: a fresh one-time URL (OTP) on every connect.

The Options API's demo and real WebSocket endpoints accept only a single-use URL that a REST call
issues (valid for a short time). :func:`otp_url_source` turns that REST call into the URL callable
the WebSocket transport calls on **every** connect and reconnect, so an OTP URL is never opened
twice and never used after it expired: each connection asks for a new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from ._redact import redact_url
from .auth.secure import is_loopback_host
from .errors import ConnectionFailed, TransportError

Account = Literal["demo", "real"]


def check_ws_url(url: str, expect: Account | None) -> str:
    """An OTP URL is only used over ``wss://`` (``ws://`` on loopback) and for the expected account kind."""
    parts = urlsplit(url)
    if parts.scheme not in ("wss", "ws") or (parts.scheme == "ws" and not is_loopback_host(parts.hostname)):
        raise TransportError(
            f"refusing a WebSocket URL that is not wss:// (or loopback ws://): {redact_url(url)}"
        )
    if expect is not None and not parts.path.rstrip("/").endswith("/" + expect):
        raise ConnectionFailed(
            f"asked for a {expect} connection but the API issued {redact_url(url)}: "
            f"is the account a {expect} account? (connect_{expect} needs one)"
        )
    return url


def _field(answer: Any, dotted: str) -> str:
    value = answer
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            raise ConnectionFailed(f"the OTP answer has no {dotted}")
    reveal = getattr(value, "get_secret_value", None)
    return str(reveal() if reveal is not None else value)


def otp_url_source(
    issue: Callable[[], Awaitable[Any]], url_field: str, expect: Account | None
) -> Callable[[], Awaitable[str]]:
    """A URL callable for :class:`~deriv_runtime.ws.WebSocketTransport`: one new OTP per connect."""

    async def fresh_url() -> str:
        return check_ws_url(_field(await issue(), url_field), expect)

    return fresh_url


def public_url(base_url: str, path: str) -> str:
    parts = urlsplit(base_url)
    scheme = "ws" if parts.scheme == "http" else "wss"
    return f"{scheme}://{parts.netloc}{path}"


def credentials_from(token: Any, credentials: Any) -> Any:
    if (token is None) == (credentials is None):
        raise ValueError("pass exactly one of token=... (a personal access token) or credentials=...")
    if credentials is not None:
        return credentials
    from .auth import PersonalAccessToken

    return PersonalAccessToken(token)
