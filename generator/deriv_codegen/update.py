"""``deriv-codegen update``: look for newer upstream releases, fetch and verify the newest, show what
it changes against the pin, and move the pin only when asked.

    check(sources, names, options, ...)   one :class:`SourceUpdate` per source (nothing is written)
    write_pins(sources, updates, ...)     rewrite the pins of the updates found (``--write``)
    run(...)                              the command: print, report, write, exit status by policy

For each source with a release listing (``releases_url`` in sources.toml; with ``--offline``, the
tags in the mirror directories), the newest release whose tag sorts after the pinned one is fetched
(mirrors first, then the network), verified, and compared with the pinned bundle by
:mod:`deriv_codegen.diff`. ``--tag TAG`` takes that release instead of the newest; ``--from
PATH_OR_URL`` takes a bundle you have (named by ``--tag``, or by its file name).

Trust: upstream signs nothing. What is checked, and said in the output, is
  * the sha256 GitHub publishes for the release asset (the listing's ``digest``), when it has one;
  * the sha256 a mirror's README.md lists for the file, when the bundle comes from a mirror;
  * that two downloads are identical, when nothing above vouches for a download;
  * that the file is a complete bundle of the source's layout (every zip member's CRC, the files
    the layout needs, the limits).
The sha256 of the bytes then goes into the pin, and every later fetch is checked against it: the
first look is trusted, later ones are verified. Review the diff before ``--write``.

Exit status: 0, also when newer releases exist; 1 when a source fails (listing unreachable, HTTP
error, checksum mismatch, damaged bundle: one line each, and no pin is written); 3 with
``--fail-on-breaking`` when an update breaks code that sends requests or reads answers (or when
that cannot be told); 2 for usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from .errors import ChecksumMismatch, CodegenError
from .fetch import FetchOptions, _display_url, cache_bundle, fetch, fetch_from, fetch_release
from .limits import Limits
from .releases import Listing, NoReleaseListing, Release, list_releases, mirror_index, tag_key
from .sources import VERSION, Source, SourcesFile, atomic_write_text, write_pin

__all__ = [
    "EXIT_BREAKING",
    "EXIT_ERROR",
    "EXIT_OK",
    "Bundle",
    "Comparison",
    "SourceUpdate",
    "check",
    "compare",
    "render_json",
    "render_markdown",
    "render_text",
    "run",
    "write_pins",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BREAKING = 3

Status = Literal["up-to-date", "update", "no-listing", "error"]


# -- the diff, through a small interface ----------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """What :mod:`deriv_codegen.diff` found between the pinned bundle and the candidate.

    ``breaking`` is None when it could not be told (no diff available).
    """

    text: str
    markdown: str
    data: Any  # JSON-able
    breaking: bool | None
    changes: int | None = None


@dataclass(frozen=True)
class Bundle:
    """One side of a comparison: a verified bundle and what it is."""

    path: Path
    version: str
    sha256: str


#: Compares the pinned bundle with the candidate: (source, old, new, overrides directory, limits).
Differ = Callable[[Source, Bundle, Bundle, Path, Limits], Comparison]


def compare(source: Source, old: Bundle, new: Bundle, overrides: Path, limits: Limits) -> Comparison:
    """Compare two bundles of ``source`` with :func:`deriv_codegen.diff.diff_bundles` (both read by the
    source's reader, with its override file), rendered by :mod:`deriv_codegen.diff_report`."""
    from .config import load_api_config
    from .diff import diff_bundles
    from .diff_report import render_markdown, text_report
    from .ir import BundleInfo

    def side(b: Bundle) -> tuple[Path, BundleInfo]:
        return b.path, BundleInfo(source.name, b.version, b.sha256, str(b.path))

    config = load_api_config(overrides, source.name)
    found = diff_bundles(side(old), side(new), source.layout, config, limits)
    return Comparison(
        text=text_report(found).rstrip(),
        markdown=_demoted(render_markdown(found), 2),
        data=found.to_json(),
        breaking=found.breaking,
        changes=len(found.changes),
    )


def _demoted(markdown: str, levels: int) -> str:
    """``markdown`` with its headings ``levels`` deeper, to sit inside the update report."""
    return "\n".join("#" * levels + line if line.startswith("#") else line for line in markdown.splitlines())


# -- one source -----------------------------------------------------------------------------------


@dataclass
class SourceUpdate:
    """What ``update`` found for one source."""

    name: str
    pinned: str
    pinned_sha256: str
    status: Status
    message: str = ""  # the one-line reason for no-listing and error
    listing: str = ""  # where the releases were listed (URL or mirror directories), or "--from ..."
    newer: list[str] = field(default_factory=list)  # tags newer than the pin, newest first
    notes: list[str] = field(default_factory=list)  # releases left out of the listing, and why
    tag: str = ""  # the candidate's tag ("" for a --from bundle without one)
    sha256: str = ""
    published: str = ""
    origin: str = ""  # mirror, network, --from
    where: str = ""  # the mirror file or the URL it came from
    path: Path | None = None  # the verified candidate (in the cache, or the --from file)
    verified: list[str] = field(default_factory=list)  # what was checked, in words
    comparison: Comparison | None = None
    written: bool = False

    @property
    def breaking(self) -> bool | None:
        return self.comparison.breaking if self.comparison else None

    @property
    def pinnable(self) -> bool:
        """Whether ``--write`` can move the pin to the candidate."""
        return self.status == "update" and bool(self.tag) and bool(self.sha256)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.name,
            "status": self.status,
            "message": self.message,
            "pinned": {"version": self.pinned, "sha256": self.pinned_sha256},
            "listing": self.listing,
            "newer": self.newer,
            "notes": self.notes,
            "candidate": (
                None
                if not self.sha256
                else {
                    "version": self.tag,
                    "sha256": self.sha256,
                    "published": self.published,
                    "origin": self.origin,
                    "from": self.where,
                    "verified": self.verified,
                }
            ),
            "breaking": self.breaking,
            "diff": self.comparison.data if self.comparison else None,
            "written": self.written,
        }


def check(
    sources: SourcesFile,
    names: Sequence[str],
    options: FetchOptions,
    *,
    tag: str = "",
    from_: str = "",
    differ: Differ = compare,
) -> list[SourceUpdate]:
    """Look for a newer release of each named source (all when ``names`` is empty); write nothing
    but verified bundles in the cache. A failing source gives an ``error`` entry, not an exception."""
    chosen = (
        [sources.get(n) for n in names] if names else [sources.sources[n] for n in sorted(sources.sources)]
    )
    if (tag or from_) and len(chosen) != 1:
        raise CodegenError("--tag and --from need exactly one source: update deriv-options --tag TAG")
    overrides = sources.project_root / "schemas" / "overrides"
    results = []
    for source in chosen:
        result = SourceUpdate(source.name, source.version, source.sha256, "up-to-date")
        try:
            _check_one(result, source, options, tag, from_, differ, overrides)
        except NoReleaseListing as exc:
            result.status, result.message = "no-listing", str(exc)
        except CodegenError as exc:
            result.status, result.message = "error", str(exc)
        results.append(result)
    return results


def _check_one(
    result: SourceUpdate,
    source: Source,
    options: FetchOptions,
    tag: str,
    from_: str,
    differ: Differ,
    overrides: Path,
) -> None:
    if from_:
        _take_from(result, source, options, tag, from_)
    else:
        release: Release | None = Release(tag) if tag else None
        if not tag:
            listing = list_releases(source, options)
            release = _newest(result, source, listing)
        if release is None:
            return
        _take_release(result, source, options, release)
    if result.tag == source.version and result.sha256 == source.sha256:
        result.status = "up-to-date"
        return
    result.status = "update"
    assert result.path is not None
    old = Bundle(fetch(source, options), source.version, source.sha256)
    new = Bundle(result.path, result.tag or f"unpinned-{result.sha256[:12]}", result.sha256)
    result.comparison = differ(source, old, new, overrides, options.limits)


def _newest(result: SourceUpdate, source: Source, listing: Listing) -> Release | None:
    result.listing = f"{listing.where} ({'mirror directories' if listing.origin == 'mirror' else 'releases'})"
    result.notes = list(listing.notes)
    newer = listing.newer_than(source.version)
    result.newer = [r.tag for r in newer]
    if listing.origin == "network" and listing.releases and listing.get(source.version) is None:
        result.notes.append(f"the pinned {source.version} is not in the listing")
    if not newer:
        n = len(listing.releases)
        result.message = (
            f"{source.version} is the newest of {n} release(s) listed" if n else "no releases listed"
        )
        return None
    return newer[0]


def _take_release(result: SourceUpdate, source: Source, options: FetchOptions, release: Release) -> None:
    got = fetch_release(source, release.tag, options, expected=release.digest, confirm=not release.digest)
    if release.asset_url and release.asset_url != source.url_for(release.tag):
        result.notes.append(
            f"the listing's asset URL {_display_url(release.asset_url)} differs from the url in "
            "sources.toml; the bundle was fetched as the pin will fetch it"
        )
    result.tag, result.sha256, result.published = release.tag, got.sha256, release.published
    result.origin, result.where, result.path = got.origin, got.where, got.path
    if release.digest:
        result.verified.append(f"matches the sha256 upstream publishes for the asset ({release.digest})")
    if got.origin == "mirror":
        listed = mirror_index(Path(got.where), release.tag)
        if listed and listed != got.sha256:
            got.path.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"mirror file {got.where} has sha256 {got.sha256}, but the mirror's README.md lists "
                f"{listed} for {release.tag}; nothing was kept. The mirror copy is damaged or was replaced"
            )
        result.verified.append(
            "matches the sha256 the mirror's README.md lists"
            if listed
            else "the mirror's README.md lists no sha256 for it"
        )
    if got.downloads > 1:
        result.verified.append(f"downloaded {got.downloads} times: the same bytes each time")
    result.verified.append(f"a complete {source.layout} bundle (every file read and checked)")
    if not release.digest:
        result.verified.append(
            "upstream publishes no checksum: this sha256 is trusted on first use, "
            "and checked on every later fetch"
        )


def _take_from(result: SourceUpdate, source: Source, options: FetchOptions, tag: str, from_: str) -> None:
    path, digest = fetch_from(from_, source.layout, options)
    stem = Path(from_.rstrip("/")).name.removesuffix(".zip").removesuffix(".json")
    if not tag and VERSION.match(stem) and stem != Path(source.url_for("x")).stem:
        tag = stem
    result.listing = f"--from {from_}"
    result.tag, result.sha256, result.origin, result.where, result.path = tag, digest, "--from", from_, path
    result.verified.append(f"a complete {source.layout} bundle (every file read and checked)")
    result.verified.append(
        "given with --from: not checked against upstream, you vouch for it"
        + ("" if digest else " (a directory: it has no sha256 and cannot be pinned)")
    )
    if tag and tag_key(tag) < tag_key(source.version):
        result.notes.append(f"{tag} sorts before the pinned {source.version}")


# -- writing --------------------------------------------------------------------------------------


def write_pins(
    sources: SourcesFile, updates: Sequence[SourceUpdate], options: FetchOptions, *, fail_on_breaking: bool
) -> list[str]:
    """Move the pin of each update (``--write``); return what was not written and why.

    Nothing is written when any source failed. With ``fail_on_breaking`` an update that breaks
    anything (or cannot be told not to) is left for a person to review.
    """
    if any(u.status == "error" for u in updates):
        return ["no pin was written: a source failed (see above)"]
    skipped: list[str] = []
    for u in updates:
        if u.status != "update":
            continue
        source = sources.get(u.name)
        why = _why_not_writable(u, source, fail_on_breaking)
        if why:
            skipped.append(f"{u.name}: pin not moved: {why}")
            continue
        if u.origin == "--from" and u.path is not None:
            cache_bundle(source.with_pin(u.tag, u.sha256), u.path, options)
        write_pin(sources.path, u.name, u.tag, u.sha256)
        u.written = True
    return skipped


def _why_not_writable(u: SourceUpdate, source: Source, fail_on_breaking: bool) -> str:
    if not u.sha256:
        return "a directory has no sha256; pin a zip file"
    if not u.tag:
        return "the bundle's release tag is unknown; name it with --tag TAG"
    if "{version}" not in source.url_template:
        return "its url names one fixed document; edit sources.toml by hand"
    if fail_on_breaking and u.breaking is not False:
        return "it breaks existing code (--fail-on-breaking); review it and pin by hand"
    return ""


# -- output ---------------------------------------------------------------------------------------


def _headline(u: SourceUpdate) -> str:
    if u.status == "no-listing":
        return f"{u.name}: {u.message}"
    if u.status == "error":
        return f"{u.name}: error: {u.message}"
    if u.status == "up-to-date":
        why = f" ({u.message})" if u.message else ""
        return f"{u.name}: up to date at {u.pinned}{why}"
    more = ""
    if len(u.newer) > 1:
        more = f"; {len(u.newer)} newer releases: {', '.join(u.newer)}"
    when = f", published {u.published}" if u.published else ""
    return f"{u.name}: {u.pinned} -> {u.tag or 'the --from bundle'}{when}{more}"


def _verdict(u: SourceUpdate) -> str:
    if u.breaking is None:
        return "breaking: unknown"
    return "breaking changes" if u.breaking else "no breaking changes"


def render_text(updates: Sequence[SourceUpdate], skipped: Sequence[str] = (), *, write: bool = False) -> str:
    """The terminal report: a headline per source, what was verified, the diff, the pin's fate."""
    lines: list[str] = []
    for u in updates:
        lines.append(_headline(u))
        if u.status != "update":
            continue
        lines.append(f"  from {u.where} ({u.origin}); listed by {u.listing}")
        lines.append(f"  sha256 {u.sha256 or '(none: a directory)'}")
        lines += [f"  verified: {v}" for v in u.verified]
        lines += [f"  note: {n}" for n in u.notes]
        if u.comparison is not None:
            lines.append(f"  diff {u.pinned} -> {u.tag or 'candidate'} ({_verdict(u)}):")
            lines += [f"    {line}" if line else "" for line in u.comparison.text.splitlines()]
        if u.written:
            lines.append(
                f"  pinned {u.name} to {u.tag} in sources.toml; next: deriv-codegen generate {u.name}"
            )
        elif not write:
            how = f"deriv-codegen update {u.name} --write"
            if u.origin == "--from":
                how = f"deriv-codegen update {u.name} --from {u.where} --tag {u.tag or 'TAG'} --write"
            lines.append(f"  pin unchanged (sources.toml not modified); to move it: {how}")
    lines += skipped
    return "\n".join(lines)


def render_markdown(updates: Sequence[SourceUpdate], skipped: Sequence[str] = ()) -> str:
    """The report for CI and pull requests."""
    out = ["# Upstream releases", ""]
    out += ["| source | pinned | newest | status | breaking |", "|---|---|---|---|---|"]
    for u in updates:
        newest = u.tag if u.status == "update" else ""
        breaking = "" if u.status != "update" else {None: "unknown", True: "**yes**", False: "no"}[u.breaking]
        out.append(
            f"| {u.name} | `{u.pinned}` | {f'`{newest}`' if newest else ''} | {u.status} | {breaking} |"
        )
    for u in updates:
        out += ["", f"## {u.name}", "", _headline(u).removeprefix(f"{u.name}: "), ""]
        if u.status != "update":
            continue
        out.append(f"- from `{u.where}` ({u.origin}), sha256 `{u.sha256}`")
        out += [f"- verified: {v}" for v in u.verified]
        out += [f"- note: {n}" for n in u.notes]
        out.append(f"- pin {'moved to `' + u.tag + '`' if u.written else 'unchanged'}")
        if u.comparison is not None:
            out += ["", f"- verdict: {_verdict(u)}", "", u.comparison.markdown]
    if skipped:
        out += ["", *[f"- {s}" for s in skipped]]
    return "\n".join(out).rstrip() + "\n"


def render_json(updates: Sequence[SourceUpdate], skipped: Sequence[str] = ()) -> str:
    return (
        json.dumps({"sources": [u.to_json() for u in updates], "not_written": list(skipped)}, indent=2) + "\n"
    )


# -- the command ----------------------------------------------------------------------------------


def run(
    sources: SourcesFile,
    names: Sequence[str],
    options: FetchOptions,
    *,
    write: bool = False,
    tag: str = "",
    from_: str = "",
    report: Path | None = None,
    ci: bool = False,
    fail_on_breaking: bool = False,
    out: TextIO | None = None,
    differ: Differ = compare,
) -> int:
    """``deriv-codegen update``: check, print, write the report (``--report``, Markdown or ``.json``),
    move pins with ``write``; return the exit status (see the module's docstring)."""
    stream = out or sys.stdout
    updates = check(sources, names, options, tag=tag, from_=from_, differ=differ)
    skipped: list[str] = []
    if write:
        skipped = write_pins(sources, updates, options, fail_on_breaking=fail_on_breaking)
    print(render_text(updates, skipped, write=write), file=stream)
    if report is not None:
        text = (
            render_json(updates, skipped) if report.suffix == ".json" else render_markdown(updates, skipped)
        )
        report.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(report, text)
        print(f"report written to {report}", file=stream)
    if any(u.status == "error" for u in updates):
        return EXIT_ERROR
    if fail_on_breaking:
        breaking = [u.name for u in updates if u.status == "update" and u.breaking is not False]
        if breaking:
            if ci:
                print(f"::error::breaking upstream changes in {', '.join(breaking)}", file=stream)
            return EXIT_BREAKING
    return EXIT_OK
