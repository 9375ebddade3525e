"""The command line: help, list, generate (fresh, up to date, --from), pin, and clear errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from deriv_codegen.cli import main
from deriv_codegen.sources import load_sources

from .conftest import FIXTURES, ROOT

SOURCES = """\
[fetch]
mirrors = ["mirror"]

[sources.deriv-options]
version = "v1"
url = "http://127.0.0.1:9/{version}/schemas.zip"
sha256 = "SHA"
layout = "deriv-options-zip"
mirror_path = "deriv-options/{version}.zip"
package = "mini_api"
"""


def _zip(tmp: Path, name: str) -> Path:
    return Path(shutil.make_archive(str(tmp / name), "zip", root_dir=FIXTURES / "mini"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throw-away project: sources.toml pinned to a bundle that only a mirror directory has."""
    bundle = _zip(tmp_path, "v1")
    (tmp_path / "mirror" / "deriv-options").mkdir(parents=True)
    shutil.copy(bundle, tmp_path / "mirror" / "deriv-options" / "v1.zip")
    (tmp_path / "schemas").mkdir()
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    (tmp_path / "schemas" / "sources.toml").write_text(SOURCES.replace("SHA", digest))
    return tmp_path


def test_help_speaks_to_a_newcomer(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("generate", "fetch", "pin", "list", "--from", "mirror"):
        assert command in out


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--sources", str(ROOT / "schemas" / "sources.toml")]) == 0
    assert "deriv-options: production_v" in capsys.readouterr().out


def test_generate_from_mirror_then_up_to_date(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = ["--sources", str(project / "schemas" / "sources.toml"), "--offline"]
    assert main(["generate", *sources]) == 0
    out = capsys.readouterr().out
    assert "3 WebSocket calls" in out
    assert "skipped: notes.txt" in out
    assert (project / "generated" / "mini_api" / "mini_api" / "client.py").is_file()
    assert list((project / "schemas" / ".cache" / "deriv-options").glob("v1-*.zip"))
    assert main(["generate", *sources]) == 0
    assert "is up to date" in capsys.readouterr().out
    # an edited generated file is noticed and regenerated
    client = project / "generated" / "mini_api" / "mini_api" / "client.py"
    client.write_text("broken")
    assert main(["generate", *sources]) == 0
    assert "3 WebSocket calls" in capsys.readouterr().out
    assert client.read_text() != "broken"


def test_offline_without_mirror_says_what_to_do(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(project / "mirror")
    assert main(["generate", "--sources", str(project / "schemas" / "sources.toml"), "--offline"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "--mirror" in err
    assert "--from" in err
    assert not (project / "generated").exists()


def test_generate_from_unpinned_bundle(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _zip(tmp_path, "next-release")
    out = tmp_path / "out"
    args = ["generate", "deriv-options", "--sources", str(project / "schemas" / "sources.toml"), "--offline"]
    assert main([*args, "--from", str(bundle), "--out", str(out)]) == 0
    assert "deriv-options unpinned-next-release" in capsys.readouterr().out
    assert (out / "mini_api" / "mini_api" / "_calls.py").is_file()
    assert main([*args, "--from", str(tmp_path / "nope.zip")]) == 1
    assert "nope.zip" in capsys.readouterr().err


def test_failed_generation_keeps_the_previous_tree(project: Path, tmp_path: Path) -> None:
    sources = ["--sources", str(project / "schemas" / "sources.toml"), "--offline"]
    assert main(["generate", *sources]) == 0
    dest = project / "generated" / "mini_api"
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    not_zip = tmp_path / "bad.zip"
    not_zip.write_bytes(b"this is not a zip")
    assert main(["generate", "deriv-options", *sources, "--from", str(not_zip)]) == 1
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before
    assert [p.name for p in dest.parent.iterdir()] == ["mini_api"]


def test_pin_moves_to_a_new_tag(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "mirror" / "deriv-options" / "v2.zip").write_bytes(
        (project / "mirror" / "deriv-options" / "v1.zip").read_bytes() + b""
    )
    new = _zip(project, "v2-content")
    shutil.copy(new, project / "mirror" / "deriv-options" / "v2.zip")
    path = project / "schemas" / "sources.toml"
    assert main(["pin", "deriv-options", "v2", "--sources", str(path), "--offline"]) == 0
    assert "pinned deriv-options to v2" in capsys.readouterr().out
    source = load_sources(path).get("deriv-options")
    assert (source.version, source.sha256) == ("v2", hashlib.sha256(new.read_bytes()).hexdigest())
    assert main(["pin", "deriv-options", "v3", "--sources", str(path), "--offline"]) == 1
    assert "v3" in capsys.readouterr().err
    assert load_sources(path).get("deriv-options").version == "v2"


def test_unknown_source_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "nope", "--sources", str(ROOT / "schemas" / "sources.toml")]) == 1
    assert "no source named 'nope'" in capsys.readouterr().err


def test_missing_generator_extra_is_explained(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jinja2" else real(name, *a)
    )
    assert main(["generate", "--sources", str(project / "schemas" / "sources.toml"), "--offline"]) == 1
    assert "pip install deriv-codegen," in capsys.readouterr().err


def test_problems_of_one_kind_are_listed_once_with_a_count() -> None:
    from deriv_codegen.cli import problem_lines
    from deriv_codegen.errors import Problem

    problems = [
        Problem("spec.json", f"GET /public/m{i}: response 200 lacks a description") for i in range(52)
    ] + [
        Problem(
            "spec.json", "GET /private/buy result /properties/order: required names no property: x; dropped"
        ),
        Problem(
            "spec.json", "GET /private/sell result /properties/order: required names no property: y; dropped"
        ),
        Problem("spec.json", "security: the root security applies to every method"),
    ]
    lines = problem_lines(problems)
    assert len(lines) == 3
    assert "GET /public/m0: response 200 lacks a description" in lines[0] and "51 more like it" in lines[0]
    assert "1 more like it" in lines[1] and "security" in lines[2] and "more like it" not in lines[2]
    assert problem_lines(problems, verbose=True) == [str(p) for p in problems]
