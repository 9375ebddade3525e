"""The mock as a tool for other programs' tests, end to end: ``python -m deriv_runtime.mock`` (the
``deriv-mock`` command) started as a subprocess on a free port on 127.0.0.1, driven by a raw
``websockets`` client as a bot in any language would be. Each fault flag is observed on the wire;
``--record`` is read back as JSON Lines (secrets redacted); the control endpoint is used over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .conftest import ROOT, SHARED_SCHEMAS

V3_ZIP = SHARED_SCHEMAS / "deriv-legacy-v3" / "deriv-api-docs-6571f72.zip"
DERIBIT_DOC = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"
requires_v3 = pytest.mark.skipif(not V3_ZIP.is_file(), reason=f"the v3 bundle is not mirrored ({V3_ZIP})")
requires_deribit = pytest.mark.skipif(
    not DERIBIT_DOC.is_file(), reason=f"the Deribit document is not mirrored ({DERIBIT_DOC})"
)
LEGACY = ["--api", "legacy", "--spec", str(V3_ZIP), "--token", "cli-secret-token"]
DERIBIT = ["--api", "deribit", "--spec", str(DERIBIT_DOC)]


@dataclass
class Cli:
    """A running ``deriv-mock``: its WebSocket URL, control URL (with ``--control-port``), output."""

    proc: subprocess.Popen[str]
    url: str
    control: str | None
    banner: str


@contextmanager
def cli(*args: str, path: Path | None = None) -> Iterator[Cli]:
    """Start the CLI on free ports with ``args``; stop it with SIGINT (it must say "Stopped.")."""
    pythonpath = [str(ROOT / "runtime"), *([str(path)] if path is not None else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)}
    command = [sys.executable, "-m", "deriv_runtime.mock", "--port", "0", "--tick-interval", "0.02", *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        banner = "".join(lines)
        assert banner.endswith("Press Ctrl-C to stop.\n"), banner + (
            proc.stderr.read() if proc.stderr else ""
        )
        found = re.search(r"(?:authenticated|WebSocket):\s+(ws://\S+)", banner)
        assert found, banner
        control = re.search(r"control:\s+(http://\S+)", banner)
        yield Cli(proc, found.group(1), control.group(1) if control else None, banner)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "Stopped." in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), timeout)
    value = json.loads(frame)
    assert isinstance(value, dict), value
    return value


async def until_closed(ws: ClientConnection, timeout: float = 5.0) -> tuple[int, ConnectionClosed]:
    """Read until the connection drops: how many frames arrived first, and how it ended."""
    count = 0
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
            count += 1
    except ConnectionClosed as closed:
        return count, closed


def ping(api: str, req_id: int) -> str:
    if api == "deribit":
        return json.dumps({"jsonrpc": "2.0", "id": req_id, "method": "public/test", "params": {}})
    return json.dumps({"ping": 1, "req_id": req_id})


# -- dropped connections ---------------------------------------------------------------------------


@requires_v3
@pytest.mark.parametrize("mode", ["abort", "close"])
def test_drop_every_n_messages_drops_every_connection_after_n(mode: str) -> None:
    with cli(*LEGACY, "--drop-every", "3", "--drop-mode", mode, "--drop-code", "4001") as mock:
        assert "fault:     drop each connection after 3 messages" in mock.banner

        async def scenario() -> None:
            for _ in range(2):  # a reconnected client is dropped again
                async with connect(mock.url) as ws:
                    await ws.send(json.dumps({"ticks": "R_100", "subscribe": 1, "req_id": 1}))
                    count, closed = await until_closed(ws)
                    assert count == 3
                    if mode == "abort":  # no close frame: the TCP connection just ends
                        assert closed.rcvd is None
                    else:
                        assert closed.rcvd is not None and closed.rcvd.code == 4001

        run(scenario)


@requires_v3
def test_drop_after_seconds_drops_each_connection_that_old() -> None:
    with cli(*LEGACY, "--drop-after", "0.4") as mock:
        assert "drop each connection 0.4 s after it opens" in mock.banner

        async def scenario() -> list[float]:
            lives = []
            for _ in range(2):
                async with connect(mock.url) as ws:
                    opened = time.monotonic()
                    await ws.send(ping("legacy", 1))
                    assert (await recv_json(ws))["ping"] == "pong"
                    await until_closed(ws)
                    lives.append(time.monotonic() - opened)
            return lives

        lives = run(scenario)
        assert all(0.3 < life < 3 for life in lives), lives


# -- delays and errors -----------------------------------------------------------------------------


@requires_v3
def test_delay_and_delay_per_call() -> None:
    with cli(*LEGACY, "--delay", "0.3", "--delay-call", "time=0") as mock:

        async def scenario() -> tuple[float, float]:
            async with connect(mock.url) as ws:
                started = time.monotonic()
                await ws.send(ping("legacy", 1))
                assert (await recv_json(ws))["ping"] == "pong"
                slow = time.monotonic() - started
                started = time.monotonic()
                await ws.send(json.dumps({"time": 1, "req_id": 2}))
                assert (await recv_json(ws))["msg_type"] == "time"
                return slow, time.monotonic() - started

        slow, fast = run(scenario)
        assert slow >= 0.28 and fast < 0.25


def _fail_flags(api: str, options_dist: Path | None) -> tuple[list[str], str, str]:
    """The CLI arguments for ``api``, the call to fail, and the error code."""
    if api == "options":
        return ["--api", "options", "--path", str(options_dist)], "ping", "RateLimit"
    if api == "legacy":
        return LEGACY, "ping", "RateLimit"
    return DERIBIT, "public/test", "10028"


@pytest.mark.parametrize("api", ["options", "legacy", "deribit"])
def test_fail_answers_a_call_with_an_error_code_count_times(api: str, request: pytest.FixtureRequest) -> None:
    if api == "legacy" and not V3_ZIP.is_file():
        pytest.skip("the v3 bundle is not mirrored")
    if api == "deribit" and not DERIBIT_DOC.is_file():
        pytest.skip("the Deribit document is not mirrored")
    dist = request.getfixturevalue("deriv_options_dist") if api == "options" else None
    flags, call, code = _fail_flags(api, dist)
    with cli(*flags, "--fail", f"{call}={code}:2", path=dist) as mock:
        assert f"answer {call} with error {code}, 2 times" in mock.banner

        async def scenario() -> list[Any]:
            codes = []
            async with connect(mock.url) as ws:
                for n in range(1, 4):
                    await ws.send(ping(api, n))
                    answer = await recv_json(ws)
                    error = answer.get("error")
                    codes.append(None if error is None else error["code"])
            return codes

        expected: Any = int(code) if api == "deribit" else code
        assert run(scenario) == [expected, expected, None]


@requires_v3
def test_fail_any_call_every_time() -> None:
    with cli(*LEGACY, "--fail", "*=ServiceUnavailable:*") as mock:
        assert "answer any call with error ServiceUnavailable, every time" in mock.banner

        async def scenario() -> list[str]:
            async with connect(mock.url) as ws:
                codes = []
                for n, request in enumerate([{"ping": 1}, {"time": 1}, {"no_such_call": 1}], 1):
                    await ws.send(json.dumps({**request, "req_id": n}))
                    codes.append((await recv_json(ws))["error"]["code"])
                return codes

        assert run(scenario) == ["ServiceUnavailable"] * 3


# -- garbage, refused handshakes, silence ----------------------------------------------------------


@requires_v3
def test_garbage_every_n_messages() -> None:
    with cli(*LEGACY, "--garbage-every", "2") as mock:

        async def scenario() -> list[str | bytes]:
            async with connect(mock.url) as ws:
                for n in range(1, 5):
                    await ws.send(ping("legacy", n))
                return [await asyncio.wait_for(ws.recv(), 5) for _ in range(6)]

        frames = run(scenario)
        kinds = []
        for frame in frames:
            if isinstance(frame, bytes):
                kinds.append("binary")
                continue
            try:
                value = json.loads(frame)
            except json.JSONDecodeError:
                kinds.append("text")
                continue
            kinds.append("answer" if isinstance(value, dict) else "array")
        assert kinds == ["answer", "answer", "text", "answer", "answer", "binary"]


@requires_v3
def test_refuse_handshake_and_refuse_first() -> None:
    with cli(*LEGACY, "--refuse-handshake", "--refuse-status", "502") as mock:

        async def refused() -> int:
            with pytest.raises(InvalidStatus) as caught:
                async with connect(mock.url):
                    pass
            return caught.value.response.status_code

        assert run(refused) == 502

    with cli(*LEGACY, "--refuse-first", "2") as mock:

        async def scenario() -> tuple[list[int], str]:
            statuses = []
            for _ in range(2):
                with pytest.raises(InvalidStatus) as caught:
                    async with connect(mock.url):
                        pass
                statuses.append(caught.value.response.status_code)
            async with connect(mock.url) as ws:
                await ws.send(ping("legacy", 1))
                return statuses, (await recv_json(ws))["ping"]

        assert run(scenario) == ([503, 503], "pong")


@requires_v3
def test_silent_answers_nothing_not_even_pongs() -> None:
    with cli(*LEGACY, "--silent") as mock:
        assert "silent" in mock.banner

        async def scenario() -> None:
            async with connect(mock.url, ping_interval=None, close_timeout=0.2) as ws:
                await ws.send(ping("legacy", 1))
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.5)
                pong = await ws.ping()
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(pong, 0.5)

        run(scenario)


def test_bad_fault_flags_are_refused_before_listening(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "runtime")}
    usage = subprocess.run(
        [sys.executable, "-m", "deriv_runtime.mock", "--fail", "no-code-here"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=30,
    )
    assert usage.returncode == 2 and "CALL=CODE[:COUNT]" in usage.stderr
    if DERIBIT_DOC.is_file():
        proc = subprocess.run(
            [sys.executable, "-m", "deriv_runtime.mock", *DERIBIT, "--port", "0", "--fail", "x=RateLimit"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=30,
        )
        assert proc.returncode == 2 and "a Deribit error code is a number" in proc.stderr
        assert "Press Ctrl-C" not in proc.stdout


# -- recording -------------------------------------------------------------------------------------


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@requires_v3
def test_record_writes_what_the_mock_received_as_json_lines(tmp_path: Path) -> None:
    record = tmp_path / "received.jsonl"
    with cli(*LEGACY, "--record", str(record), "--drop-every", "2") as mock:
        assert f"recording: {record}" in mock.banner

        async def scenario() -> None:
            async with connect(mock.url) as ws:
                await ws.send(json.dumps({"authorize": "cli-secret-token", "req_id": 1}))
                assert (await recv_json(ws))["msg_type"] == "authorize"
                await ws.send("}{ not json")
                await recv_json(ws)
                await until_closed(ws)

        run(scenario)
    text = record.read_text()
    assert "cli-secret-token" not in text
    entries = _records(record)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    kinds = [e["kind"] for e in entries]
    assert kinds == ["connect", "request", "invalid", "fault", "disconnect"]
    connect_entry, request, invalid, fault, _ = entries
    assert connect_entry["path"].startswith("/websockets/v3?app_id=")
    assert request["call"] == "authorize" and request["connection"] == 1
    assert request["message"] == {"authorize": "<redacted>", "req_id": 1}
    assert invalid["problem"] == "The request is not valid JSON."
    assert fault["fault"] == "drop" and fault["mode"] == "abort"


def test_record_options_redacts_the_otp_and_keeps_rest_requests(
    deriv_options_dist: Path, tmp_path: Path
) -> None:
    record = tmp_path / "options.jsonl"
    with cli(
        "--path",
        str(deriv_options_dist),
        "--pat",
        "cli-pat",
        "--record",
        str(record),
        path=deriv_options_dist,
    ) as mock:
        rest = re.search(r"REST API:\s+(http://\S+)", mock.banner)
        assert rest and "otp=" in mock.url

        async def scenario() -> None:
            async with connect(mock.url) as ws:
                await ws.send(ping("options", 1))
                assert (await recv_json(ws))["ping"] == "pong"
            async with httpx.AsyncClient() as http:
                answer = await http.get(
                    f"{rest.group(1)}/trading/v1/options/accounts",
                    headers={"Deriv-App-ID": "10000", "Authorization": "Bearer cli-pat"},
                )
                assert answer.status_code == 200

        run(scenario)
    text = record.read_text()
    assert "cli-pat" not in text and "mock-otp" not in text
    entries = _records(record)
    assert entries[0]["kind"] == "connect" and "otp=%3Credacted%3E" not in entries[0]["path"]
    assert entries[0]["path"].endswith("?otp=<redacted>")
    assert entries[1]["call"] == "ping"
    http = next(e for e in entries if e["kind"] == "http")
    assert (http["method"], http["path"], http["status"]) == ("GET", "/trading/v1/options/accounts", 200)


@requires_deribit
def test_record_deribit_redacts_client_secrets(tmp_path: Path) -> None:
    record = tmp_path / "deribit.jsonl"
    with cli(*DERIBIT, "--record", str(record)) as mock:

        async def scenario() -> None:
            async with connect(mock.url) as ws:
                params = {
                    "grant_type": "client_credentials",
                    "client_id": "mock-client",
                    "client_secret": "mock-client-secret",
                }
                await ws.send(
                    json.dumps({"jsonrpc": "2.0", "id": 1, "method": "public/auth", "params": params})
                )
                assert "access_token" in (await recv_json(ws))["result"]

        run(scenario)
    assert "mock-client-secret" not in record.read_text()
    request = next(e for e in _records(record) if e["kind"] == "request")
    assert request["call"] == "public/auth"
    assert request["message"]["params"]["client_secret"] == "<redacted>"


# -- the control endpoint --------------------------------------------------------------------------


@requires_v3
def test_control_endpoint_lists_records_and_changes_faults_while_running() -> None:
    with cli(*LEGACY, "--control-port", "0") as mock:
        assert mock.control is not None
        base = mock.control

        async def scenario() -> None:
            async with httpx.AsyncClient(base_url=base) as http:
                async with connect(mock.url) as ws:
                    await ws.send(ping("legacy", 1))
                    await recv_json(ws)
                    records = (await http.get("/records")).json()
                    assert [r["kind"] for r in records] == ["connect", "request"]
                    last = records[-1]["seq"]

                    state = (
                        await http.post("/faults", json={"fail": ["ping=RateLimit"], "delay": 0.1})
                    ).json()
                    assert state["delay"] == 0.1
                    await ws.send(ping("legacy", 2))
                    assert (await recv_json(ws))["error"]["code"] == "RateLimit"
                    await ws.send(ping("legacy", 3))
                    assert (await recv_json(ws))["ping"] == "pong"
                    requests = (await http.get("/records", params={"since": last, "kind": "request"})).json()
                    assert [r["message"]["req_id"] for r in requests] == [2, 3]

                    assert (await http.post("/drop", params={"mode": "close", "code": "4002"})).json() == {
                        "dropped": 1
                    }
                    _, closed = await until_closed(ws)
                    assert closed.rcvd is not None and closed.rcvd.code == 4002

                await http.post("/faults", json={"refuse_first": 1})
                with pytest.raises(InvalidStatus):
                    async with connect(mock.url):
                        pass
                assert (await http.delete("/faults")).json()["refuse_first"] == 0
                bad = await http.post("/faults", json={"drop_evry": 3})
                assert bad.status_code == 400 and "drop_evry" in bad.json()["error"]
                assert (await http.get("/nowhere")).status_code == 404

        run(scenario)


# -- the same from Python --------------------------------------------------------------------------


@requires_v3
def test_the_python_api_fault_plan_journal_and_control_server(tmp_path: Path) -> None:
    from deriv_runtime.mock import ControlServer, FaultPlan, Journal, MockLegacy, parse_fail

    mock = MockLegacy(V3_ZIP, tick_interval=0.02)
    FaultPlan(drop_after=0.3, fail=[parse_fail("time=RateLimit")]).apply(mock)
    journal = mock.record_to(tmp_path / "py.jsonl")
    assert isinstance(journal, Journal)

    async def scenario() -> list[dict[str, Any]]:
        async with mock, ControlServer(mock) as control:
            async with connect(mock.url) as ws:
                await ws.send(json.dumps({"time": 1, "req_id": 1}))
                assert (await recv_json(ws))["error"]["code"] == "RateLimit"
                opened = time.monotonic()
                await until_closed(ws)
                assert time.monotonic() - opened < 2
            async with httpx.AsyncClient() as http:
                records: list[dict[str, Any]] = (await http.get(f"{control.url}/records")).json()
            return records

    records = run(scenario)
    journal.close()
    assert [r["kind"] for r in records] == ["connect", "request", "fault", "disconnect"]
    assert _records(tmp_path / "py.jsonl") == records
