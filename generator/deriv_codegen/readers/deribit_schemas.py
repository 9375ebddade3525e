r"""Reading a lenient OpenAPI document's schemas: local ``$ref``\s followed (loops and dangling refs
reported), and each schema corrected where it is not JSON Schema (prose ``type``\s, enum values of
the wrong type, ``required`` names with no property), every correction reported.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..errors import Problem
from ..ir import ApiIR, JsonSchema
from .deribit_overrides import Overrides

JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_MAX_REF_HOPS = 32
#: Schema keywords whose value is a map of schemas, a list of schemas, or one schema.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_SCHEMA_ONE = frozenset(
    {"items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else"}
)


class SchemaReader:
    """A document, its overrides and the IR its problems go to; references and schema corrections."""

    def __init__(self, doc: dict[str, Any], name: str, overrides: Overrides, ir: ApiIR) -> None:
        self.doc = doc
        self.name = name
        self.o = overrides
        self.ir = ir

    # -- reporting and references ------------------------------------------------------------------

    def problem(self, where: str, what: str, severity: Any = "warning") -> None:
        self.ir.problems.append(Problem(where, what, severity))

    def resolve(self, ref: Any) -> Any:
        """The node a local ``$ref`` points at; ``KeyError`` when it does not resolve."""
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise KeyError(ref)
        target: Any = self.doc
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise KeyError(ref)
        return target

    def deref(self, node: Any, where: str) -> Any:
        """``node`` with ``$ref``\\s followed (loops and dangling refs reported, read as ``{}``)."""
        seen: list[str] = []
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen or len(seen) >= _MAX_REF_HOPS:
                self.problem(where, f"$ref loop through {' -> '.join(map(str, seen))}; read as any value")
                return {}
            seen.append(ref)
            try:
                node = self.resolve(ref)
            except KeyError:
                self.problem(where, f"$ref {ref!r} does not resolve; read as any value")
                return {}
        return node

    # -- schemas -------------------------------------------------------------------------------------

    def fix_schema(self, schema: Any, where: str) -> JsonSchema:
        """A corrected deep copy of ``schema``: prose types mapped, enums matched to their type,
        unresolvable ``$ref``\\s replaced; each correction reported."""
        if not isinstance(schema, dict):
            if schema is not None:
                self.problem(where, f"schema is {type(schema).__name__}, not an object; read as any value")
            return {}
        fixed = copy.deepcopy(schema)
        stack: list[tuple[dict[str, Any], tuple[str, ...]]] = [(fixed, ())]
        while stack:
            node, path = stack.pop()
            self._fix_node(node, path, where)
            for key, value in node.items():
                if key in _SCHEMA_MAPS and isinstance(value, dict):
                    stack.extend((v, (*path, key, str(k))) for k, v in value.items() if isinstance(v, dict))
                elif key in _SCHEMA_LISTS and isinstance(value, list):
                    stack.extend(
                        (v, (*path, key, str(i))) for i, v in enumerate(value) if isinstance(v, dict)
                    )
                elif key in _SCHEMA_ONE and isinstance(value, dict):
                    stack.append((value, (*path, key)))
        return fixed

    def _fix_node(self, node: dict[str, Any], path: tuple[str, ...], where: str) -> None:
        at = f"{where} {_ptr(path)}" if path else where
        ref = node.get("$ref")
        if ref is not None:
            try:
                self.resolve(ref)
            except KeyError:
                self.problem(at, f"$ref {ref!r} does not resolve; read as any value")
                keep = {k: node[k] for k in ("description",) if k in node}
                node.clear()
                node.update(keep)
                return
        kind = node.get("type")
        if isinstance(kind, str) and kind not in JSON_TYPES:
            replacement = self.o.prose_types.get(kind)
            if replacement is None:
                replacement = (
                    {"type": "object"}
                    if "properties" in node
                    else {"type": "array"}
                    if "items" in node
                    else {}
                )
                how = "not in [reader.prose_types]"
            else:
                how = "from [reader.prose_types]"
            del node["type"]
            for k, v in replacement.items():
                if k == "type" or k not in node:
                    node[k] = copy.deepcopy(v)
            self.problem(at, f"prose type {kind!r} is not a JSON type; read as {_brief(replacement)} ({how})")
        elif kind is not None and not isinstance(kind, (str, list)):
            self.problem(at, f"type {kind!r} is not a JSON type; read as any value")
            del node["type"]
        enum = node.get("enum")
        if (
            node.get("type") == "string"
            and isinstance(enum, list)
            and not all(isinstance(v, str) for v in enum)
        ):
            node["enum"] = [v if isinstance(v, str) else json.dumps(v) for v in enum]
            self.problem(at, "enum of a string has values that are not strings; read as their text")
        props = node.get("properties")
        required = node.get("required")
        if isinstance(props, dict) and isinstance(required, list):
            missing = [r for r in required if r not in props]
            if missing:
                node["required"] = [r for r in required if r in props]
                self.problem(
                    at, f"required names no property: {', '.join(map(str, missing))}; dropped from required"
                )


def _ptr(path: tuple[str, ...]) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)


def _brief(schema: JsonSchema) -> str:
    return json.dumps(schema, sort_keys=True) if schema else "any value"
