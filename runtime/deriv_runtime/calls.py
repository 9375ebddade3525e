"""Typed metadata about each generated call, available without importing any model.

It also carries what the runtime may do with a call after a lost connection (see
:class:`CallInfo.repeatable` and :class:`Resume`): that is data from the per-API override file,
with a fail-safe default derived from the schema, never a list of names in the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Resume:
    """How a stream whose request *acted* (bought a contract, started a run) carries on after a reconnect.

    Its request is never sent again. If the receipt arrived before the drop, the stream is re-opened
    as ``call`` for what the receipt names: ``request`` plus, for each ``(field, path)`` of
    ``from_receipt``, the value at ``path`` in the receipt (``("contract_id", ("buy", "contract_id"))``).
    """

    #: The call that follows the created thing (``"proposal_open_contract"``).
    call: str
    #: Constant fields of the follow-up request (``{"proposal_open_contract": 1, "subscribe": 1}``).
    request: tuple[tuple[str, Any], ...]
    #: Request field <- path of the value in the receipt.
    from_receipt: tuple[tuple[str, tuple[str, ...]], ...]

    def payload_from(self, receipt: Mapping[str, Any]) -> dict[str, Any] | None:
        """The follow-up request for ``receipt``, or ``None`` if the receipt lacks a value it needs."""
        payload = dict(self.request)
        for name, path in self.from_receipt:
            value: Any = receipt
            for key in path:
                if not isinstance(value, Mapping) or key not in value:
                    return None
                value = value[key]
            if value is None or isinstance(value, Mapping | list):
                return None
            payload[name] = value
        return payload


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the schema (and the API's override file) says about one WebSocket call."""

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
    #: The request only reads: after a reconnect its stream is sent again. ``False`` for anything that
    #: may place an order or move money (and, failing safe, for anything the API did not mark).
    repeatable: bool = False
    #: For a call that is not repeatable: how its stream carries on after a reconnect, if it can.
    resume: Resume | None = None
    #: For a call that is not repeatable: how a user finds out whether it took effect.
    check: str = ""
