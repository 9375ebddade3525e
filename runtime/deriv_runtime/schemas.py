"""The upstream JSON schemas a generated package carries (``<package>/schemas.json``).

Used by the strict (contract-checking) mode of the clients and by the mock server. Loaded on first
use only, and cached.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class CallSchemas:
    request: Mapping[str, Any]
    response: Mapping[str, Any]


@dataclass(frozen=True)
class PackageSchemas:
    source: str
    version: str
    calls: Mapping[str, CallSchemas]


@functools.cache
def load_openapi(package: str) -> Mapping[str, Any]:
    """The OpenAPI document of the generated ``package``'s REST API (``openapi.json``)."""
    try:
        data: Mapping[str, Any] = orjson.loads(
            importlib.resources.files(package).joinpath("openapi.json").read_bytes()
        )
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise LookupError(f"{package!r} is not a generated client package with openapi.json: {exc}") from None
    return data


@functools.cache
def load_schemas(package: str) -> PackageSchemas:
    """Schemas of every call of the generated ``package`` (e.g. ``"deriv_options"``)."""
    try:
        data = orjson.loads(importlib.resources.files(package).joinpath("schemas.json").read_bytes())
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise LookupError(f"{package!r} is not a generated client package with schemas.json: {exc}") from None
    calls = {name: CallSchemas(c["request"], c["response"]) for name, c in data["calls"].items()}
    return PackageSchemas(str(data.get("source", "")), str(data.get("version", "")), calls)
