"""One WebSocket connection to the Deribit mock: its authentication, channels and heartbeats.

Subscribing: each channel name is matched against the document's channel templates (parameters
checked against their enums); names that match none, and private (``user.*``) channels asked for
with ``public/subscribe``, are left out of the answer, which lists the channels now subscribed
(as Deribit does). Unsubscribing answers the channels removed.

Heartbeats (``public/set_heartbeat``): every ``interval`` seconds (times the mock's
``heartbeat_scale``) the mock sends ``{"method": "heartbeat", "params": {"type": "test_request"}}``;
when the next one is due and no ``public/test`` came since the last, the connection is closed
(code 1000), as Deribit does. Nothing is checked while the mock is silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

import orjson
from websockets.exceptions import ConnectionClosed

from ..core.ws import WsConnection
from .channels import Subscription
from .params import invalid_params
from .spec import DeribitSpec

__all__ = ["HEARTBEAT_CLOSE_REASON", "Session"]

log = logging.getLogger("deriv_runtime.mock.deribit")

HEARTBEAT_CLOSE_REASON = "heartbeat: no public/test answer to test_request"
TEST_REQUEST: Mapping[str, Any] = {
    "jsonrpc": "2.0",
    "method": "heartbeat",
    "params": {"type": "test_request"},
}


class SessionHost(Protocol):
    spec: DeribitSpec
    heartbeat_scale: float
    min_heartbeat: float
    heartbeat_closes: int

    @property
    def silent(self) -> bool: ...


class Session:
    """What the mock knows of one connection."""

    def __init__(self, host: SessionHost, link: WsConnection) -> None:
        self.host = host
        self.link = link
        #: The access token of this connection's ``public/auth`` (private calls need no other).
        self.token: str | None = None
        #: Every access token ``public/auth`` issued on this connection (``private/logout``
        #: invalidates them).
        self.tokens: list[str] = []
        self.subscriptions: dict[str, Subscription] = {}
        #: Seconds between test requests (unscaled), or ``None``.
        self.heartbeat: float | None = None
        self.awaiting_test = False
        #: Heartbeat test requests sent, and whether the connection was closed for lack of answers.
        self.test_requests = 0
        self.closed_for_heartbeat = False
        self.closed = False
        #: ``usIn`` of requests waiting for their delay, by ``id()`` of the request object.
        self.arrivals: dict[int, int] = {}
        self._heartbeat_task: asyncio.Task[None] | None = None

    @property
    def number(self) -> int:
        return self.link.number

    def send(self, message: Mapping[str, Any], *, stream: bool = False) -> None:
        if self.link.accepts(stream):
            self.link.send(orjson.dumps(message).decode(), stream=stream)

    # -- channels -----------------------------------------------------------------------------

    def subscribe(self, channels: list[Any], *, private: bool) -> list[str]:
        done: list[str] = []
        for name in channels:
            if not isinstance(name, str):
                raise invalid_params("channels", "channel names are strings")
            found = self.host.spec.channel(name)
            if found is None:
                log.info("mock deribit: %r: no such channel; left out", self.link)
                continue
            spec, values = found
            if spec.private and not private:
                continue
            self.subscriptions.setdefault(name, Subscription(name, spec, values))
            done.append(name)
        return done

    def unsubscribe(self, channels: list[Any]) -> list[str]:
        return [c for c in channels if isinstance(c, str) and self.subscriptions.pop(c, None) is not None]

    def unsubscribe_all(self) -> None:
        self.subscriptions.clear()

    # -- heartbeats ---------------------------------------------------------------------------

    def set_heartbeat(self, interval: float | None) -> None:
        """Start (or restart, or with ``None`` stop) the heartbeats."""
        if interval is not None and interval < self.host.min_heartbeat:
            raise invalid_params("interval", f"must be at least {self.host.min_heartbeat:g} seconds")
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            self._heartbeat_task = None
        self.heartbeat, self.awaiting_test = interval, False
        if interval is None:
            return
        period = max(0.001, interval * self.host.heartbeat_scale)
        self._heartbeat_task = self._spawn(self._heartbeats(period))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task of this connection (cancelled when it ends)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.link.tasks.add(task)
        task.add_done_callback(self.link.tasks.discard)
        return task

    def heartbeat_answered(self) -> None:
        self.awaiting_test = False

    async def _heartbeats(self, period: float) -> None:
        while not self.closed:
            await asyncio.sleep(period)
            if self.host.silent:
                self.awaiting_test = False
                continue
            if self.awaiting_test:
                log.info("mock deribit: %r: no answer to a heartbeat test_request; closing", self.link)
                self.closed_for_heartbeat = True
                self.host.heartbeat_closes += 1
                with contextlib.suppress(ConnectionClosed):
                    await self.link.ws.close(1000, HEARTBEAT_CLOSE_REASON)
                return
            self.awaiting_test = True
            self.test_requests += 1
            self.send(TEST_REQUEST, stream=True)

    # -- the end ------------------------------------------------------------------------------

    def logout(self) -> None:
        """``private/logout``: forget the tokens and close the connection (no answer)."""
        self.token = None
        self.tokens.clear()
        self._spawn(self._close(1000, "logout"))

    async def _close(self, code: int, reason: str) -> None:
        await asyncio.sleep(0.05)  # let what was queued leave first
        with contextlib.suppress(ConnectionClosed):
            await self.link.ws.close(code, reason)

    def close(self) -> None:
        self.closed = True
        self.subscriptions.clear()
        self.arrivals.clear()
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
