"""Asyncio WebSocket transport on the ``websockets`` library, around the sans-I/O :class:`Protocol`.

Connection life:

* The URL comes from a string or a callable (sync or async) called on **every** connect, so a
  fresh single-use URL (an OTP URL) can be supplied each time.
* Keepalive: a ping every ``ping_interval`` seconds; no pong within ``ping_timeout`` closes the
  connection, which counts as a drop.
* On a drop, every call waiting for an answer fails at once with :class:`ConnectionLost`; the
  transport reconnects with exponential backoff and jitter, then re-subscribes every live stream.
  The user's stream iterators keep going; ``stream.gaps`` tells how often they were interrupted.
* Calls made while reconnecting wait for the connection within their own deadline.
* :meth:`WebSocketTransport.close` ends every stream and fails every wait.

Slow consumers: each stream has a bounded buffer (``stream_buffer`` messages). With the default
overflow policy ``"drop_oldest"`` the oldest unread message is dropped to make room (market data
is superseded by the next message; ``stream.dropped`` counts the losses). With ``"fail"`` the stream
ends with :class:`StreamOverflow` on the consumer's next read. Memory never grows without bound.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from websockets.exceptions import ConnectionClosed

from ._redact import RedactingLogger, redact_url
from .errors import (
    CallTimeout,
    ConnectionFailed,
    ConnectionLost,
    StreamOverflow,
    TransportClosed,
    TransportError,
)
from .protocol import Ignored, Protocol, Reply, StreamMessage, StreamState
from .transport import JsonObject

logger = logging.getLogger("deriv_runtime.ws")

UrlSource = str | Callable[[], str | Awaitable[str]]
OverflowPolicy = Literal["drop_oldest", "fail"]


@dataclass(frozen=True)
class Gap:
    """A stretch of time in which a stream received nothing because the connection was down."""

    lost_at: float
    resumed_at: float


@dataclass(frozen=True)
class ReconnectPolicy:
    initial_delay: float = 0.25
    max_delay: float = 30.0
    #: ``None``: keep trying until the client is closed.
    max_attempts: int | None = None

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography


class StreamQueue:
    """Bounded buffer between the reader task and one stream's consumer (an async iterator)."""

    __slots__ = ("_ended", "_error", "_items", "_maxlen", "_policy", "_waiter", "dropped", "gaps", "last_gap")

    def __init__(self, maxlen: int, policy: OverflowPolicy) -> None:
        self._items: collections.deque[JsonObject] = collections.deque()
        self._maxlen = maxlen
        self._policy = policy
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: BaseException | None = None
        #: Messages dropped because the consumer fell behind (policy ``"drop_oldest"``).
        self.dropped = 0
        #: Times the stream was interrupted by a lost connection and resumed.
        self.gaps = 0
        self.last_gap: Gap | None = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, message: JsonObject) -> None:
        if self._ended:
            return
        if len(self._items) >= self._maxlen:
            if self._policy == "fail":
                self.fail(
                    StreamOverflow(f"stream buffer full ({self._maxlen} messages): consumer fell behind")
                )
                return
            self._items.popleft()
            self.dropped += 1
        self._items.append(message)
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._ended = True
        self._items.clear()
        self._wake()

    def gap(self, gap: Gap) -> None:
        self.gaps += 1
        self.last_gap = gap

    def __len__(self) -> int:
        return len(self._items)

    def __aiter__(self) -> StreamQueue:
        return self

    async def __anext__(self) -> JsonObject:
        while True:
            if self._items:
                return self._items.popleft()
            if self._error is not None:
                raise self._error
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


def _expire(future: asyncio.Future[JsonObject], label: str, timeout: float) -> None:
    if not future.done():
        future.set_exception(CallTimeout(f"{label}: no answer within {timeout} s"))


def _label(payload: JsonObject) -> str:
    return next(iter(payload), "?")


def _connection_class() -> type[Any]:
    """A ``websockets`` client connection that hands each data message to a callback, inline.

    The stock connection queues frames for a ``recv()`` coroutine; dispatching from the read
    callback instead saves a task switch per message (calls answer sooner, streams deliver more).
    Backpressure is ours: every stream buffer is bounded.
    """
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import Frame, Opcode

    class DispatchingConnection(ClientConnection):
        on_message: Callable[[bytes], None] | None = None
        _fragments: list[bytes] | None = None

        def process_event(self, event: Any) -> None:
            handler = self.on_message
            if handler is None or self.response is None or not isinstance(event, Frame):
                super().process_event(event)
                return
            opcode = event.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                if event.fin:
                    handler(bytes(event.data))
                else:
                    self._fragments = [bytes(event.data)]
            elif opcode is Opcode.CONT:
                if self._fragments is not None:
                    self._fragments.append(bytes(event.data))
                    if event.fin:
                        data, self._fragments = b"".join(self._fragments), None
                        handler(data)
            else:
                super().process_event(event)

    return DispatchingConnection


class WebSocketTransport:
    """A :class:`~deriv_runtime.transport.Transport` over one WebSocket connection at a time."""

    def __init__(
        self,
        url: UrlSource,
        *,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        reconnect: bool | ReconnectPolicy = True,
        stream_buffer: int = 1024,
        overflow: OverflowPolicy = "drop_oldest",
        max_message_size: int = 16 * 2**20,
        compression: Literal["deflate"] | None = "deflate",
        connect_options: dict[str, Any] | None = None,
    ) -> None:
        if stream_buffer < 1:
            raise ValueError("stream_buffer must be at least 1")
        if overflow not in ("drop_oldest", "fail"):
            raise ValueError(f"overflow must be 'drop_oldest' or 'fail', not {overflow!r}")
        self._url_source = url
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._policy = (
            reconnect if isinstance(reconnect, ReconnectPolicy) else ReconnectPolicy() if reconnect else None
        )
        self._stream_buffer = stream_buffer
        self._overflow: OverflowPolicy = overflow
        self._connect_options = {
            "max_size": max_message_size,
            "compression": compression,
            **(connect_options or {}),
        }
        self.protocol = Protocol()
        self._ws: Any = None
        self._futures: dict[int, asyncio.Future[JsonObject]] = {}
        self._queues: dict[int, StreamQueue] = {}
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self._dead: TransportError | None = None
        #: Connections opened so far (1 after the first connect).
        self.connections = 0

    def __repr__(self) -> str:
        state = "closed" if self._dead else "connected" if self._connected.is_set() else "disconnected"
        return f"<WebSocketTransport {state} connections={self.connections}>"

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set() and self._dead is None and self._supervisor is not None

    # -- connecting -------------------------------------------------------------------------------

    async def _resolve_url(self) -> str:
        source = self._url_source
        if isinstance(source, str):
            return source
        value = source()
        if isinstance(value, Awaitable):
            value = await value
        if not isinstance(value, str):
            raise TypeError(f"the URL callable returned {type(value).__name__}, not str")
        return value

    async def _open(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidURI

        url = await self._resolve_url()
        shown = redact_url(url)
        try:
            ws: Any = await connect(
                url,
                create_connection=_connection_class(),
                logger=RedactingLogger("websockets.client"),
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                **self._connect_options,
            )
        except InvalidURI:
            raise ConnectionFailed(f"not a WebSocket URL: {shown}") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise ConnectionFailed(f"cannot connect to {shown}: {reason}") from None
        ws.on_message = self._dispatch
        self._ws = ws
        self.connections += 1
        logger.info("connected to %s", shown)
        for out in self.protocol.resubscribe():
            await ws.send(out.data)

    async def connect(self) -> None:
        """Open the first connection (raising :class:`ConnectionFailed`) and start reading."""
        if self._dead is not None:
            raise self._dead
        if self._supervisor is not None:
            return
        await self._open()
        self._connected.set()
        self._supervisor = asyncio.get_running_loop().create_task(self._run(), name="deriv-ws-reader")

    async def _run(self) -> None:
        while True:
            await self._read(self._ws)
            lost_at = time.time()
            if self._dead is None:
                self._connected.clear()
            self._fail_waiting(ConnectionLost("the connection dropped before the answer arrived"))
            if self._closing:
                return
            if self._policy is None:
                self._shutdown(ConnectionLost("the connection dropped (reconnect is off)"))
                return
            attempt = 0
            while True:
                await asyncio.sleep(self._policy.delay(attempt))
                try:
                    await self._open()
                    break
                except (ConnectionFailed, TypeError, OSError) as exc:
                    attempt += 1
                    logger.warning("reconnect attempt %d failed: %s", attempt, exc)
                    if self._policy.max_attempts is not None and attempt >= self._policy.max_attempts:
                        error = ConnectionFailed(f"gave up reconnecting after {attempt} attempts: {exc}")
                        self._shutdown(error)
                        return
            gap = Gap(lost_at, time.time())
            for queue in self._queues.values():
                queue.gap(gap)
            self._connected.set()

    async def _read(self, ws: Any) -> None:
        """Wait until ``ws`` closes; messages are dispatched inline by :meth:`_dispatch`."""
        await ws.wait_closed()
        if not self._closing:
            logger.warning("connection closed: %s", ws.close_reason or ws.close_code or "no close frame")

    def _dispatch(self, data: bytes) -> None:
        event = self.protocol.receive(data)
        if type(event) is StreamMessage:
            queue = self._queues.get(event.stream.key)
            if queue is not None:
                queue.push(event.message)
                if event.stream.ended:
                    queue.end()
        elif type(event) is Reply:
            future = self._futures.pop(event.req_id, None)
            if future is not None and not future.done():
                future.set_result(event.message)
            for state in event.ended:
                ended = self._queues.get(state.key)
                if ended is not None:
                    ended.end()
        elif isinstance(event, Ignored) and not (event.quiet or self._closing):
            logger.warning("ignored a frame: %s (req_id=%s)", event.reason, event.req_id)

    def _fail_waiting(self, error: TransportError) -> None:
        for req_id in self.protocol.connection_lost():
            future = self._futures.pop(req_id, None)
            if future is not None and not future.done():
                future.set_exception(error)
        for future in self._futures.values():
            if not future.done():
                future.set_exception(error)
        self._futures.clear()

    def _shutdown(self, error: TransportError) -> None:
        self._dead = error
        self._fail_waiting(error)
        for queue in self._queues.values():
            if isinstance(error, TransportClosed):
                queue.end()
            else:
                queue.fail(error)
        self._connected.set()  # wake everybody waiting for a connection: they will see _dead

    async def close(self) -> None:
        """End every stream, fail every wait, close the socket. Safe to call twice."""
        if self._closing:
            return
        self._closing = True
        self._shutdown(TransportClosed("the client is closed"))
        ws, supervisor = self._ws, self._supervisor
        if ws is not None:
            await ws.close()
        if supervisor is not None:
            supervisor.cancel()
            try:
                await supervisor
            except asyncio.CancelledError:
                pass

    async def _wait_connected(self) -> Any:
        while True:
            if self._dead is not None:
                raise self._dead
            if self._supervisor is None:
                raise TransportError("not connected: call connect() first (or use Client.connect(...))")
            if self._connected.is_set():
                return self._ws
            await self._connected.wait()

    # -- calls and streams ------------------------------------------------------------------------

    async def request(self, payload: JsonObject, *, timeout: float | None) -> JsonObject:
        label = _label(payload)
        loop = asyncio.get_running_loop()
        if self.is_connected:  # the usual case, kept cheap: no timeout context, no extra awaits
            out = self.protocol.call(label, payload)
            req_id = out.req_id
            future: asyncio.Future[JsonObject] = loop.create_future()
            self._futures[req_id] = future
            try:
                await self._ws.send(out.data)
            except ConnectionClosed:
                self._drop(req_id, future)
                req_id, future = await self._send_when_connected(label, payload, timeout)
        else:
            req_id, future = await self._send_when_connected(label, payload, timeout)
        timer = None if timeout is None else loop.call_later(timeout, _expire, future, label, timeout)
        try:
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            self._drop(req_id, future)

    def _drop(self, req_id: int, future: asyncio.Future[JsonObject]) -> None:
        """Stop waiting for ``req_id``: a late answer will be ignored, never given to another call."""
        if future.done() and not future.cancelled():
            future.exception()  # retrieved: whoever waited got this error already, or gets another
        self._futures.pop(req_id, None)
        self.protocol.abandon(req_id)

    async def _send_when_connected(
        self, label: str, payload: JsonObject, timeout: float | None
    ) -> tuple[int, asyncio.Future[JsonObject]]:
        """Slow path: wait for a connection (within ``timeout``), then send. A frame that could not
        be sent never reached the server, so it is sent again on the next connection."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    ws = await self._wait_connected()
                    out = self.protocol.call(label, payload)
                    future: asyncio.Future[JsonObject] = loop.create_future()
                    self._futures[out.req_id] = future
                    try:
                        await ws.send(out.data)
                        return out.req_id, future
                    except ConnectionClosed:
                        self._drop(out.req_id, future)
                        await ws.wait_closed()
                        await asyncio.sleep(0)
        except TimeoutError:
            raise CallTimeout(f"{label}: not connected within {timeout} s") from None

    @asynccontextmanager
    async def subscribe(self, payload: JsonObject) -> AsyncIterator[StreamQueue]:
        ws = await self._wait_connected()
        state, out = self.protocol.open_stream(_label(payload), payload)
        queue = StreamQueue(self._stream_buffer, self._overflow)
        self._queues[state.key] = queue
        try:
            try:
                await ws.send(out.data)
            except ConnectionClosed:
                pass  # still registered: re-sent after the reconnect
            yield queue
        finally:
            self._queues.pop(state.key, None)
            await self._forget(state)

    async def _forget(self, state: StreamState) -> None:
        if state.ended:
            return
        forget = self.protocol.close_stream(state)
        if forget is not None and self.is_connected:
            try:
                await self._ws.send(forget.data)
            except ConnectionClosed:
                pass
