"""Base of the generated JSON-RPC clients (Deribit): typed results, channel streams, call metadata.

Generated methods assemble ``params`` from their keyword arguments and call
:meth:`BaseRpcClient._call` with the method's wire name and result type; channel builders return
:class:`Channel` values that :meth:`BaseRpcClient._subscribe` turns into one subscribe request::

    async with DeribitClient.connect(url) as client:
        book = await client.public.get_order_book(instrument_name="BTC-PERPETUAL")
        with capture_meta() as meta:              # usIn / usOut / usDiff / testnet of each answer
            await client.public.get_time()
        async with client.subscribe(ticker("BTC-PERPETUAL", "100ms"), trades("ETH-PERPETUAL", "raw")) as s:
            async for note in s:                  # Notification(channel=..., data=<typed>)
                ...

Results are validated into their types tolerantly (unknown fields kept; a result or notification that
drifts from its schema is read field by field, the drift reported on it: :mod:`deriv_runtime.drift`);
a JSON-RPC ``error`` raises the :class:`~deriv_runtime.errors.JsonRpcError` subclass its code maps
to. Metadata is collected per task (a context variable), so concurrent calls never mix theirs up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, NamedTuple, NotRequired, TypeVar

from pydantic import BaseModel, PlainValidator, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator
from typing_extensions import TypedDict  # pydantic needs it (not typing's) before Python 3.12

from .calls import CallInfo
from .client import StreamBase, TransportClient, _Connect, model_validator
from .errors import ResponseError, TransportError, jsonrpc_error
from .jsonrpc import frame_channel
from .transport import JsonObject, Transport

if TYPE_CHECKING:
    from .auth.deribit import DeribitAuth
    from .auth.deribit_signing import Signer

T = TypeVar("T")
#: The data type of a channel's notifications: a channel of ``TickerData`` is a channel of its base
#: types too, so channels of different types go into one ``subscribe`` (typed as their common base).
T_co = TypeVar("T_co", covariant=True)
C = TypeVar("C", bound="BaseRpcClient")


__all__ = ["BaseRpcClient", "Channel", "Notification", "RpcMeta", "RpcStream", "capture_meta"]


@dataclass(frozen=True, slots=True)
class RpcMeta:
    """What a JSON-RPC answer says about itself, besides its result."""

    method: str
    #: Microsecond timestamps of the server receiving the request and sending the answer.
    us_in: int | None
    us_out: int | None
    #: Microseconds the server spent on the request.
    us_diff: int | None
    #: ``True`` on the test server.
    testnet: bool | None


_META: ContextVar[list[RpcMeta] | None] = ContextVar("deriv_rpc_meta", default=None)


@contextmanager
def capture_meta() -> Iterator[list[RpcMeta]]:
    """Collect the :class:`RpcMeta` of every call this task makes inside the block."""
    captured: list[RpcMeta] = []
    token = _META.set(captured)
    try:
        yield captured
    finally:
        _META.reset(token)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@lru_cache(maxsize=1024)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _validate(annotation: Any, value: Any, what: str, raw: Any) -> Any:
    try:
        validate = getattr(annotation, "model_validate", None)
        return validate(value) if validate is not None else _adapter(annotation).validate_python(value)
    except ValidationError as exc:
        from .drift import read_drifted  # only for an answer that drifted

        return read_drifted(
            annotation, value, exc, call=what, what=f"{what}: cannot read the answer", raw=raw
        )


@dataclass(frozen=True, slots=True)
class Channel(Generic[T_co]):
    """One subscription channel, its name filled in (``ticker.BTC-PERPETUAL.100ms``), and the type
    of its notifications' ``data``."""

    name: str
    data_type: Any
    #: The channel needs an authenticated connection (``user.*``): subscribed with ``private/subscribe``.
    private: bool = False


class Notification(NamedTuple, Generic[T]):
    """One message of a channel: its name and its typed ``data`` (a tuple: cheap on the hot path)."""

    channel: str
    data: T


#: Builds a :class:`Notification` without its Python-level ``__new__`` (one per message).
_new_notification = tuple.__new__


#: result type -> the function that reads a result as it (:func:`_validator`), for
#: :meth:`BaseRpcClient._call`: looked up once per type, not once per call.
_RESULT_READERS: dict[Any, Callable[[Any], Any]] = {}
_MAX_RESULT_READERS = 1024


def _validator(annotation: Any) -> Callable[[Any], Any]:
    """The function that reads a value as ``annotation``: a model's core validator, or a cached
    adapter's (its core validator once built: the adapter's ``validate_python`` only forwards to it)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_validator(annotation)
    adapter = _adapter(annotation)
    core = adapter.validator
    if isinstance(core, SchemaValidator):
        return core.validate_python
    return adapter.validate_python


def _no_id(value: Any) -> Any:
    raise ValueError("a notification carries no id")


class _Params(TypedDict, Generic[T]):
    channel: str
    data: T


class _NotificationFrame(TypedDict, Generic[T]):
    """A channel notification as :meth:`JsonRpcProtocol.receive` routes one: ``method``
    ``subscription``, no ``id``, ``params`` with the channel and its data (other keys ignored)."""

    method: Literal["subscription"]
    params: _Params[T]
    id: NotRequired[Annotated[Any, PlainValidator(_no_id)]]


@lru_cache(maxsize=1024)
def _frame_reader(annotation: Any) -> Callable[[bytes], Any]:
    """Validates a notification frame's JSON text straight into :class:`_NotificationFrame` of
    ``annotation`` (one pass of pydantic's parser instead of decoding, then validating)."""
    validate: Callable[[bytes], Any] = TypeAdapter(_NotificationFrame[annotation]).validator.validate_json
    return validate


class RpcStream(StreamBase[Notification[T]]):
    """Channels subscribed in one request: ``async with`` subscribes, ``async for`` yields
    :class:`Notification` values, leaving the block unsubscribes. After a reconnect the channels are
    subscribed again (``gaps`` counts the interruptions)."""

    def __init__(self, transport: Transport, channels: Sequence[Channel[Any]], timeout: float | None) -> None:
        if not channels:
            raise ValueError("subscribe to at least one channel")
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"a channel is named twice: {names}")
        private = any(c.private for c in channels)
        self._method = self._what = "private/subscribe" if private else "public/subscribe"
        super().__init__(transport, {"method": self._method, "params": {"channels": names}}, timeout)
        self._types = {c.name: c.data_type for c in channels}
        self._validators = {c.name: _validator(c.data_type) for c in channels}
        #: channel -> its frame reader (:func:`_frame_reader`), built on the first frame.
        self._frame_readers: dict[str, Callable[[bytes], Any]] = {}
        #: The one channel of a stream that has one (its frames need no look at their channel).
        self._only = names[0] if len(names) == 1 else None

    @property
    def channels(self) -> list[str]:
        return list(self._types)

    def _refusal(self, first: Mapping[str, Any]) -> BaseException:
        return jsonrpc_error(self._method, first["error"])

    def _reads_frames(self) -> bool:
        return True

    def _own(self, message: JsonObject) -> bool:
        """A notification for one of this stream's channels, as the protocol routes one."""
        params = message.get("params")
        return (
            message.get("method") == "subscription"
            and "id" not in message
            and type(params) is dict
            and params.get("channel") in self._types
        )

    def _read_frame(self, data: bytes) -> Notification[T] | None:
        """The frame validated straight from its bytes, if it is a notification of the channel it
        names (``None``: decode it and read it as any other message)."""
        channel = self._only or frame_channel(data)
        read = self._frame_readers.get(channel) if channel is not None else None
        if read is None:
            if channel not in self._types:
                return None
            read = self._frame_readers[channel] = _frame_reader(self._types[channel])
        try:
            params = read(data)["params"]
        except ValidationError:
            return None
        if params["channel"] != channel:
            return None
        return _new_notification(Notification, (channel, params["data"]))

    def _read(self, message: JsonObject) -> Notification[T] | None:
        """A decoded message: a notification, or ``None`` for the answer to a (re)subscribe request
        (the channels are live again)."""
        params = message.get("params")
        if params is not None and message.get("method") == "subscription":
            try:
                channel = params["channel"]
                validate = self._validators[channel]
                data = params["data"]
            except (KeyError, TypeError):
                what = f"{self._method}: a notification without a known channel"
                raise ResponseError(what, raw=message) from None
            try:
                return _new_notification(Notification, (channel, validate(data)))
            except ValidationError as exc:  # drifted: read field by field, reported on the data
                what = f"{channel}: cannot read the answer"
                from .drift import read_drifted  # only for an answer that drifted

                read = read_drifted(self._types[channel], data, exc, call=channel, what=what, raw=message)
                return _new_notification(Notification, (channel, read))
        if "error" in message:
            raise jsonrpc_error(self._method, message["error"])
        return None


@asynccontextmanager
async def _over(client: C) -> AsyncIterator[C]:
    try:
        yield client
    finally:
        await client.close()


class BaseRpcClient(TransportClient):
    """Holds a transport (JSON-RPC over WebSocket, or over HTTP); generated clients add the methods."""

    #: How this client authenticates (``connect(..., auth=)`` / ``over_http(..., auth=)``), if at all.
    auth: DeribitAuth | None = None

    @classmethod
    def connect(
        cls: type[C],
        url: Any,
        *,
        timeout: float | None = 30.0,
        auth: DeribitAuth | None = None,
        **transport_options: Any,
    ) -> _Connect[C]:
        """``async with Client.connect(url) as client:`` over a WebSocket speaking JSON-RPC.

        ``auth``: a :class:`~deriv_runtime.auth.deribit.DeribitAuth`; every connection (the first
        and each one after a drop) is then authenticated before anything else is sent on it, and
        private channels are subscribed again only after that. ``transport_options`` go to
        :class:`~deriv_runtime.ws.WebSocketTransport` (reconnect, keepalive, buffers); the URL may
        be a callable, called on every connect.
        """
        from .jsonrpc import JsonRpcProtocol

        transport_options.setdefault("wire", JsonRpcProtocol)
        if auth is None:
            return _Connect(cls, url, timeout, False, transport_options)
        if "on_connect" in transport_options:
            raise ValueError("pass auth= or on_connect=, not both")
        transport_options["on_connect"] = auth.on_connect
        return _Connect(cls, url, timeout, False, transport_options, setup=lambda c: c._bind(auth, True))

    def _bind(self, auth: DeribitAuth, background: bool) -> None:
        if background:
            auth.attach(self._sender(), background=True)
        self.auth = auth

    async def logout(self, *, invalidate_token: bool = True, timeout: float | None = None) -> None:
        """``private/logout``, then close the client (WebSocket only: the server answers by closing
        the connection). ``invalidate_token``: the server also revokes the token (the default). The
        token is forgotten here; a token store keeps what it has. Logging out does not cancel open
        orders (Deribit's cancel-on-disconnect does not fire)."""
        close_with = getattr(self._transport, "close_with", None)
        if close_with is None:
            raise TransportError("private/logout works over WebSocket only: use Client.connect(wss_url)")
        payload = {"method": "private/logout", "params": {"invalidate_token": invalidate_token}}
        await close_with(payload, timeout=self._timeout if timeout is None else timeout)
        if self.auth is not None:
            self.auth.forget()
            await self.auth.detach()

    @classmethod
    def over_http(
        cls: type[C],
        base_url: str,
        *,
        http_method: Literal["GET", "POST"] = "GET",
        timeout: float | None = 30.0,
        auth: DeribitAuth | Signer | None = None,
        **options: Any,
    ) -> AbstractAsyncContextManager[C]:
        """``async with Client.over_http("https://www.deribit.com/api/v2") as client:`` - JSON-RPC over
        HTTP, no subscriptions.

        ``auth``: a :class:`~deriv_runtime.auth.deribit.DeribitAuth` (bearer tokens granted and
        refreshed as needed) or a signer (every request signed, ``deri-hmac-sha256``). ``options``
        go to :class:`~deriv_runtime.rpc_http.JsonRpcHttpTransport` (``headers``, ``token``,
        ``basic_auth``, ``client``); with ``http_method="GET"`` params travel in the query where
        they can (see :mod:`deriv_runtime.rpc_http`). Leaving the block closes the HTTP client.
        """
        return _over(cls._over_http(base_url, http_method=http_method, timeout=timeout, auth=auth, **options))

    @classmethod
    def _over_http(
        cls: type[C],
        base_url: str,
        *,
        http_method: Literal["GET", "POST"],
        timeout: float | None,
        auth: DeribitAuth | Signer | None,
        **options: Any,
    ) -> C:
        """The client of :meth:`over_http` (also made by the blocking facade)."""
        from .rpc_http import JsonRpcHttpTransport

        transport = JsonRpcHttpTransport(
            base_url, http_method=http_method, timeout=timeout, auth=auth, **options
        )
        client = cls(transport, timeout=timeout)
        from .auth.deribit import DeribitAuth  # only when a client is made: cheap imports

        if isinstance(auth, DeribitAuth):
            client._bind(auth, False)
        return client

    async def _call(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        result_type: Any,
        timeout: float | None = None,
        info: CallInfo | None = None,
    ) -> Any:
        payload: JsonObject = {"method": method}
        if params:
            payload["params"] = dict(params)
        answer = await self._transport.request(
            payload, timeout=self._timeout if timeout is None else timeout, info=info
        )
        if "error" in answer:
            raise jsonrpc_error(method, answer["error"])
        if "result" not in answer:
            raise ResponseError(f"{method}: the answer has neither result nor error", raw=answer)
        captured = _META.get()
        if captured is not None:
            testnet = answer.get("testnet")
            captured.append(
                RpcMeta(
                    method,
                    _int(answer.get("usIn")),
                    _int(answer.get("usOut")),
                    _int(answer.get("usDiff")),
                    testnet if isinstance(testnet, bool) else None,
                )
            )
        try:
            read = _RESULT_READERS[result_type]
        except KeyError:
            read = _validator(result_type)
            if len(_RESULT_READERS) < _MAX_RESULT_READERS:
                _RESULT_READERS[result_type] = read
        except TypeError:  # an unhashable annotation: read it the long way
            return _validate(result_type, answer["result"], method, answer)
        try:
            return read(answer["result"])
        except ValidationError as exc:  # drifted: read field by field, reported on the result
            what = f"{method}: cannot read the answer"
            from .drift import read_drifted  # only for an answer that drifted

            return read_drifted(result_type, answer["result"], exc, call=method, what=what, raw=answer)

    def subscribe(self, *channels: Channel[T], timeout: float | None = None) -> RpcStream[T]:
        """One subscribe request for ``channels`` (``private/subscribe`` if any is private)."""
        return RpcStream(self._transport, channels, self._timeout if timeout is None else timeout)
