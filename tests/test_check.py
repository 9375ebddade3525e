"""``deriv-codegen check`` / ``deriv-check`` / ``assert_traffic_matches``: recorded traffic of the three
APIs checked against a release, with exact counts per status, call, path and rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from deriv_codegen.cli import main as codegen
from deriv_codegen.schema_prep import tolerant
from deriv_runtime.testing import assert_traffic_matches
from deriv_runtime.traffic import Contract, check_files, read_recording, tolerant_schema
from deriv_runtime.traffic_report import main as deriv_check
from deriv_runtime.traffic_report import render

from .conftest import ROOT, SHARED_SCHEMAS

SOURCES = ["--sources", str(ROOT / "schemas" / "sources.toml"), "--offline"]
DERIBIT_DOC = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"
V3_ZIP = SHARED_SCHEMAS / "deriv-legacy-v3" / "deriv-api-docs-6571f72.zip"
SECRETS = (
    "pat-SECRET-0123456789",
    "hunter2-password",
    "sig-9f8e7d6c5b4a",
    "cs-TOPSECRET-42",
    "a1-v3TOKEN-xyz",
)


def _jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


# -- Deriv Options: WebSocket calls ----------------------------------------------------------------

PING = {"ping": 1, "req_id": 1}
PONG = {"msg_type": "ping", "ping": "pong", "echo_req": {"ping": 1}, "req_id": 1}
BALANCE_OK = {
    "msg_type": "balance",
    "balance": {"balance": 10.5, "currency": "USD", "loginid": "CR90000000"},
    "echo_req": {"balance": 1},
}
#: An unknown field and a missing required one: strict violations the tolerant reader reads.
BALANCE_DRIFT = {
    "msg_type": "balance",
    "balance": {"balance": 10.5, "currency": "USD", "nickname": "new"},
    "echo_req": {"balance": 1},
}
#: A number as text: the client cannot read it as typed.
BALANCE_BROKEN = {
    "msg_type": "balance",
    "balance": {"balance": "10.5", "currency": "USD", "loginid": "CR90000000"},
    "echo_req": {"balance": 1},
}
OPTIONS_LINES: list[Any] = [
    PING,  # 1 ok request
    PONG,  # 2 ok response
    BALANCE_OK,  # 3 ok response
    BALANCE_DRIFT,  # 4 drift
    BALANCE_BROKEN,  # 5 broken
    {"time": "now"},  # 6 broken request (time must be 1)
    {"wallet_balance": 1, "req_id": 9},  # 7 unknown call (request)
    {"msg_type": "wallet_balance", "wallet_balance": {}, "echo_req": {}},  # 8 unknown call (answer)
    "this line is not JSON",  # 9 garbage
    "42",  # 10 garbage: not an object
    {
        "msg_type": "buy",
        "error": {"code": "InvalidContract", "message": "no"},
        "echo_req": {"buy": "1"},
    },  # 11
    "",  # blank: skipped
    [{"time": 1}, {"ping": 1}],  # 13: two ok requests on one line
    '{"msg_type": "ping", "ping": ',  # 14 garbage: truncated
]
OPTIONS_STATUSES = {"ok": 5, "drift": 1, "broken": 2, "error": 1, "unknown": 2, "garbage": 3}


@pytest.fixture
def options(deriv_options_dist: Path) -> str:
    """The generated Options package (on sys.path while the session's fixture lives)."""
    return "deriv_options"


def _calls(report: Any) -> dict[str, dict[str, int]]:
    return {k: dict(t.statuses) for k, t in report.calls.items()}


def test_options_recording_counts_per_status_call_path_and_rule(options: str, tmp_path: Path) -> None:
    report = check_files(options, [_jsonl(tmp_path / "rec.jsonl", OPTIONS_LINES)])
    assert report.statuses == OPTIONS_STATUSES
    assert report.messages == sum(OPTIONS_STATUSES.values()) == 14
    assert _calls(report) == {
        "ping (request)": {"ok": 2},
        "ping (response)": {"ok": 1},
        "time (request)": {"ok": 1, "broken": 1},
        "balance (response)": {"ok": 1, "drift": 1, "broken": 1},
        "buy (response)": {"error": 1},
    }
    paths = {k: (t.count, t.broken) for k, t in report.paths.items()}
    assert paths == {
        "balance (response) balance.nickname [additionalProperties]": (1, 0),
        "balance (response) balance.loginid [required]": (1, 0),
        "balance (response) balance.balance [type]": (1, 1),
        "time (request) time [type]": (1, 1),  # a string where the schema says integer 1
        "time (request) time [enum]": (1, 1),
    }
    assert {k: (t.count, t.broken) for k, t in report.rules.items()} == {
        "additionalProperties": (1, 0),
        "required": (1, 0),
        "type": (2, 2),
        "enum": (1, 1),
    }
    first = report.paths["balance (response) balance.balance [type]"].first
    assert first is not None and first.location.endswith("rec.jsonl:5")
    assert first.violation is not None and first.violation.detail == 'the value is not of type "number"'
    assert {k: t.count for k, t in report.unknown.items()} == {
        "request 'wallet_balance' names no call of the release": 1,
        "msg_type 'wallet_balance' answers no call of the release": 1,
    }
    assert report.garbage.count == 3
    garbage = [r for r in report.results if r.status == "garbage"]
    assert [r.location.rsplit(":", 1)[1] for r in garbage] == ["9", "10", "14"]
    assert garbage[1].reason == "a JSON integer, not an object"
    # policies: tolerant fails on broken + unknown, strict on everything but ok and error answers
    assert (report.failures("tolerant"), report.failures("strict"), report.failures("never")) == (4, 8, 0)


def test_json_array_single_message_and_json_lines_read_alike(options: str, tmp_path: Path) -> None:
    messages = [PING, PONG, BALANCE_DRIFT, BALANCE_BROKEN, {"wallet_balance": 1}]
    array = tmp_path / "rec.json"
    array.write_text(json.dumps(messages, indent=2), encoding="utf-8")
    lines = _jsonl(tmp_path / "rec.jsonl", messages)
    single = tmp_path / "one.json"
    single.write_text(json.dumps(BALANCE_DRIFT, indent=2), encoding="utf-8")
    by_array, by_lines = check_files(options, [array]), check_files(options, [lines])
    expected = {"ok": 2, "drift": 1, "broken": 1, "error": 0, "unknown": 1, "garbage": 0}
    assert by_array.statuses == by_lines.statuses == expected
    assert [r.location for r in by_array.results][:2] == [f"{array}[0]", f"{array}[1]"]
    assert [r.location for r in by_lines.results][:2] == [f"{lines}:1", f"{lines}:2"]
    one = check_files(options, [single])
    assert [(r.location, r.status, r.call) for r in one.results] == [(str(single), "drift", "balance")]
    both = check_files(options, [array, single])
    assert both.files == [str(array), str(single)] and both.statuses["drift"] == 2


def test_the_answer_of_a_call_is_told_by_msg_type_and_echo_req(options: str) -> None:
    contract = Contract.from_package(options)
    tick = {"msg_type": "tick", "tick": {"quote": 1.5}, "echo_req": {"ticks": "R_100"}}
    [checked] = contract.check(tick)
    assert checked.call == "ticks" and checked.kind == "response"
    [checked] = contract.check({"ticks": "R_100", "subscribe": 1})
    assert (checked.call, checked.kind, checked.status) == ("ticks", "request", "ok")


def test_garbage_never_crashes(options: str, tmp_path: Path) -> None:
    path = tmp_path / "noise.jsonl"
    path.write_bytes(b'\xff\xfe\x00binary\n{"ping": 1}\nnull\n[1, "x"]\n\x1b[31mlog line\x1b[0m\n')
    report = check_files(options, [path])
    assert report.statuses == {"ok": 1, "drift": 0, "broken": 0, "error": 0, "unknown": 0, "garbage": 5}
    for fmt in ("text", "markdown", "json"):
        assert render(report, fmt)


def test_tolerant_schema_is_the_generators(options: str) -> None:
    """The tolerant verdict relaxes schemas exactly as the generator does for the answer models."""
    contract = Contract.from_package(options)
    for call in contract.calls.values():
        assert tolerant_schema(call.response) == tolerant(dict(call.response))
        assert tolerant_schema(call.response, ()) == tolerant(dict(call.response), keep_required=())


# -- Deriv Options: REST ---------------------------------------------------------------------------


def test_rest_exchanges_by_operation(options: str, tmp_path: Path) -> None:
    lines = [
        {"method": "GET", "path": "/v1/health", "status": 200, "response": {}},
        {
            "method": "POST",
            "url": "https://api.example.com/trading/v1/options/accounts?x=1",
            "headers": {"Authorization": f"Bearer {SECRETS[0]}"},
            "body": {"currency": "USD", "group": "row"},
        },
        {"method": "GET", "path": "/v1/nothing-here", "status": 200, "response": {}},
        {"method": "GET", "path": "/v1/health", "status": 418, "response": {}},
    ]
    report = check_files(options, [_jsonl(tmp_path / "rest.jsonl", lines)])
    assert _calls(report) == {
        "GET /v1/health (response)": {"ok": 1, "drift": 1},
        "POST /trading/v1/options/accounts (request)": {"broken": 1},
    }
    assert {k: (t.count, t.broken) for k, t in report.paths.items()} == {
        "POST /trading/v1/options/accounts (request) body.account_type [required]": (1, 1),
        "GET /v1/health (response) status [responses]": (1, 0),
    }
    assert list(report.unknown) == ["GET '/v1/nothing-here' is no operation of the release"]
    assert SECRETS[0] not in render(report, "json")


# -- Deribit: JSON-RPC -------------------------------------------------------------------------------

requires_deribit = pytest.mark.skipif(
    not DERIBIT_DOC.is_file(), reason=f"no Deribit document at {DERIBIT_DOC}"
)

DERIBIT_LINES: list[Any] = [
    {"jsonrpc": "2.0", "id": 1, "method": "public/get_time", "params": {}},  # ok request
    {"jsonrpc": "2.0", "id": 1, "result": 1700000000000, "usIn": 1, "usOut": 2, "usDiff": 1},  # ok, paired
    {"jsonrpc": "2.0", "id": 2, "result": "soon"},  # broken: answer of get_time by a later request
    {"jsonrpc": "2.0", "id": 2, "method": "public/get_time"},  # ok request (no params)
    {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "public/auth",
        "params": {"grant_type": "client_credentials", "client_id": "abc", "client_secret": SECRETS[3]},
    },  # ok: only grant_type is required
    {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {
            "access_token": SECRETS[0],
            "expires_in": 900,
            "refresh_token": SECRETS[2],
            "scope": "session:x",
            "token_type": "bearer",
        },
    },  # ok
    {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "public/subscribe",
        "params": {"channels": ["ticker.BTC-PERPETUAL.100ms"]},
    },
    {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"channel": "ticker.BTC-PERPETUAL.100ms", "data": {}},
    },
    {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"channel": "ticker.BTC-PERPETUAL.100ms", "data": {"best_bid_price": "high"}},
    },  # broken: a string for a number
    {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"channel": "weather.today", "data": {}},
    },  # unknown
    {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}},  # ok
    {"jsonrpc": "2.0", "id": 5, "method": "private/buy", "params": {"instrument_name": "BTC-PERPETUAL"}},
    {"jsonrpc": "2.0", "id": 5, "error": {"code": 10009, "message": "not_enough_funds"}},  # error answer
    {"jsonrpc": "2.0", "id": 6, "method": "private/teleport", "params": {}},  # unknown method
    {"jsonrpc": "2.0", "id": 77, "result": 3},  # unknown: no request, no --method
    "garbage {",
]
DERIBIT_STATUSES = {"ok": 7, "drift": 1, "broken": 3, "error": 1, "unknown": 3, "garbage": 1}


@requires_deribit
def test_deribit_recording_through_the_cli_against_a_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _jsonl(tmp_path / "deribit.jsonl", DERIBIT_LINES)
    argv = [
        "check",
        *SOURCES,
        "--source",
        "deribit",
        "--from",
        str(DERIBIT_DOC),
        "--format",
        "json",
        str(rec),
    ]
    assert codegen(argv) == 1
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["statuses"] == DERIBIT_STATUSES
    assert {k: v["statuses"] for k, v in report["calls"].items()} == {
        "public/get_time (request)": {"ok": 2},
        "public/get_time (response)": {"ok": 1, "broken": 1},
        "public/auth (request)": {"ok": 1},
        "public/auth (response)": {"ok": 1},
        "public/subscribe (request)": {"ok": 1},
        "ticker.{instrument_name}.{interval} (notification)": {"drift": 1, "broken": 1},
        "heartbeat (notification)": {"ok": 1},
        "private/buy (request)": {"broken": 1},
        "private/buy (response)": {"error": 1},
    }
    assert report["paths"]["public/get_time (response) result [type]"]["broken"] == 1
    assert (
        report["paths"]["private/buy (request) params.amount [required]"]["first"]["location"] == f"{rec}:12"
    )
    ticker = "ticker.{instrument_name}.{interval} (notification) params.data.best_bid_price"
    assert {k: (v["count"], v["broken"]) for k, v in report["paths"].items() if k.startswith(ticker)} == {
        f"{ticker} [required]": (1, 0),  # line 8: {} as data
        f"{ticker} [type]": (1, 1),  # line 9: a string
    }
    assert sorted(report["unknown"]) == [
        "an answer whose request is not in the recording (pair it by id, or give the method)",
        "channel 'weather.today' matches no channel of the release",
        "method 'private/teleport' is not in the release",
    ]
    for secret in SECRETS:
        assert secret not in out
    # --method names the method of answers without their request; --fail-on never: exit 0
    argv = [*argv[:-1], "--method", "public/get_time", "--fail-on", "never", str(rec)]
    assert codegen(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["statuses"]["unknown"] == 2 and again["calls"]["public/get_time (response)"]["statuses"] == {
        "ok": 2,
        "broken": 1,
    }


@requires_deribit
def test_deribit_package_contract_agrees_with_the_bundle(tmp_path: Path) -> None:
    """What a generated package ships (the document as published, read with the mock's corrections)
    gives the same verdicts as the bundle read by the generator (its override file)."""
    from deriv_codegen.check import contract_from_ir
    from deriv_codegen.config import load_api_config
    from deriv_codegen.ir import BundleInfo
    from deriv_codegen.readers import read_bundle

    rec = _jsonl(tmp_path / "deribit.jsonl", DERIBIT_LINES)
    shipped = Contract.from_jsonrpc_document("deribit_api", orjson.loads(DERIBIT_DOC.read_bytes()))
    info = BundleInfo("deribit", "2.0.0", "0" * 64, str(DERIBIT_DOC))
    config = load_api_config(ROOT / "schemas" / "overrides", "deribit")
    read = contract_from_ir(read_bundle(DERIBIT_DOC, "deribit-openapi", info, config=config))
    a, b = check_files(shipped, [rec]), check_files(read, [rec])
    assert a.statuses == b.statuses == DERIBIT_STATUSES
    assert [(r.status, r.call) for r in a.results] == [(r.status, r.call) for r in b.results]


# -- Deriv v3 (legacy) -------------------------------------------------------------------------------

requires_v3 = pytest.mark.skipif(not V3_ZIP.is_file(), reason=f"no v3 bundle at {V3_ZIP}")


@requires_v3
def test_v3_recording_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messages = [
        {"authorize": SECRETS[4], "req_id": 1},
        {
            "msg_type": "authorize",
            "authorize": {"loginid": "CR90000000", "balance": 100, "currency": "USD", "email": "x@y.z"},
            "echo_req": {"authorize": "<not shown>", "req_id": 1},
            "req_id": 1,
        },
        {"ticks": "R_100", "subscribe": 1},
        {"msg_type": "tick", "tick": {"quote": "1.5", "symbol": "R_100"}, "echo_req": {"ticks": "R_100"}},
        {"mt5_password_change": 1, "login": "MT5", "old_password": SECRETS[1], "new_password": "short"},
        {"not_a_v3_call": 1},
    ]
    rec = tmp_path / "v3.json"
    rec.write_text(json.dumps(messages), encoding="utf-8")
    argv = ["check", *SOURCES, "--source", "deriv-legacy-v3", "--from", str(V3_ZIP), str(rec)]
    assert codegen([*argv[:-1], "--format", "json", str(rec)]) == 1
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["statuses"] == {"ok": 3, "drift": 0, "broken": 2, "error": 0, "unknown": 1, "garbage": 0}
    assert {k: v["statuses"] for k, v in report["calls"].items()} == {
        "authorize (request)": {"ok": 1},
        "authorize (response)": {"ok": 1},
        "ticks (request)": {"ok": 1},
        "ticks (response)": {"broken": 1},
        "mt5_password_change (request)": {"broken": 1},
    }
    assert report["paths"]["ticks (response) tick.quote [type]"]["broken"] == 1
    assert "mt5_password_change (request) new_password [pattern]" in report["paths"]
    assert report["calls"]["authorize (request)"]["first"]["message"]["authorize"] == "***"
    for secret in SECRETS:
        assert secret not in out
    assert codegen([*argv[:-1], "--fail-on", "never", str(rec)]) == 0
    text = capsys.readouterr().out
    assert "deriv-legacy-v3 unpinned-deriv-api-docs-6571f72: 6 message(s) in 1 file(s)" in text
    assert all(secret not in text for secret in SECRETS)


# -- exit status, formats, secrets ------------------------------------------------------------------


def test_exit_status_by_policy(options: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drift = _jsonl(tmp_path / "drift.jsonl", [PONG, BALANCE_DRIFT])
    broken = _jsonl(tmp_path / "broken.jsonl", [PONG, BALANCE_BROKEN])
    garbage = _jsonl(tmp_path / "garbage.jsonl", [PONG, "not json"])
    unknown = _jsonl(tmp_path / "unknown.jsonl", [{"wallet_balance": 1}])
    expected = {
        drift: {"tolerant": 0, "strict": 1, "never": 0},
        broken: {"tolerant": 1, "strict": 1, "never": 0},
        garbage: {"tolerant": 0, "strict": 1, "never": 0},
        unknown: {"tolerant": 1, "strict": 1, "never": 0},
    }
    for path, by_policy in expected.items():
        for policy, status in by_policy.items():
            assert deriv_check(["--package", options, "--fail-on", policy, str(path)]) == status, (
                path,
                policy,
            )
            assert codegen(["check", "--package", options, "--fail-on", policy, str(path)]) == status
    assert deriv_check(["--package", options, str(drift)]) == 0  # tolerant by default
    assert deriv_check(["--package", options, str(tmp_path / "missing.jsonl")]) == 2
    assert deriv_check(["--package", "no_such_package_here", str(drift)]) == 2
    capsys.readouterr()
    assert codegen(["check", *SOURCES, str(drift)]) == 1  # neither --source nor --package
    assert "--source" in capsys.readouterr().err


def test_report_formats_and_output_file(
    options: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _jsonl(tmp_path / "rec.jsonl", OPTIONS_LINES)
    assert deriv_check(["--package", options, str(rec)]) == 1
    text = capsys.readouterr().out
    assert "5 ok · 1 drift · 2 broken · 1 error · 2 unknown · 3 garbage" in text
    assert "verdicts - tolerant: FAIL (4)  strict: FAIL (8)" in text
    assert "balance (response) balance.balance" in text and f"{rec}:5: the value is not of type" in text
    out = tmp_path / "drift.md"
    assert deriv_check(["--package", options, "--format", "markdown", "-o", str(out), str(rec)]) == 1
    markdown = out.read_text(encoding="utf-8")
    assert (
        markdown.startswith("## Traffic check: ")
        and "| `balance (response) balance.balance [type]` | 1 | 1 |" in markdown
    )
    assert capsys.readouterr().out == ""
    assert deriv_check(["--package", options, "--format", "json", str(rec)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["statuses"] == OPTIONS_STATUSES and data["verdicts"] == {"strict": "fail", "tolerant": "fail"}
    assert data["rules"]["type"] == {
        "count": 2,
        "broken": 2,
        "first": {
            "location": f"{rec}:5",
            "call": "balance",
            "kind": "response",
            "path": "balance.balance",
            "rule": "type",
            "detail": 'the value is not of type "number"',
            "tolerated": False,
            "message": BALANCE_BROKEN,
        },
    }


def test_secrets_are_masked_in_every_example(options: str, tmp_path: Path) -> None:
    lines: list[Any] = [
        {"balance": 1, "token": SECRETS[0], "passthrough": {"password": SECRETS[1], "signature": SECRETS[2]}},
        {"msg_type": "balance", "balance": {"balance": "1"}, "echo_req": {"authorization": SECRETS[0]}},
        {"method": "POST", "path": "/payment-agents/v1/withdraw", "body": {"verification_code": SECRETS[3]}},
        f"Authorization: Bearer {SECRETS[0]} token={SECRETS[2]}",
        {"unknown_call": 1, "api_key": SECRETS[3], "note": f"password={SECRETS[1]}"},
    ]
    report = check_files(options, [_jsonl(tmp_path / "secrets.jsonl", lines)])
    assert report.statuses["garbage"] == 1 and report.statuses["unknown"] == 1
    for fmt in ("text", "markdown", "json"):
        shown = render(report, fmt)
        assert all(secret not in shown for secret in SECRETS), fmt
    first = report.results[0].message
    assert first["token"] == "***" and first["passthrough"] == {"password": "***", "signature": "***"}
    assert report.results[0].message["balance"] == 1  # a call's flag is not a secret


def test_read_recording_locations(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "r.jsonl", [{"a": 1}, "", [{"b": 1}, {"c": 1}], "nope"])
    found = list(read_recording(path))
    assert [loc.removeprefix(str(path)) for loc, _ in found] == [":1", ":3[0]", ":3[1]", ":4"]


# -- the pytest helper, used as a project's CI would -------------------------------------------------


def test_assert_traffic_matches_as_a_user_writes_it(options: str, tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    _jsonl(recordings / "session1.jsonl", [PING, PONG, BALANCE_OK])
    _jsonl(recordings / "session2.jsonl", [BALANCE_DRIFT])
    report = assert_traffic_matches(str(recordings / "*.jsonl"), package=options)
    assert report.statuses["ok"] == 3 and report.statuses["drift"] == 1
    with pytest.raises(AssertionError, match=r"1 recorded message\(s\) do not match .* \(strict check\)"):
        assert_traffic_matches(recordings / "session2.jsonl", package=options, strict=True)
    _jsonl(recordings / "session3.jsonl", [BALANCE_BROKEN, {"wallet_balance": 1}])
    with pytest.raises(AssertionError) as failed:
        assert_traffic_matches(
            [recordings / "session1.jsonl", recordings / "session3.jsonl"], package=options
        )
    assert "2 recorded message(s)" in str(failed.value) and "balance (response) balance.balance" in str(
        failed.value
    )
    with pytest.raises(AssertionError, match="no recording matches"):
        assert_traffic_matches(str(recordings / "*.json"), package=options)


def test_assert_traffic_fixture(options: str, tmp_path: Path, assert_traffic: Any) -> None:
    rec = _jsonl(tmp_path / "rec.jsonl", [PONG, {"wallet_balance": 1}])
    with pytest.raises(AssertionError, match="unknown"):
        assert_traffic(rec)  # package: mock_package, deriv_options
    report = assert_traffic(rec, allow_unknown=True)
    assert report.source == "deriv-options"


def test_a_mock_journal_is_read_as_the_requests_it_received(options: str, tmp_path: Path) -> None:
    journal = tmp_path / "received.jsonl"
    lines = [
        {"seq": 1, "time": 1.0, "kind": "connect", "path": "/ws?otp=<redacted>"},
        {"seq": 2, "time": 1.1, "kind": "request", "call": "ping", "message": {"ping": 1, "req_id": 1}},
        {"seq": 3, "time": 1.2, "kind": "fault", "fault": "drop"},
        {"seq": 4, "time": 1.3, "kind": "request", "call": "time", "message": {"time": "1", "req_id": 2}},
        {"seq": 5, "time": 1.4, "kind": "disconnect"},
    ]
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [m for _, m in read_recording(journal)] == [lines[1]["message"], lines[3]["message"]]
    report = check_files(options, [journal])
    assert report.messages == 2
    assert {k: n for k, n in report.statuses.items() if n} == {"ok": 1, "broken": 1}
