"""The bounded buffer between the transport's reader and one stream's consumer.

Bounded twice, in messages and in bytes as received, with an explicit overflow policy: drop the
oldest unread message (market data is superseded by the next one) or fail the stream. A consumer
under load takes buffered messages without a coroutine per message (:meth:`StreamQueue.pop_nowait`).

A consumer that reads frames itself sets :attr:`StreamQueue.raw`: the transport then buffers the
frames of the running stream as they came (``bytes``, not decoded) and the consumer validates them
straight into their type; a frame it cannot read that way goes back through
:attr:`StreamQueue.reread` (see :mod:`deriv_runtime.wire`).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .errors import StreamOverflow
from .transport import JsonObject
from .transport import StreamItem as Item
from .wire import StreamState

OverflowPolicy = Literal["drop_oldest", "fail"]


@dataclass(frozen=True)
class Gap:
    """A stretch of time in which a stream received nothing because the connection was down."""

    lost_at: float
    resumed_at: float


class StreamQueue:
    """Bounded buffer between the reader and one stream's consumer (an async iterator).

    Bounded twice: in messages (``maxlen``) and in bytes of the frames they came in (``max_bytes``),
    so a few huge unread messages cannot take the memory that many small ones may.
    """

    __slots__ = (
        "_bytes",
        "_ended",
        "_error",
        "_items",
        "_max_bytes",
        "_maxlen",
        "_policy",
        "_sizes",
        "_waiter",
        "dropped",
        "gaps",
        "last_gap",
        "raw",
        "reread",
        "stream",
    )

    def __init__(self, maxlen: int, policy: OverflowPolicy, max_bytes: int = 2**62) -> None:
        self._items: collections.deque[Item] = collections.deque()
        self._sizes: collections.deque[int] = collections.deque()
        self._bytes = 0
        self._maxlen = maxlen
        self._max_bytes = max_bytes
        self._policy = policy
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: BaseException | None = None
        #: Messages dropped because the consumer fell behind (policy ``"drop_oldest"``).
        self.dropped = 0
        #: Times the stream was interrupted by a lost connection and resumed.
        self.gaps = 0
        self.last_gap: Gap | None = None
        #: The consumer takes frames as they came (``bytes``) for the running stream: it reads them
        #: itself. Set by the consumer, and only if the transport set :attr:`reread`.
        self.raw = False
        #: Set by the transport: decodes and routes a frame the consumer could not read itself, as
        #: if it had never been handed over undecoded; the message if it is this stream's (``None``:
        #: it went where it belongs, or nowhere).
        self.reread: Callable[[bytes], JsonObject | None] | None = None
        #: The stream's bookkeeping in the transport's protocol (its request ids), if it has one.
        self.stream: StreamState | None = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, message: Item, size: int = 0) -> None:
        if self._ended:
            return
        items = self._items
        if len(items) >= self._maxlen or (items and self._bytes + size > self._max_bytes):
            if self._policy == "fail":
                full = (
                    f"{self._maxlen} messages"
                    if len(items) >= self._maxlen
                    else f"{self._max_bytes} bytes unread"
                )
                self.fail(StreamOverflow(f"stream buffer full ({full}): consumer fell behind"))
                return
            while items and (len(items) >= self._maxlen or self._bytes + size > self._max_bytes):
                items.popleft()
                self._bytes -= self._sizes.popleft()
                self.dropped += 1
        items.append(message)
        self._sizes.append(size)
        self._bytes += size
        waiter = self._waiter  # _wake(), inline: this runs for every message
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def buffered_bytes(self) -> int:
        """Bytes (as received on the wire) of the messages waiting for the consumer."""
        return self._bytes

    def end(self) -> None:
        self._ended = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._ended = True
        self._items.clear()
        self._sizes.clear()
        self._bytes = 0
        self._wake()

    @property
    def error(self) -> BaseException | None:
        return self._error

    def gap(self, gap: Gap) -> None:
        self.gaps += 1
        self.last_gap = gap

    def pop_nowait(self) -> Item | None:
        """The next buffered message, or ``None`` when none is (then ``await`` the iterator: it also
        tells the end and errors). Lets a consumer skip a coroutine per message under load."""
        if self._items:
            self._bytes -= self._sizes.popleft()
            return self._items.popleft()
        return None

    def peek(self) -> Item | None:
        """The next message without taking it, if one is buffered."""
        return self._items[0] if self._items else None

    async def wait_first(self) -> None:
        """Wait until a message is buffered or the stream ended."""
        while not self._items and not self._ended:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __len__(self) -> int:
        return len(self._items)

    def __aiter__(self) -> StreamQueue:
        return self

    async def __anext__(self) -> Item:
        while True:
            if self._items:
                self._bytes -= self._sizes.popleft()
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
