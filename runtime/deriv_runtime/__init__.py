"""Runtime of the generated Deriv clients: base client, transport boundary, models, errors.

Imports are lazy: ``import deriv_runtime`` loads nothing heavy until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._unset import UNSET, Unset
    from .calls import CallInfo
    from .client import BaseClient, Stream
    from .errors import (
        APIError,
        CallTimeout,
        DerivError,
        RequestValidationError,
        ResponseError,
        TransportError,
    )
    from .models import RequestModel, ResponseModel
    from .transport import Transport

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "UNSET": "._unset",
    "Unset": "._unset",
    "CallInfo": ".calls",
    "BaseClient": ".client",
    "Stream": ".client",
    "APIError": ".errors",
    "CallTimeout": ".errors",
    "DerivError": ".errors",
    "RequestValidationError": ".errors",
    "ResponseError": ".errors",
    "TransportError": ".errors",
    "RequestModel": ".models",
    "ResponseModel": ".models",
    "Transport": ".transport",
}

__all__ = [
    "UNSET",
    "APIError",
    "BaseClient",
    "CallInfo",
    "CallTimeout",
    "DerivError",
    "RequestModel",
    "RequestValidationError",
    "ResponseError",
    "ResponseModel",
    "Stream",
    "Transport",
    "TransportError",
    "Unset",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
