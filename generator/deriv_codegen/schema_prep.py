"""Schema preparation before model generation: naming, strict requests, tolerant responses.

Upstream schemas are never modified in place; each function returns a transformed deep copy.

* :func:`inline_local_refs` replaces ``#/definitions/...`` references by their targets, so a schema
  can be embedded in another document.
* :func:`tolerant` relaxes a response schema: a field the server adds later, omits, or sends
  outside a documented constraint must not break parsing. Only the root ``msg_type`` stays
  required and typed as its enum. (Strict contract checks validate against the original schema.)
* :func:`assign_class_names` gives every object that becomes a class a readable, unique name
  derived from the call and the property path - never from prose ``title``\\s.
* :func:`check_patterns` makes request patterns ones pydantic's regex engine enforces (PCRE syntax
  translated) and reports the rest.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import warnings
from typing import Any

from deriv_runtime.schema_tolerance import CONSTRAINTS, json_type, tolerant_schema

from .errors import Problem
from .limits import DEFAULT_LIMITS, Limits
from .naming import pascal, unique

Schema = dict[str, Any]

_CONSTRAINTS = CONSTRAINTS
_SUBSCHEMA_LISTS = ("oneOf", "anyOf", "allOf")
#: Keywords whose values are data, never schemas.
_VALUE_KEYS = frozenset({"enum", "const", "default", "examples", "example"})
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
    """The tolerant reading of an answer schema (one definition, shared with the runtime's traffic
    checks: :func:`deriv_runtime.schema_tolerance.tolerant_schema`)."""
    return tolerant_schema(schema, keep_required)


_json_type = json_type


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

    def visit(node: Any, path: list[str], required: bool = False) -> None:
        if not isinstance(node, dict):
            return
        if path and is_class_schema(node):
            node["title"] = name_for(path)
            names.append(node["title"])
        needed: list[Any] = node["required"] if isinstance(node.get("required"), list) else []
        for prop, sub in (node.get("properties") or {}).items():
            visit(sub, [*path, pascal(prop)], prop in needed)
        items = node.get("items")
        if isinstance(items, dict):
            item_path = [*path[:-1], (path[-1] if path else "") + "Item"]
            if (
                "title" not in items
                and not is_class_schema(items)
                and any(k in items for k in _CONSTRAINTS)
                and (required or "description" in items or any(k in node for k in _CONSTRAINTS))
            ):
                # a constrained item the generator makes a root model: that of a required list, of a
                # constrained one, or one with its own description
                items["title"] = name_for(item_path)
                roots.append(items["title"])
            visit(items, item_path)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            visit(extra, [*path, "Value"])
        patterned = node.get("patternProperties")
        if isinstance(patterned, dict):
            for sub in patterned.values():  # the values of a map keyed by pattern, like additionalProperties
                visit(sub, [*path, "Value"])
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


#: ``\x{b0}`` (PCRE, Perl): a code point in braces.
_PCRE_HEX = re.compile(r"\\(?:\\|x\{([0-9A-Fa-f]{1,6})\})")
#: A whole pattern that is one character class repeated: ``^[\p{L}\s'.-]{1,300}$``.
_COUNTED_CLASS = re.compile(r"\^(\[(?:\\.|\[:[a-z]+:\]|[^\]\\])+\])\{(\d+),(\d+)\}\$")


def translate_pattern(pattern: str) -> str:
    r"""``pattern`` with PCRE-only syntax spelled the way pydantic's Rust engine *and* Python's ``re``
    read it: ``\x{b0}`` -> ``\u00b0`` (``\U0001f600`` beyond the BMP). ``\p{L}`` needs no change
    (the Rust engine has it); look-around has no equivalent and is left for :func:`check_patterns`."""

    def hex_escape(m: re.Match[str]) -> str:
        if m[1] is None:
            return m[0]  # an escaped backslash: the x after it is a letter
        code = int(m[1], 16)
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    return _PCRE_HEX.sub(hex_escape, pattern)


@functools.lru_cache(maxsize=4096)
def pattern_error(pattern: str) -> str | None:
    """Why pydantic cannot enforce ``pattern`` (``None``: it can).

    Compiled exactly as a generated model compiles it: a ``str`` schema of pydantic-core with the
    default ``regex_engine`` (the Rust ``regex`` crate, as :class:`deriv_runtime.models.RequestModel`
    uses), which has no look-around and a size limit on the compiled program.
    """
    from pydantic_core import SchemaError, SchemaValidator, core_schema

    try:
        SchemaValidator(core_schema.str_schema(pattern=pattern))
    except SchemaError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = next((ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else str(exc))
        return reason.removeprefix("error:").strip().removeprefix("SchemaError:").strip()
    return None


def python_error(pattern: str) -> str | None:
    """Why Python's ``re`` cannot compile ``pattern`` as meant (``None``: it can); a pattern it reads
    differently from the Rust engine (``[[:xdigit:]]``: a nested set) counts as one it cannot."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            re.compile(pattern)
        except (re.error, FutureWarning) as exc:
            return str(exc)
    return None


def check_patterns(schema: Schema, where: str, problems: list[Problem]) -> Schema:
    r"""Make every request pattern one pydantic enforces, or drop it with a reported problem.

    Each pattern is translated (:func:`translate_pattern`) and compiled as the generated model will
    compile it. A model's patterns all go through one engine: pydantic's default, the Rust ``regex``
    crate (:func:`pattern_error`), unless one of them needs look-around, which the model generator
    answers with ``regex_engine="python-re"`` for that model (:func:`python_error`). So:

    * a pattern that is one character class repeated ``{m,n}`` times and too big for the Rust engine
      (``^[\p{L}\p{Nd}...]{1,300}$``) becomes the class repeated freely plus ``minLength``/``maxLength``
      (the same strings match);
    * look-around is kept where every other pattern of the same model also compiles with Python's
      ``re``; where another needs the Rust engine (``\p{L}``), the look-around pattern is dropped;
    * a pattern neither engine compiles is dropped.

    Every dropped pattern is reported: the request is then sent without that check (the server
    still makes it).
    """
    out = copy.deepcopy(schema)
    # (node, path, model): patterns of one model share an engine; a model is an object with properties.
    found: list[tuple[dict[str, Any], str, int]] = []

    def fix_keys(node: dict[str, Any], path: str) -> None:
        kept: dict[str, Any] = {}
        for key, value in node["patternProperties"].items():
            pattern = translate_pattern(key)
            error = pattern_error(pattern)
            if error is None:
                kept[pattern] = value
                continue
            problems.append(
                Problem(
                    where,
                    f"patternProperties key {key!r} at {path or '/'} cannot be enforced by pydantic's regex "
                    f"engine ({error}); its values are accepted under any key",
                )
            )
            extra = node.get("additionalProperties")
            node["additionalProperties"] = value if not isinstance(extra, dict) else {"anyOf": [extra, value]}
        node["patternProperties"] = kept

    def walk(node: Any, path: str, model: int) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                node["pattern"] = translate_pattern(node["pattern"])
                found.append((node, path, model))
            if isinstance(node.get("patternProperties"), dict):
                fix_keys(node, path)
            inner = id(node) if is_class_schema(node) else model
            for key, value in node.items():
                if key in _VALUE_KEYS:
                    continue
                if key in ("properties", "patternProperties") and isinstance(value, dict):
                    for name, sub in value.items():
                        walk(sub, f"{path}/{key}/{name}", inner)
                else:
                    walk(value, f"{path}/{key}", model)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}", model)

    walk(out, "", id(out))
    rust: dict[int, str | None] = {}
    for node, _path, _model in found:
        rust[id(node)] = _rust_or_lengths(node)
    needs_rust = {
        model for node, _p, model in found if rust[id(node)] is None and python_error(node["pattern"])
    }
    for node, path, model in found:
        pattern = node["pattern"]
        error = rust[id(node)]
        if error is None:
            continue
        py_error = python_error(pattern)
        if py_error is None and model not in needs_rust:
            continue  # the model generator has this model use Python's re
        reason = (
            f"{error}; Python's re, which the model would need for it, cannot compile other patterns of "
            "the same model"
            if py_error is None
            else f"{error}; nor Python's re: {py_error}"
        )
        del node["pattern"]
        problems.append(
            Problem(
                where,
                f"pattern {pattern!r} at {path or '/'} cannot be enforced by pydantic's regex engines "
                f"({reason}); the request is sent without checking it",
            )
        )
    return out


def _rust_or_lengths(node: dict[str, Any]) -> str | None:
    """Why the Rust engine refuses ``node``'s pattern (``None``: it takes it, possibly after moving
    the bounds of a repeated character class into ``minLength``/``maxLength``)."""
    pattern = node["pattern"]
    error = pattern_error(pattern)
    counted = _COUNTED_CLASS.fullmatch(pattern) if error else None
    if counted and int(counted[2]) <= int(counted[3]):
        free = f"^{counted[1]}*$"
        if pattern_error(free) is None:
            low, high = int(counted[2]), int(counted[3])
            node["pattern"] = free
            node["minLength"] = max(low, _int_or(node.get("minLength"), low))
            node["maxLength"] = min(high, _int_or(node.get("maxLength"), high))
            return None
    return error


def check_defaults(schema: Schema, where: str, problems: list[Problem]) -> Schema:
    """Make every ``default`` a value of its schema's ``type`` (and ``enum``), reporting each fix.

    A default written as the wrong JSON type (``"default": "5000"`` on an integer) becomes the value
    it spells when that is exact (``5000``); any other contradicting default is dropped (the field is
    then simply optional).
    """
    out = copy.deepcopy(schema)

    def fix(node: dict[str, Any], path: str) -> None:
        value = node["default"]
        kinds = node.get("type")
        allowed = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
        if (
            allowed
            and _json_type(value) not in allowed
            and not (_json_type(value) == "integer" and "number" in allowed)
        ):
            fixed = _coerce(value, [str(k) for k in allowed])
            if fixed is _NO_VALUE:
                del node["default"]
                problems.append(
                    Problem(where, f"default {value!r} at {path or '/'} is not of type {kinds}; dropped")
                )
                return
            node["default"] = fixed
            problems.append(
                Problem(
                    where, f"default {value!r} at {path or '/'} is not of type {kinds}; read as {fixed!r}"
                )
            )
        enum = node.get("enum")
        if isinstance(enum, list) and node["default"] not in enum:
            problems.append(
                Problem(
                    where, f"default {node['default']!r} at {path or '/'} is not one of its enum; dropped"
                )
            )
            del node["default"]

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "default" in node:
                fix(node, path)
            for key, value in node.items():
                if key not in _VALUE_KEYS:
                    walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")

    walk(out, "")
    return out


_NO_VALUE: Any = object()


def _coerce(value: Any, kinds: list[str]) -> Any:
    """``value`` as the first of ``kinds`` it spells exactly (``"5000"`` -> ``5000``), else ``_NO_VALUE``."""
    for kind in kinds:
        if kind == "integer" and isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            return int(value)
        if kind == "number" and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):
                return int(number) if number.is_integer() and "." not in value else number
        if kind == "string" and type(value) in (int, float):
            return str(value)
        if kind == "boolean" and value in (0, 1) and type(value) is int:
            return bool(value)
    return _NO_VALUE


def _int_or(value: Any, default: int) -> int:
    return value if type(value) is int else default


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
