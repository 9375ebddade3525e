"""The printed table and the JSON results file."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .harness import Row


def seconds(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 1:
        return f"{value:.2f} s"
    if abs(value) >= 0.01:
        return f"{value * 1000:.0f} ms"
    if value == 0:
        return "0 s"
    if abs(value) >= 0.001:
        return f"{value * 1000:.1f} ms"
    if abs(value) >= 0.0001:
        return f"{value * 1e6:.0f} us"
    if abs(value) >= 1e-6:
        return f"{value * 1e6:.1f} us"
    return f"{value * 1e9:.0f} ns"


def span(bounds: tuple[float, float]) -> str:
    return f"{seconds(bounds[0])} - {seconds(bounds[1])}"


COLUMNS = (
    "benchmark",
    "measured",
    "median",
    "min - max",
    "baseline (same run)",
    "median",
    "min - max",
    "ratio",
    "goal (reference)",
)


def print_table(rows: list[Row], notes: list[str], title: str) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        _print_plain(rows, notes, title)
        return
    console = Console() if sys.stdout.isatty() else Console(width=170, soft_wrap=False)
    table = Table(title=title, show_lines=True)
    for name in COLUMNS:
        table.add_column(name, justify="right" if name in {"median", "min - max", "ratio"} else "left")
    for r in rows:
        table.add_row(
            r.bench,
            r.subject,
            seconds(r.value),
            span(r.spread),
            r.baseline,
            seconds(r.baseline_value),
            span(r.baseline_spread),
            f"{r.ratio:.2f}",
            r.goal,
        )
    console.print(table)
    for note in notes:
        console.print(f"- {note}", highlight=False, soft_wrap=True)


def _print_plain(rows: list[Row], notes: list[str], title: str) -> None:
    print(title)
    for r in rows:
        print(
            f"{r.bench:<20} {r.subject}: {seconds(r.value)} ({span(r.spread)})\n"
            f"{'':<20} vs {r.baseline}: {seconds(r.baseline_value)} ({span(r.baseline_spread)})\n"
            f"{'':<20} ratio {r.ratio:.2f}   goal: {r.goal}"
        )
    for note in notes:
        print(f"- {note}")


def _versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in (
        "deriv-codegen",
        "datamodel-code-generator",
        "pydantic",
        "pydantic-core",
        "ruff",
        "websockets",
    ):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "missing"
    return found


def write_json(
    path: Path,
    rows: list[Row],
    notes: list[str],
    errors: dict[str, str],
    settings: dict[str, Any],
    load: dict[str, list[float]],
    elapsed: float,
) -> None:
    payload = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "machine": {
            "python": sys.version,
            "executable": sys.executable,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg": load,
        },
        "versions": _versions(),
        "elapsed_s": elapsed,
        "results": [{**asdict(r), "ratio": r.ratio} for r in rows],
        "notes": notes,
        "errors": errors,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
