"""Fault injection: what the knobs of the WebSocket and HTTP cores inject.

WebSocket: garbage frames (:data:`GARBAGE`), dropped connections (:data:`DropMode`), forced API
errors per call (:class:`CallFaults`). HTTP: forced answers (:class:`RestFault`: a status, or a
dropped connection) and delays, per operation key (:class:`HttpFaults`). What a forced answer looks
like is the API's business.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, TypeVar

__all__ = [
    "GARBAGE",
    "CallFault",
    "CallFaults",
    "DropMode",
    "GarbageKind",
    "HttpFaults",
    "RestFault",
    "ServingOptions",
    "check_count",
    "take_fault",
]

DropMode = Literal["abort", "close"]
GarbageKind = Literal["text", "binary", "array"]

#: A frame of each kind of garbage: not JSON, binary, JSON that is not an object.
GARBAGE: Mapping[str, str | bytes] = {
    "text": "}{ mock garbage: this frame is not JSON",
    "binary": b"\x00\xffmock garbage: a binary frame",
    "array": "[1, 2, 3]",
}


def garbage_cycle() -> itertools.cycle[str | bytes]:
    """Garbage frames of every kind, in turn, forever."""
    return itertools.cycle(GARBAGE[kind] for kind in ("text", "binary", "array"))


class CountedFault(Protocol):
    """A forced answer that counts down: ``remaining`` more (``None``: until cleared), ``hits`` used."""

    remaining: int | None
    hits: int


F = TypeVar("F", bound=CountedFault)


def check_count(count: int | None) -> None:
    """Refuse a fault's count below 1 (``None``: until cleared)."""
    if count is not None and count < 1:
        raise ValueError("count must be at least 1 (None: until cleared)")


def take_fault(faults: list[F], key: str | None, target: Callable[[F], str | None]) -> F | None:
    """The first of ``faults`` whose ``target`` is ``key`` or ``None`` (any), counted as used: its
    ``hits`` go up, its ``remaining`` down, and it leaves ``faults`` when none remain."""
    for fault in faults:
        wanted = target(fault)
        if wanted is not None and wanted != key:
            continue
        fault.hits += 1
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
        return fault
    return None


@dataclass(slots=True)
class RestFault:
    """A forced answer: ``status`` (0: drop the connection without answering) for ``remaining``
    more requests (``None``: until cleared) to ``operation`` (``None``: any)."""

    status: int
    operation: str | None
    remaining: int | None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    hits: int = 0


class HttpFaults:
    """The HTTP fault knobs: forced answers and delays, by operation key."""

    def __init__(self) -> None:
        #: Seconds to wait before answering every request.
        self.delay = 0.0
        #: Per-operation delays, overriding :attr:`delay`.
        self.delays: dict[str, float] = {}
        self.faults: list[RestFault] = []
        #: ``Retry-After`` (seconds) of forced 429 answers without their own.
        self.retry_after = 1.0

    def add(
        self,
        status: int,
        key: str | None,
        *,
        count: int | None = 1,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> RestFault:
        self.check(status, count)
        fault = RestFault(status, key, count, code, message, retry_after)
        self.faults.append(fault)
        return fault

    @staticmethod
    def check(status: int, count: int | None) -> None:
        """Refuse a status that is not 4xx, 5xx or 0 (drop), and a count below 1."""
        if status != 0 and not 400 <= status <= 599:
            raise ValueError(f"a forced status must be 4xx or 5xx (0: drop the connection), not {status}")
        check_count(count)

    def take(self, key: str) -> RestFault | None:
        """The fault that answers this request to ``key`` (counted as used), if any."""
        return take_fault(self.faults, key, lambda f: f.operation)

    def delay_for(self, key: str) -> float:
        return self.delays.get(key, self.delay)

    def retry_after_for(self, fault: RestFault) -> float | None:
        """The ``Retry-After`` of a forced answer: its own, else :attr:`retry_after` for a 429."""
        if fault.retry_after is not None:
            return fault.retry_after
        return self.retry_after if fault.status == 429 else None

    def clear(self) -> None:
        """Forget every pending fault and delay."""
        self.faults.clear()
        self.delays.clear()
        self.delay = 0.0


@dataclass(slots=True)
class CallFault:
    """A forced API error: ``code`` (and ``message``) answers ``remaining`` more requests
    (``None``: until cleared) to ``call`` (``None``: any); ``hits`` counts the requests it answered."""

    code: str
    call: str | None
    remaining: int | None
    message: str | None = None
    hits: int = 0


class CallFaults:
    """Forced API errors of a WebSocket API, by call (the first matching fault answers)."""

    def __init__(self) -> None:
        self.faults: list[CallFault] = []

    def add(
        self, code: str, call: str | None = None, *, count: int | None = 1, message: str | None = None
    ) -> CallFault:
        check_count(count)
        fault = CallFault(code, call, count, message)
        self.faults.append(fault)
        return fault

    def take(self, call: str | None) -> CallFault | None:
        """The fault that answers this request to ``call`` (counted as used), if any."""
        return take_fault(self.faults, call, lambda f: f.call)

    def clear(self) -> None:
        self.faults.clear()


class ServingOptions(TypedDict, total=False):
    """The core's serving and fault knobs, for API mocks that pass them through (``**serving``)."""

    host: str
    port: int
    tick_interval: float | None
    delay: float
    delay_calls: Mapping[str, float] | None
    garbage_every: int | None
    refuse_handshake: bool
    refuse_status: int
    ping_interval: float | None
    close_timeout: float
    max_queue: int
    serve_options: Mapping[str, Any] | None
