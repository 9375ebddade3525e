"""The request pipeline an HTTP API plugs into: recording, delays and forced faults.

An API is an :class:`HttpApi`: it routes a request to an operation key (``"METHOD /template"``, or
any name it likes) or answers it at once (404, 405); it answers a routed request, and a forced fault.
:class:`HttpService` does the rest, the same for every API::

    service = HttpService(my_api, logging.getLogger("my.mock"))
    await HTTPServer(service.handle).start("127.0.0.1", 0)
    service.faults.add(503, "GET /v1/thing")     # the next request to it: a forced 503
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Collection
from typing import Protocol

from .faults import HttpFaults, RestFault
from .http import HTTPRequest, HTTPResponse
from .record import SECRET_KEYS, Journal, RestRequestRecord, record_request

__all__ = ["HttpApi", "HttpService"]


class HttpApi(Protocol):
    """What an HTTP API gives the pipeline. ``started`` is ``time.monotonic()`` at arrival."""

    def route(self, request: HTTPRequest, started: float) -> str | HTTPResponse:
        """The key of the operation ``request`` is for, or the answer when it is for none."""
        ...

    def respond(self, request: HTTPRequest, key: str, started: float) -> HTTPResponse:
        """Answer a request routed to ``key`` (no fault forced)."""
        ...

    def fault(
        self, request: HTTPRequest, key: str, fault: RestFault, retry_after: float | None, started: float
    ) -> HTTPResponse:
        """The forced answer (``fault.status``, 4xx or 5xx) to a request routed to ``key``."""
        ...

    def failure(self, request: HTTPRequest, started: float) -> HTTPResponse:
        """The answer when the API failed on ``request`` (an unexpected exception)."""
        ...


class HttpService:
    """Records each request (secrets redacted), routes it, waits its delay, forces its fault or
    lets the API answer; counts answers by operation key and status. The values of ``secret_keys``
    in queries and bodies are recorded as ``<redacted>``."""

    def __init__(
        self, api: HttpApi, logger: logging.Logger, *, secret_keys: Collection[str] = SECRET_KEYS
    ) -> None:
        self.api = api
        self.log = logger
        self.secret_keys = frozenset(secret_keys)
        #: Forced answers and delays (keys: what :meth:`HttpApi.route` returns).
        self.faults = HttpFaults()
        #: Every request received, in order (secrets redacted).
        self.requests: list[RestRequestRecord] = []
        #: Answers by operation key and status.
        self.answers: Counter[tuple[str, int]] = Counter()
        #: Where each request is also journaled once answered (kind ``http``; ``None``: nowhere).
        self.journal: Journal | None = None

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        """The :class:`~.http.HTTPServer` handler."""
        started = time.monotonic()
        record = record_request(request, time.time(), self.secret_keys)
        self.requests.append(record)
        try:
            response = await self._dispatch(request, record, started)
        except Exception:
            self.log.exception("mock REST: %s %s failed", request.method, request.path)
            response = self.api.failure(request, started)
        if response.disconnect:
            self.log.info("mock REST: %s %s -> connection dropped (fault)", request.method, request.path)
        else:
            record.status = response.status
            self.answers[(record.operation or f"{request.method} {request.path}", response.status)] += 1
            self.log.info("mock REST: %s %s -> %d", request.method, request.path, response.status)
        if self.journal is not None:
            self.journal.add(
                "http",
                method=record.method,
                path=record.path,
                query=record.query,
                body=record.body,
                operation=record.operation,
                status=record.status,
            )
        return response

    async def _dispatch(
        self, request: HTTPRequest, record: RestRequestRecord, started: float
    ) -> HTTPResponse:
        routed = self.api.route(request, started)
        if isinstance(routed, HTTPResponse):
            return routed
        record.operation = routed
        delay = self.faults.delay_for(routed)
        if delay and delay > 0:
            await asyncio.sleep(delay)
        fault = self.faults.take(routed)
        if fault is None:
            return self.api.respond(request, routed, started)
        if fault.status == 0:
            return HTTPResponse(0, disconnect=True)
        return self.api.fault(request, routed, fault, self.faults.retry_after_for(fault), started)
