"""fetch.py against real HTTP servers on 127.0.0.1 and tiny bundles written here (never upstream files)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from deriv_codegen.errors import BundleError, ChecksumMismatch, FetchError
from deriv_codegen.fetch import (
    MIRRORS_ENV,
    FetchOptions,
    fetch,
    fetch_from,
    mirrors_from_env,
    resolve_pin,
    sha256_file,
    validate_bundle,
)
from deriv_codegen.sources import Source, load_sources

from ._httpserver import HTTPTestServer, closed_port_url

ROOT = Path(__file__).resolve().parents[1]
SECRET = "SECRETSIGNATURE"
SIGNED = f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=KEY&X-Amz-Signature={SECRET}"
RELEASE = "/releases/download/{version}/schemas.zip"


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def _schema(title: str, **props: object) -> bytes:
    doc: dict[str, object] = {"$schema": "http://json-schema.org/draft-07/schema#", "title": title}
    doc["type"] = "object"
    doc["properties"] = {k: {"type": v} for k, v in props.items()}
    return json.dumps(doc).encode()


BUNDLE = make_zip(
    {
        "ping_request.schema.json": _schema("Ping request", ping="integer"),
        "ping_response.schema.json": _schema("Ping response", ping="string"),
        "rest-api-openapi.json": json.dumps(
            {"openapi": "3.1.0", "info": {"title": "t"}, "paths": {}}
        ).encode(),
    }
)
BUNDLE_V2 = make_zip(
    {
        "ping_request.schema.json": _schema("Ping request v2", ping="integer"),
        "ping_response.schema.json": _schema("Ping response v2", ping="string"),
        "time_request.schema.json": _schema("Time request", time="integer"),
        "time_response.schema.json": _schema("Time response", time="integer"),
        "rest-api-openapi.json": json.dumps(
            {"openapi": "3.1.0", "info": {"title": "t2"}, "paths": {}}
        ).encode(),
    }
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_source(url_template: str, data: bytes = BUNDLE, *, version: str = "v1", **kw: str) -> Source:
    return Source(
        name="fake",
        version=version,
        url_template=url_template,
        sha256=sha(data),
        layout=kw.pop("layout", "deriv-options-zip"),
        package="fake",
        mirror_path_template=kw.pop("mirror_path_template", "fake/{version}.zip"),
    )


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def assert_cache_clean(cache: Path) -> None:
    """No file at all: neither a bad nor a partial one, nor a temporary leftover."""
    assert files_in(cache) == []


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback servers only: an HTTP(S)_PROXY in the environment must not reroute the tests."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(MIRRORS_ENV, raising=False)


@pytest.fixture
def server() -> Iterator[HTTPTestServer]:
    with HTTPTestServer() as srv:
        yield srv


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def opts(cache: Path) -> FetchOptions:
    return FetchOptions(cache_dir=cache, retries=3, backoff=0.01, timeout=5.0, progress=False)


def signed_release(server: HTTPTestServer, data: bytes, *, version: str = "v1") -> str:
    """A GitHub-like release URL that redirects to a storage URL with a signed query string."""
    server.serve(f"/storage/{version}.zip", data)
    server.redirect(RELEASE.format(version=version), f"/storage/{version}.zip{SIGNED}")
    return server.url(RELEASE)


# -- fetch: success paths ---------------------------------------------------------------------


def test_download_follows_redirect_and_lands_in_cache(
    server: HTTPTestServer, opts: FetchOptions, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    src = make_source(signed_release(server, BUNDLE))
    path = fetch(src, opts)
    assert path == cache / src.cache_name
    assert path.read_bytes() == BUNDLE
    assert files_in(cache) == [path]
    assert server.count("/releases/download/v1/schemas.zip") == 1
    assert server.count("/storage/v1.zip") == 1
    assert any(SECRET in t for t in server.targets)  # the signed URL was really followed
    assert "/storage/v1.zip" in caplog.text  # httpx/httpcore logged the hops...
    assert SECRET not in caplog.text  # ...without the query string


def test_cache_hit_makes_no_request(server: HTTPTestServer, opts: FetchOptions) -> None:
    src = make_source(signed_release(server, BUNDLE))
    first = fetch(src, opts)
    before = server.total
    assert fetch(src, opts) == first
    assert fetch(src, replace(opts, offline=True)) == first
    assert server.total == before


@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_mirror_hit_makes_no_request_and_fills_cache(
    server: HTTPTestServer, opts: FetchOptions, cache: Path, tmp_path: Path, layout: str
) -> None:
    mirror = tmp_path / "mirror"
    rel = Path("fake/v1.zip") if layout == "nested" else Path("v1.zip")  # mirror_path, then its basename
    (mirror / rel).parent.mkdir(parents=True)
    (mirror / rel).write_bytes(BUNDLE)
    src = make_source(signed_release(server, BUNDLE))
    path = fetch(src, replace(opts, mirrors=[tmp_path / "absent", mirror]))
    assert path == cache / src.cache_name
    assert path.read_bytes() == BUNDLE
    assert server.total == 0


def test_mirror_with_wrong_digest_is_skipped(
    server: HTTPTestServer, opts: FetchOptions, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = tmp_path / "bad", tmp_path / "good"
    (bad / "fake").mkdir(parents=True)
    (bad / "fake" / "v1.zip").write_bytes(BUNDLE_V2)
    (good / "fake").mkdir(parents=True)
    (good / "fake" / "v1.zip").write_bytes(BUNDLE)
    src = make_source(signed_release(server, BUNDLE))
    path = fetch(src, replace(opts, mirrors=[bad, good]))
    assert path.read_bytes() == BUNDLE
    assert server.total == 0
    assert str(bad / "fake" / "v1.zip") in caplog.text
    assert sha(BUNDLE_V2) in caplog.text


def test_mirror_with_wrong_digest_only_offline_is_checksum_mismatch(
    opts: FetchOptions, cache: Path, tmp_path: Path
) -> None:
    (tmp_path / "m" / "fake").mkdir(parents=True)
    (tmp_path / "m" / "fake" / "v1.zip").write_bytes(BUNDLE_V2)
    src = make_source(closed_port_url(RELEASE))
    with pytest.raises(ChecksumMismatch) as info:
        fetch(src, replace(opts, mirrors=[tmp_path / "m"], offline=True))
    msg = str(info.value)
    assert sha(BUNDLE) in msg
    assert sha(BUNDLE_V2) in msg
    assert "deriv-codegen pin fake v1" in msg
    assert_cache_clean(cache)


def test_corrupt_cached_file_is_replaced(
    server: HTTPTestServer, opts: FetchOptions, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = make_source(signed_release(server, BUNDLE))
    cached = cache / src.cache_name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(BUNDLE[:-7] + b"garbage")
    with caplog.at_level(logging.WARNING, logger="deriv_codegen.fetch"):
        path = fetch(src, opts)
    assert path == cached
    assert path.read_bytes() == BUNDLE
    assert server.count("/storage/v1.zip") == 1
    assert "deleting" in caplog.text
    assert str(cached) in caplog.text
    assert files_in(cache) == [cached]


def test_progress_bar_when_enabled(
    server: HTTPTestServer, opts: FetchOptions, capsys: pytest.CaptureFixture[str]
) -> None:
    src = make_source(signed_release(server, BUNDLE))
    assert fetch(src, replace(opts, progress=True)).read_bytes() == BUNDLE
    assert SECRET not in capsys.readouterr().err


def test_quiet_by_default_when_not_a_terminal(
    server: HTTPTestServer, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = make_source(signed_release(server, BUNDLE))
    fetch(src, FetchOptions(cache_dir=cache, backoff=0.01))
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == ""


# -- fetch: retries ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 500, 429])
def test_transient_status_is_retried(
    server: HTTPTestServer, opts: FetchOptions, cache: Path, status: int
) -> None:
    server.flaky("/flaky/v1.zip", BUNDLE, failures=2, status=status)
    src = make_source(server.url("/flaky/{version}.zip"))
    path = fetch(src, opts)
    assert path.read_bytes() == BUNDLE
    assert server.count("/flaky/v1.zip") == 3
    assert files_in(cache) == [path]


def test_transient_status_gives_up_after_retries(
    server: HTTPTestServer, opts: FetchOptions, cache: Path
) -> None:
    server.flaky("/flaky/v1.zip", BUNDLE, failures=10)
    src = make_source(server.url("/flaky/{version}.zip"))
    with pytest.raises(FetchError) as info:
        fetch(src, replace(opts, retries=2))
    assert server.count("/flaky/v1.zip") == 2
    assert "HTTP 503" in str(info.value)
    assert "2 attempts" in str(info.value)
    assert_cache_clean(cache)


def test_404_fails_without_retry(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    src = make_source(server.url("/missing/{version}.zip"))
    with pytest.raises(FetchError) as info:
        fetch(src, opts)
    msg = str(info.value)
    assert server.count("/missing/v1.zip") == 1
    assert "HTTP 404" in msg
    assert "/missing/v1.zip" in msg
    assert "release 'v1'" in msg
    assert not isinstance(info.value, ChecksumMismatch)
    assert_cache_clean(cache)


def test_read_timeout_is_retried_then_reported(
    server: HTTPTestServer, opts: FetchOptions, cache: Path
) -> None:
    server.stalled("/slow/v1.zip", BUNDLE, send=5)
    src = make_source(server.url("/slow/{version}.zip"))
    with pytest.raises(FetchError) as info:
        fetch(src, replace(opts, timeout=0.2, retries=2))
    assert "timed out" in str(info.value)
    assert server.count("/slow/v1.zip") == 2
    assert_cache_clean(cache)


# -- fetch: failures leave the cache clean ----------------------------------------------------


def test_truncated_body(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    server.truncated("/storage/v1.zip", BUNDLE, send=100)
    server.redirect("/releases/download/v1/schemas.zip", f"/storage/v1.zip{SIGNED}")
    src = make_source(server.url(RELEASE))
    with pytest.raises(FetchError) as info:
        fetch(src, replace(opts, retries=2))
    msg = str(info.value)
    assert f"expected {len(BUNDLE)} bytes" in msg
    assert "received 100" in msg
    assert server.count("/storage/v1.zip") == 2  # truncation is transient: retried
    assert SECRET not in msg
    assert_cache_clean(cache)


def test_tampered_body_is_checksum_mismatch(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    tampered = bytearray(BUNDLE)
    tampered[len(tampered) // 2] ^= 0xFF
    src = make_source(signed_release(server, bytes(tampered)), BUNDLE)
    with pytest.raises(ChecksumMismatch) as info:
        fetch(src, opts)
    msg = str(info.value)
    assert sha(BUNDLE) in msg
    assert sha(bytes(tampered)) in msg
    assert "re-pin with `deriv-codegen pin fake v1`" in msg
    assert server.count("/storage/v1.zip") == 1  # not retried
    assert SECRET not in msg
    assert_cache_clean(cache)


def test_non_zip_body(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    src = make_source(signed_release(server, page), page)  # pinned to the page: layout check must catch it
    with pytest.raises(BundleError) as info:
        fetch(src, opts)
    msg = str(info.value)
    assert "not a zip archive" in msg
    assert "HTML" in msg
    assert "fake v1" in msg
    assert SECRET not in msg
    assert_cache_clean(cache)


def test_zip_without_expected_files(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    data = make_zip({"README.md": b"hello", "ping_request.schema.json": b"{}"})
    src = make_source(signed_release(server, data), data)
    with pytest.raises(BundleError) as info:
        fetch(src, opts)
    msg = str(info.value)
    assert "*_response.schema.json" in msg
    assert "rest-api-openapi.json" in msg
    assert "*_request.schema.json," not in msg  # present, so not listed as missing
    assert "README.md" in msg
    assert_cache_clean(cache)


def test_no_server_at_all(opts: FetchOptions, cache: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "empty-mirror"
    mirror.mkdir()
    src = make_source(closed_port_url(RELEASE))
    with pytest.raises(FetchError) as info:
        fetch(src, replace(opts, mirrors=[mirror], retries=2))
    msg = str(info.value)
    assert "cannot download fake v1" in msg
    assert str(cache / src.cache_name) in msg  # said it looked in the cache
    assert str(mirror / "fake" / "v1.zip") in msg  # and where in the mirrors
    assert "--mirror DIR" in msg
    assert MIRRORS_ENV in msg
    assert "--from PATH" in msg
    assert_cache_clean(cache)


def test_offline_without_mirror(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    src = make_source(signed_release(server, BUNDLE))
    with pytest.raises(FetchError) as info:
        fetch(src, replace(opts, offline=True))
    msg = str(info.value)
    assert server.total == 0
    assert "offline" in msg
    assert "no mirror directories are configured" in msg
    assert "fake/v1.zip" in msg
    assert "--mirror DIR" in msg
    assert "--from PATH" in msg
    assert_cache_clean(cache)


def test_plain_http_refused_except_on_loopback(opts: FetchOptions, cache: Path) -> None:
    src = make_source("http://example.invalid/releases/{version}/schemas.zip?token=" + SECRET)
    with pytest.raises(FetchError) as info:
        fetch(src, opts)
    assert "only https://" in str(info.value)
    assert SECRET not in str(info.value)
    assert_cache_clean(cache)


def test_redirect_to_plain_http_elsewhere_is_refused(
    server: HTTPTestServer, opts: FetchOptions, cache: Path
) -> None:
    server.redirect("/releases/download/v1/schemas.zip", f"http://example.invalid/v1.zip{SIGNED}")
    src = make_source(server.url(RELEASE))
    with pytest.raises(FetchError) as info:
        fetch(src, opts)
    assert "only https://" in str(info.value)
    assert SECRET not in str(info.value)
    assert_cache_clean(cache)


@pytest.mark.parametrize("failure", ["truncated", "tampered", "status", "not-a-zip"])
def test_signed_query_never_logged_or_raised(
    server: HTTPTestServer,
    opts: FetchOptions,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    failure: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    pinned = BUNDLE
    if failure == "truncated":
        server.truncated("/storage/v1.zip", BUNDLE, send=50)
    elif failure == "tampered":
        server.serve("/storage/v1.zip", BUNDLE_V2)
    elif failure == "status":
        server.serve("/storage/v1.zip", b"denied", status=403)
    else:
        pinned = b"not a zip at all"
        server.serve("/storage/v1.zip", pinned)
    server.redirect("/releases/download/v1/schemas.zip", f"/storage/v1.zip{SIGNED}")
    src = make_source(server.url(RELEASE), pinned)
    with pytest.raises((FetchError, BundleError)) as info:
        fetch(src, replace(opts, retries=2, progress=True))
    assert any(SECRET in t for t in server.targets)
    assert "/storage/v1.zip" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value.args)
    assert info.value.__cause__ is None or SECRET not in str(info.value.__cause__)
    assert SECRET not in capsys.readouterr().err
    if failure == "status":
        assert "HTTP 403" in str(info.value)
        assert "redirected to" in str(info.value)
    assert_cache_clean(opts.cache_dir)


# -- validate_bundle --------------------------------------------------------------------------


def test_validate_bundle(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(BUNDLE)
    validate_bundle(good, "deriv-options-zip")

    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    with pytest.raises(BundleError, match="not a zip archive"):
        validate_bundle(empty, "deriv-options-zip")

    damaged = bytearray(BUNDLE)
    start = BUNDLE.index(b"ping_request.schema.json") + len("ping_request.schema.json")
    damaged[start + 5] ^= 0xFF  # inside the first member's compressed data
    bad = tmp_path / "damaged.zip"
    bad.write_bytes(bytes(damaged))
    with pytest.raises(BundleError, match="damaged"):
        validate_bundle(bad, "deriv-options-zip")

    doc = tmp_path / "doc.json"
    doc.write_text('{"openapi": "3.0.0"}')
    validate_bundle(doc, "json-document")
    doc.write_text('{"openapi": ')
    with pytest.raises(BundleError, match="not a JSON document"):
        validate_bundle(doc, "json-document")
    with pytest.raises(BundleError, match="does not exist"):
        validate_bundle(tmp_path / "nope.zip", "deriv-options-zip")


def test_sha256_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(BUNDLE)
    assert sha256_file(f) == sha(BUNDLE)


def test_mirrors_from_env(tmp_path: Path) -> None:
    value = os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")])
    assert mirrors_from_env({MIRRORS_ENV: value}) == (tmp_path / "a", tmp_path / "b")
    assert mirrors_from_env({}) == ()


def test_import_is_cheap() -> None:
    code = "import sys, deriv_codegen.fetch; sys.exit(bool({'httpx', 'rich'} & set(sys.modules)))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "generator"), os.environ.get("PYTHONPATH", "")]),
    }
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


# -- fetch_from -------------------------------------------------------------------------------


def test_fetch_from_local_zip_is_validated_in_place(tmp_path: Path, opts: FetchOptions, cache: Path) -> None:
    local = tmp_path / "bundle.zip"
    local.write_bytes(BUNDLE)
    assert fetch_from(str(local), "deriv-options-zip", opts) == (local.resolve(), sha(BUNDLE))
    assert_cache_clean(cache)  # not copied


def test_fetch_from_local_bad_file(tmp_path: Path, opts: FetchOptions) -> None:
    local = tmp_path / "bundle.zip"
    local.write_bytes(make_zip({"other.json": b"{}"}))
    with pytest.raises(BundleError, match=r"rest-api-openapi\.json"):
        fetch_from(str(local), "deriv-options-zip", opts)
    with pytest.raises(FetchError, match="no such file"):
        fetch_from(str(tmp_path / "missing.zip"), "deriv-options-zip", opts)


def test_fetch_from_url(
    server: HTTPTestServer, opts: FetchOptions, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = signed_release(server, BUNDLE).format(version="v1")
    path, digest = fetch_from(url, "deriv-options-zip", opts)
    assert digest == sha(BUNDLE)
    assert path == cache / "unpinned" / f"{digest[:16]}.zip"
    assert path.read_bytes() == BUNDLE
    assert files_in(cache) == [path]
    assert SECRET not in caplog.text


def test_fetch_from_url_failures_leave_cache_clean(
    server: HTTPTestServer, opts: FetchOptions, cache: Path
) -> None:
    server.serve("/page.zip", b"<html>nope</html>")
    with pytest.raises(BundleError, match="not a zip"):
        fetch_from(server.url("/page.zip"), "deriv-options-zip", opts)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_from(server.url("/missing.zip"), "deriv-options-zip", opts)
    with pytest.raises(FetchError, match="offline"):
        fetch_from(server.url("/page.zip"), "deriv-options-zip", replace(opts, offline=True))
    assert server.count("/missing.zip") == 1
    assert_cache_clean(cache)


def test_fetch_from_directory(tmp_path: Path, opts: FetchOptions) -> None:
    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(io.BytesIO(BUNDLE)) as zf:
        zf.extractall(extracted)
    assert fetch_from(str(extracted), "deriv-options-zip", opts) == (extracted.resolve(), "")
    (extracted / "rest-api-openapi.json").unlink()
    with pytest.raises(BundleError, match=r"rest-api-openapi\.json"):
        fetch_from(str(extracted), "deriv-options-zip", opts)
    with pytest.raises(BundleError, match="directory"):
        fetch_from(str(extracted), "json-document", opts)


def test_fetch_from_json_document(tmp_path: Path, opts: FetchOptions) -> None:
    doc = tmp_path / "api.json"
    doc.write_bytes(b'{"openapi": "3.0.0", "paths": {}}')
    assert fetch_from(str(doc), "json-document", opts) == (doc.resolve(), sha(doc.read_bytes()))
    doc.write_bytes(b"openapi: 3.0.0\n")
    with pytest.raises(BundleError, match="not a JSON document"):
        fetch_from(str(doc), "json-document", opts)


# -- resolve_pin ------------------------------------------------------------------------------


def test_resolve_pin_via_mirror(
    server: HTTPTestServer, opts: FetchOptions, cache: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "fake").mkdir(parents=True)
    (mirror / "fake" / "v2.zip").write_bytes(BUNDLE_V2)
    src = make_source(signed_release(server, BUNDLE))
    path, digest = resolve_pin(src, "v2", replace(opts, mirrors=[mirror]))
    assert digest == sha(BUNDLE_V2)
    new = src.with_pin("v2", digest)
    assert path == cache / new.cache_name
    assert path.read_bytes() == BUNDLE_V2
    assert server.total == 0
    assert files_in(cache) == [path]
    assert fetch(new, replace(opts, offline=True)) == path  # the new pin is served from the cache


def test_resolve_pin_via_url(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    src = make_source(signed_release(server, BUNDLE_V2, version="v2"))
    path, digest = resolve_pin(src, "v2", opts)
    assert digest == sha(BUNDLE_V2)
    assert path == cache / src.with_pin("v2", digest).cache_name
    assert path.read_bytes() == BUNDLE_V2
    assert server.count("/storage/v2.zip") == 1


def test_resolve_pin_failures(server: HTTPTestServer, opts: FetchOptions, cache: Path) -> None:
    src = make_source(signed_release(server, b"<html>not found</html>", version="v3"))
    with pytest.raises(BundleError, match="not a zip"):
        resolve_pin(src, "v3", opts)
    with pytest.raises(FetchError) as info:
        resolve_pin(src, "v4", opts)
    assert "HTTP 404" in str(info.value)
    assert "release 'v4'" in str(info.value)
    with pytest.raises(FetchError, match="--mirror DIR"):
        resolve_pin(src, "v2", replace(opts, offline=True))
    with pytest.raises(FetchError, match="release tag"):
        resolve_pin(src, "../../etc", opts)
    assert_cache_clean(cache)


# -- the real pinned bundle, from the shared mirror --------------------------------------------

SHARED_MIRROR = ROOT.parent / "shared" / "schemas"


def test_real_pinned_bundle_from_shared_mirror(tmp_path: Path) -> None:
    src = load_sources(ROOT / "schemas" / "sources.toml").get("deriv-options")
    if not (SHARED_MIRROR / src.mirror_path).is_file():
        pytest.skip(f"shared upstream mirror not present at {SHARED_MIRROR / src.mirror_path}")
    options = FetchOptions(cache_dir=tmp_path / "cache", mirrors=[SHARED_MIRROR], offline=True)
    path = fetch(src, options)
    assert path == tmp_path / "cache" / src.cache_name
    assert sha256_file(path) == src.sha256
    validate_bundle(path, src.layout)
