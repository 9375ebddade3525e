"""What the Deriv WebSocket readers share: one call's request/response schemas -> an :class:`Operation`.

The Options bundle (``<call>_request/_response.schema.json``) and the legacy v3 documentation
(``config/v3/<call>/send.json``/``receive.json``) describe calls the same way: the request has a
property naming the call (``{"ticks": "R_100"}``) and ``auth_required``/``auth_scopes``; the
response has a ``msg_type`` enum; a request that accepts ``subscribe`` streams. Both readers build
their operations here, bound to ``deriv-ws``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..ir import Binding, Operation, Streaming
from ..naming import identifier


def properties(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    props = (schema or {}).get("properties")
    return props if isinstance(props, dict) else {}


def msg_types_of(response: Mapping[str, Any]) -> tuple[str, ...]:
    msg = properties(response).get("msg_type")
    if not isinstance(msg, dict):
        return ()
    if isinstance(msg.get("enum"), list):
        return tuple(str(v) for v in msg["enum"])
    if "const" in msg:
        return (str(msg["const"]),)
    return ()


def call_key(stem: str, req_props: Mapping[str, Any], msg_types: tuple[str, ...]) -> str | None:
    """The request property that names the call: the call's own name, else the one ``msg_type``
    that is also a request property."""
    if stem in req_props:
        return stem
    matches = [p for p in req_props if p in msg_types]
    return matches[0] if len(matches) == 1 else None


def ws_operation(
    name: str,
    request: dict[str, Any],
    response: dict[str, Any],
    source_files: tuple[str, str],
    methods: Mapping[str, str],
    examples: tuple[Any, ...] = (),
) -> Operation:
    """The ``deriv-ws`` operation of a call whose request property ``name`` names it."""
    scopes = request.get("auth_scopes") or ()
    msg_types = msg_types_of(response) or (name,)
    return Operation(
        name=name,
        namespace="",
        method_name=methods.get(name) or identifier(name),
        summary="",
        description=str(request.get("description") or request.get("title") or name),
        params_schema=request,
        result_schema=response,
        auth_required=bool(request.get("auth_required", 0)),
        auth_scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
        tags=(),
        bindings=(Binding("deriv-ws", msg_types=msg_types),),
        source=source_files[0],
        streaming=Streaming("deriv-subscribe", msg_types) if "subscribe" in properties(request) else None,
        request_key=name,
        source_files=source_files,
        examples=examples,
    )
