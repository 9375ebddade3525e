"""HTTP downloads: URL checks, query strings kept out of messages and logs, the httpx client, progress
bars and the failures worth another attempt (see :mod:`deriv_codegen.fetch`). ``httpx`` and ``rich``
are imported only when used."""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from deriv_runtime._redact import HTTP_LOGGERS, URL_QUERY

from .errors import FetchError

if TYPE_CHECKING:
    import httpx

    from .fetch_options import FetchOptions

#: A URL (or an absolute path) followed by a query string; the query is dropped from messages.
_QUERY = URL_QUERY
#: Loggers of httpx/httpcore that may print request URLs or Location headers.
_HTTP_LOGGERS = HTTP_LOGGERS


def _display_url(url: str) -> str:
    """``url`` without user info, query string or fragment: safe to log and show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _QUERY.sub(r"\1", url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _scrub(text: str) -> str:
    return _QUERY.sub(r"\1", text)


# -- the network ----------------------------------------------------------------------------------


class _DownloadError(FetchError):
    """A download failed for good; ``reason`` holds no URL query string."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _Transient(Exception):
    """A failure worth another attempt (internal; never escapes this module)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _check_url(url: str) -> None:
    """Allow https://, and plain http:// only on loopback (local test servers and mirrors)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and _is_loopback(host):
        return
    raise _DownloadError(
        f"refusing to download {_display_url(url)}: only https:// URLs (or http:// on loopback) are allowed"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _RedactQueries(logging.Filter):
    """Drop query strings (signed storage URLs) from httpx/httpcore log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to logging's own error handling
            return True
        if "?" in message:
            record.msg = _scrub(message)
            record.args = None
        return True


@contextmanager
def _redacted_http_logs() -> Iterator[None]:
    redact = _RedactQueries()
    loggers = [logging.getLogger(name) for name in _HTTP_LOGGERS]
    for lg in loggers:
        lg.addFilter(redact)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(redact)


@contextmanager
def _http_client(options: FetchOptions, headers: dict[str, str]) -> Iterator[httpx.Client]:
    """An httpx client that follows redirects, checks the URL of every hop (:func:`_check_url`) and
    keeps query strings out of httpx's logs, for downloads and release listings."""
    import httpx

    hooks = {"request": [lambda request: _check_url(str(request.url))]}  # every hop, redirects too
    with (
        _redacted_http_logs(),
        httpx.Client(
            follow_redirects=True, timeout=options.timeout, headers=headers, event_hooks=hooks
        ) as client,
    ):
        yield client


def _progress_enabled(options: FetchOptions) -> bool:
    if options.progress is not None:
        return options.progress
    stream = sys.stderr
    return stream is not None and stream.isatty()


@contextmanager
def _progress(enabled: bool, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), cap)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _truncated(expected: int, received: int) -> str:
    return f"download truncated: expected {expected} bytes (Content-Length), received {received}"
