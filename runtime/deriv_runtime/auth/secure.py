"""Transport rules for anything that carries a credential.

:func:`require_secure` accepts ``https://`` and ``wss://``, and ``http://``/``ws://`` only to a
loopback host (``127.0.0.0/8``, ``::1``, ``localhost``): local test servers and the loopback
redirect listener. Everything else raises :class:`InsecureTransportError`. The REST and WebSocket
clients use it too. TLS verification is never turned off anywhere in this package.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .._redact import redact_url
from .errors import InsecureTransportError

__all__ = ["is_loopback_host", "require_secure"]

_SECURE = frozenset({"https", "wss"})
_PLAIN = frozenset({"http", "ws"})


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, an address in ``127.0.0.0/8`` or ``::1`` (brackets allowed)."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def require_secure(url: str, what: str = "token endpoint") -> str:
    """Return ``url`` if credentials may travel to it, else raise :class:`InsecureTransportError`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise InsecureTransportError(f"the {what} URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if not host:
        raise InsecureTransportError(f"the {what} URL has no host: {redact_url(url)}")
    if scheme in _SECURE:
        return url
    if scheme in _PLAIN:
        if is_loopback_host(host):
            return url
        secure = "https" if scheme == "http" else "wss"
        raise InsecureTransportError(
            f"refusing {scheme}:// for the {what} ({redact_url(url)}): credentials would travel in "
            f"clear text; use {secure}:// ({scheme}:// is allowed only to loopback hosts)"
        )
    raise InsecureTransportError(f"unsupported scheme {scheme!r} for the {what}: {redact_url(url)}")
