"""Typed streams over a transport's subscription: :class:`StreamBase` (what every stream shares)
and :class:`Stream` (a Deriv subscription's typed messages)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .calls import CallInfo
from .errors import DerivError, ResponseError
from .messages import _json_validator, model_validator, raise_for_error
from .protocol import frame_msg_type
from .stream_queue import StreamQueue
from .transport import JsonObject, StreamItem, Transport

R = TypeVar("R", bound=BaseModel)
#: What a stream yields.
Y = TypeVar("Y")


class StreamBase(Generic[Y]):
    """What every typed stream shares: opening the transport's subscription within a deadline,
        refusing at ``async with`` when the first answer is an error, ``gaps``/``dropped``, and ending
        the subscription when the block is left. Subclasses read each message.

        A subclass that can read frames itself (:meth:`_reads_frames`) gets the running stream's frames
        undecoded from a transport that offers them (:class:`~deriv_runtime.stream_queue.StreamQueue`
        ``raw``): it validates each one straight from its bytes into its type, checks that the message is
        its own (:meth:`_own`), and gives anything else to :meth:`_undecoded`. Subclasses read frames
    (:meth:`_read_frame`) and decoded messages (:meth:`_read`); the iteration is this class's."""

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

    def _undecoded(self, data: bytes) -> JsonObject | None:
        """A frame the fast read refused, decoded: the message if it is one more of this stream's
        (:meth:`_own`: it drifted from its type, read as any decoded message is); anything else (an
        error, a frame for someone else, garbage) goes back to the transport, which routes it as it
        would have (``None``: it was not this stream's, read the next one)."""
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            message = None
        if type(message) is dict and self._own(message):
            return message
        reread = self._reread
        return reread(data) if reread is not None else None

    def _read_frame(self, data: bytes) -> Y | None:
        """A frame validated straight from its bytes, if it is one more message of this stream
        (``None``: decode it and read it as any other message)."""
        raise NotImplementedError

    def _own(self, message: JsonObject) -> bool:
        """The decoded message is one more of this stream's, as the protocol routes one."""
        raise NotImplementedError

    def _read(self, message: JsonObject) -> Y | None:
        """A decoded message (``None``: nothing for the user, such as a resubscription's answer)."""
        raise NotImplementedError

    def __aiter__(self: SB) -> SB:
        return self

    async def __anext__(self) -> Y:
        while True:
            pop = self._pop
            message = pop() if pop is not None else None
            if message is None:
                message = await self._wait_message()
            if type(message) is bytes:  # a frame, undecoded (the hot path)
                read = self._read_frame(message)
                if read is not None:
                    return read
                message = self._undecoded(message)
                if message is None:
                    continue
            assert type(message) is dict
            read = self._read(message)
            if read is not None:
                return read


SB = TypeVar("SB", bound="StreamBase[Any]")


class Stream(StreamBase[R]):
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

    def _reads_frames(self) -> bool:
        return self._check is None  # strict mode checks every decoded message against its schema

    def _own(self, message: JsonObject) -> bool:
        """One more message of this stream, as the protocol routes one (its request id, no error)."""
        return message.get("req_id") in self._req_ids and "error" not in message

    def _build_frame_validators(self) -> Callable[[bytes], R]:
        """The models' JSON validators, built on the first frame (and built now if deferred)."""
        self._from_json_by_type = {k: _json_validator(m) for k, m in self._types.items()}
        self._from_json = validate = _json_validator(self._default)
        return validate

    def _read_frame(self, data: bytes) -> R | None:
        """The frame validated straight from its bytes, if it is one more message of this stream
        (``None``: decode it and read it as any other message)."""
        validate = self._from_json or self._build_frame_validators()
        by_type = self._from_json_by_type
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
