"""The runtime's public surface: lazy exports are complete, and importing it is cheap."""

from __future__ import annotations

import subprocess
import sys

import deriv_runtime
from deriv_runtime import UNSET, Unset
from deriv_runtime.errors import RequestValidationError


def test_exports_are_complete_and_resolve() -> None:
    assert sorted(deriv_runtime.__all__) == sorted(deriv_runtime._EXPORTS)
    for name in deriv_runtime.__all__:
        assert getattr(deriv_runtime, name) is not None


def test_import_is_lazy() -> None:
    code = "import sys, deriv_runtime; print('pydantic' in sys.modules, 'websockets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_unset_is_falsy_and_distinct_from_none() -> None:
    assert UNSET is Unset.UNSET
    assert not UNSET
    assert UNSET is not None
    assert repr(UNSET) == "UNSET"


def test_validation_error_names_fields_not_values() -> None:
    err = RequestValidationError(
        "buy", [{"loc": ("parameters", "currency"), "msg": "String should match pattern"}]
    )
    assert str(err) == "invalid buy request (not sent): parameters.currency: String should match pattern"
    assert err.fields == ["parameters.currency"]
