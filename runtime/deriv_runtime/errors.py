"""Exceptions raised by the generated clients and their runtime.

    DerivError                      base class: ``except DerivError`` catches everything below
    ├── RequestValidationError      a request broke its schema; nothing was sent
    ├── ResponseError               a message could not be parsed into its typed model
    ├── APIError                    the server answered with its ``error`` object
    └── TransportError              the connection failed, closed, or a wait timed out
        └── CallTimeout

Messages never include credentials: requests are echoed by field *path*, not by value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DerivError(Exception):
    """Base class of every error raised by the runtime."""


class RequestValidationError(DerivError, ValueError):
    """A request did not match its schema. Each error names the field path and the broken rule."""

    def __init__(self, call: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.call = call
        self.errors = [dict(e) for e in errors]
        lines = [f"{_loc(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in self.errors]
        super().__init__(f"invalid {call} request (not sent): " + "; ".join(lines))

    @property
    def fields(self) -> list[str]:
        return [_loc(e.get("loc", ())) for e in self.errors]


class ResponseError(DerivError):
    """A message from the server could not be read as the documented response."""


class APIError(DerivError):
    """The API's error object: ``code``, ``message``, optional ``details`` and the echoed request."""

    def __init__(
        self,
        call: str,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        echo_req: Mapping[str, Any] | None = None,
    ) -> None:
        self.call = call
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.echo_req = dict(echo_req or {})
        super().__init__(f"{call}: {code}: {message}")


class TransportError(DerivError):
    """The connection failed or closed before an answer arrived."""


class CallTimeout(TransportError, TimeoutError):
    """No answer within the call's deadline."""


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "<request>"
