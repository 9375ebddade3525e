"""Exceptions raised by the generated clients and their runtime.

    DerivError                      base class: ``except DerivError`` catches everything below
    ├── RequestValidationError      a request broke its schema; nothing was sent
    ├── ResponseError               a message could not be parsed into its typed model
    ├── APIError                    the server answered with its ``error`` object
    ├── RestError                   a REST call answered with an error status (``.status``, ``.code``)
    │   ├── BadRequest (400)  Unauthorized (401)  Forbidden (403)  NotFound (404)
    │   ├── Conflict (409)  UnprocessableEntity (422)
    │   ├── RateLimited (429)       ``.retry_after`` seconds, when the server says
    │   └── ServerError (5xx)
    ├── StreamOverflow              a stream's consumer fell behind (policy "fail")
    └── TransportError              the connection failed, closed, or a wait timed out
        ├── ConnectionFailed        could not connect (or reconnect: gave up)
        ├── ConnectionLost          the connection dropped while a call waited for its answer
        │   └── OutcomeUnknown      ... after an order was sent, before its receipt: never re-sent
        ├── TransportClosed         the client was closed
        └── CallTimeout             no answer within the call's deadline (also a TimeoutError)

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
    """A message from the server could not be read as the documented response.

    ``raw`` is the message as received (kept for the user; never part of ``str()``).
    """

    def __init__(self, text: str, raw: Any = None) -> None:
        super().__init__(text)
        self.raw = raw


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


class RestError(DerivError):
    """A REST call answered with an error status; ``code``/``message`` come from the error envelope."""

    status: int = 0

    def __init__(
        self, operation: str, status: int, code: str, message: str, errors: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.errors = [dict(e) for e in errors]
        super().__init__(f"{operation}: HTTP {status} {code}: {message}".rstrip(": "))


class BadRequest(RestError):
    status = 400


class Unauthorized(RestError):
    status = 401


class Forbidden(RestError):
    status = 403


class NotFound(RestError):
    status = 404


class Conflict(RestError):
    status = 409


class UnprocessableEntity(RestError):
    status = 422


class RateLimited(RestError):
    """429: ``retry_after`` is the number of seconds the server asked to wait, if it said."""

    status = 429
    retry_after: float | None = None


class ServerError(RestError):
    status = 500


class TransportError(DerivError):
    """The connection failed or closed before an answer arrived."""


class ConnectionFailed(TransportError):
    """A connection could not be opened (after the configured attempts)."""


class ConnectionLost(TransportError):
    """The connection dropped before the answer came. The request may or may not have been executed."""


class OutcomeUnknown(ConnectionLost):
    """The connection dropped after a request that acts (a purchase, a strategy run) was sent and
    before its receipt arrived. It is **never** sent again: it may or may not have taken effect.
    ``check`` says how to find out (``"portfolio or profit_table"``)."""

    def __init__(self, call: str, check: str = "") -> None:
        self.call = call
        self.check = check
        how = f"check with {check}" if check else "check the account"
        super().__init__(
            f"{call}: the connection dropped before its receipt arrived, so it may or may not have taken "
            f"effect; it was not sent again; {how} before trying again"
        )


class TransportClosed(TransportError):
    """The client (or its transport) is closed."""


class CallTimeout(TransportError, TimeoutError):
    """No answer within the call's deadline. A late answer is dropped, never given to another call."""


class StreamOverflow(DerivError):
    """A stream's buffer filled up because its consumer fell behind (overflow policy ``"fail"``)."""


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "<request>"
