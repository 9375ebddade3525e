"""Schema preparation: tolerant responses, names, references, patterns."""

from __future__ import annotations

from typing import Any

from deriv_codegen.errors import Problem
from deriv_codegen.naming import identifier, pascal, snake, unique
from deriv_codegen.schema_prep import (
    assign_class_names,
    check_patterns,
    inline_local_refs,
    nullable,
    strip_titles,
    tolerant,
)


def test_tolerant_keeps_only_msg_type_strict() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["msg_type", "echo_req", "a"],
        "additionalProperties": False,
        "properties": {
            "msg_type": {"type": "string", "enum": ["x"]},
            "a": {
                "type": "object",
                "required": ["b"],
                "additionalProperties": False,
                "properties": {
                    "b": {"type": "string", "enum": ["p", "q"], "pattern": "^p$", "maxLength": 1},
                    "c": {"type": "array", "items": {"enum": [1, 2]}, "minItems": 3},
                    "d": {"const": 5},
                },
            },
        },
    }
    out = tolerant(schema)
    assert out["required"] == ["msg_type"]
    assert "additionalProperties" not in out
    assert out["properties"]["msg_type"] == {"type": "string", "enum": ["x"]}
    a = out["properties"]["a"]
    assert "required" not in a
    assert "additionalProperties" not in a
    assert a["properties"]["b"] == {"type": "string"}
    assert a["properties"]["c"] == {"type": "array", "items": {"type": "integer"}}
    assert a["properties"]["d"] == {"type": "integer"}
    assert schema["properties"]["a"]["required"] == ["b"], "the input must not be modified"


def test_inline_local_refs_and_report_unresolvable() -> None:
    problems: list[Problem] = []
    schema = {
        "properties": {
            "s": {"$ref": "#/definitions/side", "description": "kept"},
            "x": {"$ref": "other.json#/a"},
        },
        "definitions": {"side": {"type": "string", "enum": ["buy", "sell"]}},
    }
    out = inline_local_refs(schema, "f.json", problems)
    assert out["properties"]["s"] == {"type": "string", "enum": ["buy", "sell"], "description": "kept"}
    assert "definitions" not in out
    assert out["properties"]["x"] == {}
    assert [p.where for p in problems] == ["f.json"]
    assert "other.json" in problems[0].what


def test_class_names_are_readable_unique_and_never_numbered() -> None:
    request = {
        "properties": {
            "limit_order": {"properties": {"stop_loss": {"type": "number"}}},
            "contract_update": {"properties": {"stop_loss": {"properties": {"v": {}}}}},
            "stop_loss": {"properties": {"v": {}}},
            "rows": {"type": "array", "items": {"properties": {"x": {}}}},
        }
    }
    used: set[str] = set()
    names, roots = assign_class_names(request, "ContractUpdateRequest", "ContractUpdate", used)
    assert names == [
        "ContractUpdateRequest",
        "ContractUpdateLimitOrder",
        "ContractUpdate",
        "ContractUpdateStopLoss",
        "ContractUpdateRequestStopLoss",
        "ContractUpdateRowsItem",
    ]
    assert roots == []
    assert (
        request["properties"]["contract_update"]["properties"]["stop_loss"]["title"]
        == "ContractUpdateStopLoss"
    )


def test_union_branches_get_names() -> None:
    schema = {
        "properties": {
            "ticks": {
                "oneOf": [
                    {"type": "string", "pattern": "^\\w+$"},
                    {"type": "array", "items": {"type": "string", "pattern": "^\\w+$"}},
                ]
            },
            "result": {
                "oneOf": [
                    {"properties": {"data": {}, "meta": {}}},
                    {"properties": {"errors": {}, "meta": {}}},
                ]
            },
        }
    }
    names, roots = assign_class_names(schema, "TicksRequest", "Ticks", set())
    assert roots == ["TicksValue", "TicksItem"]
    assert names == ["TicksRequest", "TicksResultWithData", "TicksResultWithErrors"]


def test_prose_titles_are_stripped_but_property_names_kept() -> None:
    out = strip_titles({"title": "A (request)", "properties": {"title": {"type": "string", "title": "T"}}})
    assert out == {"properties": {"title": {"type": "string"}}}


def test_patterns_are_checked_with_the_engine_each_model_uses() -> None:
    # ``\p{L}`` needs pydantic's default (Rust) engine; look-ahead needs Python's re, which the model
    # generator would select for the whole model: in one model the Rust pattern wins, the other is reported.
    problems: list[Problem] = []
    out = check_patterns(
        {"properties": {"a": {"pattern": "^\\p{L}+$"}, "b": {"pattern": "^(?=.{1,3}$)x+$"}}},
        "s.json",
        problems,
    )
    assert out["properties"]["a"]["pattern"] == "^\\p{L}+$"
    assert "pattern" not in out["properties"]["b"]
    assert len(problems) == 1
    assert "/properties/b" in problems[0].what


def test_nullable() -> None:
    assert nullable({"type": ["null", "number"]})
    assert nullable({"oneOf": [{"type": "string"}, {"type": "null"}]})
    assert nullable({"enum": ["a", None]})
    assert not nullable({"type": "number"})


def test_naming_helpers() -> None:
    assert pascal("proposal_open_contract") == "ProposalOpenContract"
    assert pascal("Deriv-App-ID") == "DerivAppID"
    assert pascal("2fa") == "N2Fa"
    assert snake("accountId") == "account_id"
    assert identifier("class") == "class_"
    assert identifier("timeout") == "timeout_"
    used = {"A"}
    assert unique(["A", "B"], used) == "B"
    assert unique(["A", "B"], used) == "B2"
