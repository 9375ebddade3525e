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

import hashlib
import ipaddress
import json
import logging
import os
import random
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from deriv_runtime._redact import HTTP_LOGGERS, URL_QUERY
from deriv_runtime.auth._atomic import fsync_directory

from .errors import BundleError, ChecksumMismatch, FetchError
from .layouts import Layout, get_layout
from .limits import DEFAULT_LIMITS, Limits, check_tree, zip_members
from .sources import VERSION, Source

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MIRRORS_ENV",
    "FetchOptions",
    "Fetched",
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

#: Environment variable naming mirror directories, separated by :data:`os.pathsep`.
MIRRORS_ENV = "DERIV_CODEGEN_MIRRORS"

_CHUNK = 1 << 16
_TMP_PREFIX = ".partial-"
#: A URL (or an absolute path) followed by a query string; the query is dropped from messages.
_QUERY = URL_QUERY
#: Loggers of httpx/httpcore that may print request URLs or Location headers.
_HTTP_LOGGERS = HTTP_LOGGERS


@dataclass(frozen=True)
class FetchOptions:
    cache_dir: Path
    mirrors: Sequence[Path] = ()
    offline: bool = False  # never use the network
    retries: int = 3  # attempts for transient failures
    backoff: float = 0.5  # seconds before the 2nd attempt, doubled each time, with jitter
    timeout: float = 30.0
    progress: bool | None = None  # None: rich progress bar only when stderr is a terminal; quiet otherwise
    limits: Limits = DEFAULT_LIMITS  # a download, mirror file or bundle over these is refused


def mirrors_from_env(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The mirror directories named by ``$DERIV_CODEGEN_MIRRORS`` (``os.pathsep``-separated)."""
    value = (os.environ if environ is None else environ).get(MIRRORS_ENV, "")
    return tuple(Path(part).expanduser() for part in value.split(os.pathsep) if part.strip())


# -- verification ---------------------------------------------------------------------------------


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


# -- messages -------------------------------------------------------------------------------------


def _display_url(url: str) -> str:
    """``url`` without user info, query string or fragment: safe to log and show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _QUERY.sub(r"\1", url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _scrub(text: str) -> str:
    return _QUERY.sub(r"\1", text)


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


# -- the network ----------------------------------------------------------------------------------


class _DownloadError(FetchError):
    """A download failed for good; ``reason`` holds no URL query string."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _Transient(Exception):
    """A failure worth another attempt (internal; never escapes this module)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _check_url(url: str) -> None:
    """Allow https://, and plain http:// only on loopback (local test servers and mirrors)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and _is_loopback(host):
        return
    raise _DownloadError(
        f"refusing to download {_display_url(url)}: only https:// URLs (or http:// on loopback) are allowed"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _RedactQueries(logging.Filter):
    """Drop query strings (signed storage URLs) from httpx/httpcore log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to logging's own error handling
            return True
        if "?" in message:
            record.msg = _scrub(message)
            record.args = None
        return True


@contextmanager
def _redacted_http_logs() -> Iterator[None]:
    redact = _RedactQueries()
    loggers = [logging.getLogger(name) for name in _HTTP_LOGGERS]
    for lg in loggers:
        lg.addFilter(redact)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(redact)


@contextmanager
def _http_client(options: FetchOptions, headers: dict[str, str]) -> Iterator[httpx.Client]:
    """An httpx client that follows redirects, checks the URL of every hop (:func:`_check_url`) and
    keeps query strings out of httpx's logs, for downloads and release listings."""
    import httpx

    hooks = {"request": [lambda request: _check_url(str(request.url))]}  # every hop, redirects too
    with (
        _redacted_http_logs(),
        httpx.Client(
            follow_redirects=True, timeout=options.timeout, headers=headers, event_hooks=hooks
        ) as client,
    ):
        yield client


def _progress_enabled(options: FetchOptions) -> bool:
    if options.progress is not None:
        return options.progress
    stream = sys.stderr
    return stream is not None and stream.isatty()


@contextmanager
def _progress(enabled: bool, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), cap)


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


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _truncated(expected: int, received: int) -> str:
    return f"download truncated: expected {expected} bytes (Content-Length), received {received}"


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
