"""Request recording: what the mock keeps of each request, with its secrets redacted.

Nothing recorded or logged carries a token, code, OTP or password: secrets are kept as
fingerprints (:func:`fingerprint`) or replaced by ``<redacted>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from .http import HTTPRequest

__all__ = [
    "SECRET_KEYS",
    "RestRequestRecord",
    "fingerprint",
    "record_request",
    "redact_headers",
    "redact_path",
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
