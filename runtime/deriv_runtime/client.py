"""Base class of the generated WebSocket clients: validate, send, check for errors, parse.

Generated methods only assemble a payload from their keyword arguments and call
:meth:`BaseClient._call` or :meth:`BaseClient._stream` with the call's models. Building requests and
reading answers is :mod:`deriv_runtime.messages`; streams are :mod:`deriv_runtime.streams` (both
re-exported here, where generated code imports them from).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from .calls import CallInfo
from .messages import build_request, model_validator, parse_response, raise_for_error
from .streams import Stream, StreamBase
from .transport import JsonObject, Transport

__all__ = [
    "BaseClient",
    "SessionAuth",
    "Stream",
    "StreamBase",
    "TransportClient",
    "UrlSource",
    "build_request",
    "model_validator",
    "parse_response",
    "raise_for_error",
]

UrlSource = str | Callable[[], str | Awaitable[str]]
#: ``call(payload) -> answer``: one request on a connection (the transport's ``on_connect`` gives one).
SessionCall = Callable[[JsonObject], Awaitable[JsonObject]]

R = TypeVar("R", bound=BaseModel)


C = TypeVar("C", bound="BaseClient")
T = TypeVar("T", bound="TransportClient")


class _Client(Protocol):
    """What :class:`_Connect` needs of a client class: built on a transport, closed at the end."""

    def __init__(self, transport: Transport, *, timeout: float | None, strict: bool) -> None: ...

    async def close(self) -> None: ...


K = TypeVar("K", bound=_Client)


class SessionAuth(Protocol):
    """What :meth:`BaseClient.connect` needs of ``auth=`` (the Deriv v3
    :class:`~deriv_runtime.auth.legacy.LegacyAuth`): a hook that authorizes every new connection,
    and a look at each call before it is sent and at its answer."""

    async def on_connect(self, call: SessionCall) -> None:
        """Authorize a new connection through ``call`` before anything else is sent on it."""
        ...

    def attach(self, call: SessionCall, private_streams: Callable[[], int]) -> None:
        """Bind to the client: ``call`` sends on its live connection; ``private_streams`` counts
        its open streams that need authorization."""
        ...

    async def detach(self) -> None:
        """The client closed."""
        ...

    def before(self, info: CallInfo, body: Mapping[str, Any]) -> None:
        """Raise to refuse ``body`` before it is sent (a scope the token lacks)."""
        ...

    def after(self, info: CallInfo, body: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """See each answer of a call (an ``authorize`` or ``logout`` made through the client)."""
        ...


class _Connect(Generic[K]):
    """``async with Client.connect(url) as client:`` - connects, yields the client, closes it."""

    def __init__(
        self,
        cls: type[K],
        url: UrlSource,
        timeout: float | None,
        strict: bool,
        options: Any,
        on_close: Callable[[], Awaitable[None]] | None = None,
        setup: Callable[[K], None] | None = None,
    ) -> None:
        self._cls, self._url, self._timeout, self._strict, self._options = cls, url, timeout, strict, options
        self._on_close = on_close
        self._setup = setup
        self._client: K | None = None

    async def __aenter__(self) -> K:
        options = dict(self._options)
        pool = options.pop("pool", None)
        transport: Any
        if pool is None:
            from .ws import WebSocketTransport

            transport = WebSocketTransport(self._url, **options)
        else:  # pool=N: N connections behind one transport (deriv_runtime.pool)
            from .pool import PooledTransport

            transport = PooledTransport(self._url, connections=pool, **options)
        try:
            await transport.connect()
        except BaseException:
            if self._on_close is not None:
                await self._on_close()
            raise
        client = self._cls(transport, timeout=self._timeout, strict=self._strict)
        if self._setup is not None:
            try:
                self._setup(client)
            except BaseException:  # the auth serves another client already: do not leave this one open
                await client.close()
                if self._on_close is not None:
                    await self._on_close()
                raise
        self._client = client
        return client

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._client is not None:
                await self._client.close()
        finally:
            if self._on_close is not None:
                await self._on_close()


class _Detachable(Protocol):
    async def detach(self) -> None:
        """The client closed: let go of it."""
        ...


class TransportClient:
    """What every generated client is: a transport, a default deadline, a strict flag; closing the
    client closes the transport. :class:`BaseClient` (Deriv) and
    :class:`~deriv_runtime.rpc.BaseRpcClient` (JSON-RPC) add the calls."""

    #: The client's ``auth=`` (each subclass says which kind), attached to its transport by
    #: ``connect``; let go of when the client closes.
    auth: _Detachable | None = None

    def __init__(self, transport: Transport, *, timeout: float | None = 30.0, strict: bool = False) -> None:
        self._transport = transport
        self._timeout = timeout
        self._strict = strict

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transport={type(self._transport).__name__})"

    @property
    def transport(self) -> Transport:
        return self._transport

    def _sender(self) -> Callable[[JsonObject], Awaitable[JsonObject]]:
        """A request on this client's transport, with its default deadline: what ``auth`` sends
        through once attached."""
        transport, timeout = self._transport, self._timeout

        async def call(payload: JsonObject) -> JsonObject:
            return await transport.request(payload, timeout=timeout)

        return call

    async def close(self) -> None:
        """Close the transport (streams end, waiting calls fail with ``TransportClosed``), after
        letting go of ``auth`` if there is one."""
        auth = self.auth
        if auth is not None:
            await auth.detach()
        close = getattr(self._transport, "close", None)
        if close is not None:
            await close()

    async def __aenter__(self: T) -> T:
        connect = getattr(self._transport, "connect", None)
        if connect is not None:
            await connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class BaseClient(TransportClient):
    """Holds a :class:`~deriv_runtime.transport.Transport`; generated clients add one method per call.

    ``strict=True`` also checks every answer against the call's JSON schema (a contract check for
    tests and CI): a violation raises :class:`~deriv_runtime.errors.ResponseError`.
    """

    #: The generated package whose ``schemas.json`` strict mode validates against.
    _schema_package: str = ""

    #: How this client authorizes its connections (``connect(..., auth=)``), if at all.
    auth: SessionAuth | None = None

    @classmethod
    def connect(
        cls: type[C],
        url: UrlSource,
        *,
        timeout: float | None = 30.0,
        strict: bool = False,
        on_close: Callable[[], Awaitable[None]] | None = None,
        auth: SessionAuth | None = None,
        **transport_options: Any,
    ) -> _Connect[C]:
        """Connect over a WebSocket: ``async with Client.connect(url) as client: ...``.

        ``url`` may be a callable returning the URL (called on every connect and reconnect).
        ``transport_options`` go to :class:`~deriv_runtime.ws.WebSocketTransport`; with
        ``pool=N`` (and ``max_streams_per_connection=``) the client runs over N connections
        (:class:`~deriv_runtime.pool.PooledTransport`: streams spread under a per-connection cap,
        each resumed on its own connection after a drop; the same stream API).

        ``auth`` (Deriv v3: a :class:`~deriv_runtime.auth.legacy.LegacyAuth`) authorizes every
        connection, the first and each one after a drop, before anything else is sent on it (streams
        come back after it: the public ones, then those whose call needs authorization). Each call
        is shown to it first (``auth.before``: a scope the token lacks is refused locally) and so is
        its answer (``auth.after``). Without ``auth`` (the Options API, authorized by its OTP URL)
        every stream comes back as soon as the connection is open.
        """
        if auth is None:
            return _Connect(cls, url, timeout, strict, transport_options, on_close)
        if "on_connect" in transport_options:
            raise ValueError("pass auth= or on_connect=, not both")
        transport_options["on_connect"] = auth.on_connect
        return _Connect(cls, url, timeout, strict, transport_options, on_close, setup=lambda c: c._bind(auth))

    def _bind(self, auth: SessionAuth) -> None:
        """Attach ``auth`` to this client's transport (done by :meth:`connect`)."""
        protocol = getattr(self._transport, "protocol", None)

        def private_streams() -> int:
            streams = getattr(protocol, "streams", None) or {}
            return sum(1 for state in streams.values() if getattr(state, "private", False))

        auth.attach(self._sender(), private_streams)
        self.auth = auth

    def _check(self, info: CallInfo, message: Mapping[str, Any]) -> None:
        if self._strict:
            from .contract import check_response

            check_response(self._schema_package, info, message)

    async def _call(
        self,
        info: CallInfo,
        request_type: type[BaseModel],
        payload: Mapping[str, Any],
        response_type: type[R],
        timeout: float | None,
    ) -> R:
        body = build_request(info, request_type, payload)
        auth = self.auth
        if auth is not None:
            auth.before(info, body)
        answer = await self._transport.request(
            body, timeout=self._timeout if timeout is None else timeout, info=info
        )
        if auth is not None:
            auth.after(info, body, answer)
        if self._strict:
            self._check(info, answer)
        return parse_response(info, response_type, answer, self._strict)

    def _stream(
        self,
        info: CallInfo,
        request_type: type[BaseModel],
        payload: Mapping[str, Any],
        response_type: type[R],
        types_by_msg_type: Mapping[str, type[R]] | None = None,
    ) -> Stream[R]:
        body = build_request(info, request_type, {**payload, "subscribe": 1})
        if self.auth is not None:
            self.auth.before(info, body)
        if info.auth_required:  # re-opened after a reconnect only once the connection is authorized
            private = getattr(getattr(self._transport, "protocol", None), "private_calls", None)
            if private is not None:
                private.add(info.name)
        check = self._check if self._strict else None
        return Stream(
            self._transport, info, body, response_type, types_by_msg_type or {}, check, self._timeout
        )
