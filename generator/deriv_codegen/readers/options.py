"""Reader for the Deriv Options bundle: ``<name>_request/_response.schema.json`` + ``rest-api-openapi.json``.

Each request/response pair is classified by its structure alone, so a release with new calls
reads with no code change:

* **WebSocket call** - the response has a ``msg_type`` property and the request has a property
  named after the call (``{"ticks": "R_100"}``): an :class:`~deriv_codegen.ir.Operation` bound to
  ``deriv-ws``, streaming (``deriv-subscribe``) when the request accepts ``subscribe``;
* **REST, envelope** - every request property is one of ``headers``/``path``/``query``/``body``;
* **REST, flat** - no ``msg_type`` in the response; the request lists HTTP parameters directly.

Anything else is reported as a problem and left out of the generated client.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..config import ApiConfig
from ..errors import BundleError, LimitExceeded, Problem
from ..ir import ApiIR, Binding, BundleInfo, Operation, RestShapedSchema, Streaming
from ..naming import identifier
from .files import BundleFiles
from .openapi import read_openapi

OPENAPI_FILE = "rest-api-openapi.json"
_PAIR = re.compile(r"^(?P<name>[A-Za-z0-9_]+)_(?P<role>request|response)\.schema\.json$")
ENVELOPE_KEYS = frozenset({"headers", "path", "query", "body"})


def read_options_bundle(files: BundleFiles, info: BundleInfo, config: ApiConfig | None = None) -> ApiIR:
    """The IR of an Options bundle, read as published (``config`` only names methods: ``[methods]``,
    ``[rest.methods]``)."""
    ir = ApiIR(bundle=info)
    methods = config.methods if config is not None else {}
    rest_methods = config.rest_methods if config is not None else {}
    pairs: dict[str, dict[str, str]] = {}
    for name in files.names():
        m = _PAIR.match(name)
        if m:
            pairs.setdefault(m["name"], {})[m["role"]] = name
        elif name == OPENAPI_FILE:
            continue
        else:
            ir.problems.append(Problem(name, "file not recognised in this layout; ignored", "skipped"))

    if OPENAPI_FILE in files.files:
        try:
            read_openapi(files.json(OPENAPI_FILE), ir, where=OPENAPI_FILE, methods=rest_methods)
        except LimitExceeded:
            raise  # a limit stops the run; an unreadable file is only reported
        except BundleError as exc:
            ir.problems.append(Problem(OPENAPI_FILE, str(exc), "skipped"))
    else:
        ir.problems.append(Problem(OPENAPI_FILE, "missing: no REST operations read", "skipped"))

    for stem in sorted(pairs):
        _classify(stem, pairs[stem], files, ir, methods)
    return ir


def _load(files: BundleFiles, name: str | None, ir: ApiIR) -> dict[str, Any] | None:
    if name is None:
        return None
    try:
        data = files.json(name)
    except LimitExceeded:
        raise
    except BundleError as exc:
        ir.problems.append(Problem(name, str(exc), "skipped"))
        return None
    if not isinstance(data, dict):
        ir.problems.append(Problem(name, "schema is not a JSON object", "skipped"))
        return None
    return data


def _properties(schema: dict[str, Any] | None) -> dict[str, Any]:
    props = (schema or {}).get("properties")
    return props if isinstance(props, dict) else {}


def msg_types_of(response: dict[str, Any]) -> tuple[str, ...]:
    msg = _properties(response).get("msg_type")
    if not isinstance(msg, dict):
        return ()
    if isinstance(msg.get("enum"), list):
        return tuple(str(v) for v in msg["enum"])
    if "const" in msg:
        return (str(msg["const"]),)
    return ()


def _classify(
    stem: str, roles: dict[str, str], files: BundleFiles, ir: ApiIR, methods: Mapping[str, str]
) -> None:
    req_name, resp_name = roles.get("request"), roles.get("response")
    request = _load(files, req_name, ir)
    response = _load(files, resp_name, ir)
    where = req_name or resp_name or stem
    if request is None:
        if req_name is None:
            ir.problems.append(Problem(where, "response schema without a request schema; skipped", "skipped"))
        return
    req_props = _properties(request)
    resp_props = _properties(response)

    if "msg_type" in resp_props:
        if response is None:
            return
        name = _call_key(stem, req_props, msg_types_of(response))
        if name is None:
            ir.problems.append(
                Problem(
                    where, "response has msg_type but the request has no property naming the call", "skipped"
                )
            )
            return
        scopes = request.get("auth_scopes") or ()
        msg_types = msg_types_of(response) or (name,)
        ir.operations.append(
            Operation(
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
                source=where,
                streaming=Streaming("deriv-subscribe", msg_types) if "subscribe" in req_props else None,
                request_key=name,
                source_files=(req_name or "", resp_name or ""),
            )
        )
        return
    if response is None and resp_name is None:
        ir.problems.append(Problem(where, "request schema without a response schema; skipped", "skipped"))
        return
    if req_props and set(req_props) <= ENVELOPE_KEYS:
        ir.rest_schemas.append(RestShapedSchema(stem, "envelope", request, response))
    elif request.get("type", "object") == "object" and not any(
        k in req_props for k in ("req_id", "passthrough")
    ):
        ir.rest_schemas.append(RestShapedSchema(stem, "flat", request, response))
    else:
        ir.problems.append(
            Problem(where, "neither a WebSocket call nor a REST-shaped schema; skipped", "skipped")
        )


def _call_key(stem: str, req_props: dict[str, Any], msg_types: tuple[str, ...]) -> str | None:
    if stem in req_props:
        return stem
    matches = [p for p in req_props if p in msg_types]
    return matches[0] if len(matches) == 1 else None
