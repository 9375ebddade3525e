"""Upstream release listings, for ``deriv-codegen update``.

    list_releases(source, options)   the releases of a source, newest first: from its ``releases_url``
                                     (GitHub's REST API), or offline from the tags in mirror directories
    tag_key(tag)                     the order of release tags (digits compared as numbers)
    mirror_index(file)               the sha256 a mirror's README.md lists for a file, if any

A source has a release listing only if sources.toml gives it a ``releases_url``; a source pinned to a
commit (the v3 documentation archive) or to a fixed document (Deribit) has none, and
:class:`NoReleaseListing` says so.

The listing is a JSON array of GitHub releases (``tag_name``, ``draft``, ``prerelease``,
``published_at``, ``assets[].name / browser_download_url / digest``). Drafts, pre-releases, tags that
are not usable release tags and releases without the source's asset (the file name of its ``url``,
e.g. ``schemas.zip``) are left out, each with a note saying why. Only the first page is read: the
``releases_url`` asks for 100 releases, newest first. Set ``$GITHUB_TOKEN`` (or ``$GH_TOKEN``) to
lift GitHub's limit of 60 unauthenticated requests an hour; the token is sent only to
``https://api.github.com``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import CodegenError, FetchError
from .fetch import FetchOptions, _check_url, _display_url, _DownloadError, _http_client, _scrub
from .sources import VERSION, Source

if TYPE_CHECKING:
    import httpx

__all__ = [
    "TOKEN_ENV",
    "Listing",
    "NoReleaseListing",
    "Release",
    "asset_name",
    "list_releases",
    "mirror_index",
    "parse_listing",
    "tag_key",
]

#: Environment variables holding a GitHub token for the listing (the first one set is used).
TOKEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN")
#: The only host a token is ever sent to.
_GITHUB_API = "api.github.com"
#: A listing larger than this is refused (GitHub's 100 releases are well under 1 MiB).
MAX_LISTING_BYTES = 8 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_README_ROW = re.compile(r"^\|\s*`?([^|`\s]+)`?\s*\|\s*`?([0-9a-fA-F]{64})`?\s*\|")
_DIGITS = re.compile(r"(\d+)")


class NoReleaseListing(CodegenError):
    """The source names no place where upstream lists its releases."""


@dataclass(frozen=True)
class Release:
    """One release of a source, as a listing shows it."""

    tag: str
    published: str = ""  # ISO 8601 time of publication ("" when the listing does not say: mirrors)
    asset_url: str = ""  # where the listing says the bundle is (GitHub: browser_download_url)
    digest: str = ""  # the sha256 upstream publishes for the bundle ("" when it publishes none)
    where: str = ""  # the mirror file, for a listing of mirror directories


@dataclass(frozen=True)
class Listing:
    """The releases of one source, newest first, and what was left out and why."""

    source: str
    origin: str  # "network" (the releases_url) or "mirror" (tags found in mirror directories)
    where: str  # the URL without its query string, or the mirror directories looked in
    releases: tuple[Release, ...]
    notes: tuple[str, ...] = ()

    def get(self, tag: str) -> Release | None:
        """The release tagged ``tag``, if listed."""
        return next((r for r in self.releases if r.tag == tag), None)

    def newer_than(self, tag: str) -> list[Release]:
        """Releases whose tags sort after ``tag`` (see :func:`tag_key`), newest first."""
        key = tag_key(tag)
        return [r for r in self.releases if tag_key(r.tag) > key]


def tag_key(tag: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a release tag: runs of digits compare as numbers, the rest as text.

    ``production_v20260630_0`` < ``production_v20260630_1`` < ``production_v20260707_0``; a hotfix
    to an old release published late does not count as newer than the pin.
    """
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(tag) if part
    )


def asset_name(source: Source, tag: str) -> str:
    """The file name of ``source``'s bundle for ``tag`` (the last part of its URL): ``schemas.zip``."""
    return PurePosixPath(urlsplit(source.url_for(tag)).path).name


def list_releases(
    source: Source, options: FetchOptions, *, environ: Mapping[str, str] | None = None
) -> Listing:
    """The releases of ``source``, newest first: from its ``releases_url``, or, with
    ``options.offline``, the tags whose bundles are in the mirror directories.

    Raises :class:`NoReleaseListing` for a source without a ``releases_url`` and :class:`FetchError`
    (one line: what failed, where, what to do) when the listing cannot be read.
    """
    if not source.releases_url:
        raise _no_listing(source)
    if options.offline:
        return mirror_listing(source, options.mirrors)
    url = source.releases_url
    data = _get(url, options, _token(url, os.environ if environ is None else environ))
    releases, notes = parse_listing(data, source, _display_url(url))
    return Listing(source.name, "network", _display_url(url), tuple(releases), tuple(notes))


def _no_listing(source: Source) -> NoReleaseListing:
    if "{version}" not in source.url_template:
        why = "its url names one fixed document"
    else:
        why = "it is pinned to a commit or tag of a repository that publishes no releases"
    return NoReleaseListing(
        f"no release listing for this source ({why}; sources.toml gives it no releases_url). "
        f"Compare a bundle you have with `deriv-codegen update {source.name} --from PATH_OR_URL`"
    )


def parse_listing(data: bytes, source: Source, where: str) -> tuple[list[Release], list[str]]:
    """The usable releases in a GitHub release listing (newest first) and notes on those left out.

    Raises :class:`FetchError` if ``data`` is not a JSON array of release objects.
    """
    garbage = (
        f"the release listing at {where} is not a GitHub release list (a JSON array of objects with a "
        "tag_name)"
    )
    try:
        items = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FetchError(f"{garbage}: it is not JSON{_sniff(data)}") from None
    if not isinstance(items, list):
        what = f"a JSON {type(items).__name__}"
        if isinstance(items, dict) and isinstance(items.get("message"), str):
            what += f" saying {items['message'][:200]!r}"
        raise FetchError(f"{garbage}: it is {what}")
    releases: list[Release] = []
    notes: list[str] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("tag_name"), str):
            raise FetchError(f"{garbage}: an entry has no tag_name")
        tag: str = item["tag_name"]
        if item.get("draft") is True:
            notes.append(f"{tag}: a draft, left out")
            continue
        if item.get("prerelease") is True:
            notes.append(f"{tag}: a pre-release, left out")
            continue
        if not VERSION.match(tag):
            notes.append(f"{tag[:80]!r}: not a usable release tag, left out")
            continue
        name = asset_name(source, tag)
        assets = item.get("assets")
        asset = next(
            (
                a
                for a in (assets if isinstance(assets, list) else [])
                if isinstance(a, dict) and a.get("name") == name
            ),
            None,
        )
        if asset is None:
            notes.append(f"{tag}: has no {name} asset, left out")
            continue
        published = item.get("published_at")
        url = asset.get("browser_download_url")
        releases.append(
            Release(
                tag=tag,
                published=published if isinstance(published, str) else "",
                asset_url=url if isinstance(url, str) else "",
                digest=_digest(asset.get("digest")),
            )
        )
    releases.sort(key=lambda r: tag_key(r.tag), reverse=True)
    return releases, notes


def _digest(value: object) -> str:
    """The hex sha256 of a GitHub asset ``digest`` (``"sha256:<hex>"``); "" for anything else."""
    if isinstance(value, str) and value.startswith("sha256:"):
        hexdigest = value.removeprefix("sha256:").lower()
        if _SHA256.match(hexdigest):
            return hexdigest
    return ""


def _sniff(data: bytes) -> str:
    head = data[:64].lstrip()
    if not head:
        return " (it is empty)"
    if head.startswith(b"<"):
        return " (it looks like an HTML page: a login, proxy or error page?)"
    return ""


# -- mirrors ----------------------------------------------------------------------------------------


def mirror_listing(source: Source, mirrors: Sequence[Path]) -> Listing:
    """The tags whose bundles are in ``mirrors`` (at ``mirror_path``, or its file name at the top of
    a mirror, as :func:`~deriv_codegen.fetch.fetch` looks for them), newest first."""
    template = source.mirror_path_template or asset_name(source, "{version}")
    where = ", ".join(str(m) for m in mirrors) or "no mirror directories"
    if "{version}" not in template:
        return Listing(
            source.name,
            "mirror",
            where,
            (),
            (f"the mirror path {template!r} has no {{version}}: mirrors cannot list releases",),
        )
    found: dict[str, Release] = {}
    for mirror in mirrors:
        for rel in dict.fromkeys((template, PurePosixPath(template).name)):
            pattern = _template_regex(rel)
            for path in sorted(mirror.glob(rel.replace("{version}", "*"))):
                match = pattern.fullmatch(path.relative_to(mirror).as_posix())
                if match and path.is_file() and VERSION.match(match["v"]):
                    found.setdefault(match["v"], Release(match["v"], where=str(path)))
    releases = sorted(found.values(), key=lambda r: tag_key(r.tag), reverse=True)
    return Listing(source.name, "mirror", where, tuple(releases))


def _template_regex(template: str) -> re.Pattern[str]:
    before, _, after = template.partition("{version}")
    return re.compile(re.escape(before) + r"(?P<v>[^/]+)" + re.escape(after.replace("{version}", "")))


def mirror_index(path: Path, tag: str = "") -> str:
    """The sha256 the README.md beside ``path`` (or one directory up, the mirror's top) lists for it
    in a Markdown table row ``| name | sha256 |`` (name: the file name or ``tag``); "" if none does."""
    names = {path.name, tag} - {""}
    for readme in (path.parent / "README.md", path.parent.parent / "README.md"):
        try:
            text = readme.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            match = _README_ROW.match(line.strip())
            if match and match[1] in names:
                return match[2].lower()
    return ""


# -- the network ------------------------------------------------------------------------------------


def _token(url: str, environ: Mapping[str, str]) -> str:
    """A GitHub token from the environment, only for ``https://api.github.com``; else ""."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname != _GITHUB_API:
        return ""
    return next((environ[name].strip() for name in TOKEN_ENV if environ.get(name, "").strip()), "")


def _get(url: str, options: FetchOptions, token: str) -> bytes:
    """GET the listing with timeouts and retries of transient failures; one-line errors."""
    shown = _display_url(url)
    try:
        _check_url(url)
    except _DownloadError as exc:
        raise FetchError(f"cannot read the release listing: {exc.reason}") from None
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "deriv-codegen",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    attempts = max(1, options.retries)
    reason = ""
    with _http_client(options, headers) as client:
        for attempt in range(1, attempts + 1):
            try:
                return _attempt(client, url, shown)
            except _Retry as exc:
                reason = exc.reason
                if attempt < attempts:
                    import time

                    time.sleep(max(0.0, options.backoff) * 2 ** (attempt - 1))
            except _DownloadError as exc:
                raise FetchError(f"cannot read the release listing at {shown}: {exc.reason}") from None
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    raise FetchError(
        f"cannot read the release listing at {shown}: {reason} (gave up after {tries}). "
        "With --offline, update lists the releases in the mirror directories instead"
    )


class _Retry(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _attempt(client: httpx.Client, url: str, shown: str) -> bytes:
    import httpx

    try:
        with client.stream("GET", url) as response:
            status = response.status_code
            if status == 200:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_LISTING_BYTES:
                        raise _DownloadError(f"the listing is larger than {MAX_LISTING_BYTES:,} bytes")
                return bytes(body)
            reason = f"HTTP {status} {response.reason_phrase}".rstrip()
            if status in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
                raise _DownloadError(
                    f"{reason}: GitHub's rate limit is used up; set {TOKEN_ENV[0]} to a token, or wait"
                )
            if status == 429 or status >= 500:
                raise _Retry(reason)
            hint = "; check releases_url in sources.toml" if status == 404 else ""
            raise _DownloadError(reason + hint, status)
    except httpx.TimeoutException:
        raise _Retry(f"timed out (no answer for {client.timeout.read or 0:g}s)") from None
    except (httpx.UnsupportedProtocol, httpx.TooManyRedirects, httpx.DecodingError) as exc:
        raise _DownloadError(_scrub(str(exc))) from None
    except httpx.TransportError as exc:
        raise _Retry(f"network error: {_scrub(str(exc)) or type(exc).__name__}") from None
