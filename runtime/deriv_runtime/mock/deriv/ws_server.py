"""``MockServer``: the mock Options WebSocket API, on the core's WebSocket server.

One :class:`MockServer` serves one generated package (``deriv_options``) on 127.0.0.1. It keeps
one account (shared by every connection, so it survives reconnects) and, per connection, the
subscriptions and proposals opened on it. A single ticker task drives the market, the streams and
contract settlement. The fault knobs come from :class:`~..core.ws.WebSocketMock`.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self, Unpack

import jsonschema_rs

from ...calls import CallInfo
from ...schemas import PackageSchemas, load_schemas
from ..core.faults import CallFault, CallFaults, ServingOptions
from ..core.loop import Action
from ..core.synth import Synthesiser
from ..core.ws import WebSocketMock
from .host import PlatformBase
from .market import Market, SymbolSpec
from .otp import OtpBook, OtpRecord
from .pricing import MockAPIError
from .session import Connection, req_id_of
from .trading import Account
from .validation import field_problems
from .ws_api import OptionsWsApi

__all__ = ["WS_PREFIX", "MockServer", "SubscriptionInfo"]

log = logging.getLogger("deriv_runtime.mock")

WS_PREFIX = "/trading/v1/options/ws"


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """A live subscription, as :attr:`MockServer.subscriptions` reports it."""

    id: str
    kind: str
    call: str
    connection: int
    req_id: int | None
    symbol: str | None


def _derive_calls(schemas: PackageSchemas) -> dict[str, CallInfo]:
    calls = {}
    for name, pair in schemas.calls.items():
        request, response = pair.request, pair.response
        msg_type = (response.get("properties") or {}).get("msg_type") or {}
        calls[name] = CallInfo(
            name=name,
            auth_required=bool(request.get("auth_required")),
            auth_scopes=tuple(request.get("auth_scopes") or ()),
            streams="subscribe" in (request.get("properties") or {}),
            msg_types=tuple(msg_type.get("enum") or (name,)),
        )
    return calls


class MockServer(WebSocketMock[Connection], PlatformBase):
    """A schema-driven mock of a Deriv WebSocket API, on a real socket.

    ``package`` is a generated client package (its ``schemas.json`` and ``CALLS``). The server
    listens on ``host``:``port`` (0: any free port), ticks every ``tick_interval`` seconds (``None``:
    only when :meth:`step` is called), and is
    deterministic for a ``seed``. The default (demo) account :attr:`account`, ``loginid``, starts
    with ``balance`` ``currency``; more accounts can be added (:meth:`add_account`), each
    connection trades on one of them.

    Connections to ``.../public`` are unauthenticated (calls that need auth answer
    ``AuthorizationRequired``); any other path is authenticated. With ``require_otp``, those need
    ``?otp=`` with :attr:`otp` (a reusable master OTP; ``None``: none) or an OTP from
    :meth:`issue_otp`, which opens one connection, once, to its endpoint (demo or real), within
    ``otp_ttl`` seconds; else the handshake is refused with HTTP 401. An issued OTP binds its
    connection to its account (without ``require_otp`` too).

    Every outgoing message is checked against its response schema when ``check_responses`` is on;
    problems are logged and collected in :attr:`schema_problems`.
    """

    task_prefix = "deriv-mock"
    #: New accounts (:meth:`add_account`): ``DOT9000000n`` (demo) or ``ROT9000000n`` (real).
    ACCOUNT_PREFIXES = ("DOT", "ROT")

    def __init__(
        self,
        package: str = "deriv_options",
        *,
        seed: int = 0,
        balance: float = 10000.0,
        currency: str = "USD",
        loginid: str = "VRTC90000001",
        otp: str | None = "mock-otp",
        require_otp: bool = False,
        otp_ttl: float = 120.0,
        check_responses: bool = True,
        symbols: Mapping[str, SymbolSpec] | None = None,
        **serving: Unpack[ServingOptions],
    ) -> None:
        super().__init__(OptionsWsApi(self), **serving)
        self.package = package
        self.thread_name = f"deriv-mock-{package}"
        self.schemas = load_schemas(package)
        module = importlib.import_module(package)
        declared = getattr(module, "CALLS", None)
        self.calls: Mapping[str, CallInfo] = dict(declared) if declared else _derive_calls(self.schemas)
        self.seed = seed
        self.otp = otp
        self.require_otp = require_otp
        #: Seconds an issued OTP stays valid (:meth:`issue_otp`).
        self.otp_ttl = otp_ttl
        self.check_responses = check_responses

        self.market = Market(seed, dict(symbols) if symbols else None)
        self.account = Account(balance=balance, currency=currency, loginid=loginid)
        #: Every account by id (loginid); :attr:`account` is the default one.
        self.accounts: dict[str, Account] = {loginid: self.account}
        self._account_numbers = itertools.count(2)
        self.synthesiser = Synthesiser(random.Random(f"{seed}:synth"), now=self.market.now)  # noqa: S311
        self._ids = random.Random(f"{seed}:ids")  # noqa: S311
        self.otps = OtpBook()
        #: Every OTP issued (:meth:`issue_otp`), oldest first; see also :attr:`otps_used`.
        self.otps_issued: list[OtpRecord] = self.otps.issued
        #: Outgoing messages that did not validate against their response schema.
        self.schema_problems: list[str] = []
        #: Forced API errors (:meth:`fail_call`).
        self.call_faults = CallFaults()
        self._response_validators: dict[str, Any] = {}
        self._request_validators: dict[str, Any] = {}

    def __repr__(self) -> str:
        state = f"port {self.port}" if self.running else "stopped"
        return f"<MockServer {self.package} {self.schemas.version} {state}>"

    async def start(self) -> Self:
        await super().start()
        log.info(
            "mock %s (%s) listening on ws://%s:%d", self.package, self.schemas.version, self.host, self.port
        )
        return self

    async def stop(self) -> None:
        """Close every connection (code 1001) and stop listening."""
        if not self.running:
            return
        await super().stop()
        log.info("mock %s stopped", self.package)

    # -- addresses, OTPs, accounts ------------------------------------------------------------

    @property
    def url(self) -> str:
        """The authenticated (demo) endpoint, with :attr:`otp`: what the OTP REST call would return.

        Without a master OTP (``otp=None``), each read issues a fresh one-time OTP."""
        if self.otp is None:
            return self.issue_otp("demo")
        return f"{self.base_url}{WS_PREFIX}/demo?otp={self.otp}"

    @property
    def real_url(self) -> str:
        if self.otp is None:
            return self.issue_otp("real")
        return f"{self.base_url}{WS_PREFIX}/real?otp={self.otp}"

    @property
    def public_url(self) -> str:
        """The unauthenticated endpoint (public calls only)."""
        return f"{self.base_url}{WS_PREFIX}/public"

    def issue_otp(
        self,
        account: Literal["demo", "real"] = "demo",
        *,
        account_id: str | None = None,
        ttl: float | None = None,
    ) -> str:
        """A WebSocket URL with a fresh OTP: it opens one connection, once, to the ``account``
        endpoint (``.../ws/demo`` or ``.../ws/real``), within ``ttl`` seconds (:attr:`otp_ttl`).

        With ``account_id``, the endpoint is that account's type and the connection trades on it.
        Checked when ``require_otp`` is on; the OTP is recorded in :attr:`otps_issued` by fingerprint.
        """
        kind: str = account
        if account_id is not None:
            target = self.accounts.get(account_id)
            if target is None:
                raise KeyError(f"no account {account_id!r} on this mock server")
            kind = target.account_type
        if kind not in ("demo", "real"):
            raise ValueError(f"account must be 'demo' or 'real', not {kind!r}")
        otp = self.otps.issue(kind, account_id, self.otp_ttl if ttl is None else ttl)
        return f"{self.base_url}{WS_PREFIX}/{kind}?otp={otp}"

    @property
    def otps_used(self) -> list[OtpRecord]:
        """The issued OTPs that opened their connection."""
        return [r for r in self.otps_issued if r.used]

    # -- observability ------------------------------------------------------------------------

    @property
    def subscriptions(self) -> list[SubscriptionInfo]:
        """Every live subscription on every connection."""
        return [
            SubscriptionInfo(sub.id, sub.kind, sub.call, conn.number, req_id_of(sub.request), sub.symbol)
            for conn in self.sessions()
            for sub in list(conn.subscriptions.values())
        ]

    # -- fault injection ----------------------------------------------------------------------

    def fail_call(
        self, code: str, call: str | None = None, *, count: int | None = 1, message: str | None = None
    ) -> CallFault:
        """Answer the next ``count`` WebSocket requests to ``call`` (``None``: any; ``count=None``:
        until :meth:`clear_faults`) with the API error ``code`` (``"RateLimit"``,
        ``"InvalidToken"``...; ``message`` default: ``"Mock error: <code>."``), before any other check."""
        added: list[CallFault] = []
        self._apply(lambda: added.append(self.call_faults.add(code, call, count=count, message=message)))
        return added[0]

    def take_call_fault(self, call: str | None) -> MockAPIError | None:
        """The forced error that answers this request to ``call``, if any (counted as used)."""
        fault = self.call_faults.take(call)
        if fault is None:
            return None
        return MockAPIError(fault.code, fault.message or f"Mock error: {fault.code}.")

    def clear_faults(self) -> None:
        """Forget every forced API error (:meth:`fail_call`)."""
        self._apply(self.call_faults.clear)

    def answer_unknown_req_id(self) -> Action[list[int]]:
        """Send, on every live connection, a well-formed ``ping`` answer whose ``req_id`` no request
        used. The result is the req_ids sent."""

        async def run() -> list[int]:
            return [conn.answer_unknown_req_id() for conn in self.sessions()]

        return self._schedule(run)

    # -- protocol -----------------------------------------------------------------------------

    def answer_schema(self, call: str) -> Mapping[str, Any]:
        return self.schemas.calls[call].response

    def identify(self, request: Mapping[str, Any]) -> str | None:
        """The call a request is for: its first key that names a call."""
        for key in request:
            if key in self.calls and key in self.schemas.calls:
                return key
        return None

    def validate_request(self, call: str, request: Mapping[str, Any]) -> dict[str, str]:
        """``{field path: message}`` for each way ``request`` breaks its schema (empty: valid)."""
        validator = self._request_validators.get(call)
        if validator is None:
            validator = jsonschema_rs.validator_for(dict(self.schemas.calls[call].request))
            self._request_validators[call] = validator
        return field_problems(validator, request)

    def check_response(self, call: str, message: Mapping[str, Any]) -> None:
        """With ``check_responses``, record how ``message`` breaks the response schema of ``call``."""
        if not self.check_responses:
            return
        validator = self._response_validators.get(call)
        if validator is None:
            pair = self.schemas.calls.get(call)
            if pair is None:
                return
            validator = jsonschema_rs.validator_for(dict(pair.response))
            self._response_validators[call] = validator
        for error in validator.iter_errors(message):
            where = ".".join(str(p) for p in error.instance_path) or "<message>"
            problem = f"{call} ({message.get('msg_type')}): {where}: {error.message}"
            self.schema_problems.append(problem)
            log.warning("mock response does not match its schema: %s", problem)
