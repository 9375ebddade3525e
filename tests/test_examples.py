"""The example scripts run as a user runs them: plain interpreters, each against a mock it starts
itself (the default) or against ``deriv-mock`` started separately (the README's quick start); every
example passes ``mypy --strict`` with the generated packages; the README's Python blocks are cut
from the examples, so they are checked too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from deriv_codegen.build import BuildResult

from .conftest import ROOT
from .test_deribit_client import DERIBIT_DOC, deribit, requires_deribit
from .test_legacy_v3 import V3_ZIP, v3
from .test_mock_cli import cli

__all__ = ["deribit", "v3"]  # the generated Deribit and v3 packages, shared fixtures

EXAMPLES = ROOT / "examples"
requires_v3 = pytest.mark.skipif(not V3_ZIP.is_file(), reason=f"the v3 bundle is not mirrored ({V3_ZIP})")


def _run(script: str, dist: Path, *args: str, env: dict[str, str] | None = None) -> str:
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(dist)}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_async_example_streams_ticks(deriv_options_dist: Path) -> None:
    out = _run("stream_ticks.py", deriv_options_dist, "4")
    lines = out.splitlines()
    assert lines[0].startswith("server time: ")
    ticks = [line.split() for line in lines[1:]]
    assert len(ticks) == 4
    assert all(symbol == "R_100" for symbol, _, _ in ticks)
    epochs = [int(epoch) for _, epoch, _ in ticks]
    assert epochs == sorted(epochs)


def test_sync_facade_in_a_plain_script(deriv_options_dist: Path) -> None:
    out = _run("sync_trade.py", deriv_options_dist)
    balances = [float(line.split()[1]) for line in out.splitlines() if line.startswith("balance:")]
    bought = next(line for line in out.splitlines() if line.startswith("bought contract"))
    price = float(bought.rsplit(" ", 1)[1])
    assert len(balances) == 2
    profit = balances[1] - balances[0] + price
    assert profit >= 0
    assert "profit" in out


@pytest.mark.parametrize(
    "module",
    ["deriv_runtime", "deriv_runtime.ws", "deriv_runtime.sync", "deriv_runtime.mock", "deriv_options"],
)
def test_import_configures_no_logging_and_prints_nothing(deriv_options_dist: Path, module: str) -> None:
    code = (
        "import logging, sys\n"
        f"import {module}\n"
        "root = logging.getLogger()\n"
        "named = [n for n, l in logging.root.manager.loggerDict.items()"
        " if isinstance(l, logging.Logger) and (l.handlers or l.level)]\n"
        "print(len(root.handlers), root.level, named)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(deriv_options_dist)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout.strip() == "0 30 []"
    assert proc.stderr == ""


def test_importing_a_client_loads_only_what_a_call_needs(deriv_options_dist: Path) -> None:
    """Import time is measured in the bench session; this guards what makes it: the code that only
    an unusual answer, a strict client or authentication needs is not loaded by the import."""
    code = (
        "import sys\n"
        "import deriv_options\n"
        "deriv_options.OptionsClient\n"
        "lazy = ('deriv_runtime.drift', 'deriv_runtime.auth', 'deriv_runtime.contract',"
        " 'deriv_runtime.traffic', 'deriv_runtime.pool', 'cryptography', 'httpx')\n"
        "print(sorted(m for m in sys.modules if m.startswith(lazy)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(deriv_options_dist)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("flow", [[], ["--oauth"]], ids=["pat", "oauth"])
def test_trade_demo_from_credentials_to_sell(deriv_options_dist: Path, flow: list[str]) -> None:
    out = _run("trade_demo.py", deriv_options_dist, *flow)
    lines = out.splitlines()
    start = float(next(line for line in lines if line.startswith("demo account")).split()[3])
    bought = float(next(line for line in lines if line.startswith("bought")).split()[-1])
    sold_line = next(line for line in lines if line.startswith("sold for"))
    sold_for = float(sold_line.split()[2].rstrip(";"))
    balance = float(sold_line.split()[-1])
    assert balance == pytest.approx(start - bought + sold_for)
    assert ("open in a browser" in out) == bool(flow)


@requires_deribit
def test_deribit_key_example_authenticates_by_signature_and_streams_a_private_channel(
    deribit: BuildResult,
) -> None:
    out = _run("deribit_key_auth.py", deribit.out_dir, "2")
    lines = out.splitlines()
    assert lines[0].startswith("key: SigningKey(kind='ed25519'") and lines[0].endswith("file mode 600")
    assert lines[1].startswith("registered the public key as client ")
    assert lines[2].startswith("authenticated: DeribitToken(")
    assert lines[3].startswith("account summary: currency BTC")
    assert [line.split(":")[0] for line in lines[4:]] == ["user.portfolio.BTC"] * 2
    assert "PRIVATE KEY" not in out


# -- more examples, each against a mock it starts ---------------------------------------------------


def test_quickstart_pings_buys_and_streams_five_ticks(deriv_options_dist: Path) -> None:
    lines = _run("quickstart.py", deriv_options_dist).splitlines()
    assert lines[0] == "ping: pong"
    assert lines[1].startswith("bought contract ")
    assert [line.split()[0] for line in lines[2:]] == ["R_100"] * 5


@requires_deribit
def test_deribit_ticker_example(deribit: BuildResult) -> None:
    lines = _run("deribit_ticker.py", deribit.out_dir).splitlines()
    assert re.fullmatch(r"server time \d+, \d+ BTC instruments", lines[0])
    assert [line.split()[0] for line in lines[1:]] == ["ticker.BTC-PERPETUAL.100ms"] * 5


@requires_v3
def test_v3_example_authorizes_buys_and_sells(v3: BuildResult) -> None:
    out = _run("v3_trade.py", v3.out_dir)
    lines = out.splitlines()
    assert lines[0].startswith("authorized as VRTC90000001, scopes ")
    start = float(lines[1].split()[1])
    bought = float(next(line for line in lines if line.startswith("bought contract")).split()[-1])
    assert float(lines[4].split()[1]) == pytest.approx(start - bought)
    assert "ours among them: True" in out
    sold_line = lines[-1]
    assert sold_line.startswith("sold for ")
    sold_for, balance = float(sold_line.split()[2].rstrip(";")), float(sold_line.split()[-1])
    assert balance == pytest.approx(start - bought + sold_for)


def test_mock_faults_example_survives_drops_errors_and_refused_handshakes(deriv_options_dist: Path) -> None:
    out = _run("mock_faults.py", deriv_options_dist)
    assert "ping: rate limited (attempt 1), retrying" in out
    assert re.search(r"20 ticks through [1-9]\d* dropped connections", out), out
    assert "ping: pong (reconnected)" in out
    assert "2 refused handshakes" in out
    assert "'ticks'" in out and "'drop'" in out


# -- the same examples against deriv-mock started separately (the README's quick start) -------------


def test_examples_against_a_running_options_mock(deriv_options_dist: Path) -> None:
    with cli("--path", str(deriv_options_dist), "--pat", "quick-start-pat", path=deriv_options_dist) as mock:
        rest = re.search(r"REST API:\s+(http://\S+)", mock.banner)
        assert rest is not None
        lines = _run("quickstart.py", deriv_options_dist, mock.url).splitlines()
        assert lines[0] == "ping: pong" and len(lines) == 7
        ticks = _run("stream_ticks.py", deriv_options_dist, "3", "--url", mock.url).splitlines()
        assert len(ticks) == 4
        trade = _run("sync_trade.py", deriv_options_dist, env={"DERIV_WS_URL": mock.url})
        assert trade.count("balance:") == 2
        demo = _run(
            "trade_demo.py", deriv_options_dist, "--rest-url", rest.group(1), "--pat", "quick-start-pat"
        )
        assert "sold for" in demo


@requires_v3
def test_v3_example_against_a_running_legacy_mock(v3: BuildResult) -> None:
    with cli("--api", "legacy", "--package", "deriv_v3", "--token", "v3-cli-token", path=v3.out_dir) as mock:
        endpoint = mock.url.split("?")[0]
        out = _run("v3_trade.py", v3.out_dir, "--endpoint", endpoint, env={"DERIV_TOKEN": "v3-cli-token"})
        assert out.splitlines()[-1].startswith("sold for ")


@requires_deribit
def test_deribit_example_against_a_running_deribit_mock(deribit: BuildResult) -> None:
    with cli("--api", "deribit", "--spec", str(DERIBIT_DOC)) as mock:
        lines = _run("deribit_ticker.py", deribit.out_dir, mock.url).splitlines()
        assert len(lines) == 6
        out = _run("deribit_key_auth.py", deribit.out_dir, "2", "--url", mock.url)
        assert [line.split(":")[0] for line in out.splitlines()[4:]] == ["user.portfolio.BTC"] * 2


# -- types ---------------------------------------------------------------------------------------------


def test_recorded_requests_are_checked_against_the_release(deriv_options_dist: Path) -> None:
    out = _run("check_recordings.py", deriv_options_dist).strip()
    count, rest = out.split(" ", 1)
    assert int(count) >= 3 and rest == "recorded requests match the pinned release"


def test_every_example_passes_mypy_strict(
    deriv_options_dist: Path, deribit: BuildResult, v3: BuildResult, tmp_path: Path
) -> None:
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nwarn_unreachable = True\n")
    path = [ROOT / "runtime", deriv_options_dist, deribit.out_dir, v3.out_dir]
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(config)),
            *("--cache-dir", str(tmp_path / "cache")),
            *sorted(str(p) for p in EXAMPLES.glob("*.py")),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": os.pathsep.join(str(p) for p in path)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"no issues found in {len(list(EXAMPLES.glob('*.py')))} source files" in proc.stdout


def _readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)]


def test_every_readme_python_block_is_cut_from_an_example() -> None:
    sources = [textwrap.dedent(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.py"))]
    blocks = _readme_python_blocks()
    assert blocks
    orphans = [block for block in blocks if not any(_excerpt_of(block, source) for source in sources)]
    assert orphans == []


def _excerpt_of(block: str, source: str) -> bool:
    """Whether ``block``'s lines appear, in order and contiguous, in ``source`` (indented alike, at
    any depth); a line ``...`` in the block stands for any lines."""
    parts: list[list[str]] = [[]]
    for line in block.strip("\n").splitlines():
        if line.strip() == "...":
            parts.append([])
        else:
            parts[-1].append(line)
    lines, start = source.splitlines(), 0
    for part in (p for p in parts if p):
        found = next((i for i in range(start, len(lines)) if _matches(part, lines, i)), -1)
        if found < 0:
            return False
        start = found + len(part)
    return True


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _matches(part: list[str], lines: list[str], at: int) -> bool:
    shift = _indent(lines[at]) - _indent(part[0])
    if shift < 0 or at + len(part) > len(lines):
        return False
    return all(
        (not line.strip() and not lines[at + k].strip()) or lines[at + k] == " " * shift + line
        for k, line in enumerate(part)
    )
