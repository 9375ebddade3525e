"""A schema-driven mock of the Deriv APIs (WebSocket, REST, OAuth 2.0), for developing and testing offline.

    from deriv_runtime.mock import MockDeriv, MockServer

    async with MockServer("deriv_options", tick_interval=0.1) as server:
        ...  # the WebSocket API only: connect to server.url

    async with MockDeriv("deriv_options", pats=["my-pat"]) as mock:
        ...  # REST on mock.rest_url, OAuth on mock.oauth_authorize_url / mock.oauth_token_url,
        ...  # WebSocket URLs from the OTP endpoint (or mock.otp_url())

    async with MockDeribit("deribit_api", tick_interval=0.1) as mock:
        ...  # Deribit's JSON-RPC API: mock.ws_url (/ws/api/v2), mock.http_url (/api/v2)

    async with MockLegacy("deriv-api-docs-6571f72.zip", tick_interval=0.1) as mock:
        ...  # Deriv's legacy v3 API: mock.url (/websockets/v3?app_id=...), authorize with mock.token

Or from a shell: ``python -m deriv_runtime.mock --package deriv_options --port 8765`` (``--api
deribit`` for Deribit, ``--api legacy --spec <zip>`` for v3); in pytest, the
``deriv_runtime.mock.pytest_plugin`` plugin provides ``mock_server``, ``mock_server_url`` and
``mock_deriv``.

Faults and recording, the same on every mock (and from the CLI: ``--drop-every``, ``--drop-after``,
``--delay-call``, ``--fail``, ``--garbage-every``, ``--refuse-handshake``, ``--refuse-first``,
``--silent``, ``--record FILE``, ``--control-port``)::

    FaultPlan(drop_every=20, fail=[parse_fail("buy=RateLimit:2")]).apply(mock)
    mock.drop_after_seconds(5)          # each connection, 5 s after it opened
    mock.fail_call("RateLimit", "buy")  # the next buy answers an API error
    journal = mock.record_to("received.jsonl")  # what it receives, secrets redacted
    async with ControlServer(mock, port=0) as control: ...  # the same over HTTP: control.url

Imports are lazy: importing this package starts nothing and loads no schemas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .core.control import ControlServer, FaultPlan, parse_fail
    from .core.faults import CallFault, RestFault
    from .core.loop import Action
    from .core.record import Journal, RestRequestRecord
    from .core.synth import Synthesiser, SynthesisError, synthesise
    from .deribit.mock_deribit import MockDeribit
    from .deriv.mock_deriv import MockDeriv
    from .deriv.oauth import IssuedToken, pkce_challenge
    from .deriv.otp import OtpRecord
    from .deriv.pricing import MockAPIError
    from .deriv.ws_server import MockServer, SubscriptionInfo
    from .legacy.mock_legacy import MockLegacy

_EXPORTS: dict[str, str] = {
    "Action": ".core.loop",
    "CallFault": ".core.faults",
    "ControlServer": ".core.control",
    "FaultPlan": ".core.control",
    "Journal": ".core.record",
    "parse_fail": ".core.control",
    "IssuedToken": ".deriv.oauth",
    "MockDeriv": ".deriv.mock_deriv",
    "MockDeribit": ".deribit.mock_deribit",
    "MockLegacy": ".legacy.mock_legacy",
    "MockServer": ".deriv.ws_server",
    "OtpRecord": ".deriv.otp",
    "RestFault": ".core.faults",
    "RestRequestRecord": ".core.record",
    "SubscriptionInfo": ".deriv.ws_server",
    "pkce_challenge": ".deriv.oauth",
    "MockAPIError": ".deriv.pricing",
    "SynthesisError": ".core.synth",
    "Synthesiser": ".core.synth",
    "synthesise": ".core.synth",
}

__all__ = [
    "Action",
    "CallFault",
    "ControlServer",
    "FaultPlan",
    "IssuedToken",
    "Journal",
    "MockAPIError",
    "MockDeribit",
    "MockDeriv",
    "MockLegacy",
    "MockServer",
    "OtpRecord",
    "RestFault",
    "RestRequestRecord",
    "SubscriptionInfo",
    "SynthesisError",
    "Synthesiser",
    "parse_fail",
    "pkce_challenge",
    "synthesise",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, __all__)
