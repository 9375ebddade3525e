"""The drift report of a traffic check (:mod:`deriv_runtime.traffic`) as text, Markdown or JSON, and
the command line that prints it: ``deriv-check`` (``python -m deriv_runtime.traffic_report``)
against an installed generated package, and ``deriv-codegen check`` against a pinned release or a
bundle (same options, same report).

::

    deriv-check --package deriv_options recordings/*.jsonl
    deriv-check --package deribit_api --format markdown --fail-on strict session.json > drift.md

Exit status: ``0`` when nothing fails under ``--fail-on`` (default ``tolerant``: what the generated
client cannot read, and unknown calls; ``strict``: any schema violation, unknown call or garbage;
``never``), ``1`` when something does, ``2`` when the check cannot run (no such file or package).

The text format uses rich tables when rich is installed and the output is a terminal, plain text
otherwise (the runtime does not depend on rich).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import IO, cast

from .traffic import FAIL_ON, Contract, FailOn, Report, Tally, check_files

__all__ = ["FORMATS", "add_arguments", "main", "render", "run"]

FORMATS = ("text", "markdown", "json")
#: At most this many rows per table of the text and Markdown reports (JSON has every row).
MAX_ROWS = 50
_STATUSES = ("ok", "drift", "broken", "error", "unknown", "garbage")


def render(report: Report, fmt: str = "text") -> str:
    """``report`` as ``text`` (plain), ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(report.as_json(), indent=1, ensure_ascii=False, default=str) + "\n"
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "text":
        return _text(report)
    raise ValueError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")


def _summary(report: Report) -> list[str]:
    counts = " · ".join(f"{report.statuses[s]} {s}" for s in _STATUSES)
    verdicts = "  ".join(
        f"{policy}: {'FAIL' if report.failures(policy) else 'pass'} ({report.failures(policy)})"
        for policy in ("tolerant", "strict")
    )
    files = len(report.files)
    return [
        f"{report.source} {report.version}: {report.messages} message(s) in {files} file(s)",
        f"  {counts}",
        f"  verdicts - {verdicts}",
    ]


def _example(tally: Tally) -> str:
    first = tally.first
    if first is None:
        return ""
    if first.violation is not None:
        return f"{first.location}: {first.violation.detail}"
    if first.reason:
        return f"{first.location}: {first.reason}"
    return first.location


def _rows(report: Report) -> dict[str, list[list[str]]]:
    """The tables of the report: title -> rows (the first row is the header)."""
    tables: dict[str, list[list[str]]] = {}
    calls = [["call", "messages", *_STATUSES[:4]]]
    for key, t in sorted(report.calls.items()):
        calls.append([key, str(t.count), *(str(t.statuses.get(s, 0)) for s in _STATUSES[:4])])
    tables["calls"] = calls
    paths = [["call, path [rule]", "count", "breaks reader", "first example"]]
    for key, t in sorted(report.paths.items(), key=lambda kv: (-kv[1].broken, -kv[1].count, kv[0])):
        paths.append([key, str(t.count), str(t.broken), _example(t)])
    tables["paths"] = paths
    rules = [["rule", "count", "breaks reader", "first example"]]
    for key, t in sorted(report.rules.items(), key=lambda kv: (-kv[1].count, kv[0])):
        where = ""
        if t.first is not None and t.first.violation is not None:
            where = f"{t.first.call} ({t.first.kind}) {t.first.violation.path} - "
        rules.append([key, str(t.count), str(t.broken), where + _example(t)])
    tables["rules"] = rules
    unknown = [["unknown call", "count", "first example"]]
    for key, t in sorted(report.unknown.items(), key=lambda kv: (-kv[1].count, kv[0])):
        unknown.append([key, str(t.count), t.first.location if t.first is not None else ""])
    tables["unknown calls"] = unknown
    garbage = [["garbage (first reason)", "count", "first example"]]
    if report.garbage.count and report.garbage.first is not None:
        first = report.garbage.first
        garbage.append([first.reason, str(report.garbage.count), f"{first.location}: {first.message}"])
    tables["garbage"] = garbage
    return tables


def _text(report: Report) -> str:
    lines = _summary(report)
    for title, rows in _rows(report).items():
        if len(rows) == 1:
            continue
        lines += ["", f"{title}:"]
        shown = rows[: MAX_ROWS + 1]
        widths = [max(len(r[i]) for r in shown) for i in range(len(rows[0]) - 1)]
        for row in shown:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
            lines.append("  " + "  ".join(cells).rstrip())
        if len(rows) > len(shown):
            lines.append(f"  ... and {len(rows) - len(shown)} more (--format json lists every one)")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report) -> str:
    head, counts, verdicts = _summary(report)
    lines = [f"## Traffic check: {_md_cell(head)}", "", counts.strip(), "", f"**{verdicts.strip()}**"]
    for title, rows in _rows(report).items():
        if len(rows) == 1:
            continue
        lines += ["", f"### {title.capitalize()}", ""]
        lines.append("| " + " | ".join(rows[0]) + " |")
        lines.append("|" + "---|" * len(rows[0]))
        for row in rows[1 : MAX_ROWS + 1]:
            lines.append(
                "| "
                + " | ".join(f"`{_md_cell(c)}`" if i == 0 else _md_cell(c) for i, c in enumerate(row))
                + " |"
            )
        if len(rows) > MAX_ROWS + 1:
            lines.append(f"\n{len(rows) - MAX_ROWS - 1} more rows: see the JSON report.")
    return "\n".join(lines) + "\n"


def _print_rich(report: Report, stream: IO[str]) -> bool:
    """The text report with rich tables, if rich is installed; ``False`` otherwise."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return False
    console = Console(file=stream)
    for line in _summary(report):
        console.print(line, markup=False, highlight=False)
    for title, rows in _rows(report).items():
        if len(rows) == 1:
            continue
        table = Table(title=title, title_justify="left")
        for name in rows[0]:
            table.add_column(name, overflow="fold")
        for row in rows[1 : MAX_ROWS + 1]:
            table.add_row(*row)
        console.print(table)
    return True


# -- command line ----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``deriv-check`` and ``deriv-codegen check`` (files, format, policy)."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="recordings: JSON (one message or an array) or JSON Lines; '-' reads standard input",
    )
    parser.add_argument(
        "--method",
        help="JSON-RPC: the method of answers whose request is not in the same recording",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    parser.add_argument(
        "--output", "-o", metavar="PATH", help="write the report to this file instead of standard output"
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="tolerant",
        help="exit 1 on: strict - any schema violation, unknown call or garbage; tolerant (default) - "
        "messages the generated client cannot read, and unknown calls; never",
    )


def run(args: argparse.Namespace, contract: Callable[[], Contract], out: IO[str] | None = None) -> int:
    """Check ``args.files`` against ``contract()`` and print the report; the exit status by policy
    (``2``: a file or the contract could not be read)."""
    out = out if out is not None else sys.stdout
    try:
        report = check_files(contract(), args.files, method=args.method)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read {exc.filename or 'a recording'}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.output:
        with open(args.output, "w", encoding="utf-8") as stream:
            stream.write(render(report, args.format))
    elif args.format != "text" or not (out.isatty() and _print_rich(report, out)):
        out.write(render(report, args.format))
    return report.exit_status(cast(FailOn, args.fail_on))


def main(argv: Sequence[str] | None = None) -> int:
    """``deriv-check --package PACKAGE FILE...``: check recordings against an installed generated package."""
    parser = argparse.ArgumentParser(
        prog="deriv-check",
        description="Check recorded traffic against the release a generated client package was made from: "
        "a drift report (per call, path and rule, with the first example of each) and an exit status "
        "by policy.",
    )
    parser.add_argument(
        "--package",
        required=True,
        help="the generated client package (deriv_options, deriv_v3, deribit_api...)",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, lambda: Contract.from_package(args.package))


if __name__ == "__main__":
    raise SystemExit(main())
