"""The ``[reader]`` table of the Deribit override file, checked for shape.

See :mod:`deriv_codegen.readers.deribit` for what each key corrects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import SourcesError
from ..ir import JsonSchema

#: A method name: ``public/<name>`` or ``private/<name>`` (a leading ``/`` for paths).
METHOD_NAME = re.compile(r"^/?(?P<ns>public|private)/(?P<method>[A-Za-z_][A-Za-z0-9_]*)$")
_FIX_KEYS = frozenset({"required", "add_params", "rename_result_properties", "scopes", "websocket_only"})
_ADD_KEYS = frozenset(
    {"summary", "description", "tags", "params", "result", "scopes", "websocket_only", "answered"}
)


class Overrides:
    """The ``[reader]`` table of an override file, checked for shape (a malformed one is a
    :class:`~deriv_codegen.errors.SourcesError`: it is the project's own file)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.prose_types: dict[str, JsonSchema] = {}
        self.fix: dict[str, dict[str, Any]] = {}
        self.add: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, JsonSchema] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.servers: dict[str, str] = {}
        self.ws_servers: dict[str, str] = {}

    @classmethod
    def parse(cls, table: Mapping[str, Any], where: str) -> Overrides:
        o = cls(where)
        known = {"pin", "prose_types", "fix", "add", "schemas", "channels", "servers", "ws_servers"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise SourcesError(
                f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        o.prose_types = o._tables(table, "prose_types")
        o.fix = o._tables(table, "fix")
        o.add = o._tables(table, "add")
        o.schemas = o._tables(table, "schemas")
        o.channels = o._tables(table, "channels")
        o.servers = o._strings(table, "servers")
        o.ws_servers = o._strings(table, "ws_servers")
        for name, entry in o.fix.items():
            o._check_keys(f"fix.{name!r}", entry, _FIX_KEYS)
        for name, entry in o.add.items():
            o._check_keys(f"add.{name!r}", entry, _ADD_KEYS)
            if not METHOD_NAME.match(name):
                raise SourcesError(f"{where}: add.{name!r}: a method name is public/<name> or private/<name>")
            if not isinstance(entry.get("params", {}), Mapping):
                raise SourcesError(f"{where}: add.{name!r}.params must be a table of name = schema")
            result = entry.get("result", {})
            if isinstance(result, str) and result not in o.schemas:
                raise SourcesError(f"{where}: add.{name!r}.result names no schema of [reader.schemas]")
            if not isinstance(result, (str, Mapping)):
                raise SourcesError(f"{where}: add.{name!r}.result must be a schema or a schema's name")
        return o

    def _tables(self, table: Mapping[str, Any], key: str) -> dict[str, dict[str, Any]]:
        value = table.get(key, {})
        if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
            raise SourcesError(f"{self.where}: {key} must be a table of tables")
        return {str(k): _plain(v) for k, v in value.items()}

    def _strings(self, table: Mapping[str, Any], key: str) -> dict[str, str]:
        value = table.get(key, {})
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise SourcesError(f"{self.where}: {key} must be a table of url = description")
        return {str(k): str(v) for k, v in value.items()}

    def _check_keys(self, what: str, entry: Mapping[str, Any], allowed: frozenset[str]) -> None:
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise SourcesError(
                f"{self.where}: {what} has unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(allowed))}"
            )
        for key in ("required", "scopes", "tags"):
            value = entry.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SourcesError(f"{self.where}: {what}.{key} must be a list of strings")
        for key in ("add_params", "rename_result_properties"):
            if not isinstance(entry.get(key, {}), Mapping):
                raise SourcesError(f"{self.where}: {what}.{key} must be a table")
        for key in ("websocket_only", "answered"):
            if not isinstance(entry.get(key, False), bool):
                raise SourcesError(f"{self.where}: {what}.{key} must be true or false")


def _plain(value: Any) -> Any:
    """A deep copy of a TOML value as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
