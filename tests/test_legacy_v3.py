"""The Deriv WebSocket API v3 (legacy) client: the reader, the generator fixes it needed, and the
package generated from the pinned bundle in the mirror (every call imports, passes ``mypy --strict``
and takes its upstream example), plus the same fixes on our own small bundle (tests/fixtures/mini_v3,
golden records in tests/golden)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deriv_codegen.build import BuildResult, generate
from deriv_codegen.config import load_api_config
from deriv_codegen.errors import Problem
from deriv_codegen.ir import ApiIR, BundleInfo
from deriv_codegen.naming import identifier, snake
from deriv_codegen.readers import read_bundle
from deriv_codegen.schema_prep import check_defaults, check_patterns, translate_pattern
from deriv_runtime.auth.secret import Secret
from deriv_runtime.client import build_request

from .conftest import MINI_V3, MINI_V3_INFO, ROOT, SHARED_SCHEMAS, imported, purge

V3_ZIP = SHARED_SCHEMAS / "deriv-legacy-v3" / "deriv-api-docs-6571f72.zip"
INFO = BundleInfo("deriv-legacy-v3", "6571f7210045a89a92c6cb699d5f93bb102b8ad5", "0" * 64, "mirror")
OVERRIDES = ROOT / "schemas" / "overrides"
#: Upstream examples that break their own request schema (the test fails if this set grows or shrinks):
#: p2p_advert_update sends ``"id": 1234`` for a string id; unsubscribe_email ``"binary_user_id": "90000216"``
#: for a number.
BROKEN_EXAMPLES = {
    "p2p_advert_update": {("id", "string_type")},
    "unsubscribe_email": {("binary_user_id", "float_type")},
}

requires_v3 = pytest.mark.skipif(
    not V3_ZIP.is_file(), reason=f"the v3 bundle is not in the mirror ({V3_ZIP})"
)

CHECK_ALL = """
import importlib, json, pkgutil, sys
import deriv_v3, deriv_v3.models as models
from deriv_runtime.models import RequestModel, ResponseModel
from pydantic import RootModel, ValidationError
examples = json.load(sys.stdin)
built = 0
for info in pkgutil.iter_modules(models.__path__):
    module = importlib.import_module(f"deriv_v3.models.{info.name}")
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, (RequestModel, ResponseModel, RootModel)):
            if value.__module__ == module.__name__:
                value.model_rebuild(force=True)  # compiles every validator and pattern
                built += 1
broken, differs = {}, []
for call, (module, cls, example) in sorted(examples.items()):
    request = getattr(importlib.import_module(f"deriv_v3.models.{module}"), cls)
    try:
        model = request.model_validate(example)
    except ValidationError as exc:
        broken[call] = sorted([".".join(map(str, e["loc"])), e["type"]] for e in exc.errors())
        continue
    if model.model_dump(mode="json", by_alias=True, exclude_unset=True) != example:
        differs.append(call)
client = deriv_v3.V3Client
methods = sorted(m for m in dir(client) if not m.startswith("_"))
print(json.dumps({"built": built, "broken": broken, "differs": differs, "methods": methods,
                  "calls": sorted(deriv_v3.CALLS)}))
"""


@pytest.fixture(scope="module")
def v3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildResult]:
    if not V3_ZIP.is_file():
        pytest.skip(f"the v3 bundle is not in the mirror ({V3_ZIP})")
    out = tmp_path_factory.mktemp("deriv-v3")
    yield generate(V3_ZIP, INFO, "deriv-v3-docs-zip", "deriv_v3", out, OVERRIDES)
    purge("deriv_v3")


@pytest.fixture(scope="module")
def v3_ir() -> ApiIR:
    if not V3_ZIP.is_file():
        pytest.skip(f"the v3 bundle is not in the mirror ({V3_ZIP})")
    config = load_api_config(OVERRIDES, "deriv-legacy-v3")
    return read_bundle(V3_ZIP, "deriv-v3-docs-zip", INFO, config=config)


def _env(dist: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(dist), str(ROOT / "runtime")])}


@requires_v3
def test_the_reader_reads_all_120_calls_on_the_deriv_ws_binding(v3_ir: ApiIR) -> None:
    assert len(v3_ir.operations) == 120
    assert not v3_ir.problems
    assert v3_ir.binding_kinds() == {"deriv-ws"}
    assert all(len(op.examples) == 1 for op in v3_ir.operations)
    ticks_history = v3_ir.operation("ticks_history")
    assert ticks_history.binding("deriv-ws").msg_types == ("history", "tick", "candles", "ohlc")
    assert ticks_history.streaming is not None
    balance = v3_ir.operation("balance")
    assert (balance.auth_required, balance.auth_scopes) == (True, ("read", "trading_information"))
    assert not v3_ir.operation("authorize").auth_required
    # p2p and mt5 stay whole in Python names
    names = {op.method_name for op in v3_ir.operations}
    assert {"p2p_advert_create", "mt5_new_account", "mt5_password_change"} <= names
    assert not [n for n in names if "p_2_p" in n or "mt_5" in n]


@requires_v3
def test_every_call_generates_imports_and_takes_its_upstream_example(v3: BuildResult, v3_ir: ApiIR) -> None:
    assert v3.ws_calls == 120
    assert not [p for p in v3.problems if p.severity == "skipped"], v3.problems
    assert not [p for p in v3.problems if "on its own" in p.what], "every class is named by us"
    examples = {
        op.name: (
            identifier(op.name),
            f"{''.join(w.title() for w in op.name.split('_'))}Request",
            op.examples[0],
        )
        for op in v3_ir.operations
    }
    examples = {k: (m, _request_class(v3.out_dir, m), e) for k, (m, _c, e) in examples.items()}
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_ALL],
        input=json.dumps(examples),
        capture_output=True,
        text=True,
        check=False,
        env=_env(v3.out_dir),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    found = json.loads(proc.stdout)
    assert found["calls"] == sorted(op.name for op in v3_ir.operations)
    assert found["built"] > 600
    broken = {call: {tuple(e) for e in errors} for call, errors in found["broken"].items()}
    assert broken == BROKEN_EXAMPLES
    assert found["differs"] == []  # every valid example round-trips unchanged
    assert {"p2p_advert_create", "mt5_new_account", "subscribe_ticks", "subscribe_p2p_order_info"} <= set(
        found["methods"]
    )


def _request_class(dist: Path, module: str) -> str:
    code = (dist / "deriv_v3" / "models" / f"{module}.py").read_text(encoding="utf-8")
    names = [
        line.split("(")[0].removeprefix("class ") for line in code.splitlines() if line.startswith("class ")
    ]
    (request,) = [n for n in names if n.endswith("Request") and f"class {n}(RequestModel)" in code]
    return request


@requires_v3
def test_generated_package_passes_mypy_strict(v3: BuildResult, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"), "deriv_v3"],
        cwd=v3.out_dir,
        capture_output=True,
        text=True,
        check=False,
        env={**_env(v3.out_dir), "MYPYPATH": str(ROOT / "runtime")},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@requires_v3
def test_reported_problems_are_the_known_ones(v3: BuildResult) -> None:
    """Nothing is dropped silently: each pattern pydantic cannot enforce and the fixed-up default is
    reported, and nothing else."""
    dropped = sorted(
        (p.where.split("/")[2], p.what.split(" at ")[1].split(" ")[0])
        for p in v3.problems
        if "cannot be enforced" in p.what
    )
    assert dropped == [
        ("mt5_new_account", "/properties/investPassword"),
        ("mt5_new_account", "/properties/mainPassword"),
        ("new_account_maltainvest", "/properties/first_name"),
        ("new_account_maltainvest", "/properties/last_name"),
        ("new_account_maltainvest", "/properties/tax_identification_number"),
        ("new_account_real", "/properties/first_name"),
        ("new_account_real", "/properties/last_name"),
        ("new_account_real", "/properties/tax_identification_number"),
        ("p2p_advertiser_create", "/properties/name"),
    ]
    others = [p.what for p in v3.problems if "cannot be enforced" not in p.what]
    assert others == ["default '5000' at /properties/count is not of type integer; read as 5000"]


@requires_v3
def test_generating_twice_gives_identical_trees(v3: BuildResult, tmp_path: Path) -> None:
    again = generate(V3_ZIP, INFO, "deriv-v3-docs-zip", "deriv_v3", tmp_path, OVERRIDES, force=True)
    first = {p.relative_to(v3.out_dir): p.read_bytes() for p in sorted(v3.out_dir.rglob("*")) if p.is_file()}
    second = {
        p.relative_to(again.out_dir): p.read_bytes() for p in sorted(again.out_dir.rglob("*")) if p.is_file()
    }
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


@requires_v3
def test_reconnect_rules_never_repeat_what_acts(v3: BuildResult) -> None:
    calls = (v3.out_dir / "deriv_v3" / "_calls.py").read_text(encoding="utf-8")
    assert 'resume=Resume(\n        call="proposal_open_contract"' in calls
    with imported(v3.out_dir, "deriv_v3") as pkg:
        info = pkg.CALLS
        assert not info["buy"].repeatable and info["buy"].resume.call == "proposal_open_contract"
        for name in ("sell", "transfer_between_accounts", "p2p_order_create", "mt5_deposit", "topup_virtual"):
            assert not info[name].repeatable, name
        for name in ("balance", "ticks", "proposal_open_contract", "transaction", "p2p_order_info"):
            assert info[name].repeatable, name
    assert not [p for p in v3.problems if "never re-sent after a reconnect" in p.what]


# --- the fixes, on our own bundle ----------------------------------------------------------------


def test_pcre_syntax_is_translated() -> None:
    assert translate_pattern(r"^[\p{L}\x{b0}]$") == r"^[\p{L}\u00b0]$"
    assert translate_pattern(r"\x{1F600}") == r"\U0001f600"
    assert translate_pattern(r"a\\x{b0}") == r"a\\x{b0}"  # an escaped backslash, then a letter x


def test_a_counted_class_too_big_for_the_engine_becomes_lengths() -> None:
    problems: list[Problem] = []
    node = {"properties": {"t": {"type": "string", "maxLength": 200, "pattern": r"^[\p{L}\p{Nd}\s]{1,300}$"}}}
    out = check_patterns(node, "s.json", problems)
    assert out["properties"]["t"] == {
        "type": "string",
        "pattern": r"^[\p{L}\p{Nd}\s]*$",
        "minLength": 1,
        "maxLength": 200,
    }
    assert problems == []


def test_look_ahead_stays_where_its_model_can_use_pythons_engine() -> None:
    problems: list[Problem] = []
    schema = {"properties": {"p": {"pattern": "^(?=.*[0-9])[ -~]{8,25}$"}, "q": {"pattern": "^[a-z]+$"}}}
    assert check_patterns(schema, "s.json", problems) == schema
    both = {"properties": {"n": {"pattern": r"^(?!.*\s{2,})[\p{L}\s]{2,50}$"}}}
    assert "pattern" not in check_patterns(both, "s.json", problems)["properties"]["n"]
    assert len(problems) == 1 and "nor Python's re" in problems[0].what


def test_a_default_that_contradicts_its_type_is_fixed_up_or_dropped() -> None:
    problems: list[Problem] = []
    out = check_defaults(
        {
            "properties": {
                "n": {"type": "integer", "default": "5000"},
                "m": {"type": "integer", "default": "x"},
            }
        },
        "s.json",
        problems,
    )
    assert out["properties"]["n"]["default"] == 5000
    assert "default" not in out["properties"]["m"]
    assert [p.what.split(";")[1].strip() for p in problems] == ["read as 5000", "dropped"]


def test_p2p_and_mt5_stay_whole_in_snake_names() -> None:
    assert snake("p2p_advert_create") == "p2p_advert_create"
    assert snake("mt5_new_account") == "mt5_new_account"
    assert snake("phonePassword") == "phone_password"
    assert snake("MT5Login") == "mt_5_login"  # upper case: unchanged rule (Options names are guarded)


def test_mini_v3_reports_and_names(tmp_path: Path) -> None:
    result = generate(
        MINI_V3, MINI_V3_INFO, "deriv-v3-docs-zip", "mini_v3", tmp_path, MINI_V3.parent / "mini_v3_overrides"
    )
    assert result.ws_calls == 3
    assert sorted(p.what for p in result.problems) == [
        "default '5000' at /properties/count is not of type integer; read as 5000"
    ]
    models = (result.out_dir / "mini_v3" / "models" / "p2p_note_create.py").read_text(encoding="utf-8")
    assert "chat_token: SecretStr | None" in models  # a sensitive credential in an answer
    assert "\\u00b0" in models and "x{b0}" not in models


def test_sensitive_arguments_take_secrets_and_send_their_values(mini_v3_dist: Path) -> None:
    with imported(mini_v3_dist, "mini_v3") as pkg:
        from mini_v3 import _calls
        from mini_v3.models import authorize as m

        sent: list[dict[str, Any]] = []

        class Recorder(pkg.MiniV3Client):  # type: ignore[name-defined,misc]
            def __init__(self) -> None:
                pass

            async def _call(self, info: Any, request: Any, payload: Any, response: Any, timeout: Any) -> Any:
                sent.append(build_request(info, request, payload))
                return response.model_validate({"msg_type": "authorize", "echo_req": {}})

        token = Secret("abc-123")
        asyncio.run(Recorder().authorize(token, tokens=[Secret("def-456"), "ghi"], new_password="abcdefg1"))
        assert sent == [{"authorize": "abc-123", "tokens": ["def-456", "ghi"], "new_password": "abcdefg1"}]
        assert "abc" not in repr(token)
        with pytest.raises(Exception, match="new_password"):
            build_request(
                _calls.AUTHORIZE, m.AuthorizeRequest, {"authorize": "x", "new_password": "no digits"}
            )
