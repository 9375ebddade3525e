"""The OpenAPI document as the REST mock uses it: operations (method, path template, parameters,
security), path matching, scopes, and parameter values from query strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

__all__ = ["APP_ID_HEADER", "INVALID", "Operation", "coerce", "oauth_scopes", "operations"]

APP_ID_HEADER = "Deriv-App-ID"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document."""

    key: str
    method: str
    path: str
    operation_id: str | None
    spec: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]
    #: Scope sets, one of which the bearer token must hold; ``None``: no token needed.
    security: tuple[frozenset[str], ...] | None
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    websocket: bool

    @property
    def statuses(self) -> list[int]:
        return sorted(int(s) for s in self.spec.get("responses", {}) if s.isdigit())

    @property
    def app_id_required(self) -> bool:
        return any(
            p.get("in") == "header"
            and str(p.get("name", "")).lower() == APP_ID_HEADER.lower()
            and p.get("required")
            for p in self.parameters
        )

    def documents(self, status: int) -> bool:
        return str(status) in self.spec.get("responses", {})

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in zip(self.names, found.groups(), strict=True)}


def _compile(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names: list[str] = []
    out = []
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", template):
        out.append(re.escape(literal))
        if name:
            names.append(name)
            out.append("([^/]+)")
    return re.compile("".join(out)), tuple(names)


def operations(document: Mapping[str, Any]) -> list[Operation]:
    default_security = document.get("security")
    found = []
    for path, item in (document.get("paths") or {}).items():
        shared = [p for p in item.get("parameters", ()) if isinstance(p, Mapping)]
        for method in _METHODS:
            spec = item.get(method)
            if not isinstance(spec, Mapping):
                continue
            own = [p for p in spec.get("parameters", ()) if isinstance(p, Mapping)]
            merged = {(p.get("in"), p.get("name")): p for p in [*shared, *own]}
            requirements = spec.get("security", default_security)
            security: tuple[frozenset[str], ...] | None = None
            if requirements and not any(not r for r in requirements):
                security = tuple(frozenset(s for scopes in r.values() for s in scopes) for r in requirements)
            pattern, names = _compile(path)
            found.append(
                Operation(
                    key=f"{method.upper()} {path}",
                    method=method.upper(),
                    path=path,
                    operation_id=spec.get("operationId"),
                    spec=spec,
                    parameters=tuple(merged.values()),
                    security=security,
                    pattern=pattern,
                    names=names,
                    websocket="101" in (spec.get("responses") or {}),
                )
            )
    # Most specific first: fewer templated segments, then longer paths.
    found.sort(key=lambda op: (len(op.names), -len(op.path)))
    return found


def oauth_scopes(document: Mapping[str, Any]) -> set[str]:
    """Every scope of the document's OAuth 2.0 security schemes."""
    scopes: set[str] = set()
    for scheme in ((document.get("components") or {}).get("securitySchemes") or {}).values():
        for flow in (scheme.get("flows") or {}).values():
            scopes.update((flow.get("scopes") or {}).keys())
    return scopes


INVALID = object()


def coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        try:
            return int(raw)
        except ValueError:
            return INVALID
    if "number" in kinds:
        try:
            return float(raw)
        except ValueError:
            return INVALID
    if "boolean" in kinds:
        lowered = raw.lower()
        return {"true": True, "false": False, "1": True, "0": False}.get(lowered, INVALID)
    if "array" in kinds:
        return raw.split(",")
    return raw
