"""Base class of the generated WebSocket clients: validate, send, check for errors, parse.

Generated methods only assemble a payload from their keyword arguments and call
:meth:`BaseClient._call` or :meth:`BaseClient._stream` with the call's models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .calls import CallInfo
from .errors import APIError, DerivError, RequestValidationError, ResponseError, problems
from .protocol import frame_msg_type
from .stream_queue import StreamQueue
from .transport import JsonObject, StreamItem, Transport

UrlSource = str | Callable[[], str | Awaitable[str]]
#: ``call(payload) -> answer``: one request on a connection (the transport's ``on_connect`` gives one).
SessionCall = Callable[[JsonObject], Awaitable[JsonObject]]

R = TypeVar("R", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


def build_request(info: CallInfo, request_type: type[BaseModel], payload: Mapping[str, Any]) -> JsonObject:
    """Validate ``payload`` against the request model and return the JSON object to send."""
    validate = _VALIDATORS.get(request_type)
    if validate is None:
        validate = _VALIDATORS[request_type] = model_validator(request_type)
    try:
        model: BaseModel = validate(payload)
    except ValidationError as exc:  # the errors without their inputs (a request may hold secrets)
        raise RequestValidationError(info.name, exc.errors(include_input=False, include_url=False)) from None
    # The payload is keyed by wire names and was checked strictly (no coercion), so its values go out
    # as they are; only nested models need serialising. Anything more unusual: the model's own dump.
    body: JsonObject = {}
    for key, value in payload.items():
        if isinstance(value, BaseModel):  # model_dump(mode="json", by_alias=True, exclude_unset=True)
            body[key] = value.__pydantic_serializer__.to_python(
                value, mode="json", by_alias=True, exclude_unset=True
            )
        elif isinstance(value, list) and any(isinstance(item, BaseModel) for item in value):
            return model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        else:
            body[key] = value
    return body


#: Core validators of the request and answer models calls use, looked up once per model: the same
#: validation as ``model_validate`` without its wrappers (a call's hot path).
_VALIDATORS: dict[type[BaseModel], Callable[[Any], Any]] = {}


def model_validator(model: type[M]) -> Callable[[Any], M]:
    """``model``'s core validator (built now if the model defers it). Calling it directly skips the
    ``model_validate`` wrapper: the hot path of every stream message."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    validate: Callable[[Any], M] = model.__pydantic_validator__.validate_python
    return validate


def _json_validator(model: type[M]) -> Callable[[bytes], M]:
    """``model``'s core validator reading JSON text (built now if the model defers it): one pass of
    pydantic's parser instead of decoding, then validating."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    validate: Callable[[bytes], M] = model.__pydantic_validator__.validate_json
    return validate


def raise_for_error(info: CallInfo, message: Mapping[str, Any]) -> None:
    """Raise :class:`APIError` for the server's error object. An ``error`` that is present but not an
    object (a string, a list, ``null``) is not a success either: :class:`ResponseError`, with the
    message kept in ``.raw``."""
    if "error" not in message:
        return
    error = message["error"]
    if not isinstance(error, Mapping):
        raise ResponseError(
            f"{info.name}: the answer carries an error that is not an object "
            f"({type(error).__name__}); the raw message is in .raw",
            raw=message,
        )
    raise APIError(
        info.name,
        str(error.get("code", "UnknownError")),
        str(error.get("message", "")),
        error.get("details") if isinstance(error.get("details"), Mapping) else None,
        message.get("echo_req") if isinstance(message.get("echo_req"), Mapping) else None,
    )


def parse_response(
    info: CallInfo, response_type: type[R], message: Mapping[str, Any], strict: bool = False
) -> R:
    """``message`` as ``response_type``. One that drifts from its schema is read field by field, the
    drift reported on the result (:mod:`deriv_runtime.drift`); ``strict``: refused
    (:class:`~deriv_runtime.drift.DriftError`, every violation with its path)."""
    if "error" in message:
        raise_for_error(info, message)
    validate = _VALIDATORS.get(response_type)
    if validate is None:
        validate = _VALIDATORS[response_type] = model_validator(response_type)
    try:
        answer: R = validate(message)
        return answer
    except ValidationError as exc:
        what = f"{info.name}: cannot read the response"
        from .drift import read_drifted  # only for an answer that drifted

        read: R = read_drifted(
            response_type, message, exc, call=info.name, what=what, raw=message, strict=strict
        )
        return read


#: Field paths and broken rules of a ``ValidationError``, without the values.
_problems = problems


class StreamBase:
    """What every typed stream shares: opening the transport's subscription within a deadline,
    refusing at ``async with`` when the first answer is an error, ``gaps``/``dropped``, and ending
    the subscription when the block is left. Subclasses read each message.

    A subclass that can read frames itself (:meth:`_reads_frames`) gets the running stream's frames
    undecoded from a transport that offers them (:class:`~deriv_runtime.stream_queue.StreamQueue`
    ``raw``): it validates each one straight from its bytes into its type, checks that the message is
    its own, and gives anything else to :meth:`_undecoded`."""

    #: What the stream is, for messages (``"ticks"``, ``"public/subscribe"``).
    _what = "stream"

    def __init__(
        self, transport: Transport, payload: JsonObject, timeout: float | None, info: CallInfo | None = None
    ) -> None:
        self._transport = transport
        self._payload = payload
        self._timeout = timeout
        self._subscribe_info = info
        self._cm: AbstractAsyncContextManager[AsyncIterator[StreamItem]] | None = None
        self._messages: AsyncIterator[StreamItem] | None = None
        self._pop: Callable[[], StreamItem | None] | None = None
        self._reread: Callable[[bytes], JsonObject | None] | None = None
        #: Request ids of the stream (its frames carry one of them), when frames come undecoded.
        self._req_ids: set[int] = set()

    @property
    def gaps(self) -> int:
        """Times this stream was interrupted by a lost connection and resumed (0 if never)."""
        return int(getattr(self._messages, "gaps", 0))

    @property
    def dropped(self) -> int:
        """Messages dropped because the consumer fell behind (see the transport's overflow policy)."""
        return int(getattr(self._messages, "dropped", 0))

    def _refusal(self, first: Mapping[str, Any]) -> BaseException:
        """The exception for a first answer that carries an error."""
        raise NotImplementedError

    def _reads_frames(self) -> bool:
        """The stream validates frames straight from their bytes (then it reads ``bytes`` messages)."""
        return False

    async def __aenter__(self: SB) -> SB:
        if self._cm is not None:
            raise RuntimeError(f"{self._what} stream is already open; a stream is used once")
        self._cm = self._transport.subscribe(self._payload, info=self._subscribe_info, timeout=self._timeout)
        queue = self._messages = await self._cm.__aenter__()
        self._pop = getattr(queue, "pop_nowait", None)
        peek = getattr(queue, "peek", None)
        first = peek() if peek is not None else None
        if type(first) is dict and "error" in first:  # refused at once (a bad symbol, no balance)
            error = self._refusal(first)
            cm, self._messages, self._pop = self._cm, None, None
            await cm.__aexit__(type(error), error, None)
            raise error
        if (
            isinstance(queue, StreamQueue)
            and queue.reread is not None
            and queue.stream is not None
            and self._reads_frames()
        ):
            self._reread, self._req_ids = queue.reread, queue.stream.req_ids
            queue.raw = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        cm, self._messages, self._pop, self._reread = self._cm, None, None, None
        if cm is not None:
            await cm.__aexit__(exc_type, exc, tb)

    async def _wait_message(self) -> StreamItem:
        """The next message when none is buffered (subclasses first try ``self._pop()``, which takes
        a buffered one without a coroutine: the hot path under load)."""
        if self._messages is None:
            raise RuntimeError(f"use the {self._what} stream inside 'async with'")
        return await self._messages.__anext__()

    def _undecoded(self, data: bytes, ours: Callable[[JsonObject], bool]) -> JsonObject | None:
        """A frame the fast read refused, decoded: the message if ``ours`` says it is one more of this
        stream's (it drifted from its type: read as any decoded message is); anything else (an error,
        a frame for someone else, garbage) goes back to the transport, which routes it as it would
        have (``None``: it was not this stream's, read the next one)."""
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            message = None
        if type(message) is dict and ours(message):
            return message
        reread = self._reread
        return reread(data) if reread is not None else None


SB = TypeVar("SB", bound=StreamBase)


class Stream(StreamBase, Generic[R]):
    """A live subscription: ``async with`` opens it, ``async for`` yields typed messages.

    Leaving the ``async with`` block ends the subscription.
    """

    def __init__(
        self,
        transport: Transport,
        info: CallInfo,
        payload: JsonObject,
        default_type: type[R],
        types_by_msg_type: Mapping[str, type[R]],
        check: Callable[[CallInfo, Mapping[str, Any]], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(transport, payload, timeout, info)
        self._info = info
        self._what = info.name
        self._default = default_type
        self._types = types_by_msg_type
        self._validate: Callable[[Any], R] | None = None
        self._validators: dict[str, Callable[[Any], R]] = {}
        self._from_json: Callable[[bytes], R] | None = None
        self._from_json_by_type: dict[str, Callable[[bytes], R]] = {}
        self._check = check

    @property
    def call(self) -> CallInfo:
        return self._info

    def _refusal(self, first: Mapping[str, Any]) -> BaseException:
        try:
            raise_for_error(self._info, first)
        except DerivError as exc:
            return exc
        return ResponseError(f"{self._info.name}: the first answer carries an error", raw=first)

    def __aiter__(self) -> Stream[R]:
        return self

    def _reads_frames(self) -> bool:
        return self._check is None  # strict mode checks every decoded message against its schema

    async def __anext__(self) -> R:
        while True:
            pop = self._pop
            message = pop() if pop is not None else None
            if message is None:
                message = await self._wait_message()
            if type(message) is bytes:  # a frame, undecoded (the hot path)
                read = self._read_frame(message)
                if read is not None:
                    return read
                message = self._undecoded(message, self._own)
                if message is None:
                    continue
            assert type(message) is dict
            return self._read(message)

    def _own(self, message: JsonObject) -> bool:
        """One more message of this stream, as the protocol routes one (its request id, no error)."""
        return message.get("req_id") in self._req_ids and "error" not in message

    def _frame_validators(self) -> tuple[Callable[[bytes], R], dict[str, Callable[[bytes], R]]]:
        if self._from_json is None:
            self._from_json = _json_validator(self._default)
            self._from_json_by_type = {k: _json_validator(m) for k, m in self._types.items()}
        return self._from_json, self._from_json_by_type

    def _read_frame(self, data: bytes) -> R | None:
        """The frame validated straight from its bytes, if it is one more message of this stream
        (``None``: decode it and read it as any other message)."""
        validate, by_type = self._frame_validators()
        if by_type:
            validate = by_type.get(frame_msg_type(data) or "", validate)
        try:
            model = validate(data)
        except ValidationError:
            return None
        extra = model.__pydantic_extra__
        req_id = model.__dict__.get("req_id")
        if req_id is None and extra:
            req_id = extra.get("req_id")
        if req_id not in self._req_ids or (extra and "error" in extra):
            return None
        return model

    def _read(self, message: JsonObject) -> R:
        if self._check is not None:
            self._check(self._info, message)
        if "error" in message:
            raise_for_error(self._info, message)
        validate = self._validate
        if validate is None:  # the models' core validators, looked up once (built now if deferred)
            self._validate = validate = model_validator(self._default)
            self._validators = {k: model_validator(m) for k, m in self._types.items()}
        if self._validators:
            validate = self._validators.get(message.get("msg_type", ""), validate)
        try:
            return validate(message)
        except ValidationError as exc:  # drifted from its schema: read it field by field (or, strict, refuse)
            error = exc
        msg_type = message.get("msg_type")
        model = self._types.get(msg_type, self._default) if isinstance(msg_type, str) else self._default
        what = f"{self._info.name}: cannot read the message"
        strict = self._check is not None
        from .drift import read_drifted  # only for an answer that drifted

        read: R = read_drifted(
            model, message, error, call=self._info.name, what=what, raw=message, strict=strict
        )
        return read


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
