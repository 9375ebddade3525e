"""Errors of the build step and the run report.

    CodegenError            anything that stops a build step, with a message saying what to do
    ├── SourcesError        sources.toml missing, malformed, or naming an unknown source
    ├── FetchError          a bundle cannot be obtained or fails verification
    │   └── ChecksumMismatch
    └── BundleError         a bundle is readable but not of the expected layout
        └── LimitExceeded   a bundle exceeds a limit of :class:`~deriv_codegen.limits.Limits`

Problems that do not stop a run (a schema the reader cannot interpret, a dropped constraint) are
collected in a :class:`Report` and printed at the end of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


class CodegenError(Exception):
    """Base class of the build step's errors; ``str()`` is a complete, user-facing message."""


class SourcesError(CodegenError):
    pass


class FetchError(CodegenError):
    pass


class ChecksumMismatch(FetchError):
    pass


class BundleError(CodegenError):
    pass


class LimitExceeded(BundleError):
    """A bundle is over one of the build step's limits (``limit`` names it); always stops the run.

    Readers that report an unreadable file as a problem and go on must let this one through.
    """

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


Severity = Literal["warning", "skipped"]


@dataclass(frozen=True, order=True)
class Problem:
    """Something the pipeline could not (fully) interpret; reported, never silently dropped."""

    where: str
    what: str
    severity: Severity = "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.what}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)

    def add(self, where: str, what: str, severity: Severity = "warning") -> None:
        self.problems.append(Problem(where, what, severity))

    def extend(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)

    def sorted(self) -> list[Problem]:
        return sorted(set(self.problems))
