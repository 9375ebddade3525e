"""Reading recordings for the traffic check (:mod:`deriv_runtime.traffic`): JSON, JSON Lines and
mock journals, as ``(location, message)`` pairs; what is not JSON comes as :class:`Garbage`."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from .traffic_results import Garbage

# -- reading recordings ------------------------------------------------------------------------------


def read_recording(path: str | Path) -> Iterator[tuple[str, Any]]:
    """``(location, message)`` for every message of a recording (module docstring); a line or value
    that is not a JSON object comes as :class:`Garbage` (or as the value, for a non-object inside
    valid JSON). ``"-"`` reads standard input. :class:`OSError` if the file cannot be read.

    A mock's ``--record`` journal is read as what the mock received: each ``request`` entry gives
    its ``message`` (secrets in it were redacted by the mock: a redacted field may break its
    pattern in the strict verdict), the other entries (connections, faults) are not messages."""
    for location, value in _read_values(path):
        if isinstance(value, Mapping) and "seq" in value and isinstance(value.get("kind"), str):
            if value["kind"] == "request" and isinstance(value.get("message"), Mapping):
                yield location, value["message"]
            continue
        yield location, value


def _read_values(path: str | Path) -> Iterator[tuple[str, Any]]:
    name = str(path)
    data = sys.stdin.buffer.read() if name == "-" else Path(path).read_bytes()
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        whole = _LINES
    if whole is not _LINES:
        if isinstance(whole, list):
            for i, item in enumerate(whole):
                yield f"{name}[{i}]", item
        else:
            yield name, whole
        return
    for number, raw in enumerate(data.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        where = f"{name}:{number}"
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            text = line.decode("utf-8", "replace")
            yield where, Garbage(text, f"not JSON ({str(exc).split(':', 1)[0]})")
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield f"{where}[{i}]", item
        else:
            yield where, value


_LINES = object()
