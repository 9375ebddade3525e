"""Blocking facade over the generated JSON-RPC clients (Deribit), for scripts and notebooks.

The async client runs on a :class:`~deriv_runtime.sync.LoopThread` (an event loop in a daemon
thread), as the Deriv sync clients do; every blocking method submits the async method's coroutine
and waits for it. Deadlines are the async calls' own::

    with DeribitSyncClient.connect() as client:
        print(client.public.get_time())
        with client.subscribe(ticker("BTC-PERPETUAL", "100ms")) as stream:
            for note in stream:
                ...
"""

from __future__ import annotations

from collections.abc import Coroutine
from types import TracebackType
from typing import Any, ClassVar, Generic, TypeVar

from .client import UrlSource
from .errors import TransportClosed
from .rpc import BaseRpcClient, Channel, Notification, RpcStream
from .sync import LoopThread

T = TypeVar("T")
A = TypeVar("A", bound=BaseRpcClient)
S = TypeVar("S", bound="SyncBaseRpcClient[Any]")

__all__ = ["SyncBaseRpcClient", "SyncRpcStream"]


class SyncRpcStream(Generic[T]):
    """``with client.subscribe(channel, ...) as stream: for note in stream: ...``"""

    def __init__(self, runner: LoopThread, stream: RpcStream[T]) -> None:
        self._runner = runner
        self._stream = stream

    @property
    def channels(self) -> list[str]:
        return self._stream.channels

    @property
    def gaps(self) -> int:
        return self._stream.gaps

    @property
    def dropped(self) -> int:
        return self._stream.dropped

    def __enter__(self) -> SyncRpcStream[T]:
        self._runner.run(self._stream.__aenter__())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._runner.run(self._stream.__aexit__(exc_type, exc, tb))

    def __iter__(self) -> SyncRpcStream[T]:
        return self

    def __next__(self) -> Notification[T]:
        try:
            return self._runner.run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None


class SyncBaseRpcClient(Generic[A]):
    """Base of the generated blocking JSON-RPC clients: the async client, driven from a loop thread."""

    _async_class: ClassVar[type[BaseRpcClient]]
    #: The URL :meth:`connect` uses when given none (the API's production WebSocket endpoint).
    _default_url: ClassVar[str] = ""

    def __init__(self, client: A, runner: LoopThread) -> None:
        self._client = client
        self._runner = runner

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._client!r})"

    @classmethod
    def connect(
        cls: type[S], url: UrlSource | None = None, *, timeout: float | None = 30.0, **transport_options: Any
    ) -> S:
        """Connect and return a client: ``with Client.connect() as client:``.

        ``url`` defaults to the API's production endpoint; it may be a callable (called on every
        connect). ``transport_options`` go to :class:`~deriv_runtime.ws.WebSocketTransport`.
        """
        target = url if url is not None else cls._default_url
        if not target:
            raise ValueError(f"{cls.__name__}.connect needs a URL")
        runner = LoopThread()

        async def open_client() -> BaseRpcClient:
            from .jsonrpc import JsonRpcProtocol
            from .ws import WebSocketTransport

            transport_options.setdefault("wire", JsonRpcProtocol)
            transport = WebSocketTransport(target, **transport_options)
            await transport.connect()
            return cls._async_class(transport, timeout=timeout)

        try:
            client = runner.run(open_client())
        except BaseException:
            runner.close()
            raise
        return cls(client, runner)

    @property
    def async_client(self) -> A:
        """The async client underneath (its methods must run on this client's loop thread)."""
        return self._client

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def subscribe(self, *channels: Channel[T], timeout: float | None = None) -> SyncRpcStream[T]:
        """One subscribe request for ``channels``; see :meth:`BaseRpcClient.subscribe`."""
        return SyncRpcStream(self._runner, self._client.subscribe(*channels, timeout=timeout))

    def close(self) -> None:
        try:
            self._runner.run(self._client.close())
        except TransportClosed:
            pass
        finally:
            self._runner.close()

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
