"""What the mock reads from Deribit's OpenAPI document: methods, their parameters and result
schemas, and the subscription channels.

The document (OpenAPI 3.0, JSON-RPC methods as ``GET /{public,private}/{name}`` paths, channels
under ``components/x-subscriptions``) is read leniently, and every schema is turned into plain JSON
Schema so that it can be synthesised and validated (:func:`json_schema`): ``nullable`` becomes a
``null`` type, ``$ref``\\s are inlined, ``type`` values that are prose rather than JSON types are
read as the shape they describe (order book levels and chart points as short arrays), and the
OpenAPI ``example`` becomes ``examples`` (realistic values for the synthesiser).

Accepted as the document: a mapping, a path to a JSON file, or the name of a generated package
shipping it as ``openapi.json`` (``deribit_api``).
"""

from __future__ import annotations

import copy
import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = ["ChannelSpec", "DeribitSpec", "MethodSpec", "ParamSpec", "json_schema", "load_document"]

JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_PAIR = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
#: Prose ``type`` values of the document, read as these shapes (``[price, amount]``,
#: ``[timestamp, value]``, ``[action, price, amount]``).
PROSE_TYPES: Mapping[str, Mapping[str, Any]] = {
    "price-amount pair": _PAIR,
    "timestamp-value pair": _PAIR,
    "full-change tuple": {
        "type": "array",
        "items": {"anyOf": [{"type": "string"}, {"type": "number"}]},
        "minItems": 3,
        "maxItems": 3,
    },
    "list": {"type": "object"},
}
_METHOD_PATH = re.compile(r"^/(?P<name>(?:public|private)/[A-Za-z_][A-Za-z0-9_]*)$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_VALUE_KEYS = frozenset({"enum", "const", "default", "example", "examples"})


def load_document(spec: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """The OpenAPI document: given, read from a JSON file, or a package's ``openapi.json``."""
    if isinstance(spec, Mapping):
        return copy.deepcopy(dict(spec))
    path = Path(spec)
    if isinstance(spec, Path) or path.suffix == ".json" or path.is_file():
        data = orjson.loads(path.read_bytes())
    else:
        try:
            data = orjson.loads(importlib.resources.files(str(spec)).joinpath("openapi.json").read_bytes())
        except (ModuleNotFoundError, FileNotFoundError) as exc:
            raise LookupError(
                f"{spec!r} is neither a JSON file nor a package with openapi.json: {exc}"
            ) from None
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise LookupError(f"{spec!r}: not an OpenAPI document (no paths)")
    return data


def json_schema(schema: Any, document: Mapping[str, Any], _depth: int = 0) -> Any:
    """``schema`` (OpenAPI 3.0, from ``document``) as self-contained JSON Schema (module docstring)."""
    if isinstance(schema, list):
        return [json_schema(v, document, _depth) for v in schema]
    if not isinstance(schema, Mapping):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, document)
        if target is None or _depth > 16:
            return {k: v for k, v in schema.items() if k == "description"}
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return json_schema(merged, document, _depth + 1)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _VALUE_KEYS:
            out[key] = copy.deepcopy(value)
        elif key in ("properties", "patternProperties") and isinstance(value, Mapping):
            out[key] = {k: json_schema(v, document, _depth) for k, v in value.items()}
        elif isinstance(value, (Mapping, list)) and key not in ("required", "type"):
            out[key] = json_schema(value, document, _depth)
        else:
            out[key] = value
    kind = out.get("type")
    if isinstance(kind, str) and kind not in JSON_TYPES:
        del out["type"]
        shape = PROSE_TYPES.get(kind) or (
            {"type": "object"} if "properties" in out else {"type": "array"} if "items" in out else {}
        )
        for k, v in shape.items():
            if k == "type" or k not in out:
                out[k] = copy.deepcopy(v)
    if out.get("type") == "string" and isinstance(out.get("enum"), list):
        out["enum"] = [v if isinstance(v, str) else orjson.dumps(v).decode() for v in out["enum"]]
    example = out.pop("example", None)
    if example is not None and "examples" not in out:
        out["examples"] = [example]
    if out.pop("nullable", False) is True:
        kind = out.get("type")
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        elif kind is None and set(out) - {"description", "title", "examples"}:
            keep: dict[str, Any] = {k: out.pop(k) for k in ("description", "title") if k in out}
            out = {**keep, "anyOf": [out, {"type": "null"}]}
    return out


def _resolve(ref: str, document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if not ref.startswith("#/"):
        return None
    node: Any = document
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A query parameter: its JSON Schema, whether it is required, and (``explode``) whether an
    array travels as one ``name=value`` pair per item."""

    name: str
    schema: Mapping[str, Any]
    required: bool


@dataclass(slots=True)
class MethodSpec:
    """One JSON-RPC method of the document (or one the mock adds: ``builtin``)."""

    name: str
    params: dict[str, ParamSpec]
    result: Mapping[str, Any]
    summary: str = ""
    builtin: bool = False
    #: The document's tags (``trading``, ``wallet``...): what :mod:`.scopes` derives scopes from.
    tags: tuple[str, ...] = ()
    #: The JSON Schema of ``params`` as an object (required names, types; other names allowed).
    params_schema: dict[str, Any] = field(default_factory=dict)
    #: The compiled check of :attr:`params_schema` (made on first use).
    validator: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.params_schema:
            self.params_schema = {
                "type": "object",
                "properties": {p.name: dict(p.schema) for p in self.params.values()},
                "required": [p.name for p in self.params.values() if p.required],
            }

    @property
    def private(self) -> bool:
        return self.name.startswith("private/")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel template (``ticker.{instrument_name}.{interval}``), its parameters and the JSON
    Schema of its notifications' ``data``."""

    template: str
    params: Mapping[str, Mapping[str, Any]]
    schema: Mapping[str, Any]
    private: bool
    pattern: re.Pattern[str]

    @property
    def kind(self) -> str:
        """The template's first word (``ticker``, ``book``, ``user``...)."""
        return self.template.split(".", 1)[0]

    def match(self, channel: str) -> dict[str, str] | None:
        """The parameters of ``channel`` if it is one of this template (values checked against
        their enums, compared as text), else ``None``."""
        found = self.pattern.fullmatch(channel)
        if found is None:
            return None
        values = found.groupdict()
        for name, value in values.items():
            enum = self.params.get(name, {}).get("enum")
            if isinstance(enum, list) and value not in {str(v) for v in enum}:
                return None
        return values


class DeribitSpec:
    """The methods (:attr:`methods`, by wire name) and channels (:attr:`channels`) of a document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        info = document.get("info")
        self.version = str(info.get("version", "")) if isinstance(info, Mapping) else ""
        self.methods: dict[str, MethodSpec] = {}
        for path, item in document.get("paths", {}).items():
            found = _METHOD_PATH.match(str(path))
            op = item.get("get") or item.get("post") if isinstance(item, Mapping) else None
            if found is None or not isinstance(op, Mapping):
                continue
            name = found.group("name")
            tags = op.get("tags")
            self.methods[name] = MethodSpec(
                name,
                self._params(op),
                self._result(op),
                str(op.get("summary") or ""),
                tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            )
        self.channels: list[ChannelSpec] = self._channels()

    def _params(self, op: Mapping[str, Any]) -> dict[str, ParamSpec]:
        params: dict[str, ParamSpec] = {}
        for raw in op.get("parameters") or ():
            p = _resolve(raw["$ref"], self.document) if isinstance(raw, Mapping) and "$ref" in raw else raw
            if not isinstance(p, Mapping) or not isinstance(p.get("name"), str) or p.get("in") != "query":
                continue
            schema = json_schema(p.get("schema") or {}, self.document)
            params[p["name"]] = ParamSpec(p["name"], schema, bool(p.get("required")))
        return params

    def _result(self, op: Mapping[str, Any]) -> Mapping[str, Any]:
        raw = op.get("responses")
        responses: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        response = responses.get("200") or next(
            (v for k, v in sorted(responses.items()) if str(k).startswith("2")), None
        )
        if isinstance(response, Mapping) and "$ref" in response:
            response = _resolve(response["$ref"], self.document)
        content = response.get("content") if isinstance(response, Mapping) else None
        media = content.get("application/json") if isinstance(content, Mapping) else None
        schema = media.get("schema") if isinstance(media, Mapping) else None
        if schema is None:
            return {}
        converted = json_schema(schema, self.document)
        found = _find_result(converted)
        return found if found is not None else _bare_result(converted) or {}

    def _channels(self) -> list[ChannelSpec]:
        components = self.document.get("components")
        raw: Any = components.get("x-subscriptions") if isinstance(components, Mapping) else None
        if not isinstance(raw, Mapping):
            raw = self.document.get("x-subscriptions")
        channels = []
        for template, entry in (raw or {}).items():
            if not isinstance(entry, Mapping):
                continue
            params = {
                str(p["name"]): json_schema(p.get("schema") or {}, self.document)
                for p in entry.get("parameters") or ()
                if isinstance(p, Mapping) and isinstance(p.get("name"), str)
            }
            notes = entry.get("notifications")
            schema = notes.get("schema") if isinstance(notes, Mapping) else None
            private = str(template).startswith("user.")
            channels.append(
                ChannelSpec(
                    str(template),
                    params,
                    json_schema(schema or {}, self.document),
                    private,
                    _template_pattern(str(template)),
                )
            )
        return channels

    def channel(self, name: str) -> tuple[ChannelSpec, dict[str, str]] | None:
        """The template ``name`` is a channel of, and its parameters."""
        for spec in self.channels:
            values = spec.match(name)
            if values is not None:
                return spec, values
        return None


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^.]+)" for i, part in enumerate(parts))
    return re.compile(regex)


_ENVELOPE = frozenset({"jsonrpc", "id", "testnet", "usIn", "usOut", "usDiff"})


def _bare_result(schema: Any) -> Mapping[str, Any] | None:
    """The result of an answer whose ``allOf`` gives it bare beside the envelope (a document defect)."""
    parts = schema.get("allOf") if isinstance(schema, Mapping) else None
    if not isinstance(parts, list) or len(parts) != 2:
        return None
    envelope = [
        isinstance(p, Mapping) and bool(p.get("properties")) and set(p["properties"]) <= _ENVELOPE
        for p in parts
    ]
    if envelope.count(True) != 1:
        return None
    result: Mapping[str, Any] = parts[envelope.index(False)]
    return result


def _find_result(schema: Any, depth: int = 0) -> Mapping[str, Any] | None:
    """The ``result`` member of a JSON-RPC answer's schema (inside ``allOf``/``anyOf``/``oneOf``)."""
    if not isinstance(schema, Mapping) or depth > 8:
        return None
    props = schema.get("properties")
    if isinstance(props, Mapping) and isinstance(props.get("result"), Mapping):
        result: Mapping[str, Any] = props["result"]
        return result
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key) or ():
            found = _find_result(part, depth + 1)
            if found is not None:
                return found
    return None
