"""Deribit's JSON-RPC over WebSocket on the core: the :class:`~..core.ws.WsApi` of
:class:`~.mock_deribit.MockDeribit`.

Handshakes are accepted on :data:`WS_PATH` (``/ws/api/v2``, any query) and refused with 404
elsewhere. Each JSON object is a request answered by the :class:`~.rpc.Dispatcher` (``usIn`` is
taken on arrival, before any delay); a frame that is not a JSON object gets an error without an
id (``-32700 Parse error`` for text that is not JSON, ``-32600 Invalid Request`` otherwise). Each
clock tick moves the instruments the live channels follow and sends one notification per channel.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ..core.record import redact_path
from ..core.ws import NOT_JSON, WsConnection
from .channels import ChannelFeed
from .market import Market
from .params import RpcError
from .rpc import Dispatcher
from .session import Session, SessionHost

__all__ = ["WS_PATH", "DeribitWsApi"]

log = logging.getLogger("deriv_runtime.mock.deribit")

WS_PATH = "/ws/api/v2"


class WsHost(SessionHost, Protocol):
    dispatcher: Dispatcher
    feed: ChannelFeed
    market: Market

    def sessions(self) -> list[Session]: ...


class DeribitWsApi:
    """Handshakes, requests and the clock of the JSON-RPC WebSocket API."""

    def __init__(self, host: WsHost) -> None:
        self.host = host

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0].rstrip("/")
        if path == WS_PATH:
            return None
        log.info("mock deribit: refusing a handshake on %s (not %s)", redact_path(request.path), WS_PATH)
        return connection.respond(404, f"Not found: the JSON-RPC WebSocket API is at {WS_PATH}\n")

    def open(self, link: WsConnection) -> Session:
        return Session(self.host, link)

    def close(self, session: Session) -> None:
        session.close()

    def receive(self, session: Session, message: dict[str, Any]) -> str | None:
        session.arrivals[id(message)] = self.host.market.now_ms() * 1000
        method = message.get("method")
        return method if isinstance(method, str) else None

    def handle(self, session: Session, method: str | None, message: dict[str, Any]) -> None:
        us_in = session.arrivals.pop(id(message), None) or self.host.market.now_ms() * 1000
        if session.closed:
            return
        answer = self.host.dispatcher.answer(message, us_in, "ws", session)
        if answer is not None:
            session.send(answer)

    def reject(self, session: Session, problem: str) -> None:
        us_in = self.host.market.now_ms() * 1000
        error = (
            RpcError(-32700, "Parse error") if problem == NOT_JSON else RpcError(-32600, "Invalid Request")
        )
        error.data = {"reason": problem}
        session.send(self.host.dispatcher.envelope(None, us_in, error=error))

    def tick(self) -> list[Mapping[str, Any]]:
        """One step: instruments move, every live channel gets a notification (the result: them all)."""
        sessions = [s for s in self.host.sessions() if not s.closed]
        subs = [sub for s in sessions for sub in s.subscriptions.values()]
        feed = self.host.feed
        for name in sorted(feed.instruments(subs)):
            feed.market.move(name)
        sent: list[Mapping[str, Any]] = []
        for session in sessions:
            for sub in list(session.subscriptions.values()):
                note = {
                    "jsonrpc": "2.0",
                    "method": "subscription",
                    "params": {"channel": sub.name, "data": feed.data(sub)},
                }
                sub.sent += 1
                session.send(note, stream=True)
                sent.append(note)
        return sent
