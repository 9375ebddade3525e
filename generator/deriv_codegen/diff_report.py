"""Reports of an :class:`~deriv_codegen.diff.ApiDiff`: a terminal report (rich), Markdown, and JSON.

All three list the same changes in the same order: first what breaks (senders or readers), then what
breaks strict readers only, then what is compatible, then the problems the reader reports for the
new release that it did not report for the old one (and those that are gone). Within a section,
changes are ordered by subject, part, JSON path and kind, so a report depends on the two bundles
only (never on time, paths on disk aside from the ``location`` fields, or dictionary order).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .diff import ApiDiff, Change, Impact

if TYPE_CHECKING:
    from rich.console import Console

#: Report sections: (title, predicate on a change).
_SECTIONS: tuple[tuple[str, Impact], ...] = (
    ("Breaking changes", "breaking"),
    ("Breaking for strict readers only", "strict"),
    ("Compatible changes", "none"),
)
_SUBJECT = {
    "api": "API",
    "operation": "call",
    "channel": "channel",
    "rest-schema": "REST-shaped schema",
    "problem": "problem",
}


def _section(diff: ApiDiff, impact: Impact) -> list[Change]:
    return [c for c in diff.changes if c.subject_type != "problem" and c.impact == impact]


def _problems(diff: ApiDiff) -> list[Change]:
    return [c for c in diff.changes if c.subject_type == "problem"]


def headline(diff: ApiDiff) -> str:
    """One line: how many changes, how many break senders and readers."""
    s = diff.summary()
    non_problem = sum(1 for c in diff.changes if c.subject_type != "problem")
    return (
        f"{non_problem} change(s): {s['breaking_for_senders']} breaking for senders, "
        f"{s['breaking_for_readers']} breaking for readers, {s['strict_for_readers']} for strict readers "
        f"only; {len(_problems(diff))} reported problem(s) new or gone"
    )


def _title(diff: ApiDiff) -> str:
    return f"{diff.source}: {diff.old.version} -> {diff.new.version}"


def _impact_word(impact: Impact) -> str:
    return {"breaking": "BREAKING", "strict": "strict", "none": "-"}[impact]


# -- Markdown -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def render_markdown(diff: ApiDiff) -> str:
    """The report as GitHub-flavoured Markdown, for a pull request or a CI summary."""
    lines = [f"# {_title(diff)}", "", headline(diff) + ".", ""]
    lines += ["| | old | new |", "|---|---|---|"]
    for label, a, b in _facts(diff):
        lines.append(f"| {label} | {_cell(a)} | {_cell(b)} |")
    lines.append("")
    for title, impact in _SECTIONS:
        changes = _section(diff, impact)
        lines += [f"## {title} ({len(changes)})", ""]
        if not changes:
            lines += ["None.", ""]
            continue
        lines += ["| subject | where | change | senders | readers |", "|---|---|---|---|---|"]
        for c in changes:
            subject = f"{_SUBJECT[c.subject_type]} `{_cell(c.subject)}`"
            where = f"`{_cell(c.where())}`" if c.where() else ""
            change = f"{c.kind}: {_cell(c.detail)}"
            lines.append(
                f"| {subject} | {where} | {change} | {_impact_word(c.senders)} | {_impact_word(c.readers)} |"
            )
        lines.append("")
    problems = _problems(diff)
    lines += [f"## Reported by the reader (new or gone) ({len(problems)})", ""]
    if not problems:
        lines += ["None.", ""]
    for c in problems:
        lines.append(f"- **{c.kind}** `{_cell(c.subject)}`: {_cell(c.detail)}")
    if problems:
        lines.append("")
    lines += [
        "_senders_: code that builds requests and calls; _readers_: code that reads answers and "
        "notifications. _strict_: breaks only readers that reject unknown values.",
        "",
    ]
    return "\n".join(lines)


def _facts(diff: ApiDiff) -> Iterable[tuple[str, str, str]]:
    o, n = diff.old, diff.new
    yield "version", o.version, n.version
    yield "sha256", o.sha256 or "(directory)", n.sha256 or "(directory)"
    yield "calls", str(o.operations), str(n.operations)
    if o.channels or n.channels:
        yield "channels", str(o.channels), str(n.channels)
    if o.rest_schemas or n.rest_schemas:
        yield "REST-shaped schemas", str(o.rest_schemas), str(n.rest_schemas)
    yield "problems reported", str(len(o.problems)), str(len(n.problems))


# -- terminal -------------------------------------------------------------------------------------


def _who(c: Change) -> str:
    """``senders: BREAKING, readers: strict`` (only the parties affected)."""
    parts = [
        f"{who}: {_impact_word(i)}"
        for who, i in (("senders", c.senders), ("readers", c.readers))
        if i != "none"
    ]
    return ", ".join(parts) or "compatible"


def render_text(diff: ApiDiff, console: Console) -> None:
    """The report on a rich console: a summary, then each section's changes grouped by subject."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text(_title(diff), style="bold"))
    console.print(headline(diff))
    facts = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("", "old", "new"):
        facts.add_column(column, overflow="fold")
    for label, a, b in _facts(diff):
        short = 16 if label == "sha256" else None
        facts.add_row(label, a[:short], b[:short])
    console.print(facts)
    styles = {"breaking": "bold red", "strict": "yellow", "none": "green"}
    for title, impact in _SECTIONS:
        changes = _section(diff, impact)
        console.print()
        console.print(Text(f"{title} ({len(changes)})", style=styles[impact] + " underline"))
        subjects: dict[tuple[str, str], list[Change]] = {}
        for c in changes:
            subjects.setdefault((c.subject_type, c.subject), []).append(c)
        for (kind, subject), group in subjects.items():
            console.print(Text(f"  {_SUBJECT[kind]} {subject}", style="bold"))
            table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 1))
            table.add_column("", width=3)
            table.add_column("where", overflow="fold", ratio=2)
            table.add_column("change", overflow="fold", ratio=3)
            table.add_column("who", overflow="fold", ratio=2, style=styles[impact])
            for c in group:
                table.add_row("", c.where() or "(whole)", f"{c.kind}: {c.detail}", _who(c))
            console.print(table)
    problems = _problems(diff)
    console.print()
    console.print(Text(f"Reported by the reader, new or gone ({len(problems)})", style="bold underline"))
    for c in problems:
        console.print(Text(f"  {c.kind}: {c.subject}: {c.detail}"))


def text_report(diff: ApiDiff, width: int = 160) -> str:
    """The terminal report as plain text (no colours), e.g. for ``--output FILE``."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    render_text(diff, Console(file=buffer, width=width, color_system=None, force_terminal=False))
    return buffer.getvalue()
