"""Render the generated package of an RPC-style API (Deribit: JSON-RPC 2.0) from its IR.

Same rules as :mod:`deriv_codegen.render`: every decision is made here, in plain view objects;
templates (``templates/jsonrpc/``, one per generated file, named after it) only render them, and
every value reaches their output through a :mod:`~deriv_codegen.pysource` filter.

The package: ``client.py`` (``DeribitClient`` with ``client.public.<method>(...)`` and
``client.private.<method>(...)``), ``sync_client.py`` (its blocking twin), ``channels.py`` (a typed
builder per channel), ``_calls.py`` (``OPERATIONS``: a :class:`~deriv_runtime.calls.CallInfo` per
operation, ``repeatable`` from ``[reconnect]`` of the override file), ``models/`` (one module per
operation and per channel, loaded on first use), ``__init__.py`` (lazy exports), and the OpenAPI
document as published (``openapi.json``, which the Deribit mock serves from).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from . import pysource
from .config import ApiConfig
from .errors import CodegenError, Problem
from .ir import ApiIR, Channel, Operation
from .naming import identifier, param_name, pascal
from .reconnect import ReconnectRule, reconnect_rules
from .render import PackageIdentity, ParamView, _param, auth_sentence, environment, package_identity
from .rpc_models import ChannelModels, OperationModels

#: Attributes of the generated clients (and their runtime bases) a namespace must not take.
RESERVED_NAMESPACES = frozenset({"connect", "close", "transport", "subscribe", "over_http", "async_client"})
#: Names ``channels.py`` defines besides the builders.
RESERVED_BUILDERS = frozenset({"Channel", "annotations", "Literal", "Any", "TYPE_CHECKING"})

#: template (relative to templates/) -> output path (relative to the distribution dir), "{pkg}" expanded.
RPC_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("jsonrpc/package/__init__.py.jinja", "{pkg}/__init__.py"),
    ("jsonrpc/package/_calls.py.jinja", "{pkg}/_calls.py"),
    ("jsonrpc/package/client.py.jinja", "{pkg}/client.py"),
    ("jsonrpc/package/sync_client.py.jinja", "{pkg}/sync_client.py"),
    ("jsonrpc/package/channels.py.jinja", "{pkg}/channels.py"),
    ("package/models/__init__.py.jinja", "{pkg}/models/__init__.py"),
    ("pyproject.toml.jinja", "pyproject.toml"),
    ("jsonrpc/README.md.jinja", "README.md"),
)


@dataclass(frozen=True)
class OpView:
    op: Operation
    method: str
    module: str
    const: str
    params_class: str
    params: list[ParamView]
    #: The method's return annotation (``list[GetInstrumentsResultItem]``).
    result_annotation: str
    #: The same type as a runtime expression over the models module ``_m`` (``list[_m.Get...Item]``).
    result_runtime: str
    auth_doc: str
    rule: ReconnectRule

    @property
    def summary(self) -> str:
        return self.op.summary or self.op.description or self.op.name

    @property
    def description(self) -> str:
        d = self.op.description
        return d if d and d != self.summary else ""


@dataclass
class NamespaceView:
    name: str  # "public": the client's attribute
    class_name: str  # "PublicApi"
    sync_class_name: str  # "PublicSyncApi"
    ops: list[OpView]


@dataclass(frozen=True)
class ChannelParamView:
    name: str
    placeholder: str
    annotation: str
    description: str
    as_text: bool  # already a str: no str() around it in the channel name


@dataclass(frozen=True)
class ChannelView:
    channel: Channel
    builder: str
    module: str
    data_annotation: str
    data_runtime: str
    params: list[ChannelParamView]
    #: The channel name as parts: ("text", "ticker.") or ("param", "instrument_name"), in order.
    parts: list[tuple[str, str]]

    @property
    def summary(self) -> str:
        return self.channel.summary or self.channel.name

    @property
    def description(self) -> str:
        d = self.channel.description
        return d if d and d != self.summary else ""


@dataclass
class RpcPackageView(PackageIdentity):
    namespaces: list[NamespaceView]
    operations: list[OpView]
    channels: list[ChannelView]
    #: (models module, names) imported for type checking by client.py and sync_client.py.
    type_imports: list[tuple[str, list[str]]]
    typing_names: list[str]
    uses_unset: bool
    channel_type_imports: list[tuple[str, list[str]]]
    channel_typing_names: list[str]
    model_exports: list[tuple[str, str]]  # (class, module)
    ws_url: str
    testnet_ws_url: str
    http_url: str
    testnet_http_url: str
    ws_servers: list[tuple[str, str]]
    servers: list[tuple[str, str]]
    problems: list[Problem] = field(default_factory=list)

    @property
    def url_names(self) -> list[str]:
        """The endpoint constants client.py defines."""
        urls = (
            ("HTTP_URL", self.http_url),
            ("TESTNET_HTTP_URL", self.testnet_http_url),
            ("TESTNET_WS_URL", self.testnet_ws_url),
            ("WS_URL", self.ws_url),
        )
        return [name for name, url in urls if url]

    @property
    def example_call(self) -> str:
        """A method for the README's example: public, no required argument (``public.get_time``)."""
        simple = [
            f"{ns.name}.{o.method}"
            for ns in self.namespaces
            for o in ns.ops
            if not o.op.auth_required and all(p.default is not None for p in o.params)
        ]
        return next((m for m in ("public.get_time", "public.test", *simple) if m in simple), "")


def _names_in(annotation: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(annotation, mode="eval")) if isinstance(n, ast.Name)}


class _Qualify(ast.NodeTransformer):
    """``Name`` -> ``_m.Name`` for the classes of a models module."""

    def __init__(self, classes: set[str]) -> None:
        self.classes = classes

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.classes:
            return ast.Attribute(ast.Name("_m", ast.Load()), node.id, ast.Load())
        return node


def runtime_expression(annotation: str, classes: Iterable[str]) -> str:
    """``annotation`` as an expression that builds the type at run time, classes taken from ``_m``."""
    tree = _Qualify(set(classes)).visit(ast.parse(annotation, mode="eval"))
    return ast.unparse(tree)


def _py_type(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "Any"
    values = schema.get("enum")
    if isinstance(values, list) and values and all(isinstance(v, str | int) for v in values):
        return "Literal[" + ", ".join(repr(v) for v in values) + "]"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_py_type(schema.get('items'))}]"
    return {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}.get(str(kind), "Any")


def _server(servers: list[tuple[str, str]], description: str, first: bool) -> str:
    for url, desc in servers:
        if desc == description:
            return url
    return servers[0][0] if first and servers else ""


def build_rpc_view(
    ir: ApiIR,
    ops_models: list[OperationModels],
    channel_models: list[ChannelModels],
    config: ApiConfig,
    package: str,
) -> RpcPackageView:
    problems: list[Problem] = []
    where = f"overrides/{ir.bundle.source}.toml"
    rules, rule_problems = reconnect_rules(ir.operations, config.reconnect, where)
    problems.extend(rule_problems)
    by_op = {m.operation: m for m in ops_models}
    modules: dict[str, str] = {}
    owners: dict[str, list[str]] = {}
    every = [(m.operation, m.module, m.classes) for m in ops_models]
    every += [(c.channel, c.module, c.classes) for c in channel_models]
    for name, module, module_classes in every:
        if module in modules:
            raise CodegenError(f"{modules[module]!r} and {name!r} both become the models module {module!r}")
        modules[module] = name
        for cls in module_classes:
            owners.setdefault(cls, []).append(module)
    exports = sorted((cls, mods[0]) for cls, mods in owners.items() if len(mods) == 1)
    for cls, mods in sorted(owners.items()):
        if len(mods) > 1:
            what = f"class {cls} defined in {', '.join(mods)}: not exported from models"
            problems.append(Problem(package, what))

    namespaces: dict[str, NamespaceView] = {}
    operations: list[OpView] = []
    used_consts: set[str] = {"OPERATIONS"}
    type_imports: dict[str, set[str]] = {}
    typing_names: set[str] = {"Any"}
    uses_unset = False
    for op in ir.operations:
        m = by_op[op.name]
        ns = op.namespace
        pysource.ident(ns, f"namespace of {op.name!r}", op.source)
        if ns in RESERVED_NAMESPACES or ns.startswith("_"):
            raise CodegenError(f"{op.source}: namespace {ns!r} would shadow an attribute of the client")
        view_ns = namespaces.get(ns)
        if view_ns is None:
            view_ns = namespaces[ns] = NamespaceView(ns, f"{pascal(ns)}Api", f"{pascal(ns)}SyncApi", [])
        pysource.ident(op.method_name, f"method name of {op.name!r}", op.source)
        used: set[str] = set()
        fields = [f for f in m.params if f.required] + [f for f in m.params if not f.required]
        params = [_param(f, used) for f in fields]
        classes = set(m.classes)
        for p in params:
            names = _names_in(p.annotation)
            type_imports.setdefault(m.module, set()).update(names & classes)
            typing_names.update(names & {"Literal", "Any"})
            uses_unset = uses_unset or p.omit == "unset"
        result_names = _names_in(m.result_annotation)
        type_imports.setdefault(m.module, set()).update(result_names & classes)
        typing_names.update(result_names & {"Literal", "Any"})
        const = identifier(op.name).upper()
        while const in used_consts:
            const += "_"
        used_consts.add(const)
        view = OpView(
            op=op,
            method=op.method_name,
            module=m.module,
            const=const,
            params_class=m.params_class,
            params=params,
            result_annotation=m.result_annotation,
            result_runtime=runtime_expression(m.result_annotation, classes),
            auth_doc=auth_sentence(op.auth_required, op.auth_scopes),
            rule=rules[op.name],
        )
        view_ns.ops.append(view)
        operations.append(view)
    class_names = {c for v in namespaces.values() for c in (v.class_name, v.sync_class_name)}
    clash = sorted(class_names & set(owners))
    if clash:
        raise CodegenError(f"namespace class(es) {', '.join(clash)} share a name with a model class")

    for template in sorted(set(config.channel_names) - {ch.name for ch in ir.channels}):
        problems.append(Problem(where, f"[channel_names] names {template!r}, not a channel; ignored"))
    channels: list[ChannelView] = []
    channel_imports: dict[str, set[str]] = {}
    channel_typing: set[str] = set()
    by_channel = {c.channel: c for c in channel_models}
    builders_used: set[str] = set()
    for ch in ir.channels:
        cm = by_channel[ch.name]
        pysource.ident(cm.builder, f"builder name of channel {ch.name!r}", ch.source)
        if cm.builder in builders_used or cm.builder in RESERVED_BUILDERS or cm.builder.startswith("_"):
            raise CodegenError(
                f"{ch.source}: builder name {cm.builder!r} is taken; name the channel in [channel_names]"
            )
        builders_used.add(cm.builder)
        used = set()
        cparams = []
        by_placeholder: dict[str, str] = {}
        for cp in ch.parameters:
            name = param_name(identifier(cp.name), cp.name, used)
            annotation = _py_type(cp.schema)
            channel_typing.update(_names_in(annotation) & {"Literal", "Any"})
            enum = cp.schema.get("enum", [])
            as_text = annotation == "str" or (
                annotation.startswith("Literal[") and all(isinstance(e, str) for e in enum)
            )
            cparams.append(ChannelParamView(name, cp.name, annotation, cp.description, as_text))
            by_placeholder[cp.name] = name
        parts: list[tuple[str, str]] = []
        rest = ch.name
        for cp in ch.parameters:
            before, _, rest = rest.partition("{" + cp.name + "}")
            if before:
                parts.append(("text", before))
            parts.append(("param", by_placeholder[cp.name]))
        if rest:
            parts.append(("text", rest))
        data_names = _names_in(cm.data_annotation)
        channel_imports.setdefault(cm.module, set()).update(data_names & set(cm.classes))
        channel_typing.update(data_names & {"Literal", "Any"})
        channels.append(
            ChannelView(
                channel=ch,
                builder=cm.builder,
                module=cm.module,
                data_annotation=cm.data_annotation,
                data_runtime=runtime_expression(cm.data_annotation, cm.classes),
                params=cparams,
                parts=parts,
            )
        )

    return RpcPackageView(
        **asdict(package_identity(ir, config, package)),
        namespaces=[namespaces[k] for k in sorted(namespaces)],
        operations=operations,
        channels=channels,
        type_imports=sorted((mod, sorted(names)) for mod, names in type_imports.items() if names),
        typing_names=sorted(typing_names),
        uses_unset=uses_unset,
        channel_type_imports=sorted((mod, sorted(n)) for mod, n in channel_imports.items() if n),
        channel_typing_names=sorted(channel_typing),
        model_exports=exports,
        ws_url=_server(ir.ws_servers, "production", True),
        testnet_ws_url=_server(ir.ws_servers, "testnet", False),
        http_url=_server(ir.servers, "production", True),
        testnet_http_url=_server(ir.servers, "testnet", False),
        ws_servers=list(ir.ws_servers),
        servers=list(ir.servers),
        problems=problems,
    )


def render_rpc_package(
    view: RpcPackageView,
    ops_models: Iterable[OperationModels],
    channel_models: Iterable[ChannelModels],
    openapi: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every file of the distribution directory, by relative path."""
    env = environment()
    files: dict[str, str] = {}
    pysource.ident(view.package, "package name")
    for template, target in RPC_TEMPLATES:
        path = target.format(pkg=view.package)
        try:
            files[path] = str(env.get_template(template).render(v=view))
        except CodegenError as exc:
            raise type(exc)(f"{path} (from {template}): {exc}") from None
    modules = [(m.operation, m.module, m.code) for m in ops_models]
    modules += [(c.channel, c.module, c.code) for c in channel_models]
    for where, module, code in modules:
        files[f"{view.package}/models/{pysource.ident(module, 'module name', where)}.py"] = code
    files[f"{view.package}/py.typed"] = ""
    if openapi is not None:  # as published: the mock (deriv_runtime.mock.deribit) serves from it
        files[f"{view.package}/openapi.json"] = (
            json.dumps(openapi, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        )
    return files


__all__ = ["RpcPackageView", "build_rpc_view", "render_rpc_package", "runtime_expression"]
