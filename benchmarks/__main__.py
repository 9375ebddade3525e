"""``python -m benchmarks [--quick] [--only NAME ...]``: see the package docstring for how to read it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from .cases import BENCHMARKS
from .harness import REPO, BenchError, Row, Settings, Workspace
from .report import print_table, write_json

RESULTS = REPO / ".benchmarks" / "results.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks reported as ratios against baselines measured in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a third of the time)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--inherit-bytecode",
        action="store_true",
        help="give child interpreters this environment's bytecode settings instead of a private, "
        "warmed-up bytecode cache",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings(quick=args.quick, inherit_bytecode=args.inherit_bytecode)
    names = [n for n in BENCHMARKS if not args.only or n in args.only]
    started = time.perf_counter()
    load = {"start": list(os.getloadavg())}
    rows: list[Row] = []
    notes: list[str] = []
    errors: dict[str, str] = {}
    ws = Workspace(settings)
    try:
        for name in names:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                outcome = BENCHMARKS[name](ws)
            except (BenchError, RuntimeError) as exc:
                errors[name] = str(exc)
                print(f"{name} failed: {exc}", file=sys.stderr)
                continue
            rows += outcome.rows
            notes += outcome.notes
            print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        ws.close()
    elapsed = time.perf_counter() - started
    load["end"] = list(os.getloadavg())
    mode = "quick" if settings.quick else "normal"
    bytecode = "inherited bytecode settings" if settings.inherit_bytecode else "private bytecode cache"
    title = (
        f"deriv-codegen benchmarks ({mode}, {bytecode}, {os.cpu_count()} CPUs, load "
        f"{load['start'][0]:.2f} -> {load['end'][0]:.2f}, {elapsed:.0f} s)"
    )
    print_table(rows, notes, title)
    print(
        "ratio = median measured / median baseline (above 1: slower than the baseline). Goals: no verdicts."
    )
    write_json(
        RESULTS,
        rows,
        notes,
        errors,
        {"quick": settings.quick, "inherit_bytecode": settings.inherit_bytecode, "only": names},
        load,
        elapsed,
    )
    print(f"results: {RESULTS.relative_to(REPO)}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
