"""The Deribit client generated from the pinned document in the mirror: every module imports (every model
compiles), the package passes ``mypy --strict``, and its shape follows the IR and the override file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deriv_codegen.build import BuildResult, generate
from deriv_codegen.ir import BundleInfo

from .conftest import ROOT, SHARED_SCHEMAS, imported, purge

DERIBIT_DOC = SHARED_SCHEMAS / "deribit" / "deribit-api-v2.0.0.openapi.json"
INFO = BundleInfo("deribit", "2.0.0", "0" * 64, "mirror")

IMPORT_ALL = """
import importlib, inspect, json, pkgutil, typing
import deribit_api, deribit_api.models as models
from deribit_api import channels
from deriv_runtime.models import RequestModel, ResponseModel
names = sorted(m.name for m in pkgutil.iter_modules(models.__path__))
built = 0
for name in names:
    module = importlib.import_module(f"deribit_api.models.{name}")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, (RequestModel, ResponseModel)):
            if value.__module__ == module.__name__:
                value.model_rebuild(force=True)  # compiles validators and every pattern
                value.model_json_schema()
                built += 1
client = deribit_api.DeribitClient
methods = {
    ns: sorted(m for m in dir(getattr(deribit_api.client, f"{ns.title()}Api")) if not m.startswith("_"))
    for ns in ("public", "private")
}
builders = {name: str(inspect.signature(getattr(channels, name))) for name in channels.__all__}
info = {n: [i.auth_required, i.repeatable] for n, i in deribit_api.OPERATIONS.items()}
arity = {n: len(inspect.signature(getattr(channels, n)).parameters) for n in channels.__all__}
made = [getattr(channels, n)(*["x"] * arity[n]) for n in channels.__all__]
print(json.dumps({
    "modules": names, "models": built, "methods": methods, "builders": builders, "info": info,
    "names": sorted(c.name for c in made), "private": sorted(c.name for c in made if c.private),
    "ws_url": deribit_api.WS_URL, "testnet": deribit_api.TESTNET_WS_URL,
}))
"""

requires_deribit = pytest.mark.skipif(
    not DERIBIT_DOC.is_file(), reason=f"the Deribit document is not in the mirror ({DERIBIT_DOC})"
)


@pytest.fixture(scope="module")
def deribit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildResult]:
    if not DERIBIT_DOC.is_file():
        pytest.skip(f"the Deribit document is not in the mirror ({DERIBIT_DOC})")
    out = tmp_path_factory.mktemp("deribit")
    yield generate(DERIBIT_DOC, INFO, "deribit-openapi", "deribit_api", out, ROOT / "schemas" / "overrides")
    purge("deribit_api")


def _env(dist: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(dist), str(ROOT / "runtime")])}


@requires_deribit
def test_every_module_imports_and_the_shape_follows_the_ir(deribit: BuildResult) -> None:
    assert (deribit.operations, deribit.channels) == (86, 16)
    assert not [p for p in deribit.problems if p.severity == "skipped"], deribit.problems
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        capture_output=True,
        text=True,
        check=False,
        env=_env(deribit.out_dir),
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["modules"]) == 86 + 16
    assert report["models"] > 86 * 2
    public, private = report["methods"]["public"], report["methods"]["private"]
    assert len(public) + len(private) == 86
    assert {"get_time", "get_instruments", "get_order_book", "auth", "subscribe", "ticker"} <= set(public)
    assert {"buy", "sell", "edit", "cancel", "get_positions", "withdraw", "logout"} <= set(private)
    assert report["builders"]["ticker"] == (
        "(instrument_name: 'str', interval: \"Literal['100ms', 'raw']\") -> 'Channel[TickerData]'"
    )
    assert len(report["builders"]) == 16
    assert "ticker.x.x" in report["names"] and "user.orders.x.x.x" in report["names"]
    assert set(report["private"]) == {n for n in report["names"] if n.startswith("user.")}
    info = report["info"]
    assert info["public/get_time"] == [False, True]
    assert info["private/get_positions"] == [True, True]  # [reconnect] repeatable
    for never in ("private/buy", "private/edit", "private/cancel_all", "private/withdraw", "public/auth"):
        assert info[never][1] is False
    assert info["private/toggle_subaccount_login"] == [True, False]  # not listed: private fails safe
    assert (report["ws_url"], report["testnet"]) == (
        "wss://www.deribit.com/ws/api/v2",
        "wss://test.deribit.com/ws/api/v2",
    )


@requires_deribit
def test_the_generated_package_passes_mypy_strict(deribit: BuildResult, tmp_path: Path) -> None:
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy"), "deribit_api"],
        cwd=deribit.out_dir,
        capture_output=True,
        text=True,
        check=False,
        env={**_env(deribit.out_dir), "MYPYPATH": str(ROOT / "runtime")},
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


@requires_deribit
def test_the_generated_client_against_the_deribit_mock(deribit: BuildResult) -> None:
    """End to end on real sockets: the mock serves the package's own openapi.json; typed results,
    authentication, strict params, typed channel notifications, and JSON-RPC over HTTP."""
    import asyncio

    from deriv_runtime.errors import AuthenticationError, RequestValidationError
    from deriv_runtime.mock.deribit import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MockDeribit
    from deriv_runtime.ws import ReconnectPolicy

    fast = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)

    async def scenario(api: Any) -> None:
        from deribit_api.channels import ticker
        from deribit_api.models.channel_ticker import TickerData
        from deribit_api.models.private_get_positions import GetPositionsResultItem
        from deribit_api.models.public_auth import AuthResult
        from deribit_api.models.public_get_instruments import GetInstrumentsResultItem

        mock = MockDeribit(package="deribit_api", tick_interval=0.02)
        async with mock, api.DeribitClient.connect(mock.ws_url, reconnect=fast) as client:
            assert isinstance(await client.public.get_time(), int)
            instruments = await client.public.get_instruments(currency="BTC", kind="future")
            assert instruments and all(type(i) is GetInstrumentsResultItem for i in instruments)
            with pytest.raises(RequestValidationError):
                await client.public.get_instruments(currency="XRP")
            with pytest.raises(AuthenticationError):
                await client.private.get_positions(currency="BTC")
            token = await client.public.auth(
                grant_type="client_credentials",
                client_id=DEFAULT_CLIENT_ID,
                client_secret=DEFAULT_CLIENT_SECRET,
            )
            assert isinstance(token, AuthResult) and token.access_token
            positions = await client.private.get_positions(currency="BTC")
            assert all(type(p) is GetPositionsResultItem for p in positions)
            async with client.subscribe(ticker("BTC-PERPETUAL", "100ms")) as stream:
                note = await anext(stream)
            assert note.channel == "ticker.BTC-PERPETUAL.100ms" and isinstance(note.data, TickerData)
            assert note.data.instrument_name == "BTC-PERPETUAL"
            async with api.DeribitClient.over_http(mock.http_url) as http:
                assert isinstance(await http.public.get_time(), int)

    with imported(deribit.out_dir, "deribit_api") as api:
        asyncio.run(asyncio.wait_for(scenario(api), 60))
