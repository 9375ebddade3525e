"""Keeping secrets out of logs: URLs lose their query (OTP URLs carry the secret there)."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: A URL or a request path followed by a query string.
URL_QUERY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://|/)[^\s'\"?#<>]*)\?[^\s'\"#<>]*")


def redact_url(url: str) -> str:
    """The URL without query or credentials: ``wss://host/path?<redacted>``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "<redacted>" if parts.query else "", ""))


def redact_text(text: str) -> str:
    """Every URL or path in ``text`` with its query replaced by ``<redacted>``."""
    return URL_QUERY.sub(r"\1?<redacted>", text)


class RedactingLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger for libraries we hand it to (``websockets``): messages lose URL queries first."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.getLogger(name), {})

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            kwargs.setdefault("stacklevel", 2)
            self.logger.log(level, redact_text(text), **kwargs)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs
