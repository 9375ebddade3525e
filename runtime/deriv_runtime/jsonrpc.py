"""Sans-I/O core of JSON-RPC 2.0 over WebSocket, as Deribit speaks it: encoding, correlation, channels.

No sockets, no event loop: :class:`JsonRpcProtocol` is fed frames and asked for frames, and tells the
I/O layer what each incoming frame means. It is a :class:`~deriv_runtime.wire.Wire`, like
:class:`deriv_runtime.protocol.Protocol`, so the same transport (:mod:`deriv_runtime.ws`) drives it.

* Every request gets a fresh ``id`` (never reused, not even across connections); the answer carrying
  it (``result`` or ``error``) is a :class:`Reply`.
* A stream is one ``public/subscribe`` or ``private/subscribe`` request and the channels it names.
  The answer to that request is the stream's first :class:`StreamMessage`; every notification
  (``method: "subscription"``) is routed by its exact channel name to the one stream holding it.
  Two streams never share a channel. Closing a stream sends its ``unsubscribe``.
* After a reconnect, :meth:`JsonRpcProtocol.resubscribe` re-sends each live *public* stream's
  subscription with a new ``id``; *private* ones wait for :meth:`JsonRpcProtocol.authenticated`
  (a private channel needs the new connection to be authenticated first). The stream object (and the
  user's iterator) stays the same. A stream whose request acted is never sent twice (as in
  :class:`~deriv_runtime.protocol.Protocol`).
* The server's ``test_request`` heartbeat is answered at once (:class:`Respond` with ``public/test``);
  answers to our own bookkeeping requests (``unsubscribe``, ``public/test``) are swallowed quietly.
* Frames nobody waits for (late or unknown ids, garbage, batches, notifications for channels nobody
  holds) are :class:`Ignored`, never delivered to another call.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import orjson

from .calls import Resume
from .wire import Event, Ignored, JsonObject, Outgoing, Reply, Respond, StreamMessage, StreamState

__all__ = [
    "MIN_HEARTBEAT_INTERVAL",
    "Event",
    "Ignored",
    "JsonRpcProtocol",
    "Outgoing",
    "Reply",
    "Respond",
    "StreamMessage",
    "StreamState",
]

#: The shortest heartbeat interval Deribit accepts (seconds).
MIN_HEARTBEAT_INTERVAL = 10

_SUBSCRIBE = ("public/subscribe", "private/subscribe")
_REQUEST_KEYS = frozenset({"method", "params"})
#: How a channel notification starts, as Deribit writes it (compact, keys in this order).
_NOTIFICATION = b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"'


def frame_channel(data: bytes) -> str | None:
    """The channel of a notification, read without decoding the frame: only a frame written exactly
    as Deribit writes one (:data:`_NOTIFICATION`, a channel name without escapes) has one here.
    A guess that routes a frame quickly: whoever reads the frame checks it against the decoded
    message (:meth:`JsonRpcProtocol.route_raw`)."""
    if not data.startswith(_NOTIFICATION):
        return None
    start = len(_NOTIFICATION)
    end = data.find(b'"', start)
    name = data[start:end]
    if end < 0 or b"\\" in name:
        return None
    try:
        return name.decode()
    except UnicodeDecodeError:
        return None


class JsonRpcProtocol:
    """JSON-RPC 2.0 framing with Deribit's channels and heartbeats; a :class:`~deriv_runtime.wire.Wire`."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._keys = itertools.count(1)
        #: id -> label of every request still waiting for its answer.
        self.pending: dict[int, str] = {}
        #: key -> every live stream.
        self.streams: dict[int, StreamState] = {}
        #: ids whose answers we do not need -> the method (our own unsubscribe / public/test).
        self._discard: dict[int, str] = {}
        #: id -> method of a caller's own ``*/unsubscribe`` / ``*/unsubscribe_all`` call, and the
        #: channels it names: its successful answer ends the streams it stops.
        self._unsubscribing: dict[int, tuple[str, tuple[str, ...]]] = {}
        #: id of a subscribe request still waiting for its answer -> its stream.
        self._by_req: dict[int, StreamState] = {}
        #: channel -> the stream holding it.
        self._by_channel: dict[str, StreamState] = {}
        #: keys of streams not subscribed on the current connection (lost with the last one).
        self._offline: set[int] = set()
        #: The heartbeat interval the caller set (``public/set_heartbeat``): a heartbeat belongs to
        #: a connection, so it is set again on every new one (``None``: off).
        self.heartbeat: int | None = None

    # -- outgoing ---------------------------------------------------------------------------------

    def label(self, payload: JsonObject) -> str:
        method = payload.get("method")
        return method if isinstance(method, str) and method else "?"

    def _encode(self, payload: JsonObject, req_id: int) -> Outgoing:
        method = payload.get("method")
        if not isinstance(method, str) or not method:
            raise ValueError("a JSON-RPC request needs a non-empty 'method'")
        if not payload.keys() <= _REQUEST_KEYS:  # no set built on the way (every call comes here)
            extra = sorted(payload.keys() - _REQUEST_KEYS)
            raise ValueError(f"{method}: a request has only 'method' and 'params'; not {extra}")
        message: JsonObject = {"jsonrpc": "2.0", "id": req_id, "method": method}
        params = payload.get("params")
        if params is not None:
            if not isinstance(params, Mapping):
                raise ValueError(f"{method}: 'params' must be an object (named parameters only)")
            message["params"] = params
        return Outgoing(req_id, orjson.dumps(message).decode())

    def call(self, label: str, payload: JsonObject) -> Outgoing:
        req_id = next(self._ids)
        out = self._encode(payload, req_id)  # refuses a broken request before anything is registered
        self.pending[req_id] = label
        method = payload["method"]
        if method == "public/set_heartbeat":
            interval = (payload.get("params") or {}).get("interval")
            self.heartbeat = interval if type(interval) is int else None
        elif method == "public/disable_heartbeat":
            self.heartbeat = None
        elif method.endswith(("/unsubscribe", "/unsubscribe_all")):
            params = payload.get("params") or {}
            channels = params.get("channels")
            named = tuple(c for c in channels if isinstance(c, str)) if isinstance(channels, list) else ()
            self._unsubscribing[req_id] = (method, named)
        return out

    def set_heartbeat(self, interval: int) -> Outgoing:
        """``public/set_heartbeat``: the server then sends heartbeats and ``test_request``s every
        ``interval`` seconds (at least :data:`MIN_HEARTBEAT_INTERVAL`); a normal call."""
        if type(interval) is not int or interval < MIN_HEARTBEAT_INTERVAL:
            raise ValueError(f"heartbeat interval must be an integer >= {MIN_HEARTBEAT_INTERVAL} seconds")
        method = "public/set_heartbeat"
        return self.call(method, {"method": method, "params": {"interval": interval}})

    def abandon(self, req_id: int) -> None:
        """The caller stopped waiting (timeout, cancellation): its answer, if it comes, is dropped."""
        self.pending.pop(req_id, None)
        self._unsubscribing.pop(req_id, None)

    def open_stream(
        self, call: str, payload: JsonObject, *, repeatable: bool = True, resume: Resume | None = None
    ) -> tuple[StreamState, Outgoing]:
        """Register a stream for ``{"method": "public/subscribe", "params": {"channels": [...]}}``
        (or ``private/subscribe``). Raises :class:`ValueError` if a channel is already held by a live
        stream: notifications are routed by channel, so it could not say whose they are.

        ``repeatable=False``: never send ``payload`` again; after a drop the stream carries on as
        ``resume`` describes, or ends as stranded (see :meth:`connection_lost`)."""
        method, channels = _subscription(payload)
        self._claim(channels)
        req_id = next(self._ids)
        state = StreamState(
            next(self._keys),
            call,
            _subscribe_payload(method, payload, channels),
            req_id,
            repeatable=repeatable,
            resume=resume,
            channels=channels,
            private=method.startswith("private/"),
        )
        out = self._encode(state.payload, req_id)
        self.streams[state.key] = state
        self._by_req[req_id] = state
        state.req_ids.add(req_id)
        for channel in channels:
            self._by_channel[channel] = state
        return state, out

    def _claim(self, channels: tuple[str, ...]) -> None:
        for channel in channels:
            holder = self._by_channel.get(channel)
            if holder is not None:
                raise ValueError(
                    f"channel {channel!r} is already subscribed by another live stream "
                    f"({holder.call}); close that stream first or use it"
                )

    def close_stream(self, state: StreamState) -> Outgoing | None:
        """End a stream locally; returns its ``unsubscribe`` request if the server may hold its channels
        (``None`` if it already ended, or was never subscribed on the current connection)."""
        if state.ended or self.streams.get(state.key) is not state:
            return None
        offline = state.key in self._offline
        if state.req_id in self._by_req:  # the subscribe answer is still on its way: drop it quietly
            self._discard[state.req_id] = state.payload["method"]
        self._end(state)
        if offline:
            return None
        method = "private/unsubscribe" if state.private else "public/unsubscribe"
        req_id = next(self._ids)
        self._discard[req_id] = method
        return self._encode({"method": method, "params": {"channels": list(state.channels)}}, req_id)

    def _end(self, state: StreamState) -> None:
        state.ended = True
        self.streams.pop(state.key, None)
        self._offline.discard(state.key)
        if self._by_req.get(state.req_id) is state:
            del self._by_req[state.req_id]
        self._release(state, state.channels)

    def _release(self, state: StreamState, channels: tuple[str, ...]) -> None:
        for channel in channels:
            if self._by_channel.get(channel) is state:
                del self._by_channel[channel]

    # -- incoming ---------------------------------------------------------------------------------

    def receive(self, data: str | bytes) -> Event:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            return Ignored("frame is not JSON")
        if type(message) is not dict:
            if type(message) is list:
                return Ignored("batch frame (JSON array): batches are not used")
            return Ignored("frame is not a JSON object")
        method = message.get("method")
        if method is not None or "method" in message:
            if method == "subscription" and "id" not in message:  # a channel's notification: the hot path
                params = message.get("params")
                if type(params) is dict:
                    channel = params.get("channel")
                    if type(channel) is str:
                        state = self._by_channel.get(channel)
                        if state is not None:
                            return StreamMessage(state, message)
            return self._notification(message)
        req_id = message.get("id")
        if type(req_id) is not int:
            if "error" in message:
                return Ignored("error answer without an id (the server could not read a request)")
            return Ignored("answer without an integer id")
        state = self._by_req.pop(req_id, None)
        if state is not None:
            return self._subscribed(state, message)
        if self.pending.pop(req_id, None) is not None:
            return Reply(req_id, message, self._stopped_by(req_id, message) if self._unsubscribing else [])
        method = self._discard.pop(req_id, None)
        if method is not None:
            return Ignored(f"answer to our own {method}", req_id, quiet=True)
        return Ignored("answer to a request nobody is waiting for (late or unknown id)", req_id)

    def route_raw(self, data: bytes) -> StreamState | None:
        """The stream holding the channel a notification names, found without decoding the frame
        (``None``: decode it and :meth:`receive` it). The reader checks that the decoded frame is a
        notification (``method`` ``subscription``, no ``id``) for that very channel, and hands any
        other frame back to :meth:`receive`."""
        if not self._by_channel:
            return None
        channel = frame_channel(data)
        return self._by_channel.get(channel) if channel is not None else None

    def _subscribed(self, state: StreamState, message: JsonObject) -> Event:
        """The answer to a stream's subscribe request: its first message."""
        result = message.get("result")
        if "error" in message or result == []:
            self._end(state)  # nothing subscribed: the server will send nothing on it
        elif not state.repeatable and state.follow_up is None and state.resume is not None:
            state.follow_up = state.resume.payload_from(message)
        return StreamMessage(state, message)

    def _notification(self, message: JsonObject) -> Event:
        method, params = message.get("method"), message.get("params")
        if "id" in message:
            return Ignored("request from the server (not supported)")
        if not isinstance(params, dict):
            return Ignored("notification without params")
        if method == "subscription":
            channel = params.get("channel")
            if not isinstance(channel, str):
                return Ignored("subscription notification without a channel")
            state = self._by_channel.get(channel)
            if state is None:
                return Ignored("notification for a channel no stream holds")
            return StreamMessage(state, message)
        if method == "heartbeat":
            kind = params.get("type")
            if kind == "test_request":
                req_id = next(self._ids)
                self._discard[req_id] = "public/test"
                return Respond(self._encode({"method": "public/test", "params": {}}, req_id))
            if kind == "heartbeat":
                return Ignored("heartbeat", quiet=True)
            return Ignored("heartbeat of an unknown type")
        return Ignored("notification of an unknown method")

    def _stopped_by(self, req_id: int, message: JsonObject) -> list[StreamState]:
        """Streams a caller's own successful ``unsubscribe`` / ``unsubscribe_all`` stopped."""
        method, named = self._unsubscribing.pop(req_id, ("", ()))
        result = message.get("result")
        if not method or "error" in message:
            return []
        if method.endswith("/unsubscribe_all"):
            if result != "ok":
                return []
            ended = list(self.streams.values())
        else:
            gone = {c for c in result if isinstance(c, str)} if isinstance(result, list) else set()
            gone &= set(named)
            hit: dict[int, StreamState] = {}
            for channel in gone:
                holder = self._by_channel.get(channel)
                if holder is not None:
                    hit[holder.key] = holder
            ended = []
            for state in hit.values():
                left = tuple(c for c in state.channels if c not in gone)
                if left:  # the stream carries on with its other channels
                    self._release(state, state.channels)
                    state.channels = left
                    state.payload = _subscribe_payload(state.payload["method"], state.payload, left)
                    for channel in left:
                        self._by_channel[channel] = state
                else:
                    ended.append(state)
        for state in ended:
            self._end(state)
        return ended

    # -- connection life --------------------------------------------------------------------------

    def connection_lost(self) -> tuple[list[int], list[StreamState]]:
        """Every waiting call fails; streams keep their place (and their channels), to be resubscribed.

        Returns the failed ids and the *stranded* streams: non-repeatable ones whose receipt had not
        arrived (ended here, flagged ``outcome_unknown``; their request is never sent again).
        A non-repeatable stream whose receipt arrived becomes its follow-up stream.
        """
        failed = list(self.pending)
        self.pending.clear()
        self._discard.clear()
        self._unsubscribing.clear()
        self._by_req.clear()
        stranded: list[StreamState] = []
        for state in list(self.streams.values()):
            self._offline.add(state.key)
            if state.repeatable:
                continue
            resume, follow_up = state.resume, state.follow_up
            if resume is not None and follow_up is not None and self._follow(state, resume, follow_up):
                continue
            state.outcome_unknown = True
            self._end(state)
            stranded.append(state)
        return failed, stranded

    def _follow(self, state: StreamState, resume: Resume, follow_up: JsonObject) -> bool:
        """Turn a stream whose request acted into its follow-up subscription, if that is one."""
        try:
            method, channels = _subscription(follow_up)
        except ValueError:
            return False
        self._release(state, state.channels)
        try:
            self._claim(channels)
        except ValueError:
            return False
        state.call = resume.call
        state.payload = _subscribe_payload(method, follow_up, channels)
        state.channels, state.private = channels, method.startswith("private/")
        state.repeatable, state.follow_up = True, None
        for channel in channels:
            self._by_channel[channel] = state
        return True

    def resubscribe(self) -> list[Outgoing]:
        """Requests that restore a new connection: the heartbeat the caller set (its answer swallowed),
        then every live public stream. Private streams wait for :meth:`authenticated`."""
        out = []
        if self.heartbeat is not None:
            req_id = next(self._ids)
            self._discard[req_id] = "public/set_heartbeat"
            params = {"interval": self.heartbeat}
            out.append(self._encode({"method": "public/set_heartbeat", "params": params}, req_id))
        lost = [s for s in list(self.streams.values()) if not s.private and s.key in self._offline]
        return out + [self._resend(s) for s in lost]

    def authenticated(self) -> list[Outgoing]:
        """The new connection is authenticated: requests that re-open the private streams it lost."""
        return [self._resend(s) for s in list(self.streams.values()) if s.private and s.key in self._offline]

    def _resend(self, state: StreamState) -> Outgoing:
        state.req_id = next(self._ids)
        state.resubscriptions += 1
        state.req_ids.add(state.req_id)
        self._offline.discard(state.key)
        self._by_req[state.req_id] = state
        return self._encode(state.payload, state.req_id)


def _subscription(payload: JsonObject) -> tuple[str, tuple[str, ...]]:
    """The subscribe method and the channels (in order, each once) of a subscribe request."""
    method = payload.get("method")
    if method not in _SUBSCRIBE:
        raise ValueError(f"a stream is opened by {' or '.join(_SUBSCRIBE)}, not by another method")
    params = payload.get("params")
    channels = params.get("channels") if isinstance(params, Mapping) else None
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) and c for c in channels):
        raise ValueError(f"{method}: 'params.channels' must be a non-empty list of channel names")
    return method, tuple(dict.fromkeys(channels))


def _subscribe_payload(method: str, payload: Mapping[str, Any], channels: tuple[str, ...]) -> JsonObject:
    """A copy of a subscribe request naming ``channels`` (the caller's dicts are never shared)."""
    params = payload.get("params")
    return {
        "method": method,
        "params": {**(params if isinstance(params, Mapping) else {}), "channels": list(channels)},
    }
