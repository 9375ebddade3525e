"""``deriv-codegen diff``: IR-level comparison of two releases, classified for senders and readers.

The real Options releases come from the mirror; every other bundle is a modified copy of the tests'
own fixtures (mini, mini_rpc, mini_v3), written into tmp_path by the tests.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from deriv_codegen.cli import main
from deriv_codegen.config import load_api_config
from deriv_codegen.diff import ApiDiff, Change, classify, diff_bundles
from deriv_codegen.diff_report import render_markdown, text_report
from deriv_codegen.ir import BundleInfo
from deriv_codegen.readers import read_bundle
from deriv_codegen.readers.rest_shaped import check_rest_shaped
from deriv_codegen.schema_diff import FieldChange, compare_schemas

from .conftest import (
    FIXTURES,
    MINI_RPC,
    MINI_V3,
    OPTIONS_RELEASES,
    ROOT,
    generate_mini,
    imported,
    requires_mirror,
)

OVERRIDES = ROOT / "schemas" / "overrides"

# -- helpers --------------------------------------------------------------------------------------


class Bundle:
    """A copy of a fixture bundle in tmp_path, edited as JSON."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, name: str) -> Any:
        return json.loads((self.root / name).read_text(encoding="utf-8"))

    def save(self, name: str, doc: Any) -> None:
        (self.root / name).write_text(json.dumps(doc, indent=1), encoding="utf-8")

    def edit(self, name: str, change: Callable[[Any], None]) -> None:
        doc = self.load(name)
        change(doc)
        self.save(name, doc)


def copy_of(fixture: Path, dest: Path) -> Bundle:
    shutil.copytree(fixture, dest)
    return Bundle(dest)


def mini_diff(tmp_path: Path, edit: Callable[[Bundle], None]) -> ApiDiff:
    """The diff from the mini fixture to a copy edited by ``edit``."""
    new = copy_of(FIXTURES / "mini", tmp_path / "new")
    edit(new)
    return diff_bundles(
        (FIXTURES / "mini", BundleInfo("mini", "old", "", "mini")),
        (new.root, BundleInfo("mini", "new", "", str(new.root))),
        "deriv-options-zip",
    )


def found(diff: ApiDiff, subject: str, kind: str, path: str = "") -> Change:
    """The one change of ``kind`` about ``subject`` (at ``path``, if given)."""
    hits = [
        c for c in diff.changes if c.subject == subject and c.kind == kind and (not path or c.path == path)
    ]
    assert len(hits) == 1, (subject, kind, path, [(c.subject, c.kind, c.path) for c in diff.changes])
    return hits[0]


def impacts(change: Change) -> tuple[str, str]:
    return change.senders, change.readers


# -- the schema walker and the rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ({"type": "integer"}, {"type": "number"}, "type-widened"),
        ({"type": "number"}, {"type": "integer"}, "type-narrowed"),
        ({"type": "string"}, {"type": ["string", "null"]}, "type-widened"),
        ({"type": "string", "nullable": True}, {"type": "string"}, "type-narrowed"),
        ({"type": "string"}, {"type": "integer"}, "type-changed"),
        ({"enum": ["a"]}, {"enum": ["a", "b"]}, "enum-added"),
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, "enum-removed"),
        ({"type": "string"}, {"type": "string", "enum": ["a"]}, "enum-removed"),
        ({"type": "string"}, {"type": "string", "pattern": "^a$"}, "pattern-added"),
        ({"type": "string", "pattern": "^a$"}, {"type": "string"}, "pattern-removed"),
        ({"type": "string", "pattern": "^a$"}, {"type": "string", "pattern": "^b$"}, "pattern-changed"),
        ({"type": "string"}, {"type": "string", "format": "date"}, "format-added"),
        ({"type": "string", "format": "date"}, {"type": "string"}, "format-removed"),
        ({"type": "string", "format": "date"}, {"type": "string", "format": "email"}, "format-changed"),
        ({"maximum": 5}, {"maximum": 3}, "bound-tightened"),
        ({"maximum": 5}, {"maximum": 9}, "bound-loosened"),
        ({"minLength": 1}, {"minLength": 2}, "bound-tightened"),
        ({"minLength": 1}, {}, "bound-loosened"),
        ({}, {"maxItems": 3}, "bound-tightened"),
        ({"multipleOf": 2}, {"multipleOf": 4}, "bound-tightened"),
        ({"multipleOf": 4}, {"multipleOf": 2}, "bound-loosened"),
        ({"type": "object"}, {"type": "object", "additionalProperties": False}, "closed"),
        ({"type": "object", "additionalProperties": False}, {"type": "object"}, "opened"),
        (
            {"oneOf": [{"type": "string"}]},
            {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "alternatives-changed",
        ),
        ({"default": 1}, {"default": 2}, "default-changed"),
    ],
)
def test_each_kind_of_field_change(old: dict[str, Any], new: dict[str, Any], kind: str) -> None:
    changes = compare_schemas({"properties": {"x": old}}, {"properties": {"x": new}})
    assert [(c.path, c.kind) for c in changes] == [("$.x", kind)]


def test_properties_nested_by_json_path_refs_and_all_of() -> None:
    old = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"$ref": "#/definitions/item"},
            "list": {"type": "array", "items": {"$ref": "#/definitions/item"}},
            "Deriv-App-ID": {"type": "string"},
        },
        "definitions": {
            "item": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
        },
    }
    new = {
        "type": "object",
        "properties": {
            "a": {"allOf": [{"$ref": "#/definitions/item"}, {"properties": {"extra": {"type": "string"}}}]},
            "list": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}},
            "b": {"type": "string"},
        },
        "required": ["b"],
        "definitions": {
            "item": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
        },
    }
    changes = compare_schemas(old, new, _resolver(old), _resolver(new))
    assert [(c.path, c.kind) for c in changes] == [
        ("$.a", "became-optional"),
        ("$.a.extra", "field-added"),
        ("$.b", "field-added"),
        ("$.list[*].id", "became-optional"),
        ("$['Deriv-App-ID']", "field-removed"),
    ]
    added_b = next(c for c in changes if c.path == "$.b")
    assert added_b.required


def _resolver(root: Any) -> Callable[[str], Any]:
    from deriv_codegen.schema_diff import local_resolver

    return local_resolver(root)


def test_recursive_schemas_end() -> None:
    node = {"type": "object", "properties": {"child": {"$ref": "#/definitions/node"}}}
    old = {"$ref": "#/definitions/node", "definitions": {"node": node}}
    new = {"$ref": "#/definitions/node", "definitions": {"node": {**node, "required": ["child"]}}}
    changes = compare_schemas(old, new, _resolver(old), _resolver(new))
    assert ("$.child", "became-required") in [(c.path, c.kind) for c in changes]


@pytest.mark.parametrize(
    ("kind", "send", "read"),
    [
        # data the client sends: the new release must accept what the old one did
        ("field-removed", ("breaking", "none"), ("none", "breaking")),
        ("became-required", ("breaking", "none"), ("none", "none")),
        ("became-optional", ("none", "none"), ("none", "breaking")),
        ("type-narrowed", ("breaking", "none"), ("none", "none")),
        ("type-widened", ("none", "none"), ("none", "breaking")),
        ("type-changed", ("breaking", "none"), ("none", "breaking")),
        ("enum-added", ("none", "none"), ("none", "strict")),
        ("enum-removed", ("breaking", "none"), ("none", "none")),
        ("pattern-added", ("breaking", "none"), ("none", "none")),
        ("pattern-removed", ("none", "none"), ("none", "strict")),
        ("pattern-changed", ("breaking", "none"), ("none", "strict")),
        ("bound-tightened", ("breaking", "none"), ("none", "none")),
        ("bound-loosened", ("none", "none"), ("none", "strict")),
        ("format-added", ("breaking", "none"), ("none", "none")),
        ("format-removed", ("none", "none"), ("none", "strict")),
        ("closed", ("breaking", "none"), ("none", "none")),
        ("opened", ("none", "none"), ("none", "strict")),
        ("alternatives-changed", ("breaking", "none"), ("none", "breaking")),
        ("default-changed", ("none", "none"), ("none", "none")),
    ],
)
def test_classification_rules(kind: Any, send: tuple[str, str], read: tuple[str, str]) -> None:
    change = FieldChange("$.x", kind, "")
    assert classify(change, "send") == send
    assert classify(change, "read") == read


def test_added_fields_by_requiredness_and_closed_objects() -> None:
    assert classify(FieldChange("$.x", "field-added", "", required=True), "send") == ("breaking", "none")
    assert classify(FieldChange("$.x", "field-added", ""), "send") == ("none", "none")
    assert classify(FieldChange("$.x", "field-added", ""), "read") == ("none", "none")
    assert classify(FieldChange("$.x", "field-added", "", parent_closed=True), "read") == ("none", "strict")


# -- synthetic Options bundles: one change of each kind ---------------------------------------------


def test_identical_bundles_have_no_changes(tmp_path: Path) -> None:
    diff = mini_diff(tmp_path, lambda b: None)
    assert diff.changes == []
    assert not diff.breaking


def test_request_field_changes(tmp_path: Path) -> None:
    def edit(b: Bundle) -> None:
        def greet(doc: Any) -> None:
            props = doc["properties"]
            props["name"]["pattern"] = "^[A-Za-z]{1,20}$"
            props["times"]["maximum"] = 3
            props["lang"] = {"type": "string"}
            props["tone"] = {"type": "string", "format": "hostname"}
            del props["passthrough"]
            doc["required"] = ["greet", "name", "tone"]
            doc["auth_required"] = 1

        def order(doc: Any) -> None:
            props = doc["properties"]
            props["price"]["type"] = "integer"
            props["note"]["type"] = "string"
            doc["definitions"]["side"]["enum"] = ["buy", "sell", "hold"]
            doc["auth_scopes"] = ["trade", "admin", "payments"]
            doc["required"] = ["order"]

        b.edit("greet_request.schema.json", greet)
        b.edit("order_request.schema.json", order)

    diff = mini_diff(tmp_path, edit)
    broken = ("breaking", "none")
    assert impacts(found(diff, "greet", "pattern-changed", "$.name")) == broken
    assert impacts(found(diff, "greet", "bound-tightened", "$.times")) == broken
    assert impacts(found(diff, "greet", "field-added", "$.lang")) == ("none", "none")
    assert impacts(found(diff, "greet", "field-added", "$.tone")) == broken  # required
    assert impacts(found(diff, "greet", "field-removed", "$.passthrough")) == broken
    assert impacts(found(diff, "greet", "auth-required")) == broken
    assert impacts(found(diff, "order", "type-narrowed", "$.price")) == broken
    assert impacts(found(diff, "order", "type-narrowed", "$.note")) == broken
    assert impacts(found(diff, "order", "enum-added", "$.side")) == ("none", "none")  # through $ref
    assert impacts(found(diff, "order", "scopes-added")) == broken
    assert "payments" in found(diff, "order", "scopes-added").detail
    assert impacts(found(diff, "order", "became-optional", "$.price")) == ("none", "none")
    assert all(c.part == "request" for c in diff.changes if c.path)
    assert diff.breaking


def test_response_field_changes(tmp_path: Path) -> None:
    def edit(b: Bundle) -> None:
        def greet(doc: Any) -> None:
            block = doc["properties"]["greet"]
            block["properties"]["mood"]["enum"] = ["happy", "calm", "sad"]
            block["properties"]["text"]["maxLength"] = 20
            block["properties"]["emoji"] = {"type": "string"}  # the object is closed
            block["required"] = ["text"]

        def order(doc: Any) -> None:
            inner = doc["properties"]["order"]["properties"]
            inner["amount"]["type"] = ["number", "string"]
            del inner["status"]
            inner["limits"]["properties"]["note"] = {"type": "string"}  # an open object
            inner["fills"]["items"]["properties"]["at"]["type"] = "number"
            doc["properties"]["msg_type"]["enum"] = ["order", "fill", "cancel"]

        b.edit("greet_response.schema.json", greet)
        b.edit("order_response.schema.json", order)

    diff = mini_diff(tmp_path, edit)
    assert impacts(found(diff, "greet", "enum-added", "$.greet.mood")) == ("none", "strict")
    assert impacts(found(diff, "greet", "bound-loosened", "$.greet.text")) == ("none", "strict")
    assert impacts(found(diff, "greet", "field-added", "$.greet.emoji")) == ("none", "strict")
    assert impacts(found(diff, "greet", "became-optional", "$.greet.mood")) == ("none", "breaking")
    assert impacts(found(diff, "order", "type-widened", "$.order.amount")) == ("none", "breaking")
    assert impacts(found(diff, "order", "field-removed", "$.order.status")) == ("none", "breaking")
    assert impacts(found(diff, "order", "field-added", "$.order.limits.note")) == ("none", "none")
    assert impacts(found(diff, "order", "type-widened", "$.order.fills[*].at")) == ("none", "breaking")
    assert impacts(found(diff, "order", "enum-added", "$.msg_type")) == ("none", "strict")
    assert impacts(found(diff, "order", "msg-type-added")) == ("none", "strict")
    assert {c.part for c in diff.changes if c.path} == {"response"}
    assert diff.count("breaking", "read") == 4
    assert diff.count("breaking", "send") == 0


def test_calls_added_removed_and_streaming(tmp_path: Path) -> None:
    def edit(b: Bundle) -> None:
        (b.root / "fill_request.schema.json").unlink()
        (b.root / "fill_response.schema.json").unlink()
        b.save(
            "wave_request.schema.json",
            {"type": "object", "required": ["wave"], "properties": {"wave": {"type": "integer"}}},
        )
        b.save(
            "wave_response.schema.json",
            {"type": "object", "properties": {"msg_type": {"type": "string", "enum": ["wave"]}}},
        )
        b.edit("order_request.schema.json", lambda d: d["properties"].pop("subscribe"))
        b.edit("greet_request.schema.json", lambda d: d.update(auth_required=0))

    diff = mini_diff(tmp_path, edit)
    assert impacts(found(diff, "fill", "removed")) == ("breaking", "breaking")
    assert impacts(found(diff, "wave", "added")) == ("none", "none")
    assert found(diff, "wave", "added").detail == "WebSocket call added"
    assert impacts(found(diff, "order", "streaming-removed")) == ("breaking", "breaking")
    assert impacts(found(diff, "order", "field-removed", "$.subscribe")) == ("breaking", "none")
    assert diff.new.operations == diff.old.operations


def test_openapi_changes(tmp_path: Path) -> None:
    def edit(b: Bundle) -> None:
        def spec(doc: Any) -> None:
            get = doc["paths"]["/v1/accounts/{id}"]["get"]
            get["parameters"].append(
                {"name": "view", "in": "query", "required": True, "schema": {"type": "string"}}
            )
            get["security"] = [{"oauth2": ["trade", "admin"]}]
            del get["responses"]["404"]
            get["responses"]["500"] = {"description": "Oops"}
            doc["components"]["schemas"]["Account"]["properties"]["id"]["pattern"] = "^[0-9]+$"
            doc["components"]["schemas"]["Account"]["properties"]["name"] = {"type": "string"}
            del doc["paths"]["/v1/health"]
            doc["paths"]["/v2/health"] = {
                "get": {"summary": "Health 2", "responses": {"200": {"description": "OK"}}}
            }
            flows = doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
            flows["scopes"]["admin"] = "Admin"
            doc["info"]["version"] = "2.0"

        b.edit("rest-api-openapi.json", spec)

    diff = mini_diff(tmp_path, edit)
    op = "GET /v1/accounts/{id}"
    assert impacts(found(diff, op, "field-added", "$.view")) == ("breaking", "none")
    assert found(diff, op, "field-added", "$.view").part == "request"
    assert impacts(found(diff, op, "scopes-added")) == ("breaking", "none")
    assert impacts(found(diff, op, "status-removed")) == ("none", "none")
    assert impacts(found(diff, op, "status-added")) == ("none", "strict")
    assert impacts(found(diff, op, "pattern-added", "$.id")) == ("none", "none")  # in the answer
    assert impacts(found(diff, op, "field-added", "$.name")) == ("none", "none")
    assert impacts(found(diff, "GET /v1/health", "removed")) == ("breaking", "breaking")
    assert found(diff, "GET /v2/health", "added").detail == "REST operation added (Health 2)"
    assert found(diff, "security oauth2", "scope-added").detail == "scope 'admin' offered"
    assert found(diff, "openapi", "version-changed").detail == "info.version 1.0 -> 2.0"


def test_rest_shaped_schemas_and_problems(tmp_path: Path) -> None:
    def edit(b: Bundle) -> None:
        b.edit(
            "account_response.schema.json",
            lambda d: d["properties"]["data"].update(properties={"id": {"type": "string"}}),
        )
        b.edit(
            "account_request.schema.json",
            lambda d: d["properties"]["headers"]["properties"].update(Authorization={"type": "string"}),
        )
        (b.root / "status_request.schema.json").unlink()
        (b.root / "status_response.schema.json").unlink()
        (b.root / "readme.md").write_text("hello", encoding="utf-8")

    diff = mini_diff(tmp_path, edit)
    assert impacts(found(diff, "account", "field-added", "$.data.id")) == ("none", "none")
    assert found(diff, "account", "field-added", "$.headers.Authorization").subject_type == "rest-schema"
    assert impacts(found(diff, "status", "removed")) == ("breaking", "breaking")
    problem = found(diff, "readme.md", "new-skipped")
    assert problem.detail == "file not recognised in this layout; ignored"
    assert problem.subject_type == "problem"


# -- nothing silently dropped: request-only calls, REST-shaped schemas against OpenAPI --------------


def test_request_only_websocket_schema_becomes_a_call_with_an_untyped_answer(tmp_path: Path) -> None:
    bundle = copy_of(FIXTURES / "mini", tmp_path / "bundle")
    bundle.save(
        "hello_request.schema.json",
        {
            "type": "object",
            "auth_required": 0,
            "required": ["hello"],
            "properties": {"hello": {"type": "integer", "enum": [1]}, "req_id": {"type": "integer"}},
        },
    )
    result = generate_mini(tmp_path / "out", bundle=bundle.root)
    assert (
        "warning: hello_request.schema.json: request schema without a response schema; the call is generated "
        "with an untyped answer (msg_type, echo_req and req_id typed; every other field kept in model_extra)"
    ) in [str(p) for p in result.problems]
    with imported(result.out_dir, "mini_api") as api:
        assert "hello" in api.CALLS
        from mini_api.client import MiniClient  # type: ignore[import-not-found]

        assert callable(MiniClient.hello)
        models = import_module("mini_api.models.hello")
        answer = models.HelloResponse.model_validate(
            {"msg_type": "hello", "echo_req": {"hello": 1}, "req_id": 3, "hello": {"anything": [1, 2]}}
        )
        assert answer.req_id == 3
        assert answer.model_extra == {"hello": {"anything": [1, 2]}}
        assert models.HelloRequest(hello=1).model_dump(exclude_none=True) == {"hello": 1}


def test_request_only_envelope_and_response_only_are_reported(tmp_path: Path) -> None:
    def edit(b: Bundle) -> None:
        b.save("probe_request.schema.json", {"type": "object", "properties": {"headers": {"type": "object"}}})
        b.save("lost_response.schema.json", {"type": "object"})

    diff = mini_diff(tmp_path, edit)
    assert found(diff, "probe_request.schema.json", "new-skipped").detail == (
        "request schema without a response schema; skipped"
    )
    assert found(diff, "lost_response.schema.json", "new-skipped").detail == (
        "response schema without a request schema; skipped"
    )


def _options_ir(root: Path) -> Any:
    return read_bundle(root, "deriv-options-zip", BundleInfo("mini", "x", "", str(root)))


def test_rest_shaped_schema_compared_with_its_operation(tmp_path: Path) -> None:
    bundle = copy_of(FIXTURES / "mini", tmp_path / "bundle")
    assert [str(p) for p in check_rest_shaped(_options_ir(bundle.root)) if "account" in p.where] == [
        "warning: account_request.schema.json: disagrees with the OpenAPI operation GET /v1/accounts/{id}: "
        "parameter 'id' optional in the schema, required in the operation",
        "warning: account_request.schema.json: disagrees with the OpenAPI operation GET /v1/accounts/{id}: "
        "the operation needs authentication (scopes: trade); the schema has no Authorization header",
    ]

    def request(doc: Any) -> None:
        doc["properties"]["path"]["required"] = ["id"]
        doc["properties"]["path"]["properties"]["id"]["pattern"] = "^[0-9]+$"
        doc["properties"]["headers"]["properties"]["Authorization"] = {"type": "string"}
        doc["properties"]["headers"]["properties"]["X-Trace"] = {"type": "string"}
        doc["properties"]["query"] = {"type": "object", "properties": {"verbose": {"type": "boolean"}}}

    bundle.edit("account_request.schema.json", request)
    lines = [p.what for p in check_rest_shaped(_options_ir(bundle.root)) if "account" in p.where]
    prefix = "disagrees with the OpenAPI operation GET /v1/accounts/{id}: "
    assert lines == [
        prefix + "header parameter 'X-Trace' in the schema, not in the operation",
        prefix + "parameter 'id': pattern \"^[0-9]+$\" (operation -> schema)",
        prefix + "query parameter 'verbose' in the schema, not in the operation",
    ]


def test_rest_shaped_schema_matching(tmp_path: Path) -> None:
    bundle = copy_of(FIXTURES / "mini", tmp_path / "bundle")
    bundle.save(
        "nothing_request.schema.json",
        {"type": "object", "properties": {"path": {"type": "object", "properties": {"zzz": {}}}}},
    )
    bundle.save("nothing_response.schema.json", {"type": "object"})
    bundle.save(
        "named_request.schema.json",
        {
            "type": "object",
            "description": "Parameters of GET /v1/health.",
            "properties": {"X": {"type": "string"}},
        },
    )
    bundle.save("named_response.schema.json", {"type": "object"})
    problems = {p.where: p.what for p in check_rest_shaped(_options_ir(bundle.root))}
    assert problems["nothing_request.schema.json"] == (
        "REST-shaped schema: no OpenAPI operation has its path parameters and body; "
        "not compared with the OpenAPI document"
    )
    assert problems["named_request.schema.json"] == (
        "disagrees with the OpenAPI operation GET /v1/health: "
        "parameter 'X' in the schema, not in the operation"
    )


def test_generate_reports_rest_shaped_disagreements(tmp_path: Path) -> None:
    result = generate_mini(tmp_path / "out")
    lines = [str(p) for p in result.problems]
    assert any("account_request.schema.json: disagrees with the OpenAPI operation" in line for line in lines)


# -- Deribit (JSON-RPC) and the legacy v3 API -------------------------------------------------------


def test_jsonrpc_methods_and_channels(tmp_path: Path) -> None:
    new = copy_of(MINI_RPC, tmp_path / "rpc")
    name = "mini-rpc.openapi.json"

    def spec(doc: Any) -> None:
        del doc["paths"]["/public/get_time"]
        subs = doc["components"]["x-subscriptions"]
        ticker = subs["ticker.{instrument_name}.{interval}"]
        ticker["parameters"][1]["schema"]["enum"] = ["100ms"]
        ticker["notifications"]["schema"]["properties"]["last_price"]["type"] = ["number", "string"]
        del subs["user.orders.{currency}"]

    new.edit(name, spec)
    config = load_api_config(MINI_RPC / "overrides", "mini-rpc")
    diff = diff_bundles(
        (MINI_RPC / name, BundleInfo("mini-rpc", "old", "", "old")),
        (new.root / name, BundleInfo("mini-rpc", "new", "", "new")),
        "deribit-openapi",
        config,
    )
    assert impacts(found(diff, "public/get_time", "removed")) == ("breaking", "breaking")
    channel = "ticker.{instrument_name}.{interval}"
    assert impacts(found(diff, channel, "enum-removed", "$.interval")) == ("breaking", "none")
    assert found(diff, channel, "enum-removed", "$.interval").part == "parameters"
    assert impacts(found(diff, channel, "type-widened", "$.last_price")) == ("none", "breaking")
    assert found(diff, channel, "type-widened", "$.last_price").part == "notification"
    assert impacts(found(diff, "user.orders.{currency}", "removed")) == ("breaking", "breaking")


def test_legacy_v3_calls(tmp_path: Path) -> None:
    new = copy_of(MINI_V3, tmp_path / "v3")
    new.edit(
        "config/v3/authorize/receive.json",
        lambda d: d["properties"]["authorize"]["properties"].pop("scopes"),
    )
    config = load_api_config(FIXTURES / "mini_v3_overrides", "mini-v3")
    diff = diff_bundles(
        (MINI_V3, BundleInfo("mini-v3", "old", "", "old")),
        (new.root, BundleInfo("mini-v3", "new", "", "new")),
        "deriv-v3-docs-zip",
        config,
    )
    change = found(diff, "authorize", "field-removed", "$.authorize.scopes")
    assert impacts(change) == ("none", "breaking")
    assert change.part == "response"
    assert len(diff.changes) == 1


# -- the real Options releases ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def release_diffs() -> dict[str, ApiDiff]:
    if not OPTIONS_RELEASES:
        pytest.skip("upstream mirror not found")
    config = load_api_config(OVERRIDES, "deriv-options")
    out = {}
    for a, b in itertools.pairwise(OPTIONS_RELEASES):
        out[b.stem] = diff_bundles(
            (a, BundleInfo("deriv-options", a.stem, "", a.name)),
            (b, BundleInfo("deriv-options", b.stem, "", b.name)),
            "deriv-options-zip",
            config,
        )
    return out


def _subjects(diff: ApiDiff, kind: str, subject_type: str) -> set[str]:
    return {c.subject for c in diff.changes if c.kind == kind and c.subject_type == subject_type}


@requires_mirror()
def test_release_20260521_adds_the_legacy_pairs_and_operations(release_diffs: dict[str, ApiDiff]) -> None:
    diff = release_diffs["production_v20260521_0"]
    assert _subjects(diff, "added", "rest-schema") == {
        "legacy_accounts",
        "legacy_migration_status",
        "legacy_statement",
    }
    assert _subjects(diff, "added", "operation") == {
        "GET /trading/v1/options/legacy/accounts",
        "GET /trading/v1/options/legacy/migration-status",
        "GET /trading/v1/options/legacy/statement",
    }
    assert found(diff, "openapi", "version-changed").detail == "info.version 1.0.0 -> 1.1.0"
    # error answers gained an optional `field`
    error_fields = [c for c in diff.changes if c.path == "$.errors[*].field"]
    assert len(error_fields) == 30  # the error answers of the older operations
    assert {(c.kind, impacts(c)) for c in error_fields} == {("field-added", ("none", "none"))}
    assert {c.part for c in error_fields} == {f"response {s}" for s in (400, 401, 403, 404, 422, 500, 504)}
    assert not diff.breaking


@requires_mirror()
def test_release_20260616_adds_the_auto_calls(release_diffs: dict[str, ApiDiff]) -> None:
    diff = release_diffs["production_v20260616_0"]
    assert _subjects(diff, "added", "operation") == {
        "auto_get",
        "auto_list",
        "auto_list_strategies",
        "auto_pause",
        "auto_resume",
        "auto_start",
        "auto_stop",
    }
    assert {c.detail for c in diff.changes} == {"WebSocket call added"}
    assert not diff.breaking


REMOVED_ACCOUNT_FIELDS = {"created_at", "email", "last_access_at", "name", "rights", "server_id"}


@requires_mirror()
def test_release_20260622_removes_get_accounts_fields(release_diffs: dict[str, ApiDiff]) -> None:
    diff = release_diffs["production_v20260622_0"]
    for subject in ("get_accounts", "GET /trading/v1/options/accounts"):
        removed = [c for c in diff.changes if c.subject == subject and c.kind == "field-removed"]
        assert {c.path.rsplit(".", 1)[1] for c in removed} == REMOVED_ACCOUNT_FIELDS
        assert {(c.part, impacts(c)) for c in removed} == {("response", ("none", "breaking"))}
    assert diff.count("breaking", "send") == 0
    assert diff.count("breaking", "read") == 24  # get_accounts + GET/POST accounts (200 and 201)
    assert {
        s for s in _subjects(diff, "added", "operation") if s.startswith(("GET /payment", "POST /payment"))
    } == {
        "GET /payment-agents/v1/agent-statistics",
        "GET /payment-agents/v1/agents",
        "GET /payment-agents/v1/agents/{id}",
        "GET /payment-agents/v1/withdraw/{request_id}",
        "POST /payment-agents/v1/transfer",
        "POST /payment-agents/v1/withdraw",
        "POST /payment-agents/v1/withdraw/verification_code",
    }
    assert "POST /trading/v1/options/contracts/bulk-purchase/real" in _subjects(diff, "added", "operation")
    assert len(_subjects(diff, "added", "rest-schema")) == 7
    assert found(diff, "security oauth2", "scope-added").detail == "scope 'payment' offered"
    # the new pairs' disagreements with their operations are reported as new problems
    assert any(c.subject == "payment_agent_list_request.schema.json" for c in diff.changes)


@requires_mirror()
def test_release_20260626_removes_create_account_fields(release_diffs: dict[str, ApiDiff]) -> None:
    diff = release_diffs["production_v20260626_0"]
    removed = [c for c in diff.changes if c.subject == "create_account" and c.kind == "field-removed"]
    assert {c.path.rsplit(".", 1)[1] for c in removed} == REMOVED_ACCOUNT_FIELDS
    assert {impacts(c) for c in removed} == {("none", "breaking")}
    assert _subjects(diff, "added", "rest-schema") == {"bulk_purchase"}
    for op in (
        "POST /trading/v1/options/contracts/bulk-purchase/demo",
        "POST /trading/v1/options/contracts/bulk-purchase/real",
    ):
        assert impacts(found(diff, op, "auth-dropped")) == ("none", "none")
        assert found(diff, op, "scopes-removed").detail == "scope(s) no longer needed: trade"


@requires_mirror()
def test_release_20260630_adds_the_nickname_operation(release_diffs: dict[str, ApiDiff]) -> None:
    diff = release_diffs["production_v20260630_0"]
    assert [(c.subject, c.kind) for c in diff.changes] == [("GET /account/v1/nickname", "added")]


@requires_mirror()
def test_every_release_has_openapi_changes(release_diffs: dict[str, ApiDiff]) -> None:
    for tag, diff in release_diffs.items():
        if tag == "production_v20260616_0":
            continue  # only WebSocket calls were added
        rest = [c for c in diff.changes if c.subject_type == "operation" and " /" in c.subject]
        assert rest, tag


@requires_mirror()
def test_rest_shaped_pairs_of_the_newest_release_all_match_an_operation() -> None:
    ir = read_bundle(
        OPTIONS_RELEASES[-1], "deriv-options-zip", BundleInfo("deriv-options", "x", "", "x"), config=None
    )
    problems = check_rest_shaped(ir)
    assert not [p for p in problems if "not compared" in p.what]
    assert len(ir.rest_schemas) == 17
    wheres = {p.where for p in problems}
    assert (
        "legacy_statement_request.schema.json" in wheres
    )  # the OpenAPI op needs auth; the pair says nothing


# -- reports, CLI, determinism ----------------------------------------------------------------------


def _sources(tmp_path: Path) -> Path:
    (tmp_path / "schemas").mkdir(exist_ok=True)
    path = tmp_path / "schemas" / "sources.toml"
    path.write_text(
        '[sources.mini]\nversion = "fixture-1"\nurl = "https://example.invalid/{version}.zip"\n'
        f'sha256 = "{"0" * 64}"\nlayout = "deriv-options-zip"\npackage = "mini_api"\n',
        encoding="utf-8",
    )
    return path


def _breaking_copy(tmp_path: Path) -> Path:
    new = copy_of(FIXTURES / "mini", tmp_path / "new")
    new.edit("greet_response.schema.json", lambda d: d["properties"]["greet"]["properties"].pop("text"))
    return new.root


def _strict_copy(tmp_path: Path) -> Path:
    new = copy_of(FIXTURES / "mini", tmp_path / "strict")
    new.edit(
        "greet_response.schema.json",
        lambda d: d["properties"]["greet"]["properties"]["mood"]["enum"].append("sad"),
    )
    return new.root


def _cli(tmp_path: Path, *args: str) -> int:
    return main(
        ["diff", "--sources", str(_sources(tmp_path)), "--offline", "--cache-dir", str(tmp_path / "c"), *args]
    )


def test_cli_formats_and_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = _breaking_copy(tmp_path)
    old = str(FIXTURES / "mini")
    assert _cli(tmp_path, "mini", "--old", old, "--new", str(new), "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["breaking"] is True
    assert data["summary"]["breaking_for_readers"] == 1
    assert data["changes"] == [
        {
            "subject_type": "operation",
            "subject": "greet",
            "part": "response",
            "path": "$.greet.text",
            "kind": "field-removed",
            "detail": "required field removed",
            "senders": "none",
            "readers": "breaking",
            "impact": "breaking",
        }
    ]
    assert _cli(tmp_path, "mini", "--old", old, "--new", str(new), "--fail-on-breaking") == 3
    text = capsys.readouterr().out
    assert "Breaking changes (1)" in text
    assert "$.greet.text" in text
    out = tmp_path / "reports" / "diff.md"
    assert _cli(tmp_path, "mini", "--old", old, "--new", str(new), "--format", "md", "-o", str(out)) == 0
    assert "1 change(s): 0 breaking for senders, 1 breaking for readers" in capsys.readouterr().out
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# mini: mini -> new\n")
    assert (
        "| call `greet` | `response $.greet.text` | field-removed: required field removed | - | BREAKING |"
        in md
    )
    # compatible: exit 0 even with --fail-on-breaking; strict-only changes fail only with --strict
    strict = str(_strict_copy(tmp_path))
    assert _cli(tmp_path, "mini", "--old", old, "--new", strict, "--fail-on-breaking") == 0
    assert _cli(tmp_path, "mini", "--old", old, "--new", strict, "--fail-on-breaking", "--strict") == 3
    assert _cli(tmp_path, "mini", "--old", old, "--new", old, "--fail-on-breaking", "--strict") == 0


def test_cli_positional_locations_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _breaking_copy(tmp_path)
    assert _cli(tmp_path, "mini", str(FIXTURES / "mini"), str(new), "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["new"]["version"] == "new"  # a location: named by its file
    assert _cli(tmp_path, "mini") == 1
    assert "diff needs the releases to compare" in capsys.readouterr().err
    assert _cli(tmp_path, "mini", "a", "b", "c") == 1
    assert _cli(tmp_path, "mini", "x", "--old", "a", "--new", "b") == 1
    assert _cli(tmp_path, "mini", "--old", str(tmp_path / "missing"), "--new", str(new)) == 1
    assert "no such file or directory" in capsys.readouterr().err
    # a tag that is not in the cache or a mirror, offline
    assert _cli(tmp_path, "mini", "fixture-0", "--new", str(new)) == 1
    assert "offline" in capsys.readouterr().err


@requires_mirror()
def test_cli_release_tags_through_the_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["diff", "deriv-options", "--offline", "--cache-dir", str(tmp_path / "cache"), "--format", "json"]
    assert main([*args, "production_v20260626_0", "production_v20260630_0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["subject"] for c in data["changes"]] == ["GET /account/v1/nickname"]
    assert data["new"]["sha256"] == "7c28c172d05c1026ab1aad9d0a23c0f5f2e44151740b3fbea09d8265ceb1b803"
    assert data["old"]["sha256"] == "997d0732bede596e9373ac013ebf0ae5ea4b6685de2e5c2f6cd7a22562cdf62c"
    # the older tag is now cached: it is found there again (the mirror is not needed)
    assert list((tmp_path / "cache" / "deriv-options").glob("production_v20260626_0-*.zip"))
    assert main([*args, "--fail-on-breaking", "production_v20260616_0", "production_v20260622_0"]) == 3
    assert json.loads(capsys.readouterr().out)["summary"]["breaking_for_readers"] == 24


def test_reports_are_deterministic_and_reverse(tmp_path: Path) -> None:
    def edit(b: Bundle) -> None:
        b.edit("greet_response.schema.json", lambda d: d["properties"]["greet"]["properties"].pop("text"))
        b.edit("order_request.schema.json", lambda d: d["properties"].update(extra={"type": "string"}))
        (b.root / "fill_request.schema.json").unlink()
        (b.root / "fill_response.schema.json").unlink()

    first = mini_diff(tmp_path / "a", edit)
    second = mini_diff(tmp_path / "b", edit)
    first.new = second.new = first.old  # locations differ between the two runs; the rest must not
    assert first.dumps() == second.dumps()
    assert render_markdown(first) == render_markdown(second)
    assert text_report(first) == text_report(second)
    assert first.changes == sorted(first.changes)
    back = diff_bundles(
        (tmp_path / "a" / "new", BundleInfo("mini", "new", "", "new")),
        (FIXTURES / "mini", BundleInfo("mini", "old", "", "old")),
        "deriv-options-zip",
    )
    assert {(c.subject, c.kind) for c in back.changes} == {
        ("greet", "field-added"),
        ("order", "field-removed"),
        ("fill", "added"),
    }
