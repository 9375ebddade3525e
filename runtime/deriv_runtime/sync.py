"""Blocking facade over the async clients, for plain scripts and notebooks.

A :class:`LoopThread` runs an event loop in a daemon thread; every blocking call submits a
coroutine to it and waits for the result, so the user never manages an event loop (and a notebook's
own running loop is not disturbed). Deadlines are the async calls' own: a sync call never waits
longer than its ``timeout``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

from .client import BaseClient, Stream, TransportClient, UrlSource
from .errors import TransportClosed

T = TypeVar("T")
Y = TypeVar("Y")
Y_co = TypeVar("Y_co", covariant=True)
R = TypeVar("R", bound=BaseModel)
A = TypeVar("A", bound=TransportClient)
B = TypeVar("B", bound=BaseClient)
S = TypeVar("S", bound="SyncClientBase[Any]")
SB = TypeVar("SB", bound="SyncBaseClient[Any]")
SS = TypeVar("SS", bound="SyncStream[Any]")


class LoopThread:
    """An asyncio event loop running in its own daemon thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="deriv-sync-loop", daemon=True)
        self._thread.start()
        self._closed = False

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        if self._closed:
            raise TransportClosed("the client is closed")
        if threading.current_thread() is self._thread:
            raise RuntimeError("a sync client cannot be used from its own event loop thread")

        async def wrap() -> T:
            return await coro

        future = asyncio.run_coroutine_threadsafe(wrap(), self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()


class AsyncStreamLike(Protocol[Y_co]):
    """What :class:`SyncStream` drives: an async stream (``Stream``, ``RpcStream``) on the loop thread."""

    @property
    def gaps(self) -> int: ...

    @property
    def dropped(self) -> int: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def __anext__(self) -> Awaitable[Y_co]: ...


class SyncStream(Generic[Y]):
    """``with client.subscribe_ticks("R_100") as ticks: for tick in ticks: ...``"""

    def __init__(self, runner: LoopThread, stream: AsyncStreamLike[Y]) -> None:
        self._runner = runner
        self._stream = stream

    @property
    def gaps(self) -> int:
        return self._stream.gaps

    @property
    def dropped(self) -> int:
        return self._stream.dropped

    def __enter__(self: SS) -> SS:
        self._runner.run(self._stream.__aenter__())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._runner.run(self._stream.__aexit__(exc_type, exc, tb))

    def __iter__(self: SS) -> SS:
        return self

    def __next__(self) -> Y:
        try:
            return self._runner.run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None


class SyncClientBase(Generic[A]):
    """What every generated blocking client is: its async client, driven from a :class:`LoopThread`."""

    def __init__(self, client: A, runner: LoopThread) -> None:
        self._client = client
        self._runner = runner

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._client!r})"

    @classmethod
    def _open(cls: type[S], make_client: Callable[[], Awaitable[A]]) -> S:
        """Start a loop thread, build the async client on it, and wrap it (closing the thread on failure)."""
        runner = LoopThread()
        try:
            client = runner.run(make_client())
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


class SyncBaseClient(SyncClientBase[B]):
    """Base of the generated Deriv sync clients."""

    _async_class: ClassVar[type[BaseClient]]

    @classmethod
    def connect(
        cls: type[SB],
        url: UrlSource,
        *,
        timeout: float | None = 30.0,
        strict: bool = False,
        **transport_options: Any,
    ) -> SB:
        """Connect and return a client; use it as ``with Client.connect(url) as client:``."""

        async def open_client() -> Any:
            from .ws import WebSocketTransport

            transport = WebSocketTransport(url, **transport_options)
            await transport.connect()
            return cls._async_class(transport, timeout=timeout, strict=strict)

        return cls._open(open_client)

    def _stream(self, stream: Stream[R]) -> SyncStream[R]:
        return SyncStream(self._runner, stream)
