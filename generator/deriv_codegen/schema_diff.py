"""Compare two JSON Schemas field by field: what a client sending or reading data would notice.

:func:`compare_schemas` walks an old and a new schema side by side (``$ref``\\s resolved, ``allOf``
merged, ``nullable`` read as a ``null`` type) and yields one :class:`FieldChange` per difference,
located by a JSON path (``$.data[*].balance``): a property added or removed, required or optional,
a type narrowed or widened, enum values added or removed, a pattern, bound or format changed,
``additionalProperties`` opened or closed, alternatives (``oneOf``/``anyOf``) changed. It says what
changed and in which direction, never whether that breaks anything: that depends on who holds the
data (:mod:`deriv_codegen.diff` decides, for senders and readers).

Descriptions, titles and examples are not compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from deriv_runtime.schema_tolerance import json_type

#: Longest chain of nested schemas followed; deeper differences are not looked for.
MAX_DEPTH = 48

#: What changed at one place of a schema, and in which direction (``looser``: accepts more values).
FieldChangeKind = Literal[
    "field-added",
    "field-removed",
    "became-required",
    "became-optional",
    "type-narrowed",
    "type-widened",
    "type-changed",
    "enum-added",
    "enum-removed",
    "pattern-added",
    "pattern-removed",
    "pattern-changed",
    "bound-tightened",
    "bound-loosened",
    "format-added",
    "format-removed",
    "format-changed",
    "closed",
    "opened",
    "alternatives-changed",
    "default-changed",
]

#: Constraints compared as whole values: the kinds of their addition, removal and change.
_NAMED_CONSTRAINTS: dict[str, tuple[FieldChangeKind, FieldChangeKind, FieldChangeKind]] = {
    "pattern": ("pattern-added", "pattern-removed", "pattern-changed"),
    "format": ("format-added", "format-removed", "format-changed"),
}

#: Bounds and whether a larger value accepts more (``True``: an upper bound).
_BOUNDS: dict[str, bool] = {
    "minimum": False,
    "exclusiveMinimum": False,
    "minLength": False,
    "minItems": False,
    "minProperties": False,
    "maximum": True,
    "exclusiveMaximum": True,
    "maxLength": True,
    "maxItems": True,
    "maxProperties": True,
}
_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


@dataclass(frozen=True, order=True)
class FieldChange:
    """One difference at ``path`` (``$`` is the schema's root): ``kind``, and ``detail`` in words."""

    path: str
    kind: FieldChangeKind
    detail: str
    #: The property (at ``path``) was required in the old schema; ``field-removed`` only.
    was_required: bool = False
    #: The object holding the property was closed (``additionalProperties: false``) in the old
    #: schema; ``field-added`` only.
    parent_closed: bool = False
    #: The property is required in the new schema; ``field-added`` only.
    required: bool = False


#: ``resolve(ref)``: the schema a ``$ref`` names (``None``: it does not resolve).
Resolver = Callable[[str], Any]


def json_path(base: str, key: str) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; names that are not plain words are quoted: ``$['Deriv-App-ID']``."""
    if key.replace("_", "a").isalnum() and not key[:1].isdigit():
        return f"{base}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{base}['{escaped}']"


def compare_schemas(
    old: Any,
    new: Any,
    resolve_old: Resolver | None = None,
    resolve_new: Resolver | None = None,
    path: str = "$",
) -> list[FieldChange]:
    """Every difference between ``old`` and ``new``, sorted by path then kind."""
    walker = _Walker(resolve_old or _no_refs, resolve_new or _no_refs)
    return sorted(set(walker.walk(old, new, path, 0, frozenset())))


def local_resolver(root: Any, *more: Mapping[str, Any]) -> Resolver:
    """A resolver of ``#/...`` pointers into ``root``, then into each of ``more`` (e.g. an OpenAPI
    document's ``{"components": ...}``)."""

    def resolve(ref: str) -> Any:
        if not ref.startswith("#/"):
            return None
        parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
        for doc in (root, *more):
            node: Any = doc
            for part in parts:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    node = None
                    break
            if node is not None:
                return node
        return None

    return resolve


def _no_refs(ref: str) -> Any:
    return None


def types_of(schema: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a schema node allows (empty: any); ``integer`` is kept apart from ``number``."""
    raw = schema.get("type")
    found: set[str] = set()
    if isinstance(raw, str):
        found.add(raw)
    elif isinstance(raw, list):
        found.update(str(t) for t in raw)
    if not found:
        if "const" in schema:
            found.add(json_type(schema["const"]))
        elif isinstance(schema.get("enum"), list) and schema["enum"]:
            found.update(json_type(v) for v in schema["enum"])
        elif isinstance(schema.get("properties"), dict):
            found.add("object")
        elif "items" in schema:
            found.add("array")
    if found and schema.get("nullable") is True:
        found.add("null")
    return frozenset(found)


def _accepts(types: frozenset[str]) -> frozenset[str]:
    """The types as sets of values: ``number`` includes ``integer``; no type accepts every type."""
    if not types:
        return frozenset(_TYPES)
    return types | {"integer"} if "number" in types else types


def _enum(schema: Mapping[str, Any]) -> list[Any] | None:
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


class _Walker:
    def __init__(self, resolve_old: Resolver, resolve_new: Resolver) -> None:
        self.resolve_old = resolve_old
        self.resolve_new = resolve_new

    def _deref(self, node: Any, resolve: Resolver, seen: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
        """``node`` with ``$ref`` followed and ``allOf`` merged; ``seen``: the refs followed so far."""
        for _ in range(16):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                break
            ref = node["$ref"]
            if ref in seen:
                return {}, seen
            target = resolve(ref)
            if not isinstance(target, dict):
                return {k: v for k, v in node.items() if k != "$ref"}, seen
            seen = (*seen, ref)
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        if not isinstance(node, dict):
            return ({} if node is True or node is None else {"not": {}}), seen
        if isinstance(node.get("allOf"), list):
            merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
            props: dict[str, Any] = dict(merged.get("properties") or {})
            required: list[str] = list(merged.get("required") or [])
            for raw_part in node["allOf"]:
                part, seen = self._deref(raw_part, resolve, seen)
                if not isinstance(part, dict):
                    continue
                for k, v in part.items():
                    if k == "properties" and isinstance(v, dict):
                        props.update(v)
                    elif k == "required" and isinstance(v, list):
                        required.extend(str(r) for r in v)
                    else:
                        merged.setdefault(k, v)
            if props:
                merged["properties"] = props
            if required:
                merged["required"] = sorted(set(required))
            node = merged
        return node, seen

    def walk(
        self, old_raw: Any, new_raw: Any, path: str, depth: int, refs: frozenset[tuple[str, str]]
    ) -> Iterator[FieldChange]:
        if depth > MAX_DEPTH:
            return
        old, old_seen = self._deref(old_raw, self.resolve_old, ())
        new, new_seen = self._deref(new_raw, self.resolve_new, ())
        pair = ("|".join(old_seen), "|".join(new_seen))
        if (old_seen or new_seen) and pair in refs:
            return  # a recursive schema: this pair is being compared further up
        refs = refs | {pair} if old_seen or new_seen else refs
        yield from self._types(old, new, path)
        yield from self._enums(old, new, path)
        yield from self._constraints(old, new, path)
        yield from self._properties(old, new, path, depth, refs)
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(old_items, dict) and isinstance(new_items, dict):
            yield from self.walk(old_items, new_items, path + "[*]", depth + 1, refs)
        for key in ("oneOf", "anyOf"):
            a, b = old.get(key), new.get(key)
            if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
                for i, (x, y) in enumerate(zip(a, b, strict=True)):
                    yield from self.walk(x, y, f"{path}<{key}[{i}]>", depth + 1, refs)
            elif (a is None) != (b is None) or (isinstance(a, list) and isinstance(b, list)):
                na, nb = len(a) if isinstance(a, list) else 0, len(b) if isinstance(b, list) else 0
                yield FieldChange(path, "alternatives-changed", f"{key}: {na} alternatives -> {nb}")
        if "default" in old and "default" in new and _key(old["default"]) != _key(new["default"]):
            yield FieldChange(
                path, "default-changed", f"default {_show(old['default'])} -> {_show(new['default'])}"
            )

    def _types(self, old: dict[str, Any], new: dict[str, Any], path: str) -> Iterator[FieldChange]:
        a, b = types_of(old), types_of(new)
        if a == b:
            return
        va, vb = _accepts(a), _accepts(b)
        shown = f"type {'|'.join(sorted(a)) or 'any'} -> {'|'.join(sorted(b)) or 'any'}"
        if vb < va:
            yield FieldChange(path, "type-narrowed", shown)
        elif vb > va:
            yield FieldChange(path, "type-widened", shown)
        else:
            yield FieldChange(path, "type-changed", shown)

    def _enums(self, old: dict[str, Any], new: dict[str, Any], path: str) -> Iterator[FieldChange]:
        a, b = _enum(old), _enum(new)
        if a is None and b is None:
            return
        if a is None:
            yield FieldChange(path, "enum-removed", f"now limited to {len(b or [])} value(s): {_show(b)}")
            return
        if b is None:
            yield FieldChange(path, "enum-added", f"no longer limited to {_show(a)}")
            return
        ka, kb = {_key(v): v for v in a}, {_key(v): v for v in b}
        added = [kb[k] for k in sorted(set(kb) - set(ka))]
        removed = [ka[k] for k in sorted(set(ka) - set(kb))]
        if added:
            yield FieldChange(path, "enum-added", f"value(s) added: {_show(added)}")
        if removed:
            yield FieldChange(path, "enum-removed", f"value(s) removed: {_show(removed)}")

    def _constraints(self, old: dict[str, Any], new: dict[str, Any], path: str) -> Iterator[FieldChange]:
        for key, (added, removed, changed) in _NAMED_CONSTRAINTS.items():
            a, b = old.get(key), new.get(key)
            if a != b:
                if a is None:
                    yield FieldChange(path, added, f"{key} {_show(b)}")
                elif b is None:
                    yield FieldChange(path, removed, f"{key} {_show(a)} dropped")
                else:
                    yield FieldChange(path, changed, f"{key} {_show(a)} -> {_show(b)}")
        for name, upper in _BOUNDS.items():
            x, y = old.get(name), new.get(name)
            if x == y or isinstance(x, bool) or isinstance(y, bool):
                continue  # OpenAPI 3.0's boolean exclusiveMinimum: read with minimum
            if any(v is not None and not isinstance(v, (int, float)) for v in (x, y)):
                continue
            shown = (
                f"{name} {_show(x) if x is not None else 'none'} -> {_show(y) if y is not None else 'none'}"
            )
            if x is None:
                yield FieldChange(path, "bound-tightened", shown)
            elif y is None or (y > x) == upper:
                yield FieldChange(path, "bound-loosened", shown)
            else:
                yield FieldChange(path, "bound-tightened", shown)
        mx, my = old.get("multipleOf"), new.get("multipleOf")
        if mx != my and not isinstance(mx, bool) and not isinstance(my, bool):
            shown = f"multipleOf {_show(mx)} -> {_show(my)}"
            looser = my is None or (
                isinstance(mx, (int, float)) and isinstance(my, (int, float)) and my and mx % my == 0
            )
            yield FieldChange(path, "bound-loosened" if looser else "bound-tightened", shown)
        if _closed(old) != _closed(new):
            if _closed(new):
                yield FieldChange(path, "closed", "additionalProperties: false (other properties refused)")
            else:
                yield FieldChange(path, "opened", "other properties now allowed")

    def _properties(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        path: str,
        depth: int,
        refs: frozenset[tuple[str, str]],
    ) -> Iterator[FieldChange]:
        pa: dict[str, Any] = old["properties"] if isinstance(old.get("properties"), dict) else {}
        pb: dict[str, Any] = new["properties"] if isinstance(new.get("properties"), dict) else {}
        ra = {str(r) for r in old.get("required") or () if isinstance(r, str)}
        rb = {str(r) for r in new.get("required") or () if isinstance(r, str)}
        for name in sorted(set(pa) | set(pb)):
            here = json_path(path, str(name))
            if name not in pb:
                what = "required" if name in ra else "optional"
                yield FieldChange(here, "field-removed", f"{what} field removed", was_required=name in ra)
            elif name not in pa:
                what = "required" if name in rb else "optional"
                yield FieldChange(
                    here,
                    "field-added",
                    f"{what} field added",
                    parent_closed=_closed(old),
                    required=name in rb,
                )
            else:
                if name in rb and name not in ra:
                    yield FieldChange(here, "became-required", "now required")
                elif name in ra and name not in rb:
                    yield FieldChange(here, "became-optional", "no longer required")
                yield from self.walk(pa[name], pb[name], here, depth + 1, refs)
        # required names without a property schema (a bare ``required`` list, e.g. in a oneOf)
        for name in sorted((ra ^ rb) - set(pa) - set(pb)):
            here = json_path(path, name)
            kind: FieldChangeKind = "became-required" if name in rb else "became-optional"
            yield FieldChange(here, kind, "now required" if name in rb else "no longer required")


def _closed(schema: Mapping[str, Any]) -> bool:
    return schema.get("additionalProperties") is False
