"""Bundle -> IR: classification by structure, REST operations, and reported problems."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from deriv_codegen.errors import BundleError
from deriv_codegen.ir import Binding, BundleInfo, Streaming
from deriv_codegen.readers import read_bundle

from .conftest import FIXTURES, MINI_INFO, generate_mini, imported


def read(path: Path):  # type: ignore[no-untyped-def]
    return read_bundle(path, "deriv-options-zip", MINI_INFO)


def test_websocket_calls_are_classified_by_structure() -> None:
    ir = read(FIXTURES / "mini")
    assert [c.name for c in ir.bound("deriv-ws")] == ["fill", "greet", "order"]
    assert ir.binding_kinds() == {"deriv-ws", "deriv-rest"}
    order = ir.operation("order")
    assert order.streaming == Streaming("deriv-subscribe", ("order", "fill"))
    assert order.auth_required
    assert order.auth_scopes == ("trade", "admin")
    assert order.bindings == (Binding("deriv-ws", msg_types=("order", "fill")),)
    assert (order.request_key, order.namespace, order.method_name) == ("order", "", "order")
    assert order.source_files == ("order_request.schema.json", "order_response.schema.json")
    assert order.source == "order_request.schema.json"
    greet = ir.operation("greet")
    assert greet.streaming is None
    assert not greet.auth_required
    assert greet.auth_scopes == ()
    assert greet.description == "Ask the server to greet someone."


def test_rest_shaped_schemas_are_recognised() -> None:
    ir = read(FIXTURES / "mini")
    assert [(s.name, s.shape) for s in ir.rest_schemas] == [("account", "envelope"), ("status", "flat")]


def test_what_cannot_be_interpreted_is_reported_not_dropped() -> None:
    ir = read(FIXTURES / "mini")
    reported = {(p.where, p.severity) for p in ir.problems}
    assert ("notes.txt", "skipped") in reported
    assert ("odd_request.schema.json", "skipped") in reported
    assert ("lonely_response.schema.json", "skipped") in reported
    assert any("204 lacks a description" in p.what for p in ir.problems)


def test_rest_operations_from_openapi() -> None:
    ir = read(FIXTURES / "mini")
    ops = {op.name: op for op in ir.bound("deriv-rest")}
    assert sorted(ops) == ["GET /v1/accounts/{id}", "GET /v1/health", "POST /v1/accounts/{id}"]
    get = ops["GET /v1/accounts/{id}"]
    (http,) = get.bindings
    assert (http.kind, http.http_method, http.path) == ("deriv-rest", "GET", "/v1/accounts/{id}")
    assert http.locations == (("id", "path"), ("Deriv-App-ID", "header"))
    assert get.params_schema == {
        "type": "object",
        "properties": {"id": {"type": "string"}, "Deriv-App-ID": {"type": "string"}},
        "required": ["id", "Deriv-App-ID"],
    }
    assert [(r.status, r.content_type) for r in http.responses] == [
        ("200", "application/json"),
        ("404", None),
    ]
    assert http.responses[0].schema == get.result_schema == {"$ref": "#/components/schemas/Account"}
    assert [(s.scheme, s.scopes) for s in http.security or ()] == [("oauth2", ("trade",))]
    assert (get.auth_required, get.auth_scopes) == (True, ("trade",))
    assert get.tags == ("Accounts",)
    assert get.summary == "Get an account"
    assert get.method_name == "get_accounts_by_id"
    post = ops["POST /v1/accounts/{id}"]
    (post_http,) = post.bindings
    assert post_http.locations == (("id", "path"), ("body", "body"))
    assert post_http.body_content_type == "application/json"
    assert post.params_schema["properties"]["body"] == {
        "type": "object",
        "properties": {"name": {"type": "string"}},
    }
    assert post.params_schema["required"] == ["id", "body"]
    assert post_http.security is None and not post.auth_required
    assert ops["GET /v1/health"].bindings[0].security == ()
    assert ops["GET /v1/health"].result_schema == {}
    (scheme,) = ir.security_schemes
    assert scheme.flows[0].token_url == "https://auth.example.invalid/token"
    assert "Account" in ir.components["schemas"]


def test_rest_parameters_keep_their_own_description_and_one_name_goes_one_place(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(FIXTURES / "mini", bundle)
    spec = json.loads((bundle / "rest-api-openapi.json").read_text())
    spec["paths"]["/v1/things/{id}"] = {
        "get": {
            "parameters": [
                {"name": "id", "in": "path", "schema": {"type": "string", "description": "schema's"}},
                {"name": "id", "in": "query", "schema": {"type": "integer"}},
                {"name": "q", "in": "query", "description": "Search.", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "OK"}},
        }
    }
    (bundle / "rest-api-openapi.json").write_text(json.dumps(spec))
    ir = read(bundle)
    op = ir.operation("GET /v1/things/{id}")
    assert op.bindings[0].locations == (("id", "path"), ("q", "query"))
    assert op.params_schema["properties"] == {
        "id": {"type": "string"},
        "q": {"type": "string", "description": "Search."},
    }
    assert op.method_name == "get_things_by_id"
    assert any(
        p.where.endswith("GET /v1/things/{id}") and "'id' in 'query' has the name of a path one" in p.what
        for p in ir.problems
    )


def test_a_new_call_generates_with_no_code_change(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(FIXTURES / "mini", bundle)
    (bundle / "quote_request.schema.json").write_text(
        json.dumps(
            {
                "type": "object",
                "auth_required": 0,
                "additionalProperties": False,
                "required": ["quote"],
                "properties": {"quote": {"type": "string"}, "subscribe": {"type": "integer", "enum": [1]}},
            }
        )
    )
    (bundle / "quote_response.schema.json").write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {
                    "quote": {"type": "object", "properties": {"bid": {"type": "number"}}},
                    "msg_type": {"type": "string", "enum": ["quote"]},
                },
            }
        )
    )
    result = generate_mini(tmp_path / "out", bundle)
    assert result.ws_calls == 4
    with imported(result.out_dir, "mini_api") as mini:
        assert mini.CALLS["quote"].streams
        assert hasattr(mini.MiniClient, "quote")
        assert hasattr(mini.MiniClient, "subscribe_quote")


def test_bundle_as_zip_with_a_leading_folder(tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "mini"), "zip", root_dir=FIXTURES, base_dir="mini")
    ir = read(Path(archive))
    assert [c.name for c in ir.bound("deriv-ws")] == ["fill", "greet", "order"]


def test_invalid_json_is_reported(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(FIXTURES / "mini", bundle)
    (bundle / "greet_request.schema.json").write_text("{not json")
    ir = read(bundle)
    assert "greet" not in [c.name for c in ir.bound("deriv-ws")]
    assert any(p.where == "greet_request.schema.json" and "not valid JSON" in p.what for p in ir.problems)


def test_unknown_layout_and_missing_path_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no reader for bundle layout 'nope'"):
        read_bundle(FIXTURES / "mini", "nope", MINI_INFO)
    with pytest.raises(BundleError, match="no such file"):
        read_bundle(tmp_path / "missing.zip", "deriv-options-zip", BundleInfo("x", "y", "", ""))


def test_the_renderer_is_picked_by_the_wires_the_operations_are_bound_to() -> None:
    from dataclasses import replace

    from deriv_codegen import build
    from deriv_codegen.errors import CodegenError
    from deriv_codegen.ir import ApiIR

    from .conftest import MINI_RPC, MINI_RPC_INFO

    deriv = read(FIXTURES / "mini")
    rpc = read_bundle(MINI_RPC, "deribit-openapi", MINI_RPC_INFO)
    assert rpc.binding_kinds() <= {"jsonrpc-ws", "jsonrpc-http"}
    assert build.renderer(deriv) is build._render_deriv
    assert build.renderer(rpc) is build._render_rpc
    assert build.renderer(ApiIR(bundle=MINI_INFO)) is build._render_deriv  # nothing read: the Deriv one
    mixed = replace(deriv, operations=[*deriv.operations, *rpc.operations])
    with pytest.raises(CodegenError, match="not both"):
        build.renderer(mixed)
