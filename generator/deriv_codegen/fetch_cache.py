"""The cache and the mirror directories: staged, verified, atomic writes into the cache, and where a
release is looked for in mirrors, for the messages of :mod:`deriv_codegen.fetch`."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from deriv_runtime.auth._atomic import fsync_directory

from .errors import ChecksumMismatch, FetchError
from .fetch_options import MIRRORS_ENV
from .fetch_verify import sha256_file

if TYPE_CHECKING:
    from .fetch_options import FetchOptions
    from .limits import Limits
    from .sources import Source

_CHUNK = 1 << 16
_TMP_PREFIX = ".partial-"


# -- messages and mirror lookup -------------------------------------------------------------------


def _repin_hint(source: Source, version: str) -> str:
    return (
        f"If upstream re-published the release, re-pin with `deriv-codegen pin {source.name} {version}`; "
        "otherwise the file is corrupt or was tampered with."
    )


def _where_to_get_it(what: str) -> str:
    return (
        f"Point at a mirror directory holding {what} with --mirror DIR or the environment variable "
        f"{MIRRORS_ENV} (several directories separated by {os.pathsep!r}), or generate from a local "
        "bundle with --from PATH."
    )


@dataclass
class _Lookup:
    """Where a bundle was looked for, and what went wrong there, for the final message."""

    mirrors: Sequence[Path]
    candidates: list[Path]
    notes: list[str]
    mismatches: list[str]
    repin_hint: str = ""

    def describe(self, cache_path: Path | None) -> str:
        parts = [] if cache_path is None else [f"not in the cache ({cache_path})"]
        if not self.mirrors:
            parts.append("no mirror directories are configured")
        else:
            looked = ", ".join(str(c) for c in self.candidates) or "nothing"
            parts.append(f"not in any mirror (looked for {looked})")
            absent = [str(m) for m in self.mirrors if not m.is_dir()]
            if absent:
                parts.append(f"missing mirror directories: {', '.join(absent)}")
        text = "; ".join(parts)
        sentences = [text[:1].upper() + text[1:] + "."]
        sentences += self.notes + self.mismatches
        if self.mismatches and self.repin_hint:
            sentences.append(self.repin_hint)
        return " ".join(sentences)

    def error(self, message: str) -> FetchError:
        return ChecksumMismatch(message) if self.mismatches else FetchError(message)


def _mirror_candidates(mirrors: Sequence[Path], rel: str) -> list[Path]:
    """``mirror/rel`` then ``mirror/<basename of rel>`` for each mirror, without duplicates."""
    if not rel:
        return []
    out: list[Path] = []
    for mirror in mirrors:
        for candidate in (mirror / rel, mirror / PurePosixPath(rel).name):
            if candidate not in out:
                out.append(candidate)
    return out


def _mirror_rel(source: Source, version: str) -> str:
    """Path of ``version``'s bundle inside a mirror: ``mirror_path``, else the URL's file name."""
    if source.mirror_path_template:
        return source.mirror_path_template.format(version=version)
    return PurePosixPath(urlsplit(source.url_for(version)).path).name


# -- the cache: staged, verified, atomic writes ---------------------------------------------------


class _Stage:
    """A temporary file beside its final name, hashed as it is written."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".tmp", dir=directory)
        self.path = Path(name)
        self._fh: IO[bytes] | None = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.committed = False

    def write(self, chunk: bytes) -> None:
        assert self._fh is not None
        try:
            self._fh.write(chunk)
        except OSError as exc:
            raise _cache_error(self.path.parent, exc) from None
        self._hash.update(chunk)
        self.size += len(chunk)

    def reset(self) -> None:
        assert self._fh is not None
        self._fh.seek(0)
        self._fh.truncate()
        self._hash = hashlib.sha256()
        self.size = 0

    def finish(self) -> str:
        """Flush and fsync the file; return its sha256."""
        assert self._fh is not None
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        except OSError as exc:
            raise _cache_error(self.path.parent, exc) from None
        self._fh = None
        return self._hash.hexdigest()

    def commit(self, dest: Path) -> Path:
        if self._fh is not None:
            self.finish()
        try:
            os.replace(self.path, dest)
        except OSError as exc:
            raise _cache_error(dest.parent, exc) from None
        self.committed = True
        fsync_directory(dest.parent)
        return dest

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self.path.unlink(missing_ok=True)


@contextmanager
def _staging(directory: Path) -> Iterator[_Stage]:
    """A :class:`_Stage` in ``directory``; unless committed, removed with any directories made for it."""
    made: list[Path] = []
    d = directory
    while not d.exists() and d != d.parent:
        made.append(d)
        d = d.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stage = _Stage(directory)
    except OSError as exc:
        _remove_empty(made)
        raise _cache_error(directory, exc) from None
    try:
        yield stage
    finally:
        if not stage.committed:
            stage.discard()
            _remove_empty(made)


def _remove_empty(dirs: Iterable[Path]) -> None:
    for d in dirs:  # deepest first
        try:
            d.rmdir()
        except OSError:
            return


def _cache_error(directory: Path, exc: OSError) -> FetchError:
    return FetchError(
        f"cannot write to the cache directory {directory}: {exc.strerror or exc}; make it writable, free "
        "some space, or use another cache directory"
    )


def _cache_path(cache_dir: Path, name: str) -> Path:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or "\\" in name:
        raise FetchError(
            f"refusing cache file name {name!r}: a version must not contain '..' or path separators"
        )
    return cache_dir / rel


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _copy_into(stage: _Stage, path: Path, limits: Limits) -> str:
    """Copy ``path`` into ``stage`` and return the sha256 of what was written; refuse a file over
    ``limits.max_bundle_bytes`` (counted while copying)."""
    for chunk in _read_chunks(path):
        if stage.size + len(chunk) > limits.max_bundle_bytes:
            raise limits.exceeded(
                "max_bundle_bytes",
                f"mirror file {path}",
                f"it is larger than {limits.max_bundle_bytes:,} bytes",
            )
        stage.write(chunk)
    return stage.finish()


def cache_bundle(source: Source, path: Path, options: FetchOptions) -> Path:
    """Copy the bundle file ``path`` into the cache as the pin of ``source`` (its sha256 must be the
    pinned one), so that the pin works offline; return the cached path."""
    target = _cache_path(options.cache_dir, source.cache_name)
    if target.is_file() and sha256_file(target) == source.sha256:
        return target
    with _staging(target.parent) as stage:
        digest = _copy_into(stage, path, options.limits)
        if digest != source.sha256:
            raise ChecksumMismatch(
                f"{path} changed while it was read: sha256 {digest}, not {source.sha256}; nothing was kept"
            )
        return stage.commit(target)
