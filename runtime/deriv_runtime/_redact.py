"""Keeping secrets out of logs and error messages.

URLs lose their query (OTP URLs carry the secret there); :func:`scrub` also masks the secret
values a request carried and anything that looks like a credential (``Bearer <token>``,
``"token": "..."``, ``password=...``) in text a server sent back.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

#: A URL or a request path followed by a query string.
URL_QUERY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://|/)[^\s'\"?#<>]*)\?[^\s'\"#<>]*")
#: An HTTP authorization value: ``Bearer <token>``, ``Basic <credentials>``.
AUTH_VALUE = re.compile(r"\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]+=*", re.I)
#: ``name: value`` / ``name=value`` / ``"name": "value"`` where the name says "credential".
SECRET_PAIR = re.compile(
    r"""(["']?\b[A-Za-z0-9_-]*(?:token|password|passwd|secret|otp|api[_-]?key|verifier|authorization)"""
    r"""\d*["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}\]"']+)""",
    re.I,
)
MASK = "***"
#: Shorter values are not masked (they would mask half the text).
MIN_SECRET = 4
#: The secret values of the HTTP request in progress (for :class:`ScrubbingFilter`).
_CURRENT: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("deriv_secrets", default=())


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


def _forms(value: str) -> Iterator[str]:
    yield value
    yield quote(value, safe="")
    yield quote_plus(value)
    yield json.dumps(value)[1:-1]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secret values (also percent- or JSON-encoded), credential-looking
    pairs, authorization values and URL queries. For text a server sent back."""
    values = {form for value in secrets if len(value) >= MIN_SECRET for form in _forms(value)}
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = AUTH_VALUE.sub(rf"\1\2{MASK}", text)
    text = SECRET_PAIR.sub(rf"\1{MASK}", text)
    return redact_text(text)


def scrub_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """:func:`scrub` on every string (keys included) of a JSON-like value."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub_data(k, secrets): scrub_data(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(v, secrets) for v in value]
    return value


@contextmanager
def secrets_in_flight(secrets: Iterable[str]) -> Iterator[None]:
    """Tell :class:`ScrubbingFilter` which values the request being sent carries (this task/thread)."""
    token = _CURRENT.set(tuple(s for s in secrets if len(s) >= MIN_SECRET))
    try:
        yield
    finally:
        _CURRENT.reset(token)


class ScrubbingFilter(logging.Filter):
    """Scrubs the records of the HTTP libraries we use (httpx logs the status line a server sent,
    httpcore at DEBUG its headers): a server may echo a credential there."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        clean = scrub(message, _CURRENT.get())
        if clean != message:
            record.msg, record.args = clean, None
        return True


#: Loggers of httpx and httpcore (a logger's filters do not see its children's records).
HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_FILTER = ScrubbingFilter()


def install_http_log_filter() -> None:
    """Attach :class:`ScrubbingFilter` to the HTTP libraries' loggers (idempotent)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
