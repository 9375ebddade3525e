"""Test a bot's reconnect and error handling from outside, with the mock's command line.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/mock_faults.py

This is what a test harness in any language does: it starts ``deriv-mock`` (here ``python -m
deriv_runtime.mock``, the same program) with fault flags, ``--record`` and ``--control-port``, runs
the bot against it, changes the faults while the bot runs through the control endpoint (plain HTTP
and JSON), then reads what the mock received from the JSON Lines record. The "bot" is a few lines
of the generated async client; put yours in its place.

    deriv-mock --port 0 --drop-every 8 --fail ping=RateLimit:1 --record received.jsonl --control-port 0
    curl -X POST localhost:PORT/faults -d '{"refuse_first": 2}'   # the next 2 handshakes fail
    curl -X POST localhost:PORT/drop                              # drop every connection now
    curl 'localhost:PORT/records?kind=request'                    # what the bot sent
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from deriv_options import OptionsClient
from deriv_runtime.errors import APIError, ConnectionLost
from deriv_runtime.ws import ReconnectPolicy

T = TypeVar("T")
FAULTS = ["--drop-every", "8", "--fail", "ping=RateLimit:1"]


def start_mock(record: Path) -> tuple[subprocess.Popen[str], str, str]:
    """Start the mock's CLI on free ports; its WebSocket URL and control URL, from what it prints."""
    command = [sys.executable, "-m", "deriv_runtime.mock", "--port", "0", "--tick-interval", "0.05"]
    command += [*FAULTS, "--record", str(record), "--control-port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    banner = ""
    for line in proc.stdout:
        banner += line
        if line.startswith("Press Ctrl-C"):
            break
    ws = re.search(r"authenticated:\s+(ws://\S+)", banner)
    control = re.search(r"control:\s+(http://\S+)", banner)
    if ws is None or control is None:
        proc.kill()
        raise SystemExit(f"the mock did not start:\n{banner}")
    print("\n".join(line for line in banner.splitlines() if "fault:" in line))
    return proc, ws.group(1), control.group(1)


async def patiently(call: Callable[[], Awaitable[T]], what: str) -> T:
    """The bot's error handling: retry after a rate limit or a lost connection."""
    for attempt in range(1, 10):
        try:
            return await call()
        except APIError as exc:
            if exc.code != "RateLimit":
                raise
            print(f"  {what}: rate limited (attempt {attempt}), retrying")
        except ConnectionLost:
            print(f"  {what}: connection lost (attempt {attempt}), retrying")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what}: gave up")


async def bot(url: str, control: str) -> None:
    fast = ReconnectPolicy(initial_delay=0.05, max_delay=0.2)
    async with OptionsClient.connect(url, reconnect=fast) as client, httpx.AsyncClient() as http:
        pong = await patiently(client.ping, "ping")
        print(f"ping: {pong.ping}")

        async with client.subscribe_ticks("R_100") as ticks:
            quotes = 0
            async for message in ticks:
                if message.tick is not None:
                    quotes += 1
                if quotes == 20:
                    break
            print(f"20 ticks through {ticks.gaps} dropped connections (the stream re-subscribed each time)")

        await http.delete(f"{control}/faults")  # stop dropping every 8 messages
        await http.post(f"{control}/faults", json={"refuse_first": 2})
        dropped = (await http.post(f"{control}/drop")).json()["dropped"]
        print(f"control: dropped {dropped} connection(s); the next 2 handshakes are refused")
        pong = await patiently(client.ping, "ping after the drop")
        print(f"ping: {pong.ping} (reconnected)")


def summary(record: Path) -> None:
    entries: list[dict[str, Any]] = [json.loads(line) for line in record.read_text().splitlines()]
    kinds = Counter(entry["kind"] for entry in entries)
    calls = Counter(entry["call"] for entry in entries if entry["kind"] == "request")
    faults = Counter(entry["fault"] for entry in entries if entry["kind"] == "fault")
    print(f"the record: {kinds['connect']} connections, {kinds['refused']} refused handshakes")
    print(f"  requests: {dict(sorted(calls.items()))}")
    print(f"  faults injected: {dict(sorted(faults.items()))}")


def main() -> None:
    logging.basicConfig(format="  (runtime) %(message)s", stream=sys.stdout)  # show the client's warnings
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "received.jsonl"
        proc, url, control = start_mock(record)
        try:
            asyncio.run(bot(url, control))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=15)
        summary(record)


if __name__ == "__main__":
    main()
