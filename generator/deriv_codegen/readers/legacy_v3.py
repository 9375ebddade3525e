"""Reader for the Deriv WebSocket API v3 documentation: ``config/v3/<call>/{send,receive,example}.json``.

One folder per call (JSON Schema draft-04): ``send.json`` is the request, ``receive.json`` the answer
(its ``msg_type`` enum says which message types answer it), ``example.json`` a sample request. The
calls use the same WebSocket framing as the Options API (``req_id``, ``msg_type``, ``subscribe: 1``,
``forget``), so each becomes an :class:`~deriv_codegen.ir.Operation` bound to ``deriv-ws``, exactly as
the Options reader builds them (:mod:`deriv_codegen.readers.deriv_ws`); there is no REST part.

The pinned bundle is GitHub's source archive of the documentation repository: every file outside
``config/v3/`` is ignored without a word; a file inside it that is not one of the three is reported.
A call folder without ``send.json`` or ``receive.json`` is reported and left out.

Corrections the project makes to the documentation live in the override file, as JSON Patch
(RFC 6902) operations on one file each; a patch that no longer applies (upstream fixed the file)
is reported, never an error::

    [[reader.patch]]
    file = "mt5_login_list/receive.json"           # under config/v3/
    op = "move"                                    # add, replace, remove, move
    from = "/properties/.../eligible_to_migrate/items"
    path = "/properties/.../eligible_to_migrate/properties"
    why = "an object's properties written as items"
"""

from __future__ import annotations

import copy
from typing import Any

from ..config import ApiConfig
from ..errors import BundleError, LimitExceeded, Problem, SourcesError
from ..ir import ApiIR, BundleInfo
from ..layouts import V3_CALL_FILE, v3_folder
from .deriv_ws import call_key, msg_types_of, properties, ws_operation
from .files import BundleFiles

#: The folder of call schemas inside the documentation repository.
V3_FOLDER = "config/v3/"


def read_v3_bundle(files: BundleFiles, info: BundleInfo, config: ApiConfig | None = None) -> ApiIR:
    """The IR of the v3 documentation, read as published (``config`` only names methods: ``[methods]``)."""
    ir = ApiIR(bundle=info)
    methods = config.methods if config is not None else {}
    patches = _patches(config.reader.get("patch", []) if config is not None else [])
    calls: dict[str, dict[str, str]] = {}
    folder = v3_folder(files.names())
    for name in files.names():
        if not name.startswith(folder):
            continue
        m = V3_CALL_FILE.match(name.removeprefix(folder))
        if m is None:
            ir.problems.append(Problem(name, "file not recognised in this layout; ignored", "skipped"))
            continue
        calls.setdefault(m["call"], {})[m["role"]] = name
    if not calls:
        raise BundleError(f"{files.location}: no {V3_FOLDER}<call>/send.json in the bundle")
    for call in sorted(calls):
        _read_call(call, calls[call], files, ir, methods, patches, folder)
    for file in sorted(set(patches) - {n.removeprefix(folder) for c in calls.values() for n in c.values()}):
        ir.problems.append(Problem(f"{folder}{file}", "[reader.patch] names a file the bundle does not have"))
    return ir


_OPS = frozenset({"add", "replace", "remove", "move"})


def _patches(entries: Any) -> dict[str, list[dict[str, Any]]]:
    """The ``[[reader.patch]]`` entries by file, checked for shape (the project's own file: errors raise)."""
    where = "overrides [[reader.patch]]"
    if not isinstance(entries, list):
        raise SourcesError(f"{where}: must be an array of tables")
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("op") not in _OPS:
            raise SourcesError(f"{where}: each patch needs op = one of {', '.join(sorted(_OPS))}: {entry!r}")
        for key in ("file", "path", "why"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise SourcesError(f"{where}: each patch needs {key} (a string): {entry!r}")
        if entry["op"] == "move" and not isinstance(entry.get("from"), str):
            raise SourcesError(f"{where}: a move needs from: {entry!r}")
        if entry["op"] in ("add", "replace") and "value" not in entry:
            raise SourcesError(f"{where}: {entry['op']} needs value: {entry!r}")
        out.setdefault(entry["file"], []).append(entry)
    return out


def _pointer(doc: Any, path: str) -> tuple[Any, str]:
    """The container of RFC 6901 pointer ``path`` in ``doc`` and the last key (KeyError if absent)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
    if not path.startswith("/") or not parts:
        raise KeyError(path)
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if not isinstance(node, dict):
        raise KeyError(path)
    return node, parts[-1]


def _apply(doc: Any, patch: dict[str, Any]) -> None:
    op = patch["op"]
    parent, key = _pointer(doc, patch["path"])
    if op == "remove":
        del parent[key]
    elif op == "replace":
        if key not in parent:
            raise KeyError(patch["path"])
        parent[key] = copy.deepcopy(patch["value"])
    elif op == "add":
        parent[key] = copy.deepcopy(patch["value"])
    else:  # move
        source, old = _pointer(doc, patch["from"])
        value = source.pop(old)
        if key in parent:
            source[old] = value
            raise KeyError(patch["path"])
        parent[key] = value


def _load(files: BundleFiles, name: str, ir: ApiIR) -> Any:
    try:
        return files.json(name)
    except LimitExceeded:
        raise  # a limit stops the run; an unreadable file is only reported
    except BundleError as exc:
        ir.problems.append(Problem(name, str(exc), "skipped"))
        return None


def _read_call(
    call: str,
    roles: dict[str, str],
    files: BundleFiles,
    ir: ApiIR,
    methods: dict[str, str],
    patches: dict[str, list[dict[str, Any]]],
    folder: str,
) -> None:
    where = f"{folder}{call}/"
    missing = [f"{role}.json" for role in ("send", "receive") if role not in roles]
    if missing:
        ir.problems.append(Problem(where, f"no {' or '.join(missing)}; call skipped", "skipped"))
        return
    request = _load(files, roles["send"], ir)
    response = _load(files, roles["receive"], ir)
    if not isinstance(request, dict) or not isinstance(response, dict):
        for role, doc in (("send", request), ("receive", response)):
            if doc is not None and not isinstance(doc, dict):
                ir.problems.append(
                    Problem(roles[role], "schema is not a JSON object; call skipped", "skipped")
                )
        return
    for role, doc in (("send", request), ("receive", response)):
        file = roles[role].removeprefix(folder)
        for patch in patches.get(file, []):
            try:
                _apply(doc, patch)
            except (KeyError, IndexError, ValueError, TypeError):
                ir.problems.append(
                    Problem(
                        roles[role],
                        f"[reader.patch] {patch['op']} {patch['path']} no longer applies (fixed upstream?); "
                        "remove it from the override file",
                    )
                )
    name = call_key(call, properties(request), msg_types_of(response))
    if name is None:
        ir.problems.append(
            Problem(roles["send"], "the request has no property naming the call; call skipped", "skipped")
        )
        return
    examples: tuple[Any, ...] = ()
    if "example" in roles:
        example = _load(files, roles["example"], ir)
        if example is not None:
            examples = (example,)
    ir.operations.append(
        ws_operation(name, request, response, (roles["send"], roles["receive"]), methods, examples)
    )
