"""Bundle layouts: how an upstream bundle is packaged, and what it must contain.

A layout names the container (a zip or a single JSON document) and a check that the bundle has
the files its reader needs. Fetching uses it to refuse a wrong file before it reaches the cache;
readers are registered per layout in :mod:`deriv_codegen.readers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .errors import SourcesError


@dataclass(frozen=True)
class Layout:
    name: str
    container: str  # "zip" or "json"
    suffix: str  # file suffix used in the cache
    #: Given the member names of a zip, return a description of each missing required file.
    missing: Callable[[Sequence[str]], list[str]]
    description: str


def top_level(names: Sequence[str]) -> list[str]:
    """Top-level file names, after stripping one leading folder shared by every entry."""
    files = [n for n in names if not n.endswith("/") and not n.startswith("__MACOSX/")]
    heads = {n.split("/", 1)[0] for n in files}
    if len(heads) == 1 and files and all("/" in n for n in files):
        files = [n.split("/", 1)[1] for n in files]
    return [n for n in files if "/" not in n]


def _needs(*patterns: str) -> Callable[[Sequence[str]], list[str]]:
    def check(names: Sequence[str]) -> list[str]:
        flat = top_level(names)
        return [p for p in patterns if not any(fnmatchcase(n, p) for n in flat)]

    return check


def strip_shared_folder(names: Sequence[str]) -> list[str]:
    """File names, after stripping one leading folder shared by every entry (a source archive's)."""
    files = [n for n in names if not n.endswith("/") and not n.startswith("__MACOSX/")]
    heads = {n.split("/", 1)[0] for n in files}
    if len(heads) == 1 and files and all("/" in n for n in files):
        files = [n.split("/", 1)[1] for n in files]
    return files


#: ``<call>/send.json`` (and ``receive.json``, ``example.json``) under ``config/v3/`` of the v3 documentation.
V3_CALL_FILE = re.compile(r"^(?P<call>[^/]+)/(?P<role>send|receive|example)\.json$")


def v3_folder(names: Sequence[str]) -> str:
    """Where the call folders are: ``config/v3/`` in a source archive; ``v3/`` or ``""`` in a directory
    given as ``config`` or ``config/v3`` itself (a folder shared by every file is stripped)."""
    for prefix in ("config/v3/", "v3/"):
        if any(n.startswith(prefix) for n in names):
            return prefix
    return ""


def _v3_calls(names: Sequence[str]) -> list[str]:
    roles: dict[str, set[str]] = {}
    files = strip_shared_folder(names)
    prefix = v3_folder(files)
    for name in files:
        m = V3_CALL_FILE.match(name.removeprefix(prefix)) if name.startswith(prefix) else None
        if m:
            roles.setdefault(m["call"], set()).add(m["role"])
    if not any({"send", "receive"} <= r for r in roles.values()):
        return ["config/v3/<call>/send.json with its receive.json"]
    return []


def _nothing(names: Sequence[str]) -> list[str]:
    return []


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout(
            name="deriv-options-zip",
            container="zip",
            suffix=".zip",
            missing=_needs("*_request.schema.json", "*_response.schema.json", "rest-api-openapi.json"),
            description="flat zip of <call>_request/_response.schema.json plus rest-api-openapi.json",
        ),
        Layout(
            name="deriv-v3-docs-zip",
            container="zip",
            suffix=".zip",
            missing=_v3_calls,
            description="source archive of the Deriv API docs with config/v3/<call>/send.json, "
            "receive.json and example.json (JSON Schema draft-04)",
        ),
        Layout(
            name="deribit-openapi",
            container="json",
            suffix=".json",
            missing=_nothing,
            description="the Deribit API v2 OpenAPI 3.0 document (a single JSON file)",
        ),
        Layout(
            name="json-document",
            container="json",
            suffix=".json",
            missing=_nothing,
            description="a single JSON document",
        ),
    )
}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        known = ", ".join(sorted(LAYOUTS))
        raise SourcesError(f"unknown bundle layout {name!r}; known layouts: {known}") from None
