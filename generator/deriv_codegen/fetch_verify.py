"""Verifying bundles: sha256 digests, and whether a file or directory is a bundle of its layout within
the limits (see :mod:`deriv_codegen.fetch`)."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from .errors import BundleError
from .layouts import Layout, get_layout
from .limits import DEFAULT_LIMITS, Limits, check_tree, zip_members


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def validate_bundle(path: Path, layout: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise :class:`BundleError` unless ``path`` is a bundle of ``layout`` within ``limits``.

    A zip layout accepts a zip holding the layout's required files, or a directory of extracted
    files; a json layout accepts a file holding one JSON document. Every member of a zip is
    decompressed (and its CRC checked), bounded by the limits (:class:`~deriv_codegen.errors.LimitExceeded`).
    """
    _validate(path, get_layout(layout), str(path), limits)


def _validate(path: Path, layout: Layout, what: str, limits: Limits) -> None:
    if layout.container == "zip" and path.is_dir():
        names = _directory_names(path, limits, f"directory {what}")
        _check_members(names, layout, f"directory {what}")
        return
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BundleError(f"{what} does not exist") from None
    if size > limits.max_bundle_bytes and not path.is_dir():
        raise limits.exceeded("max_bundle_bytes", what, f"the file is {size:,} bytes")
    if layout.container == "zip":
        _check_members(_zip_names(path, layout, what, limits), layout, what)
    elif layout.container == "json":
        if path.is_dir():
            raise BundleError(f"{what} is a directory; the {layout.name} layout expects {layout.description}")
        try:
            with path.open("rb") as fh:
                check_tree(json.load(fh), limits, what)
        except FileNotFoundError:
            raise BundleError(f"{what} does not exist") from None
        except RecursionError:
            raise limits.exceeded("max_depth", what, "values nest too deeply to parse") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BundleError(
                f"{what} is not a JSON document ({exc}){_sniff(path)}; the {layout.name} layout expects "
                f"{layout.description}. Check that the URL or file is the right one."
            ) from None
    else:
        raise BundleError(f"layout {layout.name!r} has an unknown container {layout.container!r}")


def _directory_names(path: Path, limits: Limits, what: str) -> list[str]:
    names: list[str] = []
    total = 0
    for p in sorted(path.rglob("*")):
        if not p.is_file():
            continue
        if len(names) == limits.max_members:
            raise limits.exceeded("max_members", what, f"it holds more than {len(names):,} files")
        size = p.stat().st_size
        name = p.relative_to(path).as_posix()
        if size > limits.max_member_bytes:
            raise limits.exceeded("max_member_bytes", what, f"file {name!r} is {size:,} bytes")
        total += size
        if total > limits.max_bundle_bytes:
            raise limits.exceeded("max_bundle_bytes", what, f"its files hold at least {total:,} bytes")
        names.append(name)
    return names


def _zip_names(path: Path, layout: Layout, what: str, limits: Limits) -> list[str]:
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"{what} does not exist") from None
    except zipfile.BadZipFile as exc:
        raise BundleError(
            f"{what} is not a zip archive ({exc}){_sniff(path)}; the {layout.name} layout expects a "
            f"{layout.description}. Check that the URL or file is the release asset."
        ) from None
    except (zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
        raise BundleError(f"{what} is a damaged or unreadable zip archive: {exc}") from None
    with zf:
        try:
            return [name for name, _ in zip_members(zf, limits, what, keep=False)]
        except zipfile.BadZipFile as exc:  # a CRC or header check of one member
            raise BundleError(f"{what} is a damaged zip archive: {exc}") from None
        except (zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
            raise BundleError(f"{what} is a damaged or unreadable zip archive: {exc}") from None


def _check_members(names: Sequence[str], layout: Layout, what: str) -> None:
    missing = layout.missing(names)
    if missing:
        sample = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") if names else "nothing"
        raise BundleError(
            f"{what} lacks files the {layout.name} layout needs: {', '.join(missing)} "
            f"(it holds {len(names)} file(s): {sample}). Expected a {layout.description}; check that it "
            "is the right bundle for this source."
        )


def _sniff(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip()
    except OSError:
        return ""
    if head.startswith(b"<"):
        return " — it looks like an HTML/XML page, perhaps an error or login page"
    if not head:
        return " — it is empty"
    return ""
