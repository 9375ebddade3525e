"""``MockDeribit``: Deribit's JSON-RPC API over WebSocket and HTTP, from its OpenAPI document, on 127.0.0.1.

    from deriv_runtime.mock.deribit import MockDeribit

    async with MockDeribit("deribit_api", tick_interval=0.1) as mock:
        async with DeribitClient.connect(mock.ws_url) as client: ...      # ws://127.0.0.1:P/ws/api/v2
        async with DeribitClient.over_http(mock.http_url) as client: ...  # http://127.0.0.1:Q/api/v2

Every method of the document answers (see :mod:`.rpc`), channels stream (:mod:`.channels`),
heartbeats are enforced (:mod:`.session`), ``public/auth`` issues tokens (:mod:`.auth`) for the
keys it knows (:mod:`.keys`), private methods need their scope (:mod:`.scopes`). Both
transports run on one event loop and share tokens, market and forced errors. The WebSocket fault
knobs are the core's (:class:`~..core.ws.WebSocketMock`: ``drop_after``, ``drop_all``, ``delay``,
``delay_calls``, ``garbage_every``, ``send_garbage``, ``refuse_handshake``, ``silent``); the HTTP
ones are the core pipeline's (:meth:`MockDeribit.fail_http_next`, :meth:`~MockDeribit.set_http_delay`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Self, Unpack

from ..core.faults import HttpFaults, RestFault, ServingOptions
from ..core.http import HTTPServer
from ..core.http_api import HttpService
from ..core.record import SECRET_KEYS, Journal, RestRequestRecord, redact_tree
from ..core.synth import Synthesiser
from ..core.ws import WebSocketMock
from .auth import IssuedToken, TokenBook
from .channels import ChannelFeed
from .http_api import API_PREFIX, DeribitHttpApi
from .keys import CredentialError
from .market import Market
from .rpc import BUILTINS, DERIBIT_HINTS, Dispatcher, RpcFault, RpcFaults, SecondFactorGate
from .scopes import DEFAULT_MAX_SCOPE, Scope
from .session import Session
from .spec import DeribitSpec, MethodSpec, load_document
from .ws_api import WS_PATH, DeribitWsApi

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DERIBIT_SECRET_KEYS", "MockDeribit"]

log = logging.getLogger("deriv_runtime.mock.deribit")

#: The client ``public/auth`` (``client_credentials``) accepts by default.
DEFAULT_CLIENT_ID = "mock-client"
DEFAULT_CLIENT_SECRET = "mock-client-secret"  # noqa: S105 - the mock's own test credential
#: Params and body keys recorded as ``<redacted>``.
DERIBIT_SECRET_KEYS = SECRET_KEYS | {"signature", "tfa", "nonce"}


class MockDeribit(WebSocketMock[Session]):
    """A schema-driven mock of Deribit's JSON-RPC API (see the module docstring).

    ``spec``: the OpenAPI document (a mapping, a JSON file, or a package shipping ``openapi.json``;
    ``package=`` says the same). ``clients``: ``client_id -> client_secret`` for ``public/auth``
    (default: :data:`DEFAULT_CLIENT_ID` / :data:`DEFAULT_CLIENT_SECRET`), each with the ``max_scope``
    :data:`~.scopes.DEFAULT_MAX_SCOPE` (more: :meth:`register_client`, :meth:`register_key`).
    ``tokens``: access tokens accepted without ``public/auth``, unrestricted (``None``: any
    non-empty token). ``token_ttl``: lifetime of issued tokens. ``clock``: epoch seconds for token
    lives and signed timestamps (default ``time.time``; also settable later as :attr:`clock`).
    ``require_auth=False``: private methods need no token (nor scope). ``heartbeat_scale``:
    real seconds per heartbeat second (0.01 makes Deribit's 10 s minimum 0.1 s); ``min_heartbeat``:
    the smallest interval accepted. ``http_port``: 0 picks one. ``testnet``, ``server_version``:
    what answers say. Every other keyword is the core's (:class:`~..core.faults.ServingOptions`:
    ``port``, ``tick_interval`` (``None``: only :meth:`step`), ``delay``, ``delay_calls``...).
    """

    task_prefix = "deribit-mock"
    thread_name = "deribit-mock"

    def __init__(
        self,
        spec: Mapping[str, Any] | str | Path | None = None,
        *,
        package: str | None = None,
        seed: int = 0,
        clients: Mapping[str, str] | None = None,
        tokens: Iterable[str] | None = (),
        token_ttl: float = 900.0,
        clock: Callable[[], float] | None = None,
        require_auth: bool = True,
        heartbeat_scale: float = 1.0,
        min_heartbeat: float = 10.0,
        http_port: int = 0,
        testnet: bool = True,
        server_version: str | None = None,
        **serving: Unpack[ServingOptions],
    ) -> None:
        if (spec is None) == (package is None):
            raise TypeError(
                "give the OpenAPI document (spec) or the package shipping it (package=), one of them"
            )
        super().__init__(DeribitWsApi(self), **serving)
        source: Mapping[str, Any] | str | Path = spec if spec is not None else str(package)
        self.spec = DeribitSpec(load_document(source))
        self.package = package
        #: Every method answered: the document's, and the mock's own (:data:`~.rpc.BUILTINS`).
        self.methods: dict[str, MethodSpec] = {**BUILTINS, **self.spec.methods}
        self.seed = seed
        self.require_auth = require_auth
        self.heartbeat_scale = heartbeat_scale
        self.min_heartbeat = min_heartbeat
        self.testnet = testnet
        self.server_version = server_version or str(DERIBIT_HINTS["version"])
        self.tokens = TokenBook(
            {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET} if clients is None else clients,
            None if tokens is None else list(tokens),
            ttl=token_ttl,
            seed=seed,
            clock=clock,
        )
        self.market = Market(seed)
        self.synthesiser = Synthesiser(
            random.Random(f"{seed}:deribit-synth"),  # noqa: S311
            hints=DERIBIT_HINTS,
            now=lambda: self.market.now_ms() // 1000,
        )
        self.feed = ChannelFeed(self.market, self.synthesiser)
        self.rpc_faults = RpcFaults()
        #: Methods answered 13668 until cleared (:meth:`require_second_factor`).
        self.second_factor: dict[str, SecondFactorGate] = {}
        self.dispatcher = Dispatcher(self)
        self.secret_keys = frozenset(DERIBIT_SECRET_KEYS)
        self.http = HttpService(DeribitHttpApi(self), log, secret_keys=self.secret_keys)
        self._http_port = http_port
        self._http_server: HTTPServer | None = None
        #: Connections closed because a heartbeat ``test_request`` went unanswered.
        self.heartbeat_closes = 0

    def __repr__(self) -> str:
        state = f"ws port {self.port}, http port {self.http_port}" if self.running else "stopped"
        return f"<MockDeribit {self.spec.version} {state}>"

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Self:
        await super().start()
        server = HTTPServer(self.http.handle)
        try:
            await server.start(self.host, self._http_port)
        except BaseException:
            await super().stop()
            raise
        self._http_server = server
        self._http_port = server.port
        log.info("mock deribit listening on %s and %s", self.ws_url, self.http_url)
        return self

    async def stop(self) -> None:
        server, self._http_server = self._http_server, None
        if server is not None:
            await server.stop()
        await super().stop()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws/api/v2``: JSON-RPC over WebSocket."""
        return f"{self.base_url}{WS_PATH}"

    @property
    def url(self) -> str:
        return self.ws_url

    @property
    def http_port(self) -> int:
        return self._http_port

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v2``: the base URL of JSON-RPC over HTTP."""
        return f"http://{self.host}:{self._http_port}{API_PREFIX}"

    # -- credentials --------------------------------------------------------------------------

    def issue_token(self, client_id: str | None = None, *, scope: str | None = None) -> str:
        """An access token, as ``public/auth`` would issue it (without a request)."""
        issued: list[str] = []

        def issue() -> None:
            chosen = client_id or next(iter(self.tokens.clients), None)
            issued.append(self.tokens.issue(chosen, scope)["access_token"])

        self._apply(issue)
        return issued[0]

    @property
    def clock(self) -> Callable[[], float]:
        """Epoch seconds: token lives and the 60 s window of signed timestamps (settable)."""
        return self.tokens.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.tokens.clock = clock

    def register_client(self, client_id: str, secret: str, *, max_scope: str = DEFAULT_MAX_SCOPE) -> str:
        """Accept a Deribit-generated key: ``client_credentials``, HMAC ``client_signature``,
        ``Basic`` and ``deri-hmac-sha256`` with ``secret``; tokens up to ``max_scope``."""
        scope = Scope.parse(max_scope)

        def register() -> None:
            self.tokens.clients.with_secret(client_id, secret, scope)

        self._apply(register)
        return client_id

    def register_key(
        self,
        public_pem: str | bytes,
        *,
        client_id: str | None = None,
        max_scope: str = DEFAULT_MAX_SCOPE,
        name: str = "",
    ) -> str:
        """Accept an asymmetric key (PEM, Ed25519 or RSA of 2048 bits or more), as
        ``private/create_api_key`` with ``public_key`` does: signatures only. The result: its
        ``client_id`` (``client_id=None``: a new one). An unusable key: ``ValueError``."""
        pem = public_pem.decode() if isinstance(public_pem, bytes) else public_pem
        scope = Scope.parse(max_scope)
        made: list[str] = []

        def register() -> None:
            made.append(self.tokens.clients.with_key(pem, scope, client_id=client_id, name=name).client_id)

        try:
            self._apply(register)
        except CredentialError as exc:
            raise ValueError(str(exc)) from None
        return made[0]

    def revoke_token(self, token: str) -> bool:
        """Stop accepting an access or refresh token."""
        found: list[bool] = []
        self._apply(lambda: found.append(self.tokens.revoke(token)))
        return found[0]

    @property
    def tokens_issued(self) -> list[IssuedToken]:
        return self.tokens.issued

    # -- JSON-RPC faults (both transports) ----------------------------------------------------

    def fail_next(
        self,
        code: int,
        method: str | None = None,
        count: int = 1,
        message: str | None = None,
        data: Any = None,
    ) -> RpcFault:
        """Answer the next ``count`` requests to ``method`` (``None``: any, the runtime's own
        ``public/test`` and ``unsubscribe`` included) with JSON-RPC error ``code`` (``message``
        default: Deribit's name for it; ``data`` as given, e.g. ``{"wait": 1.5}``), over WebSocket
        or HTTP, before any other check."""
        return self._add_rpc_fault(code, method, count, message, data)

    def fail_call(
        self,
        code: str | int,
        call: str | None = None,
        *,
        count: int | None = 1,
        message: str | None = None,
    ) -> RpcFault:
        """:meth:`fail_next` with the code as text or a number (``"10028"``), as every mock has it
        (``count=None``: until :meth:`clear_faults`)."""
        try:
            number = int(code)
        except ValueError:
            raise ValueError(f"a Deribit error code is a number (10028, -32602...), not {code!r}") from None
        return self._add_rpc_fault(number, call, count, message, None)

    def fail_always(
        self, code: int, method: str | None = None, message: str | None = None, data: Any = None
    ) -> RpcFault:
        """Like :meth:`fail_next`, for every request until :meth:`clear_faults`."""
        return self._add_rpc_fault(code, method, None, message, data)

    def _add_rpc_fault(
        self, code: int, method: str | None, count: int | None, message: str | None, data: Any
    ) -> RpcFault:
        added: list[RpcFault] = []
        self._apply(lambda: added.append(self.rpc_faults.add(code, method, count, message, data)))
        return added[0]

    def clear_faults(self) -> None:
        """Forget every forced JSON-RPC error, forced HTTP answer and HTTP delay."""

        def clear() -> None:
            self.rpc_faults.faults.clear()
            self.http.faults.clear()

        self._apply(clear)

    def require_second_factor(self, method: str) -> SecondFactorGate:
        """Answer ``method`` with 13668 ``security_key_authorization_error`` (once authenticated,
        its params checked) until :meth:`clear_second_factor`; the result counts the refusals."""
        gates: list[SecondFactorGate] = []
        self._apply(lambda: gates.append(self.second_factor.setdefault(method, SecondFactorGate(method))))
        return gates[0]

    def clear_second_factor(self, method: str | None = None) -> None:
        """Stop requiring the second factor for ``method`` (``None``: for every method)."""

        def clear() -> None:
            if method is None:
                self.second_factor.clear()
            else:
                self.second_factor.pop(method, None)

        self._apply(clear)

    # -- HTTP faults --------------------------------------------------------------------------

    @property
    def http_faults(self) -> HttpFaults:
        return self.http.faults

    def fail_http_next(
        self,
        status: int,
        method: str | None = None,
        *,
        count: int | None = 1,
        retry_after: float | None = None,
    ) -> RestFault:
        """Answer the next ``count`` HTTP requests for ``method`` (``None``: any) with a bare HTTP
        ``status`` (4xx/5xx, no JSON-RPC envelope; a 429 carries ``Retry-After``); status 0 drops
        the connection without answering."""
        added: list[RestFault] = []
        self._apply(
            lambda: added.append(self.http.faults.add(status, method, count=count, retry_after=retry_after))
        )
        return added[0]

    def disconnect_http_next(self, method: str | None = None, *, count: int = 1) -> RestFault:
        """Close the TCP connection of the next ``count`` HTTP requests without answering."""
        return self.fail_http_next(0, method, count=count)

    def set_http_delay(self, seconds: float, method: str | None = None) -> None:
        """Wait ``seconds`` before answering HTTP requests for ``method`` (``None``: every one).
        (WebSocket delays: :attr:`delay`, :attr:`delay_calls`.)"""
        if method is None:
            self._apply(lambda: setattr(self.http.faults, "delay", seconds))
        else:
            self._apply(lambda: self.http.faults.delays.__setitem__(method, seconds))

    # -- observability ------------------------------------------------------------------------

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """Every JSON-RPC request (WebSocket, and what each HTTP request amounts to) goes to
        :attr:`requests` with its secrets (:data:`DERIBIT_SECRET_KEYS`) redacted."""
        kept: dict[str, Any] = redact_tree(message, self.secret_keys)
        self.requests.append(kept)
        return kept

    def record_to(self, journal: Journal | str | Path | None) -> Journal | None:
        """Journal what both transports receive (see :meth:`WebSocketMock.record_to`)."""
        made = super().record_to(journal)
        self.http.journal = made
        return made

    @property
    def http_requests(self) -> list[RestRequestRecord]:
        """Every HTTP request (headers, query and body with secrets redacted) and its status."""
        return self.http.requests

    @property
    def subscriptions(self) -> list[tuple[int, str]]:
        """``(connection number, channel)`` of every live subscription."""
        return [(s.number, name) for s in self.sessions() for name in s.subscriptions]
