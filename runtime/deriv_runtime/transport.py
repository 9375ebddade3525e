"""The boundary between generated clients and a transport.

A transport moves JSON objects: it sends a request payload and returns the matching answer, or
opens a subscription and yields its messages. Correlation (``req_id``), reconnects and errors on
the wire are the transport's business; models and validation are the client's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

JsonObject = dict[str, Any]


@runtime_checkable
class Transport(Protocol):
    async def request(self, payload: JsonObject, *, timeout: float | None) -> JsonObject:
        """Send ``payload`` and return the one answer to it (raising ``TransportError`` on failure)."""
        ...

    def subscribe(self, payload: JsonObject) -> AbstractAsyncContextManager[AsyncIterator[JsonObject]]:
        """Send a subscribing ``payload``; yield its messages until the context exits (unsubscribing)."""
        ...
