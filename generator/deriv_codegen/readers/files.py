"""Uniform access to the files of a bundle, whether a zip, an extracted directory or one file."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BundleError


@dataclass(frozen=True)
class BundleFiles:
    """Top-level files of a bundle by name (a single shared leading folder is stripped)."""

    location: str
    files: dict[str, bytes]

    @classmethod
    def open(cls, path: Path) -> BundleFiles:
        if path.is_dir():
            found = {
                p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
            }
        elif zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as zf:
                    found = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
            except (zipfile.BadZipFile, OSError) as exc:
                raise BundleError(f"{path}: cannot read zip: {exc}") from None
        elif path.is_file():
            found = {path.name: path.read_bytes()}
        else:
            raise BundleError(f"{path}: no such file or directory")
        return cls(str(path), _strip_common_folder(found))

    def names(self) -> list[str]:
        return sorted(self.files)

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.files[name])
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{self.location}: {name} is not valid JSON: {exc}") from None


def _strip_common_folder(found: dict[str, bytes]) -> dict[str, bytes]:
    heads = {name.split("/", 1)[0] for name in found}
    if len(heads) == 1 and all("/" in n for n in found):
        prefix = next(iter(heads)) + "/"
        return {n[len(prefix) :]: data for n, data in found.items()}
    return found
