"""The tolerant reading of an answer schema: what the generated clients' answer models follow.

One definition, used by the generator (answer models are rendered from it) and by the runtime's
traffic checks (:mod:`deriv_runtime.traffic`: the tolerant verdict is "what the client reads"):
no ``additionalProperties: false``, no ``required`` (but ``keep_required`` at the root), enums as
their base type (but those of ``keep_required``), no patterns, bounds, lengths or formats, and
pattern-keyed maps (``patternProperties``) as maps of any key. New values and fields upstream must
not break reading.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["CONSTRAINTS", "json_type", "tolerant_schema"]

#: Keywords that constrain a value without changing its type: dropped from answers.
CONSTRAINTS = (
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "format",
    "minProperties",
    "maxProperties",
)
_VALUE_KEYS = frozenset({"enum", "const", "default", "examples", "example"})


def tolerant_schema(
    schema: Mapping[str, Any], keep_required: tuple[str, ...] = ("msg_type",)
) -> dict[str, Any]:
    """A deep copy of ``schema``, read tolerantly (see the module docstring)."""
    out: dict[str, Any] = copy.deepcopy(dict(schema))

    def walk(node: Any, is_root: bool, keep_enum: bool) -> None:
        if isinstance(node, list):
            for v in node:
                walk(v, False, False)
            return
        if not isinstance(node, dict):
            return
        for key in CONSTRAINTS:
            node.pop(key, None)
        if not keep_enum and ("enum" in node or "const" in node):
            values = node.pop("enum") if "enum" in node else [node.pop("const")]
            if "type" not in node and isinstance(values, list):
                kinds = sorted({json_type(v) for v in values})
                node["type"] = kinds[0] if len(kinds) == 1 else kinds
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
        patterned = node.pop("patternProperties", None)
        if isinstance(patterned, dict) and patterned:
            values_ = [v for v in patterned.values() if isinstance(v, dict)]
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                values_.append(extra)
            if len(values_) == 1:
                node["additionalProperties"] = values_[0]
            elif values_:
                node["additionalProperties"] = {"anyOf": values_}
        kept = [r for r in node.get("required", []) if r in keep_required] if is_root else []
        if kept:
            node["required"] = kept
        else:
            node.pop("required", None)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    walk(sub, False, is_root and name in keep_required)
            elif key not in _VALUE_KEYS:
                walk(value, False, False)

    walk(out, True, False)
    return out


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"
