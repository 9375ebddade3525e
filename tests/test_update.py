"""``deriv-codegen update`` against a local server that imitates GitHub: the release listing of the
REST API, release downloads that redirect to a storage host, and the real Options releases of the
mirror (read from ../shared/schemas/deriv-options/) as the files it serves. Never the internet."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from deriv_codegen.cli import main
from deriv_codegen.errors import FetchError
from deriv_codegen.fetch import MIRRORS_ENV, FetchOptions, fetch
from deriv_codegen.releases import (
    NoReleaseListing,
    _token,
    list_releases,
    mirror_index,
    mirror_listing,
    parse_listing,
    tag_key,
)
from deriv_codegen.sources import load_sources

from ._httpserver import HTTPTestServer, Reply, closed_port_url
from .conftest import ROOT, SHARED_SCHEMAS

MIRROR = SHARED_SCHEMAS / "deriv-options"
LISTING = "/repos/deriv-com/deriv-api-schemas/releases"
RELEASE = "/releases/download/{version}/schemas.zip"
SIGNED = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=SECRETSIGNATURE"
OLD, MID, NEW = "production_v20260622_0", "production_v20260626_0", "production_v20260630_0"

pytestmark = pytest.mark.skipif(not (MIRROR / f"{NEW}.zip").is_file(), reason="needs the schema mirror")

SOURCES = """\
# the project's pins
[fetch]
mirrors = MIRRORS

[sources.deriv-options]
version = "VERSION"
url = "URL"
sha256 = "SHA"
layout = "deriv-options-zip"
mirror_path = "deriv-options/{version}.zip"
package = "deriv_options"
releases_url = "LISTING"
"""


def data(tag: str) -> bytes:
    return (MIRROR / f"{tag}.zip").read_bytes()


def sha(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def release(tag: str, server: HTTPTestServer, *, digest: bool = True, **extra: object) -> dict[str, object]:
    """One entry of GitHub's release listing, with its schemas.zip asset."""
    asset: dict[str, object] = {
        "name": "schemas.zip",
        "browser_download_url": server.url(RELEASE.format(version=tag)),
    }
    if digest and (MIRROR / f"{tag}.zip").is_file():
        asset["digest"] = f"sha256:{sha(data(tag))}"
    entry: dict[str, object] = {
        "tag_name": tag,
        "draft": False,
        "prerelease": False,
        "published_at": f"{tag[12:16]}-{tag[16:18]}-{tag[18:20]}T09:00:00Z" if len(tag) > 20 else "",
        "assets": [asset, {"name": "Source code", "browser_download_url": "https://example.invalid/x"}],
    }
    entry.update(extra)
    return entry


def storage(server: HTTPTestServer, tag: str, blob: bytes) -> None:
    """A release download that redirects to a storage URL with a signed query, as GitHub does."""
    server.serve(f"/storage/{tag}.zip", blob)
    server.redirect(RELEASE.format(version=tag), f"/storage/{tag}.zip{SIGNED}")


@pytest.fixture(autouse=True)
def _no_proxies_or_mirrors(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(MIRRORS_ENV, raising=False)


@pytest.fixture
def github() -> Iterator[HTTPTestServer]:
    """The listing (three releases, a draft, a pre-release, one without the asset) and the downloads."""
    with HTTPTestServer() as server:
        listing = [
            release(NEW, server),
            release("production_v20260701_0", server, draft=True),
            release("production_v20260702_0", server, prerelease=True),
            {**release("docs_only", server), "assets": []},
            release(MID, server),
            release(OLD, server),
        ]
        server.serve(LISTING, json.dumps(listing).encode(), headers={"Content-Type": "application/json"})
        for tag in (OLD, MID, NEW):
            storage(server, tag, data(tag))
        yield server


def write_project(
    root: Path,
    server_url: str,
    *,
    version: str = OLD,
    mirrors: str = "[]",
    listing: str = LISTING,
) -> Path:
    """A project whose sources.toml pins deriv-options at ``version`` and points at ``server_url``."""
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "schemas" / "overrides", root / "schemas" / "overrides", dirs_exist_ok=True)
    text = (
        SOURCES.replace("MIRRORS", mirrors)
        .replace("VERSION", version)
        .replace("URL", server_url + RELEASE)
        .replace("SHA", sha(data(version)))
        .replace("LISTING", server_url + listing)
    )
    path = root / "schemas" / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, github: HTTPTestServer) -> Path:
    return write_project(tmp_path / "project", github.url(""))


def update(sources: Path, *args: str) -> int:
    cache = sources.parent / ".cache"
    return main(["update", "--sources", str(sources), "--cache-dir", str(cache), "--timeout", "5", *args])


def cached(sources: Path) -> list[str]:
    folder = sources.parent / ".cache"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- a new release --------------------------------------------------------------------------------


def test_new_tag_found_verified_diffed_and_pin_untouched(
    project: Path, github: HTTPTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = project.read_bytes()
    assert update(project) == 0
    out = capsys.readouterr().out
    assert f"deriv-options: {OLD} -> {NEW}, published 2026-06-30T09:00:00Z" in out
    assert f"2 newer releases: {NEW}, {MID}" in out
    assert f"sha256 {sha(data(NEW))}" in out
    assert "verified: matches the sha256 upstream publishes for the asset" in out
    assert "(redirected" not in out and "SECRETSIGNATURE" not in out
    # the diff of the real releases: the fields 20260626 removed from create_account answers
    assert f"diff {OLD} -> {NEW} (breaking changes):" in out
    assert "Breaking changes (12)" in out and "REST-shaped schema create_account" in out
    assert re.search(r"response \S+\.email +field-removed: optional field removed +readers: BREAKING", out)
    assert "pin unchanged (sources.toml not modified)" in out
    assert project.read_bytes() == before  # byte for byte
    # the listing once, the newest release once (upstream's digest vouches for it), and the pinned one
    assert github.count(LISTING) == 1
    assert github.count(f"/storage/{NEW}.zip") == 1
    assert github.count(f"/storage/{MID}.zip") == 0
    assert f"{NEW}-{sha(data(NEW))[:16]}.zip" in cached(project)


def test_write_moves_the_pin_through_the_pin_machinery(
    project: Path, github: HTTPTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    before = project.read_text(encoding="utf-8")
    assert update(project, "--write") == 0
    out = capsys.readouterr().out
    assert f"pinned deriv-options to {NEW} in sources.toml; next: deriv-codegen generate deriv-options" in out
    after = project.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [
        (f'version = "{OLD}"', f'version = "{NEW}"'),
        (f'sha256 = "{sha(data(OLD))}"', f'sha256 = "{sha(data(NEW))}"'),
    ]
    source = load_sources(project).get("deriv-options")
    assert (source.version, source.sha256) == (NEW, sha(data(NEW)))
    assert source.releases_url == github.url(LISTING)
    # the new pin is in the cache: fetch finds it without the network
    options = FetchOptions(cache_dir=project.parent / ".cache", offline=True)
    assert fetch(source, options).read_bytes() == data(NEW)
    # and the next run finds nothing newer
    assert update(project) == 0
    assert f"deriv-options: up to date at {NEW} ({NEW} is the newest of 3 release(s) listed)" in (
        capsys.readouterr().out
    )


def test_without_a_published_digest_the_download_is_made_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HTTPTestServer() as server:
        server.serve(LISTING, json.dumps([release(NEW, server, digest=False), release(OLD, server)]).encode())
        for tag in (OLD, NEW):
            storage(server, tag, data(tag))
        sources = write_project(tmp_path, server.url(""))
        assert update(sources) == 0
        assert server.count(f"/storage/{NEW}.zip") == 2
    out = capsys.readouterr().out
    assert "verified: downloaded 2 times: the same bytes each time" in out
    assert "upstream publishes no checksum: this sha256 is trusted on first use" in out


def test_a_download_that_changes_between_two_reads_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HTTPTestServer() as server:
        server.serve(LISTING, json.dumps([release(NEW, server, digest=False)]).encode())
        storage(server, OLD, data(OLD))
        server.route("/storage/new.zip", lambda n: Reply(body=data(NEW) if n == 1 else data(MID)))
        server.redirect(RELEASE.format(version=NEW), f"/storage/new.zip{SIGNED}")
        sources = write_project(tmp_path, server.url(""))
        before = sources.read_bytes()
        assert update(sources, "--write") == 1
    out = capsys.readouterr().out
    assert f"deriv-options {NEW} from " in out and "is not stable: two downloads have sha256" in out
    assert sources.read_bytes() == before
    assert not any(name.startswith(NEW) for name in cached(sources))


def test_up_to_date_fetches_no_bundle(
    tmp_path: Path, github: HTTPTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = write_project(tmp_path, github.url(""), version=NEW)
    assert update(sources, "--write") == 0
    out = capsys.readouterr().out
    assert f"up to date at {NEW} ({NEW} is the newest of 3 release(s) listed)" in out
    assert github.count(LISTING) == 1
    assert github.total == 1  # nothing but the listing


def test_tag_takes_a_given_release(
    project: Path, github: HTTPTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert update(project, "--tag", MID) == 0
    out = capsys.readouterr().out
    assert f"deriv-options: {OLD} -> {MID}" in out
    assert github.count(LISTING) == 0


# -- offline: mirrors and --from ------------------------------------------------------------------


def test_offline_lists_the_mirror_and_checks_its_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = write_project(
        tmp_path, closed_port_url("").rstrip("/"), mirrors=json.dumps([str(SHARED_SCHEMAS)])
    )
    before = sources.read_bytes()
    assert update(sources, "--offline") == 0
    out = capsys.readouterr().out
    assert f"deriv-options: {OLD} -> {NEW}; 2 newer releases: {NEW}, {MID}" in out
    mirror = SHARED_SCHEMAS.resolve()  # sources.toml's mirrors are resolved paths
    assert (
        f"from {mirror / 'deriv-options' / (NEW + '.zip')} (mirror); listed by {mirror} (mirror directories)"
        in out
    )
    assert "verified: matches the sha256 the mirror's README.md lists" in out
    assert f"diff {OLD} -> {NEW} (breaking changes)" in out
    assert sources.read_bytes() == before


def test_a_mirror_copy_that_disagrees_with_its_readme_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "deriv-options").mkdir(parents=True)
    shutil.copy(MIRROR / f"{OLD}.zip", mirror / "deriv-options" / f"{OLD}.zip")
    (mirror / "deriv-options" / f"{NEW}.zip").write_bytes(data(MID))  # replaced behind the index's back
    (mirror / "README.md").write_text(f"| tag | sha256 |\n|---|---|\n| {NEW} | {sha(data(NEW))} |\n")
    sources = write_project(tmp_path, closed_port_url("").rstrip("/"), mirrors=json.dumps([str(mirror)]))
    before = sources.read_bytes()
    assert update(sources, "--offline", "--write") == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("deriv-options: error:"))
    assert f"but the mirror's README.md lists {sha(data(NEW))} for {NEW}; nothing was kept" in line
    assert sources.read_bytes() == before
    assert not any(name.startswith(NEW) for name in cached(sources))


def test_from_a_file_offline_then_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = write_project(
        tmp_path, closed_port_url("").rstrip("/"), mirrors=json.dumps([str(SHARED_SCHEMAS)])
    )
    bundle = tmp_path / "downloads" / f"{NEW}.zip"  # the tag comes from the file name
    bundle.parent.mkdir()
    bundle.write_bytes(data(NEW))
    before = sources.read_bytes()
    assert update(sources, "deriv-options", "--offline", "--from", str(bundle)) == 0
    out = capsys.readouterr().out
    assert f"deriv-options: {OLD} -> {NEW}" in out
    assert "given with --from: not checked against upstream, you vouch for it" in out
    assert f"--from {bundle} --tag {NEW} --write" in out
    assert sources.read_bytes() == before
    assert update(sources, "deriv-options", "--offline", "--from", str(bundle), "--write") == 0
    source = load_sources(sources).get("deriv-options")
    assert (source.version, source.sha256) == (NEW, sha(data(NEW)))
    # cached under the new pin: it works with no mirror and no network
    assert fetch(source, FetchOptions(cache_dir=tmp_path / "schemas" / ".cache", offline=True)).is_file()


def test_from_a_file_without_a_tag_is_diffed_but_not_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = write_project(
        tmp_path, closed_port_url("").rstrip("/"), mirrors=json.dumps([str(SHARED_SCHEMAS)])
    )
    bundle = tmp_path / "schemas.zip"
    bundle.write_bytes(data(NEW))
    before = sources.read_bytes()
    assert update(sources, "deriv-options", "--offline", "--from", str(bundle), "--write") == 0
    out = capsys.readouterr().out
    assert f"deriv-options: {OLD} -> the --from bundle" in out
    assert "pin not moved: the bundle's release tag is unknown; name it with --tag TAG" in out
    assert sources.read_bytes() == before


# -- CI mode --------------------------------------------------------------------------------------


def test_ci_writes_the_report_and_fails_on_breaking(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = project.read_bytes()
    report = tmp_path / "out" / "update.md"
    assert update(project, "--ci", "--report", str(report), "--fail-on-breaking", "--write") == 3
    out = capsys.readouterr().out
    assert "::error::breaking upstream changes in deriv-options" in out
    assert "pin not moved: it breaks existing code (--fail-on-breaking)" in out
    assert project.read_bytes() == before
    text = report.read_text(encoding="utf-8")
    assert f"| deriv-options | `{OLD}` | `{NEW}` | update | **yes** |" in text
    assert "- verdict: breaking changes" in text
    assert f"### deriv-options: {OLD} -> {NEW}" in text and "#### Breaking changes (12)" in text
    assert "| REST-shaped schema `create_account` | `response $<oneOf[0]>.data.email` |" in text
    # JSON for machines
    report_json = tmp_path / "update.json"
    assert update(project, "--ci", "--report", str(report_json)) == 0  # no policy: exit 0
    doc = json.loads(report_json.read_text(encoding="utf-8"))
    (entry,) = doc["sources"]
    assert entry["status"] == "update" and entry["breaking"] is True and entry["written"] is False
    assert entry["pinned"] == {"version": OLD, "sha256": sha(data(OLD))}
    assert entry["candidate"]["version"] == NEW and entry["candidate"]["sha256"] == sha(data(NEW))
    assert entry["newer"] == [NEW, MID]
    assert entry["diff"]["breaking"] is True and entry["diff"]["summary"]["breaking_for_readers"] > 0
    assert any("draft" in n for n in entry["notes"]) and any("pre-release" in n for n in entry["notes"])
    assert any("docs_only: has no schemas.zip asset" in n for n in entry["notes"])


def test_ci_passes_and_writes_a_compatible_update(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A release with the same content under a new tag: no changes, so the policy lets --write pin it."""
    later = "production_v20260707_0"
    with HTTPTestServer() as server:
        entry = release(later, server, digest=False)
        server.serve(LISTING, json.dumps([entry, release(NEW, server)]).encode())
        storage(server, NEW, data(NEW))
        storage(server, later, data(NEW))
        sources = write_project(tmp_path, server.url(""), version=NEW)
        report = tmp_path / "r.md"
        assert update(sources, "--ci", "--report", str(report), "--fail-on-breaking", "--write") == 0
    out = capsys.readouterr().out
    assert f"diff {NEW} -> {later} (no breaking changes)" in out
    assert "0 change(s): 0 breaking for senders, 0 breaking for readers" in out
    assert load_sources(sources).get("deriv-options").version == later
    assert "| no |" in report.read_text(encoding="utf-8")


# -- failures: one line each, nothing written -------------------------------------------------------


def _error_line(out: str) -> str:
    lines = [x for x in out.splitlines() if x.startswith("deriv-options: error:")]
    assert len(lines) == 1, out
    return lines[0]


def test_missing_release_asset_is_a_404(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    later = "production_v20260707_0"
    with HTTPTestServer() as server:
        server.serve(LISTING, json.dumps([release(later, server), release(OLD, server)]).encode())
        storage(server, OLD, data(OLD))
        sources = write_project(tmp_path, server.url(""))
        before = sources.read_bytes()
        assert update(sources, "--write", "--report", str(tmp_path / "r.json")) == 1
    line = _error_line(capsys.readouterr().out)
    assert f"cannot download deriv-options {later} from" in line and "HTTP 404" in line
    assert f"Check that release {later!r} of deriv-options exists" in line
    assert sources.read_bytes() == before
    assert cached(sources) == []
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["sources"][0]["status"] == "error" and "HTTP 404" in doc["sources"][0]["message"]


def test_corrupt_zip_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with HTTPTestServer() as server:
        server.serve(LISTING, json.dumps([release(NEW, server, digest=False), release(OLD, server)]).encode())
        storage(server, OLD, data(OLD))
        storage(server, NEW, b"<html>storage error</html>")
        sources = write_project(tmp_path, server.url(""))
        before = sources.read_bytes()
        assert update(sources, "--write") == 1
    line = _error_line(capsys.readouterr().out)
    assert "is not a zip archive" in line and "HTML" in line
    assert sources.read_bytes() == before
    assert cached(sources) == []


def test_a_download_that_differs_from_the_published_digest_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HTTPTestServer() as server:
        entry = release(NEW, server)
        entry["assets"] = [{"name": "schemas.zip", "digest": "sha256:" + "0" * 64}]
        server.serve(LISTING, json.dumps([entry]).encode())
        storage(server, NEW, data(NEW))
        sources = write_project(tmp_path, server.url(""))
        before = sources.read_bytes()
        assert update(sources, "--write") == 1
    line = _error_line(capsys.readouterr().out)
    assert f"checksum mismatch for deriv-options {NEW}" in line
    assert f"upstream publishes sha256 {'0' * 64}, got {sha(data(NEW))}; the file was not kept" in line
    assert sources.read_bytes() == before
    assert cached(sources) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<!DOCTYPE html><html>Sign in</html>", "it is not JSON (it looks like an HTML page"),
        (b"", "it is not JSON (it is empty)"),
        (b'{"message": "Not Found", "documentation_url": "x"}', "it is a JSON dict saying 'Not Found'"),
        (b'[{"name": "no tag"}]', "an entry has no tag_name"),
        (b'"releases"', "it is a JSON str"),
    ],
)
def test_listing_garbage(
    tmp_path: Path, body: bytes, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with HTTPTestServer() as server:
        server.serve(LISTING, body)
        sources = write_project(tmp_path, server.url(""))
        before = sources.read_bytes()
        assert update(sources, "--write") == 1
        assert server.total == 1
    line = _error_line(capsys.readouterr().out)
    assert f"the release listing at {server.url(LISTING)} is not a GitHub release list" in line
    assert expected in line
    assert sources.read_bytes() == before


def test_listing_http_errors(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        server.serve(LISTING, b"{}", status=404)
        server.serve("/limited", b"{}", status=403, headers={"X-RateLimit-Remaining": "0"})
        server.flaky("/flaky", json.dumps([release(NEW, server)]).encode(), failures=1)
        source = load_sources(write_project(tmp_path, server.url(""))).get("deriv-options")
        options = FetchOptions(cache_dir=tmp_path / "c", retries=2, backoff=0.01, timeout=5)
        with pytest.raises(FetchError, match=r"HTTP 404 Not Found; check releases_url in sources\.toml"):
            list_releases(source, options)
        limited = source.__class__(**{**source.__dict__, "releases_url": server.url("/limited")})
        with pytest.raises(FetchError, match="rate limit is used up; set GITHUB_TOKEN"):
            list_releases(limited, options)
        flaky = source.__class__(**{**source.__dict__, "releases_url": server.url("/flaky")})
        listing = list_releases(flaky, options)  # a 503, then the listing
        assert [r.tag for r in listing.releases] == [NEW]
        assert listing.releases[0].digest == sha(data(NEW))


def test_listing_timeout_and_unreachable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with HTTPTestServer() as server:
        server.route(LISTING, lambda n: Reply(delay=5))
        source = load_sources(write_project(tmp_path, server.url(""))).get("deriv-options")
        options = FetchOptions(cache_dir=tmp_path / "c", retries=2, backoff=0.01, timeout=0.3)
        with pytest.raises(FetchError) as info:
            list_releases(source, options)
    message = str(info.value)
    assert "timed out (no answer for 0.3s) (gave up after 2 attempts)" in message
    assert "With --offline, update lists the releases in the mirror directories instead" in message
    assert "\n" not in message
    # through the command: a closed port
    sources = write_project(tmp_path / "p2", closed_port_url("").rstrip("/"))
    before = sources.read_bytes()
    assert update(sources, "--write", "--timeout", "1") == 1
    line = _error_line(capsys.readouterr().out)
    assert "cannot read the release listing at" in line and "network error" in line
    assert sources.read_bytes() == before


def test_one_failing_source_means_no_pin_is_written(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = project.read_text(encoding="utf-8")
    broken = text.split("[sources.deriv-options]")[1].replace("LISTING", "x")
    broken = re.sub(r'releases_url = ".*"', f'releases_url = "{closed_port_url("/releases")}"', broken)
    project.write_text(text + "\n[sources.other]" + broken, encoding="utf-8")
    before = project.read_bytes()
    assert update(project, "--write", "--timeout", "1") == 1
    out = capsys.readouterr().out
    assert f"deriv-options: {OLD} -> {NEW}" in out
    assert "other: error: cannot read the release listing" in out
    assert "no pin was written: a source failed (see above)" in out
    assert project.read_bytes() == before


# -- sources without a listing --------------------------------------------------------------------


def test_sources_without_a_listing_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    repo = ROOT / "schemas" / "sources.toml"
    before = repo.read_bytes()
    assert main(["update", "deribit", "deriv-legacy-v3", "--sources", str(repo), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "deribit: no release listing for this source (its url names one fixed document;" in out
    assert "deriv-legacy-v3: no release listing for this source (it is pinned to a commit" in out
    assert "deriv-codegen update deribit --from PATH_OR_URL" in out
    assert repo.read_bytes() == before
    with pytest.raises(NoReleaseListing):
        list_releases(load_sources(repo).get("deribit"), FetchOptions(cache_dir=Path("unused")))


def test_tag_or_from_needs_one_source(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["update", "--sources", str(project), "--tag", NEW, "--cache-dir", str(project.parent / ".c")])
        == 0
    )
    # the project has one source, so that worked; the repository's file has three
    repo = ROOT / "schemas" / "sources.toml"
    assert main(["update", "--sources", str(repo), "--tag", NEW, "--offline"]) == 1
    assert "--tag and --from need exactly one source" in capsys.readouterr().err


# -- the pieces -----------------------------------------------------------------------------------


def test_tag_order() -> None:
    tags = [
        "production_v20260630_0",
        "production_v20260512_0",
        "production_v20260630_10",
        "production_v20260630_2",
        "production_v20260701_0",
    ]
    assert sorted(tags, key=tag_key) == [
        "production_v20260512_0",
        "production_v20260630_0",
        "production_v20260630_2",
        "production_v20260630_10",
        "production_v20260701_0",
    ]
    assert tag_key("2.0.10") > tag_key("2.0.9") > tag_key("2.0.0")
    assert tag_key("v1") < tag_key("v1a")


def test_token_only_for_github_api() -> None:
    env = {"GITHUB_TOKEN": " t0k3n "}
    assert _token("https://api.github.com/repos/a/b/releases", env) == "t0k3n"
    assert _token("https://api.github.com/repos/a/b/releases", {"GH_TOKEN": "x"}) == "x"
    assert _token("http://api.github.com/repos/a/b/releases", env) == ""
    assert _token("https://api.github.com.evil.example/releases", env) == ""
    assert _token("http://127.0.0.1:8000/releases", env) == ""
    assert _token("https://api.github.com/repos/a/b/releases", {}) == ""


def test_mirror_listing_and_index() -> None:
    source = load_sources(ROOT / "schemas" / "sources.toml").get("deriv-options")
    listing = mirror_listing(source, [SHARED_SCHEMAS, Path("/nonexistent")])
    assert [r.tag for r in listing.releases] == sorted((p.stem for p in MIRROR.glob("*.zip")), reverse=True)
    assert len(listing.releases) == 6
    assert [r.tag for r in listing.newer_than(MID)] == [NEW]
    for r in listing.releases:
        assert mirror_index(Path(r.where), r.tag) == sha(data(r.tag))
    legacy = load_sources(ROOT / "schemas" / "sources.toml").get("deriv-legacy-v3")
    empty = mirror_listing(legacy, [SHARED_SCHEMAS])
    assert empty.releases == () and "has no {version}" in empty.notes[0]


def test_parse_listing_keeps_usable_releases_newest_first() -> None:
    source = load_sources(ROOT / "schemas" / "sources.toml").get("deriv-options")
    asset = {
        "name": "schemas.zip",
        "browser_download_url": "https://x/schemas.zip",
        "digest": "sha256:" + "A" * 64,
    }
    items = [
        {"tag_name": MID, "assets": [asset]},
        {"tag_name": NEW, "assets": [{**asset, "digest": "md5:abc"}], "published_at": "2026-06-30"},
        {"tag_name": "bad tag/..", "assets": [asset]},
        {"tag_name": "x", "assets": "nope"},
    ]
    releases, notes = parse_listing(json.dumps(items).encode(), source, "here")
    assert [(r.tag, r.digest, r.published) for r in releases] == [
        (NEW, "", "2026-06-30"),
        (MID, "a" * 64, ""),
    ]
    assert notes == [
        "'bad tag/..': not a usable release tag, left out",
        "x: has no schemas.zip asset, left out",
    ]


def test_online_listing_with_the_bundle_from_a_mirror(
    tmp_path: Path, github: HTTPTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The listing comes from the network, the bundle from the mirror, checked against both the
    digest upstream publishes and the mirror's README; storage is never asked."""
    sources = write_project(tmp_path, github.url(""), mirrors=json.dumps([str(SHARED_SCHEMAS)]))
    assert update(sources) == 0
    out = capsys.readouterr().out
    mirrored = SHARED_SCHEMAS.resolve() / "deriv-options" / f"{NEW}.zip"
    assert f"from {mirrored} (mirror); listed by {github.url(LISTING)} (releases)" in out
    assert "verified: matches the sha256 upstream publishes for the asset" in out
    assert "verified: matches the sha256 the mirror's README.md lists" in out
    assert github.count(LISTING) == 1
    assert github.total == 1  # the pinned bundle came from the mirror too


def test_an_asset_url_that_differs_from_the_pin_url_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with HTTPTestServer() as server:
        entry = release(NEW, server)
        entry["assets"] = [
            {"name": "schemas.zip", "browser_download_url": server.url("/elsewhere/schemas.zip")}
        ]
        server.serve(LISTING, json.dumps([entry]).encode())
        for tag in (OLD, NEW):
            storage(server, tag, data(tag))
        sources = write_project(tmp_path, server.url(""))
        assert update(sources) == 0
        assert server.count("/elsewhere/schemas.zip") == 0
    assert "differs from the url in sources.toml; the bundle was fetched as the pin will fetch it" in (
        capsys.readouterr().out
    )
