"""Reading the two releases ``deriv-codegen diff`` compares: by tag (the pin, the cache, mirrors, then
upstream) or by location (a file, directory or URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from .config import ApiConfig
    from .fetch import FetchOptions
    from .ir import ApiIR, BundleInfo
    from .limits import Limits
    from .sources import Source


def looks_like_location(text: str) -> bool:
    """A path or URL rather than a release tag: it has a scheme, a path separator, a bundle suffix,
    or names something on disk."""
    from pathlib import Path

    if "://" in text or "/" in text or "\\" in text or text.endswith((".zip", ".json")):
        return True
    return Path(text).exists()


def open_release(
    source: Source, release: str, options: FetchOptions, *, location: bool = False
) -> tuple[Path, BundleInfo]:
    """The bundle of ``release`` of ``source``, and its :class:`BundleInfo`.

    ``release`` is the pinned tag (fetched and verified like ``generate`` does), another release tag
    (taken from the cache if ``pin`` or an earlier ``diff`` stored it, else from a mirror, else
    downloaded unless offline; kept in the cache under its sha256), or a location as for
    ``generate --from``: a zip, an extracted directory, a JSON document, an http(s) URL (always, with
    ``location``); a location's version label is its file name without ``.zip``/``.json``.
    """
    from .fetch import fetch_from, location_name
    from .ir import BundleInfo

    if location or looks_like_location(release):
        path, digest = fetch_from(release, source.layout, options)
        return path, BundleInfo(source.name, location_name(release) or release, digest, release)
    return open_tag(source, release, options)


def open_tag(source: Source, release: str, options: FetchOptions) -> tuple[Path, BundleInfo]:
    """The bundle of release tag ``release`` of ``source`` (the pin, fetched and verified; else the
    cache, mirrors, then upstream), and its :class:`BundleInfo`."""
    from .fetch import fetch, resolve_pin, sha256_file
    from .ir import BundleInfo

    if release == source.version:
        path = fetch(source, options)
        return path, BundleInfo(source.name, release, source.sha256, str(path))
    cached = _cached(source, release, options)
    if cached is not None:
        return cached, BundleInfo(source.name, release, sha256_file(cached), str(cached))
    path, digest = resolve_pin(source, release, options)
    return path, BundleInfo(source.name, release, digest, str(path))


def _cached(source: Source, release: str, options: FetchOptions) -> Path | None:
    """A cached copy of ``release`` (named ``<tag>-<sha256[:16]>``) whose content matches its name."""
    from .fetch import sha256_file
    from .layouts import get_layout
    from .sources import VERSION

    if not VERSION.match(release):
        return None
    suffix = get_layout(source.layout).suffix
    folder = options.cache_dir / source.name
    for path in sorted(folder.glob(f"{release}-*{suffix}")) if folder.is_dir() else ():
        short = path.name.removeprefix(f"{release}-").removesuffix(suffix)
        if len(short) == 16 and sha256_file(path).startswith(short):
            return path
    return None


def read_release(
    path: Path, info: BundleInfo, layout: str, config: ApiConfig | None, limits: Limits
) -> ApiIR:
    """The IR of one bundle, read as ``generate`` reads it."""
    from .readers import read_bundle

    return read_bundle(path, layout, info, limits, config)
