"""Uniform access to the files of a bundle, whether a zip, an extracted directory or one file.

Reading is bounded by :class:`~deriv_codegen.limits.Limits`: the number of files, the size of each
and of all of them (checked on what a zip declares and counted while decompressing), and, when a
file is parsed as JSON, its nesting depth and the length of its enums.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BundleError
from ..limits import DEFAULT_LIMITS, Limits, check_tree, zip_members


@dataclass(frozen=True)
class BundleFiles:
    """Top-level files of a bundle by name (a single shared leading folder is stripped)."""

    location: str
    files: dict[str, bytes]
    limits: Limits = DEFAULT_LIMITS

    @classmethod
    def open(cls, path: Path, limits: Limits = DEFAULT_LIMITS) -> BundleFiles:
        """Read every file of the bundle at ``path``; raise :class:`BundleError` (or its subclass
        :class:`~deriv_codegen.errors.LimitExceeded`) before reading more than the limits allow."""
        if path.is_dir():
            found = _read_directory(path, limits)
        elif path.is_file() and zipfile.is_zipfile(path):
            size = path.stat().st_size
            if size > limits.max_bundle_bytes:
                raise limits.exceeded("max_bundle_bytes", str(path), f"the archive is {size:,} bytes")
            try:
                with zipfile.ZipFile(path) as zf:
                    found = dict(zip_members(zf, limits, str(path)))
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                NotImplementedError,
                RuntimeError,
                ValueError,
                OSError,
            ) as exc:
                raise BundleError(f"{path}: cannot read zip: {exc}") from None
        elif path.is_file():
            found = {path.name: _read_file(path, path.name, limits, str(path))}
        else:
            raise BundleError(f"{path}: no such file or directory")
        return cls(str(path), _strip_common_folder(found), limits)

    def names(self) -> list[str]:
        return sorted(self.files)

    def json(self, name: str) -> Any:
        """The parsed JSON document ``name``; :class:`BundleError` if it is not JSON, and
        :class:`~deriv_codegen.errors.LimitExceeded` if it nests too deeply or has an oversized enum."""
        where = f"{self.location}: {name}"
        try:
            doc = json.loads(self.files[name])
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{where} is not valid JSON: {exc}") from None
        except RecursionError:
            raise self.limits.exceeded("max_depth", where, "values nest too deeply to parse") from None
        check_tree(doc, self.limits, where)
        return doc


def _read_directory(path: Path, limits: Limits) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    total = 0
    for p in sorted(path.rglob("*")):
        if not p.is_file():
            continue
        if len(found) == limits.max_members:
            raise limits.exceeded(
                "max_members", str(path), f"the directory holds more than {len(found):,} files"
            )
        rel = p.relative_to(path).as_posix()
        data = _read_file(p, rel, limits, str(path))
        total += len(data)
        if total > limits.max_bundle_bytes:
            raise limits.exceeded("max_bundle_bytes", str(path), f"its files hold at least {total:,} bytes")
        found[rel] = data
    return found


def _read_file(path: Path, name: str, limits: Limits, what: str) -> bytes:
    """The bytes of ``path``, refused once over ``max_member_bytes`` (counted, not taken from stat)."""
    with path.open("rb") as fh:
        data = fh.read(limits.max_member_bytes + 1)
    if len(data) > limits.max_member_bytes:
        raise limits.exceeded(
            "max_member_bytes", what, f"file {name!r} is larger than {limits.max_member_bytes:,} bytes"
        )
    return data


def _strip_common_folder(found: dict[str, bytes]) -> dict[str, bytes]:
    heads = {name.split("/", 1)[0] for name in found}
    if len(heads) == 1 and all("/" in n for n in found):
        prefix = next(iter(heads)) + "/"
        return {n[len(prefix) :]: data for n, data in found.items()}
    return found
