"""Fault injection: what the knobs of the WebSocket and HTTP cores inject.

WebSocket: garbage frames (:data:`GARBAGE`), dropped connections (:data:`DropMode`). HTTP: forced
answers (:class:`RestFault`: a status, or a dropped connection) and delays, per operation key
(:class:`HttpFaults`). What a forced answer looks like is the API's business.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["GARBAGE", "DropMode", "GarbageKind", "HttpFaults", "RestFault"]

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
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (None: until cleared)")

    def take(self, key: str) -> RestFault | None:
        """The fault that answers this request to ``key`` (counted as used), if any."""
        for fault in self.faults:
            if fault.operation is not None and fault.operation != key:
                continue
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return fault
        return None

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
