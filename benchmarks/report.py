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


def size(value: float) -> str:
    """Bytes in the unit that shows them (B, KiB, MiB)."""
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 2**20:
        return f"{value / 2**20:.1f} MiB"
    if abs(value) >= 2**10:
        return f"{value / 2**10:.2f} KiB"
    return f"{value:.0f} B"


def figure(value: float, unit: str = "s") -> str:
    """``value`` printed in its unit (``"s"``: seconds, ``"B"``: bytes)."""
    return size(value) if unit == "B" else seconds(value)


def span(bounds: tuple[float, float], unit: str = "s") -> str:
    return f"{figure(bounds[0], unit)} - {figure(bounds[1], unit)}"


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
            figure(r.value, r.unit),
            span(r.spread, r.unit),
            r.baseline,
            figure(r.baseline_value, r.unit),
            span(r.baseline_spread, r.unit),
            f"{r.ratio:.2f}",
            r.goal,
        )
    console.print(table)
    for note in notes:
        console.print(f"- {note}", highlight=False, soft_wrap=True)


def _print_plain(rows: list[Row], notes: list[str], title: str) -> None:
    print(title)
    for r in rows:
        base = f"{figure(r.baseline_value, r.unit)} ({span(r.baseline_spread, r.unit)})"
        print(
            f"{r.bench:<20} {r.subject}: {figure(r.value, r.unit)} ({span(r.spread, r.unit)})\n"
            f"{'':<20} vs {r.baseline}: {base}\n"
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
