"""Every Deriv Options release in the mirror generates, imports module by module, and type-checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deriv_codegen.build import generate
from deriv_codegen.ir import BundleInfo

from .conftest import OPTIONS_RELEASES, ROOT, requires_mirror

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import deriv_options, deriv_options.models as models
from deriv_runtime.models import RequestModel, ResponseModel
names = sorted(m.name for m in pkgutil.iter_modules(models.__path__))
built = 0
for name in names:
    module = importlib.import_module(f"deriv_options.models.{name}")
    for value in vars(module).values():
        if not (isinstance(value, type) and issubclass(value, (RequestModel, ResponseModel))):
            continue
        if value.__module__ == module.__name__:
            value.model_rebuild(force=True)  # compiles validators and every pattern
            value.model_json_schema()
            built += 1
client = deriv_options.OptionsClient
methods = sorted(m for m in dir(client) if not m.startswith("_"))
calls = sorted(deriv_options.CALLS)
print(json.dumps({"modules": names, "models": built, "calls": calls, "methods": methods}))
"""


@requires_mirror()
@pytest.mark.parametrize("release", OPTIONS_RELEASES, ids=[p.stem for p in OPTIONS_RELEASES])
def test_release_generates_imports_and_type_checks(release: Path, tmp_path: Path) -> None:
    info = BundleInfo("deriv-options", release.stem, "0" * 64, str(release))
    result = generate(
        release, info, "deriv-options-zip", "deriv_options", tmp_path, ROOT / "schemas" / "overrides"
    )
    assert result.ws_calls >= 20
    assert result.rest_operations >= 1
    assert not [p for p in result.problems if p.severity == "skipped"], result.problems

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(result.out_dir), str(ROOT / "runtime")])}
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, check=False, env=env
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["modules"]) == result.ws_calls == len(report["calls"])
    assert report["models"] > result.ws_calls * 2
    for call in report["calls"]:
        assert call in report["methods"] or f"{call}_" in report["methods"]

    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy"), "deriv_options"],
        cwd=result.out_dir,
        capture_output=True,
        text=True,
        check=False,
        env={**env, "MYPYPATH": str(ROOT / "runtime")},
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
