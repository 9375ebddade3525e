"""The boundary between generated clients and a transport.

A transport moves JSON objects: it sends a request payload and returns the matching answer, or
opens a subscription and yields its messages. Correlation (``req_id``), reconnects and errors on
the wire are the transport's business; models and validation are the client's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .calls import CallInfo

JsonObject = dict[str, Any]
#: A stream's message: decoded, or the frame as it came (``bytes``) for a consumer that reads frames
#: itself and asked for them (:attr:`deriv_runtime.stream_queue.StreamQueue.raw`).
StreamItem = JsonObject | bytes


@runtime_checkable
class Transport(Protocol):
    async def request(
        self, payload: JsonObject, *, timeout: float | None, info: CallInfo | None = None
    ) -> JsonObject:
        """Send ``payload`` and return the one answer to it (raising ``TransportError`` on failure).

        ``info`` tells whether the request may be sent twice (``info.repeatable``); a transport must
        never repeat one that is not.
        """
        ...

    def subscribe(
        self, payload: JsonObject, *, info: CallInfo | None = None, timeout: float | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamItem]]:
        """Send a subscribing ``payload``; yield its messages until the context exits (unsubscribing).

        ``timeout`` bounds the wait for the first answer; ``info`` says what to do after a reconnect.
        Messages are decoded objects, unless the consumer asked for frames (``bytes``).
        """
        ...
