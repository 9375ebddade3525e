"""A mock of Deribit's JSON-RPC API (WebSocket and HTTP) on the mock's core, driven by Deribit's
OpenAPI document: :class:`~.mock_deribit.MockDeribit`.

* :mod:`.spec` - methods, parameters, result and channel schemas read from the document;
* :mod:`.params` - query decoding, parameter checks, JSON-RPC errors;
* :mod:`.rpc` - answering one request (faults, methods, authentication, synthesis);
* :mod:`.auth` - ``public/auth`` grants, fork/exchange, the tokens and HTTP headers accepted;
* :mod:`.keys` - API keys (secrets, Ed25519/RSA public keys) and signature, timestamp, nonce checks;
* :mod:`.scopes` - access scopes, and the scope each private method and channel needs;
* :mod:`.session`, :mod:`.ws_api` - WebSocket connections: channels, heartbeats;
* :mod:`.http_api` - JSON-RPC over HTTP (GET with a query, POST with a body);
* :mod:`.market`, :mod:`.channels` - moving prices, and the data of channel notifications.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

if TYPE_CHECKING:
    from .mock_deribit import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MockDeribit

_EXPORTS: dict[str, str] = {
    "DEFAULT_CLIENT_ID": ".mock_deribit",
    "DEFAULT_CLIENT_SECRET": ".mock_deribit",
    "MockDeribit": ".mock_deribit",
}

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "MockDeribit"]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, __all__)
