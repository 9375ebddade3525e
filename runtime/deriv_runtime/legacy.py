"""Connecting to Deriv's v3 WebSocket API (``wss://ws.derivws.com/websockets/v3``).

    from deriv_runtime.legacy import v3_url
    from deriv_runtime.auth.legacy import LegacyAuth

    url = v3_url(1089, language="EN", brand="deriv")
    # wss://ws.derivws.com/websockets/v3?app_id=1089&l=EN&brand=deriv
    async with DerivV3Client.connect(url, auth=LegacyAuth(token)) as client:
        ...

Every connection names the registered application (``app_id``, from the app registration in
Deriv's dashboard); ``l`` picks the language of the server's messages and ``brand`` the brand. The
endpoint is configurable (another Deriv server, or a mock on 127.0.0.1): a host name, or a whole
``wss://`` URL without a query (``ws://`` only to a loopback host).

The ``app_id`` is not a secret (it is in every browser app's source), but the URL is still shown
through :func:`deriv_runtime._redact.redact_url` in logs and errors, like every other URL.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from .auth.secure import is_loopback_host

__all__ = ["DEFAULT_V3_ENDPOINT", "check_app_id", "check_language", "v3_url"]

#: Deriv's public v3 endpoint.
DEFAULT_V3_ENDPOINT = "wss://ws.derivws.com/websockets/v3"
_V3_PATH = "/websockets/v3"
#: Language codes as Deriv writes them (``EN``, ``ZH_CN``, ``PT``); lower case is accepted.
_LANGUAGE = re.compile(r"[A-Za-z]{2}(?:_[A-Za-z]{2})?")
_BRAND = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?")
#: The largest app_id accepted (Deriv's ids are positive 32-bit integers).
_MAX_APP_ID = 2**31 - 1


def check_app_id(app_id: int | str) -> int:
    """``app_id`` as a positive integer; :class:`ValueError` for anything else (``True``, ``"12a"``, 0)."""
    if isinstance(app_id, bool):
        raise ValueError("app_id is the registered application's number, not a bool")
    if isinstance(app_id, str):
        text = app_id.strip()
        if not text.isascii() or not text.isdigit():
            raise ValueError("app_id must be the registered application's number (digits only)")
        app_id = int(text)
    if not isinstance(app_id, int):
        raise ValueError(f"app_id must be an int, not {type(app_id).__name__}")
    if not 1 <= app_id <= _MAX_APP_ID:
        raise ValueError(f"app_id must be between 1 and {_MAX_APP_ID}")
    return app_id


def check_language(language: str) -> str:
    """A language code in Deriv's form (``EN``, ``ZH_CN``), upper-cased; :class:`ValueError` otherwise."""
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise ValueError("language must be a code such as 'EN', 'ID' or 'ZH_CN'")
    return language.upper()


def _endpoint(endpoint: str) -> str:
    if "://" not in endpoint:
        if not _HOST.fullmatch(endpoint):
            raise ValueError("the endpoint must be a host name or a wss:// URL")
        endpoint = f"wss://{endpoint}{_V3_PATH}"
    try:
        parts = urlsplit(endpoint)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("the endpoint is not a valid URL") from None
    if not hostname:
        raise ValueError("the endpoint URL has no host")
    if parts.scheme not in ("wss", "ws") or (parts.scheme == "ws" and not is_loopback_host(hostname)):
        raise ValueError("the endpoint must be wss:// (ws:// only to a loopback host)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("the endpoint must carry no query, fragment or credentials")
    return endpoint


def v3_url(
    app_id: int | str,
    *,
    language: str | None = None,
    brand: str | None = None,
    endpoint: str = DEFAULT_V3_ENDPOINT,
) -> str:
    """The v3 WebSocket URL: ``<endpoint>?app_id=<app_id>[&l=<language>][&brand=<brand>]``.

    ``app_id``: the registered application's number (required; :class:`ValueError` if it is not a
    positive integer). ``language``: ``EN``, ``ZH_CN``... (the server's messages). ``brand``: a
    lower-case brand name (``deriv``). ``endpoint``: a host (``green.derivws.com`` becomes
    ``wss://green.derivws.com/websockets/v3``) or a whole ``wss://`` URL.
    """
    params: dict[str, str | int] = {"app_id": check_app_id(app_id)}
    if language is not None:
        params["l"] = check_language(language)
    if brand is not None:
        if not isinstance(brand, str) or not _BRAND.fullmatch(brand):
            raise ValueError("brand must be a lower-case name such as 'deriv'")
        params["brand"] = brand
    return f"{_endpoint(endpoint)}?{urlencode(params)}"
