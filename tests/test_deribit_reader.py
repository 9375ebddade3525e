"""Deribit OpenAPI document -> IR: operations, bindings, channels, overrides, and every defect reported."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from deriv_codegen.config import ApiConfig, load_api_config
from deriv_codegen.errors import BundleError, LimitExceeded, SourcesError
from deriv_codegen.fetch import sha256_file, validate_bundle
from deriv_codegen.ir import ApiIR, Binding, BundleInfo
from deriv_codegen.layouts import LAYOUTS
from deriv_codegen.limits import Limits
from deriv_codegen.readers import READERS, read_bundle
from deriv_codegen.readers.deribit import read_deribit_bundle
from deriv_codegen.readers.files import BundleFiles
from deriv_codegen.sources import load_sources

from .conftest import ROOT, SHARED_SCHEMAS

DERIBIT_DOC = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"
OVERRIDES = ROOT / "schemas" / "overrides" / "deribit.toml"
INFO = BundleInfo("deribit", "2.0.0", "0" * 64, "mirror")
OVERRIDE_METHODS = {
    "public/fork_token",
    "public/exchange_token",
    "private/logout",
    "private/create_api_key",
    "public/subscribe",
    "private/subscribe",
    "public/unsubscribe",
    "private/unsubscribe",
    "public/set_heartbeat",
}
requires_deribit = pytest.mark.skipif(
    not DERIBIT_DOC.is_file(), reason=f"the Deribit document is not in the mirror ({DERIBIT_DOC})"
)


@pytest.fixture(scope="module")
def ir() -> ApiIR:
    if not DERIBIT_DOC.is_file():
        pytest.skip(f"the Deribit document is not in the mirror ({DERIBIT_DOC})")
    return read_bundle(DERIBIT_DOC, "deribit-openapi", INFO)


@pytest.fixture(scope="module")
def spec_paths() -> list[str]:
    if not DERIBIT_DOC.is_file():
        pytest.skip(f"the Deribit document is not in the mirror ({DERIBIT_DOC})")
    return sorted(json.loads(DERIBIT_DOC.read_bytes())["paths"])


def whats(ir: ApiIR, fragment: str) -> list[str]:
    return [f"{p.where}: {p.what}" for p in ir.problems if fragment in p.what]


# -- the pinned document --------------------------------------------------------------------------------


def test_layout_is_registered_as_a_json_document() -> None:
    assert LAYOUTS["deribit-openapi"].container == "json"
    assert LAYOUTS["deribit-openapi"].suffix == ".json"
    assert READERS["deribit-openapi"] is read_deribit_bundle


@requires_deribit
def test_the_pin_in_sources_toml_matches_the_mirror() -> None:
    pin = load_sources(ROOT / "schemas" / "sources.toml").get("deribit")
    assert pin.layout == "deribit-openapi"
    assert pin.package == "deribit_api"
    assert (SHARED_SCHEMAS / pin.mirror_path) == DERIBIT_DOC
    assert sha256_file(DERIBIT_DOC) == pin.sha256
    assert pin.url.startswith("https://raw.githubusercontent.com/")
    assert "pin" not in tomllib.loads(OVERRIDES.read_text(encoding="utf-8"))["reader"]
    validate_bundle(DERIBIT_DOC, "deribit-openapi")  # what fetch checks before caching


def test_every_path_and_every_override_method_is_an_operation(ir: ApiIR, spec_paths: list[str]) -> None:
    assert len(spec_paths) == 77
    names = [op.name for op in ir.operations]
    assert names == sorted(names)
    assert set(names) == {p.lstrip("/") for p in spec_paths} | OVERRIDE_METHODS
    assert len(names) == 77 + len(OVERRIDE_METHODS)
    assert {op.name for op in ir.operations if op.origin == "override"} == OVERRIDE_METHODS
    assert ir.operation("public/test").origin == "spec"  # the document has it: not overridden


def test_names_namespaces_and_auth(ir: ApiIR) -> None:
    for op in ir.operations:
        namespace, method = op.name.split("/")
        assert op.namespace == namespace
        assert op.method_name == method
        assert op.auth_required is (namespace == "private"), op.name
    book = ir.operation("public/get_order_book")
    assert (book.namespace, book.method_name, book.auth_required) == ("public", "get_order_book", False)
    assert ir.operation("private/buy").auth_required
    assert ir.operation("private/create_api_key").auth_scopes == ("account:read_write",)


def test_bindings(ir: ApiIR) -> None:
    assert ir.operation("public/get_order_book").bindings == (
        Binding("jsonrpc-ws"),
        Binding("jsonrpc-http", "GET", "/public/get_order_book"),
    )
    for name in ("public/subscribe", "private/unsubscribe", "public/set_heartbeat", "private/logout"):
        assert ir.operation(name).bindings == (Binding("jsonrpc-ws"),), name
    assert Binding("jsonrpc-http", "GET", "/public/fork_token") in ir.operation("public/fork_token").bindings
    assert not ir.operation("private/logout").answered
    assert all(op.answered for op in ir.operations if op.name != "private/logout")


def test_params_schema_from_query_parameters(ir: ApiIR) -> None:
    params = ir.operation("public/get_order_book").params_schema
    assert params["type"] == "object"
    assert list(params["properties"]) == ["instrument_name", "depth"]
    assert params["required"] == ["instrument_name"]
    assert params["properties"]["instrument_name"]["type"] == "string"
    assert params["properties"]["depth"]["type"] == "number"
    assert params["properties"]["depth"]["description"]  # the parameter's description is kept
    trades = ir.operation("public/get_last_trades_by_currency").params_schema
    assert trades["required"] == ["currency"]
    assert trades["properties"]["currency"]["enum"] == ["BTC", "ETH"]
    assert ir.operation("public/get_time").params_schema == {"type": "object", "properties": {}}


def test_defaults_are_kept(ir: ApiIR, spec_paths: list[str]) -> None:
    doc = json.loads(DERIBIT_DOC.read_bytes())
    expected = {
        (path.lstrip("/"), p["name"]): p["schema"]["default"]
        for path in spec_paths
        for p in doc["paths"][path]["get"].get("parameters", [])
        if "default" in p.get("schema", {})
    }
    assert expected  # the document has some (10)
    for (name, param), default in expected.items():
        assert ir.operation(name).params_schema["properties"][param]["default"] == default


def test_result_schema_is_the_result_member_of_the_envelope(ir: ApiIR) -> None:
    book = ir.operation("public/get_order_book").result_schema
    assert "jsonrpc" not in book.get("properties", {})
    assert {"bids", "asks", "instrument_name"} <= set(book["properties"])
    assert ir.operation("private/set_email_language").result_schema["enum"] == ["ok"]
    assert ir.operation("public/get_trade_volumes").result_schema["type"] == "array"
    # the one answer whose result stands bare beside the envelope
    assert ir.operation("private/get_user_trades_by_order").result_schema["type"] == "array"
    assert whats(ir, "result is given bare")


def test_result_refs_resolve_against_components(ir: ApiIR) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    found = refs([op.result_schema for op in ir.operations]) + refs(ir.components)
    assert found  # portfolio -> portfolio_eth
    for ref in found:
        assert ref.startswith("#/components/")
        target: Any = ir.components
        for part in ref.removeprefix("#/components/").split("/"):
            target = target[part]
        assert isinstance(target, dict)


def test_public_auth_corrections(ir: ApiIR) -> None:
    auth = ir.operation("public/auth")
    assert auth.params_schema["required"] == ["grant_type"]
    assert {"username", "client_id", "client_secret", "refresh_token", "signature", "data"} <= set(
        auth.params_schema["properties"]
    )
    props = auth.result_schema["properties"]
    assert "access_token" in props
    assert "acccess_token" not in props
    assert "access_token" in auth.result_schema["required"]
    assert whats(ir, "'acccess_token' is misspelt")
    assert whats(ir, "corrected from the overrides to grant_type")


def test_override_methods_have_our_schemas(ir: ApiIR) -> None:
    fork = ir.operation("public/fork_token")
    assert fork.params_schema["required"] == ["refresh_token", "session_name"]
    assert "access_token" in fork.result_schema["properties"]
    assert fork.source.startswith("overrides/deribit.toml")
    key = ir.operation("private/create_api_key").params_schema
    assert key["required"] == ["max_scope"]
    assert key["properties"]["public_key"]["type"] == "string"
    assert ir.operation("public/set_heartbeat").params_schema["properties"]["interval"]["minimum"] == 10
    assert ir.operation("private/subscribe").params_schema["properties"]["channels"]["type"] == "array"
    assert ir.operation("public/subscribe").result_schema["items"] == {"type": "string"}


def test_channels_have_typed_parameters_in_template_order(ir: ApiIR) -> None:
    assert len(ir.channels) == 16
    assert [c.name for c in ir.channels] == sorted(c.name for c in ir.channels)
    for channel in ir.channels:
        placeholders = [part.split("}")[0] for part in channel.name.split("{")[1:]]
        assert [p.name for p in channel.parameters] == placeholders, channel.name
        assert all(p.schema.get("type") for p in channel.parameters), channel.name
        assert channel.notification_schema, channel.name
    book = ir.channel("book.{instrument_name}.{group}.{depth}.{interval}")
    assert [(p.name, p.schema["type"]) for p in book.parameters] == [
        ("instrument_name", "string"),
        ("group", "string"),
        ("depth", "integer"),
        ("interval", "string"),
    ]
    assert book.parameters[1].schema["enum"][:2] == ["none", "1"]  # ints in a string enum, as text
    assert ir.channel("ticker.{instrument_name}.{interval}").parameters[1].schema["enum"] == ["100ms", "raw"]
    assert ir.channel("announcements").parameters == ()


def test_channel_privacy(ir: ApiIR) -> None:
    private = {c.name for c in ir.channels if c.private}
    assert private == {c.name for c in ir.channels if c.name.startswith("user.")}
    assert not ir.channel("announcements").private  # tagged private in the document; corrected
    assert whats(ir, "public per the overrides")


def test_prose_types_are_mapped_and_reported(ir: ApiIR) -> None:
    bids = ir.operation("public/get_order_book").result_schema["properties"]["bids"]["items"]
    assert bids["type"] == "array"
    assert (bids["minItems"], bids["maxItems"]) == (2, 2)
    changes = ir.channel("book.{instrument_name}.{interval}").notification_schema["properties"]["bids"]
    assert changes["items"]["minItems"] == 3
    settlements = ir.operation("public/get_last_settlements_by_currency").result_schema
    assert settlements["type"] == "object"
    for prose in ("price-amount pair", "timestamp-value pair", "full-change tuple", "list"):
        assert whats(ir, f"prose type {prose!r}"), prose

    def types(node: Any) -> list[Any]:
        if isinstance(node, dict):
            own = [node["type"]] if isinstance(node.get("type"), str) else []
            return (
                own
                + [t for k, v in node.items() if k not in ("properties",) for t in types(v)]
                + [t for v in (node.get("properties") or {}).values() for t in types(v)]
            )
        if isinstance(node, list):
            return [t for v in node for t in types(v)]
        return []

    schemas = [op.result_schema for op in ir.operations] + [c.notification_schema for c in ir.channels]
    assert set(types(schemas)) <= {"string", "number", "integer", "boolean", "array", "object", "null"}


def test_every_known_defect_is_reported(ir: ApiIR) -> None:
    assert len(whats(ir, "lacks a description")) == 52
    assert whats(ir, "root security requirement applies to every method")
    assert whats(ir, "allOf compositions of the JSON-RPC envelope")
    assert whats(ir, "channels kept as a vendor extension")
    assert whats(ir, "has no description; 'testnet' from the overrides")
    assert whats(ir, "required names no property: relized_profit_loss")
    assert all(p.severity == "warning" for p in ir.problems)
    assert ir.problems == sorted(set(ir.problems))


def test_servers_keep_the_base_path(ir: ApiIR) -> None:
    assert ir.servers == [
        ("https://www.deribit.com/api/v2", "production"),
        ("https://test.deribit.com/api/v2", "testnet"),
    ]
    assert ir.ws_servers == [
        ("wss://www.deribit.com/ws/api/v2", "production"),
        ("wss://test.deribit.com/ws/api/v2", "testnet"),
    ]


@requires_deribit
def test_reading_is_deterministic_and_leaves_the_document_as_published() -> None:
    a = read_bundle(DERIBIT_DOC, "deribit-openapi", INFO)
    b = read_bundle(DERIBIT_DOC, "deribit-openapi", INFO)
    assert a == b
    published = json.loads(DERIBIT_DOC.read_bytes())
    assert a.openapi == published  # corrections are made on copies


@requires_deribit
def test_limits_apply(tmp_path: Path) -> None:
    with pytest.raises(LimitExceeded):
        read_bundle(DERIBIT_DOC, "deribit-openapi", INFO, Limits(max_member_bytes=1000))
    with pytest.raises(LimitExceeded):
        read_bundle(DERIBIT_DOC, "deribit-openapi", INFO, Limits(max_depth=5))


# -- hostile and broken documents, built here -----------------------------------------------------------

ENVELOPE = {"properties": {"jsonrpc": {"type": "string"}, "id": {"type": "integer"}}}


def answer(result: Any, **extra: Any) -> dict[str, Any]:
    return {
        "200": {
            **extra,
            "content": {
                "application/json": {"schema": {"allOf": [ENVELOPE, {"properties": {"result": result}}]}}
            },
        }
    }


def read_doc(tmp_path: Path, doc: Any, reader: dict[str, Any] | None = None, **config: Any) -> ApiIR:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    cfg = ApiConfig(title="t", client_class="TClient", reader=reader or {}, **config)
    return read_deribit_bundle(BundleFiles.open(path), INFO, cfg)


def test_not_an_openapi_document(tmp_path: Path) -> None:
    docs: list[Any] = [[], {"openapi": "3.0.0"}, {"paths": []}]
    for doc in docs:
        with pytest.raises(BundleError, match="not an OpenAPI document"):
            read_doc(tmp_path, doc)
    (tmp_path / "bad.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_bundle(tmp_path / "bad.json", "deribit-openapi", INFO)


def test_missing_pieces_are_reported_not_fatal(tmp_path: Path) -> None:
    doc = {
        "paths": {
            "/public/no_responses": {"get": {"summary": 7}},
            "/public/no_success": {"get": {"responses": {"400": {"description": "bad"}}}},
            "/public/no_result": {"get": {"responses": {"200": {"description": "x", "content": {}}}}},
            "/public/odd_params": {
                "get": {
                    "parameters": [
                        {"in": "query"},
                        {"name": "h", "in": "header", "schema": {"type": "string"}},
                        {"name": "q", "in": "query", "required": True},
                        {"name": "q2", "in": "query", "schema": "string"},
                    ],
                    "responses": answer({"type": "string"}),
                }
            },
            "/public/nothing": {"x-order": 1},
            "/v1/legacy": {"get": {"responses": answer({})}},
            "/private/not_an_object": [],
        },
        "components": {"x-subscriptions": {"broken": 3, "a.{x}.{x}": {}, "c.{y}": {"parameters": [{}]}}},
    }
    ir = read_doc(tmp_path, doc)
    assert [op.name for op in ir.operations] == [
        "public/no_responses",
        "public/no_result",
        "public/no_success",
        "public/odd_params",
    ]
    assert all(op.result_schema == {} for op in ir.operations if op.name != "public/odd_params")
    assert ir.operation("public/no_responses").summary == ""
    odd = ir.operation("public/odd_params").params_schema
    assert odd == {"type": "object", "properties": {"q": {}, "q2": {}}, "required": ["q"]}
    assert [c.name for c in ir.channels] == ["c.{y}"]
    assert ir.channel("c.{y}").parameters[0].schema == {"type": "string"}
    assert ir.channel("c.{y}").notification_schema == {}
    text = "\n".join(str(p) for p in ir.problems)
    for fragment in (
        "no responses",
        "no success response",
        "no application/json schema",
        "parameter without a name",
        "in 'header', not query",
        "no schema; read as any value",
        "schema is str, not an object",
        "no operation; skipped",
        "not a /public/<method> or /private/<method> path",
        "path item is not an object",
        "repeated or unusable placeholders",
        "placeholder {y} has no parameter",
        "no notifications schema",
        "no [reader] table",
        "servers: missing",
    ):
        assert fragment in text, fragment


def test_prose_types_without_a_mapping_and_refs(tmp_path: Path) -> None:
    result = {
        "type": "object",
        "required": ["a", "ghost"],
        "properties": {
            "a": {"type": "price-amount pair"},
            "b": {"type": "bag of things", "properties": {"c": {"type": "integer"}}},
            "d": {"type": "wobbly", "items": {"type": "string"}},
            "e": {"$ref": "#/components/schemas/missing"},
            "f": {"$ref": "https://example.com/x.json"},
            "g": {"$ref": "#/components/schemas/thing"},
            "h": {"type": 5},
            "default": {"type": "private-thing"},
        },
    }
    doc = {
        "security": [{"bearerAuth": []}],
        "paths": {
            "/public/x": {"get": {"responses": answer(result)}},
            "/public/looped": {"get": {"responses": {"200": {"$ref": "#/components/responses/loop"}}}},
            "/private/y": {
                "get": {"security": [], "tags": ["public"], "responses": answer({"type": "boolean"})}
            },
        },
        "components": {
            "schemas": {"thing": {"type": "object"}},
            "responses": {"loop": {"$ref": "#/components/responses/loop"}},
        },
    }
    ir = read_doc(tmp_path, doc, {"prose_types": {"price-amount pair": {"type": "array", "maxItems": 2}}})
    props = ir.operation("public/x").result_schema["properties"]
    assert props["a"] == {"type": "array", "maxItems": 2}
    assert props["b"]["type"] == "object"
    assert props["d"]["type"] == "array"
    assert props["e"] == {} and props["f"] == {}
    assert props["g"] == {"$ref": "#/components/schemas/thing"}  # kept, resolvable
    assert "type" not in props["h"]
    assert props["default"] == {}  # a property named like a keyword is still a schema
    assert ir.operation("public/x").result_schema["required"] == ["a"]
    assert ir.operation("public/looped").result_schema == {}
    assert not ir.operation("public/x").auth_required
    assert ir.operation("private/y").auth_required
    text = "\n".join(str(p) for p in ir.problems)
    for fragment in (
        "prose type 'price-amount pair' is not a JSON type; read as",
        "prose type 'bag of things'",
        "not in [reader.prose_types]",
        "'#/components/schemas/missing' does not resolve",
        "'https://example.com/x.json' does not resolve",
        "type 5 is not a JSON type",
        "prose type 'private-thing'",
        "required names no property: ghost",
        "$ref loop",
        "root security requirement applies to every method, 2 public/*",
        "private method with security []",
        "tagged 'public' but named private",
    ):
        assert fragment in text, fragment


def test_fixes_that_no_longer_apply_are_reported(tmp_path: Path) -> None:
    doc = {
        "paths": {
            "/public/auth": {
                "get": {
                    "parameters": [{"name": "grant_type", "in": "query", "required": True, "schema": {}}],
                    "responses": answer({"properties": {"access_token": {"type": "string"}}}),
                }
            },
            "/public/fork_token": {"get": {"responses": answer({})}},
        }
    }
    reader = {
        "fix": {
            "public/auth": {
                "required": ["grant_type", "nope"],
                "rename_result_properties": {"acccess_token": "access_token"},
                "add_params": {"grant_type": {"type": "string"}},
            },
            "public/gone": {"required": []},
        },
        "add": {"public/fork_token": {"params": {}, "result": {}}},
        "channels": {"nowhere": {"private": True}},
    }
    ir = read_doc(tmp_path, doc, reader, methods={"public/none": "x"})
    assert ir.operation("public/fork_token").origin == "spec"
    text = "\n".join(str(p) for p in ir.problems)
    for fragment in (
        "required names unknown parameters nope",
        "required matches the document now",
        "rename no longer applies",
        "parameter 'grant_type' is in the document now",
        "the document has no such method; the fix no longer applies",
        "the document describes this method now",
        "the document has no such channel",
        "[methods] names 'public/none'",
    ):
        assert fragment in text, fragment


def test_method_names_from_the_overrides_and_collisions(tmp_path: Path) -> None:
    doc = {
        "paths": {
            "/public/get_a": {"get": {"responses": answer({})}},
            "/public/b": {"get": {"responses": answer({})}},
        }
    }
    ir = read_doc(tmp_path, doc, methods={"public/get_a": "b"})
    assert {op.name: op.method_name for op in ir.operations} == {"public/b": "b", "public/get_a": "b_2"}
    assert any("taken in public" in p.what for p in ir.problems)


@pytest.mark.parametrize(
    "reader",
    [
        {"unknown": {}},
        {"fix": {"public/a": {"colour": 1}}},
        {"fix": {"public/a": {"required": "grant_type"}}},
        {"add": {"nope/a": {}}},
        {"add": {"public/a": {"result": "no_such_schema"}}},
        {"add": {"public/a": {"websocket_only": "yes"}}},
        {"servers": {"https://x": 1}},
        {"prose_types": {"x": "y"}},
    ],
)
def test_a_malformed_reader_table_is_a_clear_error(tmp_path: Path, reader: dict[str, Any]) -> None:
    with pytest.raises(SourcesError, match=r"\[reader\]"):
        read_doc(tmp_path, {"paths": {}}, reader)


def test_the_committed_override_file_loads() -> None:
    config = load_api_config(OVERRIDES.parent, "deribit")
    assert config.client_class == "DeribitClient"
    assert set(config.reader["add"]) == OVERRIDE_METHODS
    assert config.reader["fix"]["public/auth"]["required"] == ["grant_type"]
