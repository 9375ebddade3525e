"""A pool of WebSocket connections behind one :class:`~deriv_runtime.transport.Transport`.

Upstream servers limit what one connection may carry (subscriptions per connection, messages per
second). :class:`PooledTransport` holds ``connections`` :class:`~deriv_runtime.ws.WebSocketTransport`
members and spreads streams (and calls) over them, so a generated client uses it unchanged::

    pool = PooledTransport(url, connections=4, max_streams_per_connection=500, reconnect=policy)
    async with OptionsClient(pool) as client:
        async with client.subscribe_ticks("R_100") as ticks:
            ...

The rules:

* **Opening.** :meth:`PooledTransport.connect` opens every member at once, concurrently (the URL
  source, and ``on_connect`` if given, run once per connection). If one fails the others are closed
  and the first failure is raised: a pool is either whole or not open. Fixed size: the pool never
  grows, so what it carries upstream is known in advance.
* **Streams.** A new stream goes to the member with the fewest streams among those below
  ``max_streams_per_connection`` (ties: the lowest index), and stays there for its whole life:
  after that member's connection drops, the member reconnects and re-subscribes it on the new
  connection, exactly as a lone ``WebSocketTransport`` does (``gaps`` counts the interruptions; the
  other members are not touched). A member that gave up for good (its reconnect policy ran out, or
  the server refused its ``on_connect``) takes no new streams. When every live member is full,
  :meth:`~PooledTransport.subscribe` raises :class:`PoolFull` before anything is sent.
* **Calls.** With ``spread_calls=True`` (the default) calls go round-robin over the members that are
  connected now (so a call does not wait for a member that is reconnecting while another is up);
  when none is, over all live members (the call then waits within its own deadline). With
  ``spread_calls=False`` every call goes to member 0.
* **Closing.** :meth:`~PooledTransport.close` closes every member (their streams end, their waiting
  calls fail with ``TransportClosed``). :meth:`~PooledTransport.close_with` sends its farewell
  payload on member 0 (Deribit's ``private/logout``) and closes the others.

Every member gets the same options (``wire=`` for JSON-RPC, ``on_connect=``, reconnect policy,
keepalive, buffers). Calls that a client marks as needing authentication (``protocol.private_calls``)
are shared by all members, so every member re-opens such streams only after its own ``on_connect``.

Authentication belongs to a connection: authenticate through ``on_connect`` (which runs on every
member's every connection), not with a call made through the client (an ``authorize`` or
``public/auth`` call goes to one member only, and the others stay as they were).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .errors import TransportClosed, TransportError
from .transport import JsonObject
from .ws import UrlSource, WebSocketTransport

if TYPE_CHECKING:
    from .calls import CallInfo
    from .stream_queue import StreamQueue
    from .wire import StreamState

__all__ = ["PoolFull", "PooledTransport"]


class PoolFull(TransportError):
    """Every connection of the pool carries ``max_streams_per_connection`` streams already."""


class _PoolProtocol:
    """What clients look at through ``transport.protocol``: the calls needing authentication (one
    set shared by every member) and the live streams of every member."""

    def __init__(self, pool: PooledTransport) -> None:
        self._pool = pool
        #: Calls whose streams are re-opened only after ``on_connect`` (shared with every member).
        self.private_calls: set[str] = set()

    @property
    def streams(self) -> dict[tuple[int, int], StreamState]:
        """``(member index, stream key) -> state`` for every live stream of every member."""
        return {
            (index, key): state
            for index, member in enumerate(self._pool.members)
            for key, state in member.protocol.streams.items()
        }

    def label(self, payload: JsonObject) -> str:
        """The call's name in messages (member 0's wire decides)."""
        return self._pool.members[0].protocol.label(payload)


class PooledTransport:
    """A :class:`~deriv_runtime.transport.Transport` over ``connections`` WebSocket connections
    (see the module docstring for how streams and calls are spread).

    ``options`` go to every :class:`~deriv_runtime.ws.WebSocketTransport` member (``wire``,
    ``on_connect``, ``reconnect``, ``ping_interval``, ``stream_buffer``...).
    """

    def __init__(
        self,
        url: UrlSource,
        *,
        connections: int = 4,
        max_streams_per_connection: int = 100,
        spread_calls: bool = True,
        **options: Any,
    ) -> None:
        if connections < 1:
            raise ValueError("connections must be at least 1")
        if max_streams_per_connection < 1:
            raise ValueError("max_streams_per_connection must be at least 1")
        self.max_streams_per_connection = max_streams_per_connection
        self._spread_calls = spread_calls
        #: The member transports, one per connection, by index.
        self.members: tuple[WebSocketTransport, ...] = tuple(
            WebSocketTransport(url, **options) for _ in range(connections)
        )
        self.protocol = _PoolProtocol(self)
        for member in self.members:
            if hasattr(member.protocol, "private_calls"):
                member.protocol.private_calls = self.protocol.private_calls
        #: Streams given to each member (reserved before their request is sent, so concurrent
        #: subscribers never overshoot the cap).
        self._load = [0] * connections
        #: Each open stream's buffer -> the index of the member carrying it.
        self._homes: dict[StreamQueue, int] = {}
        self._turn = itertools.count()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<PooledTransport size={self.size} streams={sum(self._load)} "
            f"cap={self.max_streams_per_connection} connections={self.connections}>"
        )

    # -- state ------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """How many connections the pool holds."""
        return len(self.members)

    @property
    def capacity(self) -> int:
        """Streams the pool can carry at once (``size * max_streams_per_connection``)."""
        return self.size * self.max_streams_per_connection

    @property
    def connections(self) -> int:
        """Connections opened so far by every member (``size`` after :meth:`connect`; each
        reconnect adds one)."""
        return sum(member.connections for member in self.members)

    @property
    def is_connected(self) -> bool:
        """Whether every member is connected now."""
        return all(member.is_connected for member in self.members)

    def load(self) -> list[int]:
        """Open streams per member, by index."""
        return list(self._load)

    def home_of(self, stream: Any) -> int:
        """The index of the member carrying ``stream`` (what :meth:`subscribe` yielded, or a typed
        stream opened through this pool); ``KeyError`` once it is closed."""
        queue = getattr(stream, "_messages", stream)
        return self._homes[queue]

    def _live(self) -> Iterator[int]:
        for index, member in enumerate(self.members):
            if member._dead is None:  # a member that gave up for good takes nothing new
                yield index

    def _dead_error(self) -> TransportError:
        if self._closed:
            return TransportClosed("the client is closed")
        error = next((m._dead for m in self.members if m._dead is not None), None)
        return error or TransportError("no connection of the pool is usable")

    # -- connecting and closing -----------------------------------------------------------------

    async def connect(self) -> None:
        """Open every member's connection concurrently. If any fails, close the others and raise
        its error (:class:`~deriv_runtime.errors.ConnectionFailed`, or the server's refusal of
        ``on_connect``)."""
        if self._closed:
            raise TransportClosed("the client is closed")
        results = await asyncio.gather(*(m.connect() for m in self.members), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:  # a closed member never opens again: the pool is closed for good
            self._closed = True
            await asyncio.gather(*(m.close() for m in self.members), return_exceptions=True)
            raise failures[0]

    async def close(self) -> None:
        """Close every member: streams end, waiting calls fail. Safe to call twice."""
        self._closed = True
        await asyncio.gather(*(m.close() for m in self.members))

    async def close_with(self, payload: JsonObject, *, timeout: float | None) -> None:
        """Send ``payload`` as the last frame on member 0 (see
        :meth:`~deriv_runtime.ws.WebSocketTransport.close_with`) and close every other member."""
        self._closed = True
        first, *others = self.members
        await asyncio.gather(first.close_with(payload, timeout=timeout), *(m.close() for m in others))

    # -- calls and streams -------------------------------------------------------------------------

    def _for_call(self) -> WebSocketTransport:
        members = self.members
        if not self._spread_calls:
            return members[0]
        live = list(self._live())
        if not live:
            if self._closed:
                raise TransportClosed("the client is closed")
            return members[0]  # not connected yet (or dead): it raises the right error
        connected = [i for i in live if members[i].is_connected]
        pick = connected or live
        return members[pick[next(self._turn) % len(pick)]]

    async def request(
        self, payload: JsonObject, *, timeout: float | None, info: CallInfo | None = None
    ) -> JsonObject:
        """Send ``payload`` on one member (see the module docstring) and return its answer."""
        return await self._for_call().request(payload, timeout=timeout, info=info)

    def _reserve(self, payload: JsonObject) -> int:
        if self._closed:
            raise TransportClosed(f"{self.protocol.label(payload)}: the client is closed")
        cap = self.max_streams_per_connection
        load = self._load
        candidates = [i for i in self._live() if load[i] < cap]
        if not candidates:
            if not any(True for _ in self._live()):
                raise self._dead_error()
            raise PoolFull(
                f"{self.protocol.label(payload)}: every connection of the pool carries "
                f"{cap} streams (size {self.size}, capacity {self.capacity}); close a stream or "
                "make the pool larger"
            )
        index = min(candidates, key=lambda i: (load[i], i))
        load[index] += 1
        return index

    @asynccontextmanager
    async def subscribe(
        self, payload: JsonObject, *, info: CallInfo | None = None, timeout: float | None = None
    ) -> AsyncIterator[StreamQueue]:
        """Open a stream on the least-loaded member below the cap; it stays on that member
        (re-subscribed there after its reconnects). :class:`PoolFull` when every member is full."""
        index = self._reserve(payload)
        try:
            async with self.members[index].subscribe(payload, info=info, timeout=timeout) as queue:
                self._homes[queue] = index
                try:
                    yield queue
                finally:
                    self._homes.pop(queue, None)
        finally:
            self._load[index] -= 1
