"""The boundary between the connection life (:mod:`deriv_runtime.ws`) and a sans-I/O protocol core.

One transport keeps the connection alive (keepalive, reconnect with backoff, deadlines, bounded
stream buffers); a *wire* turns requests into frames and frames into events, for one protocol:

* :class:`deriv_runtime.protocol.Protocol` - Deriv's framing (``req_id``, ``msg_type``,
  ``subscribe: 1``, ``forget``);
* :class:`deriv_runtime.jsonrpc.JsonRpcProtocol` - JSON-RPC 2.0 (``id``, ``result``/``error``,
  notifications routed by channel, ``public/subscribe``, heartbeats).

A wire never does I/O. The transport sends every :class:`Outgoing` it returns and acts on every
event :meth:`Wire.receive` returns: a :class:`Reply` completes the call waiting for ``req_id``, a
:class:`StreamMessage` goes to its stream's buffer, a :class:`Respond` is sent back at once (a
heartbeat answer), an :class:`Ignored` is counted.

The hot path skips decoding: :meth:`Wire.route_raw` finds the running stream a frame is for from its
text alone, and the transport hands the frame over as it came (``bytes``) to a consumer that reads
frames itself (:attr:`deriv_runtime.stream_queue.StreamQueue.raw`): it validates the bytes straight
into its type (one pass of pydantic's JSON parser instead of decoding, then validating), checks that
the decoded message is one :meth:`Wire.receive` would have given it, and hands anything else back
(:attr:`~deriv_runtime.stream_queue.StreamQueue.reread`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .calls import Resume

JsonObject = dict[str, Any]


@dataclass(slots=True)
class Outgoing:
    """A frame to send; ``req_id`` is the request's correlation id (Deriv ``req_id``, JSON-RPC ``id``)."""

    req_id: int
    data: str


@dataclass(eq=False, slots=True)
class StreamState:
    """Bookkeeping for one stream, stable across reconnects (the user's iterator stays the same)."""

    key: int
    call: str
    payload: JsonObject
    req_id: int
    subscription_id: str | None = None
    ended: bool = False
    #: Times the stream was re-established after a lost connection.
    resubscriptions: int = 0
    #: The request may be sent again after a reconnect (it only reads).
    repeatable: bool = True
    #: How a non-repeatable stream carries on once its receipt arrived.
    resume: Resume | None = None
    #: The follow-up request, known once the receipt arrived (``resume`` filled in).
    follow_up: JsonObject | None = None
    #: The connection dropped before the receipt of this non-repeatable request arrived.
    outcome_unknown: bool = False
    #: Channels of a JSON-RPC subscription (empty for Deriv streams).
    channels: tuple[str, ...] = ()
    #: The stream needs an authenticated connection (re-sent only after re-authentication).
    private: bool = False
    #: Every request id the stream was opened or re-opened with (a frame read undecoded is checked
    #: against it: :meth:`Wire.route_raw`).
    req_ids: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Reply:
    req_id: int
    message: JsonObject
    #: Streams the server confirmed as stopped by this reply (``forget`` / ``unsubscribe``).
    ended: list[StreamState] = field(default_factory=list)


@dataclass(slots=True)
class StreamMessage:
    """A message for one stream's buffer (made for every stream message: a slotted dataclass is the
    cheapest of the event shapes measured, a named tuple's ``__new__`` costs twice as much)."""

    stream: StreamState
    message: JsonObject


@dataclass(slots=True)
class Respond:
    """A frame the protocol answers by itself (JSON-RPC ``test_request`` -> ``public/test``)."""

    out: Outgoing


@dataclass(slots=True)
class Ignored:
    """A frame nobody waits for. ``reason`` is short and never contains the frame's values."""

    reason: str
    req_id: int | None = None
    #: Expected noise (the answer to our own ``forget``): not worth a warning.
    quiet: bool = False


Event = Reply | StreamMessage | Respond | Ignored


class Wire(Protocol):
    """What the transport needs of a protocol core."""

    #: req_id -> label of every request still waiting for its answer.
    pending: dict[int, str]
    #: key -> every live stream.
    streams: dict[int, StreamState]

    def label(self, payload: JsonObject) -> str:
        """A short name of the request for messages (``"ticks"``, ``"public/get_order_book"``)."""
        ...

    def call(self, label: str, payload: JsonObject) -> Outgoing: ...

    def abandon(self, req_id: int) -> None:
        """The caller stopped waiting: a late answer is ignored, never given to another call."""
        ...

    def open_stream(
        self, call: str, payload: JsonObject, *, repeatable: bool = True, resume: Resume | None = None
    ) -> tuple[StreamState, Outgoing]: ...

    def close_stream(self, state: StreamState) -> Outgoing | None:
        """End a stream locally; the request that stops it on the server, if it knows it."""
        ...

    def receive(self, data: str | bytes) -> Event: ...

    def route_raw(self, data: bytes) -> StreamState | None:
        """The running stream ``data`` is one more message of, found from the text without decoding
        it; ``None``: decode it with :meth:`receive`. A quick guess: the reader checks it."""
        ...

    def connection_lost(self) -> tuple[list[int], list[StreamState]]:
        """Fail every waiting call; returns their req_ids and the streams that cannot go on."""
        ...

    def resubscribe(self) -> list[Outgoing]:
        """Frames that re-open the live streams on a new connection."""
        ...

    def authenticated(self) -> list[Outgoing]:
        """The new connection is authenticated (the transport's ``on_connect`` returned): frames that
        re-open the streams that needed it."""
        ...
