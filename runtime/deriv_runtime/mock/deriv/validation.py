"""Deriv's ``InputValidationFailed`` details: how a request breaks its schema, by field path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["field_problems"]


def field_problems(validator: Any, request: Mapping[str, Any]) -> dict[str, str]:
    """``{field path: message}`` for each way ``request`` breaks the jsonschema-rs ``validator``
    (empty: valid): a missing field and an unexpected one by their own path, any other error by
    the path of the value (``<request>``: the request itself); the first error of a path wins."""
    details: dict[str, str] = {}
    for error in validator.iter_errors(request):
        path = [str(p) for p in error.instance_path]
        kind: Any = error.kind
        kind_name = type(kind).__name__
        if kind_name == "Required":
            fields = [".".join([*path, str(kind.property)])]
        elif kind_name == "AdditionalProperties":
            fields = [".".join([*path, str(name)]) for name in kind.unexpected]
        else:
            fields = [".".join(path) or "<request>"]
        for field in fields:
            details.setdefault(field, error.message)
    return details
