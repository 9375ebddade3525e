"""A schema-driven mock of the Deriv APIs (WebSocket, REST, OAuth 2.0), for developing and testing offline.

    from deriv_runtime.mock import MockDeriv, MockServer

    async with MockServer("deriv_options", tick_interval=0.1) as server:
        ...  # the WebSocket API only: connect to server.url

    async with MockDeriv("deriv_options", pats=["my-pat"]) as mock:
        ...  # REST on mock.rest_url, OAuth on mock.oauth_authorize_url / mock.oauth_token_url,
        ...  # WebSocket URLs from the OTP endpoint (or mock.otp_url())

Or from a shell: ``python -m deriv_runtime.mock --package deriv_options --port 8765``; in pytest,
the ``deriv_runtime.mock.pytest_plugin`` plugin provides ``mock_server``, ``mock_server_url`` and
``mock_deriv``.

Imports are lazy: importing this package starts nothing and loads no schemas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .deriv import MockDeriv
    from .oauth import IssuedToken, pkce_challenge
    from .rest import RestFault, RestRequestRecord
    from .server import Action, MockServer, OtpRecord, SubscriptionInfo
    from .synth import Synthesiser, SynthesisError, synthesise
    from .trading import MockAPIError

_EXPORTS: dict[str, str] = {
    "Action": ".server",
    "IssuedToken": ".oauth",
    "MockDeriv": ".deriv",
    "MockServer": ".server",
    "OtpRecord": ".server",
    "RestFault": ".rest",
    "RestRequestRecord": ".rest",
    "SubscriptionInfo": ".server",
    "pkce_challenge": ".oauth",
    "MockAPIError": ".trading",
    "SynthesisError": ".synth",
    "Synthesiser": ".synth",
    "synthesise": ".synth",
}

__all__ = [
    "Action",
    "IssuedToken",
    "MockAPIError",
    "MockDeriv",
    "MockServer",
    "OtpRecord",
    "RestFault",
    "RestRequestRecord",
    "SubscriptionInfo",
    "SynthesisError",
    "Synthesiser",
    "pkce_challenge",
    "synthesise",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, __all__)
