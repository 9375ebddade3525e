"""Request parameters: reading a query string as Deribit's HTTP GET sends it, checking params
against a method's parameters, and the JSON-RPC errors the mock answers with.

Query values are typed by the parameter's schema: ``integer`` and ``number`` in plain decimal,
``boolean`` as ``true`` / ``false``, an ``array`` as one ``name=value`` pair per item (``form``,
``explode``); anything else (and every unknown name) stays text. A value that does not read as its
type is kept as text, so the check then reports it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from .spec import MethodSpec

__all__ = ["RpcError", "check_params", "decode_query", "invalid_params"]

_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class RpcError(Exception):
    """A JSON-RPC error answer: ``code``, ``message`` and optional ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.data = data

    def error(self) -> dict[str, Any]:
        """The ``error`` member of the answer."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


def invalid_params(param: str, reason: str) -> RpcError:
    """Deribit's answer to a bad parameter: ``-32602 Invalid params``, naming it and why."""
    return RpcError(-32602, "Invalid params", {"param": param, "reason": reason})


def _scalar(text: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds and _INTEGER.fullmatch(text):
        return int(text)
    if "number" in kinds and _NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return int(value) if _INTEGER.fullmatch(text) else value
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def decode_query(method: MethodSpec, query: Mapping[str, list[str]]) -> dict[str, Any]:
    """The params a GET query string carries (parsed by the HTTP server into ``name -> values``)."""
    params: dict[str, Any] = {}
    for name, values in query.items():
        spec = method.params.get(name)
        schema = spec.schema if spec is not None else {}
        if schema.get("type") == "array":
            items = schema.get("items")
            item_schema: Mapping[str, Any] = items if isinstance(items, Mapping) else {}
            params[name] = [_scalar(v, item_schema) for v in values]
        elif values:
            params[name] = _scalar(values[0], schema)
    return params


def check_params(method: MethodSpec, params: Any) -> None:
    """Raise :func:`invalid_params` for the first way ``params`` break the method's parameters
    (missing required ones, wrong types, values outside an enum). Unknown names are allowed."""
    if not isinstance(params, Mapping):
        raise invalid_params("params", "params must be an object (named parameters)")
    if method.validator is None:
        method.validator = jsonschema_rs.validator_for(method.params_schema)
    for error in method.validator.iter_errors(dict(params)):
        path = [str(p) for p in error.instance_path]
        kind: Any = error.kind
        if type(kind).__name__ == "Required":
            raise invalid_params(str(kind.property), "required parameter is missing")
        raise invalid_params(path[0] if path else "params", error.message)
