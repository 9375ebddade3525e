"""A mock of Deriv's legacy v3 WebSocket API (``/websockets/v3?app_id=...``) on the mock's core, from
the v3 schemas read at run time: :class:`~.mock_legacy.MockLegacy`.

* :mod:`.spec` - the calls' ``send.json``/``receive.json`` (from the zip, a directory or a package);
* :mod:`.accounts` - API tokens, their scopes and accounts, what ``authorize`` answers;
* :mod:`.session` - one connection: app_id, authorized tokens, v3 envelopes;
* :mod:`.ws_api` - handshakes, the checks of each request, the clock;
* :mod:`.calls`, :mod:`.streams` - the calls with behaviour, v3's shapes of the trading model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from .accounts import ALL_SCOPES
    from .mock_legacy import DEFAULT_APP_ID, DEFAULT_TOKEN, LegacyFault, MockLegacy, ReceivedRequest
    from .spec import LegacyCall, LegacySpec, load_spec

_EXPORTS: dict[str, str] = {
    "ALL_SCOPES": ".accounts",
    "DEFAULT_APP_ID": ".mock_legacy",
    "DEFAULT_TOKEN": ".mock_legacy",
    "LegacyCall": ".spec",
    "LegacyFault": ".mock_legacy",
    "LegacySpec": ".spec",
    "MockLegacy": ".mock_legacy",
    "ReceivedRequest": ".mock_legacy",
    "load_spec": ".spec",
}

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_APP_ID",
    "DEFAULT_TOKEN",
    "LegacyCall",
    "LegacyFault",
    "LegacySpec",
    "MockLegacy",
    "ReceivedRequest",
    "load_spec",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, __all__)
