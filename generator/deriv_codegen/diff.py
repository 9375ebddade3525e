"""What changed between two releases of one API, and whom it breaks: ``deriv-codegen diff``.

Both bundles are read by the same reader into the IR (:class:`~deriv_codegen.ir.ApiIR`) and compared
there, so the three APIs are compared the same way: every :class:`~deriv_codegen.ir.Operation` (Deriv
WebSocket calls, Deriv REST operations ``GET /v1/health``, Deribit JSON-RPC methods) by name, every
subscription :class:`~deriv_codegen.ir.Channel` by name template, every REST-shaped schema pair of the
Options bundle by name, the API's servers and security schemes, and the problems the reader reports
(what the generator leaves out, with the reason). Schemas are compared field by field
(:mod:`deriv_codegen.schema_diff`): each difference is located by a JSON path inside the request
(``request $.contract_parameters.amount``), the answer (``response $.data[*].balance``), a REST
answer of another status (``response 404 $...``), a channel's notification or name parameters.

Classification
--------------
Each :class:`Change` says what it does to code that **sends** requests (builds parameters, calls the
method, subscribes) and to code that **reads** answers and notifications, as an :data:`Impact`:

``breaking``
    code written against the old release can fail against the new one;
``strict``
    only code that rejects what it does not know breaks: it validates answers against the old
    schema, matches enums exhaustively, or refuses unknown message types. The generated clients are
    tolerant in answers (unknown fields kept, unknown enum values accepted), so ``strict`` changes
    do not break them;
``none``
    compatible.

The rules. Data the client **sends** (request parameters, bodies, headers, channel parameters) breaks
senders when the new release refuses something the old one accepted:

* a field removed; a new required field; a field that became required;
* a type narrowed or changed; enum values removed (or an enum introduced); a pattern or format added
  or changed (whether the new one accepts less cannot be decided, so it counts); a bound tightened;
  ``additionalProperties: false`` introduced; ``oneOf``/``anyOf`` alternatives changed;
* anything else (a new optional field, a widened type, a loosened bound...) is compatible.

Data the client **reads** (answers, notifications) breaks readers when it may hold what old code does
not expect:

* a field removed (the typed model loses the attribute, even when it was optional); a field that
  became optional (it may now be missing); a type widened or changed; alternatives changed;
* enum values added (or an enum dropped), a pattern or format loosened, removed or changed, a bound
  loosened, ``additionalProperties`` opened, and a new field where the object was closed:
  ``strict`` (they break strict readers only);
* anything else (a new field, a narrowed type, a tightened bound...) is compatible.

Whole calls: a call, REST operation, method or channel removed breaks both; added is compatible. A
call that now needs authentication, or needs more auth scopes, breaks senders (fewer scopes:
compatible). A wire (binding) removed, a parameter moved elsewhere in the HTTP request, a call that no
longer streams, or a renamed Python method breaks senders; a new ``msg_type`` or a new REST answer
status is ``strict`` for readers. A server removed breaks senders. Problems the reader reports for the
new release but not the old are listed with their reason, as information (impact ``none``). Default
values changing are listed as ``none``.

The REST-shaped schema pairs of the Options bundle (``get_accounts_request/_response``) describe REST
calls as documentation; the REST client is generated from the OpenAPI operations. Their changes are
classified by the same rules (they are upstream's contract too) and marked with subject type
``rest-schema``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import Problem
from .ir import ApiIR, Channel, JsonSchema, Operation, RestShapedSchema
from .schema_diff import FieldChange, FieldChangeKind, compare_schemas, json_path, local_resolver

if TYPE_CHECKING:
    from pathlib import Path

    from .config import ApiConfig
    from .fetch import FetchOptions
    from .ir import BundleInfo
    from .limits import Limits
    from .sources import Source

Impact = Literal["breaking", "strict", "none"]
#: What a change is about.
SubjectType = Literal["api", "operation", "channel", "rest-schema", "problem"]
#: Where in a subject: ``request``/``response`` (``response 404``), ``notification``, ``channel
#: parameters``, or ``""`` for the subject as a whole.
Role = Literal["send", "read"]

IMPACTS: tuple[Impact, ...] = ("breaking", "strict", "none")
_RANK = {"breaking": 0, "strict": 1, "none": 2}
#: JSON format of :meth:`ApiDiff.to_json`; raised when fields change meaning.
JSON_FORMAT_VERSION = 1


@dataclass(frozen=True, order=True)
class Change:
    """One difference between the releases, classified for senders and readers."""

    subject_type: SubjectType
    #: The call (``ticks``, ``GET /v1/health``, ``public/get_order_book``), channel name template,
    #: REST-shaped schema name, ``servers``..., or the file a problem is about.
    subject: str
    #: ``request``, ``response``, ``response 404``, ``notification``, ``parameters``, ``auth``, ``""``.
    part: str
    #: A JSON path inside ``part`` (``$.data[*].balance``), ``""`` for the part as a whole.
    path: str
    kind: str
    detail: str
    senders: Impact = "none"
    readers: Impact = "none"

    @property
    def impact(self) -> Impact:
        """The worse of :attr:`senders` and :attr:`readers`."""
        return min(self.senders, self.readers, key=_RANK.__getitem__)

    def where(self) -> str:
        return " ".join(p for p in (self.part, self.path) if p)


@dataclass(frozen=True)
class Side:
    """One of the two bundles compared."""

    source: str
    version: str
    sha256: str
    location: str
    operations: int
    channels: int
    rest_schemas: int
    problems: tuple[Problem, ...]


@dataclass
class ApiDiff:
    """Every change from ``old`` to ``new``, in a stable order (by subject, part, path, kind)."""

    source: str
    layout: str
    old: Side
    new: Side
    changes: list[Change] = field(default_factory=list)

    def count(self, impact: Impact, who: Role | None = None) -> int:
        """Changes with this impact for senders (``send``), readers (``read``), or either (``None``)."""
        if who == "send":
            return sum(1 for c in self.changes if c.senders == impact)
        if who == "read":
            return sum(1 for c in self.changes if c.readers == impact)
        return sum(1 for c in self.changes if c.impact == impact)

    @property
    def breaking(self) -> bool:
        return any(c.impact == "breaking" for c in self.changes)

    @property
    def strict_breaking(self) -> bool:
        return any(c.impact != "none" for c in self.changes)

    def summary(self) -> dict[str, int]:
        return {
            "changes": len(self.changes),
            "breaking_for_senders": self.count("breaking", "send"),
            "breaking_for_readers": self.count("breaking", "read"),
            "strict_for_readers": self.count("strict", "read"),
            "compatible": self.count("none"),
        }

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stable key order) for CI: sides, summary, and every change."""

        def side(s: Side) -> dict[str, Any]:
            d = asdict(s)
            d["problems"] = [asdict(p) for p in s.problems]
            return d

        return {
            "format": JSON_FORMAT_VERSION,
            "source": self.source,
            "layout": self.layout,
            "old": side(self.old),
            "new": side(self.new),
            "summary": self.summary(),
            "breaking": self.breaking,
            "changes": [{**asdict(c), "impact": c.impact} for c in self.changes],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"


# -- the rules ------------------------------------------------------------------------------------

#: Field changes in data the client sends: what breaks senders.
_SEND_BREAKING: frozenset[FieldChangeKind] = frozenset(
    {
        "field-removed",
        "became-required",
        "type-narrowed",
        "type-changed",
        "enum-removed",
        "pattern-added",
        "pattern-changed",
        "bound-tightened",
        "format-added",
        "format-changed",
        "closed",
        "alternatives-changed",
    }
)
#: Field changes in data the client reads: what breaks every reader, and what breaks strict ones.
_READ_BREAKING: frozenset[FieldChangeKind] = frozenset(
    {"field-removed", "became-optional", "type-widened", "type-changed", "alternatives-changed"}
)
_READ_STRICT: frozenset[FieldChangeKind] = frozenset(
    {
        "enum-added",
        "pattern-removed",
        "pattern-changed",
        "bound-loosened",
        "format-removed",
        "format-changed",
        "opened",
    }
)


def classify(change: FieldChange, role: Role) -> tuple[Impact, Impact]:
    """``(senders, readers)`` impact of a field change in data that is sent or read."""
    if role == "send":
        if change.kind == "field-added":
            return ("breaking" if change.required else "none"), "none"
        return ("breaking" if change.kind in _SEND_BREAKING else "none"), "none"
    if change.kind == "field-added":
        return "none", "strict" if change.parent_closed else "none"
    if change.kind in _READ_BREAKING:
        return "none", "breaking"
    return "none", "strict" if change.kind in _READ_STRICT else "none"


# -- comparing ------------------------------------------------------------------------------------


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


# -- reading the two releases ---------------------------------------------------------------------


def looks_like_location(text: str) -> bool:
    """A path or URL rather than a release tag: it has a scheme, a path separator, a bundle suffix,
    or names something on disk."""
    from pathlib import Path

    if "://" in text or "/" in text or "\\" in text or text.endswith((".zip", ".json")):
        return True
    return Path(text).exists()


def open_release(
    source: Source, release: str, options: FetchOptions, *, location: bool = False
) -> tuple[Path, BundleInfo]:
    """The bundle of ``release`` of ``source``, and its :class:`BundleInfo`.

    ``release`` is the pinned tag (fetched and verified like ``generate`` does), another release tag
    (taken from the cache if ``pin`` or an earlier ``diff`` stored it, else from a mirror, else
    downloaded unless offline; kept in the cache under its sha256), or a location as for
    ``generate --from``: a zip, an extracted directory, a JSON document, an http(s) URL (always, with
    ``location``); a location's version label is its file name without ``.zip``/``.json``.
    """
    from .fetch import fetch_from, location_name
    from .ir import BundleInfo

    if location or looks_like_location(release):
        path, digest = fetch_from(release, source.layout, options)
        return path, BundleInfo(source.name, location_name(release) or release, digest, release)
    return open_tag(source, release, options)


def open_tag(source: Source, release: str, options: FetchOptions) -> tuple[Path, BundleInfo]:
    """The bundle of release tag ``release`` of ``source`` (the pin, fetched and verified; else the
    cache, mirrors, then upstream), and its :class:`BundleInfo`."""
    from .fetch import fetch, resolve_pin, sha256_file
    from .ir import BundleInfo

    if release == source.version:
        path = fetch(source, options)
        return path, BundleInfo(source.name, release, source.sha256, str(path))
    cached = _cached(source, release, options)
    if cached is not None:
        return cached, BundleInfo(source.name, release, sha256_file(cached), str(cached))
    path, digest = resolve_pin(source, release, options)
    return path, BundleInfo(source.name, release, digest, str(path))


def _cached(source: Source, release: str, options: FetchOptions) -> Path | None:
    """A cached copy of ``release`` (named ``<tag>-<sha256[:16]>``) whose content matches its name."""
    from .fetch import sha256_file
    from .layouts import get_layout
    from .sources import VERSION

    if not VERSION.match(release):
        return None
    suffix = get_layout(source.layout).suffix
    folder = options.cache_dir / source.name
    for path in sorted(folder.glob(f"{release}-*{suffix}")) if folder.is_dir() else ():
        short = path.name.removeprefix(f"{release}-").removesuffix(suffix)
        if len(short) == 16 and sha256_file(path).startswith(short):
            return path
    return None


def read_release(
    path: Path, info: BundleInfo, layout: str, config: ApiConfig | None, limits: Limits
) -> ApiIR:
    """The IR of one bundle, read as ``generate`` reads it."""
    from .readers import read_bundle

    return read_bundle(path, layout, info, limits, config)


def diff_bundles(
    old: tuple[Path, BundleInfo],
    new: tuple[Path, BundleInfo],
    layout: str,
    config: ApiConfig | None = None,
    limits: Limits | None = None,
) -> ApiDiff:
    """Read both bundles with the reader of ``layout`` (and the same override ``config``) and compare."""
    from .limits import DEFAULT_LIMITS

    lim = limits or DEFAULT_LIMITS
    return diff_irs(read_release(*old, layout, config, lim), read_release(*new, layout, config, lim), layout)
