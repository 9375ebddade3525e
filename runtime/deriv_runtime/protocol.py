"""Sans-I/O core of the Deriv WebSocket protocol: encoding, correlation, stream routing.

No sockets, no event loop: :class:`Protocol` is fed frames and asked for frames, and tells the
I/O layer what each incoming frame means. The asyncio transport (:mod:`deriv_runtime.ws`) wraps it;
tests drive it directly.

* Every request gets a fresh ``req_id``; the answer carrying it is a :class:`Reply`.
* A subscribing request opens a :class:`StreamState`; every message carrying its ``req_id`` (or its
  subscription id) is a :class:`StreamMessage` for that stream.
* After a reconnect, :meth:`Protocol.resubscribe` re-sends each live stream's request with a new
  ``req_id``; the stream object (and the user's iterator) stays the same. Only *repeatable* requests
  (those that only read) are ever sent twice. A stream whose request acted (a purchase) carries on
  as its follow-up stream (``proposal_open_contract`` for the bought contract) if its receipt arrived,
  and otherwise ends: :meth:`Protocol.connection_lost` returns it as *stranded*.
* Streams that need an authorized connection (``CallInfo.auth_required``: ``balance``,
  ``transaction``, ``buy``) are *private*: after a reconnect :meth:`Protocol.resubscribe` re-opens
  the public ones and :meth:`Protocol.authenticated` the private ones, as in
  :class:`~deriv_runtime.jsonrpc.JsonRpcProtocol`. The transport runs its ``on_connect`` hook (the
  v3 ``authorize``) first and then sends both, so nothing private goes out on a connection that is
  not authorized again; without a hook (the Options API, whose OTP URL authorizes the connection)
  it sends both at once, and every stream comes back as before.
* Answers nobody waits for (late, unknown ``req_id``, garbage) are :class:`Ignored`, never delivered
  to another call.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from .calls import Resume
from .wire import Event, Ignored, JsonObject, Outgoing, Reply, StreamMessage, StreamState

__all__ = ["Event", "Ignored", "Outgoing", "Protocol", "Reply", "StreamMessage", "StreamState"]


#: Calls whose answers may stop streams (:meth:`Protocol._stopped_by`).
_STOPPING = frozenset({"forget", "forget_all"})
_REQ_ID = b'"req_id":'
_MSG_TYPE = b'"msg_type":"'


def frame_req_id(data: bytes) -> int | None:
    """The ``req_id`` a Deriv frame carries, read without decoding it: the value of the *last*
    ``"req_id":`` in the text (Deriv writes its keys in order, so ``echo_req`` and ``passthrough``,
    which may carry one too, come before the message's own). A guess that routes a frame quickly:
    whoever reads the frame checks it against the decoded message (:meth:`Protocol.route_raw`)."""
    at = data.rfind(_REQ_ID)
    if at < 0:
        return None
    start = at + len(_REQ_ID)
    end = data.find(b",", start, start + 20)
    if end < 0:
        end = data.find(b"}", start, start + 20)
    value = data[start:end]
    return int(value) if end > start and value.isdigit() else None


def frame_msg_type(data: bytes) -> str | None:
    """The ``msg_type`` a Deriv frame names, read without decoding it (the first one in the text; a
    hint for which model to validate the frame as: a wrong one fails validation)."""
    at = data.find(_MSG_TYPE)
    if at < 0:
        return None
    start = at + len(_MSG_TYPE)
    end = data.find(b'"', start, start + 64)
    return data[start:end].decode("ascii", "replace") if end > start else None


class Protocol:
    """Deriv's WebSocket framing; a :class:`~deriv_runtime.wire.Wire`."""

    def __init__(self) -> None:
        #: Calls whose streams are private when :meth:`open_stream` is not told (the client adds a
        #: call here from its ``CallInfo.auth_required`` before it opens the stream).
        self.private_calls: set[str] = set()
        #: Keys of the live streams the last lost connection took down and nobody re-opened yet.
        self._offline: set[int] = set()
        self._ids = itertools.count(1)
        self._keys = itertools.count(1)
        #: req_id -> call name of every request still waiting for its answer.
        self.pending: dict[int, str] = {}
        #: req_ids whose answers we do not need (our own ``forget`` requests).
        self._discard: set[int] = set()
        self._by_req: dict[int, StreamState] = {}
        self._by_sub: dict[str, StreamState] = {}
        self.streams: dict[int, StreamState] = {}

    # -- outgoing ---------------------------------------------------------------------------------

    def label(self, payload: JsonObject) -> str:
        return next(iter(payload), "?")

    def _encode(self, payload: JsonObject, req_id: int) -> Outgoing:
        return Outgoing(req_id, orjson.dumps({**payload, "req_id": req_id}).decode())

    def call(self, call: str, payload: JsonObject) -> Outgoing:
        req_id = next(self._ids)
        self.pending[req_id] = call
        return self._encode(payload, req_id)

    def abandon(self, req_id: int) -> None:
        """The caller stopped waiting (timeout, cancellation): its answer, if it comes, is dropped."""
        self.pending.pop(req_id, None)

    def open_stream(
        self,
        call: str,
        payload: JsonObject,
        *,
        repeatable: bool = True,
        resume: Resume | None = None,
        private: bool | None = None,
    ) -> tuple[StreamState, Outgoing]:
        """Register a stream. ``repeatable=False``: never send ``payload`` again (it acts, e.g. buys);
        after a drop the stream carries on as ``resume`` describes, or ends as stranded.
        ``private``: the stream needs an authorized connection (``None``: if ``call`` is one of
        :attr:`private_calls`)."""
        req_id = next(self._ids)
        state = StreamState(
            next(self._keys),
            call,
            dict(payload),
            req_id,
            repeatable=repeatable,
            resume=resume,
            private=call in self.private_calls if private is None else private,
        )
        self.streams[state.key] = state
        self._by_req[req_id] = state
        state.req_ids.add(req_id)
        return state, self._encode(payload, req_id)

    def close_stream(self, state: StreamState) -> Outgoing | None:
        """Forget a stream locally; returns the ``forget`` request to send if the server knows it."""
        self._end(state)
        if state.subscription_id is None:
            return None
        req_id = next(self._ids)
        self._discard.add(req_id)
        return self._encode({"forget": state.subscription_id}, req_id)

    def _end(self, state: StreamState) -> None:
        state.ended = True
        self._offline.discard(state.key)
        self.streams.pop(state.key, None)
        self._by_req.pop(state.req_id, None)
        if state.subscription_id is not None:
            self._by_sub.pop(state.subscription_id, None)

    # -- incoming ---------------------------------------------------------------------------------

    def receive(self, data: str | bytes) -> Event:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            return Ignored("frame is not JSON")
        if type(message) is not dict:
            return Ignored("frame is not a JSON object")
        req_id = message.get("req_id")
        if type(req_id) is int:  # the hot path: one more message of a stream that is up and running
            state = self._by_req.get(req_id)
            if (
                state is not None
                and state.subscription_id is not None
                and state.repeatable
                and "error" not in message
            ):
                return StreamMessage(state, message)
        return self._route(message, req_id)

    def route_raw(self, data: bytes) -> StreamState | None:
        """The running stream a frame is one more message of, found without decoding it (``None``:
        decode it and :meth:`receive` it): the stream holding the ``req_id`` the text carries
        (:func:`frame_req_id`), subscribed and repeatable, as on :meth:`receive`'s hot path. The
        reader checks the decoded message (its ``req_id`` one of the stream's, no ``error``) and
        hands any other frame back to :meth:`receive`."""
        if not self._by_req:
            return None
        req_id = frame_req_id(data)
        state = self._by_req.get(req_id) if req_id is not None else None
        if state is None or state.subscription_id is None or not state.repeatable:
            return None
        return state

    def _route(self, message: JsonObject, req_id: Any) -> Event:
        """Every message but a running stream's: its first answer, errors, receipts, replies."""
        state = self._by_req.get(req_id) if isinstance(req_id, int) else None
        if state is None:
            sub = message.get("subscription")
            if isinstance(sub, dict) and isinstance(sub.get("id"), str):
                state = self._by_sub.get(sub["id"])
        if state is not None:
            if state.subscription_id is None:
                sub = message.get("subscription")
                if isinstance(sub, dict) and isinstance(sub.get("id"), str):
                    state.subscription_id = sub["id"]
                    self._by_sub[sub["id"]] = state
            if "error" in message:
                self._end(state)  # the server will send nothing more on it
            elif not state.repeatable and state.follow_up is None and state.resume is not None:
                state.follow_up = state.resume.payload_from(message)
            return StreamMessage(state, message)
        if not isinstance(req_id, int):
            return Ignored("answer without req_id")
        if self.pending.pop(req_id, None) is not None:
            if message.get("msg_type") in _STOPPING:
                return Reply(req_id, message, self._stopped_by(message))
            return Reply(req_id, message, [])
        if req_id in self._discard:
            self._discard.discard(req_id)
            return Ignored("answer to forget", req_id, quiet=True)
        return Ignored("answer to a request nobody is waiting for (late or unknown req_id)", req_id)

    def _stopped_by(self, message: JsonObject) -> list[StreamState]:
        msg_type = message.get("msg_type")
        ids: list[Any] = []
        if msg_type == "forget_all" and isinstance(message.get("forget_all"), list):
            ids = message["forget_all"]
        elif msg_type == "forget" and message.get("forget") == 1:
            echo = message.get("echo_req")
            ids = [echo.get("forget")] if isinstance(echo, dict) else []
        ended = [self._by_sub[i] for i in ids if isinstance(i, str) and i in self._by_sub]
        for state in ended:
            self._end(state)
        return ended

    # -- connection life --------------------------------------------------------------------------

    def connection_lost(self) -> tuple[list[int], list[StreamState]]:
        """Every waiting call fails; streams keep their place, to be resubscribed.

        Returns the failed req_ids and the *stranded* streams: non-repeatable ones whose receipt had
        not arrived (ended here, flagged ``outcome_unknown``; their request is never sent again).
        A non-repeatable stream whose receipt arrived becomes its follow-up stream (private if it
        was: it follows what the account bought).
        """
        failed = list(self.pending)
        self.pending.clear()
        self._discard.clear()
        self._by_req.clear()
        self._by_sub.clear()
        stranded: list[StreamState] = []
        for state in list(self.streams.values()):
            state.subscription_id = None
            if state.repeatable:
                continue
            if state.follow_up is not None and state.resume is not None:
                state.call, state.payload = state.resume.call, state.follow_up
                state.repeatable, state.follow_up = True, None
                state.private = state.private or state.call in self.private_calls
            else:
                state.outcome_unknown = True
                self._end(state)
                stranded.append(state)
        self._offline = set(self.streams)
        return failed, stranded

    def resubscribe(self) -> list[Outgoing]:
        """Requests that re-open the live public streams on a new connection (the private ones wait
        for :meth:`authenticated`)."""
        return [
            self._resend(state)
            for state in list(self.streams.values())
            # not repeatable: connection_lost() ended or converted it; never sent twice
            if state.repeatable and not state.private and state.key in self._offline
        ]

    def authenticated(self) -> list[Outgoing]:
        """The new connection is authorized (the transport's ``on_connect`` returned, or it has none):
        requests that re-open the private streams it lost. Each lost stream is re-opened once."""
        return [
            self._resend(state)
            for state in list(self.streams.values())
            if state.repeatable and state.private and state.key in self._offline
        ]

    def _resend(self, state: StreamState) -> Outgoing:
        self._offline.discard(state.key)
        state.req_id = next(self._ids)
        state.resubscriptions += 1
        state.req_ids.add(state.req_id)
        self._by_req[state.req_id] = state
        return self._encode(state.payload, state.req_id)
