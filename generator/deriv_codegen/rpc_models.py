"""Pydantic models for RPC-style APIs (Deribit): per operation and per channel, one module each.

* An operation's module holds its params model (strict, :data:`~deriv_codegen.models.REQUEST_BASE`)
  and its result model (tolerant, :data:`~deriv_codegen.models.RESPONSE_BASE`) with their nested
  classes. A result that is not an object (an array, a scalar, any value) is a type annotation
  instead (``list[GetInstrumentsResultItem]``, ``int``): the root model that datamodel-code-generator
  wraps it in is dropped.
* A channel's module holds the model of its notifications' ``data`` (tolerant), or the annotation.

Names come from the operation's method name (``get_instruments`` -> ``GetInstrumentsParams``,
``GetInstrumentsResult``), prefixed by its namespace where two namespaces share a method name
(``PublicSubscribeParams``), and from a channel's builder name (``ticker`` -> ``TickerData``).
``$ref``\\s into ``components/schemas`` are inlined, bounded by ``max_schema_nodes``: measured on the
Deribit document, no operation or channel refers to a component (the 3 refs are between components),
so inlining costs nothing there and keeps each module self-contained. OpenAPI 3.0 ``nullable`` is
rewritten as JSON Schema ``null`` before generation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import Problem
from .ir import ApiIR, Channel, Operation
from .limits import DEFAULT_LIMITS, Limits
from .models import (
    REQUEST_BASE,
    RESPONSE_BASE,
    FieldSpec,
    _RootTypes,
    _strip_annotated,
    request_fields,
    run_model_generator,
)
from .naming import identifier, pascal, snake
from .schema_prep import (
    assign_class_names,
    check_patterns,
    inline_local_refs,
    is_class_schema,
    openapi_nullable,
    strip_titles,
    tolerant,
)

_COMPONENT_REF = "#/components/schemas/"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class OperationModels:
    operation: str  # wire name: "public/get_instruments"
    module: str  # "public_get_instruments"
    code: str
    params_class: str
    #: What the method returns: a class of the module, or an annotation over its classes.
    result_annotation: str
    classes: tuple[str, ...]
    params: tuple[FieldSpec, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ChannelModels:
    channel: str  # the name template
    builder: str  # the builder function's name: "ticker"
    module: str  # "channel_ticker"
    code: str
    data_annotation: str
    classes: tuple[str, ...]
    problems: tuple[Problem, ...]


def operation_bases(operations: Sequence[Operation]) -> dict[str, str]:
    """The class-name stem of every operation: its method name, namespaced where that is ambiguous."""
    namespaces: dict[str, set[str]] = {}
    for op in operations:
        namespaces.setdefault(op.method_name, set()).add(op.namespace)
    return {
        op.name: pascal(op.method_name if len(namespaces[op.method_name]) == 1 else op.name)
        for op in operations
    }


def operation_module(op: Operation) -> str:
    return identifier(f"{op.namespace}_{op.method_name}")


def channel_builders(channels: Sequence[Channel], overrides: Mapping[str, str]) -> dict[str, str]:
    """The builder function name of each channel: the template's fixed words (``ticker.{a}.{b}`` ->
    ``ticker``); where two channels share them, each adds the placeholders the others lack
    (``book`` and ``book_by_group_depth``). ``overrides`` (template -> name) win."""
    stems: dict[str, list[Channel]] = {}
    for ch in channels:
        fixed = _PLACEHOLDER.sub(" ", ch.name)
        stems.setdefault(snake(fixed), []).append(ch)
    names: dict[str, str] = {}
    for stem, group in stems.items():
        for ch in group:
            name = stem
            if len(group) > 1:
                mine = [p.name for p in ch.parameters]
                common = set(mine).intersection(*({p.name for p in o.parameters} for o in group))
                own = [p for p in mine if p not in common]
                if own:
                    name = f"{stem}_by_{'_'.join(snake(p) for p in own)}"
            names[ch.name] = overrides.get(ch.name, identifier(name))
    return names


def _components_as_defs(schema: Any, components: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with ``#/components/schemas/X`` refs as ``#/$defs/X`` and the components beside it."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: rewrite(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMPONENT_REF):
            out["$ref"] = "#/$defs/" + ref[len(_COMPONENT_REF) :]
        return out

    root = rewrite(schema) if isinstance(schema, dict) else {}
    root.pop("$defs", None)
    if components and _has_ref(root):
        root["$defs"] = rewrite(dict(components))
    return dict(root)


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    return isinstance(node, list) and any(_has_ref(v) for v in node)


def _resolved(
    schema: Any, components: Mapping[str, Any], where: str, problems: list[Problem], limits: Limits
) -> dict[str, Any]:
    doc = _components_as_defs(schema, components)
    return openapi_nullable(strip_titles(inline_local_refs(doc, where, problems, limits)))


def root_annotation(code: str, class_name: str) -> str | None:
    """The type a root model wraps (``list[Item]``, ``int``), or ``None`` when ``class_name`` is a model."""
    tree = ast.parse(code)
    roots = {
        n.name: b.slice
        for n in tree.body
        if isinstance(n, ast.ClassDef)
        for b in n.bases
        if isinstance(b, ast.Subscript) and isinstance(b.value, ast.Name) and b.value.id == "RootModel"
    }
    if class_name not in roots:
        return None
    return ast.unparse(_RootTypes(roots).visit(_strip_annotated(roots[class_name])))


def drop_class(code: str, name: str) -> str:
    """``code`` without the top-level class ``name``."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name and node.end_lineno is not None:
            start = node.lineno - 1 - len(node.decorator_list)
            return "".join(lines[:start] + lines[node.end_lineno :])
    return code


def _names_used(annotation: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(annotation, mode="eval")) if isinstance(n, ast.Name)}


def generate_operation_models(
    op: Operation,
    base: str,
    components: Mapping[str, Any],
    source_label: str,
    limits: Limits = DEFAULT_LIMITS,
) -> OperationModels:
    problems: list[Problem] = []
    params = check_patterns(
        _resolved(op.params_schema, components, op.source, problems, limits), op.source, problems
    )
    result = tolerant(_resolved(op.result_schema, components, op.source, problems, limits), keep_required=())
    params_class, result_class = f"{base}Params", f"{base}Result"
    used: set[str] = {result_class}
    params_names, params_roots = assign_class_names(params, params_class, base, used)
    used.discard(result_class)
    result_names, result_roots = assign_class_names(result, result_class, result_class, used)
    bases = dict.fromkeys(params_names, REQUEST_BASE) | dict.fromkeys(result_names, RESPONSE_BASE)
    if not is_class_schema(result):
        del bases[result_class]  # a root model (list, scalar, any value): its type is the annotation
    doc = dict(params)
    doc["$defs"] = {result_class: result}
    known = sorted({*params_names, *params_roots, *result_names, *result_roots})
    code, more = run_model_generator(doc, bases, known, source_label, op.source)
    problems += more
    code, annotation, classes = _rooted(code, result_class, known)
    return OperationModels(
        operation=op.name,
        module=operation_module(op),
        code=code,
        params_class=params_class,
        result_annotation=annotation,
        classes=classes,
        params=request_fields(code, params_class, params),
        problems=tuple(problems),
    )


def generate_channel_models(
    ch: Channel,
    builder: str,
    components: Mapping[str, Any],
    source_label: str,
    limits: Limits = DEFAULT_LIMITS,
) -> ChannelModels:
    problems: list[Problem] = []
    data = tolerant(
        _resolved(ch.notification_schema, components, ch.source, problems, limits), keep_required=()
    )
    data_class = f"{pascal(builder)}Data"
    names, roots = assign_class_names(data, data_class, data_class, set())
    bases = dict.fromkeys(names, RESPONSE_BASE)
    if not is_class_schema(data):
        del bases[data_class]
    known = sorted({*names, *roots})
    code, more = run_model_generator(data, bases, known, source_label, ch.source)
    problems += more
    code, annotation, classes = _rooted(code, data_class, known)
    return ChannelModels(
        channel=ch.name,
        builder=builder,
        module=identifier(f"channel_{builder}"),
        code=code,
        data_annotation=annotation,
        classes=classes,
        problems=tuple(problems),
    )


def build_rpc_models(
    ir: ApiIR,
    source_label: str,
    channel_names: Mapping[str, str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[list[OperationModels], list[ChannelModels]]:
    """Every operation's and every channel's module, in IR order, in this process."""
    components = (ir.components or {}).get("schemas") or {}
    bases = operation_bases(ir.operations)
    ops = [
        generate_operation_models(op, bases[op.name], components, source_label, limits)
        for op in ir.operations
    ]
    builders = channel_builders(ir.channels, channel_names or {})
    chans = [
        generate_channel_models(ch, builders[ch.name], components, source_label, limits) for ch in ir.channels
    ]
    return ops, chans


__all__ = [
    "ChannelModels",
    "OperationModels",
    "build_rpc_models",
    "channel_builders",
    "drop_class",
    "operation_bases",
    "root_annotation",
]


def _rooted(code: str, root: str, known: list[str]) -> tuple[str, str, tuple[str, ...]]:
    """The module code, the annotation of ``root`` (its own class, or the type a root model stood for,
    whose class is then dropped) and the classes of ``known`` the code defines."""
    annotation = root_annotation(code, root)
    if annotation is not None:
        code = drop_class(code, root)
    else:
        annotation = root
    classes = tuple(sorted(c for c in known if re.search(rf"^class {c}\(", code, flags=re.M)))
    return code, annotation, classes
