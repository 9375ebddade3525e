"""Contract checks: answers validated against the published JSON schema (strict mode).

Uses jsonschema-rs (about 100x faster than the pure-Python ``jsonschema`` here); validators are
compiled once per call and schema, on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .calls import CallInfo
from .errors import ResponseError
from .schemas import load_schemas


@functools.cache
def _single_msg_types(package: str) -> dict[str, str]:
    """msg_type -> call, for message types only one call answers with (``tick`` -> ``ticks``)."""
    found: dict[str, str] = {}
    for name, call in load_schemas(package).calls.items():
        enum = call.response.get("properties", {}).get("msg_type", {}).get("enum")
        if isinstance(enum, list) and len(enum) == 1:
            found[str(enum[0])] = name
    return found


@functools.cache
def _validator(package: str, call: str) -> Any:
    import jsonschema_rs

    schemas = load_schemas(package)
    return jsonschema_rs.validator_for(dict(schemas.calls[call].response))


def check_response(package: str, info: CallInfo, message: Mapping[str, Any]) -> None:
    """Raise :class:`ResponseError` naming the path of every schema violation in ``message``."""
    if not package or "error" in message:
        return
    msg_type = message.get("msg_type")
    single = _single_msg_types(package)
    schema_of = single.get(msg_type, info.name) if isinstance(msg_type, str) else info.name
    validator = _validator(package, schema_of)
    errors = sorted(
        f"{'/'.join(str(p) for p in e.instance_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(message)
    )
    if errors:
        raise ResponseError(f"{info.name}: the answer breaks its schema: " + "; ".join(errors[:10]))
