"""Typed metadata about each generated call, available without importing any model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the schema says about one WebSocket call."""

    #: The call's name, also the request key (``"ticks"``).
    name: str
    #: The call needs an authenticated connection.
    auth_required: bool
    #: OAuth scopes the call needs (``("trade",)``).
    auth_scopes: tuple[str, ...]
    #: The call accepts ``subscribe=1`` and then keeps sending messages.
    streams: bool
    #: Every ``msg_type`` the call answers with.
    msg_types: tuple[str, ...]
