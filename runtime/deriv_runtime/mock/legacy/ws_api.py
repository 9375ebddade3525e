"""The v3 WebSocket API on the core: the :class:`~..core.ws.WsApi` of :class:`~.mock_legacy.MockLegacy`.

Handshakes: only :data:`WS_PATH` (``/websockets/v3``, HTTP 404 elsewhere). The ``app_id`` query
parameter is required: a connection without one, or with one the mock does not accept, gets
``InvalidAppID`` ("Your app_id is invalid.") in answer to its first request and is then closed
(code 1008), as the real server closes a connection after that error (``app_id_refusal="error"``,
the default); with ``app_id_refusal="handshake"`` the opening handshake is refused with HTTP 401.

Each request, in order: an ``app_id`` check; a forced error (:meth:`~.mock_legacy.MockLegacy.fail_next`);
the call, named by its first key that is a call (else ``UnrecognisedRequest``); ``send.json``
(``InputValidationFailed``, with ``details``); ``auth_required`` calls before ``authorize``
(``AuthorizationRequired``, "Please log in."); the account the call acts on (its ``loginid``, or the
first authorized one); the token's scopes against ``auth_scopes`` - any one suffices
(``PermissionDenied``, "Permission denied, requires read or trading_information scope."); then
the handler (:data:`~.calls.HANDLERS`, else a synthesised answer). Errors are v3's envelope:
``{"echo_req", "error": {"code", "message"[, "details"]}, "msg_type", "req_id"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ..core.record import redact_path
from ..core.synth import SynthesisError
from ..core.ws import WsConnection
from ..deriv import calls as options
from ..deriv.market import Tick
from ..deriv.pricing import MockAPIError
from ..deriv.ws_api import move_clock
from .accounts import TokenBook
from .calls import HANDLERS
from .session import LegacyConnection, LegacyHost, query_of

__all__ = ["WS_PATH", "LegacyWsApi", "LegacyWsHost"]

log = logging.getLogger("deriv_runtime.mock.legacy")

WS_PATH = "/websockets/v3"
#: The close code after ``InvalidAppID``.
INVALID_APP_ID_CLOSE = 1008


class LegacyWsHost(LegacyHost, Protocol):
    """What the v3 API uses of its server."""

    tokens: TokenBook
    app_id_refusal: Literal["error", "handshake"]

    def accepts_app_id(self, app_id: str | None) -> bool: ...

    def take_fault(self, call: str | None) -> MockAPIError | None: ...

    def note(self, session: LegacyConnection, call: str | None, message: Mapping[str, Any]) -> None: ...

    def sessions(self) -> list[LegacyConnection]: ...


class LegacyWsApi:
    """Handshakes, requests and the clock of the v3 API (see the module docstring)."""

    def __init__(self, server: LegacyWsHost) -> None:
        self.server = server

    # -- connections --------------------------------------------------------------------------

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0].rstrip("/")
        if path != WS_PATH:
            log.info("mock v3: refusing a handshake on %s (not %s)", redact_path(request.path), WS_PATH)
            return connection.respond(404, f"Not found: the v3 WebSocket API is at {WS_PATH}?app_id=...\n")
        server = self.server
        if server.app_id_refusal == "handshake" and not server.accepts_app_id(
            query_of(request.path).get("app_id")
        ):
            log.info("mock v3: refusing a handshake without a valid app_id")
            body = {"error": {"code": "InvalidAppID", "message": "Your app_id is invalid."}}
            response = connection.respond(401, orjson.dumps(body).decode())
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "application/json"
            return response
        return None

    def open(self, link: WsConnection) -> LegacyConnection:
        app_id = query_of(link.path).get("app_id")
        return LegacyConnection(
            self.server, link, self.server.account, app_id_ok=self.server.accepts_app_id(app_id)
        )

    def close(self, session: LegacyConnection) -> None:
        session.close()

    # -- requests -----------------------------------------------------------------------------

    def receive(self, session: LegacyConnection, message: dict[str, Any]) -> str | None:
        req_id = message.get("req_id")
        if isinstance(req_id, int) and not isinstance(req_id, bool):
            session.max_req_id = max(session.max_req_id, req_id)
        call = self.server.spec.identify(message)
        self.server.note(session, call, message)
        return call

    def reject(self, session: LegacyConnection, problem: str) -> None:
        session.error(None, None, MockAPIError("BadRequest", problem))

    def handle(self, session: LegacyConnection, method: str | None, message: dict[str, Any]) -> None:
        """Answer one request (see the module docstring for the order of the checks)."""
        if session.closed:
            return
        if not session.app_id_ok:
            session.error(message, method, MockAPIError("InvalidAppID", "Your app_id is invalid."))
            session.link.end(INVALID_APP_ID_CLOSE, "InvalidAppID")
            return
        try:
            self._answer(session, method, message)
        except MockAPIError as exc:
            session.error(message, method, exc)
        except SynthesisError as exc:
            log.error("mock v3: cannot synthesise a %s answer: %s", method, exc)
            session.error(
                message,
                method,
                MockAPIError("InternalServerError", f"The mock cannot answer {method}: {exc}"),
            )
        except Exception:
            log.exception("mock v3: the %s handler failed", method)
            session.error(
                message,
                method,
                MockAPIError(
                    "InternalServerError", "Sorry, an error occurred while processing your request."
                ),
            )
        finally:  # back to the default account after a call that named another one
            if session.loginid is not None:
                session.account = session.server.accounts.get(session.loginid, session.account)

    def _answer(self, session: LegacyConnection, call: str | None, request: dict[str, Any]) -> None:
        server = self.server
        fault = server.take_fault(call)
        if fault is not None:
            raise fault
        if call is None:
            raise MockAPIError("UnrecognisedRequest", "Unrecognised request.")
        details = server.spec.request_problems(call, request)
        if details:
            raise MockAPIError(
                "InputValidationFailed", "Input validation failed: " + ", ".join(details), details
            )
        info = server.spec.calls[call]
        if info.auth_required:
            if not session.authorised:
                raise MockAPIError("AuthorizationRequired", "Please log in.")
            grant, session.account = session.acting_as(request.get("loginid"))
            if not grant.allows(info.auth_scopes):
                needed = " or ".join(info.auth_scopes)
                raise MockAPIError("PermissionDenied", f"Permission denied, requires {needed} scope.")
        handler = HANDLERS.get(call)
        if handler is not None:
            handler(session, call, request)
        else:
            options.generic(session, call, request)

    # -- clock --------------------------------------------------------------------------------

    def tick(self) -> list[Tick]:
        """One tick of the market: ticks, proposals and open contracts move; contracts settle."""
        return move_clock(self.server)
