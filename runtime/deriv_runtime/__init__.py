"""Runtime of the generated Deriv clients: base client, transport boundary, models, errors.

Imports are lazy: ``import deriv_runtime`` loads nothing heavy until a name is used.

Answers that drift from their schema are read anyway: ``drift_of(result)`` lists where (path, what was
expected, what came), ``raw_of(result)`` gives the message as received (see :mod:`deriv_runtime.drift`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ._unset import UNSET, Unset
    from .calls import CallInfo
    from .client import BaseClient, Stream
    from .drift import Drift, DriftError, drift_of, raw_of
    from .errors import (
        APIError,
        AuthenticationError,
        CallTimeout,
        ConnectionFailed,
        ConnectionLost,
        DerivError,
        JsonRpcError,
        OutcomeUnknown,
        PermissionDenied,
        RequestValidationError,
        ResponseError,
        SecondFactorRequired,
        TooManyRequests,
        TransportError,
    )
    from .models import RequestModel, ResponseModel
    from .pool import PooledTransport, PoolFull
    from .transport import Transport

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "UNSET": "._unset",
    "Unset": "._unset",
    "CallInfo": ".calls",
    "BaseClient": ".client",
    "Stream": ".client",
    "Drift": ".drift",
    "DriftError": ".drift",
    "drift_of": ".drift",
    "raw_of": ".drift",
    "APIError": ".errors",
    "AuthenticationError": ".errors",
    "CallTimeout": ".errors",
    "ConnectionFailed": ".errors",
    "ConnectionLost": ".errors",
    "DerivError": ".errors",
    "JsonRpcError": ".errors",
    "OutcomeUnknown": ".errors",
    "PermissionDenied": ".errors",
    "SecondFactorRequired": ".errors",
    "RequestValidationError": ".errors",
    "ResponseError": ".errors",
    "TooManyRequests": ".errors",
    "TransportError": ".errors",
    "RequestModel": ".models",
    "ResponseModel": ".models",
    "PooledTransport": ".pool",
    "PoolFull": ".pool",
    "Transport": ".transport",
}

__all__ = [
    "UNSET",
    "APIError",
    "AuthenticationError",
    "BaseClient",
    "CallInfo",
    "CallTimeout",
    "ConnectionFailed",
    "ConnectionLost",
    "DerivError",
    "Drift",
    "DriftError",
    "JsonRpcError",
    "OutcomeUnknown",
    "PermissionDenied",
    "PoolFull",
    "PooledTransport",
    "RequestModel",
    "RequestValidationError",
    "ResponseError",
    "ResponseModel",
    "SecondFactorRequired",
    "Stream",
    "TooManyRequests",
    "Transport",
    "TransportError",
    "Unset",
    "drift_of",
    "raw_of",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, __all__)
