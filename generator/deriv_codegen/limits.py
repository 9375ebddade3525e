"""Limits on what a bundle may hold, so that a broken or hostile bundle fails fast in bounded memory.

    Limits                        the caps (frozen, with defaults); raised in the ``[limits]`` table of
                                  sources.toml or with command-line options
    zip_members(zf, limits, ...)  the members of an open zip, with the caps checked against the sizes
                                  the zip declares *and* against the bytes counted while reading
    check_tree(doc, limits, ...)  the enum and nesting caps on one parsed JSON document

Every cap raises :class:`~deriv_codegen.errors.LimitExceeded`, whose message names the file, the
limit and how to raise it. The defaults leave room of 10x and more over the largest upstream bundle
measured (deriv-options production_v20260630_0: 95 files, 362 KB uncompressed, largest file 134 KB,
largest schema 626 nodes after inlining its ``$ref``\\s, longest enum 35 values, deepest nesting 16).
"""

from __future__ import annotations

import copy
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import BundleError, LimitExceeded, SourcesError

__all__ = ["DEFAULT_LIMITS", "LIMITS", "Limits", "check_tree", "zip_members"]

_MIB = 1 << 20
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """Caps on a bundle; every field is a positive integer."""

    max_members: int = 2_000  # files in a bundle
    max_member_bytes: int = 4 * _MIB  # uncompressed size of one file
    max_bundle_bytes: int = 16 * _MIB  # uncompressed size of all files; also caps a download / archive
    max_schema_nodes: int = 20_000  # JSON values in one schema once its $refs are inlined
    max_enum_values: int = 1_000  # values of one enum
    max_depth: int = 160  # nesting of objects and arrays in one JSON document

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SourcesError(f"limit {f.name} must be a positive integer, not {value!r}")

    @classmethod
    def from_table(cls, table: Any, where: str) -> Limits:
        """Limits from a ``[limits]`` TOML table (defaults for the keys it leaves out)."""
        if not isinstance(table, Mapping):
            raise SourcesError(f"{where}: [limits] must be a table of name = positive integer")
        unknown = sorted(set(table) - set(LIMITS))
        if unknown:
            raise SourcesError(
                f"{where}: [limits] has unknown key(s) {', '.join(unknown)}; known: {', '.join(LIMITS)}"
            )
        try:
            return cls(**dict(table))
        except SourcesError as exc:
            raise SourcesError(f"{where}: [limits] {exc}") from None

    def raised(self, **overrides: int | None) -> Limits:
        """These limits with the given fields replaced (``None`` keeps a field as it is)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def exceeded(self, limit: str, where: str, detail: str) -> LimitExceeded:
        """The error for ``where`` going over ``limit``; ``detail`` says by how much."""
        value = getattr(self, limit)
        option = "--" + limit.replace("_", "-")
        return LimitExceeded(
            f"{where}: {detail}, over the limit {limit} = {value:,} ({LIMITS[limit]}). If you trust this "
            f"bundle, raise the limit with {option} N or `{limit} = N` in the [limits] table of "
            "schemas/sources.toml.",
            limit,
        )


#: Each limit and what it caps, in the order of the dataclass.
LIMITS: dict[str, str] = {
    "max_members": "files in one bundle",
    "max_member_bytes": "uncompressed bytes of one file in a bundle",
    "max_bundle_bytes": "uncompressed bytes of a whole bundle, and bytes of its archive or download",
    "max_schema_nodes": "JSON values in one schema after inlining its $refs",
    "max_enum_values": "values of one enum",
    "max_depth": "nesting depth of objects and arrays in one JSON document",
}
DEFAULT_LIMITS = Limits()


def zip_members(
    zf: zipfile.ZipFile, limits: Limits, what: str, *, keep: bool = True
) -> Iterator[tuple[str, bytes]]:
    """``(name, content)`` of each file in ``zf`` (content ``b""`` unless ``keep``), in archive order.

    The member count and the declared sizes are checked before anything is decompressed. Each
    member is then decompressed in chunks, counting the bytes, and allowed one byte more than its
    header declares: a member yielding that byte is refused, so a lying header cannot get past the
    caps (nor is its data silently cut short). Each member's CRC is checked at its end
    (``zipfile.BadZipFile``).
    Errors of the zip itself (``zipfile.BadZipFile``, ``zlib.error``, ...) are left to the caller.
    """
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > limits.max_members:
        raise limits.exceeded("max_members", what, f"the archive holds {len(infos):,} files")
    declared = 0
    for info in infos:
        if info.file_size > limits.max_member_bytes:
            raise limits.exceeded(
                "max_member_bytes",
                what,
                f"member {info.filename!r} declares {info.file_size:,} bytes uncompressed",
            )
        declared += info.file_size
        if declared > limits.max_bundle_bytes:
            raise limits.exceeded(
                "max_bundle_bytes", what, f"its members declare at least {declared:,} bytes uncompressed"
            )
    total = 0
    for info in infos:
        probe = copy.copy(info)
        probe.file_size = info.file_size + 1  # zipfile stops decompressing at the declared size
        del probe.CRC  # checked below instead, once the size is known to be the declared one
        chunks: list[bytes] = []
        size = 0
        crc = 0
        with zf.open(probe) as fh:
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
                total += len(chunk)
                if size > info.file_size:
                    raise BundleError(
                        f"{what}: member {info.filename!r} holds more than the {info.file_size:,} bytes its "
                        "header declares; the archive is damaged or crafted to exhaust memory (a zip bomb). "
                        "Refused."
                    )
                if size > limits.max_member_bytes:  # unreachable while the checks above hold
                    raise limits.exceeded("max_member_bytes", what, f"member {info.filename!r} is larger")
                if total > limits.max_bundle_bytes:
                    raise limits.exceeded("max_bundle_bytes", what, "its members are larger")
                crc = zlib.crc32(chunk, crc)
                if keep:
                    chunks.append(chunk)
        if crc != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        yield info.filename, b"".join(chunks)


def check_tree(doc: Any, limits: Limits, where: str) -> None:
    """Raise :class:`LimitExceeded` if ``doc`` nests deeper than ``max_depth`` or holds an enum of
    more than ``max_enum_values`` values. Iterative: any depth is safe to inspect."""
    stack: list[tuple[Any, int, tuple[str, ...]]] = [(doc, 0, ())]
    while stack:
        node, depth, path = stack.pop()
        if depth > limits.max_depth:
            raise limits.exceeded(
                "max_depth", where, f"values nest deeper than {limits.max_depth} at {_ptr(path)}"
            )
        if isinstance(node, dict):
            enum = node.get("enum")
            if isinstance(enum, list) and len(enum) > limits.max_enum_values:
                raise limits.exceeded(
                    "max_enum_values", where, f"the enum at {_ptr((*path, 'enum'))} has {len(enum):,} values"
                )
            stack.extend((v, depth + 1, (*path, str(k))) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, depth + 1, (*path, str(i))) for i, v in enumerate(node))


def _ptr(path: tuple[str, ...]) -> str:
    """A JSON pointer: ``/properties/side/enum``."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
