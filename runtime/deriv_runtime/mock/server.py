"""The mock Deriv WebSocket server: protocol, connections, subscriptions and fault injection.

One :class:`MockServer` serves one generated package (``deriv_options``) on 127.0.0.1. It keeps
one account (shared by every connection, so it survives reconnects) and, per connection, the
subscriptions and proposals opened on it. A single ticker task drives the market, the streams and
contract settlement.

Fault knobs are plain attributes and methods, usable while the server runs, from its own event
loop or from any other thread (e.g. tests using :meth:`MockServer.run_in_thread`): settings apply
to existing and new connections at once; actions (:meth:`~MockServer.drop_all`,
:meth:`~MockServer.send_garbage`, :meth:`~MockServer.answer_unknown_req_id`) are scheduled on the
server's loop immediately and return an :class:`Action` you may ``await`` (from any loop) or wait on
with ``.result()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import importlib
import itertools
import logging
import random
import secrets
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

import jsonschema_rs
import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .._redact import RedactingLogger
from ..calls import CallInfo
from ..schemas import PackageSchemas, load_schemas
from ._fingerprint import fingerprint
from .behaviour import HANDLERS, Subscription, generic
from .market import Market, SymbolSpec, Tick
from .synth import Synthesiser, SynthesisError
from .trading import Account, Contract, MockAPIError, Transaction

__all__ = ["Action", "DropMode", "MockServer", "OtpRecord", "SubscriptionInfo"]

log = logging.getLogger("deriv_runtime.mock")

T = TypeVar("T")
DropMode = Literal["abort", "close"]
GarbageKind = Literal["text", "binary", "array"]

WS_PREFIX = "/trading/v1/options/ws"
GARBAGE: Mapping[str, str | bytes] = {
    "text": "}{ mock garbage: this frame is not JSON",
    "binary": b"\x00\xffmock garbage: a binary frame",
    "array": "[1, 2, 3]",
}
_DROP_REASON = "mock: connection dropped"


class Action(Generic[T]):
    """A fault action already scheduled on the server's loop.

    ``await action`` from any event loop (the server's or another thread's), or ``action.result()``
    from synchronous code (not from the server's own loop thread). Not awaiting it is fine too:
    the action runs regardless.
    """

    def __init__(self, future: concurrent.futures.Future[T], loop_thread: int | None) -> None:
        self._future = future
        self._loop_thread = loop_thread

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self._future).__await__()

    def result(self, timeout: float | None = 10.0) -> T:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("Action.result() would block the server's own loop: await the action instead")
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """A live subscription, as :attr:`MockServer.subscriptions` reports it."""

    id: str
    kind: str
    call: str
    connection: int
    req_id: int | None
    symbol: str | None


@dataclass(slots=True)
class OtpRecord:
    """An OTP the server issued (:meth:`MockServer.issue_otp`), as :attr:`MockServer.otps_issued`
    reports it. The OTP itself is not kept here: ``fingerprint`` tells OTPs apart."""

    fingerprint: str
    #: ``"demo"`` or ``"real"``: the only endpoint (``.../ws/<kind>``) it opens.
    kind: str
    #: The account its connection trades on (``None``: the server's default account).
    account_id: str | None
    #: Epoch seconds.
    issued_at: float
    expires_at: float
    #: When it opened its connection (epoch seconds); ``None`` while unused.
    used_at: float | None = None
    #: Handshakes refused because it was already used, expired or for the other endpoint.
    refusals: int = 0
    _deadline: float = dataclass_field(default=0.0, repr=False)  # time.monotonic()

    @property
    def used(self) -> bool:
        return self.used_at is not None

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._deadline


@dataclass(slots=True)
class _Out:
    data: str | bytes
    stream: bool


def _req_id(request: Mapping[str, Any]) -> int | None:
    value = request.get("req_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _envelope(
    request: Mapping[str, Any], msg_type: str, body: Mapping[str, Any], sub_id: str | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"echo_req": request, "msg_type": msg_type}
    message.update(body)
    req_id = _req_id(request)
    if req_id is not None:
        message["req_id"] = req_id
    if sub_id is not None:
        message["subscription"] = {"id": sub_id}
    return message


def _redact(path: str) -> str:
    """The path without its query (which carries the OTP)."""
    return path.split("?", 1)[0]


def _is_public(path: str) -> bool:
    return urlsplit(path).path.rstrip("/").endswith("/public")


def _endpoint_kind(path: str) -> str | None:
    """``"demo"`` / ``"real"`` for ``.../ws/demo`` / ``.../ws/real``, else ``None``."""
    last = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1]
    return last if last in ("demo", "real") else None


def _derive_calls(schemas: PackageSchemas) -> dict[str, CallInfo]:
    calls = {}
    for name, pair in schemas.calls.items():
        request, response = pair.request, pair.response
        msg_type = (response.get("properties") or {}).get("msg_type") or {}
        calls[name] = CallInfo(
            name=name,
            auth_required=bool(request.get("auth_required")),
            auth_scopes=tuple(request.get("auth_scopes") or ()),
            streams="subscribe" in (request.get("properties") or {}),
            msg_types=tuple(msg_type.get("enum") or (name,)),
        )
    return calls


class Connection:
    """One client connection: its subscriptions, proposals, outgoing queue and fault state."""

    def __init__(
        self, server: MockServer, ws: ServerConnection, number: int, path: str, account: Account
    ) -> None:
        self.server = server
        self.ws = ws
        self.number = number
        self.path = path
        #: The account this connection trades on (the one its OTP was issued for).
        self.account = account
        self.authorised = not _is_public(path)
        self.subscriptions: dict[str, Subscription] = {}
        self._keys: dict[str, str] = {}
        self.proposals: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.queue: asyncio.Queue[_Out] = asyncio.Queue(maxsize=server.max_queue)
        self.drop_budget: int | None = None
        self.drop_mode: DropMode = "abort"
        self.drop_code = 1011
        self.sent = 0
        self.max_req_id = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def __repr__(self) -> str:
        return f"<mock connection #{self.number} {_redact(self.path)}>"

    # -- sending ------------------------------------------------------------------------------

    def _enqueue(self, message: Mapping[str, Any], *, schema_call: str | None, stream: bool) -> None:
        if self.closed or (stream and self.server._silent):
            return
        if schema_call is not None and self.server.check_responses and "error" not in message:
            self.server._check_response(schema_call, message)
        self._put(_Out(orjson.dumps(message).decode(), stream))

    def _put(self, out: _Out) -> None:
        try:
            self.queue.put_nowait(out)
        except asyncio.QueueFull:
            self.server.dropped_messages += 1
            log.warning("%r: outgoing queue full (client not reading?); message dropped", self)

    def answer(
        self,
        request: dict[str, Any],
        call: str,
        body: Mapping[str, Any],
        *,
        msg_type: str | None = None,
        subscription: Subscription | None = None,
    ) -> None:
        """Answer ``request``; with ``subscription``, this is its first message and starts it."""
        if msg_type is None:
            info = self.server.calls.get(call)
            msg_type = info.msg_types[0] if info is not None and info.msg_types else call
        sub_id = None
        if subscription is not None:
            subscription.started = True
            sub_id = subscription.id
        self._enqueue(_envelope(request, msg_type, body, sub_id), schema_call=call, stream=False)

    def push(self, sub: Subscription, body: Mapping[str, Any], *, msg_type: str | None = None) -> None:
        """A stream message of ``sub`` (dropped if it has ended or not started)."""
        if not sub.started or self.subscriptions.get(sub.id) is not sub:
            return
        message = _envelope(sub.request, msg_type or sub.msg_type, body, sub.id)
        self._enqueue(message, schema_call=sub.schema_call, stream=True)

    def error(self, request: Mapping[str, Any] | None, call: str | None, exc: MockAPIError) -> None:
        echo = dict(request) if request is not None else {}
        message: dict[str, Any] = {"echo_req": echo, "error": exc.as_error(), "msg_type": call or "error"}
        req_id = _req_id(echo)
        if req_id is not None:
            message["req_id"] = req_id
        self._enqueue(message, schema_call=None, stream=False)

    def raw(self, data: str | bytes) -> None:
        self._put(_Out(data, False))

    # -- subscriptions ------------------------------------------------------------------------

    def subscribe(
        self,
        cls: type[Subscription],
        call: str,
        kind: str,
        request: dict[str, Any],
        msg_type: str,
        *,
        key: str,
        **kwargs: Any,
    ) -> Subscription:
        """Register a subscription (not started until :meth:`answer` sends its first message)."""
        if key in self._keys:
            existing = self.subscriptions[self._keys[key]]
            raise MockAPIError(
                "AlreadySubscribed",
                f"You are already subscribed to {existing.what}.",
                {"subscription_id": existing.id},
            )
        sub = cls(self.server.new_id(), call, kind, request, msg_type, key=key, **kwargs)
        self.subscriptions[sub.id] = sub
        self._keys[key] = sub.id
        return sub

    def end(self, sub: Subscription) -> bool:
        if self.subscriptions.get(sub.id) is not sub:
            return False
        del self.subscriptions[sub.id]
        self._keys.pop(sub.key, None)
        if sub.kind == "proposal":
            self.proposals.pop(sub.id, None)
        return True

    def forget(self, sub_id: str) -> bool:
        sub = self.subscriptions.get(sub_id)
        return sub is not None and self.end(sub)

    def forget_kinds(self, kinds: Iterable[str]) -> list[str]:
        wanted = set(kinds)
        ended = [s for s in list(self.subscriptions.values()) if s.kind in wanted]
        return [s.id for s in ended if self.end(s)]

    def remember_proposal(self, proposal_id: str, parameters: dict[str, Any]) -> None:
        self.proposals[proposal_id] = parameters
        self.proposals.move_to_end(proposal_id)
        while len(self.proposals) > 1000:
            self.proposals.popitem(last=False)

    def logout(self) -> None:
        self.authorised = False
        for sub in list(self.subscriptions.values()):
            info = self.server.calls.get(sub.call)
            if info is not None and info.auth_required:
                self.end(sub)

    # -- receiving ----------------------------------------------------------------------------

    def on_frame(self, frame: str | bytes) -> None:
        server = self.server
        if isinstance(frame, bytes):
            self._later_or_now(
                None, None, MockAPIError("BadRequest", "Binary frames are not supported: send JSON text.")
            )
            return
        try:
            data = orjson.loads(frame)
        except orjson.JSONDecodeError:
            self._later_or_now(None, None, MockAPIError("BadRequest", "The request is not valid JSON."))
            return
        if not isinstance(data, dict):
            self._later_or_now(None, None, MockAPIError("BadRequest", "The request must be a JSON object."))
            return
        server.requests.append(data)
        req_id = _req_id(data)
        if req_id is not None:
            self.max_req_id = max(self.max_req_id, req_id)
        call = server.identify(data)
        log.debug("%r <- %s", self, call or "<unrecognised>")
        self._later_or_now(call, data, None)

    def _later_or_now(
        self, call: str | None, request: dict[str, Any] | None, garbage: MockAPIError | None
    ) -> None:
        server = self.server
        delay = server.delay_calls.get(call, server.delay) if call is not None else server.delay
        if delay and delay > 0:
            task = asyncio.get_running_loop().create_task(self._delayed(delay, call, request, garbage))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif garbage is not None:
            self.error(None, None, garbage)
        else:
            self.dispatch(call, request or {})

    async def _delayed(
        self, delay: float, call: str | None, request: dict[str, Any] | None, garbage: MockAPIError | None
    ) -> None:
        await asyncio.sleep(delay)
        if garbage is not None:
            self.error(None, None, garbage)
        else:
            self.dispatch(call, request or {})

    def dispatch(self, call: str | None, request: dict[str, Any]) -> None:
        """Answer one request (validated, authorised, then handled)."""
        if self.closed:
            return
        server = self.server
        if call is None:
            self.error(request, None, MockAPIError("UnrecognisedRequest", "Unrecognised request."))
            return
        details = server.validate_request(call, request)
        if details:
            message = "Input validation failed: " + ", ".join(details)
            self.error(request, call, MockAPIError("InputValidationFailed", message, details))
            return
        if server.calls[call].auth_required and not self.authorised:
            self.error(request, call, MockAPIError("AuthorizationRequired", "Please log in."))
            return
        handler = HANDLERS.get(call, generic) if call in server.calls else generic
        try:
            handler(self, call, request)
        except MockAPIError as exc:
            self.error(request, call, exc)
        except SynthesisError as exc:
            log.error("mock: cannot synthesise a %s response: %s", call, exc)
            self.error(
                request, call, MockAPIError("InternalServerError", f"The mock cannot answer {call}: {exc}")
            )
        except Exception:
            log.exception("mock: the %s handler failed", call)
            self.error(
                request, call, MockAPIError("InternalServerError", "The mock server failed on this request.")
            )

    # -- lifecycle ----------------------------------------------------------------------------

    async def writer(self) -> None:
        server = self.server
        try:
            while True:
                out = await self.queue.get()
                if server._silent:
                    if out.stream:
                        continue
                    await server._speaking_wait()
                await self.ws.send(out.data)
                self.sent += 1
                every = server.garbage_every
                if every and self.sent % every == 0:
                    await self.ws.send(server._next_garbage())
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
        log.info("%r: dropping the connection (%s)", self, mode if mode == "abort" else f"close {code}")
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

    def close(self) -> None:
        self.closed = True
        self.subscriptions.clear()
        self._keys.clear()
        self.proposals.clear()
        for task in list(self.tasks):
            task.cancel()


class MockServer:
    """A schema-driven mock of a Deriv WebSocket API, on a real socket.

    ``package`` is a generated client package (its ``schemas.json`` and ``CALLS``). The server
    listens on ``host``:``port`` (0: any free port), ticks every ``tick_interval`` seconds (``None``:
    only when :meth:`step` is called), and is
    deterministic for a ``seed``. The default (demo) account :attr:`account`, ``loginid``, starts
    with ``balance`` ``currency``; more accounts can be added (:meth:`add_account`), each
    connection trades on one of them.

    Connections to ``.../public`` are unauthenticated (calls that need auth answer
    ``AuthorizationRequired``); any other path is authenticated. With ``require_otp``, those need
    ``?otp=`` with :attr:`otp` (a reusable master OTP; ``None``: none) or an OTP from
    :meth:`issue_otp`, which opens one connection, once, to its endpoint (demo or real), within
    ``otp_ttl`` seconds; else the handshake is refused with HTTP 401. An issued OTP binds its
    connection to its account (without ``require_otp`` too).

    Every outgoing message is checked against its response schema when ``check_responses`` is on;
    problems are logged and collected in :attr:`schema_problems`.
    """

    def __init__(
        self,
        package: str = "deriv_options",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float | None = 1.0,
        seed: int = 0,
        balance: float = 10000.0,
        currency: str = "USD",
        loginid: str = "VRTC90000001",
        otp: str | None = "mock-otp",
        require_otp: bool = False,
        otp_ttl: float = 120.0,
        check_responses: bool = True,
        symbols: Mapping[str, SymbolSpec] | None = None,
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
        self.package = package
        self.schemas = load_schemas(package)
        module = importlib.import_module(package)
        declared = getattr(module, "CALLS", None)
        self.calls: Mapping[str, CallInfo] = dict(declared) if declared else _derive_calls(self.schemas)
        self.host = host
        self.tick_interval = tick_interval
        self.seed = seed
        self.otp = otp
        self.require_otp = require_otp
        #: Seconds an issued OTP stays valid (:meth:`issue_otp`).
        self.otp_ttl = otp_ttl
        self.check_responses = check_responses
        self.ping_interval = ping_interval
        self.close_timeout = close_timeout
        self.max_queue = max_queue
        self.serve_options = dict(serve_options or {})
        self._port = port

        self.market = Market(seed, dict(symbols) if symbols else None)
        self.account = Account(balance=balance, currency=currency, loginid=loginid)
        #: Every account by id (loginid); :attr:`account` is the default one.
        self.accounts: dict[str, Account] = {loginid: self.account}
        self._account_numbers = itertools.count(2)
        self.synthesiser = Synthesiser(random.Random(f"{seed}:synth"), now=self.market.now)  # noqa: S311
        self._ids = random.Random(f"{seed}:ids")  # noqa: S311
        self._otps: dict[str, OtpRecord] = {}
        self._handshake_accounts: weakref.WeakKeyDictionary[ServerConnection, Account] = (
            weakref.WeakKeyDictionary()
        )

        # Fault knobs (plain attributes; read on every use).
        #: Seconds to wait before answering each request.
        self.delay = delay
        #: Per-call delays, overriding :attr:`delay` (``{"buy": 0.5}``).
        self.delay_calls: dict[str, float] = dict(delay_calls or {})
        #: After every n-th message on a connection, also send a garbage frame.
        self.garbage_every = garbage_every
        #: Refuse new connections during the opening handshake (HTTP :attr:`refuse_status`).
        self.refuse_handshake = refuse_handshake
        self.refuse_status = refuse_status
        self._silent = False
        self._drop_new: tuple[int, DropMode, int] | None = None
        self._garbage_cycle = itertools.cycle(("text", "binary", "array"))

        # Observability.
        #: Every JSON object received, in order (from all connections).
        self.requests: list[dict[str, Any]] = []
        #: The request path (with query) of every opening handshake, refused ones included.
        self.paths: list[str] = []
        #: Connections accepted since start.
        self.total_connections = 0
        #: Outgoing messages that did not validate against their response schema.
        self.schema_problems: list[str] = []
        #: Messages dropped because a client's outgoing queue was full.
        self.dropped_messages = 0
        #: Every OTP issued (:meth:`issue_otp`), oldest first; see also :attr:`otps_used`.
        self.otps_issued: list[OtpRecord] = []

        self._connections: dict[int, Connection] = {}
        self._numbers = itertools.count(1)
        self._response_validators: dict[str, Any] = {}
        self._request_validators: dict[str, Any] = {}
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._speaking: asyncio.Event | None = None
        self._ticker: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = f"port {self.port}" if self._server is not None else "stopped"
        return f"<MockServer {self.package} {self.schemas.version} {state}>"

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the mock server is already running")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
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
            logger=RedactingLogger("deriv_runtime.mock.websockets"),
            **self.serve_options,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._run_ticker(), name="deriv-mock-ticker")
        log.info(
            "mock %s (%s) listening on ws://%s:%d", self.package, self.schemas.version, self.host, self._port
        )
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
        self._loop = None
        self._loop_thread = None
        log.info("mock %s stopped", self.package)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self, *, timeout: float = 30.0) -> Iterator[Self]:
        """Run the server on its own event loop in a daemon thread, for sync code and scripts::

        with MockServer(tick_interval=0.05).run_in_thread() as server:
            connect_somehow(server.url)
        """
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=f"deriv-mock-{self.package}", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the mock server did not start in time")
        if failure:
            thread.join(timeout)
            raise failure[0]
        try:
            yield self
        finally:
            try:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout)

    # -- addresses ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"ws://{self.host}:{self._port}"

    @property
    def url(self) -> str:
        """The authenticated (demo) endpoint, with :attr:`otp`: what the OTP REST call would return.

        Without a master OTP (``otp=None``), each read issues a fresh one-time OTP."""
        if self.otp is None:
            return self.issue_otp("demo")
        return f"{self.base_url}{WS_PREFIX}/demo?otp={self.otp}"

    @property
    def real_url(self) -> str:
        if self.otp is None:
            return self.issue_otp("real")
        return f"{self.base_url}{WS_PREFIX}/real?otp={self.otp}"

    @property
    def public_url(self) -> str:
        """The unauthenticated endpoint (public calls only)."""
        return f"{self.base_url}{WS_PREFIX}/public"

    def issue_otp(
        self,
        account: Literal["demo", "real"] = "demo",
        *,
        account_id: str | None = None,
        ttl: float | None = None,
    ) -> str:
        """A WebSocket URL with a fresh OTP: it opens one connection, once, to the ``account``
        endpoint (``.../ws/demo`` or ``.../ws/real``), within ``ttl`` seconds (:attr:`otp_ttl`).

        With ``account_id``, the endpoint is that account's type and the connection trades on it.
        Checked when ``require_otp`` is on; the OTP is recorded in :attr:`otps_issued` by fingerprint.
        """
        kind: str = account
        if account_id is not None:
            target = self.accounts.get(account_id)
            if target is None:
                raise KeyError(f"no account {account_id!r} on this mock server")
            kind = target.account_type
        if kind not in ("demo", "real"):
            raise ValueError(f"account must be 'demo' or 'real', not {kind!r}")
        lifetime = self.otp_ttl if ttl is None else ttl
        otp = secrets.token_urlsafe(24)
        now = time.time()
        record = OtpRecord(
            fingerprint(otp), kind, account_id, now, now + lifetime, _deadline=time.monotonic() + lifetime
        )
        self._prune_otps()
        self._otps[otp] = record
        self.otps_issued.append(record)
        return f"{self.base_url}{WS_PREFIX}/{kind}?otp={otp}"

    @property
    def otps_used(self) -> list[OtpRecord]:
        """The issued OTPs that opened their connection."""
        return [r for r in self.otps_issued if r.used]

    def _prune_otps(self) -> None:
        if len(self._otps) < 256:
            return
        for otp, record in list(self._otps.items()):
            if record.expired:
                del self._otps[otp]

    def add_account(
        self,
        account_type: Literal["demo", "real"] = "demo",
        *,
        currency: str = "USD",
        group: str = "row",
        balance: float | None = None,
        account_id: str | None = None,
    ) -> Account:
        """Open another account (a demo one starts with the default account's starting balance, a
        real one with 0). Its id is ``DOT9000000n`` (demo) or ``ROT9000000n`` (real) unless given."""
        if account_id is None:
            prefix = "DOT" if account_type == "demo" else "ROT"
            while account_id is None or account_id in self.accounts:
                account_id = f"{prefix}{90000000 + next(self._account_numbers)}"
        elif account_id in self.accounts:
            raise ValueError(f"account {account_id!r} already exists")
        if balance is None:
            balance = self.account.starting_balance if account_type == "demo" else 0.0
        created = Account(
            balance=balance, currency=currency, loginid=account_id, account_type=account_type, group=group
        )
        self.accounts[account_id] = created
        return created

    # -- observability ------------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Live (open) connections."""
        return len(self._connections)

    @property
    def subscriptions(self) -> list[SubscriptionInfo]:
        """Every live subscription on every connection."""
        return [
            SubscriptionInfo(sub.id, sub.kind, sub.call, conn.number, _req_id(sub.request), sub.symbol)
            for conn in list(self._connections.values())
            for sub in list(conn.subscriptions.values())
        ]

    @property
    def balance(self) -> float:
        return self.account.balance

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

    def drop_all(self, *, mode: DropMode = "abort", code: int = 1011) -> Action[int]:
        """Drop every live connection now; the result is how many."""

        async def run() -> int:
            conns = list(self._connections.values())
            await asyncio.gather(*(c.drop(mode, code) for c in conns), return_exceptions=True)
            return len(conns)

        return self._schedule(run)

    def send_garbage(self, kinds: Iterable[GarbageKind] = ("text", "binary", "array")) -> Action[int]:
        """Send, on every live connection, a non-JSON text frame, a binary frame and JSON that is
        not an object (or the ``kinds`` chosen). The result is the number of connections."""
        chosen = list(kinds)

        async def run() -> int:
            conns = list(self._connections.values())
            for conn in conns:
                for kind in chosen:
                    conn.raw(GARBAGE[kind])
            return len(conns)

        return self._schedule(run)

    def answer_unknown_req_id(self) -> Action[list[int]]:
        """Send, on every live connection, a well-formed ``ping`` answer whose ``req_id`` no request
        used. The result is the req_ids sent."""

        async def run() -> list[int]:
            sent = []
            for conn in list(self._connections.values()):
                req_id = conn.max_req_id + 1_000_000
                request = {"ping": 1, "req_id": req_id}
                conn._enqueue(
                    _envelope(request, "ping", {"ping": "pong"}, None), schema_call=None, stream=False
                )
                sent.append(req_id)
            return sent

        return self._schedule(run)

    def _next_garbage(self) -> str | bytes:
        return GARBAGE[next(self._garbage_cycle)]

    # -- threading helpers --------------------------------------------------------------------

    def _on_loop_thread(self) -> bool:
        return self._loop_thread == threading.get_ident()

    def _apply(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the server's loop (now, if already there or not running) and wait for it."""
        loop = self._loop
        if loop is None or self._on_loop_thread() or not loop.is_running():
            fn()
            return

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), loop).result(10)

    def _schedule(self, factory: Callable[[], Awaitable[T]]) -> Action[T]:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the mock server is not running")

        async def run() -> T:
            return await factory()

        return Action(asyncio.run_coroutine_threadsafe(run(), loop), self._loop_thread)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # -- protocol -----------------------------------------------------------------------------

    def new_id(self) -> str:
        """A subscription/proposal id: uuid-like, deterministic for the seed."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def identify(self, request: Mapping[str, Any]) -> str | None:
        """The call a request is for: its first key that names a call."""
        for key in request:
            if key in self.calls and key in self.schemas.calls:
                return key
        return None

    def validate_request(self, call: str, request: Mapping[str, Any]) -> dict[str, str]:
        """``{field path: message}`` for each way ``request`` breaks its schema (empty: valid)."""
        validator = self._request_validators.get(call)
        if validator is None:
            validator = jsonschema_rs.validator_for(dict(self.schemas.calls[call].request))
            self._request_validators[call] = validator
        details: dict[str, str] = {}
        for error in validator.iter_errors(request):
            path = [str(p) for p in error.instance_path]
            kind: Any = error.kind
            kind_name = type(kind).__name__
            if kind_name == "Required":
                fields = [".".join([*path, str(kind.property)])]
            elif kind_name == "AdditionalProperties":
                fields = [".".join([*path, str(name)]) for name in kind.unexpected]
            else:
                fields = [".".join(path) or "<request>"]
            for field in fields:
                details.setdefault(field, error.message)
        return details

    def _check_response(self, call: str, message: Mapping[str, Any]) -> None:
        validator = self._response_validators.get(call)
        if validator is None:
            pair = self.schemas.calls.get(call)
            if pair is None:
                return
            validator = jsonschema_rs.validator_for(dict(pair.response))
            self._response_validators[call] = validator
        for error in validator.iter_errors(message):
            where = ".".join(str(p) for p in error.instance_path) or "<message>"
            problem = f"{call} ({message.get('msg_type')}): {where}: {error.message}"
            self.schema_problems.append(problem)
            log.warning("mock response does not match its schema: %s", problem)

    def synthesise_body(self, call: str, msg_type: str, sub_id: str | None) -> dict[str, Any]:
        """A schema-valid response of ``call``, without its envelope (echo_req, req_id, ...)."""
        overrides: dict[str, Any] = {"echo_req": {}, "msg_type": msg_type}
        if sub_id is not None:
            overrides["subscription"] = {"id": sub_id}
        message = self.synthesiser.generate(
            self.schemas.calls[call].response, overrides=overrides, omit=("req_id", "subscription", "error")
        )
        if not isinstance(message, dict):
            raise SynthesisError(f"{call}: the response schema does not describe an object")
        for key in ("echo_req", "msg_type", "req_id", "subscription"):
            message.pop(key, None)
        return message

    def notify_transaction(self, txn: Transaction, account: Account | None = None) -> None:
        """Tell the streams of every connection on ``account`` (default: :attr:`account`)."""
        target = self.account if account is None else account
        for conn in list(self._connections.values()):
            if conn.account is not target:
                continue
            for sub in list(conn.subscriptions.values()):
                sub.on_transaction(conn, txn)

    def notify_balance(self, account: Account | None = None) -> None:
        """The balance of ``account`` changed without a transaction (e.g. a demo reset)."""
        target = self.account if account is None else account
        for conn in list(self._connections.values()):
            if conn.account is not target:
                continue
            for sub in list(conn.subscriptions.values()):
                sub.on_balance(conn)

    def notify_contract_closed(self, contract: Contract) -> None:
        for conn in list(self._connections.values()):
            for sub in list(conn.subscriptions.values()):
                sub.on_contract_closed(conn, contract)

    # -- ticker -------------------------------------------------------------------------------

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
                self._tick()
            except Exception:
                log.exception("mock: the ticker failed")

    def step(self, n: int = 1) -> Action[list[Tick]]:
        """Advance the market by ``n`` ticks now (streams, proposals, contracts move as on a timer
        tick). With ``tick_interval=None`` this is the only clock: fully deterministic tests."""

        async def run() -> list[Tick]:
            ticks: list[Tick] = []
            for _ in range(n):
                ticks.extend(self._tick())
            return ticks

        return self._schedule(run)

    def _tick(self) -> list[Tick]:
        """One tick of the market (the ticker calls this every ``tick_interval``)."""
        conns = list(self._connections.values())
        symbols = {s.symbol for c in conns for s in c.subscriptions.values() if s.symbol is not None}
        accounts = list(self.accounts.values())
        symbols |= {c.symbol for a in accounts for c in a.open_contracts()}
        ticks: list[Tick] = []
        if symbols:
            epoch = self.market.next_epoch()
            ticks = self.market.advance(symbols, epoch)
        else:
            epoch = self.market.now()
        for tick in ticks:
            settled = [(account, txn) for account in accounts for txn in account.on_tick(tick)]
            for conn in conns:
                for sub in list(conn.subscriptions.values()):
                    if sub.symbol == tick.symbol:
                        sub.on_tick(conn, tick)
            for account, txn in settled:
                self.notify_transaction(txn, account)
        for conn in conns:
            for sub in list(conn.subscriptions.values()):
                sub.on_clock(conn, epoch)
        return ticks

    # -- connections --------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.paths.append(request.path)
        if self.refuse_handshake:
            log.info("mock: refusing a handshake on %s (refuse_handshake)", _redact(request.path))
            return connection.respond(self.refuse_status, "Service unavailable (mock: refuse_handshake)\n")
        if _is_public(request.path):
            return None
        otp = (parse_qs(urlsplit(request.path).query).get("otp") or [""])[0]
        record = self._otps.get(otp) if otp else None
        if record is not None:
            kind = _endpoint_kind(request.path)
            problem = None
            if record.used:
                problem = "this OTP was already used"
            elif record.expired:
                problem = "this OTP has expired"
            elif kind is not None and kind != record.kind:
                problem = f"this OTP is for the {record.kind} endpoint"
            if problem is None:
                record.used_at = time.time()
                account = self.accounts.get(record.account_id) if record.account_id else None
                if account is not None:
                    self._handshake_accounts[connection] = account
                return None
            record.refusals += 1
            if self.require_otp:
                return self._refuse(connection, request, problem)
            return None
        if self.require_otp and (self.otp is None or not hmac.compare_digest(otp, self.otp)):
            return self._refuse(connection, request, "a valid OTP is required" if otp else "no OTP")
        return None

    def _refuse(self, connection: ServerConnection, request: Request, problem: str) -> Response:
        """HTTP 401 in the API's error envelope (the ``Error`` schema of the WebSocket endpoints)."""
        log.info("mock: refusing a handshake on %s: %s", _redact(request.path), problem)
        body = {
            "errors": [
                {"status": 401, "code": "Unauthorized", "message": f"Invalid or expired OTP: {problem}"}
            ],
            "meta": {"endpoint": _redact(request.path), "method": "GET", "timing": 0},
        }
        response = connection.respond(401, orjson.dumps(body).decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    def _account_for(self, ws: ServerConnection, path: str) -> Account:
        account = self._handshake_accounts.pop(ws, None)
        if account is not None:
            return account
        if _endpoint_kind(path) == "real":
            for candidate in self.accounts.values():
                if candidate.account_type == "real":
                    return candidate
        return self.account

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else "/"
        conn = Connection(self, ws, next(self._numbers), path, self._account_for(ws, path))
        self._connections[conn.number] = conn
        self.total_connections += 1
        if self._drop_new is not None:
            conn.drop_budget, conn.drop_mode, conn.drop_code = self._drop_new
        if self._silent:
            ws.transport.pause_reading()
        log.info("%r: connected", conn)
        writer = asyncio.create_task(conn.writer(), name=f"deriv-mock-writer-{conn.number}")
        try:
            if conn.drop_budget is not None and conn.drop_budget <= 0:
                await conn.drop(conn.drop_mode, conn.drop_code)
                return
            async for frame in ws:
                if self._silent:
                    await self._speaking_wait()
                conn.on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            conn.close()
            self._connections.pop(conn.number, None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await writer
            log.info("%r: disconnected", conn)
