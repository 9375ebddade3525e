"""Schema preparation before model generation: naming, strict requests, tolerant responses.

Upstream schemas are never modified in place; each function returns a transformed deep copy.

* :func:`inline_local_refs` replaces ``#/definitions/...`` references by their targets, so a schema
  can be embedded in another document.
* :func:`tolerant` relaxes a response schema: a field the server adds later, omits, or sends
  outside a documented constraint must not break parsing. Only the root ``msg_type`` stays
  required and typed as its enum. (Strict contract checks validate against the original schema.)
* :func:`assign_class_names` gives every object that becomes a class a readable, unique name
  derived from the call and the property path - never from prose ``title``\\s.
* :func:`check_patterns` keeps request patterns that Python can compile and reports the rest.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .errors import Problem
from .limits import DEFAULT_LIMITS, Limits
from .naming import pascal, unique

Schema = dict[str, Any]

_CONSTRAINTS = (
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
_SUBSCHEMA_LISTS = ("oneOf", "anyOf", "allOf")
_DROPPED_AT_ROOT = ("definitions", "$defs", "$schema")


def inline_local_refs(
    schema: Schema, where: str, problems: list[Problem], limits: Limits = DEFAULT_LIMITS
) -> Schema:
    """``schema`` with every local ``$ref`` replaced by (a copy of) its target.

    Bounded whatever the input: a reference back into a definition being expanded (recursion, direct
    or through others) is cut there and typed as Any, with a reported problem; more than 32 nested
    references likewise. The result may hold at most ``limits.max_schema_nodes`` JSON values and nest
    at most ``limits.max_depth`` deep, else :class:`~deriv_codegen.errors.LimitExceeded` is raised
    as soon as that is known (a definition referenced twice by each of the next doubles the output).
    """
    root = schema
    produced = 0
    expanding: set[int] = set()  # id() of the definitions being expanded, for cycle detection

    def resolve(ref: str) -> Any:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target

    def without_ref(node: dict[str, Any], depth: int, refs: int) -> dict[str, Any]:
        return {k: walk(v, depth + 1, refs) for k, v in node.items() if k != "$ref"}

    def walk(node: Any, depth: int, refs: int) -> Any:
        # Builds new containers throughout, so the input is never shared with (or changed through) the output.
        nonlocal produced
        produced += 1
        if produced > limits.max_schema_nodes:
            raise limits.exceeded(
                "max_schema_nodes",
                where,
                f"inlining its $refs yields more than {limits.max_schema_nodes:,} values",
            )
        if depth > limits.max_depth:
            raise limits.exceeded(
                "max_depth", where, f"inlining its $refs nests values deeper than {limits.max_depth}"
            )
        if isinstance(node, list):
            return [walk(v, depth + 1, refs) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return {k: walk(v, depth + 1, refs) for k, v in node.items()}
        if not ref.startswith("#/") or refs >= 32:
            problems.append(Problem(where, f"reference {ref!r} not resolvable; typed as Any"))
            return without_ref(node, depth, refs)
        try:
            target = resolve(ref)
        except (KeyError, TypeError, IndexError):
            problems.append(Problem(where, f"reference {ref!r} points nowhere; typed as Any"))
            return without_ref(node, depth, refs)
        if not isinstance(target, dict):
            problems.append(Problem(where, f"reference {ref!r} does not point to a schema; typed as Any"))
            return without_ref(node, depth, refs)
        if id(target) in expanding:
            problems.append(Problem(where, f"reference {ref!r} is recursive; typed as Any where it recurs"))
            return without_ref(node, depth, refs)
        expanding.add(id(target))
        try:
            return walk({**target, **{k: v for k, v in node.items() if k != "$ref"}}, depth, refs + 1)
        finally:
            expanding.discard(id(target))

    # The definitions are dropped from the result: only what references them is expanded.
    out: Schema = walk({k: v for k, v in root.items() if k not in _DROPPED_AT_ROOT}, 0, 0)
    out.pop("definitions", None)
    out.pop("$defs", None)
    out.pop("$schema", None)
    return out


def tolerant(schema: Schema, keep_required: tuple[str, ...] = ("msg_type",)) -> Schema:
    out = copy.deepcopy(schema)

    def walk(node: Any, is_root: bool, keep_enum: bool) -> None:
        if isinstance(node, list):
            for v in node:
                walk(v, False, False)
            return
        if not isinstance(node, dict):
            return
        for key in _CONSTRAINTS:
            node.pop(key, None)
        if not keep_enum:
            _drop_enum(node)
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
        kept = [r for r in node.get("required", []) if r in keep_required] if is_root else []
        if kept:
            node["required"] = kept
        else:
            node.pop("required", None)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    walk(sub, False, is_root and name in keep_required)
            elif key not in ("enum", "const", "default", "examples", "example"):
                walk(value, False, False)

    walk(out, True, False)
    return out


def _drop_enum(node: Any) -> None:
    """A response enum becomes its base type: new values upstream must not break parsing."""
    if isinstance(node, dict) and ("enum" in node or "const" in node):
        values = node.pop("enum") if "enum" in node else [node.pop("const")]
        if "type" not in node:
            kinds = sorted({_json_type(v) for v in values})
            node["type"] = kinds[0] if len(kinds) == 1 else kinds


def _json_type(value: Any) -> str:
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


def strip_titles(schema: Schema) -> Schema:
    out = copy.deepcopy(schema)

    def walk(node: Any, in_properties: bool) -> None:
        if isinstance(node, dict):
            if not in_properties:
                node.pop("title", None)
            for key, value in node.items():
                walk(value, key == "properties" and not in_properties)
        elif isinstance(node, list):
            for v in node:
                walk(v, False)

    walk(out, False)
    return out


def is_class_schema(node: Any) -> bool:
    return isinstance(node, dict) and isinstance(node.get("properties"), dict) and bool(node["properties"])


def assign_class_names(
    schema: Schema, root_name: str, call_pascal: str, used: set[str]
) -> tuple[list[str], list[str]]:
    """Set ``title`` on every node that becomes a class; return (model names, root-model names).

    A nested class is named ``<Call><Leaf>`` (``BuyParameters``), or just the leaf when it already
    contains the call name (``BuyResponse.buy`` -> ``Buy``). On a collision the parent's leaf is
    prepended (``ContractUpdateStopLoss`` vs ``ContractUpdateLimitOrderStopLoss``).
    """
    names: list[str] = []
    roots: list[str] = []
    schema["title"] = unique([root_name], used)
    names.append(schema["title"])

    def base(path: list[str]) -> str:
        leaf = "".join(path)
        if call_pascal.endswith(leaf):
            return call_pascal  # TicksHistoryResponse.history -> TicksHistory
        if leaf.startswith(call_pascal) or call_pascal.startswith(leaf):
            return leaf  # BuyResponse.buy -> Buy, TicksResponse.tick -> Tick
        return call_pascal + leaf

    def name_for(path: list[str]) -> str:
        candidates = [base(path[i:]) for i in range(len(path) - 1, -1, -1)]
        candidates.append(root_name + "".join(path))
        return unique(candidates, used)

    def visit(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        if path and is_class_schema(node):
            node["title"] = name_for(path)
            names.append(node["title"])
        for prop, sub in (node.get("properties") or {}).items():
            visit(sub, [*path, pascal(prop)])
        items = node.get("items")
        if isinstance(items, dict):
            visit(items, [*path[:-1], (path[-1] if path else "") + "Item"])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            visit(extra, [*path, "Value"])
        for key in _SUBSCHEMA_LISTS:
            branches = node.get(key)
            if isinstance(branches, list):
                for branch in branches:
                    if is_class_schema(branch):
                        leaf = (path[-1] if path else "") + _branch_leaf(branch, branches)
                        visit(branch, [*path[:-1], leaf])
                    else:
                        name_constrained(branch, path)
                        visit(branch, path)

    def name_constrained(branch: Any, path: list[str]) -> None:
        # A constrained scalar inside a union becomes a root model in the generator: name it.
        if not isinstance(branch, dict):
            return
        if any(k in branch for k in _CONSTRAINTS) and branch.get("type") != "array":
            branch["title"] = name_for([*path, "Value"])
            roots.append(branch["title"])
        items = branch.get("items")
        if (
            branch.get("type") == "array"
            and isinstance(items, dict)
            and not is_class_schema(items)
            and any(k in items for k in _CONSTRAINTS)
        ):
            items["title"] = name_for([*path, "Item"])
            roots.append(items["title"])

    visit(schema, [])
    return names, roots


def _branch_leaf(branch: Schema, branches: list[Any]) -> str:
    """Name a union branch after a property only it has (``...WithErrors``), not by position."""
    others: set[str] = set()
    for b in branches:
        if b is not branch and isinstance(b, dict):
            others.update((b.get("properties") or {}).keys())
    own = [p for p in branch["properties"] if p not in others] or list(branch["properties"])
    return "With" + pascal(own[0])


def check_patterns(schema: Schema, where: str, problems: list[Problem]) -> Schema:
    """Keep patterns Python's ``re`` compiles; drop the others with a reported problem."""
    out = copy.deepcopy(schema)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    del node["pattern"]
                    problems.append(
                        Problem(where, f"pattern at {path or '/'} not supported ({exc}); not enforced")
                    )
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")

    walk(out, "")
    return out


def openapi_nullable(schema: Schema) -> Schema:
    """A copy of an OpenAPI 3.0 schema with every ``nullable: true`` as JSON Schema says it.

    ``{"type": "integer", "nullable": true}`` becomes ``{"type": ["integer", "null"]}``; an enum gets
    ``None`` among its values; a schema without a ``type`` (``allOf``, ``$ref``...) becomes
    ``anyOf`` of itself and ``{"type": "null"}``. ``nullable: false`` is dropped.
    """

    def walk(node: Any, in_values: bool) -> Any:
        if isinstance(node, list):
            return [walk(v, in_values) for v in node]
        if not isinstance(node, dict) or in_values:
            return copy.deepcopy(node)
        out = {k: walk(v, k in ("enum", "const", "default", "examples", "example")) for k, v in node.items()}
        if out.pop("nullable", False) is not True:
            return out
        kind = out.get("type")
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if isinstance(kind, str):
            out["type"] = [kind, "null"] if kind != "null" else kind
            return out
        if isinstance(kind, list):
            out["type"] = kind if "null" in kind else [*kind, "null"]
            return out
        if not out or set(out) <= {"description", "title", "example", "examples", "default"}:
            return out  # already any value, null included
        keep = {k: out.pop(k) for k in ("description", "title", "default") if k in out}
        return {**keep, "anyOf": [out, {"type": "null"}]}

    result: Schema = walk(schema, False)
    return result


def nullable(node: Any) -> bool:
    """Whether a property schema accepts JSON ``null``."""
    if not isinstance(node, dict):
        return False
    t = node.get("type")
    if t == "null" or (isinstance(t, list) and "null" in t):
        return True
    if isinstance(node.get("enum"), list) and None in node["enum"]:
        return True
    return any(nullable(b) for key in _SUBSCHEMA_LISTS for b in node.get(key) or [])
