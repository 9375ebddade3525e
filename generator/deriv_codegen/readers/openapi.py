"""Read an OpenAPI 3.x document's operations and security schemes into the IR (leniently).

Each operation becomes an :class:`~deriv_codegen.ir.Operation` named ``"GET /v1/health"``, bound to
``deriv-rest``: its parameters (and its request body, as the parameter ``body``) in ``params_schema``,
where each goes in the binding. Method names come from the path (``GET /payment-agents/v1/agents/{id}``
-> ``get_agents_by_id``), never from the spec's UUID operationIds, unless ``[rest.methods]`` of the
API's override file names one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

from ..errors import BundleError, Problem
from ..ir import (
    BODY,
    ApiIR,
    Binding,
    JsonSchema,
    OAuthFlow,
    Operation,
    ParamLocation,
    RestResponse,
    SecurityRequirement,
    SecurityScheme,
)
from ..naming import identifier, snake

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS = ("path", "query", "header", "cookie")
_VERSION = re.compile(r"^v\d+$")


def derived_name(http_method: str, path: str) -> str:
    """``GET /payment-agents/v1/agents/{id}`` -> ``get_agents_by_id``: the path after its version."""
    segments = [s for s in path.strip("/").split("/") if s]
    version_at = max((i for i, s in enumerate(segments) if _VERSION.match(s)), default=-1)
    tail = segments[version_at + 1 :] or segments
    static = [snake(s) for s in tail if not s.startswith("{")]
    name = "_".join([http_method.lower(), *static])
    if tail and tail[-1].startswith("{"):
        name += "_by_" + snake(tail[-1].strip("{}"))
    return identifier(name)


def read_openapi(doc: Any, ir: ApiIR, where: str, methods: Mapping[str, str] | None = None) -> None:
    """Append the document's operations to ``ir.operations``; ``methods``: ``"METHOD /path"`` -> name."""
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise BundleError(f"{where}: not an OpenAPI document (no 'paths' object)")
    components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
    ir.components = dict(components or {})
    ir.openapi = doc
    resolver = _Resolver(doc)
    for name, scheme in sorted((components or {}).get("securitySchemes", {}).items()):
        try:
            ir.security_schemes.append(_scheme(name, resolver.deref(scheme)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a $ref loop or dangling $ref
            ir.problems.append(
                Problem(f"{where}: securitySchemes/{name}", f"cannot interpret ({exc}); skipped", "skipped")
            )
    root_security = doc.get("security")
    for path, item in doc["paths"].items():
        if not isinstance(item, dict):
            ir.problems.append(Problem(f"{where}: {path}", "path item is not an object", "skipped"))
            continue
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            here = f"{where}: {method.upper()} {path}"
            try:
                operation = _operation(method, path, op, shared, root_security, resolver, ir, here)
            except (KeyError, TypeError, ValueError) as exc:
                ir.problems.append(Problem(here, f"cannot interpret operation ({exc!r}); skipped", "skipped"))
                continue
            name = (methods or {}).get(operation.name)
            ir.operations.append(replace(operation, method_name=name) if name else operation)


class _Resolver:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def deref(self, node: Any, depth: int = 0) -> Any:
        if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            if depth > 20:
                raise ValueError(f"reference loop at {node['$ref']}")
            target: Any = self.doc
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return self.deref(target, depth + 1)
        return node


def _scheme(name: str, scheme: dict[str, Any]) -> SecurityScheme:
    flows = []
    for kind, flow in sorted((scheme.get("flows") or {}).items()):
        flows.append(
            OAuthFlow(
                kind=kind,
                authorization_url=str(flow.get("authorizationUrl", "")),
                token_url=str(flow.get("tokenUrl", "")),
                scopes=tuple(sorted((str(k), str(v)) for k, v in (flow.get("scopes") or {}).items())),
            )
        )
    return SecurityScheme(name=name, type=str(scheme.get("type", "")), flows=tuple(flows))


def _operation(
    method: str,
    path: str,
    op: dict[str, Any],
    shared: list[Any],
    root_security: Any,
    resolver: _Resolver,
    ir: ApiIR,
    here: str,
) -> Operation:
    #: (location, name) -> (schema, required, description): a later one of a location and name (the
    #: operation's own) replaces an earlier one (the path item's) in the earlier one's place.
    params: dict[tuple[str, str], tuple[Any, bool, str]] = {}
    for raw in [*shared, *op.get("parameters", [])]:
        p = resolver.deref(raw)
        loc = p.get("in")
        if loc not in _LOCATIONS or not isinstance(p.get("name"), str):
            ir.problems.append(
                Problem(here, f"parameter {p.get('name')!r} in {loc!r} not understood; skipped")
            )
            continue
        params[(loc, p["name"])] = (
            p.get("schema") or {},
            bool(p.get("required", loc == "path")),
            str(p.get("description", "")),
        )
    properties: dict[str, Any] = {}
    required: list[str] = []
    locations: list[tuple[str, ParamLocation]] = []

    def add(name: str, loc: ParamLocation, prop: Any, needed: bool) -> None:
        if name in properties:
            taken = dict(locations)[name]
            ir.problems.append(
                Problem(here, f"parameter {name!r} in {loc!r} has the name of a {taken} one; skipped")
            )
            return
        properties[name] = prop
        locations.append((name, loc))
        if needed:
            required.append(name)

    for (loc, name), (schema, needed, description) in params.items():
        # the parameter's description, not its schema's, describes it
        prop = {k: v for k, v in schema.items() if k != "description"} if isinstance(schema, dict) else {}
        if description:
            prop["description"] = description
        add(name, cast(ParamLocation, loc), prop, needed)
    content_type = ""
    if "requestBody" in op:
        rb = resolver.deref(op["requestBody"])
        content = rb.get("content") or {}
        ctype = "application/json" if "application/json" in content else next(iter(sorted(content)), "")
        if ctype:
            content_type = ctype
            add(BODY, "body", (content[ctype] or {}).get("schema") or {}, bool(rb.get("required", False)))
        else:
            ir.problems.append(Problem(here, "requestBody without content; body ignored"))
    responses = []
    for status, raw in (op.get("responses") or {}).items():
        r = resolver.deref(raw)
        content = r.get("content") or {}
        ctype = "application/json" if "application/json" in content else next(iter(sorted(content)), None)
        schema = (content.get(ctype) or {}).get("schema") if ctype else None
        if "description" not in r:
            ir.problems.append(Problem(here, f"response {status} lacks a description"))
        responses.append(RestResponse(str(status), str(r.get("description", "")), ctype, schema))
    security_raw = op.get("security", root_security)
    security = None
    if isinstance(security_raw, list):
        security = tuple(
            SecurityRequirement(scheme, tuple(scopes))
            for req in security_raw
            for scheme, scopes in sorted(req.items())
        )
    tags = op.get("tags") or ()
    params_schema: JsonSchema = {"type": "object", "properties": properties}
    if required:
        params_schema["required"] = required
    success = [r.schema for r in responses if r.status.startswith("2") and r.schema is not None]
    return Operation(
        name=f"{method.upper()} {path}",
        namespace="",
        method_name=derived_name(method, path),
        summary=str(op.get("summary", "")),
        description=str(op.get("description", "")),
        params_schema=params_schema,
        result_schema=success[0] if success else {},
        auth_required=bool(security),
        auth_scopes=tuple(s for req in security or () for s in req.scopes),
        tags=tuple(str(t) for t in tags),
        bindings=(
            Binding(
                "deriv-rest",
                method.upper(),
                path,
                locations=tuple(locations),
                body_content_type=content_type,
                responses=tuple(responses),
                security=security,
            ),
        ),
        source=here,
    )
