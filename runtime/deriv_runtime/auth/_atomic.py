"""Write a file so that a crash leaves the old file or the new one, never half of either.

:func:`write_file_atomic` writes into a temporary file in the target's directory (created ``0600``,
then set to ``mode``), fsyncs it, and moves it into place: ``os.replace`` when overwriting is
allowed, a hard link (which fails if the name exists) when it is not, so an existing file is never
replaced by a race either. The directory is fsynced afterwards; on any failure the temporary file is
removed. Used for private key files (:mod:`.keys`) and token files
(:meth:`~deriv_runtime.auth.tokens.FileTokenStore.save`).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

__all__ = ["fsync_directory", "write_file_atomic"]

# Hard links are not supported here: fall back to "check, then replace" (a small race, documented).
_NO_LINK = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV})


def write_file_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = False, make_parents: bool = True
) -> None:
    """Write ``data`` to ``path`` atomically, with permission bits ``mode``.

    ``overwrite=False`` raises :class:`FileExistsError` if ``path`` exists (checked atomically where
    the file system has hard links). Missing parent directories are created ``0700`` when
    ``make_parents``. Raises :class:`OSError` on failure; nothing is left behind then.
    """
    directory = path.parent
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
    if make_parents:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as file:
            if hasattr(os, "fchmod"):
                os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _create_from(tmp, path)
        tmp = None
        fsync_directory(directory)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); best effort where directories cannot be opened
    (Windows). Also used by the generator's download cache (``deriv_codegen.fetch``)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_from(tmp: str, path: Path) -> None:
    """Give the complete file ``tmp`` the name ``path``, failing if that name is taken."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.replace(tmp, path)
        return
    try:
        os.unlink(tmp)  # the file now lives under ``path``; drop the temporary name
    except OSError:
        pass
