"""Comparing two IRs of one API: calls, channels, REST-shaped schemas, servers, security, problems.

Each difference becomes a :class:`~deriv_codegen.diff_model.Change`, classified by
:func:`~deriv_codegen.diff_rules.classify` (see :mod:`deriv_codegen.diff`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .diff_model import ApiDiff, Change, Role, Side, SubjectType
from .diff_rules import classify
from .ir import ApiIR, Channel, JsonSchema, Operation, RestShapedSchema
from .schema_diff import compare_schemas, json_path, local_resolver


def diff_irs(old: ApiIR, new: ApiIR, layout: str = "") -> ApiDiff:
    """Compare two IRs of the same API (read by the same reader)."""
    out = ApiDiff(old.bundle.source, layout, _side(old), _side(new))
    changes: list[Change] = []
    changes += _operations(old, new)
    changes += _channels(old, new)
    changes += _rest_schemas(old, new)
    changes += _api(old, new)
    changes += _problems(old, new)
    out.changes = sorted(set(changes))
    return out


def _side(ir: ApiIR) -> Side:
    b = ir.bundle
    return Side(
        b.source,
        b.version,
        b.sha256,
        b.location,
        len(ir.operations),
        len(ir.channels),
        len(ir.rest_schemas),
        tuple(sorted(set(ir.problems))),
    )


def _fields(
    subject_type: SubjectType,
    subject: str,
    part: str,
    role: Role,
    old: Any,
    new: Any,
    old_ir: ApiIR,
    new_ir: ApiIR,
) -> Iterator[Change]:
    resolve_old = local_resolver(old, {"components": old_ir.components})
    resolve_new = local_resolver(new, {"components": new_ir.components})
    for fc in compare_schemas(old, new, resolve_old, resolve_new):
        senders, readers = classify(fc, role)
        yield Change(subject_type, subject, part, fc.path, fc.kind, fc.detail, senders, readers)


def _operation_kind(op: Operation) -> str:
    kinds = {b.kind for b in op.bindings}
    if "deriv-rest" in kinds:
        return "REST operation"
    if "deriv-ws" in kinds:
        return "WebSocket call"
    return "method"


def _operations(old: ApiIR, new: ApiIR) -> Iterator[Change]:
    a = {op.name: op for op in old.operations}
    b = {op.name: op for op in new.operations}
    for name in sorted(set(a) - set(b)):
        what = _operation_kind(a[name])
        yield Change("operation", name, "", "", "removed", f"{what} removed", "breaking", "breaking")
    for name in sorted(set(b) - set(a)):
        what = _operation_kind(b[name])
        detail = f"{what} added" + (f" ({b[name].summary})" if b[name].summary else "")
        yield Change("operation", name, "", "", "added", detail)
    for name in sorted(set(a) & set(b)):
        yield from _operation(a[name], b[name], old, new)


def _operation(x: Operation, y: Operation, old: ApiIR, new: ApiIR) -> Iterator[Change]:
    name = y.name
    yield from _fields("operation", name, "request", "send", x.params_schema, y.params_schema, old, new)
    yield from _fields("operation", name, "response", "read", x.result_schema, y.result_schema, old, new)
    yield from _auth("operation", name, x.auth_required, y.auth_required, x.auth_scopes, y.auth_scopes)
    if x.namespace == y.namespace and x.method_name != y.method_name:
        yield Change(
            "operation",
            name,
            "",
            "",
            "method-renamed",
            f"Python method {x.method_name} -> {y.method_name}",
            "breaking",
        )
    xb = {b.kind: b for b in x.bindings}
    yb = {b.kind: b for b in y.bindings}
    for kind in sorted(set(xb) - set(yb)):
        yield Change(
            "operation", name, "", "", "binding-removed", f"no longer callable over {kind}", "breaking"
        )
    for kind in sorted(set(yb) - set(xb)):
        yield Change("operation", name, "", "", "binding-added", f"now callable over {kind} too")
    for kind in sorted(set(xb) & set(yb)):
        bx, by = xb[kind], yb[kind]
        added = [m for m in by.msg_types if m not in bx.msg_types]
        removed = [m for m in bx.msg_types if m not in by.msg_types]
        if added:
            yield Change(
                "operation",
                name,
                "response",
                "",
                "msg-type-added",
                f"msg_type {', '.join(added)}",
                "none",
                "strict",
            )
        if removed:
            yield Change(
                "operation", name, "response", "", "msg-type-removed", f"msg_type {', '.join(removed)}"
            )
        lx, ly = dict(bx.locations), dict(by.locations)
        for param in sorted(set(lx) & set(ly)):
            if lx[param] != ly[param]:
                yield Change(
                    "operation",
                    name,
                    "request",
                    json_path("$", param),
                    "parameter-moved",
                    f"sent in {lx[param]} -> {ly[param]}",
                    "breaking",
                )
        if bx.body_content_type != by.body_content_type and bx.body_content_type and by.body_content_type:
            yield Change(
                "operation",
                name,
                "request",
                "",
                "content-type-changed",
                f"body {bx.body_content_type} -> {by.body_content_type}",
                "breaking",
            )
        if kind == "deriv-rest":  # its security requirements are the operation's auth, compared above
            yield from _responses(name, bx.responses, by.responses, old, new)
    if (x.streaming is None) != (y.streaming is None):
        if y.streaming is None:
            yield Change(
                "operation", name, "", "", "streaming-removed", "no longer streams", "breaking", "breaking"
            )
        else:
            yield Change("operation", name, "", "", "streaming-added", "now streams with subscribe: 1")
    if x.answered != y.answered:
        if y.answered:
            yield Change("operation", name, "response", "", "answered", "now answered", "none", "none")
        else:
            yield Change(
                "operation", name, "response", "", "unanswered", "no longer answered", "none", "breaking"
            )


def _responses(
    name: str,
    xs: Iterable[Any],
    ys: Iterable[Any],
    old: ApiIR,
    new: ApiIR,
) -> Iterator[Change]:
    a = {r.status: r for r in xs}
    b = {r.status: r for r in ys}
    success_x = next((s for s in a if s.startswith("2") and a[s].schema is not None), None)
    success_y = next((s for s in b if s.startswith("2") and b[s].schema is not None), None)
    for status in sorted(set(a) - set(b)):
        yield Change(
            "operation",
            name,
            f"response {status}",
            "",
            "status-removed",
            f"answer {status} no longer described",
        )
    for status in sorted(set(b) - set(a)):
        yield Change(
            "operation",
            name,
            f"response {status}",
            "",
            "status-added",
            f"answer {status} added",
            "none",
            "strict",
        )
    for status in sorted(set(a) & set(b)):
        if status == success_x and status == success_y:
            continue  # compared as the operation's result
        if a[status].schema is None and b[status].schema is None:
            continue
        yield from _fields(
            "operation",
            name,
            f"response {status}",
            "read",
            a[status].schema or {},
            b[status].schema or {},
            old,
            new,
        )


def _auth(
    subject_type: SubjectType,
    subject: str,
    was: bool,
    now: bool,
    scopes_was: Iterable[str],
    scopes_now: Iterable[str],
) -> Iterator[Change]:
    if was != now:
        if now:
            yield Change(
                subject_type, subject, "auth", "", "auth-required", "now needs authentication", "breaking"
            )
        else:
            yield Change(subject_type, subject, "auth", "", "auth-dropped", "no longer needs authentication")
    a, b = set(scopes_was), set(scopes_now)
    if b - a:
        yield Change(
            subject_type,
            subject,
            "auth",
            "",
            "scopes-added",
            f"scope(s) needed: {', '.join(sorted(b - a))}",
            "breaking",
        )
    if a - b:
        yield Change(
            subject_type,
            subject,
            "auth",
            "",
            "scopes-removed",
            f"scope(s) no longer needed: {', '.join(sorted(a - b))}",
        )


def _channels(old: ApiIR, new: ApiIR) -> Iterator[Change]:
    a: Mapping[str, Channel] = {c.name: c for c in old.channels}
    b: Mapping[str, Channel] = {c.name: c for c in new.channels}
    for name in sorted(set(a) - set(b)):
        yield Change("channel", name, "", "", "removed", "channel removed", "breaking", "breaking")
    for name in sorted(set(b) - set(a)):
        yield Change("channel", name, "", "", "added", "channel added")
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        yield from _fields(
            "channel", name, "notification", "read", x.notification_schema, y.notification_schema, old, new
        )
        yield from _fields("channel", name, "parameters", "send", _params(x), _params(y), old, new)
        if x.private != y.private:
            if y.private:
                yield Change(
                    "channel",
                    name,
                    "auth",
                    "",
                    "auth-required",
                    "now private (needs authentication)",
                    "breaking",
                )
            else:
                yield Change("channel", name, "auth", "", "auth-dropped", "now public")


def _params(channel: Channel) -> JsonSchema:
    props = {p.name: p.schema for p in channel.parameters}
    return {"type": "object", "properties": props, "required": sorted(props)}


def _rest_schemas(old: ApiIR, new: ApiIR) -> Iterator[Change]:
    a: Mapping[str, RestShapedSchema] = {s.name: s for s in old.rest_schemas}
    b: Mapping[str, RestShapedSchema] = {s.name: s for s in new.rest_schemas}
    for name in sorted(set(a) - set(b)):
        yield Change(
            "rest-schema", name, "", "", "removed", "REST-shaped schema pair removed", "breaking", "breaking"
        )
    for name in sorted(set(b) - set(a)):
        yield Change("rest-schema", name, "", "", "added", f"REST-shaped schema pair added ({b[name].shape})")
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.shape != y.shape:
            yield Change(
                "rest-schema",
                name,
                "request",
                "",
                "shape-changed",
                f"request shape {x.shape} -> {y.shape}",
                "breaking",
            )
        yield from _fields(
            "rest-schema", name, "request", "send", x.request_schema, y.request_schema, old, new
        )
        yield from _fields(
            "rest-schema",
            name,
            "response",
            "read",
            x.response_schema or {},
            y.response_schema or {},
            old,
            new,
        )


def _api(old: ApiIR, new: ApiIR) -> Iterator[Change]:
    for label, xs, ys in (
        ("servers", old.servers, new.servers),
        ("ws_servers", old.ws_servers, new.ws_servers),
    ):
        a, b = {u for u, _ in xs}, {u for u, _ in ys}
        for url in sorted(a - b):
            yield Change("api", label, "", "", "server-removed", f"{url} removed", "breaking")
        for url in sorted(b - a):
            yield Change("api", label, "", "", "server-added", f"{url} added")
    sa = {(s.name, f.kind, scope) for s in old.security_schemes for f in s.flows for scope, _ in f.scopes}
    sb = {(s.name, f.kind, scope) for s in new.security_schemes for f in s.flows for scope, _ in f.scopes}
    for scheme, flow, scope in sorted(sa - sb):
        yield Change(
            "api",
            f"security {scheme}",
            flow,
            "",
            "scope-removed",
            f"scope {scope!r} no longer offered",
            "breaking",
        )
    for scheme, flow, scope in sorted(sb - sa):
        yield Change("api", f"security {scheme}", flow, "", "scope-added", f"scope {scope!r} offered")
    na, nb = {s.name for s in old.security_schemes}, {s.name for s in new.security_schemes}
    for scheme in sorted(na - nb):
        yield Change(
            "api", f"security {scheme}", "", "", "scheme-removed", "security scheme removed", "breaking"
        )
    for scheme in sorted(nb - na):
        yield Change("api", f"security {scheme}", "", "", "scheme-added", "security scheme added")
    va, vb = _info_version(old.openapi), _info_version(new.openapi)
    if va != vb:
        yield Change(
            "api", "openapi", "", "", "version-changed", f"info.version {va or 'none'} -> {vb or 'none'}"
        )


def _info_version(doc: JsonSchema | None) -> str:
    info = (doc or {}).get("info")
    return str(info.get("version", "")) if isinstance(info, dict) else ""


def _problems(old: ApiIR, new: ApiIR) -> Iterator[Change]:
    a = {(p.where, p.what): p for p in old.problems}
    b = {(p.where, p.what): p for p in new.problems}
    for key in sorted(set(b) - set(a)):
        p = b[key]
        yield Change("problem", p.where, "", "", f"new-{p.severity}", p.what)
    for key in sorted(set(a) - set(b)):
        p = a[key]
        yield Change("problem", p.where, "", "", "resolved", f"no longer reported: {p.severity}: {p.what}")
