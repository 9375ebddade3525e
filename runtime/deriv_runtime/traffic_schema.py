"""Masking and schema validation for the traffic check (:mod:`deriv_runtime.traffic`): secrets
masked in examples, strict and tolerant validators, violations named by path and rule."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ._redact import MASK, scrub
from .traffic_results import Violation

#: Field names whose values are credentials (masked in examples).
SECRET_NAME = re.compile(
    r"token|passw(or)?d|secret|signature|api_?key|authori[sz]ation|otp|verifier|verification_code"
    r"|cookie|private_key|session_id",
    re.IGNORECASE,
)
_ROOT = "<message>"
_ANY_INDEX = "[*]"


# -- masking ----------------------------------------------------------------------------------------


def mask(value: Any, sensitive: Iterable[str] = ()) -> Any:
    """``value`` (JSON) with the values of credential-looking fields (:data:`SECRET_NAME`, or named in
    ``sensitive``) replaced by ``***``, and credential-looking text in strings scrubbed."""
    names = frozenset(sensitive)

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {str(k): MASK if _secret(str(k), v, names) else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return scrub(node)
        return node

    return walk(value)


def _secret(name: str, value: Any, names: frozenset[str]) -> bool:
    """A credential: a text or number under a credential-looking name (objects are entered)."""
    secret_name = SECRET_NAME.search(name) is not None or name in names
    return (
        secret_name and isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""
    )


# -- schemas ----------------------------------------------------------------------------------------


def _compile(schema: Mapping[str, Any]) -> Any:
    """A jsonschema-rs validator of ``schema``; patterns the engine refuses (PCRE's ``\\x{b0}``) are
    rewritten, or left out, as the v3 mock does."""
    import jsonschema_rs

    try:
        return jsonschema_rs.validator_for(dict(schema))
    except ValueError:
        from .mock.legacy.spec import _portable

        return jsonschema_rs.validator_for(_portable(schema, {}))


@dataclass(frozen=True)
class _Pair:
    """A schema's strict and tolerant validators (``tolerant`` is ``strict`` for requests)."""

    strict: Any
    tolerant: Any


def _pair(schema: Mapping[str, Any], tolerant: Mapping[str, Any] | None) -> _Pair:
    strict = _compile(schema)
    return _Pair(strict, _compile(tolerant) if tolerant is not None else strict)


def _violations(pair: _Pair, instance: Any, prefix: tuple[str | int, ...] = ()) -> tuple[Violation, ...]:
    """Every strict violation, each marked tolerated unless the tolerant validator finds it too."""
    strict = _errors(pair.strict, instance, prefix)
    if pair.tolerant is pair.strict:
        return tuple(Violation(p, r, d, False) for p, r, d in strict)
    breaking = {(p, r) for p, r, _ in _errors(pair.tolerant, instance, prefix)}
    found = [Violation(p, r, d, (p, r) not in breaking) for p, r, d in strict]
    strict_keys = {(p, r) for p, r, _ in strict}
    found += [Violation(p, r, "breaks the tolerant reading", False) for p, r in breaking - strict_keys]
    return tuple(found)


def _errors(validator: Any, instance: Any, prefix: tuple[str | int, ...]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for error in validator.iter_errors(instance):
        where = (*prefix, *error.instance_path)
        kind: Any = error.kind
        rule = str(getattr(kind, "name", "") or "invalid")
        if rule == "required" and isinstance(getattr(kind, "property", None), str):
            out.append((_render((*where, kind.property)), rule, "required, missing"))
        elif rule == "additionalProperties" and getattr(kind, "unexpected", None):
            out.extend((_render((*where, str(name))), rule, "not in the schema") for name in kind.unexpected)
        else:
            out.append((_render(where), rule, _detail(error, rule)))
    return sorted(set(out))


def _detail(error: Any, rule: str) -> str:
    """The validator's text with the offending value left out (it may be a token or an OTP URL)."""
    text = str(error.message)
    instance = error.instance
    for shown in dict.fromkeys(
        (orjson.dumps(instance).decode(), json.dumps(instance), json.dumps(instance, ensure_ascii=False))
    ):
        if shown and shown in text:
            return text.replace(shown, "the value")
    return f"the value breaks {rule!r}"


def _render(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += _ANY_INDEX
        else:
            text += f".{part}" if text else str(part)
    return text or _ROOT


_VALUE_KEYS = frozenset({"enum", "const", "default", "examples", "example"})


def _sensitive(schema: Any, found: set[str]) -> None:
    """Names of the properties a schema marks ``sensitive`` (the v3 API's requests)."""
    if isinstance(schema, Mapping):
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, Mapping) and sub.get("sensitive"):
                found.add(str(name))
        for key, value in schema.items():
            if key not in _VALUE_KEYS:
                _sensitive(value, found)
    elif isinstance(schema, list):
        for item in schema:
            _sensitive(item, found)


def _renamed(schema: Mapping[str, Any], old: str, new: str) -> Mapping[str, Any]:
    """``schema`` with the property ``old`` called ``new`` (in ``properties`` and ``required``)."""
    props = schema.get("properties")
    if not isinstance(props, Mapping) or old not in props:
        return schema
    required = [new if r == old else r for r in schema.get("required") or ()]
    renamed = {new if k == old else k: v for k, v in props.items()}
    return {**schema, "properties": renamed, **({"required": required} if required else {})}


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _template_pattern(template: str) -> re.Pattern[str]:
    """``ticker.{instrument_name}.{interval}`` -> a regex matching its channels (a placeholder: one
    dot-free segment)."""
    parts = _PLACEHOLDER.split(template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else "[^.]+" for i, p in enumerate(parts)))
