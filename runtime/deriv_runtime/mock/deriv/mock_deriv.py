"""``MockDeriv``: the WebSocket mock plus the REST API and OAuth 2.0 server, on 127.0.0.1.

    from deriv_runtime.mock import MockDeriv

    with MockDeriv(pats=["my-pat"]).run_in_thread() as mock:
        # REST: mock.rest_url (Deriv-App-ID: mock.app_id, Authorization: Bearer my-pat)
        # POST {rest_url}/trading/v1/options/accounts/{mock.demo_account_id}/otp -> a ws:// URL
        # OAuth: mock.oauth_authorize_url, mock.oauth_token_url (PKCE S256)
        ...

Both sides run on one event loop and share the accounts: a purchase over the WebSocket shows in
the REST account list, a demo reset over REST reaches the WebSocket balance streams.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

from ...schemas import load_openapi
from ..core.faults import RestFault
from ..core.http import HTTPServer
from ..core.record import Journal, RestRequestRecord
from .oauth import App, IssuedToken, OAuthServer, TokenInfo
from .rest.api import AUTHORIZE_PATH, TOKEN_PATH, RestAPI
from .rest.openapi import oauth_scopes
from .ws_server import MockServer

__all__ = ["DEFAULT_APP_ID", "DEFAULT_REDIRECT_URIS", "MockDeriv"]

log = logging.getLogger("deriv_runtime.mock")

#: The app registered by default: use it as ``Deriv-App-ID`` and as the OAuth ``client_id``.
DEFAULT_APP_ID = "10000"
#: Its redirect URIs. Loopback ``http`` URIs match on any port (RFC 8252 §7.3).
DEFAULT_REDIRECT_URIS = ("http://127.0.0.1/callback", "http://localhost/callback", "http://[::1]/callback")


class MockDeriv(MockServer):
    """The mock Deriv platform: the WebSocket API (everything :class:`MockServer` does) plus the
    REST API of the package's ``openapi.json`` and an OAuth 2.0 authorization server.

    REST listens on ``rest_port`` (0: any free port). ``app_id`` is registered with
    ``redirect_uris``; ``pats`` are accepted as bearer tokens (every scope). The WebSocket endpoints
    require an OTP from the REST OTP endpoint (``require_otp``; there is no master OTP unless ``otp``
    is given), valid ``otp_ttl`` seconds, for one connection. OAuth: authorization codes live
    ``code_ttl`` seconds, access tokens ``access_token_ttl``, refresh tokens ``refresh_token_ttl``
    (``None``: until used; refresh rotates them). ``oauth_approve=False``: the user denies.

    Every other keyword argument goes to :class:`MockServer` (``tick_interval``, ``seed``,
    ``balance``...). The default demo account is :attr:`demo_account_id`.
    """

    def __init__(
        self,
        package: str = "deriv_options",
        *,
        rest_port: int = 0,
        app_id: str = DEFAULT_APP_ID,
        redirect_uris: Sequence[str] = DEFAULT_REDIRECT_URIS,
        pats: Iterable[str] = (),
        loginid: str = "DOT90000001",
        otp: str | None = None,
        require_otp: bool = True,
        otp_ttl: float = 120.0,
        access_token_ttl: float = 3600.0,
        refresh_token_ttl: float | None = None,
        code_ttl: float = 60.0,
        oauth_approve: bool = True,
        check_rest_responses: bool = True,
        require_registered_app: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            package, loginid=loginid, otp=otp, require_otp=require_otp, otp_ttl=otp_ttl, **options
        )
        self.openapi = load_openapi(package)
        self.app_id = app_id
        self.oauth = OAuthServer(
            oauth_scopes(self.openapi),
            access_token_ttl=access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            code_ttl=code_ttl,
            approve=oauth_approve,
        )
        self.oauth.register_app(app_id, redirect_uris)
        for token in pats:
            self.oauth.register_pat(token)
        self.rest = RestAPI(
            self,
            self.openapi,
            self.oauth,
            check_responses=check_rest_responses,
            require_registered_app=require_registered_app,
            seed=self.seed,
        )
        self._rest_port = rest_port
        self._http: HTTPServer | None = None

    def __repr__(self) -> str:
        state = f"ws port {self.port}, rest port {self.rest_port}" if self._http is not None else "stopped"
        return f"<MockDeriv {self.package} {self.schemas.version} {state}>"

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Self:
        await super().start()
        http = HTTPServer(self.rest.http.handle)
        try:
            await http.start(self.host, self._rest_port)
        except BaseException:
            await super().stop()
            raise
        self._http = http
        self._rest_port = http.port
        log.info("mock %s REST API listening on %s", self.package, self.rest_url)
        return self

    async def stop(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.stop()
        await super().stop()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def rest_port(self) -> int:
        return self._rest_port

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:PORT``: the base URL of the REST API (paths as in ``openapi.json``)."""
        return f"http://{self.host}:{self._rest_port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT``: the WebSocket server (``/trading/v1/options/ws/{demo,real,public}``)."""
        return self.base_url

    @property
    def oauth_authorize_url(self) -> str:
        return f"{self.rest_url}{AUTHORIZE_PATH}"

    @property
    def oauth_token_url(self) -> str:
        return f"{self.rest_url}{TOKEN_PATH}"

    @property
    def demo_account_id(self) -> str:
        """The default demo account (the one :attr:`account` is)."""
        return self.account.loginid

    def otp_url(self, account_id: str | None = None, *, ttl: float | None = None) -> str:
        """What the OTP endpoint answers for ``account_id`` (default: the demo account), without HTTP."""
        return self.issue_otp(account_id=account_id or self.demo_account_id, ttl=ttl)

    # -- credentials --------------------------------------------------------------------------

    def register_pat(
        self, token: str, scopes: Iterable[str] | None = None, *, expires_in: float | None = None
    ) -> None:
        """Accept ``token`` as a personal access token (``scopes`` default: every scope)."""
        chosen = None if scopes is None else list(scopes)

        def register() -> None:
            self.oauth.register_pat(token, chosen, expires_in=expires_in)

        self._apply(register)

    def register_app(self, app_id: str, redirect_uris: Iterable[str] = ()) -> App:
        uris = list(redirect_uris)
        apps: list[App] = []
        self._apply(lambda: apps.append(self.oauth.register_app(app_id, uris)))
        return apps[0]

    def revoke_token(self, token: str) -> bool:
        """Revoke a PAT, access token or refresh token (later use: 401 / invalid_grant)."""
        found: list[bool] = []
        self._apply(lambda: found.append(self.oauth.revoke(token)))
        return found[0]

    def token_info(self, token: str) -> TokenInfo | None:
        """What a bearer token grants, if it is usable."""
        return self.oauth.authenticate(token)[0]

    @property
    def oauth_approve(self) -> bool:
        """Auto-approve authorizations; ``False``: redirect with ``error=access_denied``."""
        return self.oauth.approve

    @oauth_approve.setter
    def oauth_approve(self, value: bool) -> None:
        self.oauth.approve = bool(value)

    @property
    def access_token_ttl(self) -> float:
        return self.oauth.access_token_ttl

    @access_token_ttl.setter
    def access_token_ttl(self, value: float) -> None:
        self.oauth.access_token_ttl = value

    # -- REST fault injection -----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        operation: str | None = None,
        *,
        count: int = 1,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> RestFault:
        """Answer the next ``count`` requests to ``operation`` (``None``: any REST or OAuth request)
        with ``status`` in the operation's error envelope (OAuth endpoints: an OAuth error).

        ``operation``: ``"METHOD /path/template"``, an ``operationId``, a path template with one
        method, or ``"oauth2.authorize"`` / ``"oauth2.token"``. ``code`` must be one of the
        operation's error codes (default: one fitting the status). 429 answers carry
        ``Retry-After`` (``retry_after``, default ``mock.rest.faults.retry_after``); so does any status
        given ``retry_after``. Forced answers come before any check (and consume no credential).
        """
        return self._add_fault(status, operation, count, code, message, retry_after)

    def fail_always(
        self,
        status: int,
        operation: str | None = None,
        *,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> RestFault:
        """Like :meth:`fail_next`, for every request until :meth:`clear_faults`."""
        return self._add_fault(status, operation, None, code, message, retry_after)

    def disconnect_next(self, operation: str | None = None, *, count: int = 1) -> RestFault:
        """Close the TCP connection of the next ``count`` requests without answering."""
        return self._add_fault(0, operation, count, None, None, None)

    def clear_faults(self) -> None:
        """Forget every pending REST fault and delay, and every forced WebSocket error (:meth:`fail_call`)."""
        super().clear_faults()
        self._apply(self.rest.faults.clear)

    def record_to(self, journal: Journal | str | Path | None) -> Journal | None:
        """Journal what the WebSocket side and the REST/OAuth side receive (see
        :meth:`~..core.ws.WebSocketMock.record_to`)."""
        made = super().record_to(journal)
        self.rest.http.journal = made
        return made

    def set_rest_delay(self, seconds: float, operation: str | None = None) -> None:
        """Wait ``seconds`` before answering ``operation`` (``None``: every REST/OAuth request)."""
        if operation is None:
            self._apply(lambda: setattr(self.rest.faults, "delay", seconds))
            return
        key = self.rest.resolve(operation)
        self._apply(lambda: self.rest.faults.delays.__setitem__(key, seconds))

    def _add_fault(
        self,
        status: int,
        operation: str | None,
        count: int | None,
        code: str | None,
        message: str | None,
        retry_after: float | None,
    ) -> RestFault:
        added: list[RestFault] = []
        self._apply(
            lambda: added.append(
                self.rest.add_fault(
                    status, operation, count=count, code=code, message=message, retry_after=retry_after
                )
            )
        )
        return added[0]

    # -- observability ------------------------------------------------------------------------

    @property
    def rest_requests(self) -> list[RestRequestRecord]:
        """Every REST/OAuth request received (``Authorization``, secrets in queries and bodies redacted)."""
        return self.rest.http.requests

    @property
    def token_requests(self) -> dict[str, int]:
        """Token endpoint requests by ``grant_type`` (``authorization_code``, ``refresh_token``...)."""
        return dict(self.oauth.token_requests)

    @property
    def tokens_issued(self) -> list[IssuedToken]:
        return self.oauth.tokens_issued
