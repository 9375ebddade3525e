from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
from deriv_codegen.build import BuildResult, generate
from deriv_codegen.ir import BundleInfo

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"
OPTIONS_RELEASES = sorted((SHARED_SCHEMAS / "deriv-options").glob("*.zip"))
#: A valid set of contract parameters for proposal/buy against the mock.
CONTRACT_PARAMS: dict[str, object] = {
    "amount": 10,
    "basis": "stake",
    "contract_type": "CALL",
    "currency": "USD",
    "duration": 5,
    "duration_unit": "t",
    "underlying_symbol": "R_100",
}
MINI_INFO = BundleInfo("mini", "fixture-1", "0" * 64, "tests/fixtures/mini")
#: Our own Deribit-like OpenAPI document (JSON-RPC operations and channels) and its override file.
MINI_RPC = FIXTURES / "mini_rpc"
MINI_RPC_INFO = BundleInfo("mini-rpc", "fixture-1", "0" * 64, "tests/fixtures/mini_rpc")


def generate_mini(out: Path, bundle: Path = FIXTURES / "mini", **kwargs: object) -> BuildResult:
    return generate(
        bundle, MINI_INFO, "deriv-options-zip", "mini_api", out, ROOT / "schemas" / "overrides", **kwargs
    )


#: Our own bundle in the Deriv v3 documentation layout (config/v3/<call>/send.json...) and its overrides.
MINI_V3 = FIXTURES / "mini_v3"
MINI_V3_INFO = BundleInfo("mini-v3", "fixture-1", "0" * 64, "tests/fixtures/mini_v3")


def generate_mini_v3(out: Path, **kwargs: object) -> BuildResult:
    return generate(
        MINI_V3, MINI_V3_INFO, "deriv-v3-docs-zip", "mini_v3", out, FIXTURES / "mini_v3_overrides", **kwargs
    )


def generate_mini_rpc(out: Path, **kwargs: object) -> BuildResult:
    return generate(
        MINI_RPC / "mini-rpc.openapi.json",
        MINI_RPC_INFO,
        "deribit-openapi",
        "mini_rpc",
        out,
        MINI_RPC / "overrides",
        **kwargs,
    )


def purge(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


@contextmanager
def imported(dist_dir: Path, package: str) -> Iterator[ModuleType]:
    """Import a generated package from ``dist_dir``, and forget it afterwards."""
    purge(package)
    sys.path.insert(0, str(dist_dir))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(dist_dir))
        purge(package)


@pytest.fixture(scope="session")
def mini_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini-out")
    return generate_mini(out).out_dir


@pytest.fixture
def mini(mini_dist: Path) -> Iterator[ModuleType]:
    with imported(mini_dist, "mini_api") as module:
        yield module


@pytest.fixture(scope="session")
def mini_rpc_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini-rpc-out")
    return generate_mini_rpc(out).out_dir


@pytest.fixture(scope="session")
def mini_v3_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini-v3-out")
    return generate_mini_v3(out).out_dir


@pytest.fixture
def mini_rpc(mini_rpc_dist: Path) -> Iterator[ModuleType]:
    with imported(mini_rpc_dist, "mini_rpc") as module:
        yield module


def requires_mirror() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not OPTIONS_RELEASES, reason=f"upstream mirror not found at {SHARED_SCHEMAS} (CI has it)"
    )


@pytest.fixture(scope="session")
def deriv_options_dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``deriv_options`` generated from the newest Options release in the mirror, on sys.path."""
    if not OPTIONS_RELEASES:
        pytest.skip(f"upstream mirror not found at {SHARED_SCHEMAS} (CI has it)")
    from deriv_runtime.schemas import load_schemas

    release = OPTIONS_RELEASES[-1]
    info = BundleInfo("deriv-options", release.stem, "0" * 64, str(release))
    out = tmp_path_factory.mktemp("deriv-options")
    dist = generate(
        release, info, "deriv-options-zip", "deriv_options", out, ROOT / "schemas" / "overrides"
    ).out_dir
    purge("deriv_options")
    load_schemas.cache_clear()
    sys.path.insert(0, str(dist))
    yield dist
    sys.path.remove(str(dist))
    purge("deriv_options")
    load_schemas.cache_clear()
