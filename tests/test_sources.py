"""sources.py: loading the pins, helpful errors, and the atomic in-place rewrite of one pin."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from deriv_codegen.errors import SourcesError
from deriv_codegen.layouts import LAYOUTS
from deriv_codegen.sources import Source, find_sources_file, load_sources, write_pin

ROOT = Path(__file__).resolve().parents[1]
SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "0123456789abcdef" * 4

SAMPLE = f"""\
# Pinned sources (test copy).
# Keep this comment.

[fetch]
# mirrors relative to the project root
mirrors = ["mirror-one", "../mirror-two"]

[sources.alpha]
# alpha comment stays
version = "v1"
url = "https://example.test/alpha/{{version}}/schemas.zip"
sha256 = "{SHA_A}"
layout = "deriv-options-zip"
mirror_path = "alpha/{{version}}.zip"
package = "alpha_api"

[sources.beta]
version = "2.0.0"
url = "https://example.test/beta.json"
sha256 = "{SHA_B}"
layout = "json-document"
package = "beta_api"
"""


def write_sources(tmp_path: Path, text: str = SAMPLE) -> Path:
    path = tmp_path / "project" / "schemas" / "sources.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the repository's own sources.toml --------------------------------------------------------


def test_repo_sources_toml_loads() -> None:
    sf = load_sources(ROOT / "schemas" / "sources.toml")
    assert "deriv-options" in sf.sources
    for name, src in sf.sources.items():
        assert src.name == name
        assert re.fullmatch(r"[0-9a-f]{64}", src.sha256)
        assert src.layout in LAYOUTS
        assert src.url.startswith("https://")
        # a release's URL names its tag; a document pinned at a commit (deribit) names the commit
        assert src.version in src.url or "{version}" not in src.url_template
        assert "{" not in src.url
        assert src.package.isidentifier()
    opts = sf.get("deriv-options")
    assert opts.mirror_path == f"deriv-options/{opts.version}.zip"
    assert opts.cache_name == f"deriv-options/{opts.version}-{opts.sha256[:16]}.zip"
    assert sf.mirrors == ((ROOT.parent / "shared" / "schemas").resolve(),)
    assert sf.project_root == ROOT


def test_find_sources_file(tmp_path: Path) -> None:
    path = write_sources(tmp_path)
    nested = path.parent.parent / "deep" / "er"
    nested.mkdir(parents=True)
    assert find_sources_file(nested) == path.resolve()
    with pytest.raises(SourcesError, match="--sources PATH"):
        find_sources_file(tmp_path)


# -- loading ----------------------------------------------------------------------------------


def test_load_sample(tmp_path: Path) -> None:
    path = write_sources(tmp_path)
    sf = load_sources(path)
    project = path.parent.parent.resolve()
    assert sf.mirrors == (project / "mirror-one", (project.parent / "mirror-two").resolve())
    alpha = sf.get("alpha")
    assert alpha == Source(
        name="alpha",
        version="v1",
        url_template="https://example.test/alpha/{version}/schemas.zip",
        sha256=SHA_A,
        layout="deriv-options-zip",
        package="alpha_api",
        mirror_path_template="alpha/{version}.zip",
    )
    assert alpha.url == "https://example.test/alpha/v1/schemas.zip"
    assert alpha.url_for("v7") == "https://example.test/alpha/v7/schemas.zip"
    assert alpha.mirror_path == "alpha/v1.zip"
    newer = alpha.with_pin("v7", SHA_C)
    assert (newer.version, newer.sha256, newer.url_template) == ("v7", SHA_C, alpha.url_template)
    assert newer.cache_name == "alpha/v7-0123456789abcdef.zip"
    beta = sf.get("beta")
    assert beta.mirror_path == ""
    assert beta.cache_name.endswith(".json")


def test_unknown_source_lists_known_ones(tmp_path: Path) -> None:
    sf = load_sources(write_sources(tmp_path))
    with pytest.raises(SourcesError) as info:
        sf.get("gamma")
    assert "'gamma'" in str(info.value)
    assert "alpha, beta" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="does not exist"):
        load_sources(tmp_path / "nope.toml")


def test_malformed_toml_names_file_and_position(tmp_path: Path) -> None:
    path = write_sources(tmp_path, SAMPLE.replace('version = "v1"', 'version = "v1'))
    with pytest.raises(SourcesError) as info:
        load_sources(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "not valid TOML" in msg
    assert "line 10" in msg


@pytest.mark.parametrize("key", ["version", "url", "sha256", "layout", "package"])
def test_missing_key_is_named(tmp_path: Path, key: str) -> None:
    # drop the key from [sources.alpha] only
    head, _, tail = SAMPLE.partition("[sources.beta]")
    head = "\n".join(line for line in head.splitlines() if not line.startswith(f"{key} ="))
    text = f"{head}\n[sources.beta]{tail}"
    with pytest.raises(SourcesError) as info:
        load_sources(write_sources(tmp_path, text))
    assert "[sources.alpha]" in str(info.value)
    assert key in str(info.value)


def test_empty_value_counts_as_missing(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match=r"\[sources\.alpha\] lacks package"):
        load_sources(write_sources(tmp_path, SAMPLE.replace('package = "alpha_api"', 'package = ""')))


@pytest.mark.parametrize("bad", [SHA_A.upper(), SHA_A[:-1], SHA_A + "a", "z" * 64, ""])
def test_bad_sha(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SourcesError) as info:
        load_sources(write_sources(tmp_path, SAMPLE.replace(SHA_A, bad)))
    assert "[sources.alpha]" in str(info.value)
    assert "sha256" in str(info.value)


def test_bad_name_and_unknown_layout(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="lower-case"):
        load_sources(write_sources(tmp_path, SAMPLE.replace("[sources.alpha]", "[sources.Alpha]")))
    with pytest.raises(SourcesError) as info:
        load_sources(write_sources(tmp_path, SAMPLE.replace('"json-document"', '"yaml-document"')))
    assert "'yaml-document'" in str(info.value)
    assert "deriv-options-zip" in str(info.value)  # lists the known layouts


# -- write_pin --------------------------------------------------------------------------------


def test_write_pin_updates_only_the_named_table(tmp_path: Path) -> None:
    path = write_sources(tmp_path)
    write_pin(path, "alpha", "v2", SHA_C)
    new = path.read_text(encoding="utf-8")
    old_lines, new_lines = SAMPLE.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [('version = "v1"', 'version = "v2"'), (f'sha256 = "{SHA_A}"', f'sha256 = "{SHA_C}"')]
    assert "# Keep this comment." in new
    assert "# alpha comment stays" in new
    sf = load_sources(path)
    assert (sf.get("alpha").version, sf.get("alpha").sha256) == ("v2", SHA_C)
    assert sf.get("beta") == load_sources(write_sources(tmp_path / "orig")).get("beta")
    assert sorted(p.name for p in path.parent.iterdir()) == ["sources.toml"]  # no temp file left


def test_write_pin_on_the_repo_file_copy(tmp_path: Path) -> None:
    original = (ROOT / "schemas" / "sources.toml").read_text(encoding="utf-8")
    path = write_sources(tmp_path, original)
    write_pin(path, "deriv-options", "production_v20990101_0", SHA_C)
    src = load_sources(path).get("deriv-options")
    assert (src.version, src.sha256) == ("production_v20990101_0", SHA_C)
    new = path.read_text(encoding="utf-8")
    assert [line for line in new.splitlines() if line.startswith("#")] == [
        line for line in original.splitlines() if line.startswith("#")
    ]


@pytest.mark.parametrize("bad", [SHA_A.upper(), "abc", "", "g" * 64])
def test_write_pin_rejects_bad_digest(tmp_path: Path, bad: str) -> None:
    path = write_sources(tmp_path)
    with pytest.raises(SourcesError, match="not a sha256"):
        write_pin(path, "alpha", "v2", bad)
    assert path.read_text(encoding="utf-8") == SAMPLE
    assert sorted(p.name for p in path.parent.iterdir()) == ["sources.toml"]


def test_write_pin_unknown_table_or_missing_lines(tmp_path: Path) -> None:
    path = write_sources(tmp_path)
    with pytest.raises(SourcesError, match=r"no \[sources\.gamma\] table"):
        write_pin(path, "gamma", "v2", SHA_C)
    assert path.read_text(encoding="utf-8") == SAMPLE
    text = SAMPLE.replace(f'sha256 = "{SHA_B}"\n', "")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesError, match="lacks a version or sha256"):
        write_pin(path, "beta", "2.1.0", SHA_C)
    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in path.parent.iterdir()) == ["sources.toml"]


def test_write_pin_atomic_when_replace_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_sources(tmp_path)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("deriv_codegen.sources.os.replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_pin(path, "alpha", "v2", SHA_C)
    assert path.read_text(encoding="utf-8") == SAMPLE
    assert sorted(p.name for p in path.parent.iterdir()) == ["sources.toml"]


# -- robustness of sources.py ------------------------------------------------------------


def test_write_pin_rejects_a_version_that_breaks_the_file(tmp_path: Path) -> None:
    path = write_sources(tmp_path)
    with pytest.raises(SourcesError):
        write_pin(path, "alpha", 'v2"', SHA_C)
    assert path.read_text(encoding="utf-8") == SAMPLE


def test_write_pin_keeps_file_mode(tmp_path: Path) -> None:
    path = write_sources(tmp_path)
    path.chmod(0o644)
    write_pin(path, "alpha", "v2", SHA_C)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    "text",
    ["sources = 1\n", '[sources]\nalpha = "x"\n', '[fetch]\nmirrors = "dir"\n', "[fetch]\nmirrors = [1]\n"],
)
def test_wrong_types_are_sources_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(SourcesError):
        load_sources(write_sources(tmp_path, text))


@pytest.mark.parametrize("name", ["None", "class", "9lives", "a-b", 'x"); import os; ("'])
def test_override_names_must_be_identifiers_not_keywords(tmp_path: Path, name: str) -> None:
    from deriv_codegen.config import load_api_config

    (tmp_path / "api.toml").write_text(f"[methods]\nping = {json.dumps(name)}\n", encoding="utf-8")
    with pytest.raises(SourcesError, match="not a valid Python identifier"):
        load_api_config(tmp_path, "api")
