"""RPC-style generation pieces: OpenAPI 3.0 nullable, channel builder names, model names, result
annotations, reconnect rules for operations, and hostile text in a Deribit-like document."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from deriv_codegen.build import generate
from deriv_codegen.ir import ApiIR, BundleInfo, Channel, ChannelParameter, Operation
from deriv_codegen.reconnect import reconnect_rules
from deriv_codegen.rpc_models import channel_builders, generate_operation_models, operation_bases
from deriv_codegen.schema_prep import nullable, openapi_nullable

from .conftest import MINI_RPC, imported

INFO = BundleInfo("mini-rpc", "hostile-1", "0" * 64, "test")


def op(name: str, params: dict[str, Any] | None = None, result: dict[str, Any] | None = None) -> Operation:
    ns, method = name.split("/")
    return Operation(
        name=name,
        namespace=ns,
        method_name=method,
        summary="",
        description="",
        params_schema=params or {"type": "object", "properties": {}},
        result_schema=result or {},
        auth_required=ns == "private",
        auth_scopes=(),
        tags=(),
        bindings=(),
        source=name,
    )


def channel(name: str) -> Channel:
    params = tuple(
        ChannelParameter(p, {"type": "string"}) for p in name.split("{")[1:] for p in [p.split("}")[0]]
    )
    return Channel(name, params, {}, "", "", name.startswith("user."), (), name)


def test_openapi_nullable_becomes_json_schema_null() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "nullable": True},
            "b": {"type": "string", "enum": ["x", "y"], "nullable": True},
            "c": {"allOf": [{"$ref": "#/$defs/t"}], "nullable": True, "description": "d"},
            "d": {"type": "string", "nullable": False},
            "e": {"type": "string", "default": {"nullable": True}},  # a value, not a schema
        },
    }
    before = copy.deepcopy(schema)
    out = openapi_nullable(schema)
    assert schema == before  # a copy; the input is untouched
    props = out["properties"]
    assert props["a"] == {"type": ["integer", "null"]}
    assert props["b"] == {"type": ["string", "null"], "enum": ["x", "y", None]}
    assert props["c"] == {"description": "d", "anyOf": [{"allOf": [{"$ref": "#/$defs/t"}]}, {"type": "null"}]}
    assert props["d"] == {"type": "string"}
    assert props["e"] == {"type": "string", "default": {"nullable": True}}
    assert all(nullable(props[k]) for k in "abc") and not nullable(props["d"])


def test_channel_builders_are_the_fixed_words_disambiguated_by_placeholders() -> None:
    channels = [
        channel("ticker.{instrument_name}.{interval}"),
        channel("book.{instrument_name}.{interval}"),
        channel("book.{instrument_name}.{group}.{depth}.{interval}"),
        channel("user.orders.{kind}.{currency}.{interval}"),
        channel("user.orders.{instrument_name}.{interval}"),
        channel("announcements"),
    ]
    names = channel_builders(channels, {"announcements": "news"})
    assert names == {
        "ticker.{instrument_name}.{interval}": "ticker",
        "book.{instrument_name}.{interval}": "book",
        "book.{instrument_name}.{group}.{depth}.{interval}": "book_by_group_depth",
        "user.orders.{kind}.{currency}.{interval}": "user_orders_by_kind_currency",
        "user.orders.{instrument_name}.{interval}": "user_orders_by_instrument_name",
        "announcements": "news",
    }


def test_names_come_from_the_method_and_results_that_are_not_objects_are_annotations() -> None:
    ops = [
        op("public/subscribe"),
        op("private/subscribe"),
        op("public/get_time", result={"type": "integer", "title": "Prose Title"}),
        op(
            "public/get_things",
            result={"type": "array", "title": "X", "items": {"type": "object", "properties": {"a": {}}}},
        ),
        op("private/get_nothing", result={"type": "number", "nullable": True}),
    ]
    bases = operation_bases(ops)
    assert bases["public/subscribe"] == "PublicSubscribe" and bases["private/subscribe"] == "PrivateSubscribe"
    assert bases["public/get_time"] == "GetTime"
    models = {o.name: generate_operation_models(o, bases[o.name], {}, "test") for o in ops}
    assert models["public/get_time"].result_annotation == "int"
    assert "class GetTimeResult" not in models["public/get_time"].code  # the root model is dropped
    assert "Prose" not in models["public/get_time"].code
    assert models["public/get_things"].result_annotation == "list[GetThingsResultItem]"
    assert models["public/get_things"].classes == ("GetThingsParams", "GetThingsResultItem")
    assert models["private/get_nothing"].result_annotation == "float | None"


def test_component_refs_are_inlined() -> None:
    components = {
        "thing": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "next": {"$ref": "#/components/schemas/thing"}},
        }
    }
    o = op("public/get_thing", result={"$ref": "#/components/schemas/thing"})
    m = generate_operation_models(o, "GetThing", components, "test")
    assert m.result_annotation == "GetThingResult"
    assert "id: int | None = None" in m.code
    assert any("recursive" in p.what for p in m.problems)  # cut where it recurs, typed as Any


def test_operations_get_rules_from_the_table_and_private_ones_fail_safe() -> None:
    ops = [op("public/get_time"), op("private/get_positions"), op("private/buy"), op("private/toggle")]
    table = {"repeatable": ["private/get_positions"], "never_repeat": ["private/buy"]}
    rules, problems = reconnect_rules(ops, table, "overrides/x.toml")
    assert {n: r.repeatable for n, r in rules.items()} == {
        "public/get_time": True,
        "private/get_positions": True,
        "private/buy": False,
        "private/toggle": False,
    }
    assert problems == []  # operations never stream: nothing to report


HOSTILE = '"""; __import__("os").environ.__setitem__("DERIV_CODEGEN_PWNED", "1"); """\u2028\\'


def test_hostile_text_in_a_deribit_like_document_stays_data(tmp_path: Path) -> None:
    doc = json.loads((MINI_RPC / "mini-rpc.openapi.json").read_text(encoding="utf-8"))
    get_book = doc["paths"]["/public/get_book"]["get"]
    get_book["summary"] = HOSTILE
    get_book["description"] = "{{ v }} {% raw %}" + HOSTILE
    get_book["parameters"][0]["description"] = HOSTILE
    get_book["parameters"][1]["schema"] = {"type": "string", "enum": [HOSTILE, "ok"]}
    subs = doc["components"]["x-subscriptions"]
    subs['ti"ck\\er.{instrument_name}.{interval}'] = {**subs.pop("ticker.{instrument_name}.{interval}")}
    subs['ti"ck\\er.{instrument_name}.{interval}']["summary"] = HOSTILE
    bundle = tmp_path / "hostile.json"
    bundle.write_text(json.dumps(doc), encoding="utf-8")
    result = generate(bundle, INFO, "deribit-openapi", "mini_rpc", tmp_path / "out", MINI_RPC / "overrides")
    with imported(result.out_dir, "mini_rpc") as package:
        from mini_rpc import channels, client

        method = client.PublicApi.get_book
        assert method.__doc__ is not None and HOSTILE.replace("\u2028", " ") in " ".join(
            method.__doc__.split("\n")
        )
        built = channels.ti_ck_er("X", "raw")
        assert built.name == 'ti"ck\\er.X.raw'
        assert package.OPERATIONS["public/get_book"].name == "public/get_book"
    assert "DERIV_CODEGEN_PWNED" not in os.environ


def test_the_mini_document_reads_into_operations_and_channels() -> None:
    from deriv_codegen.config import load_api_config
    from deriv_codegen.readers import read_bundle

    ir: ApiIR = read_bundle(
        MINI_RPC / "mini-rpc.openapi.json",
        "deribit-openapi",
        INFO,
        config=load_api_config(MINI_RPC / "overrides", "mini-rpc"),
    )
    assert [o.name for o in ir.operations] == [
        "private/get_balance",
        "private/place_order",
        "public/get_book",
        "public/get_items",
        "public/get_time",
    ]
    assert ir.operation("public/get_items").method_name == "list_items"  # [methods] of the override file
    assert [(c.name, c.private) for c in ir.channels] == [
        ("ticker.{instrument_name}.{interval}", False),
        ("user.orders.{currency}", True),
    ]
    assert ir.ws_servers[0] == ("wss://api.mini.example/ws/api/v1", "production")
