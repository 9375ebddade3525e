"""Pinned sources: ``schemas/sources.toml``, read and rewritten atomically.

A :class:`Source` pins one upstream bundle by release tag (``version``) and sha256. The file is
the single place that names upstream URLs; the fetch step and the ``pin`` command go through here.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import SourcesError
from .layouts import get_layout
from .limits import DEFAULT_LIMITS, Limits

SOURCES_FILE = Path("schemas") / "sources.toml"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
#: Release tags: safe in file names, URLs and TOML strings.
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_REQUIRED = ("version", "url", "sha256", "layout", "package")


@dataclass(frozen=True)
class Source:
    """One pinned upstream bundle."""

    name: str
    version: str
    url_template: str
    sha256: str
    layout: str
    package: str
    mirror_path_template: str = ""
    #: Where upstream lists its releases (a GitHub ``/releases`` API URL), for ``deriv-codegen update``;
    #: empty for a source pinned to a commit or a fixed document, which has no release listing.
    releases_url: str = ""

    @property
    def url(self) -> str:
        return self.url_template.format(version=self.version)

    def url_for(self, version: str) -> str:
        return self.url_template.format(version=version)

    @property
    def mirror_path(self) -> str:
        return self.mirror_path_template.format(version=self.version) if self.mirror_path_template else ""

    @property
    def cache_name(self) -> str:
        """File name of this pin in the cache (unique per version and checksum)."""
        return f"{self.name}/{self.version}-{self.sha256[:16]}{get_layout(self.layout).suffix}"

    def with_pin(self, version: str, sha256: str) -> Source:
        return replace(self, version=version, sha256=sha256)


@dataclass(frozen=True)
class SourcesFile:
    path: Path
    sources: dict[str, Source]
    mirrors: tuple[Path, ...]
    limits: Limits = DEFAULT_LIMITS  # the [limits] table: caps on bundles (see deriv_codegen.limits)

    @property
    def project_root(self) -> Path:
        return self.path.resolve().parent.parent

    def get(self, name: str) -> Source:
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise SourcesError(f"no source named {name!r} in {self.path} (pinned sources: {known})") from None


def find_sources_file(start: Path | None = None) -> Path:
    """Find ``schemas/sources.toml`` in ``start`` (default: cwd) or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / SOURCES_FILE
        if candidate.is_file():
            return candidate
    raise SourcesError(
        f"cannot find {SOURCES_FILE} in {here} or any parent directory; run from the project checkout "
        "or pass --sources PATH"
    )


def load_sources(path: Path) -> SourcesFile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesError(f"sources file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path} is not valid TOML: {exc}") from None
    root = path.resolve().parent.parent
    fetch = data.get("fetch", {})
    mirrors_raw = fetch.get("mirrors", []) if isinstance(fetch, dict) else None
    if not isinstance(mirrors_raw, list) or not all(isinstance(m, str) for m in mirrors_raw):
        raise SourcesError(f"{path}: [fetch] mirrors must be a list of directory paths (strings)")
    mirrors = tuple((root / m).resolve() for m in mirrors_raw)
    limits = Limits.from_table(data.get("limits", {}), str(path))
    tables = data.get("sources", {})
    if not isinstance(tables, dict):
        raise SourcesError(f"{path}: 'sources' must be tables: [sources.NAME]")
    sources: dict[str, Source] = {}
    for name, entry in tables.items():
        if not isinstance(entry, dict):
            raise SourcesError(f"{path}: sources.{name} must be a table: [sources.{name}]")
        if not _NAME.match(name):
            raise SourcesError(f"{path}: source name {name!r} must be lower-case letters, digits and '-'")
        missing = [k for k in _REQUIRED if not isinstance(entry.get(k), str) or not entry.get(k)]
        if missing:
            raise SourcesError(f"{path}: [sources.{name}] lacks {', '.join(missing)}")
        if not _SHA256.match(entry["sha256"]):
            raise SourcesError(f"{path}: [sources.{name}] sha256 must be 64 lower-case hex digits")
        if not VERSION.match(entry["version"]):
            raise SourcesError(f"{path}: [sources.{name}] version {entry['version']!r} is not a release tag")
        mirror_path = entry.get("mirror_path", "")
        if not isinstance(mirror_path, str):
            raise SourcesError(f"{path}: [sources.{name}] mirror_path must be a string")
        for key, template in (("url", entry["url"]), ("mirror_path", mirror_path)):
            try:
                template.format(version="x")
            except (KeyError, IndexError, ValueError) as exc:
                raise SourcesError(
                    f"{path}: [sources.{name}] {key} may use only {{version}}: {exc!r}"
                ) from None
        releases_url = entry.get("releases_url", "")
        if not isinstance(releases_url, str) or (
            releases_url and not releases_url.startswith(("https://", "http://"))
        ):
            raise SourcesError(f"{path}: [sources.{name}] releases_url must be an http(s) URL (a string)")
        get_layout(entry["layout"])
        sources[name] = Source(
            name=name,
            version=entry["version"],
            url_template=entry["url"],
            sha256=entry["sha256"],
            layout=entry["layout"],
            package=entry["package"],
            mirror_path_template=mirror_path,
            releases_url=releases_url,
        )
    return SourcesFile(path=path, sources=sources, mirrors=mirrors, limits=limits)


def write_pin(path: Path, name: str, version: str, sha256: str) -> None:
    """Rewrite the ``version`` and ``sha256`` of one source in place, keeping everything else.

    The new text is written to a temporary file beside ``path`` and renamed over it, so a crash
    leaves either the old or the new file, never half of one.
    """
    if not _SHA256.match(sha256):
        raise SourcesError(f"refusing to pin {name}: {sha256!r} is not a sha256 hex digest")
    if not VERSION.match(version):
        raise SourcesError(f"refusing to pin {name}: {version!r} is not a tag (letters, digits, ._+-)")
    text = path.read_text(encoding="utf-8")
    header = f"[sources.{name}]"
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == header)
    except StopIteration:
        raise SourcesError(f"{path} has no {header} table") from None
    seen: set[str] = set()
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped.startswith("["):
            break
        for key, value in (("version", version), ("sha256", sha256)):
            if re.match(rf"^{key}\s*=", stripped):
                lines[i] = f'{key} = "{value}"\n'
                seen.add(key)
    if seen != {"version", "sha256"}:
        raise SourcesError(f"{path}: {header} lacks a version or sha256 line to update")
    new_text = "".join(lines)
    try:
        tomllib.loads(new_text)  # the rewritten file must still parse before it replaces the old one
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"refusing to write {path}: the result would not parse ({exc})") from None
    atomic_write_text(path, new_text)


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
