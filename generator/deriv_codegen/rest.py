"""``deriv-rest`` operations -> models and method views for the generated REST clients.

* Method names come from the path (``GET /payment-agents/v1/agents/{id}`` ->
  ``get_agents_by_id``: :func:`deriv_codegen.readers.openapi.derived_name`), never from the spec's
  UUID operationIds; ``[rest.methods]`` in the API's override file renames the ones that read poorly.
  Paths are the API's contract, so names are stable across releases.
* Operations whose only answer is ``101 Switching Protocols`` are WebSocket endpoints, not REST
  methods: they are listed by name (``demo``, ``real``, ``public``) for the connect helpers.
* One module of models (``rest_models.py``): the spec's component schemas (tolerant), each
  operation's request body (strict) and its inline success responses (tolerant). String fields that
  carry credentials (tokens, OTPs, passwords: by name or description) become ``SecretStr``, so they
  never show in a ``repr``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from . import pysource
from .errors import CodegenError, Problem
from .ir import BODY, ApiIR, Binding, Operation
from .models import REQUEST_BASE, RESPONSE_BASE, FieldSpec, request_fields, run_model_generator
from .naming import identifier, param_name, pascal, snake, unique
from .schema_prep import assign_class_names, strip_titles, tolerant

#: Property names that carry credentials, and descriptions that say a value is one.
_SECRET_NAME = re.compile(r"(^|_)(token|password|secret|otp|pat|api_key)$", re.I)
_SECRET_TEXT = re.compile(r"personal access token|one-time password|\botp\b", re.I)
_COMPONENT_REF = "#/components/schemas/"


@dataclass(frozen=True)
class RestParam:
    name: str  # Python identifier
    wire: str
    location: str  # path, query, header
    annotation: str
    required: bool
    description: str


@dataclass(frozen=True)
class RestOpView:
    key: str  # "METHOD /path"
    const: str
    method_name: str
    http_method: str
    path: str
    summary: str
    description: str
    params: tuple[RestParam, ...]
    body_class: str | None
    body_fields: tuple[FieldSpec, ...]
    responses: tuple[tuple[str, str | None], ...]  # (status, model class or None) for 2xx
    return_annotation: str
    needs_auth: bool
    scopes: tuple[str, ...]
    app_id_header: str | None

    @property
    def all_args(self) -> list[str]:
        return [p.name for p in self.params] + [f.name for f in self.body_fields]

    @property
    def auth_doc(self) -> str:
        if not self.needs_auth:
            return "No authentication needed."
        return "Needs authentication" + (f" (scopes: {', '.join(self.scopes)})" if self.scopes else "") + "."


@dataclass(frozen=True)
class RestBuild:
    code: str | None
    ops: tuple[RestOpView, ...]
    ws_endpoints: tuple[tuple[str, str], ...]  # (name, path)
    classes: tuple[str, ...]
    problems: tuple[Problem, ...]


def http(op: Operation) -> Binding:
    """The operation's ``deriv-rest`` binding: method, path, parameter locations, answers, security."""
    return op.binding("deriv-rest")


def op_key(op: Operation) -> str:
    """``"GET /v1/health"``: the operation's name, and its key in ``[rest.methods]``."""
    return op.name


def is_websocket_endpoint(op: Operation) -> bool:
    statuses = {r.status for r in http(op).responses}
    return "101" in statuses and not any(s.startswith("2") for s in statuses)


def body_schema(op: Operation) -> Any:
    """The request body's schema, ``None`` when the operation has no body."""
    if (BODY, "body") not in http(op).locations:
        return None
    return op.params_schema["properties"][BODY]


def _py_type(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "Any"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_py_type(schema.get('items'))}]"
    return {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}.get(str(kind), "Any")


def _mark_secrets(node: Any) -> None:
    """String properties that carry credentials become ``format: password`` (pydantic ``SecretStr``)."""
    if isinstance(node, list):
        for v in node:
            _mark_secrets(v)
        return
    if not isinstance(node, dict):
        return
    for name, prop in (node.get("properties") or {}).items():
        if not (isinstance(prop, dict) and prop.get("type") == "string" and "enum" not in prop):
            continue
        if _SECRET_NAME.search(name) or _SECRET_TEXT.search(str(prop.get("description", ""))):
            prop["format"] = "password"
    for value in node.values():
        _mark_secrets(value)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _rewrite_refs(v) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(_COMPONENT_REF):
        out["$ref"] = "#/$defs/" + ref[len(_COMPONENT_REF) :]
    return out


def build_rest(ir: ApiIR, source_label: str) -> RestBuild:
    problems: list[Problem] = []
    rest_ops = ir.bound("deriv-rest")
    ws_endpoints = sorted(
        (snake(http(op).path.rstrip("/").rsplit("/", 1)[-1]), http(op).path)
        for op in rest_ops
        if is_websocket_endpoint(op)
    )
    ops = [op for op in rest_ops if not is_websocket_endpoint(op)]
    if not ops:
        return RestBuild(None, (), tuple(ws_endpoints), (), ())
    components = (ir.components or {}).get("schemas") or {}
    used: set[str] = set(components)
    defs: dict[str, Any] = {}
    bases: dict[str, str] = {}
    roots: list[str] = []
    for name, schema in components.items():
        pysource.ident(name, "component schema name", "rest-api-openapi.json: components.schemas")
        prepared = tolerant(strip_titles(_rewrite_refs(schema)), keep_required=())
        _mark_secrets(prepared)
        used.discard(name)  # reserved for this component from the start, so no nested class takes it
        names, more_roots = assign_class_names(prepared, name, name, used)
        defs[name] = prepared
        bases.update(dict.fromkeys(names, RESPONSE_BASE))
        roots += more_roots

    method_names: set[str] = set()
    plans: list[tuple[Operation, str, str | None, list[tuple[str, str | None]]]] = []
    for op in ops:
        key = op_key(op)
        method = unique([op.method_name], method_names)
        pysource.ident(method, "method name", f"rest-api-openapi.json: {key}")
        if method.startswith("_"):
            raise CodegenError(f"rest-api-openapi.json: {key}: method name {method!r} starts with '_'")
        base = pascal(method)
        body_class = None
        raw_body = body_schema(op)
        if http(op).body_content_type == "application/json" and raw_body:
            body = strip_titles(_rewrite_refs(raw_body))
            _mark_secrets(body)
            if "$ref" in body and len(body) == 1:
                body_class = body["$ref"].rsplit("/", 1)[-1]
            else:
                names, more_roots = assign_class_names(body, f"{base}Body", base, used)
                defs[names[0]] = body
                bases.update(dict.fromkeys(names, REQUEST_BASE))
                roots += more_roots
                body_class = names[0]
        success = [r for r in http(op).responses if r.status.startswith("2")]
        responses: list[tuple[str, str | None]] = []
        for r in success:
            if r.schema is None:
                responses.append((r.status, None))
                continue
            schema = _rewrite_refs(r.schema)
            if "$ref" in schema and len(schema) == 1:
                responses.append((r.status, schema["$ref"].rsplit("/", 1)[-1]))
                continue
            prepared = tolerant(strip_titles(schema), keep_required=())
            _mark_secrets(prepared)
            suffix = "Response" if len(success) == 1 else f"Response{r.status}"
            names, more_roots = assign_class_names(prepared, f"{base}{suffix}", base, used)
            defs[names[0]] = prepared
            bases.update(dict.fromkeys(names, RESPONSE_BASE))
            roots += more_roots
            responses.append((r.status, names[0]))
        plans.append((op, method, body_class, responses))

    index = "RestModelsIndex"
    doc = {
        "title": index,
        "type": "object",
        "properties": {n: {"$ref": f"#/$defs/{n}"} for n in defs},
        "$defs": defs,
    }
    known = [*bases, *roots, index]
    code, more = run_model_generator(
        doc, {**bases, index: RESPONSE_BASE}, known, source_label, "rest-api-openapi.json"
    )
    problems += more
    code = _drop_class(code, index)

    views = []
    for op, method, body_class, responses in plans:
        views.append(_view(op, method, body_class, responses, code, defs, problems))
    classes = tuple(sorted(set(bases) | set(roots)))
    return RestBuild(code, tuple(views), tuple(ws_endpoints), classes, tuple(problems))


def _drop_class(code: str, name: str) -> str:
    return re.sub(rf"\n\nclass {name}\(.*?(?=\n\n\nclass |\Z)", "\n", code, flags=re.S)


def _view(
    op: Operation,
    method: str,
    body_class: str | None,
    responses: list[tuple[str, str | None]],
    code: str,
    defs: dict[str, Any],
    problems: list[Problem],
) -> RestOpView:
    used: set[str] = set()
    params: list[RestParam] = []
    app_id_header = None
    properties = op.params_schema["properties"]
    required = set(op.params_schema.get("required", ()))
    for wire, location in http(op).locations:
        if location == "body":
            continue
        if location == "header" and wire.lower() == "deriv-app-id":
            app_id_header = wire
            continue
        if location == "header" and wire.lower() == "authorization":
            continue
        if location == "cookie":
            problems.append(Problem(op_key(op), f"cookie parameter {wire!r} not supported; left out"))
            continue
        schema = properties[wire]
        description = str(schema.get("description", ""))
        name = param_name(identifier(wire), wire, used)
        params.append(RestParam(name, wire, location, _py_type(schema), wire in required, description))
    body_fields: tuple[FieldSpec, ...] = ()
    if body_class is not None and body_class in defs:
        fields = request_fields(code, body_class, defs[body_class])
        # A body field named like a parameter or a local gets another parameter name; the body
        # still carries its JSON name.
        body_fields = tuple(replace(f, name=param_name(f.name, f.json_name, used)) for f in fields)
    kinds = sorted({c or "None" for _, c in responses}) or ["None"]
    return RestOpView(
        key=op_key(op),
        const=method.upper(),
        method_name=method,
        http_method=http(op).http_method,
        path=http(op).path,
        summary=op.summary,
        description=op.description,
        params=tuple(sorted(params, key=lambda p: not p.required)),
        body_class=body_class if body_fields or body_class else None,
        body_fields=body_fields,
        responses=tuple(responses),
        return_annotation=" | ".join(kinds),
        needs_auth=op.auth_required,
        scopes=op.auth_scopes,
        app_id_header=app_id_header,
    )


__all__ = ["RestBuild", "RestOpView", "RestParam", "build_rest"]
