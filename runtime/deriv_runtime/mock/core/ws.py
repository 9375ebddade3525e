"""WebSocket serving on 127.0.0.1: connections, send queues, a clock, and the WebSocket fault knobs.

:class:`WebSocketMock` serves one API, an object following :class:`WsApi`. The core owns the
socket and the connections; the API owns what the messages mean. Per connection the core makes a
:class:`WsConnection` (the link: send queue, drop budget, pending delayed requests) and asks the
API for a session object (:meth:`WsApi.open`), which it hands back with every request. The API
answers through the link (:meth:`WsConnection.send`).

Each text frame is parsed here: a JSON object is recorded (:attr:`WebSocketMock.requests`), named
by the API (:meth:`WsApi.receive`, at once), then handled (:meth:`WsApi.handle`) after its delay;
anything else goes to :meth:`WsApi.reject` after the delay. A clock task calls :meth:`WsApi.tick`
every ``tick_interval`` seconds (or on :meth:`WebSocketMock.step`).

Fault knobs are plain attributes and methods (``delay``, ``delay_calls``, ``garbage_every``,
``refuse_handshake``, ``refuse_next``, ``silent``, :meth:`~WebSocketMock.drop_after`,
:meth:`~WebSocketMock.drop_after_seconds`, :meth:`~WebSocketMock.drop_all`,
:meth:`~WebSocketMock.send_garbage`, and each API's :meth:`~WebSocketMock.fail_call`), usable
while the server runs, from its own event loop or from any other thread (e.g. tests using
:meth:`~.loop.LoopHost.run_in_thread`): settings apply to existing and new connections at once;
actions (:meth:`~WebSocketMock.drop_all`, :meth:`~WebSocketMock.send_garbage`) are scheduled on the
server's loop immediately and return an :class:`~.loop.Action` you may ``await`` (from any loop) or
wait on with ``.result()``.

A :class:`~.record.Journal` (:meth:`WebSocketMock.record_to`) gets what the server receives, secrets
redacted: ``connect``, ``request``, ``invalid`` (not a JSON object), ``refused``, ``disconnect``, ``fault``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, Self, TypeVar

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..._redact import RedactingLogger
from .faults import GARBAGE, DropMode, GarbageKind, garbage_cycle
from .loop import Action, LoopHost
from .record import Journal, redact_path, redact_query

__all__ = ["BINARY_FRAME", "NOT_AN_OBJECT", "NOT_JSON", "WebSocketMock", "WsApi", "WsConnection"]

log = logging.getLogger("deriv_runtime.mock")

S = TypeVar("S")
_DROP_REASON = "mock: connection dropped"

#: What :meth:`WsApi.reject` is told about a frame that is not a JSON object.
BINARY_FRAME = "Binary frames are not supported: send JSON text."
NOT_JSON = "The request is not valid JSON."
NOT_AN_OBJECT = "The request must be a JSON object."


class WsApi(Protocol[S]):
    """What an API plugs into :class:`WebSocketMock`; ``S`` is its per-connection session."""

    def handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Accept an opening handshake (``None``) or refuse it (``connection.respond(...)``).
        Not called for handshakes the core refuses itself (``refuse_handshake``)."""
        ...

    def open(self, link: WsConnection) -> S:
        """A connection was accepted: its session."""
        ...

    def receive(self, session: S, message: dict[str, Any]) -> str | None:
        """A JSON object arrived (already recorded), before any delay: the method it calls (for
        per-method delays and logs), or ``None``."""
        ...

    def handle(self, session: S, method: str | None, message: dict[str, Any]) -> None:
        """Answer ``message`` (after its delay)."""
        ...

    def reject(self, session: S, problem: str) -> None:
        """A frame that is not a JSON object arrived (``problem`` says why): answer it (after the delay)."""
        ...

    def close(self, session: S) -> None:
        """The connection has ended."""
        ...

    def tick(self) -> list[Any]:
        """One step of the API's clock; the result is what :meth:`WebSocketMock.step` returns."""
        ...


@dataclass(slots=True)
class _Out:
    data: str | bytes
    stream: bool
    #: Not a frame: close the connection with this code and reason (:meth:`WsConnection.end`).
    close: tuple[int, str] | None = None


class WsConnection:
    """One client connection as the core sees it: its send queue and fault state."""

    def __init__(self, mock: WebSocketMock[Any], ws: ServerConnection, number: int, path: str) -> None:
        self.mock = mock
        self.ws = ws
        self.number = number
        #: The request target of the opening handshake (with its query).
        self.path = path
        self.queue: asyncio.Queue[_Out] = asyncio.Queue(maxsize=mock.max_queue)
        self.drop_budget: int | None = None
        self.drop_mode: DropMode = "abort"
        self.drop_code = 1011
        self.sent = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False
        #: ``loop.time()`` when the connection opened.
        self.opened = asyncio.get_running_loop().time()
        self.age_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<mock connection #{self.number} {redact_path(self.path)}>"

    # -- sending ------------------------------------------------------------------------------

    def accepts(self, stream: bool) -> bool:
        """Whether a message would be sent now: not after the end, no stream message while silent."""
        return not (self.closed or (stream and self.mock.silent))

    def send(self, data: str | bytes, *, stream: bool = False) -> None:
        """Queue a frame (a ``stream`` message is not sent while the server is silent)."""
        try:
            self.queue.put_nowait(_Out(data, stream))
        except asyncio.QueueFull:
            self.mock.dropped_messages += 1
            log.warning("%r: outgoing queue full (client not reading?); message dropped", self)

    def end(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` once what is already queued has been sent
        (an API refusing service after its last answer)."""
        try:
            self.queue.put_nowait(_Out("", False, (code, reason)))
        except asyncio.QueueFull:
            self.mock._spawn(self.drop("close", code))

    def later(self, delay: float | None, handle: Callable[[], None]) -> None:
        """Run ``handle`` after ``delay`` seconds (now when there is none)."""
        if delay and delay > 0:
            task = asyncio.get_running_loop().create_task(self._delayed(delay, handle))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            handle()

    @staticmethod
    async def _delayed(delay: float, handle: Callable[[], None]) -> None:
        await asyncio.sleep(delay)
        handle()

    # -- lifecycle ----------------------------------------------------------------------------

    async def writer(self) -> None:
        mock = self.mock
        try:
            while True:
                out = await self.queue.get()
                if out.close is not None:
                    log.info("%r: closing the connection (%d %s)", self, *out.close)
                    await self.ws.close(*out.close)
                    return
                if mock.silent:
                    if out.stream:
                        continue
                    await mock._speaking_wait()
                await self.ws.send(out.data)
                self.sent += 1
                every = mock.garbage_every
                if every and self.sent % every == 0:
                    garbage = mock._next_garbage()
                    mock._note("fault", fault="garbage", connection=self.number, after=self.sent)
                    await self.ws.send(garbage)
                if self.drop_budget is not None:
                    self.drop_budget -= 1
                    if self.drop_budget <= 0:
                        await self.drop(self.drop_mode, self.drop_code, flush=True)
                        return
        except ConnectionClosed:
            return

    async def drop(self, mode: DropMode, code: int = 1011, *, flush: bool = False) -> None:
        """Abort the TCP connection (no close frame), or close it with ``code``.

        With ``flush``, an abort first lets what was already sent leave the process."""
        self.drop_budget = None
        self.drop_at_age(None)
        log.info("%r: dropping the connection (%s)", self, mode if mode == "abort" else f"close {code}")
        self.mock._note("fault", fault="drop", connection=self.number, mode=mode, code=code)
        if mode == "abort":
            transport = self.ws.transport
            for _ in range(200):
                if not flush or transport.is_closing() or transport.get_write_buffer_size() == 0:
                    break
                await asyncio.sleep(0.005)
            transport.abort()
        else:
            with contextlib.suppress(ConnectionClosed):
                await self.ws.close(code, _DROP_REASON)

    def drop_at_age(self, age: tuple[float, DropMode, int] | None) -> None:
        """Drop the connection once it has been open ``age[0]`` seconds (now if it already has);
        ``None``: not because of its age."""
        if self.age_timer is not None:
            self.age_timer.cancel()
            self.age_timer = None
        if age is None or self.closed:
            return
        seconds, mode, code = age
        loop = asyncio.get_running_loop()
        wait = max(0.0, self.opened + seconds - loop.time())
        self.age_timer = loop.call_later(wait, lambda: self.mock._spawn(self.drop(mode, code)))

    def close(self) -> None:
        self.closed = True
        self.drop_at_age(None)
        for task in list(self.tasks):
            task.cancel()


class WebSocketMock(LoopHost, Generic[S]):
    """Serves ``api`` on ``host``:``port`` (0: any free port), ticking its clock every
    ``tick_interval`` seconds (``None``: only when :meth:`step` is called).

    The fault knobs (see the module docstring) start as given: ``delay`` (seconds before answering
    each request), ``delay_calls`` (per-method delays), ``garbage_every`` (a garbage frame after
    every n-th message), ``refuse_handshake`` (HTTP ``refuse_status``).
    """

    #: The prefix of the names of the server's tasks.
    task_prefix = "mock"

    def __init__(
        self,
        api: WsApi[S],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float | None = 1.0,
        delay: float = 0.0,
        delay_calls: Mapping[str, float] | None = None,
        garbage_every: int | None = None,
        refuse_handshake: bool = False,
        refuse_status: int = 503,
        ping_interval: float | None = None,
        close_timeout: float = 2.0,
        max_queue: int = 10_000,
        serve_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.api = api
        self.host = host
        self.tick_interval = tick_interval
        self.ping_interval = ping_interval
        self.close_timeout = close_timeout
        self.max_queue = max_queue
        self.serve_options = dict(serve_options or {})
        self._port = port

        # Fault knobs (plain attributes; read on every use).
        #: Seconds to wait before answering each request.
        self.delay = delay
        #: Per-method delays, overriding :attr:`delay` (``{"buy": 0.5}``).
        self.delay_calls: dict[str, float] = dict(delay_calls or {})
        #: After every n-th message on a connection, also send a garbage frame.
        self.garbage_every = garbage_every
        #: Refuse new connections during the opening handshake (HTTP :attr:`refuse_status`).
        self.refuse_handshake = refuse_handshake
        #: Refuse the next n opening handshakes (HTTP :attr:`refuse_status`), then accept again.
        self.refuse_next = 0
        self.refuse_status = refuse_status
        self._silent = False
        self._drop_new: tuple[int, DropMode, int] | None = None
        self._drop_age: tuple[float, DropMode, int] | None = None
        self._garbage = garbage_cycle()

        # Observability.
        #: Every JSON object received, in order (from all connections).
        self.requests: list[dict[str, Any]] = []
        #: The request path (with query) of every opening handshake, refused ones included.
        self.paths: list[str] = []
        #: Connections accepted since start.
        self.total_connections = 0
        #: Messages dropped because a client's outgoing queue was full.
        self.dropped_messages = 0
        #: Where what the server receives is also journaled (``None``: nowhere); see the module docstring.
        self.journal: Journal | None = None

        self._connections: dict[int, WsConnection] = {}
        self._sessions: dict[int, S] = {}
        self._numbers = itertools.count(1)
        self._server: Server | None = None
        self._speaking: asyncio.Event | None = None
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the mock server is already running")
        self._bind_loop()
        self._speaking = asyncio.Event()
        if not self._silent:
            self._speaking.set()
        self._server = await serve(
            self._handle,
            self.host,
            self._port,
            process_request=self._process_request,
            ping_interval=self.ping_interval,
            close_timeout=self.close_timeout,
            logger=self._frame_logger(),
            **self.serve_options,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._run_ticker(), name=f"{self.task_prefix}-ticker")
        return self

    async def stop(self) -> None:
        """Close every connection (code 1001) and stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self._set_silent(False)
        server.close()
        await server.wait_closed()
        self._unbind_loop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def _frame_logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """The logger ``websockets`` logs frames to (URL queries redacted); an API whose frames
        carry secrets returns one that masks them too."""
        return RedactingLogger("deriv_runtime.mock.websockets")

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"ws://{self.host}:{self._port}"

    # -- observability ------------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Live (open) connections."""
        return len(self._connections)

    def sessions(self) -> list[S]:
        """The API's session of every live connection, oldest first."""
        return list(self._sessions.values())

    # -- fault injection ----------------------------------------------------------------------

    @property
    def silent(self) -> bool:
        """Stop answering: reading is paused on every connection, so requests and even WebSocket
        pings go unanswered (a client keepalive sees a dead peer); stream messages are not sent.
        Setting it back to False resumes and answers what was queued."""
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._apply(lambda: self._set_silent(bool(value)))

    def _set_silent(self, value: bool) -> None:
        self._silent = value
        for conn in list(self._connections.values()):
            transport = conn.ws.transport
            if transport.is_closing():
                continue
            if value:
                transport.pause_reading()
            else:
                transport.resume_reading()
        if self._speaking is not None:
            if value:
                self._speaking.clear()
            else:
                self._speaking.set()

    async def _speaking_wait(self) -> None:
        if self._speaking is not None:
            await self._speaking.wait()

    def drop_after(
        self, n: int | None, *, mode: DropMode = "abort", code: int = 1011, new_connections: bool = True
    ) -> None:
        """Drop each connection after it has sent ``n`` more messages (``None``: stop dropping).

        ``mode="abort"`` closes the TCP connection without a close frame; ``"close"`` closes with
        ``code`` (1011 by default). Applies to live connections and, unless ``new_connections`` is
        False, to each new one (``n=0`` then refuses service right after the handshake).
        """

        def apply() -> None:
            self._drop_new = (n, mode, code) if n is not None and new_connections else None
            for conn in list(self._connections.values()):
                conn.drop_budget, conn.drop_mode, conn.drop_code = n, mode, code
                if n is not None and n <= 0:
                    self._spawn(conn.drop(mode, code))

        self._apply(apply)

    def drop_after_seconds(
        self, seconds: float | None, *, mode: DropMode = "abort", code: int = 1011
    ) -> None:
        """Drop each connection ``seconds`` after it opened (``None``: stop): live ones (at once if
        they are older) and every new one, so a client that reconnects is dropped again and again.
        ``mode`` and ``code`` as in :meth:`drop_after`."""
        if seconds is not None and seconds < 0:
            raise ValueError("seconds must not be negative")

        def apply() -> None:
            self._drop_age = None if seconds is None else (seconds, mode, code)
            for conn in list(self._connections.values()):
                conn.drop_at_age(self._drop_age)

        self._apply(apply)

    def fail_call(
        self, code: str, call: str | None = None, *, count: int | None = 1, message: str | None = None
    ) -> object:
        """Answer the next ``count`` requests to ``call`` (``None``: any; ``count=None``: until
        :meth:`clear_faults`) with the API's error ``code``, before any other check."""
        raise NotImplementedError(f"{type(self).__name__} cannot force API errors")

    def clear_faults(self) -> None:
        """Forget every forced API error (each API says what else it forgets)."""

    def record_to(self, journal: Journal | str | Path | None) -> Journal | None:
        """Journal what the server receives (see the module docstring): into ``journal``, or a new
        :class:`~.record.Journal` writing the JSON Lines file ``journal`` names; ``None``: stop.
        The result is the journal (close it when done: :meth:`~.record.Journal.close`)."""
        made = journal if journal is None or isinstance(journal, Journal) else Journal(journal)
        self._apply(lambda: setattr(self, "journal", made))
        return made

    def drop_all(self, *, mode: DropMode = "abort", code: int = 1011) -> Action[int]:
        """Drop every live connection now; the result is how many."""

        async def run() -> int:
            conns = list(self._connections.values())
            await asyncio.gather(*(c.drop(mode, code) for c in conns), return_exceptions=True)
            return len(conns)

        return self._schedule(run)

    def drop_connection(self, number: int, *, mode: DropMode = "abort", code: int = 1011) -> Action[bool]:
        """Drop the live connection ``number`` (as :meth:`drop_all`); the result: whether it was live."""

        async def run() -> bool:
            conn = self._connections.get(number)
            if conn is not None:
                await conn.drop(mode, code)
            return conn is not None

        return self._schedule(run)

    def send_garbage(self, kinds: Iterable[GarbageKind] = ("text", "binary", "array")) -> Action[int]:
        """Send, on every live connection, a non-JSON text frame, a binary frame and JSON that is
        not an object (or the ``kinds`` chosen). The result is the number of connections."""
        chosen = list(kinds)

        async def run() -> int:
            conns = list(self._connections.values())
            for conn in conns:
                self._note("fault", fault="garbage", connection=conn.number, kinds=chosen)
                for kind in chosen:
                    conn.send(GARBAGE[kind])
            return len(conns)

        return self._schedule(run)

    def _next_garbage(self) -> str | bytes:
        return next(self._garbage)

    # -- clock --------------------------------------------------------------------------------

    async def _run_ticker(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            if not self.tick_interval or self.tick_interval <= 0:  # manual stepping only
                await asyncio.sleep(0.05)
                next_at = loop.time()
                continue
            interval = max(0.001, float(self.tick_interval))
            next_at += interval
            now = loop.time()
            if next_at < now:  # fell behind (a stall): do not burst to catch up
                next_at = now + interval
            await asyncio.sleep(next_at - now)
            try:
                self.api.tick()
            except Exception:
                log.exception("mock: the ticker failed")

    def step(self, n: int = 1) -> Action[list[Any]]:
        """Advance the clock by ``n`` ticks now (as on a timer tick). With ``tick_interval=None``
        this is the only clock: fully deterministic tests."""

        async def run() -> list[Any]:
            ticks: list[Any] = []
            for _ in range(n):
                ticks.extend(self.api.tick())
            return ticks

        return self._schedule(run)

    # -- connections --------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.paths.append(request.path)
        if self.refuse_handshake or self.refuse_next > 0:
            if not self.refuse_handshake:
                self.refuse_next -= 1
            log.info("mock: refusing a handshake on %s (refuse_handshake)", redact_path(request.path))
            self._note("refused", path=self._journal_path(request.path), status=self.refuse_status)
            return connection.respond(self.refuse_status, "Service unavailable (mock: refuse_handshake)\n")
        response = self.api.handshake(connection, request)
        if response is not None:
            self._note("refused", path=self._journal_path(request.path), status=response.status_code)
        return response

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """Keep a received JSON object in :attr:`requests` (as it is; an API whose requests carry
        secrets overrides this to keep a redacted copy); the result is what was kept."""
        self.requests.append(message)
        return message

    def _journal_path(self, path: str) -> str:
        """A request target as journaled: secrets in its query redacted."""
        return redact_query(path)

    def _note(self, kind: str, **fields: Any) -> None:
        """Add an entry to :attr:`journal`, if there is one."""
        journal = self.journal
        if journal is not None:
            journal.add(kind, **fields)

    def _on_frame(self, link: WsConnection, session: S, frame: str | bytes) -> None:
        api = self.api
        if isinstance(frame, bytes):
            problem = BINARY_FRAME
        else:
            try:
                data = orjson.loads(frame)
            except orjson.JSONDecodeError:
                problem = NOT_JSON
            else:
                if isinstance(data, dict):
                    kept = self._record(data)
                    method = api.receive(session, data)
                    log.debug("%r <- %s", link, method or "<unrecognised>")
                    self._note("request", connection=link.number, call=method, message=kept)
                    delay = self.delay_calls.get(method, self.delay) if method is not None else self.delay
                    link.later(delay, lambda: api.handle(session, method, data))
                    return
                problem = NOT_AN_OBJECT
        self._note("invalid", connection=link.number, problem=problem, size=len(frame))
        link.later(self.delay, lambda: api.reject(session, problem))

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        link = WsConnection(self, ws, next(self._numbers), path)
        session = self.api.open(link)
        self._connections[link.number] = link
        self._sessions[link.number] = session
        self.total_connections += 1
        if self._drop_new is not None:
            link.drop_budget, link.drop_mode, link.drop_code = self._drop_new
        if self._silent:
            ws.transport.pause_reading()
        log.info("%r: connected", link)
        self._note("connect", connection=link.number, path=self._journal_path(path))
        link.drop_at_age(self._drop_age)
        writer = asyncio.create_task(link.writer(), name=f"{self.task_prefix}-writer-{link.number}")
        try:
            if link.drop_budget is not None and link.drop_budget <= 0:
                await link.drop(link.drop_mode, link.drop_code)
                return
            async for frame in ws:
                if self._silent:
                    await self._speaking_wait()
                self._on_frame(link, session, frame)
        except ConnectionClosed:
            pass
        finally:
            link.close()
            self.api.close(session)
            self._connections.pop(link.number, None)
            self._sessions.pop(link.number, None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await writer
            log.info("%r: disconnected", link)
            self._note("disconnect", connection=link.number, code=ws.close_code)
