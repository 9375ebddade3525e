"""How a field change is classified for senders and readers (the rules of :mod:`deriv_codegen.diff`)."""

from __future__ import annotations

from .diff_model import Impact, Role
from .schema_diff import FieldChange, FieldChangeKind

#: Field changes in data the client sends: what breaks senders.
_SEND_BREAKING: frozenset[FieldChangeKind] = frozenset(
    {
        "field-removed",
        "became-required",
        "type-narrowed",
        "type-changed",
        "enum-removed",
        "pattern-added",
        "pattern-changed",
        "bound-tightened",
        "format-added",
        "format-changed",
        "closed",
        "alternatives-changed",
    }
)
#: Field changes in data the client reads: what breaks every reader, and what breaks strict ones.
_READ_BREAKING: frozenset[FieldChangeKind] = frozenset(
    {"field-removed", "became-optional", "type-widened", "type-changed", "alternatives-changed"}
)
_READ_STRICT: frozenset[FieldChangeKind] = frozenset(
    {
        "enum-added",
        "pattern-removed",
        "pattern-changed",
        "bound-loosened",
        "format-removed",
        "format-changed",
        "opened",
    }
)


def classify(change: FieldChange, role: Role) -> tuple[Impact, Impact]:
    """``(senders, readers)`` impact of a field change in data that is sent or read."""
    if role == "send":
        if change.kind == "field-added":
            return ("breaking" if change.required else "none"), "none"
        return ("breaking" if change.kind in _SEND_BREAKING else "none"), "none"
    if change.kind == "field-added":
        return "none", "strict" if change.parent_closed else "none"
    if change.kind in _READ_BREAKING:
        return "none", "breaking"
    return "none", "strict" if change.kind in _READ_STRICT else "none"
