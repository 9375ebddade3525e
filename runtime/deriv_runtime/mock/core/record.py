"""Request recording: what the mock keeps of each request, with its secrets redacted.

Nothing recorded or logged carries a token, code, OTP or password: secrets are kept as
fingerprints (:func:`fingerprint`) or replaced by ``<redacted>``.

:class:`Journal` is what a mock received, in order, as JSON values (connections, requests, frames
that were not requests, refused handshakes, HTTP requests, the faults it injected): kept in memory
(the last ``keep``) and appended to a JSON Lines file, one object a line, so that a test in any
language can read what its bot sent.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlencode

import orjson

from .http import HTTPRequest

__all__ = [
    "SECRET_KEYS",
    "Journal",
    "RestRequestRecord",
    "fingerprint",
    "record_request",
    "redact_headers",
    "redact_path",
    "redact_query",
    "redact_tree",
]

#: Query, form and JSON keys whose values are secrets: recorded as ``<redacted>``.
SECRET_KEYS = frozenset(
    {
        "otp",
        "code",
        "code_verifier",
        "refresh_token",
        "access_token",
        "id_token",
        "token",
        "client_secret",
        "password",
        "verification_code",
    }
)
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def fingerprint(secret: str) -> str:
    """The first 12 hex digits of the secret's SHA-256: enough to tell secrets apart, not to recover one."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass(slots=True)
class RestRequestRecord:
    """A request the REST side received (secrets redacted), and the status it got."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    body: Any
    time: float
    operation: str | None = None
    #: ``None`` until answered, or when the connection was dropped instead.
    status: int | None = None


def redact_tree(value: Any, keys: Collection[str] = SECRET_KEYS) -> Any:
    """``value`` (decoded JSON) with the values of ``keys`` (:data:`SECRET_KEYS`) replaced, at any depth."""
    if isinstance(value, Mapping):
        return {k: "<redacted>" if k in keys else redact_tree(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, keys) for v in value]
    return value


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers, credentials replaced (an ``Authorization`` header keeps its scheme)."""
    out = []
    for name, value in headers:
        shown = value
        if name.lower() in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value and name.lower().endswith("authorization") else ""
            shown = f"{scheme} <redacted>".strip()
        out.append((name, shown))
    return out


def _redact_values(values: Mapping[str, list[str]], keys: Collection[str]) -> dict[str, list[str]]:
    return {k: ["<redacted>"] * len(v) if k in keys else list(v) for k, v in values.items()}


def _record_body(request: HTTPRequest, keys: Collection[str]) -> Any:
    if not request.body:
        return None
    if request.content_type == "application/x-www-form-urlencoded":
        return _redact_values(parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True), keys)
    try:
        return redact_tree(orjson.loads(request.body), keys)
    except orjson.JSONDecodeError:
        return f"<{len(request.body)} bytes>"


def record_request(
    request: HTTPRequest, when: float, secret_keys: Collection[str] = SECRET_KEYS
) -> RestRequestRecord:
    """The record of an HTTP request received at ``when`` (epoch seconds); the values of
    ``secret_keys`` in its query and body are redacted."""
    return RestRequestRecord(
        method=request.method,
        path=request.path,
        query=_redact_values(request.query, secret_keys),
        headers=redact_headers(request.raw_headers),
        body=_record_body(request, secret_keys),
        time=when,
    )


def redact_path(path: str) -> str:
    """A request target without its query (which may carry an OTP or a token)."""
    return path.split("?", 1)[0]


def redact_query(path: str, keys: Collection[str] = SECRET_KEYS) -> str:
    """A request target with the values of ``keys`` in its query replaced (``?otp=<redacted>``)."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    values = _redact_values(parse_qs(query, keep_blank_values=True), keys)
    return f"{base}?{urlencode(values, doseq=True, safe='<>')}"


class Journal:
    """What a mock received, in order: JSON objects with ``seq`` (from 1), ``time`` (epoch
    seconds) and ``kind``, secrets already redacted by whoever adds them.

    The last ``keep`` entries stay in memory (:meth:`since`); with ``path``, every entry is also
    appended to that JSON Lines file (created or truncated when the journal is made), flushed line
    by line so another process can follow it. Safe to add to from any thread.
    """

    def __init__(self, path: str | Path | None = None, *, keep: int = 100_000) -> None:
        self.path = None if path is None else Path(path)
        self._entries: deque[dict[str, Any]] = deque(maxlen=keep)
        self._seq = 0
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        if self.path is not None:
            self._file = self.path.open("wb")

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append an entry (``fields`` must be JSON values); the result is the entry."""
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "time": round(time.time(), 6), "kind": kind, **fields}
            self._entries.append(entry)
            if self._file is not None:
                self._file.write(orjson.dumps(entry, default=str) + b"\n")
                self._file.flush()
        return entry

    def since(self, seq: int = 0, kind: str | None = None) -> list[dict[str, Any]]:
        """The entries kept whose ``seq`` is above ``seq`` (of ``kind``, when given), oldest first."""
        with self._lock:
            return [e for e in self._entries if e["seq"] > seq and (kind is None or e["kind"] == kind)]

    @property
    def last_seq(self) -> int:
        return self._seq

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
