"""Render the generated package from the IR and the call models, through Jinja templates.

Templates only render: every decision (names, signatures, imports) is made here, in plain
view objects. One template per kind of generated file, named after the file it produces.

Bundle text reaches a template's output only through the filters of :func:`environment`, which
are the functions of :mod:`deriv_codegen.pysource`: a ``{{ ... }}`` whose value is not the result
of one of them (a :class:`~deriv_codegen.pysource.Source`) is refused. Names meant to be
identifiers are checked there too (ASCII, ``isidentifier()``, not a keyword).

Generated method bodies use only ``self``, ``timeout`` and names starting with ``_`` besides their
parameters, which :func:`~deriv_codegen.naming.param_name` keeps apart: no schema can shadow a local.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, pysource
from .config import ApiConfig
from .errors import CodegenError, Problem
from .ir import ApiIR, Operation
from .models import CallModels, FieldSpec
from .naming import param_name
from .reconnect import ReconnectRule, reconnect_rules
from .rest import RestBuild, RestOpView

#: Names the base client uses or will use; a call with one of these names gets a ``_`` suffix.
RESERVED_METHODS = frozenset({"close", "aclose", "connect", "transport", "call", "stream", "subscribe"})
#: Request fields the runtime manages itself.
MANAGED_FIELDS = frozenset({"req_id", "subscribe"})
#: Names ``_calls.py`` defines besides the call constants.
RESERVED_CONSTS = frozenset({"CALLS", "MSG_TYPES"})


def templates_dir() -> Path:
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class ParamView:
    name: str
    json_name: str
    annotation: str
    default: str | None  # Python source, or None when required
    omit: str | None  # "none" / "unset": leave out of the payload when the argument is that value
    description: str
    #: A sensitive field: the argument may be a ``SecretLike``, revealed only into the payload.
    secret: bool = False


@dataclass
class CallView:
    op: Operation
    method: str
    module: str
    const: str
    request_class: str
    response_class: str
    positional: ParamView | None
    params: list[ParamView]
    stream_types: list[tuple[str, str, str]]  # (msg_type, module, class)
    stream_annotation: str
    description: str
    constants: list[tuple[str, pysource.Source]]  # (json name, Python literal) always sent: ("ping", "1")
    auth_doc: str = ""  # "Needs an authenticated connection (scopes: ...)." or "No authentication needed."
    #: What the runtime may do with the call after a reconnect (from the override file's [reconnect]).
    rule: ReconnectRule = field(default_factory=lambda: ReconnectRule(False))

    @property
    def streams(self) -> bool:
        return self.op.streaming is not None

    @property
    def msg_types(self) -> tuple[str, ...]:
        return msg_types(self.op)

    @property
    def messages(self) -> str:
        return ", ".join(self.msg_types)

    @property
    def subscribe_method(self) -> str:
        return f"subscribe_{self.method.rstrip('_')}"

    @property
    def all_params(self) -> list[ParamView]:
        return ([self.positional] if self.positional else []) + self.params


@dataclass
class PackageIdentity:
    """What every generated package says about itself (names, versions, where it came from)."""

    package: str
    dist_name: str
    dist_version: str
    title: str
    client_class: str
    sync_client_class: str
    source: str
    version: str
    sha256: str
    header: str
    generator_version: str
    #: The runtime distribution the package depends on, and the versions it accepts (``>=0.1.0,<0.2``).
    runtime_dist: str
    runtime_requirement: str


@dataclass
class PackageView(PackageIdentity):
    calls: list[CallView]
    type_imports: list[tuple[str, list[str]]]  # (module, names) for TYPE_CHECKING
    #: Some call takes a secret argument: the client defines ``_reveal``.
    uses_secrets: bool
    #: (absolute module, names) for TYPE_CHECKING: what signatures use from pydantic, datetime, the runtime...
    annotation_imports: list[tuple[str, list[str]]]
    model_exports: list[tuple[str, str]]  # (class, module)
    typing_names: list[str]
    uses_unset: bool
    msg_type_models: list[tuple[str, str, str]]  # (msg_type, module, class)
    rest_operation_count: int
    rest_schema_count: int
    rest: RestBuild | None = None
    rest_client_class: str = ""
    rest_sync_client_class: str = ""
    rest_base_url: str = ""
    rest_type_imports: list[str] = field(default_factory=list)
    otp: RestOpView | None = None
    otp_url_field: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def example_call(self) -> str:
        """A method for the README's example: public, no required argument, one answer (``time``)."""
        simple = [
            c.method
            for c in self.calls
            if not c.op.auth_required and not c.streams and all(p.default is not None for p in c.all_params)
        ]
        return next((m for m in ("time", "ping", *simple) if m in simple), "")


#: What a call name must look like: it becomes a method, a module and a constant name.
_CALL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def msg_types(op: Operation) -> tuple[str, ...]:
    """Every ``msg_type`` a ``deriv-ws`` operation answers with."""
    return op.binding("deriv-ws").msg_types


def screen_calls(ir: ApiIR) -> None:
    """Leave out (and report) WebSocket calls whose name could not become a method, module and constant."""
    kept: list[Operation] = []
    for call in ir.operations:
        if _CALL_NAME.fullmatch(call.name) or not any(b.kind == "deriv-ws" for b in call.bindings):
            kept.append(call)
        else:
            where = call.source or call.name
            ir.problems.append(
                Problem(
                    where,
                    f"call name {call.name!r} is not a plain name (ASCII letters, digits, _); call skipped",
                    "skipped",
                )
            )
    ir.operations = kept


def _names_in(annotation: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(annotation, mode="eval")) if isinstance(n, ast.Name)}


def auth_sentence(required: bool, scopes: Iterable[str], subject: str = "an authenticated connection") -> str:
    if not required:
        return "No authentication needed."
    listed = ", ".join(scopes)
    return f"Needs {subject}" + (f" (scopes: {listed})" if listed else "") + "."


def _param(f: FieldSpec, used: set[str]) -> ParamView:
    name = param_name(f.name, f.json_name, used)
    if f.required:
        default = f.constant
        omit = None
    elif f.nullable:
        default, omit = "UNSET", "unset"
    else:
        default, omit = "None", "none"
    annotation = f.annotation
    if f.secret:
        annotation = _secret_annotation(annotation)
    if omit == "unset":
        annotation = f"{annotation} | Unset"
    return ParamView(name, f.json_name, annotation, default, omit, f.description, f.secret)


#: Where the type of a secret argument comes from (a protocol: ``Secret`` and anything with ``reveal()``).
SECRET_TYPE = ("deriv_runtime.auth.secret", "SecretLike")


class _SecretStr(ast.NodeTransformer):
    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "str":
            return ast.BinOp(node, ast.BitOr(), ast.Name(SECRET_TYPE[1], ast.Load()))
        return node


def _secret_annotation(annotation: str) -> str:
    """``str`` -> ``str | SecretLike`` wherever it appears (``list[str] | None`` included)."""
    return ast.unparse(_SecretStr().visit(ast.parse(annotation, mode="eval")))


def build_view(
    ir: ApiIR, models: list[CallModels], config: ApiConfig, package: str, rest: RestBuild | None = None
) -> PackageView:
    problems: list[Problem] = []
    ws_ops = ir.bound("deriv-ws")
    rules, rule_problems = reconnect_rules(ws_ops, config.reconnect, f"overrides/{ir.bundle.source}.toml")
    problems.extend(rule_problems)
    by_call = {m.call: m for m in models}
    modules: dict[str, str] = {}
    for m in models:
        if m.module in modules:
            raise CodegenError(
                f"calls {modules[m.module]!r} and {m.call!r} both become the module {m.module!r}: "
                "the bundle names two calls alike"
            )
        modules[m.module] = m.call
    single_msg = {msg_types(c)[0]: c.name for c in ws_ops if len(msg_types(c)) == 1}
    # Flat export of model classes: names unique across modules are exported from ``models``.
    owners: dict[str, list[str]] = {}
    for m in models:
        for cls in m.classes:
            owners.setdefault(cls, []).append(m.module)
    exports = sorted((cls, mods[0]) for cls, mods in owners.items() if len(mods) == 1)
    for cls, mods in sorted(owners.items()):
        if len(mods) > 1:
            problems.append(
                Problem(package, f"class {cls} defined in {', '.join(mods)}: not exported from models")
            )

    calls: list[CallView] = []
    used_methods: set[str] = set()
    used_consts: set[str] = set(RESERVED_CONSTS)
    type_imports: dict[str, set[str]] = {}
    annotation_imports: dict[str, set[str]] = {}
    typing_names: set[str] = {"Any"}
    uses_unset = False
    uses_secrets = False
    for call in sorted(ws_ops, key=lambda c: c.name):
        m = by_call[call.name]
        where = call.source or call.name
        method = call.method_name
        pysource.ident(method, f"method name of call {call.name!r}", where)
        if method.startswith("_"):
            raise CodegenError(f"{where}: method name {method!r} of call {call.name!r} starts with '_'")
        if method in RESERVED_METHODS or method in used_methods:
            problems.append(Problem(call.name, f"method name {method!r} is taken; using {method}_"))
            method += "_"
        used_methods.add(method)
        used: set[str] = set()
        fields = [f for f in m.request_fields if f.json_name not in MANAGED_FIELDS]
        positional = None
        key = call.request_key
        if fields and fields[0].json_name == key and fields[0].required and fields[0].constant is None:
            positional = _param(fields[0], used)
            fields = fields[1:]
        constants = [
            (f.json_name, pysource.literal_source(f.constant, where))
            for f in fields
            if f.constant is not None
        ]
        fields = [f for f in fields if f.constant is None]
        ordered = [f for f in fields if f.required] + [f for f in fields if not f.required]
        params = [_param(f, used) for f in ordered]
        view_params = ([positional] if positional else []) + params
        local_classes = set(m.classes)
        imported = dict(m.imports)
        for p in view_params:
            names = _names_in(p.annotation)
            type_imports.setdefault(m.module, set()).update(names & local_classes)
            if p.secret:
                uses_secrets = True
                annotation_imports.setdefault(SECRET_TYPE[0], set()).add(SECRET_TYPE[1])
            for name in sorted(names - local_classes - {SECRET_TYPE[1]}):
                module = imported.get(name)
                if module == "typing":
                    typing_names.add(name)
                elif module is not None:
                    annotation_imports.setdefault(module, set()).add(name)
            uses_unset = uses_unset or p.omit == "unset"
        type_imports.setdefault(m.module, set()).add(m.response_class)
        stream_types: list[tuple[str, str, str]] = []
        annotation = m.response_class
        rule = rules[call.name]
        if call.streaming is not None:
            seen = {m.response_class}
            # a stream that resumes as another call's after a reconnect also yields that call's messages
            follow_up = msg_types(ir.operation(rule.resume.call)) if rule.resume is not None else ()
            for msg_type in dict.fromkeys((*call.streaming.msg_types, *follow_up)):
                other = single_msg.get(msg_type)
                if other and other != call.name and other in by_call:
                    om = by_call[other]
                    stream_types.append((msg_type, om.module, om.response_class))
                    type_imports.setdefault(om.module, set()).add(om.response_class)
                    if om.response_class not in seen:
                        seen.add(om.response_class)
                        annotation += f" | {om.response_class}"
        const = m.module.upper()
        while const in used_consts:
            const += "_"
        used_consts.add(const)
        calls.append(
            CallView(
                op=call,
                method=method,
                module=m.module,
                const=const,
                request_class=m.request_class,
                response_class=m.response_class,
                positional=positional,
                params=params,
                stream_types=stream_types,
                stream_annotation=annotation,
                constants=constants,
                description=call.description,
                auth_doc=auth_sentence(call.auth_required, call.auth_scopes),
                rule=rule,
            )
        )
    msg_type_models = sorted(
        (msg_type, by_call[name].module, by_call[name].response_class)
        for msg_type, name in single_msg.items()
        if name in by_call
    )
    return PackageView(
        **asdict(package_identity(ir, config, package)),
        calls=calls,
        type_imports=sorted((mod, sorted(names)) for mod, names in type_imports.items() if names),
        uses_secrets=uses_secrets,
        annotation_imports=sorted((mod, sorted(names)) for mod, names in annotation_imports.items()),
        model_exports=exports,
        typing_names=sorted(typing_names),
        uses_unset=uses_unset,
        msg_type_models=msg_type_models,
        rest_operation_count=len(ir.bound("deriv-rest")),
        rest_schema_count=len(ir.rest_schemas),
        rest=rest if rest is not None and rest.ops else None,
        rest_client_class=config.rest_client_class,
        rest_sync_client_class=config.rest_sync_client_class,
        rest_base_url=config.rest_base_url,
        rest_type_imports=_rest_type_imports(rest),
        otp=next((op for op in rest.ops if op.key == config.otp_operation), None) if rest else None,
        otp_url_field=config.otp_url_field,
        problems=problems,
    )


def _rest_type_imports(rest: RestBuild | None) -> list[str]:
    if rest is None:
        return []
    names: set[str] = set()
    known = set(rest.classes)
    for op in rest.ops:
        names |= _names_in(op.return_annotation) & known
        for f in op.body_fields:
            names |= _names_in(f.annotation) & known
    return sorted(names)


def package_identity(ir: ApiIR, config: ApiConfig, package: str) -> PackageIdentity:
    b = ir.bundle
    return PackageIdentity(
        package=package,
        dist_name=package.replace("_", "-"),
        dist_version=f"{__version__}+{_local_version(b.version)}",
        title=config.title,
        client_class=config.client_class,
        sync_client_class=config.sync_client_class,
        source=b.source,
        version=b.version,
        sha256=b.sha256,
        header=f"Generated by deriv-codegen from {b.source} {b.version}. Do not edit: regenerate instead.",
        generator_version=__version__,
        runtime_dist=RUNTIME_DIST,
        runtime_requirement=runtime_requirement(__version__),
    )


#: The distribution of ``deriv_runtime`` (runtime/pyproject.toml): what a generated package depends on.
RUNTIME_DIST = "deriv-runtime"


def runtime_requirement(version: str) -> str:
    """The runtime versions a package generated by generator ``version`` accepts: that release and
    later ones of its line (``0.1.0`` -> ``>=0.1.0,<0.2``; ``1.4.2`` -> ``>=1.4.2,<2``).

    Generator and runtime share one version (``deriv_runtime.__version__``); before 1.0 a minor
    release may change what generated code relies on, from 1.0 only a major one."""
    match = re.fullmatch(r"(\d+)\.(\d+)[0-9A-Za-z.+!-]*", version)
    if match is None:
        raise CodegenError(f"version {version!r} is not a release version (MAJOR.MINOR...)")
    major, minor = int(match[1]), int(match[2])
    upper = f"{major}.{minor + 1}" if major == 0 else str(major + 1)
    return f">={version},<{upper}"


def _local_version(version: str) -> str:
    return ".".join(p for p in re.split(r"[^A-Za-z0-9]+", version) if p) or "unversioned"


def _refuse_raw(value: Any) -> Any:
    """Jinja's ``finalize``: only escaped fragments and counts reach a template's output."""
    if isinstance(value, pysource.Source) or type(value) is int:
        return value
    raise CodegenError(
        f"generator bug: a template prints {type(value).__name__} {str(value)[:60]!r} without an "
        "escaping filter (py, doc, comment, toml, md, md_code, ident, dotted, annotation)"
    )


def _join(items: Iterable[Any], sep: str = "") -> pysource.Source:
    """``join`` for escaped fragments only (a plain string in the list is refused)."""
    return pysource.Source(sep.join(_refuse_raw(i) for i in items))


def _rstrip(fragment: pysource.Source) -> pysource.Source:
    return pysource.Source(_refuse_raw(fragment).rstrip())


def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - renders Python source and TOML, never HTML
        finalize=_refuse_raw,
    )
    # Macro output is made of template text and finalized (escaped) values only.
    env.concat = lambda parts: pysource.Source("".join(parts))  # type: ignore[method-assign]
    for name in list(env.filters):
        if name not in {"length", "map"}:
            del env.filters[name]
    env.filters.update(
        py=pysource.py_literal,
        doc=pysource.docstring,
        comment=pysource.comment,
        toml=pysource.toml_str,
        md=pysource.md_text,
        md_code=pysource.md_code,
        ident=pysource.ident,
        dotted=pysource.dotted,
        annotation=pysource.annotation,
        join=_join,
        rstrip=_rstrip,
    )
    return env


#: template (relative to templates/) -> output path (relative to the distribution dir), "{pkg}" expanded.
PACKAGE_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("package/__init__.py.jinja", "{pkg}/__init__.py"),
    ("package/_calls.py.jinja", "{pkg}/_calls.py"),
    ("package/client.py.jinja", "{pkg}/client.py"),
    ("package/sync_client.py.jinja", "{pkg}/sync_client.py"),
    ("package/models/__init__.py.jinja", "{pkg}/models/__init__.py"),
    ("pyproject.toml.jinja", "pyproject.toml"),
    ("README.md.jinja", "README.md"),
)


def schemas_document(ir: ApiIR) -> str:
    """The upstream request/response schemas of every call, for the runtime's strict mode and the mock.

    Kept exactly as published (a contract check must use the real contract), sorted for determinism.
    """
    calls = {
        c.name: {"request": c.params_schema, "response": c.result_schema}
        for c in sorted(ir.bound("deriv-ws"), key=lambda c: c.name)
    }
    doc = {"source": ir.bundle.source, "version": ir.bundle.version, "calls": calls}
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render_package(view: PackageView, models: Iterable[CallModels], ir: ApiIR) -> dict[str, str]:
    """Every file of the distribution directory, by relative path."""
    env = environment()
    files: dict[str, str] = {}

    def render(template: str, target: str) -> None:
        try:
            files[target] = str(env.get_template(template).render(v=view))
        except CodegenError as exc:
            raise type(exc)(f"{target} (from {template}): {exc}") from None

    pysource.ident(view.package, "package name")
    for template, target in PACKAGE_TEMPLATES:
        render(template, target.format(pkg=view.package))
    for m in models:
        files[f"{view.package}/models/{pysource.ident(m.module, 'module name', m.call)}.py"] = m.code
    if view.rest is not None and view.rest.code is not None:
        files[f"{view.package}/rest_models.py"] = view.rest.code
        render("package/rest.py.jinja", f"{view.package}/rest.py")
        if view.otp is not None and view.otp.params:
            render("package/connect.py.jinja", f"{view.package}/connect.py")
    files[f"{view.package}/py.typed"] = ""
    files[f"{view.package}/schemas.json"] = schemas_document(ir)
    if ir.openapi is not None:
        files[f"{view.package}/openapi.json"] = (
            json.dumps(ir.openapi, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        )
    return files
