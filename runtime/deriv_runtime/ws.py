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
* ``on_connect`` (optional) runs on every new connection before anything else is sent on it: it gets
  a ``call(payload) -> answer`` function working on that connection alone (an authentication, such
  as Deribit's ``public/auth`` or Deriv's ``authorize``). Once it returns, the live streams are
  re-opened (:meth:`~deriv_runtime.wire.Wire.resubscribe`, then those that need an authenticated
  connection, :meth:`~deriv_runtime.wire.Wire.authenticated`), and only then do waiting calls go
  out. If it fails for a network reason the attempt counts as a failed connect (retried with
  backoff); if the server refused it (a :class:`~deriv_runtime.errors.DerivError` that is not a
  transport error: bad credentials, 2FA required) nothing is retried: the first ``connect`` raises
  that error, and after a drop every call and stream fails with a :class:`ConnectionFailed`
  chained to it.
* :meth:`WebSocketTransport.close` ends every stream and fails every wait.

Slow consumers: each stream has a bounded buffer (``stream_buffer`` messages). With the default
overflow policy ``"drop_oldest"`` the oldest unread message is dropped to make room (market data
is superseded by the next message; ``stream.dropped`` counts the losses). With ``"fail"`` the stream
ends with :class:`StreamOverflow` on the consumer's next read. Memory never grows without bound.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from websockets.exceptions import ConnectionClosed

from ._dispatching import connection_class
from ._redact import RedactingLogger, redact_text, redact_url
from ._socket_edges import _abort, _Call, _close_socket, _Deadlines, _describe
from .calls import CallInfo
from .errors import (
    CallTimeout,
    ConnectionFailed,
    ConnectionLost,
    DerivError,
    OutcomeUnknown,
    TransportClosed,
    TransportError,
)
from .protocol import Protocol
from .stream_queue import Gap, OverflowPolicy, StreamQueue
from .transport import JsonObject
from .wire import Event, Ignored, Reply, Respond, StreamMessage, StreamState, Wire

logger = logging.getLogger("deriv_runtime.ws")

__all__ = [
    "ConnectionCall",
    "Gap",
    "OnConnect",
    "OverflowPolicy",
    "ReconnectPolicy",
    "StreamQueue",
    "UrlSource",
    "WebSocketTransport",
]

UrlSource = str | Callable[[], str | Awaitable[str]]
#: ``call(payload)`` on the new connection only: sends one request, returns its answer.
ConnectionCall = Callable[[JsonObject], Awaitable[JsonObject]]
#: Runs on every new connection before it is used (see the module docstring).
OnConnect = Callable[[ConnectionCall], Awaitable[None]]


@dataclass(frozen=True)
class ReconnectPolicy:
    initial_delay: float = 0.25
    max_delay: float = 30.0
    #: ``None``: keep trying until the client is closed.
    max_attempts: int | None = None

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography


#: Seconds between two warnings about ignored frames; the ones in between are only counted.
IGNORED_LOG_INTERVAL = 10.0


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
        stream_buffer_bytes: int = 32 * 2**20,
        overflow: OverflowPolicy = "drop_oldest",
        max_message_size: int = 16 * 2**20,
        compression: Literal["deflate"] | None = "deflate",
        connect_options: dict[str, Any] | None = None,
        wire: Callable[[], Wire] = Protocol,
        on_connect: OnConnect | None = None,
    ) -> None:
        if stream_buffer < 1:
            raise ValueError("stream_buffer must be at least 1")
        if stream_buffer_bytes < 1:
            raise ValueError("stream_buffer_bytes must be at least 1")
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
        self._stream_buffer_bytes = stream_buffer_bytes
        self._overflow: OverflowPolicy = overflow
        self._connect_options = {
            "max_size": max_message_size,
            "compression": compression,
            **(connect_options or {}),
        }
        #: The sans-I/O protocol core (Deriv framing by default; ``wire=JsonRpcProtocol`` for JSON-RPC).
        self.protocol: Wire = wire()
        self._on_connect = on_connect
        self._responding: set[asyncio.Task[None]] = set()
        self._ws: Any = None
        self._futures: dict[int, asyncio.Future[JsonObject]] = {}
        self._queues: dict[int, StreamQueue] = {}
        self._checks: dict[int, str] = {}
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self._dead: TransportError | None = None
        #: Connections opened so far (1 after the first connect).
        self.connections = 0
        #: Frames ignored so far (garbage, unknown or late req_ids); warnings about them are throttled.
        self.ignored_frames = 0
        self._ignored_logged = 0
        self._ignored_log_at = -IGNORED_LOG_INTERVAL

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
        """Open a connection and re-subscribe live streams. Any failure is a :class:`ConnectionFailed`
        chained to its cause (a URL source raising, a refused handshake, a timeout)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidURI

        try:
            url = await self._resolve_url()
        except Exception as exc:
            raise ConnectionFailed(f"the URL source failed: {_describe(exc)}") from exc
        shown = redact_url(url)
        try:
            ws: Any = await connect(
                url,
                create_connection=connection_class(),
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
            raise ConnectionFailed(f"cannot connect to {shown}: {redact_text(reason)}") from None
        except Exception as exc:
            raise ConnectionFailed(f"cannot connect to {shown}: {_describe(exc)}") from exc
        ws.on_message = self._dispatch
        self._ws = ws
        self.connections += 1
        logger.info("connected to %s", shown)
        if self._on_connect is not None:
            await self._handshake(ws, self._on_connect, shown)
        try:
            async with asyncio.timeout(self._open_timeout):
                # streams come back only now: after the hook authenticated the connection (without a
                # hook the connection is as authenticated as it gets, e.g. by its OTP URL)
                for out in [*self.protocol.resubscribe(), *self.protocol.authenticated()]:
                    await ws.send_soon(out.data)  # thousands of streams: a few writes
        except (ConnectionClosed, TimeoutError) as exc:
            await _abort(ws)
            raise ConnectionFailed(f"connected to {shown}, could not re-subscribe: {_describe(exc)}") from exc

    async def _handshake(self, ws: Any, on_connect: OnConnect, shown: str) -> None:
        """Run ``on_connect`` on the new connection before anything else is sent on it."""

        async def call(payload: JsonObject) -> JsonObject:
            return await self._call_on(ws, payload)

        try:
            async with asyncio.timeout(self._open_timeout):
                await on_connect(call)
        except (ConnectionClosed, TimeoutError, TransportError, OSError) as exc:
            await _abort(ws)
            raise ConnectionFailed(f"connected to {shown}, could not authenticate: {_describe(exc)}") from exc
        except BaseException:
            await _abort(ws)
            raise

    async def _call_on(self, ws: Any, payload: JsonObject) -> JsonObject:
        """One request on ``ws`` before the connection is open to callers; fails at once if it closes."""
        label = self.protocol.label(payload)
        future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
        out = self.protocol.call(label, payload)
        self._futures[out.req_id] = future
        closed = asyncio.ensure_future(ws.wait_closed())
        try:
            await ws.send(out.data)
            await asyncio.wait((future, closed), return_when=asyncio.FIRST_COMPLETED)
            if not future.done():
                raise ConnectionLost(f"{label}: the connection closed before the answer came")
            return future.result()
        finally:
            closed.cancel()
            self._drop(out.req_id, future)

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
        try:
            await self._supervise()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug here must not leave anybody waiting
            logger.error("the connection supervisor failed: %s", _describe(exc))
            error = ConnectionFailed(f"the connection supervisor failed: {_describe(exc)}")
            error.__cause__ = exc
            self._shutdown(error)

    async def _supervise(self) -> None:
        while True:
            await self._read(self._ws)
            lost_at = time.time()
            if self._dead is None:
                self._connected.clear()
            self._connection_lost(ConnectionLost("the connection dropped before the answer arrived"))
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
                except Exception as exc:  # every failure is one attempt: the URL source, TLS, a 503
                    if isinstance(exc, DerivError) and not isinstance(exc, TransportError):
                        # the server refused on_connect (credentials, 2FA): retrying cannot help
                        logger.error("the new connection was refused: %s", exc)
                        refused = ConnectionFailed(f"the new connection was refused: {exc}")
                        refused.__cause__ = exc
                        self._shutdown(refused)
                        return
                    attempt += 1
                    reason = str(exc) if isinstance(exc, ConnectionFailed) else _describe(exc)
                    logger.warning("reconnect attempt %d failed: %s", attempt, reason)
                    if self._policy.max_attempts is not None and attempt >= self._policy.max_attempts:
                        error = ConnectionFailed(f"gave up reconnecting after {attempt} attempts: {reason}")
                        error.__cause__ = exc.__cause__ or exc
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
        state = self.protocol.route_raw(data)
        if state is not None:  # the hot path: one more frame of a running stream, not decoded here
            queue = self._queues.get(state.key)
            if queue is not None and queue.raw:
                queue.push(data, len(data))
                return
        self._deliver(self.protocol.receive(data), len(data))

    def _reread(self, key: int, data: bytes) -> JsonObject | None:
        """A frame handed over undecoded that its consumer could not read: decoded and routed now;
        the message if it is that stream's (``key``), else delivered where it belongs."""
        event = self.protocol.receive(data)
        if type(event) is StreamMessage and event.stream.key == key:
            if event.stream.ended:
                queue = self._queues.get(key)
                if queue is not None:
                    queue.end()
            return event.message
        self._deliver(event, len(data))
        return None

    def _deliver(self, event: Event, size: int) -> None:
        if type(event) is StreamMessage:  # a stream's message
            state = event.stream
            queue = self._queues.get(state.key)
            if queue is not None:
                queue.push(event.message, size)
                if state.ended:
                    queue.end()
        elif type(event) is Reply:
            future = self._futures.pop(event.req_id, None)
            if future is not None and not future.done():
                future.set_result(event.message)
            for state in event.ended:
                ended = self._queues.get(state.key)
                if ended is not None:
                    ended.end()
        elif type(event) is Respond:
            task = asyncio.get_running_loop().create_task(self._respond(event.out.data))
            self._responding.add(task)
            task.add_done_callback(self._responding.discard)
        elif isinstance(event, Ignored) and not (event.quiet or self._closing):
            self._ignored(event)

    async def _respond(self, data: str) -> None:
        """Send a frame the protocol answers by itself (a heartbeat), within the open timeout."""
        ws = self._ws
        try:
            async with asyncio.timeout(self._open_timeout):
                await ws.send(data)
        except (ConnectionClosed, TimeoutError):
            pass  # the connection is going away; the next one starts afresh

    def _ignored(self, event: Ignored) -> None:
        """Count an ignored frame; warn about the first, then at most once per interval (a flood of
        garbage must not become a flood of log records)."""
        self.ignored_frames += 1
        now = time.monotonic()
        if now - self._ignored_log_at < IGNORED_LOG_INTERVAL:
            return
        unseen = self.ignored_frames - self._ignored_logged
        self._ignored_log_at, self._ignored_logged = now, self.ignored_frames
        if unseen <= 1:
            logger.warning("ignored a frame: %s (req_id=%s)", event.reason, event.req_id)
        else:
            logger.warning(
                "ignored %d frames since the last warning; the latest: %s (req_id=%s)",
                unseen,
                event.reason,
                event.req_id,
            )

    def _connection_lost(self, error: TransportError) -> None:
        failed, stranded = self.protocol.connection_lost()
        for req_id in failed:
            future = self._futures.pop(req_id, None)
            if future is not None and not future.done():
                future.set_exception(error)
        for future in self._futures.values():
            if not future.done():
                future.set_exception(error)
        self._futures.clear()
        for state in stranded:
            queue = self._queues.get(state.key)
            if queue is not None:
                queue.fail(OutcomeUnknown(state.call, self._checks.get(state.key, "")))

    def _shutdown(self, error: TransportError) -> None:
        self._dead = error
        self._connection_lost(error)
        for queue in self._queues.values():
            if isinstance(error, TransportClosed):
                queue.end()
            elif queue.error is None:
                queue.fail(error)
        self._connected.set()  # wake everybody waiting for a connection: they will see _dead

    async def close(self) -> None:
        """End every stream, fail every wait, close the socket. Safe to call twice; never raises an
        error of the background reader (it was given to the calls and streams it concerned)."""
        if self._closing:
            return
        self._closing = True
        await self._close()

    async def close_with(self, payload: JsonObject, *, timeout: float | None) -> None:
        """Send ``payload`` as the last frame (a request the server answers by closing, such as
        Deribit's ``private/logout``), wait up to ``timeout`` for the server to close, then close
        like :meth:`close`. Nothing reconnects after it."""
        if self._closing:
            raise TransportClosed(f"{self.protocol.label(payload)}: the client is closed")
        label = self.protocol.label(payload)
        try:
            async with asyncio.timeout(timeout):
                ws = await self._wait_connected()
                self._closing = True  # from here on a drop is the end, not a reason to reconnect
                out = self.protocol.call(label, payload)
                self.protocol.abandon(out.req_id)
                try:
                    await ws.send(out.data)
                    await ws.wait_closed()
                except ConnectionClosed:
                    pass
        except TimeoutError:
            logger.info("%s: the server did not close the connection in time; closing it", label)
        finally:
            self._closing = True
            await self._close()

    async def _close(self) -> None:
        if self._dead is None:
            self._shutdown(TransportClosed("the client is closed"))
        else:
            for queue in self._queues.values():
                if queue.error is None:
                    queue.end()
        ws, supervisor = self._ws, self._supervisor
        if ws is not None:
            await _close_socket(ws)
        if supervisor is not None:
            supervisor.cancel()
            try:
                await supervisor
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            except Exception as exc:
                logger.debug("the connection supervisor ended with %s", _describe(exc))

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

    #: The deadlines of waiting calls (:meth:`request`), on the loop they wait on.
    _deadlines: _Deadlines | None = None

    async def request(
        self, payload: JsonObject, *, timeout: float | None, info: CallInfo | None = None
    ) -> JsonObject:
        """Send ``payload`` and wait for its answer. ``timeout`` covers everything: waiting for a
        connection, handing the frame to a peer that may not be reading, and the answer.

        A request whose frame may have left (``info.repeatable`` false: it acts) is never sent twice:
        a drop while sending raises :class:`OutcomeUnknown`.
        """
        label = self.protocol.label(payload)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[JsonObject] = loop.create_future()
        call = _Call(future, label, timeout)
        deadlines = None
        if timeout is not None:
            call.task = asyncio.current_task(loop)
            deadlines = self._deadlines
            if deadlines is None or deadlines.loop is not loop:
                deadlines = self._deadlines = _Deadlines(loop)
            deadlines.add(call, timeout)
        req_id = 0
        answered = False
        try:
            if self._dead is None and self._supervisor is not None and self._connected.is_set():
                ws = self._ws  # the usual case (is_connected), kept cheap: no extra awaits
            else:
                call.phase = "connecting"
                ws = await self._wait_connected()
                call.phase = "sending"
            while True:
                out = self.protocol.call(label, payload)
                req_id = out.req_id
                self._futures[req_id] = future
                try:
                    await ws.send_soon(out.data)
                    break
                except ConnectionClosed:
                    self._drop(req_id, future)
                    if info is not None and not info.repeatable:
                        raise OutcomeUnknown(label, info.check) from None
                    # repeatable: whether or not the frame left, sending it again is harmless
                    call.phase = "connecting"
                    await ws.wait_closed()
                    await asyncio.sleep(0)
                    ws = await self._wait_connected()
                    call.phase = "sending"
                    # the lost connection may have failed this attempt's future: a fresh one
                    future = call.future = loop.create_future()
            call.phase = "answer"
            answer = await future
            # only the reader completes a future with an answer, and it took the id off every table
            answered = True
            return answer
        except asyncio.CancelledError:
            if call.timed_out and call.task is not None and call.task.uncancel() == 0:
                raise call.timeout_error() from None
            raise
        finally:
            if deadlines is not None:
                deadlines.remove(call)
            if not answered:
                self._drop(req_id, future)

    def _drop(self, req_id: int, future: asyncio.Future[JsonObject]) -> None:
        """Stop waiting for ``req_id``: a late answer will be ignored, never given to another call."""
        if future.done() and not future.cancelled():
            future.exception()  # retrieved: whoever waited got this error already, or gets another
        if self._futures.get(req_id) is future:
            del self._futures[req_id]
        self.protocol.abandon(req_id)

    @asynccontextmanager
    async def subscribe(
        self, payload: JsonObject, *, info: CallInfo | None = None, timeout: float | None = None
    ) -> AsyncIterator[StreamQueue]:
        """Open a stream; yields once its first answer arrived (within ``timeout``).

        After a reconnect a repeatable stream is sent again; a stream whose request acts
        (``info.repeatable`` false) never is: it carries on as ``info.resume`` says once its receipt
        arrived, and otherwise ends with :class:`OutcomeUnknown`. Without ``info`` the request
        counts as repeatable.
        """
        label = self.protocol.label(payload)
        repeatable = True if info is None else info.repeatable
        queue = StreamQueue(self._stream_buffer, self._overflow, self._stream_buffer_bytes)
        state: StreamState | None = None
        try:
            async with asyncio.timeout(timeout):
                ws = await self._wait_connected()
                state, out = self.protocol.open_stream(
                    label, payload, repeatable=repeatable, resume=None if info is None else info.resume
                )
                self._queues[state.key] = queue
                queue.stream, queue.reread = state, functools.partial(self._reread, state.key)
                if info is not None and info.check:
                    self._checks[state.key] = info.check
                try:
                    await ws.send_soon(out.data)
                except ConnectionClosed:
                    pass  # repeatable: re-sent after the reconnect; otherwise it ends as OutcomeUnknown
                await queue.wait_first()
        except TimeoutError:
            await self._end_stream(state)
            raise CallTimeout(f"{label}: no first answer within {timeout} s") from None
        except BaseException:
            await self._end_stream(state)
            raise
        if queue.error is not None and not len(queue):
            await self._end_stream(state)
            raise queue.error
        try:
            yield queue
        finally:
            await self._end_stream(state)

    async def _end_stream(self, state: StreamState | None) -> None:
        if state is None:
            return
        self._queues.pop(state.key, None)
        self._checks.pop(state.key, None)
        if state.ended:
            return
        forget = self.protocol.close_stream(state)
        if forget is not None and self.is_connected:
            try:  # bounded: a peer that stops reading must not hold the user's block open
                async with asyncio.timeout(self._open_timeout):
                    await self._ws.send_soon(forget.data)
            except (ConnectionClosed, TimeoutError):
                pass
