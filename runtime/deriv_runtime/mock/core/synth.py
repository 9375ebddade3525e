"""Schema-driven synthesis of JSON values: a valid instance of a JSON schema, deterministic per seed.

Handles what the Deriv schemas use (and a little more): ``$ref`` (local; an OpenAPI schema works
when the document's ``components`` sit beside it at the root), ``type`` (one or a list),
``enum``, ``const``, ``properties``/``required``/``additionalProperties``, ``items`` (one schema or
a tuple), ``minItems``/``maxItems``/``uniqueItems``, ``oneOf``/``anyOf``/``allOf``, ``minimum``/
``maximum`` (draft-04 boolean and draft-06 numeric exclusive bounds), ``multipleOf``,
``minLength``/``maxLength``, ``pattern`` and a few ``format`` values.

Strings for a ``pattern`` come from, in order: a hint for the property name, the schema's
``examples``, a few realistic candidates, and finally a string generated from the parsed regular
expression (``re._parser``). Every result is checked against the whole schema with jsonschema-rs;
:class:`SynthesisError` says what could not be satisfied.
"""

from __future__ import annotations

import copy
import importlib
import math
import random
import re
import string
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import jsonschema_rs
import orjson

__all__ = ["SynthesisError", "Synthesiser", "regex_string", "synthesise"]

# ``re._parser`` (Python >= 3.11) has no type stubs; it is only read, never patched.
_sre: Any = importlib.import_module("re._parser")

_NULL_FIRST = ("null",)
_TYPE_ORDER = ("object", "array", "string", "number", "integer", "boolean", "null")
_READABLE = string.ascii_lowercase + string.digits
_PRINTABLE = string.ascii_letters + string.digits + "-_.:+/ "

#: Realistic values tried first for a property of this name (used only when they fit its schema).
DEFAULT_HINTS: Mapping[str, Any] = {
    "currency": "USD",
    "loginid": "VRTC90000001",
    "underlying_symbol": "R_100",
    "symbol": "R_100",
    "ticks": "R_100",
    "ticks_history": "R_100",
    "contract_type": "CALL",
    "basis": "stake",
    "duration_unit": "t",
    "end": "latest",
    "barrier": "+0.10",
    "barrier2": "-0.10",
    "date_from": "2026-06-01",
    "date_to": "today",
}

_STRING_CANDIDATES = ("USD", "R_100", "VRTC90000001", "CR000000", "1", "0", "10.00", "latest", "today")


class SynthesisError(ValueError):
    """No valid instance could be produced (an unsatisfiable or unsupported schema)."""


def _ecma_to_python(pattern: str) -> str:
    """Best-effort translation of ECMA/PCRE-only syntax (``\\p{L}``, ``\\x{b0}``) to Python ``re``."""
    pattern = re.sub(r"\\x\{([0-9a-fA-F]{1,6})\}", lambda m: "\\U" + m.group(1).rjust(8, "0"), pattern)
    pattern = pattern.replace(r"\p{L}", r"[^\W\d_]").replace(r"\p{N}", r"\d")
    return re.sub(r"\\[pP]\{[^}]*\}", ".", pattern)


def _compile(pattern: str) -> re.Pattern[str] | None:
    for candidate in (pattern, _ecma_to_python(pattern)):
        try:
            return re.compile(candidate)
        except re.error:
            continue
    return None


def regex_string(
    pattern: str,
    rng: random.Random,
    *,
    min_length: int = 0,
    max_length: int | None = None,
    attempts: int = 64,
) -> str:
    """A string that ``re.search(pattern, s)`` accepts, within the length bounds.

    Built by walking the parsed expression; repeats choose few iterations, so results stay short.
    Raises :class:`SynthesisError` when no attempt matches (e.g. contradictory look-arounds).
    """
    compiled = _compile(pattern)
    if compiled is None:
        raise SynthesisError(f"pattern {pattern!r} is not supported by Python's re")
    parsed = _sre.parse(compiled.pattern, compiled.flags)
    for attempt in range(attempts):
        extra = 3 if attempt < attempts // 2 else 1
        out: list[str] = []
        _RegexWriter(rng, extra, min_length).emit(list(parsed), out, {})
        text = "".join(out)
        if max_length is not None and len(text) > max_length:
            continue
        if len(text) < min_length:
            continue
        if compiled.search(text):
            return text
    raise SynthesisError(
        f"could not generate a string matching {pattern!r} "
        f"(length {min_length}..{'' if max_length is None else max_length})"
    )


class _RegexWriter:
    def __init__(self, rng: random.Random, extra: int, min_length: int) -> None:
        self.rng = rng
        self.extra = extra
        self.min_length = min_length

    def emit(self, items: Sequence[tuple[Any, Any]], out: list[str], groups: dict[int, str]) -> None:
        for op, av in items:
            if op is _sre.LITERAL:
                out.append(chr(av))
            elif op is _sre.NOT_LITERAL:
                out.append(self.rng.choice([c for c in _READABLE if ord(c) != av]))
            elif op is _sre.ANY:
                out.append(self.rng.choice(_READABLE))
            elif op is _sre.IN:
                out.append(self.pick_in(av))
            elif op is _sre.BRANCH:
                self.emit(list(self.rng.choice(av[1])), out, groups)
            elif op is _sre.SUBPATTERN:
                group, _add, _del, sub = av
                start = len(out)
                self.emit(list(sub), out, groups)
                if group is not None:
                    groups[group] = "".join(out[start:])
            elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
                low, high, sub = av
                top = low + self.extra if high is _sre.MAXREPEAT else min(high, low + self.extra)
                for _ in range(self.rng.randint(low, max(low, top))):
                    self.emit(list(sub), out, groups)
            elif op is getattr(_sre, "ATOMIC_GROUP", None):
                self.emit(list(av), out, groups)
            elif op is _sre.GROUPREF:
                out.append(groups.get(av, ""))
            elif op is _sre.CATEGORY:
                out.append(self.rng.choice(_category(av)))
            # AT (anchors), ASSERT / ASSERT_NOT (look-arounds): checked on the whole string afterwards.

    def pick_in(self, items: Sequence[tuple[Any, Any]]) -> str:
        negate = any(op is _sre.NEGATE for op, _ in items)
        pool: list[str] = []
        for op, av in items:
            if op is _sre.LITERAL:
                pool.append(chr(av))
            elif op is _sre.RANGE:
                low, high = av
                if high - low <= 256:
                    pool.extend(chr(c) for c in range(low, high + 1))
                else:
                    pool.extend(c for c in _PRINTABLE if low <= ord(c) <= high)
                    pool.append(chr(low))
            elif op is _sre.CATEGORY:
                pool.extend(_category(av))
        if negate:
            excluded = set(pool)
            return self.rng.choice([c for c in _PRINTABLE if c not in excluded] or ["~"])
        return self.rng.choice(pool or ["a"])


def _category(category: Any) -> str:
    if category is _sre.CATEGORY_DIGIT:
        return string.digits
    if category is _sre.CATEGORY_NOT_DIGIT:
        return string.ascii_letters
    if category is _sre.CATEGORY_SPACE:
        return " "
    if category is _sre.CATEGORY_NOT_SPACE:
        return _READABLE
    if category is _sre.CATEGORY_WORD:
        return string.ascii_letters + string.digits
    if category is _sre.CATEGORY_NOT_WORD:
        return "-.:"
    return _READABLE


def _uuid_like(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Synthesiser:
    """Produces valid instances of JSON schemas.

    ``optional`` is the probability of including an optional property (1.0: every documented
    property, 0.0: required ones only). ``hints`` maps property names to preferred values (used
    when they fit the property's schema). ``now`` gives the epoch used for time-like integers.
    """

    def __init__(
        self,
        seed: int | random.Random = 0,
        *,
        optional: float = 1.0,
        max_depth: int = 6,
        max_items: int = 2,
        hints: Mapping[str, Any] | None = None,
        now: Callable[[], int] | None = None,
    ) -> None:
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)  # noqa: S311
        self.optional = optional
        self.max_depth = max_depth
        self.max_items = max_items
        self.hints: dict[str, Any] = {**DEFAULT_HINTS, **(hints or {})}
        self.now = now or (lambda: int(time.time()))
        # Keyed by identity; each entry keeps its schema and root alive, so an id is never reused.
        self._validators: dict[tuple[int, int], tuple[Mapping[str, Any], Mapping[str, Any], Any]] = {}
        self._root: Mapping[str, Any] = {}

    # -- public -------------------------------------------------------------------------------

    def generate(
        self,
        schema: Mapping[str, Any],
        *,
        overrides: Mapping[str, Any] | None = None,
        omit: Collection[str] = (),
        attempts: int = 8,
    ) -> Any:
        """A valid instance of ``schema``.

        For an object schema, ``overrides`` are placed as given (not generated) and the top-level
        properties in ``omit`` are left out unless required.
        """
        self._root = schema
        problems: list[str] = []
        for _ in range(attempts):
            value = self._value(schema, None, 0, overrides=overrides, omit=omit)
            problems = self.problems(schema, value)
            if not problems:
                return value
        raise SynthesisError(f"{schema.get('title', 'schema')}: " + "; ".join(problems[:5]))

    def problems(self, schema: Mapping[str, Any], value: Any) -> list[str]:
        """Validation messages of ``value`` against ``schema`` (empty when valid)."""
        validator = self._validator(schema, schema)
        return [f"{_path(e.instance_path)}: {e.message}" for e in validator.iter_errors(value)]

    # -- validation helpers -------------------------------------------------------------------

    def _validator(self, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
        key = (id(schema), id(root))
        entry = self._validators.get(key)
        if entry is not None and entry[0] is schema and entry[1] is root:
            return entry[2]
        if schema is root:
            document: Mapping[str, Any] = schema
        else:
            document = dict(schema)
            for section in ("definitions", "$defs", "components"):  # components: OpenAPI documents
                if section in root and section not in document:
                    document[section] = root[section]
            if "$schema" in root:
                document["$schema"] = root["$schema"]
        validator = jsonschema_rs.validator_for(dict(document))
        self._validators[key] = (schema, root, validator)
        return validator

    def _fits(self, value: Any, schema: Mapping[str, Any]) -> bool:
        try:
            return bool(self._validator(schema, self._root).is_valid(value))
        except (ValueError, TypeError):
            return False

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < 32:
            ref: str = schema["$ref"]
            if not ref.startswith("#"):
                raise SynthesisError(f"only local $ref is supported, not {ref!r}")
            target: Any = self._root
            for raw in [p for p in ref[1:].split("/") if p]:
                part = raw.replace("~1", "/").replace("~0", "~")
                target = target[int(part)] if isinstance(target, list) else target[part]
            schema = target
            seen += 1
        return schema

    # -- generation ---------------------------------------------------------------------------

    def _value(
        self,
        schema: Mapping[str, Any] | bool,
        name: str | None,
        depth: int,
        *,
        overrides: Mapping[str, Any] | None = None,
        omit: Collection[str] = (),
    ) -> Any:
        if schema is True or schema is False or not isinstance(schema, Mapping):
            return None if schema is not True else "value"
        schema = self._resolve(schema)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if name is not None and name in self.hints and self._fits(self.hints[name], schema):
            return copy.deepcopy(self.hints[name])
        if "enum" in schema:
            return self._enum(schema)
        if "allOf" in schema:
            return self._value(_merge_all_of(schema, self._resolve), name, depth)
        if "oneOf" in schema:
            return self._one_of(schema, name, depth)
        if "anyOf" in schema:
            branches = [self._resolve(b) for b in schema["anyOf"]]
            non_null = [b for b in branches if b.get("type") != "null"] or branches
            return self._value(self.rng.choice(non_null), name, depth)
        kind = self._type(schema)
        if kind == "object":
            return self._object(schema, depth, overrides or {}, omit)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return self._integer(schema, name)
        if kind == "number":
            return self._number(schema, name)
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None

    def _type(self, schema: Mapping[str, Any]) -> str:
        declared = schema.get("type")
        if isinstance(declared, str):
            return declared
        if isinstance(declared, list) and declared:
            non_null = [str(t) for t in declared if t != "null"]
            if not non_null:
                return "null"
            return min(non_null, key=lambda t: _TYPE_ORDER.index(t) if t in _TYPE_ORDER else 99)
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema or "minItems" in schema:
            return "array"
        if "pattern" in schema or "minLength" in schema or "maxLength" in schema or "format" in schema:
            return "string"
        if "minimum" in schema or "maximum" in schema or "multipleOf" in schema:
            return "number"
        return "string"

    def _enum(self, schema: Mapping[str, Any]) -> Any:
        values = list(schema["enum"])
        fitting = [v for v in values if v is not None and self._fits(v, schema)]
        if not fitting:
            fitting = [v for v in values if self._fits(v, schema)] or values
        return copy.deepcopy(self.rng.choice(fitting))

    def _one_of(self, schema: Mapping[str, Any], name: str | None, depth: int) -> Any:
        branches = [self._resolve(b) for b in schema["oneOf"]]
        order = list(range(len(branches)))
        self.rng.shuffle(order)
        order.sort(key=lambda i: branches[i].get("type") == "null")
        value: Any = None
        for index in order:
            value = self._value(branches[index], name, depth)
            if sum(1 for b in branches if self._fits(value, b)) == 1:
                return value
        return value

    def _object(
        self,
        schema: Mapping[str, Any],
        depth: int,
        overrides: Mapping[str, Any],
        omit: Collection[str],
    ) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties") or {}
        required = [r for r in schema.get("required") or () if isinstance(r, str)]
        result: dict[str, Any] = {}
        for key, sub in properties.items():
            if key in overrides:
                result[key] = overrides[key]
                continue
            wanted = key in required or (
                key not in omit and depth < self.max_depth and self.rng.random() < self.optional
            )
            if wanted:
                result[key] = self._value(sub, key, depth + 1)
        extra = schema.get("additionalProperties")
        for key in required:
            if key not in result:
                sub = extra if isinstance(extra, Mapping) else {"type": "string"}
                result[key] = overrides[key] if key in overrides else self._value(sub, key, depth + 1)
        for key, value in overrides.items():
            result.setdefault(key, value)
        self._fill_pattern_properties(schema, depth, result)
        return result

    def _fill_pattern_properties(self, schema: Mapping[str, Any], depth: int, result: dict[str, Any]) -> None:
        """Up to ``minProperties``, add entries named after a ``patternProperties`` pattern (only
        when the listed properties are too few: other schemas are left as they were)."""
        wanted = int(schema.get("minProperties", 0))
        for pattern, sub in (schema.get("patternProperties") or {}).items():
            compiled = _compile(pattern)
            names = [c for c in _STRING_CANDIDATES if compiled is not None and compiled.search(c)]
            for attempt in range(len(names) + 8 if compiled is not None else 0):
                if len(result) >= wanted:
                    return
                name = names[attempt] if attempt < len(names) else regex_string(pattern, self.rng)
                result.setdefault(name, self._value(sub, name, depth + 1))

    def _array(self, schema: Mapping[str, Any], name: str | None, depth: int) -> list[Any]:
        items = schema.get("items")
        minimum = int(schema.get("minItems", 0))
        maximum = schema.get("maxItems")
        if isinstance(items, list):
            values = [self._value(sub, name, depth + 1) for sub in items]
            extra = schema.get("additionalItems")
            while len(values) < minimum and isinstance(extra, Mapping):
                values.append(self._value(extra, name, depth + 1))
            return values
        count = minimum if depth >= self.max_depth else max(minimum, self.rng.randint(1, self.max_items))
        if maximum is not None:
            count = min(count, int(maximum))
        item_schema: Mapping[str, Any] = items if isinstance(items, Mapping) else {"type": "string"}
        values = []
        seen: set[bytes] = set()
        unique = bool(schema.get("uniqueItems"))
        tries = 0
        while len(values) < count and tries < count * 10 + 10:
            tries += 1
            value = self._value(item_schema, name, depth + 1)
            if unique:
                key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
                if key in seen:
                    continue
                seen.add(key)
            values.append(value)
        if len(values) < minimum and not unique:
            values.extend(copy.deepcopy(values[-1]) for _ in range(minimum - len(values)))
        return values

    def _examples(self, schema: Mapping[str, Any]) -> list[Any]:
        examples = schema.get("examples")
        if examples is None:
            return []
        candidates = examples if isinstance(examples, list) else [examples]
        return [e for e in candidates if self._fits(e, schema)]

    def _string(self, schema: Mapping[str, Any], name: str | None) -> str:
        examples = [e for e in self._examples(schema) if isinstance(e, str)]
        if examples:
            return self.rng.choice(examples)
        min_length = int(schema.get("minLength", 0))
        max_length = schema.get("maxLength")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            for candidate in (*_named_strings(name, self.rng, self.now), *_STRING_CANDIDATES):
                if self._fits(candidate, schema):
                    return candidate
            return regex_string(
                pattern,
                self.rng,
                min_length=min_length,
                max_length=None if max_length is None else int(max_length),
            )
        text = _formatted(schema.get("format"), self.rng, self.now)
        if text is None:
            named = [c for c in _named_strings(name, self.rng, self.now) if self._fits(c, schema)]
            text = named[0] if named else (name or "text").replace("_", " ")
        if len(text) < min_length:
            text += "".join(self.rng.choice(_READABLE) for _ in range(min_length - len(text)))
        if max_length is not None:
            text = text[: int(max_length)]
        return text

    def _bounds(self, schema: Mapping[str, Any], integer: bool) -> tuple[float | None, float | None]:
        low = schema.get("minimum")
        high = schema.get("maximum")
        step = 1 if integer else 0.01
        ex_low = schema.get("exclusiveMinimum")
        ex_high = schema.get("exclusiveMaximum")
        if ex_low is True and low is not None:
            low = low + step
        elif isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool):
            low = ex_low + step if low is None else max(low, ex_low + step)
        if ex_high is True and high is not None:
            high = high - step
        elif isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool):
            high = ex_high - step if high is None else min(high, ex_high - step)
        return low, high

    def _integer(self, schema: Mapping[str, Any], name: str | None) -> int:
        examples = [e for e in self._examples(schema) if isinstance(e, int) and not isinstance(e, bool)]
        low, high = self._bounds(schema, integer=True)
        if name is not None and _is_time_name(name):
            candidate = self.now() + (300 if _is_future_name(name) else 0)
            if self._fits(candidate, schema):
                return candidate
        if examples:
            return int(self.rng.choice(examples))
        if name is not None and (name == "id" or name.endswith("_id")):
            candidate = self.rng.randint(10_000_000, 99_999_999_999)
            if self._fits(candidate, schema):
                return candidate
        lo = (
            math.ceil(low)
            if low is not None
            else (0 if high is None or high >= 0 else math.floor(high) - 100)
        )
        hi = math.floor(high) if high is not None else lo + 100
        hi = min(hi, lo + 1000)
        value = self.rng.randint(lo, max(lo, hi))
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int) and multiple > 0:
            value = (value // multiple) * multiple
            if low is not None and value < low:
                value += multiple
        return value

    def _number(self, schema: Mapping[str, Any], name: str | None) -> float | int:
        examples = [
            e for e in self._examples(schema) if isinstance(e, (int, float)) and not isinstance(e, bool)
        ]
        if examples:
            return self.rng.choice(examples)
        low, high = self._bounds(schema, integer=False)
        lo = float(low) if low is not None else (0.0 if high is None or high >= 0 else float(high) - 100)
        hi = float(high) if high is not None else lo + 1000.0
        hi = min(hi, lo + 1000.0)
        value = round(self.rng.uniform(lo, max(lo, hi)), 2)
        value = min(max(value, lo), max(lo, hi))
        multiple = schema.get("multipleOf")
        if isinstance(multiple, (int, float)) and multiple > 0:
            value = round(math.ceil(value / multiple) * multiple, 10)
        return value


def _merge_all_of(
    schema: Mapping[str, Any], resolve: Callable[[Mapping[str, Any]], Mapping[str, Any]]
) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for raw in schema["allOf"]:
        for key, value in resolve(raw).items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _is_time_name(name: str) -> bool:
    return (
        name in {"epoch", "time", "start", "end", "open_time", "expiry_time"}
        or name.endswith(("_time", "_epoch", "_date"))
        or name.startswith(("date_", "time_"))
    )


def _is_future_name(name: str) -> bool:
    return "expiry" in name or name in {"end", "date_settlement", "date_to"}


def _named_strings(name: str | None, rng: random.Random, now: Callable[[], int]) -> list[str]:
    if not name:
        return []
    if name == "id" or name.endswith("_id"):
        return [_uuid_like(rng)]
    if "currency" in name:
        return ["USD"]
    if "symbol" in name:
        return ["R_100"]
    if name in {"longcode", "description"}:
        return ["Win payout if Volatility 100 Index is strictly higher than entry spot at 5 ticks after."]
    if "barrier" in name or "spot" in name or "price" in name or "amount" in name or name == "payout":
        return [f"{rng.uniform(1, 1000):.2f}"]
    if "date" in name:
        return [time.strftime("%Y-%m-%d", time.gmtime(now()))]
    return []


def _formatted(fmt: Any, rng: random.Random, now: Callable[[], int]) -> str | None:
    if fmt == "date-time":
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now()))
    if fmt == "date":
        return time.strftime("%Y-%m-%d", time.gmtime(now()))
    if fmt == "time":
        return time.strftime("%H:%M:%S", time.gmtime(now()))
    if fmt == "email":
        return "trader@example.com"
    if fmt in {"uri", "url", "iri"}:
        return "https://example.com/"
    if fmt == "uuid":
        return _uuid_like(rng)
    if fmt in {"ipv4", "ip-address"}:
        return "127.0.0.1"
    return None


def _path(parts: Sequence[Any]) -> str:
    return ".".join(str(p) for p in parts) or "<root>"


def synthesise(
    schema: Mapping[str, Any],
    *,
    seed: int = 0,
    optional: float = 1.0,
    hints: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    """A valid instance of ``schema`` (see :class:`Synthesiser`)."""
    return Synthesiser(seed, optional=optional, hints=hints).generate(schema, overrides=overrides)
