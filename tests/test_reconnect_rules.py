"""Which calls the runtime may send again after a reconnect: data from the override file, with a
fail-safe default from the schema, reported when it falls back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deriv_codegen.errors import SourcesError
from deriv_codegen.ir import Binding, Operation, Streaming
from deriv_codegen.reconnect import ReconnectRule, reconnect_rules

from .conftest import generate_mini

WHERE = "overrides/test.toml"


def call(
    name: str, *, auth: bool = True, scopes: tuple[str, ...] = ("trade",), streams: bool = True
) -> Operation:
    return Operation(
        name,
        "",
        name,
        "",
        "",
        {},
        {},
        auth,
        scopes,
        (),
        (Binding("deriv-ws", msg_types=(name,)),),
        name,
        streaming=Streaming("deriv-subscribe", (name,)) if streams else None,
        request_key=name,
    )


CALLS = [
    call("ticks", auth=False, scopes=()),
    call("profile", scopes=("read",)),
    call("balance"),
    call("buy"),
    call("poc"),
    call("sell", streams=False),
]


def test_default_is_safe_only_without_auth_or_with_read_scopes_and_fallbacks_are_reported() -> None:
    rules, problems = reconnect_rules(CALLS, {}, WHERE)
    assert {n for n, r in rules.items() if r.repeatable} == {"ticks", "profile"}
    reported = {p.where for p in problems}
    # every *streaming* call that fell back to "never repeated" is listed; sell does not stream
    assert reported == {"balance", "buy", "poc"}
    assert all("never re-sent" in p.what and WHERE in p.what for p in problems)


def test_the_override_file_decides_and_resume_follows_what_was_created() -> None:
    table: dict[str, Any] = {
        "repeatable": ["balance", "poc"],
        "never_repeat": ["buy", "sell"],
        "resume": {
            "buy": {
                "call": "poc",
                "request": {"poc": 1, "subscribe": 1},
                "from_receipt": {"contract_id": "buy.contract_id"},
                "check": "portfolio",
            }
        },
    }
    rules, problems = reconnect_rules(CALLS, table, WHERE)
    assert problems == []
    assert rules["balance"] == ReconnectRule(True) and rules["sell"] == ReconnectRule(False)
    buy = rules["buy"]
    assert not buy.repeatable and buy.check == "portfolio" and buy.resume is not None
    assert buy.resume.call == "poc"
    assert buy.resume.request == (("poc", 1), ("subscribe", 1))
    assert buy.resume.from_receipt == (("contract_id", ("buy", "contract_id")),)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"repeatable": ["buy"], "never_repeat": ["buy"]}, "both repeatable and never_repeat"),
        ({"repeatable": "buy"}, "must be a list"),
        ({"resume": {"buy": {"call": "sell", "from_receipt": {"id": "buy.id"}}}}, "streaming call"),
        ({"resume": {"buy": {"call": "balance", "from_receipt": {"id": "buy.id"}}}}, "must be repeatable"),
        ({"repeatable": ["poc"], "resume": {"buy": {"call": "poc"}}}, "from_receipt"),
        (
            {"repeatable": ["poc"], "resume": {"buy": {"call": "poc", "from_receipt": {"id": "buy..x"}}}},
            "dotted path",
        ),
        (
            {
                "repeatable": ["poc"],
                "resume": {"buy": {"call": "poc", "request": {"x": [1]}, "from_receipt": {"id": "b.i"}}},
            },
            "strings, numbers or booleans",
        ),
    ],
)
def test_a_bad_reconnect_table_is_refused_clearly(table: dict[str, Any], message: str) -> None:
    with pytest.raises(SourcesError, match=message) as err:
        reconnect_rules(CALLS, table, WHERE)
    assert WHERE in str(err.value)


def test_names_the_bundle_lacks_are_reported_not_fatal() -> None:
    _, problems = reconnect_rules(CALLS, {"repeatable": ["ticks", "gone"]}, WHERE)
    assert any("'gone'" in p.what for p in problems)


def test_generate_lists_streaming_calls_that_fell_back(tmp_path: Path) -> None:
    """The mini bundle's ``order`` streams and needs trade/admin; its override file names nothing."""
    result = generate_mini(tmp_path)
    (problem,) = [p for p in result.problems if p.where == "order" and "never re-sent" in p.what]
    assert "trade, admin" in problem.what
    calls = (result.out_dir / "mini_api" / "_calls.py").read_text()
    assert "repeatable=False" in calls and "repeatable=True" in calls
