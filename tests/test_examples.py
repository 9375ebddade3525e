"""The example scripts run as a user runs them: plain interpreters, mock server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deriv_codegen.build import BuildResult

from .conftest import ROOT
from .test_deribit_client import deribit, requires_deribit

__all__ = ["deribit"]  # the generated Deribit package, shared fixture

EXAMPLES = ROOT / "examples"


def _run(script: str, dist: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(dist)}
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
