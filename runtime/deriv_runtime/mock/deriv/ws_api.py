"""The Options WebSocket API on the core: the :class:`~..core.ws.WsApi` that
:class:`~.ws_server.MockServer` plugs into :class:`~..core.ws.WebSocketMock`.

Handshakes: ``.../public`` is open to anyone (unauthenticated); other endpoints take an issued
OTP (which binds the connection to its account) or, with ``require_otp``, refuse without one
(HTTP 401 in the API's error envelope). Requests: named by their first key that is a call,
validated against the call's request schema, checked for authorisation, then handled
(:data:`~.calls.HANDLERS`). The clock moves the market, the streams and contract settlement.
"""

from __future__ import annotations

import hmac
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ..core.record import redact_path
from ..core.synth import SynthesisError
from ..core.ws import WsConnection
from .calls import HANDLERS, generic
from .market import Tick
from .otp import OtpBook, endpoint_kind
from .platform import Platform
from .pricing import MockAPIError
from .session import Connection, is_public, req_id_of
from .trading import Account

__all__ = ["ClockHost", "OptionsHost", "OptionsWsApi", "move_clock"]

log = logging.getLogger("deriv_runtime.mock")


class ClockHost(Platform, Protocol):
    """What the clock moves: the market, the accounts' contracts and every connection's streams."""

    def sessions(self) -> Sequence[Connection]: ...


def move_clock(server: ClockHost) -> list[Tick]:
    """One tick of the market: the subscribed symbols and those of open contracts move, streams
    hear their symbol's tick, contracts settle (transactions told after the tick), every stream
    hears the clock. The ticks made."""
    conns = server.sessions()
    symbols = {s.symbol for c in conns for s in c.subscriptions.values() if s.symbol is not None}
    accounts = list(server.accounts.values())
    symbols |= {c.symbol for a in accounts for c in a.open_contracts()}
    ticks: list[Tick] = []
    if symbols:
        epoch = server.market.next_epoch()
        ticks = server.market.advance(symbols, epoch)
    else:
        epoch = server.market.now()
    for tick in ticks:
        settled = [(account, txn) for account in accounts for txn in account.on_tick(tick)]
        for conn in conns:
            for sub in list(conn.subscriptions.values()):
                if sub.symbol == tick.symbol:
                    sub.on_tick(conn, tick)
        for account, txn in settled:
            server.notify_transaction(txn, account)
    for conn in conns:
        for sub in list(conn.subscriptions.values()):
            sub.on_clock(conn, epoch)
    return ticks


class OptionsHost(Platform, Protocol):
    """What the Options API uses of its server, beyond :class:`~.platform.Platform`."""

    otp: str | None
    require_otp: bool
    otps: OtpBook

    def identify(self, request: Mapping[str, Any]) -> str | None: ...

    def validate_request(self, call: str, request: Mapping[str, Any]) -> dict[str, str]: ...

    def take_call_fault(self, call: str | None) -> MockAPIError | None: ...

    def sessions(self) -> list[Connection]: ...


class OptionsWsApi:
    """Handshakes, requests and the clock of the Options WebSocket API (see the module docstring)."""

    def __init__(self, server: OptionsHost) -> None:
        self.server = server
        self._handshake_accounts: weakref.WeakKeyDictionary[ServerConnection, Account] = (
            weakref.WeakKeyDictionary()
        )

    # -- connections --------------------------------------------------------------------------

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        server = self.server
        if is_public(request.path):
            return None
        otp = OtpBook.otp_of(request.path)
        record, problem = server.otps.use(otp, request.path)
        if record is not None:
            if problem is None:
                account = server.accounts.get(record.account_id) if record.account_id else None
                if account is not None:
                    self._handshake_accounts[connection] = account
                return None
            if server.require_otp:
                return self._refuse(connection, request, problem)
            return None
        if server.require_otp and (server.otp is None or not hmac.compare_digest(otp, server.otp)):
            return self._refuse(connection, request, "a valid OTP is required" if otp else "no OTP")
        return None

    @staticmethod
    def _refuse(connection: ServerConnection, request: Request, problem: str) -> Response:
        """HTTP 401 in the API's error envelope (the ``Error`` schema of the WebSocket endpoints)."""
        log.info("mock: refusing a handshake on %s: %s", redact_path(request.path), problem)
        body = {
            "errors": [
                {"status": 401, "code": "Unauthorized", "message": f"Invalid or expired OTP: {problem}"}
            ],
            "meta": {"endpoint": redact_path(request.path), "method": "GET", "timing": 0},
        }
        response = connection.respond(401, orjson.dumps(body).decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    def open(self, link: WsConnection) -> Connection:
        return Connection(self.server, link, self._account_for(link.ws, link.path))

    def _account_for(self, ws: ServerConnection, path: str) -> Account:
        account = self._handshake_accounts.pop(ws, None)
        if account is not None:
            return account
        if endpoint_kind(path) == "real":
            for candidate in self.server.accounts.values():
                if candidate.account_type == "real":
                    return candidate
        return self.server.account

    def close(self, session: Connection) -> None:
        session.close()

    # -- requests -----------------------------------------------------------------------------

    def receive(self, session: Connection, message: dict[str, Any]) -> str | None:
        req_id = req_id_of(message)
        if req_id is not None:
            session.max_req_id = max(session.max_req_id, req_id)
        return self.server.identify(message)

    def reject(self, session: Connection, problem: str) -> None:
        session.error(None, None, MockAPIError("BadRequest", problem))

    def handle(self, session: Connection, method: str | None, message: dict[str, Any]) -> None:
        """Answer one request (validated, authorised, then handled)."""
        if session.closed:
            return
        server = self.server
        call = method
        request = message
        fault = server.take_call_fault(call)
        if fault is not None:
            session.error(request, call, fault)
            return
        if call is None:
            session.error(request, None, MockAPIError("UnrecognisedRequest", "Unrecognised request."))
            return
        details = server.validate_request(call, request)
        if details:
            text = "Input validation failed: " + ", ".join(details)
            session.error(request, call, MockAPIError("InputValidationFailed", text, details))
            return
        if server.calls[call].auth_required and not session.authorised:
            session.error(request, call, MockAPIError("AuthorizationRequired", "Please log in."))
            return
        handler = HANDLERS.get(call, generic) if call in server.calls else generic
        try:
            handler(session, call, request)
        except MockAPIError as exc:
            session.error(request, call, exc)
        except SynthesisError as exc:
            log.error("mock: cannot synthesise a %s response: %s", call, exc)
            session.error(
                request, call, MockAPIError("InternalServerError", f"The mock cannot answer {call}: {exc}")
            )
        except Exception:
            log.exception("mock: the %s handler failed", call)
            session.error(
                request, call, MockAPIError("InternalServerError", "The mock server failed on this request.")
            )

    # -- clock --------------------------------------------------------------------------------

    def tick(self) -> list[Tick]:
        """One tick of the market: streams, proposals and contracts move."""
        return move_clock(self.server)
