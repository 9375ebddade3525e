"""The v3 API's schemas, read at run time: one ``send.json`` (request) and ``receive.json``
(response) per call, from Deriv's documentation bundle (``config/v3/<call>/{send,receive}.json``).

Three sources (:func:`load_spec`), never a copy in this repository:

* the bundle's zip (GitHub's source archive, or the mirror's ``deriv-api-docs-6571f72.zip``): the
  entries ``<prefix>/config/v3/<call>/send.json`` (``example.json`` is read too, when present);
* a directory: the extracted archive, its ``config/v3`` folder, or any folder whose sub-folders are
  calls (``<call>/send.json``);
* a generated package (``package=``): its ``schemas.json`` (``{"calls": {name: {"request", "response"}}}``,
  as the Options package ships it) or a ``schemas/`` folder in the bundle's layout.

Each call says what the mock enforces (:class:`LegacyCall`): ``auth_required``, ``auth_scopes``
(any one of them suffices), whether it streams (``subscribe``), its ``msg_type`` values, and its
``sensitive`` fields (redacted from records, masked in ``echo_req``).
"""

from __future__ import annotations

import importlib.resources
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from ...calls import CallInfo
from ..deriv.validation import field_problems

__all__ = ["LegacyCall", "LegacySpec", "load_spec"]

_DRAFT4 = "http://json-schema.org/draft-04/schema#"
_ENTRY = re.compile(r"(?:^|/)([a-z0-9_]+)/(send|receive|example)\.json$")
_ARCHIVE_PREFIX = re.compile(r"^deriv-api-docs-([0-9a-f]{7,40})/")
_ARCHIVE_FOLDER = re.compile(r"deriv-api-docs-([0-9a-f]{7,40})(?:[/\\]|$)")


@dataclass(frozen=True)
class LegacyCall:
    """One v3 call: its schemas and what the mock enforces for it."""

    name: str
    send: Mapping[str, Any]
    receive: Mapping[str, Any]
    example: Mapping[str, Any] | None = None
    #: Names of the request's ``sensitive`` fields, at any depth.
    sensitive: frozenset[str] = field(default_factory=frozenset)
    #: ``(path, name)`` of properties the response schema both requires and forbids
    #: (``required`` but not in ``properties`` under ``additionalProperties: false``).
    contradictions: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    #: ``(upstream pattern, pattern enforced)`` of each PCRE/POSIX-only pattern rewritten for the
    #: validator (``\x{b0}``, ``[[:xdigit:]]``); an enforced ``None``: not checked at all.
    rewritten_patterns: tuple[tuple[str, str | None], ...] = ()

    @property
    def auth_required(self) -> bool:
        return bool(self.send.get("auth_required"))

    @property
    def auth_scopes(self) -> tuple[str, ...]:
        return tuple(str(s) for s in self.send.get("auth_scopes") or ())

    @property
    def streams(self) -> bool:
        return "subscribe" in (self.send.get("properties") or {})

    @property
    def msg_types(self) -> tuple[str, ...]:
        msg_type = (self.receive.get("properties") or {}).get("msg_type") or {}
        return tuple(str(v) for v in msg_type.get("enum") or (self.name,))

    def info(self) -> CallInfo:
        return CallInfo(
            name=self.name,
            auth_required=self.auth_required,
            auth_scopes=self.auth_scopes,
            streams=self.streams,
            msg_types=self.msg_types,
        )


@dataclass(frozen=True)
class LegacySpec:
    """Every call of the v3 API; ``source`` says where they were read, ``version`` the bundle's
    commit (from the archive's ``deriv-api-docs-<commit>/`` prefix) when known."""

    source: str
    version: str
    calls: Mapping[str, LegacyCall]
    _validators: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def identify(self, request: Mapping[str, Any]) -> str | None:
        """The call a request is for: its first key that names a call (v3 requests are keyed by the call)."""
        for key in request:
            if key in self.calls:
                return str(key)
        return None

    def validator(self, call: str, kind: str) -> Any:
        """The (cached) jsonschema-rs validator of ``call``'s ``send`` or ``receive`` schema."""
        key = f"{kind}:{call}"
        found = self._validators.get(key)
        if found is None:
            schema = self.calls[call].send if kind == "send" else self.calls[call].receive
            found = self._validators[key] = jsonschema_rs.validator_for(dict(schema))
        return found

    def request_problems(self, call: str, request: Mapping[str, Any]) -> dict[str, str]:
        """``{field path: message}`` for each way ``request`` breaks ``send.json`` (empty: valid)."""
        return field_problems(self.validator(call, "send"), request)

    def response_problems(self, call: str, message: Mapping[str, Any]) -> list[str]:
        """How ``message`` breaks ``receive.json``, the schema's own contradictions excepted."""
        known = self.calls[call].contradictions
        problems = []
        for error in self.validator(call, "receive").iter_errors(message):
            where = ".".join(str(p) for p in error.instance_path)
            kind: Any = error.kind
            if type(kind).__name__ == "AdditionalProperties" and all(
                (_generic_path(where), str(n)) in known for n in kind.unexpected
            ):
                continue
            problems.append(f"{where or '<message>'}: {error.message}")
        return problems


def _generic_path(path: str) -> str:
    """``account_list.0`` -> ``account_list.*`` (array indexes do not matter)."""
    return ".".join("*" if part.isdigit() else part for part in path.split(".")) if path else ""


def _sensitive(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, Mapping):
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, Mapping) and sub.get("sensitive"):
                found.add(str(name))
            found |= _sensitive(sub)
        items = schema.get("items")
        if isinstance(items, Mapping):
            found |= _sensitive(items)
    return found


def _contradictions(schema: Any, path: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    if not isinstance(schema, Mapping):
        return found
    properties = schema.get("properties") or {}
    if schema.get("additionalProperties") is False:
        found |= {(path, str(name)) for name in schema.get("required") or () if name not in properties}
    for name, sub in properties.items():
        found |= _contradictions(sub, f"{path}.{name}" if path else str(name))
    items = schema.get("items")
    if isinstance(items, Mapping):
        found |= _contradictions(items, f"{path}.*" if path else "*")
    return found


_POSIX_CLASSES = {
    "xdigit": "0-9A-Fa-f",
    "digit": "0-9",
    "alpha": "A-Za-z",
    "alnum": "0-9A-Za-z",
    "upper": "A-Z",
    "lower": "a-z",
    "space": "\\s",
    "word": "\\w",
}


def _ecma(pattern: str) -> str:
    """``pattern`` without the PCRE/POSIX-only syntax ECMA regexes lack (``\\x{b0}``, ``[:xdigit:]``)."""
    pattern = re.sub(r"\\x\{([0-9a-fA-F]{1,4})\}", lambda m: "\\u" + m.group(1).rjust(4, "0"), pattern)
    return re.sub(r"\[:([a-z]+):\]", lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), pattern)


def _enforceable(pattern: str) -> bool:
    try:
        jsonschema_rs.validator_for({"$schema": _DRAFT4, "type": "string", "pattern": pattern})
    except (ValueError, jsonschema_rs.ValidationError):
        return False
    return True


def _portable(schema: Any, notes: dict[str, str | None]) -> Any:
    """``schema`` with each pattern the validator refuses rewritten (:func:`_ecma`) or, failing
    that, left out; ``notes`` collects ``upstream -> enforced`` (``None``: left out)."""
    if isinstance(schema, list):
        return [_portable(item, notes) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            if value not in notes and _enforceable(value):
                out[key] = value
                continue
            if value not in notes:
                rewritten = _ecma(value)
                notes[value] = rewritten if _enforceable(rewritten) else None
            if notes[value] is not None:
                out[key] = notes[value]
        else:
            out[key] = _portable(value, notes)
    return out


def _call(name: str, send: Any, receive: Any, example: Any = None) -> LegacyCall:
    if not isinstance(send, Mapping) or not isinstance(receive, Mapping):
        raise LookupError(f"{name}: send.json and receive.json must be JSON objects")
    notes: dict[str, str | None] = {}
    send, receive = _portable(send, notes), _portable(receive, notes)
    return LegacyCall(
        name=name,
        send=send,
        receive=receive,
        example=example if isinstance(example, Mapping) else None,
        sensitive=frozenset(_sensitive(send)),
        contradictions=frozenset(_contradictions(receive)),
        rewritten_patterns=tuple((k, v) for k, v in notes.items() if v != k),
    )


def _assemble(source: str, version: str, files: Mapping[str, Mapping[str, bytes]]) -> LegacySpec:
    calls = {}
    for name in sorted(files):
        parts = files[name]
        if "send" not in parts or "receive" not in parts:
            continue
        example = orjson.loads(parts["example"]) if "example" in parts else None
        calls[name] = _call(name, orjson.loads(parts["send"]), orjson.loads(parts["receive"]), example)
    if not calls:
        raise LookupError(f"{source}: no <call>/send.json + receive.json found (a config/v3 folder?)")
    return LegacySpec(source, version, calls)


def _from_zip(path: Path) -> LegacySpec:
    files: dict[str, dict[str, bytes]] = {}
    version = ""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        inside_v3 = any("/config/v3/" in f"/{n}" for n in names)
        for entry in names:
            match = _ENTRY.search(entry)
            if match is None or (inside_v3 and "/config/v3/" not in f"/{entry}"):
                continue
            files.setdefault(match.group(1), {})[match.group(2)] = archive.read(entry)
            prefix = _ARCHIVE_PREFIX.match(entry)
            if prefix is not None:
                version = prefix.group(1)
    return _assemble(str(path), version, files)


def _children(folder: Traversable) -> Iterator[Traversable]:
    return (child for child in folder.iterdir() if child.is_dir())


def _calls_folder(folder: Traversable) -> Traversable | None:
    """The folder whose sub-folders are calls: ``folder`` itself, ``config/v3`` under it, or under
    its single sub-folder (an extracted archive)."""
    candidates = [folder, folder.joinpath("config", "v3")]
    candidates += [child.joinpath("config", "v3") for child in _children(folder)]
    for candidate in candidates:
        if candidate.is_dir() and any(c.joinpath("send.json").is_file() for c in _children(candidate)):
            return candidate
    return None


def _from_folder(folder: Traversable, source: str) -> LegacySpec:
    calls_folder = _calls_folder(folder)
    if calls_folder is None:
        raise LookupError(f"{source}: no <call>/send.json + receive.json found (a config/v3 folder?)")
    files: dict[str, dict[str, bytes]] = {}
    for child in _children(calls_folder):
        for kind in ("send", "receive", "example"):
            entry = child.joinpath(f"{kind}.json")
            if entry.is_file():
                files.setdefault(child.name, {})[kind] = entry.read_bytes()
    match = _ARCHIVE_FOLDER.search(str(calls_folder))
    version = match.group(1) if match is not None else ""
    return _assemble(source, version, files)


def _from_package(package: str) -> LegacySpec:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError as exc:
        raise LookupError(f"{package!r} is not an importable package: {exc}") from None
    bundled = root.joinpath("schemas.json")
    if bundled.is_file():
        data = orjson.loads(bundled.read_bytes())
        calls = {
            str(name): _call(str(name), pair.get("request"), pair.get("response"), pair.get("example"))
            for name, pair in (data.get("calls") or {}).items()
        }
        if not calls:
            raise LookupError(f"{package}/schemas.json lists no calls")
        return LegacySpec(f"{package}/schemas.json", str(data.get("version", "")), calls)
    folder = root.joinpath("schemas")
    if folder.is_dir():
        return _from_folder(folder, f"{package}/schemas")
    raise LookupError(f"{package!r} ships neither schemas.json nor a schemas/ folder")


def load_spec(source: str | Path | None = None, *, package: str | None = None) -> LegacySpec:
    """Read the v3 schemas from ``source`` (a zip or a directory) or ``package`` (one of them).

    Raises :class:`LookupError` when nothing usable is found there."""
    if (source is None) == (package is None):
        raise TypeError(
            "give the v3 schemas' zip or directory (source) or a package shipping them (package=)"
        )
    if package is not None:
        return _from_package(package)
    path = Path(str(source)).expanduser()
    if path.is_dir():
        return _from_folder(path, str(path))
    if path.is_file() and zipfile.is_zipfile(path):
        return _from_zip(path)
    raise LookupError(f"{path}: not a zip of the v3 schemas nor a directory holding them")
