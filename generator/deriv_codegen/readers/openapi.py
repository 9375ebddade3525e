"""Read an OpenAPI 3.x document's operations and security schemes into the IR (leniently)."""

from __future__ import annotations

from typing import Any, cast

from ..errors import BundleError, Problem
from ..ir import (
    ApiIR,
    OAuthFlow,
    ParamLocation,
    RestBody,
    RestOperation,
    RestParameter,
    RestResponse,
    SecurityRequirement,
    SecurityScheme,
)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS = ("path", "query", "header", "cookie")


def read_openapi(doc: Any, ir: ApiIR, where: str) -> None:
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
                ir.rest_operations.append(
                    _operation(method, path, op, shared, root_security, resolver, ir, here)
                )
            except (KeyError, TypeError, ValueError) as exc:
                ir.problems.append(Problem(here, f"cannot interpret operation ({exc!r}); skipped", "skipped"))


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
) -> RestOperation:
    params: dict[tuple[str, str], RestParameter] = {}
    for raw in [*shared, *op.get("parameters", [])]:
        p = resolver.deref(raw)
        loc = p.get("in")
        if loc not in _LOCATIONS or not isinstance(p.get("name"), str):
            ir.problems.append(
                Problem(here, f"parameter {p.get('name')!r} in {loc!r} not understood; skipped")
            )
            continue
        params[(loc, p["name"])] = RestParameter(
            name=p["name"],
            location=cast(ParamLocation, loc),
            required=bool(p.get("required", loc == "path")),
            schema=p.get("schema") or {},
            description=str(p.get("description", "")),
        )
    body = None
    if "requestBody" in op:
        rb = resolver.deref(op["requestBody"])
        content = rb.get("content") or {}
        ctype = "application/json" if "application/json" in content else next(iter(sorted(content)), "")
        if ctype:
            body = RestBody(
                ctype, (content[ctype] or {}).get("schema") or {}, bool(rb.get("required", False))
            )
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
    return RestOperation(
        method=method.upper(),
        path=path,
        summary=str(op.get("summary", "")),
        description=str(op.get("description", "")),
        tags=tuple(str(t) for t in tags),
        operation_id=str(op.get("operationId", "")),
        parameters=tuple(params.values()),
        body=body,
        responses=tuple(responses),
        security=security,
    )
