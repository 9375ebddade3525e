"""The results of a traffic check (:mod:`deriv_runtime.traffic`): the verdict on each message
(:class:`Checked`, :class:`Violation`), what is read that is not JSON (:class:`Garbage`), and the
counts a drift report shows (:class:`Report`, :class:`Tally`, :class:`Example`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["request", "response", "notification"]
Status = Literal["ok", "drift", "broken", "error", "unknown", "garbage"]
#: Exit policies: fail on any strict violation, only on what breaks the tolerant reader, or never.
FAIL_ON = ("strict", "tolerant", "never")
FailOn = Literal["strict", "tolerant", "never"]


# -- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a message breaks its schema. Never holds the offending value."""

    #: Where, as wire names with list indexes folded (``account_list[*].currency``; ``<message>``).
    path: str
    #: The JSON-schema keyword broken (``type``, ``required``, ``additionalProperties``...).
    rule: str
    #: The validator's explanation, the value left out.
    detail: str
    #: Whether the tolerant reader ignores it (a strict-only violation: drift).
    tolerated: bool

    def __str__(self) -> str:
        return f"{self.path}: {self.detail} ({self.rule})"


@dataclass(frozen=True, slots=True)
class Checked:
    """The verdict on one message."""

    #: ``file:line`` (JSON Lines), ``file[3]`` (a JSON array), ``file`` (one JSON message).
    location: str
    status: Status
    #: ``request``, ``response`` or ``notification``; ``None`` for garbage.
    kind: Kind | None = None
    #: The call (``balance``, ``private/buy``, ``ticker.{instrument_name}.{interval}``,
    #: ``POST /trading/v1/options/accounts``); ``None`` when unknown.
    call: str | None = None
    violations: tuple[Violation, ...] = ()
    #: Why the call is unknown, or why the line is garbage.
    reason: str = ""
    #: The message with its secrets masked (garbage: the text, masked and shortened).
    message: Any = None

    @property
    def strict_ok(self) -> bool:
        return self.status in ("ok", "error")

    @property
    def tolerant_ok(self) -> bool:
        return self.status in ("ok", "drift", "error")


@dataclass(frozen=True, slots=True)
class Garbage:
    """What :func:`read_recording` yields for a line or value that is not a JSON object."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Example:
    """The first occurrence of something counted: where, what, and the message (secrets masked)."""

    location: str
    call: str | None
    kind: Kind | None
    message: Any
    violation: Violation | None = None
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"location": self.location, "call": self.call, "kind": self.kind}
        if self.violation is not None:
            v = self.violation
            out.update(path=v.path, rule=v.rule, detail=v.detail, tolerated=v.tolerated)
        if self.reason:
            out["reason"] = self.reason
        out["message"] = self.message
        return out


@dataclass(slots=True)
class Tally:
    """How many, and the first example."""

    count: int = 0
    #: Of :attr:`count`, how many break the tolerant reader (paths and rules) / how many
    #: messages are ``broken`` (calls).
    broken: int = 0
    first: Example | None = None
    #: Per status (calls only): ``{"ok": 3, "drift": 1}``.
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, example: Example, *, broken: bool = False, status: str | None = None) -> None:
        self.count += 1
        self.broken += broken
        if status is not None:
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if self.first is None:
            self.first = example

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "broken": self.broken}
        if self.statuses:
            out["statuses"] = dict(self.statuses)
        out["first"] = self.first.as_json() if self.first is not None else None
        return out


@dataclass
class Report:
    """What a check found: every verdict (:attr:`results`) and the counts a drift report shows."""

    source: str
    version: str
    files: list[str] = field(default_factory=list)
    results: list[Checked] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.statuses: dict[str, int] = dict.fromkeys(
            ("ok", "drift", "broken", "error", "unknown", "garbage"), 0
        )
        #: ``"balance (response)"`` -> messages of that call and kind.
        self.calls: dict[str, Tally] = {}
        #: ``"balance (response) balance.balance [type]"`` -> violations of that rule there.
        self.paths: dict[str, Tally] = {}
        #: ``"type"`` -> violations of that rule.
        self.rules: dict[str, Tally] = {}
        #: reason (naming the call) -> unknown messages.
        self.unknown: dict[str, Tally] = {}
        self.garbage = Tally()
        for result in list(self.results):
            self._count(result)

    def add(self, result: Checked) -> None:
        self.results.append(result)
        self._count(result)

    def _count(self, r: Checked) -> None:
        self.statuses[r.status] += 1
        example = Example(r.location, r.call, r.kind, r.message, reason=r.reason)
        if r.status == "garbage":
            self.garbage.add(example)
            return
        if r.status == "unknown":
            self.unknown.setdefault(r.reason, Tally()).add(example)
            return
        key = f"{r.call} ({r.kind})"
        self.calls.setdefault(key, Tally()).add(example, broken=r.status == "broken", status=r.status)
        for v in r.violations:
            seen = Example(r.location, r.call, r.kind, r.message, violation=v)
            self.paths.setdefault(f"{key} {v.path} [{v.rule}]", Tally()).add(seen, broken=not v.tolerated)
            self.rules.setdefault(v.rule, Tally()).add(seen, broken=not v.tolerated)

    @property
    def messages(self) -> int:
        """Messages read (garbage included)."""
        return len(self.results)

    def failures(self, fail_on: FailOn) -> int:
        """How many messages fail under the policy: ``strict`` - any violation, unknown call or
        garbage; ``tolerant`` - what the client cannot read (``broken``) and unknown calls;
        ``never`` - none."""
        s = self.statuses
        if fail_on == "strict":
            return s["drift"] + s["broken"] + s["unknown"] + s["garbage"]
        if fail_on == "tolerant":
            return s["broken"] + s["unknown"]
        return 0

    def exit_status(self, fail_on: FailOn = "tolerant") -> int:
        """``1`` if any message fails under the policy (:meth:`failures`), else ``0``."""
        return 1 if self.failures(fail_on) else 0

    def as_json(self) -> dict[str, Any]:
        """The report as JSON values (what ``--format json`` prints)."""
        return {
            "source": self.source,
            "version": self.version,
            "files": list(self.files),
            "messages": self.messages,
            "statuses": dict(self.statuses),
            "verdicts": {
                "strict": "pass" if not self.failures("strict") else "fail",
                "tolerant": "pass" if not self.failures("tolerant") else "fail",
            },
            "calls": {k: t.as_json() for k, t in sorted(self.calls.items())},
            "paths": {k: t.as_json() for k, t in sorted(self.paths.items())},
            "rules": {k: t.as_json() for k, t in sorted(self.rules.items())},
            "unknown": {k: t.as_json() for k, t in sorted(self.unknown.items())},
            "garbage": self.garbage.as_json(),
        }
