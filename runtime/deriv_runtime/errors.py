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
    ├── JsonRpcError                a JSON-RPC ``error``: ``.method``, ``.code``, ``.message``, ``.data``
    │   ├── TooManyRequests         a rate limit (Deribit 10028 ...); ``.retry_after`` seconds, when hinted
    │   ├── AuthenticationError     missing, invalid or expired credentials / token (10000, 13004, 13009 ...)
    │   ├── PermissionDenied        authenticated, but not allowed / scope too narrow (13021, 13403 ...)
    │   └── SecondFactorRequired    13668 security_key_authorization_error: needs 2FA; never retried
    ├── StreamOverflow              a stream's consumer fell behind (policy "fail")
    └── TransportError              the connection failed, closed, or a wait timed out
        ├── ConnectionFailed        could not connect (or reconnect: gave up)
        ├── ConnectionLost          the connection dropped while a call waited for its answer
        │   └── OutcomeUnknown      ... after an order was sent, before its receipt: never re-sent
        ├── TransportClosed         the client was closed
        ├── CallTimeout             no answer within the call's deadline (also a TimeoutError)
        └── HttpStatusError         JSON-RPC over HTTP: an error status without a JSON-RPC answer

Messages never include credentials: requests are echoed by field *path*, not by value; a JSON-RPC
error's ``data`` is kept on the exception, never shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


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


class HttpStatusError(TransportError):
    """JSON-RPC over HTTP: an answer that is not a JSON-RPC answer (a 5xx from a proxy, a 404, an
    HTML page). ``status`` is the HTTP status; the body is never part of the message."""

    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.status = status


class StreamOverflow(DerivError):
    """A stream's buffer filled up because its consumer fell behind (overflow policy ``"fail"``)."""


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "<request>"


# -- JSON-RPC (Deribit) errors ---------------------------------------------------------------------


class JsonRpcError(DerivError):
    """A JSON-RPC answer's ``error`` object: ``code``, ``message`` and optional ``data``.

    ``data`` is kept for the caller but never part of ``str()``: it may echo what was sent (a
    parameter, a token). Codes are Deribit's documented RPC error codes (API v2.1.1).
    """

    #: Error codes this class stands for (see :func:`jsonrpc_error`).
    codes: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        self.method = method
        self.code = code
        self.message = message
        self.data = data
        shown = message if len(message) <= _MESSAGE_CHARS else message[:_MESSAGE_CHARS] + "..."
        super().__init__(f"{method}: error {code if code is not None else '(no code)'}: {shown}")


class TooManyRequests(JsonRpcError):
    """A rate limit was hit: wait before sending more. ``retry_after`` is the wait (seconds) the
    error's data asked for (Deribit's ``wait``), or ``None``. Deribit may also close the connection."""

    # too_many_requests, too_many_concurrent_requests, security_key_authorization_over_limit,
    # move_positions_over_limit
    codes = frozenset({10028, 10066, 12998, 13780})

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(method, code, message, data)
        self.retry_after = _retry_after(data)


class AuthenticationError(JsonRpcError):
    """The request needs an authenticated connection, or the credentials / token are invalid or
    expired: authenticate again (a token refresh, or new credentials)."""

    # authorization_required, invalid_credentials, unauthorized (wrong or expired token, bad
    # signature), raw_subscriptions_not_available_for_unauthorized
    codes = frozenset({10000, 13004, 13009, 13778})


class PermissionDenied(JsonRpcError):
    """Authenticated, but not allowed: the token's scope (or the account) does not permit it."""

    # permission_denied, forbidden, scope_exceeded
    codes = frozenset({11042, 13021, 13403})


class SecondFactorRequired(JsonRpcError):
    """The method needs the account's second factor (2FA, a security key): Deribit's 13668
    ``security_key_authorization_error``. Not an authentication failure and not retried by the
    runtime (retrying cannot supply the factor): confirm the operation with the second factor, or
    call it from a key/account without 2FA for that action."""

    codes = frozenset({13668})


_JSONRPC_ERRORS: dict[int, type[JsonRpcError]] = {
    code: cls
    for cls in (TooManyRequests, AuthenticationError, PermissionDenied, SecondFactorRequired)
    for code in cls.codes
}
_MESSAGE_CHARS = 200


def jsonrpc_error(method: str, error: Any) -> JsonRpcError:
    """The exception for a JSON-RPC ``error`` object, its class chosen by ``code`` (unknown codes:
    :class:`JsonRpcError`, keeping code, message and data)."""
    fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    code = fields.get("code")
    if type(code) is not int:
        code = None
    message = fields.get("message")
    if not isinstance(message, str) or not message:
        message = "no message"
    cls = _JSONRPC_ERRORS.get(code, JsonRpcError) if code is not None else JsonRpcError
    return cls(method, code, message, fields.get("data"))


def _retry_after(data: Any) -> float | None:
    if not isinstance(data, Mapping):
        return None
    for key in ("wait", "retry_after"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < float("inf"):
            return float(value)
    return None


def problems(exc: Any) -> str:
    """A pydantic ``ValidationError``'s field paths and broken rules, without the values (an answer
    may carry tokens or OTP URLs)."""
    errors = exc.errors(include_input=False, include_url=False)
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<message>'}: {e['msg']}" for e in errors)
