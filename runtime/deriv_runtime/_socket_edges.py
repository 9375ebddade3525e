"""The socket's edges for :mod:`deriv_runtime.ws`: call deadlines (one loop timer for every waiting
call), closing within a bound, aborting, and describing failures without secrets."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from ._redact import redact_text
from .errors import CallTimeout
from .transport import JsonObject

logger = logging.getLogger("deriv_runtime.ws")


async def _close_socket(ws: Any) -> None:
    """Close the connection, within its close timeout (websockets' ``close_timeout``, 10 s by default):
    the closing handshake waits for the peer, and a peer that stopped reading would hold it until it
    gave up itself (measured: 48 s against a websockets server's keepalive; for ever against one
    without). Then the socket is aborted."""
    limit = getattr(ws, "close_timeout", None)
    try:
        async with asyncio.timeout(10.0 if limit is None else limit):
            await ws.close()
    except TimeoutError:
        logger.debug("closing the socket: the peer did not take the closing handshake in time; aborted")
        ws.transport.abort()
    except Exception as exc:
        logger.debug("closing the socket: %s", _describe(exc))


class _Call:
    """One call's deadline: it covers waiting for the connection, sending, and the answer."""

    __slots__ = ("future", "label", "phase", "task", "timed_out", "timeout")

    def __init__(self, future: asyncio.Future[JsonObject], label: str, timeout: float | None) -> None:
        self.future = future
        self.label = label
        self.timeout = timeout
        #: "connecting", "sending" or "answer": what the call is waiting for.
        self.phase = "sending"
        self.task: asyncio.Task[Any] | None = None
        self.timed_out = False

    def expire(self) -> None:
        if self.future.done():
            return
        if self.phase == "answer":
            self.future.set_exception(CallTimeout(f"{self.label}: no answer within {self.timeout} s"))
        elif self.task is not None:  # waiting for a connection or for the peer to take the frame
            self.timed_out = True
            self.task.cancel()

    def timeout_error(self) -> CallTimeout:
        if self.phase == "connecting":
            return CallTimeout(f"{self.label}: not connected within {self.timeout} s")
        return CallTimeout(
            f"{self.label}: could not send within {self.timeout} s (the server is not reading); "
            "it may still reach the server, and a late answer is dropped"
        )


class _Deadlines:
    """The deadlines of the calls waiting on one event loop, kept by one loop timer.

    A loop timer per call costs more than the rest of the call's own work (and arming and cancelling
    one per call slows every round trip down further); here a call only enters and leaves a dict.
    The timer is armed for the earliest deadline, or earlier (``_at`` is never later than any
    waiting call's deadline): when it fires it expires the calls that are due and is armed again for
    the earliest remaining deadline. When calls finish early it stays armed and finds nothing to do.
    """

    __slots__ = ("_at", "_calls", "_handle", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: call -> its deadline (``loop.time()``), for every call waiting with a timeout.
        self._calls: dict[_Call, float] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._at = math.inf

    def add(self, call: _Call, timeout: float) -> None:
        deadline = self.loop.time() + timeout
        self._calls[call] = deadline
        if deadline < self._at:
            if self._handle is not None:
                self._handle.cancel()
            self._at = deadline
            self._handle = self.loop.call_at(deadline, self._fire)

    def remove(self, call: _Call) -> None:
        self._calls.pop(call, None)

    def _fire(self) -> None:
        self._handle, self._at = None, math.inf
        calls = self._calls
        if not calls:
            return
        now = self.loop.time()
        due = [call for call, deadline in calls.items() if deadline <= now]
        for call in due:
            del calls[call]
            call.expire()
        if calls:
            self._at = min(calls.values())
            self._handle = self.loop.call_at(self._at, self._fire)


def _describe(exc: BaseException) -> str:
    """``Type: message`` with URL queries (OTPs) removed."""
    text = str(exc)
    return redact_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


async def _abort(ws: Any) -> None:
    transport = getattr(ws, "transport", None)
    if transport is not None:
        transport.abort()
    try:
        async with asyncio.timeout(1.0):
            await ws.wait_closed()
    except TimeoutError:
        pass
