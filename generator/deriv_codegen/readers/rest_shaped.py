"""Compare each REST-shaped schema pair of the Options bundle with the OpenAPI operation it describes.

The bundle describes some REST calls twice: as an OpenAPI operation (which the REST client is
generated from) and as a ``<name>_request/_response.schema.json`` pair whose request lists the
call's ``headers``/``path``/``query``/``body`` (``envelope``) or its parameters directly (``flat``).
Nothing names the operation a pair describes, so it is found from what the pair says:

1. a ``METHOD /path`` or ``/path`` of an operation quoted in the request's title or description
   (``"GET /v1/health requires no request body"``);
2. else the ``meta.endpoint`` / ``meta.method`` examples of the answer (``/accounts``, ``GET``): the
   operations whose path ends with that endpoint (a path may end with one more segment:
   ``/contracts/bulk-purchase`` describes ``.../bulk-purchase/real`` and ``.../demo``);
3. else its structure: the same path parameters, a body if and only if the operation has one; then
   the most query parameters in common, then the most words in common between the pair's name and
   the path (``payment_agent_withdraw_status``: ``GET /payment-agents/v1/withdraw/{request_id}``);
   the only operation with the pair's path parameters is taken even with no word in common
   (``websocket``: ``POST .../accounts/{accountId}/otp``).

Only (1) and (2) may match several operations (a tie among them). A tie in (3), or no candidate at all,
is reported and the pair is not compared. A matched pair is compared parameter by parameter: each
one present on one side only, required on one side only, or with another type, enum, pattern,
bound or format (nested body fields included) is reported as a problem naming both sides. The
``Authorization`` header stands for the operation's security requirement, ``Content-Type`` for its
body's media type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, get_args

from ..errors import Problem
from ..ir import BODY, ApiIR, Operation, RestShapedSchema
from ..schema_diff import FieldChangeKind, compare_schemas, local_resolver
from .deriv_ws import properties

_MENTION = re.compile(r"(?:\b(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS)\s+)?(/[A-Za-z0-9_\-./{}]+)")
_VERSION = re.compile(r"^v\d+$")
_LOCATION = {"headers": "header", "path": "path", "query": "query", "body": "body"}
#: Kinds of field differences worth reporting between a pair and its operation: all but whether
#: extra properties are allowed, the alternatives (``oneOf``/``anyOf``) and defaults.
_COMPARED: frozenset[FieldChangeKind] = frozenset(get_args(FieldChangeKind)) - {
    "closed",
    "opened",
    "alternatives-changed",
    "default-changed",
}


def check_rest_shaped(ir: ApiIR) -> list[Problem]:
    """A problem for every REST-shaped pair that matches no operation, or disagrees with its own."""
    ops = ir.bound("deriv-rest")
    problems: list[Problem] = []
    for schema in sorted(ir.rest_schemas, key=lambda s: s.name):
        where = f"{schema.name}_request.schema.json"
        matched, why = match_operations(schema, ops)
        if not matched:
            problems.append(
                Problem(where, f"REST-shaped schema: {why}; not compared with the OpenAPI document")
            )
            continue
        for op in matched:
            for what in compare_with_operation(schema, op, ir):
                problems.append(Problem(where, f"disagrees with the OpenAPI operation {op.name}: {what}"))
    return problems


def match_operations(schema: RestShapedSchema, ops: list[Operation]) -> tuple[list[Operation], str]:
    """The operations ``schema`` describes, and (when there are none) why."""
    if not ops:
        return [], "the bundle has no OpenAPI operations"
    request = schema.request_schema
    text = " ".join(str(request.get(k) or "") for k in ("title", "description"))
    mentioned = []
    for m in _MENTION.finditer(text):
        method, path = m[1], m[2].rstrip(".")
        mentioned += [op for op in ops if _path(op) == path and (method is None or _method(op) == method)]
    if mentioned:
        return _unique(mentioned), ""
    candidates = [op for op in ops if _fits(schema, op)]
    endpoint, method = _meta(schema.response_schema)
    if endpoint:
        by_meta = [op for op in candidates if _ends_with(_path(op), endpoint) and method in ("", _method(op))]
        if by_meta:
            return _best(schema, by_meta, allow_tie=True)
    if not candidates:
        return [], "no OpenAPI operation has its path parameters and body"
    return _best(schema, candidates, allow_tie=False)


def _unique(ops: list[Operation]) -> list[Operation]:
    return list({op.name: op for op in ops}.values())


def _path(op: Operation) -> str:
    return op.binding("deriv-rest").path


def _method(op: Operation) -> str:
    return op.binding("deriv-rest").http_method


def _ends_with(path: str, endpoint: str) -> bool:
    segments, tail = path.strip("/").split("/"), endpoint.strip("/").split("/")
    n = len(tail)
    return segments[-n:] == tail or segments[-n - 1 : -1] == tail


def _meta(response: Mapping[str, Any] | None) -> tuple[str, str]:
    meta = properties(properties(response).get("meta"))
    endpoint = (meta.get("endpoint") or {}).get("example") if isinstance(meta.get("endpoint"), dict) else None
    method = (meta.get("method") or {}).get("example") if isinstance(meta.get("method"), dict) else None
    return (
        endpoint if isinstance(endpoint, str) and endpoint.startswith("/") else "",
        method.upper() if isinstance(method, str) else "",
    )


def _params(op: Operation) -> dict[str, str]:
    """Parameter name -> location."""
    return dict(op.binding("deriv-rest").locations)


def _envelope(schema: RestShapedSchema, part: str) -> dict[str, Any]:
    return properties(properties(schema.request_schema).get(part))


def _fits(schema: RestShapedSchema, op: Operation) -> bool:
    """Same path parameters; a body if and only if the operation has one (envelopes only)."""
    params = _params(op)
    if schema.shape == "flat":
        return "body" not in params.values() or BODY in properties(schema.request_schema)
    path_params = {n for n, loc in params.items() if loc == "path"}
    if set(_envelope(schema, "path")) != path_params:
        return False
    return ("body" in properties(schema.request_schema)) == (BODY in params)


def _words(text: str) -> set[str]:
    out = set()
    for word in re.split(r"[^A-Za-z0-9]+", text.lower()):
        if not word or _VERSION.match(word):
            continue
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return out


def _score(schema: RestShapedSchema, op: Operation) -> tuple[int, float]:
    params = _params(op)
    if schema.shape == "envelope":
        query = set(_envelope(schema, "query"))
    else:
        query = set(properties(schema.request_schema))
    common = len(query & {n for n, loc in params.items() if loc == "query"})
    mine = _words(schema.name)
    theirs = _words(" ".join(s for s in _path(op).split("/") if not s.startswith("{")))
    return common, len(mine & theirs) / len(mine | theirs) if mine | theirs else 0.0


def _best(schema: RestShapedSchema, ops: list[Operation], *, allow_tie: bool) -> tuple[list[Operation], str]:
    scored = sorted(
        ((_score(schema, op), op.name, op) for op in ops), key=lambda t: (t[0], t[1]), reverse=True
    )
    top = scored[0][0]
    best = [op for score, _, op in scored if score == top]
    if top == (0, 0.0) and not allow_tie:
        if len(ops) == 1 and schema.shape == "envelope" and _envelope(schema, "path"):
            return ops, ""  # the only operation with these path parameters
        return [], "no OpenAPI operation shares a query parameter or a word of its name"
    if len(best) > 1 and not allow_tie:
        names = ", ".join(sorted(op.name for op in best))
        return [], f"matches several OpenAPI operations equally ({names})"
    return sorted(best, key=lambda op: op.name), ""


# -- comparing one pair with one operation ---------------------------------------------------------


def compare_with_operation(schema: RestShapedSchema, op: Operation, ir: ApiIR) -> Iterator[str]:
    """Every disagreement between the pair and the operation, in words, in a stable order."""
    binding = op.binding("deriv-rest")
    locations = dict(binding.locations)
    op_props = properties(op.params_schema)
    op_required = set(op.params_schema.get("required") or ())
    # the pair's parameters: name -> (location or "", schema, required)
    mine: dict[str, tuple[str, Any, bool]] = {}
    if schema.shape == "envelope":
        top_required = set(schema.request_schema.get("required") or ())
        for part, loc in _LOCATION.items():
            container = properties(schema.request_schema).get(part)
            if not isinstance(container, dict):
                continue
            if loc == "body":
                mine[BODY] = ("body", container, part in top_required)
                continue
            needed = set(container.get("required") or ())
            for name, sub in properties(container).items():
                mine[name] = (loc, sub, name in needed)
    else:
        needed = set(schema.request_schema.get("required") or ())
        for name, sub in properties(schema.request_schema).items():
            mine[name] = ("", sub, name in needed)
    by_lower = {n.lower(): n for n in op_props}
    seen: set[str] = set()
    for name in sorted(mine):
        loc, sub, required = mine[name]
        lower = name.lower()
        if loc in ("header", "") and lower == "authorization" and lower not in by_lower:
            if not op.auth_required:
                yield f"header {name!r} in the schema, but the operation has no security requirement"
            continue
        if loc in ("header", "") and lower == "content-type" and lower not in by_lower:
            expected = binding.body_content_type
            value = (
                sub.get("enum", [sub.get("const", sub.get("example"))]) if isinstance(sub, dict) else [None]
            )
            values = [str(v).split(";")[0].strip() for v in value or [] if v is not None]
            if not expected:
                yield f"header {name!r} in the schema, but the operation takes no request body"
            elif values and expected not in values:
                yield f"Content-Type {', '.join(values)} in the schema, {expected} in the operation"
            continue
        theirs = by_lower.get(lower)
        if theirs is None:
            where = f"{loc} parameter" if loc else "parameter"
            yield f"{where} {name!r} in the schema, not in the operation"
            continue
        seen.add(theirs)
        their_loc = locations.get(theirs, "")
        if loc and their_loc and loc != their_loc:
            yield f"parameter {name!r} in {loc} in the schema, in {their_loc} in the operation"
        if required != (theirs in op_required):
            said = "required" if required else "optional"
            other = "optional" if required else "required"
            yield f"parameter {name!r} {said} in the schema, {other} in the operation"
        label = "body" if theirs == BODY else f"parameter {name!r}"
        yield from _fields(label, op_props[theirs], sub, ir, schema.request_schema)
    for theirs in sorted(set(op_props) - seen):
        if theirs.lower() in {n.lower() for n in mine}:
            continue
        where = f"{locations.get(theirs, '')} parameter".strip()
        yield f"{where} {theirs!r} in the operation, not in the schema"
    headers = {n.lower() for n, (loc, _, _) in mine.items() if loc in ("header", "")}
    if op.auth_required and "authorization" not in headers:
        scopes = f" (scopes: {', '.join(op.auth_scopes)})" if op.auth_scopes else ""
        yield f"the operation needs authentication{scopes}; the schema has no Authorization header"


def _fields(label: str, theirs: Any, mine: Any, ir: ApiIR, root: Any) -> Iterator[str]:
    resolve_theirs = local_resolver({"components": ir.components})
    resolve_mine = local_resolver(root)
    for fc in compare_schemas(theirs, mine, resolve_theirs, resolve_mine):
        if fc.kind not in _COMPARED:
            continue
        at = f"{label} {fc.path}" if fc.path != "$" else label
        if fc.kind == "field-added":
            yield f"{at}: in the schema, not in the operation"
        elif fc.kind == "field-removed":
            yield f"{at}: in the operation, not in the schema"
        elif fc.kind in ("became-required", "became-optional"):
            said = "required" if fc.kind == "became-required" else "optional"
            yield f"{at}: {said} in the schema, not in the operation"
        else:
            yield f"{at}: {fc.detail} (operation -> schema)"


__all__ = ["check_rest_shaped", "compare_with_operation", "match_operations"]
