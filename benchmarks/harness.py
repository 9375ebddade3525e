"""Running child interpreters, timing them, and the shape of a result row."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class BenchError(RuntimeError):
    """A measured command failed: the benchmark cannot say anything."""


@dataclass(frozen=True)
class Settings:
    quick: bool
    inherit_bytecode: bool

    def runs(self, quick: int, normal: int) -> int:
        return quick if self.quick else normal


@dataclass
class Row:
    """One line of the report: something measured against its baseline (both in ``unit``)."""

    bench: str
    subject: str
    value: float
    spread: tuple[float, float]
    baseline: str
    baseline_value: float
    baseline_spread: tuple[float, float]
    goal: str
    #: Everything else worth keeping (samples, counts); goes to the JSON file only.
    data: dict[str, Any] = field(default_factory=dict)
    #: The unit of ``value`` and ``baseline_value``: ``"s"`` (seconds) or ``"B"`` (bytes).
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value > 0 else float("nan")


@dataclass
class Outcome:
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], minus: float = 0.0) -> tuple[float, float]:
    return (min(values) - minus, max(values) - minus)


class Workspace:
    """Temporary directories shared by the benchmarks of one run, and the child environment."""

    def __init__(self, settings: Settings) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="deriv-bench-")
        self.root = Path(self._tmp.name)
        self.cache_dir = self.root / "cache"  # download cache: filled from the mirror once
        self.settings = settings
        env = dict(os.environ)
        if not settings.inherit_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.root / "pycache")
        self.env: Mapping[str, str] = env
        self._tree: Path | None = None

    def close(self) -> None:
        self._tmp.cleanup()

    def generate_cmd(
        self, out: Path, *, force: bool, sources: Sequence[str] = ("deriv-options",)
    ) -> list[str]:
        """``deriv-codegen generate`` of ``sources`` (none: every pinned source) from the cache."""
        cmd = [PYTHON, "-m", "deriv_codegen", "generate", *sources, "--offline"]
        cmd += ["--cache-dir", str(self.cache_dir), "--out", str(out)]
        return [*cmd, "--force"] if force else cmd

    def adopt_tree(self, out: Path) -> None:
        """Use ``out`` (a finished ``generate`` output directory of every pinned source) as the shared
        generated tree."""
        self._tree = out

    def tree(self, package: str = "deriv_options") -> Path:
        """Directory holding an up-to-date generated ``package`` distribution (every pinned source is
        generated once, on first use)."""
        if self._tree is None:
            out = self.root / "tree"
            run(self.generate_cmd(out, force=True, sources=()), self.env, cwd=REPO)
            self._tree = out
        return self._tree / package


def run(
    cmd: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``cmd``; return its wall time in seconds (start to exit) and the finished process."""
    started = time.perf_counter()
    proc = subprocess.run(list(cmd), env=dict(env), cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        shown = " ".join(cmd)
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise BenchError(f"command failed with exit code {proc.returncode}: {shown}\n{tail}")
    return elapsed, proc


def interleaved(
    runners: Mapping[str, Callable[[], float]], repeat: int, *, warmup: bool = True
) -> dict[str, list[float]]:
    """Run every runner ``repeat`` times, rotating their order each round; untimed warm-up first."""
    names = list(runners)
    if warmup:
        for name in names:
            runners[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeat):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(runners[name]())
    return samples


def wall(cmd: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Callable[[], float]:
    def runner() -> float:
        return run(cmd, env, cwd)[0]

    return runner


@contextmanager
def server_process(
    ws: Workspace, argv: Sequence[str], what: str, stop_timeout: float = 10.0
) -> Iterator[str]:
    """A benchmark server (``PYTHON argv``) in its own process, which prints its port and serves until
    its stdin closes; yields the port. ``what`` names it in the error if it does not start."""
    server = subprocess.Popen(
        [PYTHON, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(ws.env)
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise BenchError(f"{what} did not start")
        yield port
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
