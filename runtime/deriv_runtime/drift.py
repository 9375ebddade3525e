"""Answers that drift from their schema: read anyway, the drift reported, the raw message kept.

Real servers send what their schemas do not say: fields the schema does not list, required fields
left out, ``{}`` where a list is documented, a number where a string is. A client that refuses the
whole message for one such field loses the rest of it (the balance, the contract id, the tick).
So, in the default (tolerant) mode, an answer that fails validation is read **field by field**:

* every field that validates is read as usual (nested models are instances of their classes);
* a field that does not keeps the value **as received** (``authorize.country`` stays ``5``; a
  list documented as ``list[Item]`` that came as ``{}`` stays ``{}``). Containers are entered
  first: one bad item of a list of models leaves the other items typed, and the bad item is
  still its model with only its bad field raw; of a union, the member that keeps most of the
  value typed is chosen;
* a required field that is missing is ``None`` (and not in ``model_fields_set``);
* fields the schema does not list are no drift at all: they are kept in ``model_extra``, as always.

Each model built this way carries a report, read with :func:`drift_of` and :func:`raw_of`::

    answer = await client.authorize(token)
    for d in deriv_runtime.drift_of(answer):      # () when the answer matched its schema
        print(d)                               # authorize.country: expected str, got number (string_type)
    deriv_runtime.raw_of(answer)                  # the message as received (None when nothing drifted)

A :class:`Drift` names the **path** (wire names and list indexes), what the schema expects, the
JSON type that came and pydantic's error types, never the value (an answer may carry a token or an
OTP URL). Nested models carry their own part of the report, with paths relative to themselves.
Every drift is also logged once per call and field (``deriv_runtime.drift`` logger, WARNING; list
indexes and map keys folded into ``[*]`` and ``*``, so a drifted field of every item of a list is
one record; at most :data:`MAX_LOGGED` pairs remembered), never per message and never with values.

The report lives in the model's ``__pydantic_private__`` (under a name no field can have): it
survives ``copy``/``model_copy``/pickling, and reading it costs nothing on answers that validate.

Some answers still cannot be read: one that is not an object at all (a string where a model is
expected), a rule of the model itself, or a value with no model to carry its report (a JSON-RPC
result typed ``list[int]`` that holds a string). Those raise
:class:`~deriv_runtime.errors.ResponseError` with the message in ``.raw``, as before.

**Strict mode** (``strict=True`` clients) reads nothing tolerantly: the contract check against the
JSON schema, and then the model, raise :class:`DriftError` (a ``ResponseError``) whose ``drift``
lists every violation with its path.

**Cost.** Only an answer that fails validation comes here: the hot paths call the models' core
validators as before and catch ``ValidationError`` only.
"""

from __future__ import annotations

import collections.abc
import logging
import threading
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, RootModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from .errors import ResponseError, problems

__all__ = ["MAX_LOGGED", "Drift", "DriftError", "drift_of", "raw_of", "read_drifted"]

_LOG = logging.getLogger("deriv_runtime.drift")

#: How many (call, field) pairs the log remembers (the oldest is forgotten first).
MAX_LOGGED = 4096

#: The key of the report in a model's ``__pydantic_private__`` (no field or private attribute can
#: be named like this: pydantic refuses dunder names).
_KEY = "__deriv_drift__"

#: A path element standing for any list index / any key of a map, in :attr:`Drift.field`.
_ANY_INDEX = "[*]"
_ANY_KEY = "*"


@dataclass(frozen=True, slots=True)
class Drift:
    """One place where an answer differs from its schema. Never holds the value itself."""

    #: Where, in the answer: wire names and list indexes (``("authorize", "account_list")``).
    path: tuple[str | int, ...]
    #: The same place with list indexes and map keys folded (``active_symbols[*].pip_size``): what
    #: the log is deduplicated on.
    field: str
    #: What the schema says the value is (``str``, ``list[Item]``, ``'authorize'``, or a contract rule).
    expected: str
    #: The JSON type that came (``number``, ``object``, ``array``, ``string``, ``boolean``, ``null``),
    #: or ``missing``.
    got: str
    #: The broken rules: pydantic's error types (``string_type``, ``missing``) or the JSON-schema
    #: keyword of a contract check (``type``, ``required``, ``enum``).
    problem: str

    @property
    def where(self) -> str:
        """:attr:`path` as text: ``active_symbols[3].pip_size`` (``<message>`` for the whole)."""
        return render_path(self.path)

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected}, got {self.got} ({self.problem})"


class DriftError(ResponseError):
    """Strict mode: an answer that breaks its schema. ``drift`` lists every violation with its path;
    ``raw`` is the message as received. The text names the first ones, never a value."""

    def __init__(self, text: str, drift: Sequence[Drift], raw: Any = None) -> None:
        super().__init__(text, raw=raw)
        self.drift = tuple(drift)


@dataclass(frozen=True, slots=True)
class _Report:
    drift: tuple[Drift, ...]
    raw: Any


def _report_of(result: object) -> _Report | None:
    if not isinstance(result, BaseModel):
        return None
    try:
        private = object.__getattribute__(result, "__pydantic_private__")
    except AttributeError:
        return None
    found = private.get(_KEY) if isinstance(private, dict) else None
    return found if isinstance(found, _Report) else None


def drift_of(result: object) -> tuple[Drift, ...]:
    """Where ``result`` (a model read from an answer) differs from its schema: ``()`` if nowhere.
    Paths are relative to ``result`` (a nested model reports its own part)."""
    report = _report_of(result)
    return report.drift if report is not None else ()


def raw_of(result: object) -> Any:
    """The message ``result`` was read from, as received, if it drifted (``None`` otherwise: a model
    that matched its schema holds the whole message already, unknown fields in ``model_extra``).
    For a whole answer this is the whole message (a JSON-RPC answer with its ``usIn``..., a
    notification with its channel); for a nested model, its own object."""
    report = _report_of(result)
    return report.raw if report is not None else None


def _attach(model: BaseModel, report: _Report) -> None:
    private = object.__getattribute__(model, "__pydantic_private__")
    if not isinstance(private, dict):
        private = {}
        object.__setattr__(model, "__pydantic_private__", private)
    private[_KEY] = report


# -- reading a drifted value ---------------------------------------------------------------------


#: One drift as found: concrete path, folded path, expected, got, problem.
_Found = tuple[tuple[str | int, ...], tuple[str | int, ...], str, str, str]


def read_drifted(
    annotation: Any,
    value: Any,
    error: ValidationError,
    *,
    call: str,
    what: str,
    raw: Any,
    strict: bool = False,
) -> Any:
    """``value`` read as ``annotation`` although it failed validation with ``error`` (see the module
    docstring). ``call`` names the call (or channel) in the log; ``what`` starts the message of the
    :class:`ResponseError` raised when nothing can be read (``"ticks: cannot read the message"``);
    ``raw`` is the whole message. ``strict``: raise :class:`DriftError` listing every violation."""
    errors = error.errors(include_url=False, include_input=False, include_context=False)
    walk = _Walk(raw)
    result = walk.value(annotation, value, errors, (), ())
    found = tuple(_drift(f) for f in walk.found)
    text = f"{what}: {problems(error)}"
    if strict:
        raise DriftError(text, found, raw=raw) from None
    if walk.loose or not found:
        raise ResponseError(text, raw=raw) from None
    _log(call, found)
    return result


class _Walk:
    """One tolerant read: the drifts found (paths from the top), whether one has no model to carry
    it, and how many models are being built around the current value."""

    def __init__(self, top_raw: Any) -> None:
        self.found: list[_Found] = []
        self.loose = False
        self.depth = 0
        self.top_raw = top_raw

    def value(
        self,
        annotation: Any,
        value: Any,
        errors: list[Any],
        path: tuple[str | int, ...],
        folded: tuple[str | int, ...],
    ) -> Any:
        """``value`` as ``annotation`` as far as it goes, given its validation ``errors`` (their
        locations relative to ``value``)."""
        core = _strip(annotation)
        if isinstance(core, type) and issubclass(core, BaseModel):
            if issubclass(core, RootModel):
                return self.root_model(core, value, errors, path, folded)
            if isinstance(value, Mapping) and all(e["loc"] for e in errors):
                return self.model(core, value, errors, path, folded)
        elif _is_union(core):
            return self.union(core, value, errors, path, folded)
        else:
            origin, args = get_origin(core), get_args(core)
            located = all(e["loc"] for e in errors)  # errors of the items, not of the container
            if origin in _LISTS and len(args) == 1 and isinstance(value, list) and located:
                return self.items(args[0], value, errors, path, folded)
            if origin in _MAPS and len(args) == 2 and isinstance(value, Mapping) and located:
                return self.entries(args[1], value, errors, path, folded)
        return self.leaf(annotation, value, errors, path, folded)

    def leaf(
        self,
        annotation: Any,
        value: Any,
        errors: list[Any],
        path: tuple[str | int, ...],
        folded: tuple[str | int, ...],
    ) -> Any:
        """Keep ``value`` as received and report it."""
        if not self.depth:
            self.loose = True  # no model around it to carry the report
        kinds = ",".join(dict.fromkeys(str(e["type"]) for e in errors)) or "invalid"
        self.found.append((path, folded, describe(annotation), json_type(value), kinds))
        return value

    def model(
        self,
        cls: type[BaseModel],
        data: Mapping[str, Any],
        errors: list[Any],
        path: tuple[str | int, ...],
        folded: tuple[str | int, ...],
    ) -> BaseModel:
        by_key: dict[Any, list[Any]] = {}
        for e in errors:
            by_key.setdefault(e["loc"][0], []).append({**e, "loc": e["loc"][1:]})
        if not cls.__pydantic_complete__:  # a nested model of a deferred build: its fields resolved
            cls.model_rebuild()
        fields = _fields(cls)
        instance = cls.model_construct()
        assign = cls.__pydantic_validator__.validate_assignment
        unknown: dict[str, Any] = {}
        start = len(self.found)
        self.depth += 1
        try:
            for key, value in data.items():
                named = fields.get(key)
                if named is None:
                    if key in by_key:  # a model that forbids unknown fields: the raw message keeps it
                        self.leaf("no such field", value, by_key[key], (*path, key), (*folded, key))
                    else:
                        unknown[key] = value
                    continue
                name, info = named
                bad = by_key.get(key) or by_key.get(name)
                if bad is None:
                    try:
                        assign(instance, name, value)
                        continue
                    except ValidationError as exc:  # a rule of the model on this field: read it below
                        bad = [{**e, "loc": e["loc"][1:]} for e in exc.errors(include_url=False)]
                read = self.value(_annotation(info), value, bad, (*path, key), (*folded, key))
                instance.__dict__[name] = read
                instance.__pydantic_fields_set__.add(name)
            for key, bad in by_key.items():
                named = fields.get(key)
                if named is None or key in data or not any(e["type"] == "missing" for e in bad):
                    continue
                name, info = named
                if name in data or info.alias in data:
                    continue
                instance.__dict__[name] = None  # a required field left out: None, and not "set"
                expected = describe(_annotation(info))
                self.found.append(((*path, key), (*folded, key), expected, "missing", "missing"))
        finally:
            self.depth -= 1
        extra = instance.__pydantic_extra__  # (an assignment replaces the dict: looked up last)
        if extra is not None:
            extra.update(unknown)
        self._carry(instance, start, path, data)
        return instance

    def root_model(
        self,
        cls: type[RootModel[Any]],
        value: Any,
        errors: list[Any],
        path: tuple[str | int, ...],
        folded: tuple[str | int, ...],
    ) -> BaseModel:
        start = len(self.found)
        self.depth += 1
        try:
            if not cls.__pydantic_complete__:
                cls.model_rebuild()
            root = self.value(_annotation(cls.model_fields["root"]), value, errors, path, folded)
        finally:
            self.depth -= 1
        instance = cls.model_construct(root)
        self._carry(instance, start, path, value)
        return instance

    def _carry(self, instance: BaseModel, start: int, path: tuple[str | int, ...], data: Any) -> None:
        """Attach the drifts found inside ``instance`` to it, their paths relative to it."""
        n = len(path)
        mine = tuple(_drift((p[n:], f[n:], e, g, k)) for p, f, e, g, k in self.found[start:])
        _attach(instance, _Report(mine, self.top_raw if not path and not self.depth else data))

    def items(
        self,
        item: Any,
        value: list[Any],
        errors: list[Any],
        path: tuple[str | int, ...],
        folded: tuple[str | int, ...],
    ) -> list[Any]:
        by_index: dict[Any, list[Any]] = {}
        for e in errors:
            by_index.setdefault(e["loc"][0], []).append({**e, "loc": e["loc"][1:]})
        read = _adapter(item).validate_python
        out: list[Any] = []
        for i, element in enumerate(value):
            bad = by_index.get(i)
            if bad is None:
                try:
                    out.append(read(element))
                    continue
                except ValidationError as exc:
                    bad = exc.errors(include_url=False, include_input=False)
            out.append(self.value(item, element, bad, (*path, i), (*folded, _ANY_INDEX)))
        return out

    def entries(
        self,
        item: Any,
        value: Mapping[str, Any],
        errors: list[Any],
        path: tuple[str | int, ...],
        folded: tuple[str | int, ...],
    ) -> dict[str, Any]:
        by_key: dict[Any, list[Any]] = {}
        for e in errors:
            by_key.setdefault(e["loc"][0], []).append({**e, "loc": e["loc"][1:]})
        read = _adapter(item).validate_python
        out: dict[str, Any] = {}
        for key, element in value.items():
            bad = by_key.get(key)
            if bad is None:
                try:
                    out[key] = read(element)
                    continue
                except ValidationError as exc:
                    bad = exc.errors(include_url=False, include_input=False)
            out[key] = self.value(item, element, bad, (*path, key), (*folded, _ANY_KEY))
        return out

    def union(
        self,
        core: Any,
        value: Any,
        errors: list[Any],
        path: tuple[str | int, ...],
        folded: tuple[str | int, ...],
    ) -> Any:
        """The member that keeps most of ``value`` typed (fewest drifts; the first on a tie)."""
        best: tuple[int, Any] | None = None
        for member in get_args(core):
            if not _fits(member, value):
                continue
            try:
                return _adapter(member).validate_python(value)
            except ValidationError as exc:
                member_errors = exc.errors(include_url=False, include_input=False)
            start, loose = len(self.found), self.loose
            self.value(member, value, member_errors, path, folded)
            count = len(self.found) - start
            del self.found[start:]
            self.loose = loose
            if best is None or count < best[0]:
                best = (count, member)
        if best is None:
            return self.leaf(core, value, errors, path, folded)
        member = best[1]
        return self.value(member, value, _adapter(member).validate_python_errors(value), path, folded)


def _drift(found: _Found) -> Drift:
    path, folded, expected, got, problem = found
    return Drift(path, render_path(folded), expected, got, problem)


def render_path(path: Sequence[str | int]) -> str:
    """``("a", 3, "b")`` as ``a[3].b`` (``[*]`` kept as it is; ``<message>`` for the whole)."""
    text = ""
    for part in path:
        if isinstance(part, int) or part == _ANY_INDEX:
            text += f"[{part}]" if isinstance(part, int) else part
        else:
            text += f".{part}" if text else str(part)
    return text or "<message>"


_LISTS = (list, collections.abc.Sequence, collections.abc.MutableSequence)
_MAPS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
_NONE = type(None)


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (typing.Union, types.UnionType)


def _strip(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` and without ``None`` as a union member."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if _is_union(annotation):
        members = [m for m in get_args(annotation) if m is not _NONE]
        if len(members) == 1:
            return _strip(members[0])
        return typing.Union[tuple(members)]  # noqa: UP007 - built from a tuple of members
    return annotation


def _fits(member: Any, value: Any) -> bool:
    """Whether ``member`` is a container of the same JSON kind as ``value`` (the only members a
    drifted value is read into: a scalar that failed every member is kept as it is)."""
    core = _strip(member)
    if isinstance(core, type) and issubclass(core, BaseModel):
        return issubclass(core, RootModel) or isinstance(value, Mapping)
    origin = get_origin(core)
    if origin in _LISTS:
        return isinstance(value, list)
    if origin in _MAPS:
        return isinstance(value, Mapping)
    return False


def _annotation(info: FieldInfo) -> Any:
    """A field's annotation with its constraints (``Annotated[T, *metadata]``)."""
    if info.metadata:
        return Annotated[(info.annotation, *info.metadata)]
    return info.annotation


@lru_cache(maxsize=256)
def _fields(cls: type[BaseModel]) -> dict[str, tuple[str, FieldInfo]]:
    """Wire name (and attribute name) -> (attribute name, field) of ``cls``'s fields."""
    found: dict[str, tuple[str, FieldInfo]] = {}
    for name, info in cls.model_fields.items():
        found[name] = (name, info)
    for name, info in cls.model_fields.items():
        if isinstance(info.alias, str):
            found[info.alias] = (name, info)
        if isinstance(info.validation_alias, str):
            found[info.validation_alias] = (name, info)
    return found


class _Adapter:
    """A cached :class:`TypeAdapter` with the errors of a value, for the union's second pass."""

    def __init__(self, annotation: Any) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        self.validate_python = self._adapter.validate_python

    def validate_python_errors(self, value: Any) -> list[Any]:
        try:
            self._adapter.validate_python(value)
        except ValidationError as exc:
            return exc.errors(include_url=False, include_input=False)
        return []


@lru_cache(maxsize=1024)
def _cached_adapter(annotation: Any) -> _Adapter:
    return _Adapter(annotation)


def _adapter(annotation: Any) -> _Adapter:
    try:
        return _cached_adapter(annotation)
    except TypeError:  # an unhashable annotation: built each time (only drifted answers come here)
        return _Adapter(annotation)


def describe(annotation: Any) -> str:
    """What ``annotation`` expects, shortly: ``str``, ``list[Item]``, ``'authorize'``, ``A | B``."""
    core = _strip(annotation)
    if core is _NONE or core is None:
        return "null"
    if core is Any:
        return "any value"
    if isinstance(core, str):
        return core
    origin, args = get_origin(core), get_args(core)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if _is_union(core):
        return " | ".join(describe(a) for a in args)
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(describe(a) for a in args)}]"
    if isinstance(core, type):
        return core.__name__
    return str(core).replace("typing.", "")


def json_type(value: Any) -> str:
    """The JSON type of ``value``: ``object``, ``array``, ``string``, ``number``, ``boolean``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


# -- the log: once per call and field --------------------------------------------------------------

_LOGGED: dict[tuple[str, str], None] = {}
_LOGGED_LOCK = threading.Lock()


def _log(call: str, found: Sequence[Drift]) -> None:
    for d in found:
        key = (call, d.field)
        with _LOGGED_LOCK:
            if key in _LOGGED:
                continue
            while len(_LOGGED) >= MAX_LOGGED:
                del _LOGGED[next(iter(_LOGGED))]
            _LOGGED[key] = None
        _LOG.warning(
            "%s: the answer differs from its schema at %s: expected %s, got %s (%s); the field keeps "
            "the value as received (deriv_runtime.drift_of(result) lists every drift; logged once per "
            "call and field)",
            call,
            d.field,
            d.expected,
            d.got,
            d.problem,
        )
