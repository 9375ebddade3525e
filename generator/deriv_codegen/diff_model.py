"""The data model of ``deriv-codegen diff``: a :class:`Change`, the two :class:`Side` s compared, and the
:class:`ApiDiff` holding them (see :mod:`deriv_codegen.diff`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .errors import Problem

Impact = Literal["breaking", "strict", "none"]
#: What a change is about.
SubjectType = Literal["api", "operation", "channel", "rest-schema", "problem"]
#: Where in a subject: ``request``/``response`` (``response 404``), ``notification``, ``channel
#: parameters``, or ``""`` for the subject as a whole.
Role = Literal["send", "read"]

IMPACTS: tuple[Impact, ...] = ("breaking", "strict", "none")
_RANK = {"breaking": 0, "strict": 1, "none": 2}
#: JSON format of :meth:`ApiDiff.to_json`; raised when fields change meaning.
JSON_FORMAT_VERSION = 1


@dataclass(frozen=True, order=True)
class Change:
    """One difference between the releases, classified for senders and readers."""

    subject_type: SubjectType
    #: The call (``ticks``, ``GET /v1/health``, ``public/get_order_book``), channel name template,
    #: REST-shaped schema name, ``servers``..., or the file a problem is about.
    subject: str
    #: ``request``, ``response``, ``response 404``, ``notification``, ``parameters``, ``auth``, ``""``.
    part: str
    #: A JSON path inside ``part`` (``$.data[*].balance``), ``""`` for the part as a whole.
    path: str
    kind: str
    detail: str
    senders: Impact = "none"
    readers: Impact = "none"

    @property
    def impact(self) -> Impact:
        """The worse of :attr:`senders` and :attr:`readers`."""
        return min(self.senders, self.readers, key=_RANK.__getitem__)

    def where(self) -> str:
        return " ".join(p for p in (self.part, self.path) if p)


@dataclass(frozen=True)
class Side:
    """One of the two bundles compared."""

    source: str
    version: str
    sha256: str
    location: str
    operations: int
    channels: int
    rest_schemas: int
    problems: tuple[Problem, ...]


@dataclass
class ApiDiff:
    """Every change from ``old`` to ``new``, in a stable order (by subject, part, path, kind)."""

    source: str
    layout: str
    old: Side
    new: Side
    changes: list[Change] = field(default_factory=list)

    def count(self, impact: Impact, who: Role | None = None) -> int:
        """Changes with this impact for senders (``send``), readers (``read``), or either (``None``)."""
        if who == "send":
            return sum(1 for c in self.changes if c.senders == impact)
        if who == "read":
            return sum(1 for c in self.changes if c.readers == impact)
        return sum(1 for c in self.changes if c.impact == impact)

    @property
    def breaking(self) -> bool:
        return any(c.impact == "breaking" for c in self.changes)

    @property
    def strict_breaking(self) -> bool:
        return any(c.impact != "none" for c in self.changes)

    def summary(self) -> dict[str, int]:
        return {
            "changes": len(self.changes),
            "breaking_for_senders": self.count("breaking", "send"),
            "breaking_for_readers": self.count("breaking", "read"),
            "strict_for_readers": self.count("strict", "read"),
            "compatible": self.count("none"),
        }

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stable key order) for CI: sides, summary, and every change."""

        def side(s: Side) -> dict[str, Any]:
            d = asdict(s)
            d["problems"] = [asdict(p) for p in s.problems]
            return d

        return {
            "format": JSON_FORMAT_VERSION,
            "source": self.source,
            "layout": self.layout,
            "old": side(self.old),
            "new": side(self.new),
            "summary": self.summary(),
            "breaking": self.breaking,
            "changes": [{**asdict(c), "impact": c.impact} for c in self.changes],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
