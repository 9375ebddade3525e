"""Reader for the Deriv Options bundle: ``<name>_request/_response.schema.json`` + ``rest-api-openapi.json``.

Each request/response pair is classified by its structure alone, so a release with new calls
reads with no code change:

* **WebSocket call** - the response has a ``msg_type`` property and the request has a property
  named after the call (``{"ticks": "R_100"}``): an :class:`~deriv_codegen.ir.Operation` bound to
  ``deriv-ws``, streaming (``deriv-subscribe``) when the request accepts ``subscribe``;
* **REST, envelope** - every request property is one of ``headers``/``path``/``query``/``body``;
* **REST, flat** - no ``msg_type`` in the response; the request lists HTTP parameters directly;
* **WebSocket call without an answer schema** - a request with a property named after the call and
  no ``_response`` file: generated as a call whose answer is untyped (:func:`untyped_answer`), and
  reported.

Anything else is reported as a problem and left out of the generated client. REST-shaped pairs are
compared with the OpenAPI operation they describe (:mod:`~deriv_codegen.readers.rest_shaped`); each
disagreement is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..config import ApiConfig
from ..errors import BundleError, LimitExceeded, Problem
from ..ir import ApiIR, BundleInfo, RestShapedSchema
from .deriv_ws import call_key, msg_types_of, properties, ws_operation
from .files import BundleFiles
from .openapi import read_openapi
from .rest_shaped import check_rest_shaped

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
    ir.problems.extend(check_rest_shaped(ir))
    return ir


#: The source label of an answer schema the reader made up (:func:`untyped_answer`).
UNTYPED = "<no response schema>"


def untyped_answer(call: str) -> dict[str, Any]:
    """The answer schema of a WebSocket call whose request is published without a response schema.

    Only the framing every answer carries is typed (``msg_type``, ``echo_req``, ``req_id``); the
    generated response model is a tolerant :class:`~deriv_runtime.models.ResponseModel`, so whatever
    else the server sends is kept as it arrives (``model_extra``). A call with an untyped answer is
    better than no call; the release that publishes the schema types it with no code change.
    """
    return {
        "title": f"{call} (response, not published)",
        "description": (
            f"The answer of {call}. The bundle publishes no response schema for this call: only "
            "msg_type, echo_req and req_id are typed; every other field is kept as sent (model_extra)."
        ),
        "type": "object",
        "required": ["echo_req", "msg_type"],
        "properties": {
            "echo_req": {"description": "Echo of the request made.", "type": "object"},
            "msg_type": {"description": "Action name of the request made.", "type": "string", "enum": [call]},
            "req_id": {"description": "The request's req_id, when it had one.", "type": "integer"},
        },
    }


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
    req_props = properties(request)
    resp_props = properties(response)

    if "msg_type" in resp_props:
        if response is None:
            return
        name = call_key(stem, req_props, msg_types_of(response))
        if name is None:
            ir.problems.append(
                Problem(
                    where, "response has msg_type but the request has no property naming the call", "skipped"
                )
            )
            return
        ir.operations.append(
            ws_operation(name, request, response, (req_name or "", resp_name or ""), methods)
        )
        return
    if response is None and resp_name is None:
        if stem in req_props and not set(req_props) <= ENVELOPE_KEYS:
            # a WebSocket call with no published answer: callable, its answer typed by its framing only
            ir.operations.append(
                ws_operation(
                    stem, request, untyped_answer(stem), (req_name or "", f"{UNTYPED} {stem}"), methods
                )
            )
            ir.problems.append(
                Problem(
                    where,
                    "request schema without a response schema; the call is generated with an untyped "
                    "answer (msg_type, echo_req and req_id typed; every other field kept in model_extra)",
                )
            )
            return
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
