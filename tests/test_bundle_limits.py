"""Limits of the build step: zip bombs, lying zip headers, too many files, $ref explosions, huge enums,
deep nesting and oversized downloads all fail fast, in bounded memory, with a message naming the file,
the limit and how to raise it, and leave the generated tree and the download cache untouched.

Inputs are sized so that the code before the limits existed would take minutes or gigabytes (or
silently succeed); memory is asserted with tracemalloc's peak, never with timings.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from deriv_codegen import fetch as fetch_module
from deriv_codegen.cli import main
from deriv_codegen.errors import BundleError, LimitExceeded, SourcesError
from deriv_codegen.fetch import FetchOptions, fetch, validate_bundle
from deriv_codegen.ir import ApiIR, BundleInfo
from deriv_codegen.limits import DEFAULT_LIMITS, LIMITS, Limits
from deriv_codegen.readers import BundleFiles, read_bundle
from deriv_codegen.readers.openapi import read_openapi
from deriv_codegen.schema_prep import inline_local_refs
from deriv_codegen.sources import Source, load_sources

from ._httpserver import HTTPTestServer
from .conftest import FIXTURES, MINI_INFO, OPTIONS_RELEASES, generate_mini, requires_mirror

T = TypeVar("T")
MIB = 1 << 20
#: Generous: every refusal here needs a few MB at most; the code before the limits needed 0.5-3 GB.
PEAK_BYTES = 200 * MIB
DATE = (2026, 1, 1, 0, 0, 0)


# -- helpers --------------------------------------------------------------------------------------


def peak_memory(fn: Callable[[], T]) -> tuple[T, int]:
    """``fn()`` and the peak of memory allocated by Python while it ran."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def refused(fn: Callable[[], object], error: type[BundleError] = LimitExceeded) -> str:
    """The message of the ``error`` ``fn`` raises; the refusal must stay within :data:`PEAK_BYTES`."""

    def attempt() -> str:
        with pytest.raises(error) as info:
            fn()
        return str(info.value)

    message, peak = peak_memory(attempt)
    assert peak < PEAK_BYTES, f"refusing took {peak / MIB:.0f} MB"
    return message


def assert_names_limit(message: str, limit: str, where: str) -> None:
    """The message names the file, the limit and both ways to raise it."""
    assert where in message
    assert f"{limit} = {getattr(DEFAULT_LIMITS, limit):,}" in message
    assert "--" + limit.replace("_", "-") in message
    assert f"`{limit} = N` in the [limits] table of schemas/sources.toml" in message


def mini_copy(tmp_path: Path, name: str = "bundle") -> Path:
    bundle = tmp_path / name
    shutil.copytree(FIXTURES / "mini", bundle)
    return bundle


def zip_dir(directory: Path, dest: Path, *, extra: Callable[[zipfile.ZipFile], None] | None = None) -> Path:
    """``directory``'s files zipped into ``dest``; ``extra`` may add members first."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        if extra is not None:
            extra(zf)
        for p in sorted(directory.iterdir()):
            zf.writestr(zipfile.ZipInfo(p.name, date_time=DATE), p.read_bytes())
    return dest


def add_zeros(name: str, size: int) -> Callable[[zipfile.ZipFile], None]:
    """A member of ``size`` zero bytes, deflated while written: the test never holds it in memory."""

    def add(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo(name, date_time=DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        chunk = bytes(MIB)
        with zf.open(info, "w") as fh:
            for _ in range(size // MIB):
                fh.write(chunk)

    return add


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def previous(tmp_path: Path) -> Iterator[Path]:
    """An output directory holding a generated mini tree, checked unchanged after the test."""
    out = tmp_path / "out"
    generate_mini(out)
    before = tree(out)
    yield out
    assert tree(out) == before, "a refused bundle changed the previously generated tree"
    assert [p.name for p in out.iterdir()] == ["mini_api"], "a staging directory was left behind"


def regenerate(out: Path, bundle: Path) -> Callable[[], object]:
    return lambda: generate_mini(out, bundle, force=True)


def schema_with(definitions: dict[str, Any], **properties: Any) -> dict[str, Any]:
    """A request schema of the mini ``fill`` call with extra properties and definitions."""
    doc: dict[str, Any] = json.loads((FIXTURES / "mini" / "fill_request.schema.json").read_text())
    doc["properties"].update(properties)
    doc["definitions"] = definitions
    return doc


def fan_out(levels: int = 18) -> dict[str, Any]:
    """``d0`` .. ``d{levels-1}``, each referencing the next twice: 2**levels copies when inlined."""
    defs: dict[str, Any] = {}
    for i in range(levels):
        nxt: dict[str, Any] = {"$ref": f"#/definitions/d{i + 1}"} if i + 1 < levels else {"type": "string"}
        defs[f"d{i}"] = {"type": "object", "properties": {"left": nxt, "right": dict(nxt)}}
    return defs


# -- zip archives ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini bundle plus a 200 MB member of zeros, about 200 KB compressed, honestly declared."""
    tmp = tmp_path_factory.mktemp("bomb")
    return zip_dir(
        FIXTURES / "mini", tmp / "bomb.zip", extra=add_zeros("bomb_request.schema.json", 200 * MIB)
    )


def test_zip_bomb_is_refused_by_its_declared_size(bomb: Path, previous: Path) -> None:
    assert bomb.stat().st_size < MIB
    message = refused(regenerate(previous, bomb))
    assert_names_limit(message, "max_member_bytes", str(bomb))
    assert "'bomb_request.schema.json' declares 209,715,200 bytes" in message


def test_zip_bomb_is_refused_by_fetch_before_it_reaches_the_cache(bomb: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "fake").mkdir(parents=True)
    shutil.copy(bomb, mirror / "fake" / "v1.zip")
    source = Source(
        "fake",
        "v1",
        "https://example.invalid/{version}.zip",
        sha256_of(bomb),
        "deriv-options-zip",
        "fake",
        "fake/{version}.zip",
    )
    cache = tmp_path / "cache"
    options = FetchOptions(cache_dir=cache, mirrors=(mirror,), offline=True, progress=False)
    message = refused(lambda: fetch(source, options))
    assert_names_limit(message, "max_member_bytes", f"mirror file {mirror / 'fake' / 'v1.zip'}")
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    assert_names_limit(
        refused(lambda: validate_bundle(bomb, "deriv-options-zip")), "max_member_bytes", str(bomb)
    )


def _lying_zip(tmp_path: Path, declared: int = 1000) -> Path:
    """The mini bundle plus a member whose headers declare ``declared`` bytes (and the CRC of that
    many zeros) while its deflate stream holds 200 MB of zeros."""
    honest = zip_dir(
        FIXTURES / "mini", tmp_path / "honest.zip", extra=add_zeros("liar_request.schema.json", 200 * MIB)
    )
    data = bytearray(honest.read_bytes())
    with zipfile.ZipFile(honest) as zf:
        info = zf.infolist()[0]
    assert info.filename == "liar_request.schema.json" and info.header_offset == 0
    crc = zlib.crc32(bytes(declared))
    struct.pack_into("<I", data, 14, crc)  # local header: CRC-32
    struct.pack_into("<I", data, 22, declared)  # local header: uncompressed size
    end_of_data = 30 + len(info.filename) + len(info.extra) + info.compress_size
    central = data.index(b"PK\x01\x02", end_of_data)
    struct.pack_into("<I", data, central + 16, crc)  # central directory: CRC-32
    struct.pack_into("<I", data, central + 24, declared)  # central directory: uncompressed size
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(data))
    with zipfile.ZipFile(liar) as zf:
        assert zf.getinfo("liar_request.schema.json").file_size == declared
    return liar


def test_zip_whose_header_lies_about_its_size_is_refused(tmp_path: Path, previous: Path) -> None:
    liar = _lying_zip(tmp_path)
    for attempt in (regenerate(previous, liar), lambda: validate_bundle(liar, "deriv-options-zip")):
        message = refused(attempt, BundleError)
        assert str(liar) in message
        assert "'liar_request.schema.json' holds more than the 1,000 bytes its header declares" in message
        assert "zip bomb" in message


@pytest.mark.parametrize("container", ["zip", "directory"])
def test_too_many_members(tmp_path: Path, previous: Path, container: str) -> None:
    bundle = mini_copy(tmp_path)
    for i in range(DEFAULT_LIMITS.max_members):
        (bundle / f"extra{i:05}.txt").write_bytes(b"x")
    if container == "zip":
        bundle = zip_dir(bundle, tmp_path / "many.zip")
    message = refused(regenerate(previous, bundle))
    assert_names_limit(message, "max_members", str(bundle))
    assert_names_limit(
        refused(lambda: validate_bundle(bundle, "deriv-options-zip")), "max_members", str(bundle)
    )


# -- schemas --------------------------------------------------------------------------------------


def test_ref_fan_out_hits_the_node_budget(tmp_path: Path, previous: Path) -> None:
    schema = schema_with(fan_out(18), tree={"$ref": "#/definitions/d0"})
    # Before the budget: 2**18 copies, 17 MB and 20 s for the inlining alone, then the model generator.
    message = refused(lambda: inline_local_refs(schema, "fill_request.schema.json", []))
    assert_names_limit(message, "max_schema_nodes", "fill_request.schema.json")
    bundle = mini_copy(tmp_path)
    (bundle / "fill_request.schema.json").write_text(json.dumps(schema))
    assert_names_limit(refused(regenerate(previous, bundle)), "max_schema_nodes", "fill_request.schema.json")


def test_a_fan_out_within_the_budget_is_inlined() -> None:
    problems: list[Any] = []
    out = inline_local_refs(schema_with(fan_out(8), tree={"$ref": "#/definitions/d0"}), "f.json", problems)
    leaf = out["properties"]["tree"]
    for _ in range(7):
        leaf = leaf["properties"]["right"]
    assert leaf["properties"]["left"] == {"type": "string"}
    assert problems == []
    assert "definitions" not in out


@pytest.mark.parametrize("shape", ["self", "mutual"])
def test_recursive_reference_used_twice_is_cut_and_reported(tmp_path: Path, shape: str) -> None:
    """Before: expanded until 32 references deep, 2**32 copies: 3 GB of memory and counting."""
    if shape == "self":
        defs = {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "left": {"$ref": "#/definitions/node"},
                    "right": {"$ref": "#/definitions/node"},
                },
            }
        }
    else:
        defs = {
            "node": {"type": "object", "properties": {"kids": {"$ref": "#/definitions/pair"}}},
            "pair": {
                "type": "object",
                "properties": {"a": {"$ref": "#/definitions/node"}, "b": {"$ref": "#/definitions/node"}},
            },
        }
    schema = schema_with(defs, tree={"$ref": "#/definitions/node", "description": "A tree."})
    problems: list[Any] = []
    out, peak = peak_memory(lambda: inline_local_refs(schema, "fill_request.schema.json", problems))
    assert peak < PEAK_BYTES
    assert {(p.where, p.what) for p in problems} == {
        (
            "fill_request.schema.json",
            "reference '#/definitions/node' is recursive; typed as Any where it recurs",
        )
    }
    node = out["properties"]["tree"]
    assert node["description"] == "A tree."
    if shape == "self":
        assert node["properties"]["left"] == node["properties"]["right"] == {}
    else:
        assert node["properties"]["kids"]["properties"]["a"] == {}

    bundle = mini_copy(tmp_path)
    (bundle / "fill_request.schema.json").write_text(json.dumps(schema))
    result = generate_mini(tmp_path / "out", bundle)
    assert any("is recursive" in p.what and p.where == "fill_request.schema.json" for p in result.problems)
    assert (result.out_dir / "mini_api" / "models" / "fill.py").is_file()


@pytest.mark.parametrize("where", ["fill_request.schema.json", "rest-api-openapi.json"])
def test_huge_enum(tmp_path: Path, previous: Path, where: str) -> None:
    values = [f"v{i}" for i in range(100_000)]
    bundle = mini_copy(tmp_path)
    doc = json.loads((bundle / where).read_text())
    if where == "rest-api-openapi.json":
        doc["components"]["schemas"]["Account"]["properties"]["kind"] = {"type": "string", "enum": values}
        pointer = "/components/schemas/Account/properties/kind/enum"
    else:
        doc["properties"]["pick"] = {"type": "string", "enum": values}
        pointer = "/properties/pick/enum"
    (bundle / where).write_text(json.dumps(doc))
    message = refused(lambda: BundleFiles.open(bundle).json(where))
    assert_names_limit(message, "max_enum_values", f"{bundle}: {where}")
    assert f"the enum at {pointer} has 100,000 values" in message
    # Raised through the reader, which reports (and skips) a file it merely cannot read.
    assert_names_limit(refused(regenerate(previous, bundle)), "max_enum_values", where)


@pytest.mark.parametrize("depth", [200, 100_000])
def test_deep_nesting(tmp_path: Path, previous: Path, depth: int) -> None:
    """200 levels: parses, but the recursive passes after it would run out of stack; 100,000: json
    itself gives up. Before: a RecursionError traceback from the reader or later."""
    bundle = mini_copy(tmp_path)
    text = (bundle / "fill_request.schema.json").read_text()
    (bundle / "fill_request.schema.json").write_text(
        text[:-2] + ', "deep": ' + "[" * depth + "]" * depth + "}\n"
    )
    message = refused(regenerate(previous, bundle))
    assert_names_limit(message, "max_depth", "fill_request.schema.json")


def test_ref_chain_nesting_past_the_depth_limit() -> None:
    """Each definition nests 20 levels and references the next: inlined, 31 of them nest 620 deep."""
    defs: dict[str, Any] = {}
    for i in range(31):
        inner: dict[str, Any] = {"$ref": f"#/definitions/d{i + 1}"} if i < 30 else {"type": "string"}
        for _ in range(10):
            inner = {"type": "object", "properties": {"x": inner}}
        defs[f"d{i}"] = inner
    schema = schema_with(defs, deep={"$ref": "#/definitions/d0"})
    assert_names_limit(refused(lambda: inline_local_refs(schema, "f.json", [])), "max_depth", "f.json")


def test_openapi_security_scheme_ref_loop_is_reported_not_a_crash() -> None:
    ir = ApiIR(bundle=MINI_INFO)
    doc = {
        "paths": {},
        "components": {"securitySchemes": {"loop": {"$ref": "#/components/securitySchemes/loop"}}},
    }
    read_openapi(doc, ir, "rest-api-openapi.json")
    assert [(p.where, p.severity) for p in ir.problems] == [
        ("rest-api-openapi.json: securitySchemes/loop", "skipped")
    ]
    assert "reference loop" in ir.problems[0].what


# -- downloads ------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[HTTPTestServer]:
    with HTTPTestServer() as srv:
        yield srv


@pytest.mark.parametrize("announced", [True, False])
def test_download_over_the_cap_is_refused_while_streaming(
    server: HTTPTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, announced: bool
) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    body = bytes(4 * MIB)
    server.serve("/storage/v1.zip", body)
    server.redirect("/releases/v1/schemas.zip", "/storage/v1.zip?X-Amz-Signature=SECRET")
    source = Source(
        "fake",
        "v1",
        server.url("/releases/{version}/schemas.zip"),
        hashlib.sha256(body).hexdigest(),
        "deriv-options-zip",
        "fake",
    )
    cap = 256 * 1024
    if not announced:  # no (or a lying) Content-Length: only counting the bytes can stop it
        monkeypatch.setattr(fetch_module, "_content_length", lambda response: None)
    largest = 0
    write = fetch_module._Stage.write

    def counting_write(stage: Any, chunk: bytes) -> None:
        nonlocal largest
        write(stage, chunk)
        largest = max(largest, stage.size)

    monkeypatch.setattr(fetch_module._Stage, "write", counting_write)
    cache = tmp_path / "cache"
    options = FetchOptions(
        cache_dir=cache,
        retries=3,
        backoff=0.01,
        timeout=5.0,
        progress=False,
        limits=Limits(max_bundle_bytes=cap),
    )
    with pytest.raises(LimitExceeded) as info:
        fetch(source, options)
    message = str(info.value)
    assert "fake v1 from " + server.url("/releases/v1/schemas.zip") in message
    assert "max_bundle_bytes = 262,144" in message and "--max-bundle-bytes N" in message
    assert "SECRET" not in message
    assert largest <= cap
    assert server.count("/storage/v1.zip") == 1  # not retried
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_oversized_mirror_file_is_refused(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = bytes(MIB)
    (mirror / "v1.zip").write_bytes(data)
    source = Source(
        "fake",
        "v1",
        "https://example.invalid/{version}.zip",
        hashlib.sha256(data).hexdigest(),
        "deriv-options-zip",
        "fake",
        "{version}.zip",
    )
    cache = tmp_path / "cache"
    options = FetchOptions(
        cache_dir=cache,
        mirrors=(mirror,),
        offline=True,
        progress=False,
        limits=Limits(max_bundle_bytes=MIB - 1),
    )
    with pytest.raises(LimitExceeded, match="max_bundle_bytes = 1,048,575"):
        fetch(source, options)
    assert [p for p in cache.rglob("*") if p.is_file()] == []


# -- raising the limits ---------------------------------------------------------------------------

SOURCES = """\
[sources.deriv-options]
version = "v1"
url = "http://127.0.0.1:9/{{version}}/schemas.zip"
sha256 = "{sha}"
layout = "deriv-options-zip"
package = "mini_api"
{limits}"""


def test_limits_are_raised_in_sources_toml_or_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = mini_copy(tmp_path)
    doc = json.loads((bundle / "fill_request.schema.json").read_text())
    doc["properties"]["pick"] = {"type": "string", "enum": [f"v{i}" for i in range(1_500)]}
    (bundle / "fill_request.schema.json").write_text(json.dumps(doc))
    sources = tmp_path / "schemas" / "sources.toml"
    sources.parent.mkdir()
    sources.write_text(SOURCES.format(sha="0" * 64, limits=""))
    args = [
        "generate",
        "deriv-options",
        "--sources",
        str(sources),
        "--offline",
        "--out",
        str(tmp_path / "out"),
    ]
    args += ["--from", str(bundle)]

    assert main(args) == 1
    err = capsys.readouterr().err
    assert "fill_request.schema.json" in err and "1,500 values" in err and "--max-enum-values N" in err
    assert not (tmp_path / "out").exists()

    assert main([*args, "--max-enum-values", "2000"]) == 0
    assert (tmp_path / "out" / "mini_api" / "mini_api" / "models" / "fill.py").is_file()

    sources.write_text(SOURCES.format(sha="0" * 64, limits="\n[limits]\nmax_enum_values = 2_000\n"))
    assert load_sources(sources).limits == replace(DEFAULT_LIMITS, max_enum_values=2000)
    assert main([*args, "--force"]) == 0
    assert main([*args, "--force", "--max-enum-values", "1000"]) == 1  # the option wins over the file
    capsys.readouterr()

    with pytest.raises(SystemExit):
        main([*args, "--max-enum-values", "0"])
    assert "not a positive number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ("max_enum_value = 5", "unknown key(s) max_enum_value"),
        ("max_enum_values = 0", "max_enum_values must be a positive integer"),
        ("max_enum_values = true", "max_enum_values must be a positive integer"),
        ('max_enum_values = "5"', "max_enum_values must be a positive integer"),
    ],
)
def test_bad_limits_table_is_a_clear_error(tmp_path: Path, table: str, complaint: str) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES.format(sha="0" * 64, limits=f"\n[limits]\n{table}\n"))
    with pytest.raises(SourcesError, match=r"\[limits\]") as info:
        load_sources(sources)
    assert complaint in str(info.value)


# -- the real bundles -----------------------------------------------------------------------------


def _depth(node: Any) -> int:
    if isinstance(node, dict):
        return 1 + max(map(_depth, node.values()), default=0)
    if isinstance(node, list):
        return 1 + max(map(_depth, node), default=0)
    return 0


def _size(node: Any) -> int:
    if isinstance(node, dict):
        return 1 + sum(map(_size, node.values()))
    if isinstance(node, list):
        return 1 + sum(map(_size, node))
    return 1


def _enums(node: Any) -> Iterator[int]:
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield len(node["enum"])
        for v in node.values():
            yield from _enums(v)
    elif isinstance(node, list):
        for v in node:
            yield from _enums(v)


@requires_mirror()
@pytest.mark.parametrize("release", OPTIONS_RELEASES, ids=[p.stem for p in OPTIONS_RELEASES])
def test_real_bundles_are_well_within_the_defaults(release: Path) -> None:
    """Every measure of every upstream release in the mirror is at most a tenth of its default."""
    validate_bundle(release, "deriv-options-zip")
    files = BundleFiles.open(release)
    with zipfile.ZipFile(release) as zf:
        sizes = [i.file_size for i in zf.infolist() if not i.is_dir()]
    measured = {
        "max_members": len(sizes),
        "max_member_bytes": max(sizes),
        "max_bundle_bytes": sum(sizes),
        "max_schema_nodes": 0,
        "max_enum_values": 0,
        "max_depth": 0,
    }
    for name in files.names():
        if not name.endswith(".json"):
            continue
        doc = files.json(name)
        measured["max_enum_values"] = max(measured["max_enum_values"], *_enums(doc), 0)
        measured["max_depth"] = max(measured["max_depth"], _depth(doc))
        if name.endswith(".schema.json"):
            inlined = inline_local_refs(doc, name, [])
            measured["max_schema_nodes"] = max(measured["max_schema_nodes"], _size(inlined))
    assert set(measured) == set(LIMITS)
    for limit, value in measured.items():
        assert value * 10 <= getattr(DEFAULT_LIMITS, limit), f"{release.name}: {limit} measured {value}"
    ir = read_bundle(release, "deriv-options-zip", BundleInfo("deriv-options", release.stem, "", ""))
    assert ir.bound("deriv-ws")
