"""Obtain upstream bundles: the cache, then mirror directories, then the network — always verified.

    fetch(source, options)                 the pinned bundle of a :class:`Source`, checked by sha256
    fetch_from(location, layout, options)  an unpinned bundle given with ``--from`` (file, directory, URL)
    resolve_pin(source, version, options)  the bundle of a new release tag, for ``deriv-codegen pin``
    fetch_release(source, version, options) the same, saying where it came from, for ``deriv-codegen update``

Every file that reaches the cache is hashed while it is written to a temporary file beside its final
name, checked against its pin (unpinned bundles are named by their digest), validated against its
layout, fsync'ed and only then renamed into place. After any failure the cache holds neither a bad
nor a partial file. URLs are logged and put in errors without their query string (GitHub redirects
release downloads to storage URLs carrying signed query parameters). ``httpx`` and ``rich`` are
imported only when a download actually happens.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import BundleError, ChecksumMismatch, FetchError
from .fetch_cache import (
    _CHUNK,
    _cache_path,
    _copy_into,
    _Lookup,
    _mirror_candidates,
    _mirror_rel,
    _repin_hint,
    _Stage,
    _staging,
    _where_to_get_it,
    cache_bundle,
)
from .fetch_http import (
    _check_url,
    _content_length,
    _display_url,
    _DownloadError,
    _http_client,
    _progress,
    _progress_enabled,
    _retry_after,
    _scrub,
    _Transient,
    _truncated,
)
from .fetch_options import MIRRORS_ENV, FetchOptions, mirrors_from_env
from .fetch_verify import _validate, sha256_file, validate_bundle
from .layouts import get_layout
from .sources import VERSION, Source

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MIRRORS_ENV",
    "FetchOptions",
    "Fetched",
    # internal, used by releases.py and update.py (and replaced in tests): re-exported from the
    # fetch_* modules that define them
    "_DownloadError",
    "_Stage",
    "_check_url",
    "_content_length",
    "_display_url",
    "_http_client",
    "_scrub",
    "cache_bundle",
    "fetch",
    "fetch_from",
    "fetch_release",
    "location_name",
    "mirrors_from_env",
    "resolve_pin",
    "sha256_file",
    "validate_bundle",
]

log = logging.getLogger(__name__)


# -- the network: attempts and retries ------------------------------------------------------------
# (here rather than in fetch_http: tests replace ``deriv_codegen.fetch._content_length``)


def _download(url: str, stage: _Stage, options: FetchOptions, label: str) -> None:
    """Download ``url`` into ``stage``, retrying transient failures; raise :class:`_DownloadError`."""
    _check_url(url)
    attempts = max(1, options.retries)
    delay = max(0.0, options.backoff)
    with _http_client(options, {"Accept-Encoding": "identity", "User-Agent": "deriv-codegen"}) as client:
        for attempt in range(1, attempts + 1):
            stage.reset()
            try:
                _attempt(client, url, stage, options, label)
                return
            except _Transient as exc:
                if attempt == attempts:
                    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
                    raise _DownloadError(f"{exc.reason} (gave up after {tries})") from None
                wait = exc.retry_after if exc.retry_after is not None else delay
                wait *= random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not cryptography
                log.info("%s: %s; attempt %d of %d in %.2fs", label, exc.reason, attempt + 1, attempts, wait)
                time.sleep(wait)
                delay *= 2


def _attempt(client: httpx.Client, url: str, stage: _Stage, options: FetchOptions, label: str) -> None:
    import httpx

    expected: int | None = None
    response: httpx.Response | None = None
    try:
        with client.stream("GET", url) as response:
            where = _display_url(str(response.url))
            via = f" (redirected to {where})" if response.history else ""
            status = response.status_code
            if status != 200:
                reason = f"HTTP {status} {response.reason_phrase}".rstrip() + via
                if status == 429 or status >= 500:
                    raise _Transient(reason, _retry_after(response, cap=max(options.timeout, 1.0)))
                raise _DownloadError(reason, status)
            expected = _content_length(response)
            limits = options.limits
            what = f"{label} from {_display_url(url)}"
            if expected is not None and expected > limits.max_bundle_bytes:
                raise limits.exceeded("max_bundle_bytes", what, f"the server announces {expected:,} bytes")
            with _progress(_progress_enabled(options), label, expected) as advance:
                for chunk in response.iter_bytes(_CHUNK):
                    if stage.size + len(chunk) > limits.max_bundle_bytes:  # counted: headers can lie
                        raise limits.exceeded(
                            "max_bundle_bytes",
                            what,
                            f"the download is larger than {limits.max_bundle_bytes:,} bytes",
                        )
                    stage.write(chunk)
                    advance(len(chunk))
            received = response.num_bytes_downloaded
            if expected is not None and received != expected:
                raise _Transient(_truncated(expected, received))
    except httpx.RemoteProtocolError as exc:
        if expected is not None and response is not None:
            raise _Transient(_truncated(expected, response.num_bytes_downloaded)) from None
        raise _Transient(f"connection broken: {_scrub(str(exc))}") from None
    except httpx.TimeoutException:
        raise _Transient(f"timed out (no data for {options.timeout:g}s)") from None
    except (httpx.UnsupportedProtocol, httpx.TooManyRedirects, httpx.DecodingError) as exc:
        raise _DownloadError(_scrub(str(exc))) from None
    except httpx.TransportError as exc:
        raise _Transient(f"network error: {_scrub(str(exc)) or type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise _DownloadError(f"{type(exc).__name__}: {_scrub(str(exc))}") from None


# -- public entry points --------------------------------------------------------------------------


def fetch(source: Source, options: FetchOptions) -> Path:
    """Return ``options.cache_dir / source.cache_name``, a verified copy of the pinned bundle.

    Looks in the cache (a copy that fails its checksum is deleted), then in each mirror directory
    (``mirror/source.mirror_path``, then ``mirror/<its basename>``), then downloads ``source.url``
    unless ``options.offline``. Raises :class:`FetchError` (or :class:`ChecksumMismatch`) saying
    where it looked and what to do, or :class:`BundleError` if the pinned file is not of its layout.
    """
    layout = get_layout(source.layout)
    target = _cache_path(options.cache_dir, source.cache_name)
    label = f"{source.name} {source.version}"
    lookup = _Lookup(options.mirrors, [], [], [], _repin_hint(source, source.version))

    # 1. the cache
    if target.is_file():
        actual = sha256_file(target)
        if actual == source.sha256:
            log.debug("%s: cache hit %s", label, target)
            return target
        log.warning(
            "%s: cached file %s has sha256 %s, not the pinned %s; deleting it and fetching again",
            label,
            target,
            actual,
            source.sha256,
        )
        target.unlink(missing_ok=True)
        lookup.notes.append(f"The cached copy {target} failed its checksum and was deleted.")

    # 2. mirror directories
    rel = _mirror_rel(source, source.version)
    lookup.candidates = _mirror_candidates(options.mirrors, rel)
    for candidate in lookup.candidates:
        if not candidate.is_file():
            continue
        try:
            with _staging(target.parent) as stage:
                actual = _copy_into(stage, candidate, options.limits)
                if actual != source.sha256:
                    message = (
                        f"Mirror file {candidate} does not match the pin of {label}: expected sha256 "
                        f"{source.sha256}, got {actual}."
                    )
                    log.warning("%s; skipping it", message)
                    lookup.mismatches.append(message)
                    continue
                _validate(stage.path, layout, f"mirror file {candidate}", options.limits)
                log.debug("%s: copied from mirror %s", label, candidate)
                return stage.commit(target)
        except OSError as exc:
            log.warning("%s: cannot read mirror file %s: %s", label, candidate, exc)
            lookup.notes.append(f"Mirror file {candidate} could not be read ({exc.strerror or exc}).")

    # 3. the network
    if options.offline:
        raise lookup.error(
            f"{label} is not available offline (network use is disabled). {lookup.describe(target)} "
            f"{_where_to_get_it(rel or source.cache_name)}"
        )
    url = source.url
    shown = _display_url(url)
    try:
        with _staging(target.parent) as stage:
            _download(url, stage, options, label)
            actual = stage.finish()
            if actual != source.sha256:
                raise ChecksumMismatch(
                    f"checksum mismatch for {label} downloaded from {shown}: expected sha256 "
                    f"{source.sha256}, got {actual}; the file was not kept. "
                    + _repin_hint(source, source.version)
                )
            _validate(stage.path, layout, f"{label} downloaded from {shown}", options.limits)
            log.debug("%s: downloaded %s (%d bytes)", label, shown, stage.size)
            return stage.commit(target)
    except _DownloadError as exc:
        hint = ""
        if exc.status == 404:
            hint = f" Check that release {source.version!r} exists and that the url in sources.toml is right."
        raise lookup.error(
            f"cannot download {label} from {shown}: {exc.reason}.{hint} {lookup.describe(target)} "
            f"{_where_to_get_it(rel or source.cache_name)}"
        ) from None


def fetch_from(location: str, layout: str, options: FetchOptions) -> tuple[Path, str]:
    """An unpinned bundle for ``--from PATH_OR_URL``: ``(path, sha256)``.

    A local file is validated in place; a directory (zip layouts only) is returned as ``(dir, "")``;
    an http(s) URL is downloaded to ``cache_dir/unpinned/<sha256[:16]><suffix>`` and validated.
    """
    spec = get_layout(layout)
    scheme = urlsplit(location).scheme.lower()
    if scheme in ("http", "https"):
        shown = _display_url(location)
        if options.offline:
            raise FetchError(
                f"cannot download {shown} while offline; download it yourself and pass the file "
                "with --from PATH"
            )
        directory = options.cache_dir / "unpinned"
        try:
            with _staging(directory) as stage:
                _download(location, stage, options, shown)
                digest = stage.finish()
                _validate(stage.path, spec, f"{shown}", options.limits)
                return stage.commit(directory / f"{digest[:16]}{spec.suffix}"), digest
        except _DownloadError as exc:
            raise FetchError(
                f"cannot download {shown}: {exc.reason}. Check the URL, or download the file yourself and "
                "pass it with --from PATH."
            ) from None
    path = Path(location[len("file://") :] if scheme == "file" else location).expanduser()
    if not path.exists():
        raise FetchError(f"--from {location}: no such file or directory")
    if path.is_dir():
        if spec.container != "zip":
            raise BundleError(
                f"--from {location} is a directory; the {spec.name} layout expects {spec.description}"
            )
        _validate(path, spec, str(path), options.limits)
        return path.resolve(), ""
    _validate(path, spec, str(path), options.limits)
    return path.resolve(), sha256_file(path)


def location_name(location: str) -> str:
    """The file name a bundle's path or URL ends with, without ``.zip``/``.json`` (may be empty): what
    the version label of a bundle given by location is made from."""
    name = location.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".zip", ".json"):
        name = name.removesuffix(suffix)
    return name


def resolve_pin(source: Source, version: str, options: FetchOptions) -> tuple[Path, str]:
    """Find the bundle of ``version`` (mirrors, then ``source.url_for(version)``), validate it and store
    it in the cache under the name of the new pin; return ``(path, sha256)``."""
    fetched = _fetch_release(source, version, options, offline="cannot pin {label} offline")
    return fetched.path, fetched.sha256


@dataclass(frozen=True)
class Fetched:
    """A release bundle in the cache, and where it came from (for :func:`fetch_release`)."""

    path: Path  # the verified copy in the cache, named after the pin it would make
    sha256: str
    origin: str  # "mirror" or "network"
    where: str  # the mirror file, or the URL without its query string
    downloads: int = 0  # how many times it was downloaded (2 when ``confirm`` checked stability)


def fetch_release(
    source: Source, version: str, options: FetchOptions, *, expected: str = "", confirm: bool = False
) -> Fetched:
    """Like :func:`resolve_pin`, for ``deriv-codegen update``: the bundle of release ``version``
    (mirrors, then ``source.url_for(version)``), validated and stored in the cache under the name of
    the pin it would make, with where it came from.

    ``expected`` is a sha256 published for the file (the ``digest`` of a GitHub release asset): a mirror
    file or download that differs is refused (:class:`ChecksumMismatch`) and nothing is kept. With
    ``confirm``, a download is made twice and both must have the same sha256 (the file upstream serves
    is stable); mirror files are read once.
    """
    return _fetch_release(source, version, options, expected=expected, confirm=confirm)


def _fetch_release(
    source: Source,
    version: str,
    options: FetchOptions,
    *,
    expected: str = "",
    confirm: bool = False,
    offline: str = "{label} is not available offline",
) -> Fetched:
    """What :func:`resolve_pin` and :func:`fetch_release` share; ``offline`` starts the message of the
    error raised when the bundle is in no mirror and network use is disabled (``{label}`` is filled in)."""
    if not VERSION.match(version):
        raise FetchError(
            f"{version!r} is not a usable release tag for {source.name}: use letters, digits, '.', '_', '+' "
            "and '-' only"
        )
    layout = get_layout(source.layout)
    directory = _cache_path(options.cache_dir, source.with_pin(version, "0" * 64).cache_name).parent
    label = f"{source.name} {version}"

    def name_for(digest: str) -> Path:
        return _cache_path(options.cache_dir, source.with_pin(version, digest).cache_name)

    def mismatch(what: str, actual: str) -> ChecksumMismatch:
        return ChecksumMismatch(
            f"checksum mismatch for {label} from {what}: upstream publishes sha256 {expected}, got {actual}; "
            "the file was not kept"
        )

    rel = _mirror_rel(source, version)
    lookup = _Lookup(options.mirrors, _mirror_candidates(options.mirrors, rel), [], [])
    for candidate in lookup.candidates:
        if not candidate.is_file():
            continue
        try:
            with _staging(directory) as stage:
                digest = _copy_into(stage, candidate, options.limits)
                if expected and digest != expected:
                    raise mismatch(f"mirror file {candidate}", digest)
                _validate(stage.path, layout, f"mirror file {candidate}", options.limits)
                log.debug("%s: found in mirror %s", label, candidate)
                return Fetched(stage.commit(name_for(digest)), digest, "mirror", str(candidate))
        except OSError as exc:
            log.warning("%s: cannot read mirror file %s: %s", label, candidate, exc)
            lookup.notes.append(f"Mirror file {candidate} could not be read ({exc.strerror or exc}).")

    if options.offline:
        raise FetchError(
            f"{offline.format(label=label)} (network use is disabled). {lookup.describe(None)} "
            f"{_where_to_get_it(rel or 'the bundle')}"
        )
    url = source.url_for(version)
    shown = _display_url(url)
    try:
        with _staging(directory) as stage:
            _download(url, stage, options, label)
            digest = stage.finish()
            if expected and digest != expected:
                raise mismatch(shown, digest)
            downloads = 1
            if confirm:
                with _staging(directory) as again:
                    _download(url, again, options, label)
                    second = again.finish()
                downloads = 2
                if second != digest:
                    raise ChecksumMismatch(
                        f"{label} from {shown} is not stable: two downloads have sha256 {digest} and "
                        f"{second}; nothing was kept. Try again later, or fetch it from a mirror"
                    )
            _validate(stage.path, layout, f"{label} downloaded from {shown}", options.limits)
            return Fetched(stage.commit(name_for(digest)), digest, "network", shown, downloads)
    except _DownloadError as exc:
        hint = f" Check that release {version!r} of {source.name} exists." if exc.status == 404 else ""
        raise FetchError(
            f"cannot download {label} from {shown}: {exc.reason}.{hint} {lookup.describe(None)} "
            f"{_where_to_get_it(rel or 'the bundle')}"
        ) from None
