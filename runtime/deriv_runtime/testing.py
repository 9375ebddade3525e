"""An in-memory transport for tests and examples: a function answers each request.

``handler(payload)`` returns the answer (a dict) for a request, or an iterable of messages for a
subscription. ``req_id``, ``echo_req`` and ``msg_type`` are filled in when the handler omits them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from .transport import JsonObject

Handler = Callable[[JsonObject], JsonObject | Iterable[JsonObject]]


class InMemoryTransport:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._next_id = 0
        #: Every payload sent, in order.
        self.sent: list[JsonObject] = []

    def _complete(self, payload: JsonObject, answer: JsonObject, req_id: int) -> JsonObject:
        message: dict[str, Any] = {"echo_req": payload, "req_id": req_id}
        message.update(answer)
        return message

    async def request(self, payload: JsonObject, *, timeout: float | None, **_: Any) -> JsonObject:
        self._next_id += 1
        sent = {**payload, "req_id": self._next_id}
        self.sent.append(sent)
        answer = self._handler(sent)
        if not isinstance(answer, dict):
            answer = next(iter(answer))
        return self._complete(payload, answer, self._next_id)

    @asynccontextmanager
    async def subscribe(self, payload: JsonObject, **_: Any) -> AsyncIterator[AsyncIterator[JsonObject]]:
        self._next_id += 1
        req_id = self._next_id
        sent = {**payload, "req_id": req_id}
        self.sent.append(sent)
        answers = self._handler(sent)
        batch = [answers] if isinstance(answers, dict) else list(answers)

        async def messages() -> AsyncIterator[JsonObject]:
            for answer in batch:
                yield self._complete(payload, answer, req_id)

        yield messages()
