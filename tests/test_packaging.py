"""Packaging as a newcomer meets it: two distributions (deriv-runtime, deriv-codegen), generated packages
that need only the runtime, one version everywhere, READMEs that say what a package holds, and
``generate --from`` that never replaces the pinned build.

The newcomer test works in a temporary directory: it builds the wheels (the runtime, the generator and
a generated package, with hatchling's PEP 517 hooks as ``pip wheel --no-build-isolation`` would), makes
a clean virtual environment (stdlib ``venv``, its own pip, no system site-packages), installs the runtime
and the generated package with plain pip (no generator), imports it, starts the mock from the installed
``deriv-mock`` script, runs a bot against it, and stops the mock with Ctrl-C.

It runs offline: pip installs with ``--no-index`` from a wheelhouse of our three wheels and the runtime's
dependencies, which are repacked from this test environment's installed distributions (the same files
their registry wheels unpacked to). pip resolves the declared requirements against that wheelhouse, so a
requirement that is missing, wrong (``deriv-codegen``) or unsatisfiable fails here as it would on an index.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import pytest
from deriv_codegen import __version__ as generator_version
from deriv_codegen.cli import main as codegen_main
from deriv_codegen.render import RUNTIME_DIST, runtime_requirement
from deriv_runtime import __version__ as runtime_version
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .conftest import ROOT, requires_mirror

#: How a generated README installs with the runtime from an index.
INDEX_INSTALL = f'pip install "{RUNTIME_DIST}{runtime_requirement(runtime_version)}"'

# --- one version ------------------------------------------------------------------------------------


def test_one_version_for_runtime_generator_and_generated_requirement() -> None:
    assert generator_version == runtime_version
    assert metadata.version("deriv-runtime") == runtime_version
    assert metadata.version("deriv-codegen") == runtime_version
    requires = [Requirement(r) for r in metadata.requires("deriv-codegen") or []]
    base = [r for r in requires if r.marker is None]
    assert f"{RUNTIME_DIST}=={runtime_version}" in {str(r) for r in base}
    runtime = Version(runtime_version)
    spec = Requirement(RUNTIME_DIST + runtime_requirement(runtime_version)).specifier
    assert runtime in spec
    upper = f"{runtime.major}.{runtime.minor + 1}" if runtime.major == 0 else f"{runtime.major + 1}"
    assert Version(upper) not in spec


def test_runtime_requirement_follows_the_release_line() -> None:
    assert runtime_requirement("0.1.0") == ">=0.1.0,<0.2"
    assert runtime_requirement("0.12.3") == ">=0.12.3,<0.13"
    assert runtime_requirement("1.4.2") == ">=1.4.2,<2"
    assert runtime_requirement("2.0.0rc1") == ">=2.0.0rc1,<3"


def test_the_version_is_written_once() -> None:
    """Only runtime/deriv_runtime/__init__.py spells the version; the pyproject files read it."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = tomllib.loads((ROOT / "runtime" / "pyproject.toml").read_text(encoding="utf-8"))
    for project in (root, runtime):
        assert "version" not in project["project"]
        assert "version" in project["project"]["dynamic"]
    assert root["tool"]["hatch"]["version"]["path"] == "runtime/deriv_runtime/__init__.py"
    assert runtime["tool"]["hatch"]["version"]["path"] == "deriv_runtime/__init__.py"
    deps = " ".join(runtime["project"]["dependencies"])
    for build_tool in ("jinja2", "datamodel-code-generator", "ruff", "deriv-codegen"):
        assert build_tool not in deps


# --- the generated package's pyproject and README ---------------------------------------------------


def test_generated_pyproject_requires_the_runtime_not_the_generator(mini_dist: Path) -> None:
    project = tomllib.loads((mini_dist / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["dependencies"] == [RUNTIME_DIST + runtime_requirement(runtime_version)]
    assert project["version"].startswith(runtime_version + "+")
    assert project["readme"] == "README.md"


@requires_mirror()
def test_generated_readme_states_what_the_package_holds(deriv_options_dist: Path) -> None:
    import deriv_options
    from deriv_options import OptionsClient, OptionsRestClient

    readme = (deriv_options_dist / "README.md").read_text(encoding="utf-8")
    assert "not generated yet" not in readme
    assert f"sha256 `{deriv_options.SOURCE_SHA256}`" in readme
    assert f"release `{deriv_options.SOURCE_VERSION}`" in readme
    calls = len(deriv_options.CALLS)
    assert f"- {calls} WebSocket calls as typed async methods of `deriv_options.OptionsClient`" in readme
    rest_methods = [
        name
        for name, value in vars(OptionsRestClient).items()
        if callable(value) and not name.startswith("_")
    ]
    assert f"- {len(rest_methods)} REST operations as typed async methods of" in readme
    assert all(f"| `{name}` |" in readme for name in rest_methods)
    ws_methods = [name for name, value in vars(OptionsClient).items() if callable(value) and name in readme]
    assert {"time", "ticks", "buy"} <= set(ws_methods)
    assert all(f"| `{name}` |" in readme for name in ws_methods if not name.startswith(("_", "subscribe_")))
    assert "pip install ./runtime ./generated/deriv_options\n" in readme
    assert f"{INDEX_INSTALL} ./generated/deriv_options" in readme
    assert "print(await client.time())" in readme


def test_generated_rpc_readme_counts(mini_rpc_dist: Path) -> None:
    readme = (mini_rpc_dist / "README.md").read_text(encoding="utf-8")
    assert "- 5 JSON-RPC methods" in readme
    assert "- 2 channels" in readme
    assert f"{INDEX_INSTALL} ./generated/mini_rpc" in readme


# --- generate --from writes beside the pinned build -------------------------------------------------


def test_generate_from_never_replaces_the_pinned_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _project_with_a_pin(tmp_path)
    monkeypatch.chdir(tmp_path)
    sources = ["--sources", str(tmp_path / "schemas" / "sources.toml"), "--offline"]
    assert codegen_main(["generate", *sources]) == 0
    pinned = tmp_path / "generated" / "mini_api"
    before = {p.relative_to(pinned): p.read_bytes() for p in pinned.rglob("*") if p.is_file()}
    capsys.readouterr()

    assert codegen_main(["generate", "deriv-options", *sources, "--from", str(bundle)]) == 0
    out = capsys.readouterr().out
    beside = tmp_path / "generated" / "from" / "unpinned-next" / "mini_api"
    assert (beside / "mini_api" / "_calls.py").is_file()
    assert "unpinned-next" in (beside / "mini_api" / "__init__.py").read_text(encoding="utf-8")
    assert "generated/from/unpinned-next/mini_api" in out
    assert "generated/mini_api is untouched" in out
    assert {p.relative_to(pinned): p.read_bytes() for p in pinned.rglob("*") if p.is_file()} == before

    # asked for: --out names the pinned directory's parent
    assert (
        codegen_main(["generate", "deriv-options", *sources, "--from", str(bundle), "--out", "generated"])
        == 0
    )
    assert "unpinned-next" in (pinned / "mini_api" / "__init__.py").read_text(encoding="utf-8")


def test_generate_from_label_is_one_safe_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _project_with_a_pin(tmp_path)
    sources = ["--sources", str(tmp_path / "schemas" / "sources.toml"), "--offline"]
    args = ["generate", "deriv-options", *sources, "--from", str(bundle), "--label", "../x y"]
    assert codegen_main(args) == 0
    assert (tmp_path / "generated" / "from" / "_x_y" / "mini_api" / "pyproject.toml").is_file()
    assert sorted(p.name for p in (tmp_path / "generated").iterdir()) == ["from"]


def _project_with_a_pin(root: Path) -> Path:
    """A project whose deriv-options pin is the mini fixture (in a mirror); returns another bundle."""
    fixture = ROOT / "tests" / "fixtures" / "mini"
    mirror = root / "mirror" / "deriv-options"
    mirror.mkdir(parents=True)
    pinned = _zip_dir(fixture, mirror / "v1.zip")
    (root / "schemas").mkdir()
    (root / "schemas" / "sources.toml").write_text(
        '[fetch]\nmirrors = ["mirror"]\n\n[sources.deriv-options]\nversion = "v1"\n'
        'url = "http://127.0.0.1:9/{version}/schemas.zip"\n'
        f'sha256 = "{hashlib.sha256(pinned.read_bytes()).hexdigest()}"\n'
        'layout = "deriv-options-zip"\nmirror_path = "deriv-options/{version}.zip"\npackage = "mini_api"\n',
        encoding="utf-8",
    )
    return _zip_dir(fixture, root / "next.zip")


def _zip_dir(source: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(source).as_posix())
    return target


# --- the newcomer: wheels, a clean venv, plain pip, the installed mock, a bot ------------------------


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, deriv_options_dist: Path) -> Path:
    """Our three wheels and the runtime's dependencies (repacked from this environment)."""
    house = tmp_path_factory.mktemp("wheelhouse")
    for project in (ROOT / "runtime", ROOT, deriv_options_dist):
        _build_wheel(project, house)
    for dist in _closure(["deriv-runtime"]):
        _repack(dist, house)
    return house


def test_wheels_build_with_the_right_metadata(wheelhouse: Path) -> None:
    runtime = _wheel_metadata(_one(wheelhouse, "deriv_runtime-*.whl"))
    generator = _wheel_metadata(_one(wheelhouse, "deriv_codegen-*.whl"))
    options = _wheel_metadata(_one(wheelhouse, "deriv_options-*.whl"))
    assert runtime.version == generator.version == runtime_version
    assert options.version.startswith(runtime_version + "+")
    assert {canonicalize_name(r.name) for r in runtime.requires if r.marker is None} == {
        "pydantic",
        "websockets",
        "httpx",
        "sniffio",
        "orjson",
        "jsonschema-rs",
        "cryptography",
    }
    assert f"deriv-runtime=={runtime_version}" in {str(r) for r in generator.requires}
    assert options.requires == [Requirement(RUNTIME_DIST + runtime_requirement(runtime_version))]
    assert {"deriv-mock", "deribit-keygen"} <= set(runtime.entry_points.get("console_scripts", {}))
    assert runtime.entry_points["pytest11"] == {"deriv_mock": "deriv_runtime.mock.pytest_plugin"}
    assert set(generator.entry_points["console_scripts"]) == {"deriv-codegen"}
    with zipfile.ZipFile(_one(wheelhouse, "deriv_codegen-*.whl")) as zf:
        names = zf.namelist()
    assert "deriv_codegen/templates/README.md.jinja" in names
    assert not any(n.startswith("deriv_runtime/") for n in names)
    with zipfile.ZipFile(_one(wheelhouse, "deriv_options-*.whl")) as zf:
        assert "deriv_options/schemas.json" in zf.namelist()


@requires_mirror()
def test_newcomer_installs_runtime_and_client_with_plain_pip_and_trades_on_the_mock(
    wheelhouse: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    env = _clean_env(bindir)
    runtime_wheel = _one(wheelhouse, "deriv_runtime-*.whl")
    options_wheel = _one(wheelhouse, "deriv_options-*.whl")
    pip = [str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse)]
    _run([*pip, str(runtime_wheel), str(options_wheel)], env, tmp_path)

    probe = (
        "import importlib.util, deriv_options, deriv_runtime\n"
        "print(deriv_runtime.__version__, deriv_options.SOURCE_VERSION, deriv_options.__file__)\n"
        "print([m for m in ('deriv_codegen', 'jinja2', 'datamodel_code_generator', 'ruff')"
        " if importlib.util.find_spec(m)])\n"
    )
    out = _run([str(python), "-c", probe], env, tmp_path).splitlines()
    version, _, where = out[0].split(" ", 2)
    assert version == runtime_version
    assert Path(where).is_relative_to(env_dir)
    assert out[1] == "[]"  # nothing of the generator

    mock = subprocess.Popen(
        [str(bindir / "deriv-mock"), "--port", "0", "--tick-interval", "0.05", "--seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        url = _mock_url(mock)
        # the README's quick start, as a user runs it: the example script, against the installed mock
        bot = _run([str(python), str(ROOT / "examples" / "quickstart.py"), url], env, tmp_path)
    finally:
        mock.send_signal(signal.SIGINT)
        stdout, stderr = mock.communicate(timeout=30)
    assert mock.returncode == 0, stderr
    assert "Stopped." in stdout
    lines = bot.splitlines()
    assert lines[0].startswith("ping: ")
    assert re.fullmatch(r"bought contract \S+ for [0-9.]+", lines[1])
    assert [line.split()[0] for line in lines[2:]] == ["R_100"] * 5


def _mock_url(mock: subprocess.Popen[str]) -> str:
    assert mock.stdout is not None
    url = None
    for line in mock.stdout:  # the banner, up to "Press Ctrl-C to stop."
        if line.strip().startswith("authenticated:"):
            url = line.split(":", 1)[1].strip()
        if line.startswith("Press Ctrl-C"):
            break
    if url is None:
        mock.kill()
        raise AssertionError(f"deriv-mock printed no URL: {mock.communicate(timeout=10)}")
    return url


def _clean_env(bindir: Path) -> dict[str, str]:
    """The environment of a fresh shell with the venv activated: no pip configuration, no PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON", "UV_", "VIRTUAL_ENV")) and k != "PATH"
    }
    env["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bindir.parent)
    env["PIP_CONFIG_FILE"] = os.devnull  # no machine-wide index, find-links or constraints
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=240, check=False)
    return _check(proc)


def _check(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _one(house: Path, pattern: str) -> Path:
    (found,) = house.glob(pattern)
    return found


def _build_wheel(project: Path, house: Path) -> Path:
    """``pip wheel --no-deps --no-build-isolation PROJECT``: hatchling's build_wheel hook, here, offline."""
    code = "import sys\nfrom hatchling.build import build_wheel\nprint(build_wheel(sys.argv[1]))\n"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(house)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return house / _check(proc).strip().splitlines()[-1]


class WheelInfo(NamedTuple):
    version: str
    requires: list[Requirement]
    entry_points: dict[str, dict[str, str]]


def _wheel_metadata(wheel: Path) -> WheelInfo:
    with zipfile.ZipFile(wheel) as zf:
        info = next(n.split("/")[0] for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(f"{info}/METADATA").decode())
        entry_text = (
            zf.read(f"{info}/entry_points.txt").decode()
            if f"{info}/entry_points.txt" in zf.namelist()
            else ""
        )
    entry_points: dict[str, dict[str, str]] = {}
    group = ""
    for raw in entry_text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            group = line.strip("[]")
            entry_points[group] = {}
        elif "=" in line:
            name, _, value = line.partition("=")
            entry_points[group][name.strip()] = value.strip()
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return WheelInfo(meta["Version"], requires, entry_points)


def _closure(names: list[str]) -> Iterator[metadata.Distribution]:
    """The installed distributions ``names`` need (not themselves), following unconditional requirements."""
    seen = {canonicalize_name(n) for n in names}
    todo = list(names)
    while todo:
        for text in metadata.requires(todo.pop()) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(req.name)
            if name not in seen:
                seen.add(name)
                todo.append(name)
                yield metadata.distribution(name)


def _repack(dist: metadata.Distribution, house: Path) -> Path:
    """A wheel of an installed distribution: its files under site-packages and its .dist-info (a new RECORD).

    Scripts are left out (pip writes them again from entry_points.txt), so are caches and install markers.
    """
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    wheel = house / f"{name}-{dist.version}-{tags[0]}.whl"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    info_dir = ""
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for file in dist.files or []:
            parts = file.parts
            if parts[0] == ".." or "__pycache__" in parts or file.suffix == ".pyc":
                continue
            if parts[0].endswith(".dist-info"):
                info_dir = parts[0]
                if parts[-1] in {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json"}:
                    continue
            data = Path(str(dist.locate_file(file))).read_bytes()
            zf.writestr(file.as_posix(), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            writer.writerow([file.as_posix(), f"sha256={digest}", len(data)])
        writer.writerow([f"{info_dir}/RECORD", "", ""])
        zf.writestr(f"{info_dir}/RECORD", record.getvalue())
    return wheel


# --- dev.py run: a command in the project's environment ----------------------------------------------


def _dev_run(env_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\nfrom pathlib import Path\nimport dev\n"
        "dev.PROJECT_ENV = Path(sys.argv[1])\nsys.exit(dev.run(sys.argv[2:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(env_dir), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dev_run_runs_in_the_project_environment(tmp_path: Path) -> None:
    missing = _dev_run(tmp_path / "nothing", "--", "python", "-V")
    assert missing.returncode == 2
    assert "python3 dev.py generate first" in missing.stderr

    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    probe = "import os, sys; print(sys.prefix); print(os.environ['VIRTUAL_ENV']); sys.exit(3)"
    proc = _dev_run(env_dir, "--", "python", "-c", probe)
    assert proc.returncode == 3  # the command's own exit status
    assert proc.stdout.splitlines() == [str(env_dir), str(env_dir)]
    assert _dev_run(env_dir, "--", "no-such-command-here").returncode == 127
