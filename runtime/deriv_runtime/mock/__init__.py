"""A schema-driven mock of the Deriv WebSocket APIs, for developing and testing offline.

    from deriv_runtime.mock import MockServer

    async with MockServer("deriv_options", tick_interval=0.1) as server:
        ...  # connect to server.url

Or from a shell: ``python -m deriv_runtime.mock --package deriv_options --port 8765``; in pytest,
the ``deriv_runtime.mock.pytest_plugin`` plugin provides ``mock_server`` and ``mock_server_url``.

Imports are lazy: importing this package starts nothing and loads no schemas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Action, MockServer, SubscriptionInfo
    from .synth import Synthesiser, SynthesisError, synthesise
    from .trading import MockAPIError

_EXPORTS: dict[str, str] = {
    "Action": ".server",
    "MockServer": ".server",
    "SubscriptionInfo": ".server",
    "MockAPIError": ".trading",
    "SynthesisError": ".synth",
    "Synthesiser": ".synth",
    "synthesise": ".synth",
}

__all__ = [
    "Action",
    "MockAPIError",
    "MockServer",
    "SubscriptionInfo",
    "SynthesisError",
    "Synthesiser",
    "synthesise",
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
