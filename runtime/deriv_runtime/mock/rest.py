"""The mock Deriv REST API: every operation of a package's OpenAPI document, plus OAuth 2.0.

:class:`RestAPI` answers HTTP requests (from :class:`~._http.HTTPServer`, on the mock's event loop,
so it shares the WebSocket mock's accounts without locks):

* routing from the document's ``paths`` (templates such as ``/trading/v1/options/accounts/{accountId}/otp``),
  405 with ``Allow`` for a known path and another method, 404 for an unknown path;
* the ``Deriv-App-ID`` header where an operation declares it (missing: 400), bearer tokens where it
  has ``security`` (registered PATs and access tokens the OAuth server issued; missing, unknown,
  revoked or expired: 401; lacking the operation's scope: 403), parameters and JSON bodies checked
  against their schemas (400, or 422 for a value out of range where the operation documents 422);
* errors in the envelope of the error schema the operation references (``Error``: ``errors`` +
  ``meta``; ``ErrorResponse`` / ``PAErrorResponse``: ``data`` + ``errors`` + ``metadata``), with
  an error code from that schema's enum;
* behaviour: accounts (tied to the WebSocket mock's accounts and balances), OTPs that open one
  WebSocket connection, demo balance reset, bulk purchase, payment agents (directory, verification
  codes, withdrawals, transfers), legacy statement, markup statistics, nickname; any other
  operation is answered with data synthesised from its response schema;
* ``GET /oauth2/authorize`` and ``POST /oauth2/token`` (:class:`~.oauth.OAuthServer`);
* fault injection (forced statuses, dropped connections, delays) and observability (requests with
  secrets redacted). Every answer is checked against its schema (``check_responses``); problems go to
  the mock's ``schema_problems``. Nothing logged carries a token, code, OTP or query string.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import logging
import math
import random
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

import jsonschema_rs
import orjson

from .core.faults import RestFault
from .core.http import HTTPRequest, HTTPResponse
from .core.record import RestRequestRecord, record_request
from .core.synth import Synthesiser, SynthesisError
from .deriv.oauth import OAuthFailure, OAuthServer, TokenInfo
from .deriv.trading import Account, MockAPIError, price_contract, purchase_receipt

if TYPE_CHECKING:
    from .deriv.mock_deriv import MockDeriv

__all__ = [
    "AUTHORIZE_PATH",
    "TOKEN_PATH",
    "ErrorEntry",
    "Operation",
    "RestAPI",
    "RestError",
    "RestFault",
    "RestRequestRecord",
]

log = logging.getLogger("deriv_runtime.mock.rest")

AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a password
AUTHORIZE_KEY = f"GET {AUTHORIZE_PATH}"
TOKEN_KEY = f"POST {TOKEN_PATH}"
APP_ID_HEADER = "Deriv-App-ID"
LEGACY_LOGINID = "CR90000001"
LEGACY_ACCOUNT_ID = 202201
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_RANGE_KINDS = frozenset(
    {"Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum", "Enum", "MinLength", "MaxLength"}
)
_PREFERRED_CODES: Mapping[int, tuple[str, ...]] = {
    400: ("ValidationError", "BadInputRequest", "InputError"),
    401: ("Unauthorized", "UnauthorizedAccess"),
    403: ("AccessDenied", "UnauthorizedAccess"),
    404: ("AccountNotFound", "IdentityNotFound", "AgentNotFound", "RequestIDNotFound"),
    422: ("ValidationError", "InputError"),
    429: ("RateLimit",),
}
_OAUTH_FAULT_ERRORS: Mapping[int, str] = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "temporarily_unavailable",
    503: "temporarily_unavailable",
}


# -- operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document."""

    key: str
    method: str
    path: str
    operation_id: str | None
    spec: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]
    #: Scope sets, one of which the bearer token must hold; ``None``: no token needed.
    security: tuple[frozenset[str], ...] | None
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    websocket: bool

    @property
    def statuses(self) -> list[int]:
        return sorted(int(s) for s in self.spec.get("responses", {}) if s.isdigit())

    @property
    def app_id_required(self) -> bool:
        return any(
            p.get("in") == "header"
            and str(p.get("name", "")).lower() == APP_ID_HEADER.lower()
            and p.get("required")
            for p in self.parameters
        )

    def documents(self, status: int) -> bool:
        return str(status) in self.spec.get("responses", {})

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in zip(self.names, found.groups(), strict=True)}


def _compile(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names: list[str] = []
    out = []
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", template):
        out.append(re.escape(literal))
        if name:
            names.append(name)
            out.append("([^/]+)")
    return re.compile("".join(out)), tuple(names)


def _operations(document: Mapping[str, Any]) -> list[Operation]:
    default_security = document.get("security")
    found = []
    for path, item in (document.get("paths") or {}).items():
        shared = [p for p in item.get("parameters", ()) if isinstance(p, Mapping)]
        for method in _METHODS:
            spec = item.get(method)
            if not isinstance(spec, Mapping):
                continue
            own = [p for p in spec.get("parameters", ()) if isinstance(p, Mapping)]
            merged = {(p.get("in"), p.get("name")): p for p in [*shared, *own]}
            requirements = spec.get("security", default_security)
            security: tuple[frozenset[str], ...] | None = None
            if requirements and not any(not r for r in requirements):
                security = tuple(frozenset(s for scopes in r.values() for s in scopes) for r in requirements)
            pattern, names = _compile(path)
            found.append(
                Operation(
                    key=f"{method.upper()} {path}",
                    method=method.upper(),
                    path=path,
                    operation_id=spec.get("operationId"),
                    spec=spec,
                    parameters=tuple(merged.values()),
                    security=security,
                    pattern=pattern,
                    names=names,
                    websocket="101" in (spec.get("responses") or {}),
                )
            )
    # Most specific first: fewer templated segments, then longer paths.
    found.sort(key=lambda op: (len(op.names), -len(op.path)))
    return found


def oauth_scopes(document: Mapping[str, Any]) -> set[str]:
    """Every scope of the document's OAuth 2.0 security schemes."""
    scopes: set[str] = set()
    for scheme in ((document.get("components") or {}).get("securitySchemes") or {}).values():
        for flow in (scheme.get("flows") or {}).values():
            scopes.update((flow.get("scopes") or {}).keys())
    return scopes


# -- errors, replies, faults, records ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    code: str | None
    message: str
    field: str | None = None
    detail: Mapping[str, Any] | None = None


class RestError(Exception):
    """Answer with an error envelope. ``status`` may list candidates: the first one the operation
    documents is used (else the first)."""

    def __init__(
        self,
        status: int | Sequence[int],
        code: str | None,
        message: str,
        *,
        field: str | None = None,
        detail: Mapping[str, Any] | None = None,
        headers: Iterable[tuple[str, str]] = (),
        more: Iterable[ErrorEntry] = (),
    ) -> None:
        super().__init__(message)
        self.statuses = (status,) if isinstance(status, int) else tuple(status)
        self.entries = [ErrorEntry(code, message, field, detail), *more]
        self.headers = list(headers)

    def status_for(self, op: Operation | None) -> int:
        if op is not None:
            for status in self.statuses:
                if op.documents(status):
                    return status
        return self.statuses[0]


@dataclass(slots=True)
class Reply:
    """A handler's answer: a JSON object (``meta``/``metadata``/``errors`` are filled in as the
    operation's schema has them), text, or ``None`` for an empty body."""

    body: Any = None
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _ErrorShape:
    schema: Mapping[str, Any] | None
    meta_key: str | None
    meta_seconds: bool
    with_data: bool
    item_message: bool
    item_detail: bool
    item_field: bool
    codes: tuple[str, ...] | None

    def code_for(self, status: int, wanted: str | None) -> str:
        if wanted is not None and (self.codes is None or wanted in self.codes):
            return wanted
        generic = (
            ("InternalServerError", "InternalError") if status >= 500 else ("BadInputRequest", "InputError")
        )
        candidates = (*_PREFERRED_CODES.get(status, ()), *generic)
        if self.codes is None:
            return wanted or candidates[0]
        for code in candidates:
            if code in self.codes:
                return code
        return self.codes[0]


@dataclass(slots=True)
class Ctx:
    """What a handler gets: the request, its operation, parsed parameters, body and token."""

    request: HTTPRequest
    op: Operation
    path: dict[str, str]
    params: dict[str, Any]
    body: Any
    token: TokenInfo | None
    started: float


Handler = Callable[[Ctx], Reply]


# -- payment agents (state) -------------------------------------------------------------------


@dataclass(slots=True)
class _Agent:
    id: int
    name: str
    countries: list[str]
    currencies: dict[str, dict[str, Any]]
    is_listed: bool = True
    active: bool = True
    email: str | None = None
    phone_numbers: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    payment_methods: list[str] = field(default_factory=list)
    information: str | None = None
    created_at: int = 1717000000000

    def list_item(self, currency: str) -> dict[str, Any]:
        rates = self.currencies.get(currency, {})
        return {
            "countries": list(self.countries),
            "created_at": self.created_at,
            "deposit_commission": rates.get("deposit_commission"),
            "email": self.email,
            "id": self.id,
            "information": self.information,
            "is_listed": self.is_listed,
            "name": self.name,
            "payment_methods": list(self.payment_methods),
            "phone_numbers": list(self.phone_numbers),
            "withdrawal_commission": rates.get("withdrawal_commission"),
            "withdrawal_maximum": rates.get("withdrawal_maximum"),
            "withdrawal_minimum": rates.get("withdrawal_minimum"),
        }

    def detail(self, *, own: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "countries": list(self.countries),
            "created_at": self.created_at,
            "currencies": [{"currency": c, **rates} for c, rates in sorted(self.currencies.items())],
            "email": self.email,
            "id": self.id,
            "information": self.information,
            "is_listed": self.is_listed,
            "name": self.name,
            "payment_methods": list(self.payment_methods),
            "phone_numbers": list(self.phone_numbers),
            "urls": list(self.urls),
        }
        if own:
            body["cashier_withdraw"] = True
        return body


def _rates(
    deposit: float | None, withdrawal: float | None, low: str | None, high: str | None
) -> dict[str, Any]:
    return {
        "deposit_commission": deposit,
        "withdrawal_commission": withdrawal,
        "withdrawal_minimum": low,
        "withdrawal_maximum": high,
    }


def _default_agents() -> dict[int, _Agent]:
    agents = [
        _Agent(
            1000,
            "Mock Trader Payments",
            ["id", "my"],
            {"USD": _rates(1.0, 1.0, "10.00", "2000.00")},
            is_listed=False,
            email="trader@example.com",
            urls=["https://example.com/mock-trader"],
            payment_methods=["bank_transfer"],
            information="The mock user's own payment agent profile.",
        ),
        _Agent(
            1001,
            "Agent One",
            ["id", "my", "ng"],
            {"USD": _rates(1.5, 2.0, "10.00", "1000.00"), "IDR": _rates(1.5, 2.0, "150000", "15000000")},
            email="agent.one@example.com",
            phone_numbers=["+62 21 5550 1001"],
            urls=["https://example.com/agent-one"],
            payment_methods=["bank_transfer", "mobile_money"],
            information="Local bank transfers, same day.",
        ),
        _Agent(
            1002,
            "Agent Two",
            ["ng", "ke"],
            {"USD": _rates(None, 1.0, "5.00", "500.00")},
            email="agent.two@example.com",
            urls=["https://example.com/agent-two"],
            payment_methods=["mobile_money"],
        ),
        _Agent(
            1003,
            "Agent Three",
            ["id", "pk"],
            {"USD": _rates(2.0, 2.5, None, None), "EUR": _rates(2.0, 2.5, "10.00", "3000.00")},
            urls=["https://example.com/agent-three"],
            payment_methods=["bank_transfer", "e_wallet"],
        ),
        _Agent(
            1004, "Agent Four (inactive)", ["id"], {"USD": _rates(1.0, 1.0, "10.00", "100.00")}, active=False
        ),
    ]
    return {a.id: a for a in agents}


def _money(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RestError(400, "InputError", f"{what} must be a decimal string", field=f"data.{what}") from None
    if not value.is_finite() or value <= 0:
        raise RestError(400, "InputError", f"{what} must be a positive amount", field=f"data.{what}")
    return value


# -- the API ----------------------------------------------------------------------------------


class RestAPI:
    """The REST side of :class:`~.deriv.MockDeriv` (see the module docstring)."""

    def __init__(
        self,
        mock: MockDeriv,
        document: Mapping[str, Any],
        oauth: OAuthServer,
        *,
        check_responses: bool = True,
        require_registered_app: bool = False,
        seed: int = 0,
    ) -> None:
        self.mock = mock
        self.document = document
        self.oauth = oauth
        self.check_responses = check_responses
        #: Refuse (400) a ``Deriv-App-ID`` that is not a registered app (default: any non-empty one).
        self.require_registered_app = require_registered_app
        self.operations = _operations(document)
        self._by_key = {op.key: op for op in self.operations}
        self._components = document.get("components") or {}
        self._validators: dict[tuple[str, str], Any] = {}
        self._roots: dict[tuple[str, str], dict[str, Any]] = {}
        self.synthesiser = Synthesiser(random.Random(f"{seed}:rest"), now=mock.market.now)  # noqa: S311
        self._rng = random.Random(f"{seed}:rest-data")  # noqa: S311

        # Fault knobs.
        #: Seconds to wait before answering every REST/OAuth request.
        self.delay = 0.0
        #: Per-operation delays (keys: :meth:`resolve` names), overriding :attr:`delay`.
        self.delays: dict[str, float] = {}
        self.faults: list[RestFault] = []
        #: ``Retry-After`` (seconds) of forced 429 answers without their own.
        self.retry_after = 1.0

        # Observability.
        #: Every request received, in order (secrets redacted).
        self.requests: list[RestRequestRecord] = []
        #: Answers by operation key and status (``"POST /oauth2/token"`` included).
        self.answers: Counter[tuple[str, int]] = Counter()

        # Behaviour knobs and state.
        #: ``complete``, ``pending``, ``failed`` or ``not_applicable`` (the legacy endpoints follow).
        self.legacy_migration_status = "complete"
        self.nickname = "mock_trader"
        self.external_reference_id = str(_uuid(self._rng))
        #: Country of residence of the mock user (payment agents serve some countries only).
        self.country = "id"
        #: The mock user is a payment agent (agent ``me``, id 1000): it may transfer to clients.
        self.is_payment_agent = True
        self.agents = _default_agents()
        self.own_agent_id = 1000
        #: Nicknames of clients a transfer may go to (others: ``NicknameNotFound``).
        self.client_nicknames: set[str] = {"client_nickname", "mock_client"}
        #: The mock user's payment wallet, and their payment agent wallet, by currency.
        self.wallet: dict[str, Decimal] = {"USD": Decimal("1000.00")}
        self.agent_wallet: dict[str, Decimal] = {"USD": Decimal("5000.00")}
        #: Seconds between two verification code requests; a withdrawal settles after this long.
        self.verification_code_interval = 60.0
        self.withdrawal_settle_seconds = 2.0
        #: The last withdrawal verification code "sent" (what the user would read in their email).
        self.last_verification_code: str | None = None
        self._verification: dict[str, Any] | None = None
        self._next_code_at = 0.0
        self._withdrawals: dict[str, tuple[int, float]] = {}
        self._request_ids: set[str] = set()
        self._next_pa_txn = 7_000_001
        self._legacy = self._legacy_transactions()

        #: What each operation does, by key (``"METHOD /path/template"``): ``handler(ctx) -> Reply``.
        #: Replace an entry to change a behaviour; an operation without one is answered with its
        #: first documented 2xx response, synthesised from the schema.
        self.handlers: dict[str, Handler] = {
            "GET /v1/health": self._health,
            "GET /trading/v1/options/accounts": self._accounts_list,
            "POST /trading/v1/options/accounts": self._accounts_create,
            "POST /trading/v1/options/accounts/{accountId}/otp": self._otp,
            "POST /trading/v1/options/accounts/{account_id}/reset-demo-balance": self._reset_demo,
            "POST /trading/v1/options/contracts/bulk-purchase/demo": self._bulk_demo,
            "POST /trading/v1/options/contracts/bulk-purchase/real": self._bulk_real,
            "GET /trading/v1/options/legacy/accounts": self._legacy_accounts,
            "GET /trading/v1/options/legacy/migration-status": self._legacy_status,
            "GET /trading/v1/options/legacy/statement": self._legacy_statement,
            "GET /applications/v1/markup-statistics": self._markup,
            "GET /account/v1/nickname": self._nickname,
            "GET /payment-agents/v1/agent-statistics": self._agent_statistics,
            "GET /payment-agents/v1/agents": self._agents,
            "GET /payment-agents/v1/agents/{id}": self._agent,
            "POST /payment-agents/v1/transfer": self._transfer,
            "POST /payment-agents/v1/withdraw": self._withdraw,
            "POST /payment-agents/v1/withdraw/verification_code": self._verification_code,
            "GET /payment-agents/v1/withdraw/{request_id}": self._withdrawal_status,
        }

    # -- names --------------------------------------------------------------------------------

    def resolve(self, name: str) -> str:
        """The key (``"METHOD /template"``) of an operation named by its key, its ``operationId``,
        its path template (when only one method has it) or ``oauth2.authorize`` / ``oauth2.token``."""
        aliases = {"oauth2.authorize": AUTHORIZE_KEY, "oauth2.token": TOKEN_KEY}
        if name in aliases:
            return aliases[name]
        if name in (AUTHORIZE_KEY, TOKEN_KEY) or name in self._by_key:
            return name
        method, _, path = name.partition(" ")
        if path and f"{method.upper()} {path}" in self._by_key:
            return f"{method.upper()} {path}"
        for op in self.operations:
            if op.operation_id == name:
                return op.key
        by_path = [op.key for op in self.operations if op.path == name]
        if len(by_path) == 1:
            return by_path[0]
        if by_path:
            raise KeyError(f"{name!r} has several methods: {', '.join(sorted(by_path))}")
        raise KeyError(f"no REST operation {name!r} (use 'METHOD /path/template' or an operationId)")

    def operation(self, name: str) -> Operation:
        return self._by_key[self.resolve(name)]

    # -- faults -------------------------------------------------------------------------------

    def add_fault(
        self,
        status: int,
        operation: str | None = None,
        *,
        count: int | None = 1,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> RestFault:
        if status != 0 and not 400 <= status <= 599:
            raise ValueError(f"a forced status must be 4xx or 5xx (0: drop the connection), not {status}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (None: until cleared)")
        key = self.resolve(operation) if operation is not None else None
        if code is not None and key is not None and key in self._by_key:
            shape = self._error_shape(self._by_key[key], status)
            if shape.codes is not None and code not in shape.codes:
                raise ValueError(f"{key} answers {status} with codes {', '.join(shape.codes)}, not {code!r}")
        fault = RestFault(status, key, count, code, message, retry_after)
        self.faults.append(fault)
        return fault

    def _take_fault(self, key: str) -> RestFault | None:
        for fault in self.faults:
            if fault.operation is not None and fault.operation != key:
                continue
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    # -- entry point --------------------------------------------------------------------------

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        started = time.monotonic()
        record = record_request(request, time.time())
        self.requests.append(record)
        try:
            response = await self._dispatch(request, record, started)
        except Exception:
            log.exception("mock REST: %s %s failed", request.method, request.path)
            response = self._json(
                500, self._envelope(None, 500, [ErrorEntry(None, "mock failure")], request, started)
            )
        if response.disconnect:
            log.info("mock REST: %s %s -> connection dropped (fault)", request.method, request.path)
        else:
            record.status = response.status
            self.answers[(record.operation or f"{request.method} {request.path}", response.status)] += 1
            log.info("mock REST: %s %s -> %d", request.method, request.path, response.status)
        return response

    async def _dispatch(
        self, request: HTTPRequest, record: RestRequestRecord, started: float
    ) -> HTTPResponse:
        oauth_key: str | None = None
        op: Operation | None = None
        if request.path in (AUTHORIZE_PATH, TOKEN_PATH):
            oauth_key = AUTHORIZE_KEY if request.path == AUTHORIZE_PATH else TOKEN_KEY
            allowed = ("GET", "HEAD") if oauth_key == AUTHORIZE_KEY else ("POST",)
            if request.method not in allowed:
                return self._oauth_response(
                    405,
                    OAuthFailure("invalid_request", f"use {allowed[0]}").body(),
                    [("Allow", ", ".join(allowed))],
                )
            key = oauth_key
        else:
            op, allowed_methods = self._route(request)
            if op is None:
                status = 405 if allowed_methods else 404
                entry = ErrorEntry(
                    None,
                    f"{request.method} is not allowed here" if allowed_methods else "no such endpoint",
                )
                headers = [("Allow", ", ".join(sorted(allowed_methods)))] if allowed_methods else []
                return self._json(status, self._envelope(None, status, [entry], request, started), headers)
            key = op.key
        record.operation = key

        delay = self.delays.get(key, self.delay)
        if delay and delay > 0:
            await asyncio.sleep(delay)
        fault = self._take_fault(key)
        if fault is not None:
            return self._fault_response(op, oauth_key, fault, request, started)
        if oauth_key == AUTHORIZE_KEY:
            return self._authorize(request)
        if oauth_key == TOKEN_KEY:
            return self._token(request)
        assert op is not None
        try:
            if op.websocket:
                self._websocket_on_rest(op, request)
            self._check_app_id(op, request)
            token = self._authenticate(op, request)
            path = op.match(request.path) or {}
            params = self._params(op, request, path)
            body = self._body(op, request)
            handler = self.handlers.get(op.key, self._synthesised)
            reply = handler(Ctx(request, op, path, params, body, token, started))
        except RestError as exc:
            status = exc.status_for(op)
            return self._json(
                status, self._envelope(op, status, exc.entries, request, started), exc.headers, op=op
            )
        except SynthesisError as exc:
            log.error("mock REST: cannot synthesise an answer to %s: %s", op.key, exc)
            entry = ErrorEntry(None, f"the mock cannot answer {op.key}: {exc}")
            return self._json(500, self._envelope(op, 500, [entry], request, started), op=op)
        return self._finish(op, reply, request, started)

    def _route(self, request: HTTPRequest) -> tuple[Operation | None, set[str]]:
        method = "GET" if request.method == "HEAD" else request.method
        allowed: set[str] = set()
        for op in self.operations:
            if op.pattern.fullmatch(request.path) is None:
                continue
            if op.method == method:
                return op, allowed
            allowed.add(op.method)
        return None, allowed

    # -- checks -------------------------------------------------------------------------------

    def _websocket_on_rest(self, op: Operation, request: HTTPRequest) -> None:
        needs_otp = any(p.get("name") == "otp" and p.get("required") for p in op.parameters)
        if needs_otp and not request.query_value("otp"):
            raise RestError(
                401,
                "Unauthorized",
                "an OTP is required: POST /trading/v1/options/accounts/{accountId}/otp gives a URL with one",
                field="otp",
            )
        raise RestError(
            400,
            "BadInputRequest",
            f"this endpoint upgrades to a WebSocket: connect to {self.mock.ws_url}{request.path}",
        )

    def _check_app_id(self, op: Operation, request: HTTPRequest) -> None:
        if not op.app_id_required:
            return
        value = (request.header(APP_ID_HEADER) or "").strip()
        if not value:
            raise RestError(
                400, "FieldIsRequired", f"the {APP_ID_HEADER} header is required", field=APP_ID_HEADER
            )
        if self.require_registered_app and value not in self.oauth.apps:
            raise RestError(
                400, "ValidationError", f"{APP_ID_HEADER} is not a registered app", field=APP_ID_HEADER
            )

    def _authenticate(self, op: Operation, request: HTTPRequest) -> TokenInfo | None:
        if op.security is None:
            return None
        header = (request.header("authorization") or "").strip()
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header or scheme.lower() != "bearer" or not token:
            raise RestError(
                401,
                "Unauthorized",
                "a Bearer token is required (Authorization: Bearer <token>)",
                headers=[("WWW-Authenticate", 'Bearer realm="deriv-mock"')],
            )
        info, why = self.oauth.authenticate(token)
        if info is None:
            raise RestError(
                401,
                "Unauthorized",
                f"invalid Bearer token: {why}",
                headers=[
                    (
                        "WWW-Authenticate",
                        f'Bearer realm="deriv-mock", error="invalid_token", error_description="{why}"',
                    )
                ],
            )
        if not any(required <= info.scopes for required in op.security):
            needed = " ".join(sorted(op.security[0]))
            raise RestError(
                403,
                "AccessDenied",
                f"the token lacks the scope this operation needs: {needed}",
                headers=[
                    (
                        "WWW-Authenticate",
                        f'Bearer realm="deriv-mock", error="insufficient_scope", scope="{needed}"',
                    )
                ],
            )
        return info

    def _params(self, op: Operation, request: HTTPRequest, path: Mapping[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in op.parameters:
            name = str(param.get("name", ""))
            where = param.get("in")
            schema = param.get("schema") or {}
            if where == "header":
                if name.lower() == APP_ID_HEADER.lower():
                    continue
                raw = request.header(name)
            elif where == "query":
                raw = request.query_value(name)
            elif where == "path":
                raw = path.get(name)
            else:
                continue
            if raw is None or raw == "":
                if param.get("required") and not (op.websocket and name == "otp"):
                    raise RestError(400, "FieldIsRequired", f"{name} is required", field=name)
                if "default" in schema:
                    values[name] = schema["default"]
                continue
            value = _coerce(raw, schema)
            if value is _INVALID:
                raise RestError(
                    400, "ValidationError", f"{name}: not a valid {schema.get('type')}", field=name
                )
            for error in self._validator(f"param:{op.key}", name, schema).iter_errors(value):
                kind = type(error.kind).__name__
                status = (422, 400) if kind in _RANGE_KINDS else (400,)
                raise RestError(status, "ValidationError", f"{name}: {error.message}", field=name)
            values[name] = value
        return values

    def _body(self, op: Operation, request: HTTPRequest) -> Any:
        spec = op.spec.get("requestBody")
        if not isinstance(spec, Mapping):
            return None
        content = spec.get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        if not request.body:
            if spec.get("required"):
                raise RestError(400, "FieldIsRequired", "a JSON request body is required", field="body")
            return None
        if (
            request.content_type
            and request.content_type != "application/json"
            and not request.content_type.endswith("+json")
        ):
            raise RestError(400, "BadInputRequest", "the request body must be application/json")
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise RestError(400, "BadInputRequest", "the request body is not valid JSON") from None
        if isinstance(schema, Mapping):
            for error in self._validator(f"body:{op.key}", "", schema).iter_errors(body):
                where = [str(p) for p in error.instance_path]
                kind: Any = error.kind
                kind_name = type(kind).__name__
                if kind_name == "Required":
                    where.append(str(kind.property))
                elif kind_name == "AdditionalProperties" and kind.unexpected:
                    where.append(str(kind.unexpected[0]))
                place = ".".join(where) or "body"
                code = _BODY_CODES.get((op.key, place), "ValidationError")
                raise RestError(400, code, f"{place}: {error.message}", field=place)
        return body

    # -- envelopes ----------------------------------------------------------------------------

    def _resolve(self, schema: Any) -> Mapping[str, Any]:
        seen = 0
        while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and seen < 16:
            target: Any = {"components": self._components}
            for part in schema["$ref"].lstrip("#").strip("/").split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
            schema = target
            seen += 1
        return schema if isinstance(schema, Mapping) else {}

    def _json_schema(self, op: Operation | None, status: int) -> Mapping[str, Any] | None:
        if op is None:
            return None
        response = (op.spec.get("responses") or {}).get(str(status))
        if not isinstance(response, Mapping):
            return None
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        return schema if isinstance(schema, Mapping) else None

    def error_schema(self, op: Operation | None, status: int) -> Mapping[str, Any] | None:
        """The schema an error answer of ``op`` with ``status`` follows: the documented one, else
        the error schema the operation uses most, else the document's ``Error`` component."""
        documented = self._json_schema(op, status)
        if documented is not None:
            return documented
        if op is not None:
            refs: Counter[str] = Counter()
            for code, response in (op.spec.get("responses") or {}).items():
                if code.isdigit() and int(code) >= 400 and isinstance(response, Mapping):
                    schema = ((response.get("content") or {}).get("application/json") or {}).get(
                        "schema"
                    ) or {}
                    if isinstance(schema.get("$ref"), str):
                        refs[schema["$ref"]] += 1
            if refs:
                return {"$ref": refs.most_common(1)[0][0]}
        if "Error" in (self._components.get("schemas") or {}):
            return {"$ref": "#/components/schemas/Error"}
        return None

    def _error_shape(self, op: Operation | None, status: int) -> _ErrorShape:
        schema = self.error_schema(op, status)
        if schema is None:
            return _ErrorShape(None, "metadata", True, True, True, False, True, None)
        resolved = self._resolve(schema)
        props = resolved.get("properties") or {}
        meta_key = "meta" if "meta" in props else "metadata" if "metadata" in props else None
        seconds = True
        if meta_key is not None:
            timing = (self._resolve(props[meta_key]).get("properties") or {}).get("timing") or {}
            seconds = timing.get("type") != "integer"
        item = self._resolve((self._resolve(props.get("errors") or {})).get("items") or {})
        item_props = item.get("properties") or {}
        enum = self._resolve(item_props.get("code") or {}).get("enum")
        return _ErrorShape(
            schema,
            meta_key,
            seconds,
            "data" in props,
            "message" in item_props or not item_props,
            "detail" in item_props,
            "field" in item_props,
            tuple(enum) if isinstance(enum, list) else None,
        )

    def _meta(self, seconds: bool, request: HTTPRequest, started: float) -> dict[str, Any]:
        elapsed = time.monotonic() - started
        method = request.method if request.method in ("GET", "POST", "PUT", "DELETE") else "GET"
        return {
            "endpoint": request.path,
            "method": method,
            "timing": round(elapsed, 4) if seconds else int(elapsed * 1000),
        }

    def _envelope(
        self,
        op: Operation | None,
        status: int,
        entries: Sequence[ErrorEntry],
        request: HTTPRequest,
        started: float,
    ) -> dict[str, Any]:
        shape = self._error_shape(op, status)
        items = []
        for entry in entries:
            item: dict[str, Any] = {"status": status, "code": shape.code_for(status, entry.code)}
            if shape.item_message:
                item["message"] = entry.message
            if shape.item_detail:
                item["detail"] = {"message": entry.message, **(entry.detail or {})}
            if entry.field and shape.item_field:
                item["field"] = entry.field
            items.append(item)
        body: dict[str, Any] = {}
        if shape.with_data:
            body["data"] = {}
        body["errors"] = items
        if shape.meta_key is not None:
            body[shape.meta_key] = self._meta(shape.meta_seconds, request, started)
        return body

    def _json(
        self,
        status: int,
        body: Any,
        headers: Iterable[tuple[str, str]] = (),
        *,
        op: Operation | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> HTTPResponse:
        if self.check_responses and op is not None:
            self._check(op, status, body, schema)
        return HTTPResponse(status, orjson.dumps(body), "application/json", list(headers))

    def _finish(self, op: Operation, reply: Reply, request: HTTPRequest, started: float) -> HTTPResponse:
        headers = list(reply.headers)
        if reply.body is None:
            return HTTPResponse(reply.status, b"", None, headers)
        if isinstance(reply.body, str):
            content = (op.spec.get("responses") or {}).get(str(reply.status), {}).get("content") or {}
            kind = next((k for k in content if k.startswith("text/")), "text/plain")
            return HTTPResponse(reply.status, reply.body.encode(), f"{kind}; charset=utf-8", headers)
        body = reply.body
        schema = self._json_schema(op, reply.status)
        if isinstance(body, dict) and schema is not None:
            props = self._resolve(schema).get("properties") or {}
            for key in ("meta", "metadata"):
                if key in props and key not in body:
                    timing = (self._resolve(props[key]).get("properties") or {}).get("timing") or {}
                    body[key] = self._meta(timing.get("type") != "integer", request, started)
            if "errors" in props and "errors" not in body:
                body["errors"] = []
        return self._json(reply.status, body, headers, op=op)

    def _validator(self, kind: str, name: str, schema: Mapping[str, Any]) -> Any:
        key = (kind, name)
        validator = self._validators.get(key)
        if validator is None:
            root = {**schema, "components": self._components}
            self._roots[key] = root
            validator = jsonschema_rs.validator_for(root)
            self._validators[key] = validator
        return validator

    def _check(self, op: Operation, status: int, body: Any, schema: Mapping[str, Any] | None) -> None:
        schema = (
            schema
            or self._json_schema(op, status)
            or (self.error_schema(op, status) if status >= 400 else None)
        )
        if schema is None:
            return
        validator = self._validator(f"response:{op.key}", str(status), schema)
        for error in validator.iter_errors(body):
            where = ".".join(str(p) for p in error.instance_path) or "<body>"
            problem = f"REST {op.key} {status}: {where}: {error.message}"
            self.mock.schema_problems.append(problem)
            log.warning("mock REST answer does not match its schema: %s", problem)

    def _fault_response(
        self,
        op: Operation | None,
        oauth_key: str | None,
        fault: RestFault,
        request: HTTPRequest,
        started: float,
    ) -> HTTPResponse:
        if fault.status == 0:
            return HTTPResponse(0, disconnect=True)
        status = fault.status
        headers: list[tuple[str, str]] = []
        retry_after = (
            fault.retry_after
            if fault.retry_after is not None
            else (self.retry_after if status == 429 else None)
        )
        if retry_after is not None:
            headers.append(("Retry-After", str(max(0, math.ceil(retry_after)))))
        message = fault.message or f"mock: forced {status} (fault injection)"
        if oauth_key is not None:
            error = fault.code or _OAUTH_FAULT_ERRORS.get(
                status, "server_error" if status >= 500 else "invalid_request"
            )
            return self._oauth_response(status, {"error": error, "error_description": message}, headers)
        detail = {"next_request_at": int(time.time() + retry_after)} if retry_after is not None else None
        body = self._envelope(op, status, [ErrorEntry(fault.code, message, None, detail)], request, started)
        return self._json(status, body, headers, op=op)

    # -- OAuth --------------------------------------------------------------------------------

    def _oauth_response(
        self, status: int, body: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
    ) -> HTTPResponse:
        out = [("Cache-Control", "no-store"), ("Pragma", "no-cache"), *headers]
        return HTTPResponse(status, orjson.dumps(dict(body)), "application/json", out)

    def _authorize(self, request: HTTPRequest) -> HTTPResponse:
        repeated = sorted(k for k, v in request.query.items() if len(v) > 1)
        if repeated:
            failure = OAuthFailure("invalid_request", f"parameters repeated: {', '.join(repeated)}")
            return self._oauth_response(400, failure.body())
        params = {k: v[0] for k, v in request.query.items()}
        result = self.oauth.authorize(params)
        if result.error is not None:
            return self._oauth_response(result.status, result.error.body())
        assert result.location is not None
        return HTTPResponse(302, b"", None, [("Location", result.location), ("Cache-Control", "no-store")])

    def _token(self, request: HTTPRequest) -> HTTPResponse:
        if request.content_type != "application/x-www-form-urlencoded":
            failure = OAuthFailure("invalid_request", "the body must be application/x-www-form-urlencoded")
            self.oauth.token_requests["<not a form>"] += 1
            return self._oauth_response(400, failure.body())
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        repeated = sorted(k for k, v in form.items() if len(v) > 1)
        basic = _basic_auth(request.header("authorization"))
        try:
            if repeated:
                self.oauth.token_requests[form.get("grant_type", ["<missing>"])[0]] += 1
                raise OAuthFailure("invalid_request", f"parameters repeated: {', '.join(repeated)}")
            answer = self.oauth.token({k: v[0] for k, v in form.items()}, basic)
        except OAuthFailure as failure:
            headers = [("WWW-Authenticate", 'Basic realm="deriv-mock"')] if failure.status == 401 else []
            return self._oauth_response(failure.status, failure.body(), headers)
        return self._oauth_response(200, answer)

    # -- handlers: system, accounts, OTP ------------------------------------------------------

    def _health(self, ctx: Ctx) -> Reply:
        return Reply("OK")

    def _synthesised(self, ctx: Ctx) -> Reply:
        """An operation without behaviour: its first documented 2xx answer, synthesised."""
        status = next((s for s in ctx.op.statuses if 200 <= s < 300), 200)
        schema = self._json_schema(ctx.op, status)
        if schema is None:
            return Reply(None, status)
        key = (f"synth:{ctx.op.key}", str(status))
        root = self._roots.get(key)
        if root is None:
            root = self._roots[key] = {**schema, "components": self._components}
        body = self.synthesiser.generate(root)
        if isinstance(body, dict):
            body.pop("components", None)
            if isinstance(body.get("errors"), list):
                body["errors"] = []
            for meta in ("meta", "metadata"):
                body.pop(meta, None)
        return Reply(body, status)

    @staticmethod
    def account_json(account: Account) -> dict[str, Any]:
        return {
            "account_id": account.loginid,
            "account_type": account.account_type,
            "balance": account.balance,
            "currency": account.currency,
            "group": account.group,
            "status": account.status,
        }

    def _account(self, ctx: Ctx, name: str) -> Account:
        account_id = ctx.path.get(name, "")
        account = self.mock.accounts.get(account_id)
        if account is None:
            raise RestError((404, 400), "AccountNotFound", f"no options account {account_id}", field=name)
        return account

    def _accounts_list(self, ctx: Ctx) -> Reply:
        return Reply({"data": [self.account_json(a) for a in self.mock.accounts.values()]})

    def _accounts_create(self, ctx: Ctx) -> Reply:
        body = ctx.body
        kind, currency, group = body["account_type"], body["currency"], body["group"]
        for account in self.mock.accounts.values():
            if (account.account_type, account.currency, account.group) == (kind, currency, group):
                return Reply({"data": self.account_json(account)}, 200)
        created = self.mock.add_account(kind, currency=currency, group=group)
        log.info("mock REST: opened %s account %s", kind, created.loginid)
        return Reply({"data": [self.account_json(created)]}, 201)

    def _otp(self, ctx: Ctx) -> Reply:
        account = self._account(ctx, "accountId")
        if account.status != "active":
            raise RestError(
                400, "AccessDenied", f"account {account.loginid} is not active", field="accountId"
            )
        return Reply({"data": {"url": self.mock.issue_otp(account_id=account.loginid)}})

    def _reset_demo(self, ctx: Ctx) -> Reply:
        account = self._account(ctx, "account_id")
        if account.account_type != "demo":
            raise RestError(400, "BadInputRequest", "only demo accounts can be reset", field="account_id")
        account.reset_balance()
        self.mock.notify_balance(account)
        return Reply(None, 200)

    # -- bulk purchase ------------------------------------------------------------------------

    def _bulk_demo(self, ctx: Ctx) -> Reply:
        return self._bulk(ctx, "demo")

    def _bulk_real(self, ctx: Ctx) -> Reply:
        return self._bulk(ctx, "real")

    def _bulk(self, ctx: Ctx, kind: str) -> Reply:
        parameters = dict(ctx.body["contract_parameters"])
        if "underlying_symbol" not in parameters and "symbol" in parameters:
            parameters["underlying_symbol"] = parameters.pop("symbol")
        max_price = parameters.pop("price", None)
        results: list[dict[str, Any]] = []
        refused: list[ErrorEntry] = []
        valid = 0
        market = self.mock.market
        for index, entry in enumerate(ctx.body["accounts"]):
            account_id = entry["account_id"]
            info = self.oauth.is_pat(entry["token"])
            account = self.mock.accounts.get(account_id)
            problem: tuple[str, str, str] | None = None
            if info is None:
                problem = ("InvalidToken", "the token is not a valid personal access token", "token")
            elif "trade" not in info.scopes:
                problem = ("PermissionDenied", "the token lacks the trade scope", "token")
            elif account is None:
                problem = ("AccountNotFound", f"no options account {account_id} for this token", "account_id")
            elif account.account_type != kind:
                problem = (
                    "InvalidAccountType",
                    f"{account_id} is a {account.account_type} account",
                    "account_id",
                )
            if problem is not None or account is None:
                code, message, where = problem or ("AccountNotFound", "unknown account", "account_id")
                results.append({"account_id": account_id, "error": {"code": code, "message": message}})
                refused.append(
                    ErrorEntry("ValidationError", f"{account_id}: {message}", f"accounts.{index}.{where}")
                )
                continue
            valid += 1
            try:
                params = {"currency": account.currency, **parameters}
                quote = price_contract(params, market, currency=account.currency)
                price = float(max_price) if isinstance(max_price, (int, float)) else quote.ask_price
                contract, txn = account.buy(quote, price, market.now())
            except MockAPIError as exc:
                results.append(
                    {"account_id": account_id, "error": {"code": exc.code, "message": exc.message}}
                )
                continue
            results.append({"account_id": account_id, **purchase_receipt(quote, contract, txn)})
            self.mock.notify_transaction(txn, account)
        if not valid:
            first, *more = refused
            raise RestError(400, first.code, first.message, field=first.field, more=more)
        return Reply({"data": {"transactions": results}})

    # -- legacy -------------------------------------------------------------------------------

    def _legacy_transactions(self) -> list[dict[str, Any]]:
        rng = random.Random(f"{self._rng.random()}:legacy")  # noqa: S311
        now = int(time.time())
        balance = Decimal("10000.00")
        rows: list[dict[str, Any]] = []
        txn_id, contract_id = 22801, 13001
        when = now - 30 * 86400
        rows.append(self._legacy_row(txn_id, when, "deposit", balance, balance))
        for _ in range(12):
            when += rng.randint(3600, 86400)
            stake = Decimal(rng.choice(["5.00", "10.00", "25.00"]))
            symbol = rng.choice(["R_100", "1HZ100V", "frxEURUSD"])
            bet_type = rng.choice(["CALL", "PUT"])
            txn_id += 1
            contract_id += 1
            balance -= stake
            shortcode = f"{bet_type}_{symbol}_{stake * 2}_{when}_{when + 300}_S0P_0"
            contract = {
                "bet_class": "higher_lower_bet",
                "bet_type": bet_type,
                "contract_id": contract_id,
                "shortcode": shortcode,
                "symbol": symbol,
            }
            rows.append({**self._legacy_row(txn_id, when, "buy", -stake, balance), **contract})
            txn_id += 1
            won = rng.random() < 0.5
            payout = stake * Decimal("1.95") if won else Decimal("0.00")
            balance += payout
            rows.append({**self._legacy_row(txn_id, when + 300, "sell", payout, balance), **contract})
        rows.sort(key=lambda r: (r["transaction_time"], r["transaction_id"]), reverse=True)
        return rows

    @staticmethod
    def _legacy_row(txn_id: int, when: int, action: str, amount: Decimal, balance: Decimal) -> dict[str, Any]:
        return {
            "account_id": LEGACY_ACCOUNT_ID,
            "action_type": action,
            "amount": f"{amount:.2f}",
            "app_id": 16929,
            "balance_after": f"{balance:.2f}",
            "bet_class": None,
            "bet_type": None,
            "contract_id": None,
            "currency": "USD",
            "loginid": LEGACY_LOGINID,
            "shortcode": None,
            "symbol": None,
            "transaction_id": txn_id,
            "transaction_time": when,
        }

    def _legacy_ready(self) -> None:
        status = self.legacy_migration_status
        if status == "not_applicable":
            raise RestError(404, "AccountNotFound", "the user has no legacy account")
        if status != "complete":
            raise RestError(409, "BadInputRequest", f"the platform upgrade is {status}")

    def _legacy_accounts(self, ctx: Ctx) -> Reply:
        self._legacy_ready()
        return Reply({"loginids": {LEGACY_LOGINID: [{"account_id": LEGACY_ACCOUNT_ID, "currency": "USD"}]}})

    def _legacy_status(self, ctx: Ctx) -> Reply:
        return Reply({"status": self.legacy_migration_status}, headers=[("Cache-Control", "no-store")])

    def _legacy_statement(self, ctx: Ctx) -> Reply:
        self._legacy_ready()
        params = ctx.params
        if params["loginid"] != LEGACY_LOGINID:
            raise RestError(404, "AccountNotFound", f"no legacy account {params['loginid']}", field="loginid")
        start = int(params.get("date_from", 0))
        end = int(params.get("date_to", time.time()))
        action = params.get("action_type")
        rows = [
            r
            for r in self._legacy
            if start <= r["transaction_time"] < end and (action is None or r["action_type"] == action)
        ]
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        page = rows[offset : offset + limit]
        return Reply({"count": len(page), "transactions": page})

    # -- reporting, identity ------------------------------------------------------------------

    def _markup(self, ctx: Ctx) -> Reply:
        dates = []
        for name in ("date_from", "date_to"):
            try:
                dates.append(datetime.date.fromisoformat(ctx.params[name]))
            except ValueError:
                raise RestError(
                    (422, 400), "ValidationError", f"{name}: not a calendar date", field=name
                ) from None
        if dates[0] > dates[1]:
            raise RestError((422, 400), "ValidationError", "date_from is after date_to", field="date_from")
        days = (dates[1] - dates[0]).days + 1
        rows: list[dict[str, Any]] = []
        for app_id in sorted(self.oauth.apps):
            rng = random.Random(f"{app_id}:{dates[0]}:{dates[1]}")  # noqa: S311
            contracts = sum(rng.randint(0, 40) for _ in range(min(days, 366)))
            volume = round(contracts * rng.uniform(5, 50), 2)
            rows.append(
                {
                    "app_id": app_id,
                    "app_markup_usd": round(volume * 0.02, 2),
                    "client_count": min(contracts, rng.randint(1, 25)) if contracts else 0,
                    "contract_count": contracts,
                    "payout_usd": round(volume * 1.9, 2),
                    "volume_usd": volume,
                }
            )
        data = {
            "breakdown": rows,
            "total_app_markup_usd": round(sum(r["app_markup_usd"] for r in rows), 2),
            "total_client_count": sum(r["client_count"] for r in rows),
            "total_contract_count": sum(r["contract_count"] for r in rows),
            "total_payout_usd": round(sum(r["payout_usd"] for r in rows), 2),
            "total_volume_usd": round(sum(r["volume_usd"] for r in rows), 2),
        }
        return Reply({"data": data})

    def _nickname(self, ctx: Ctx) -> Reply:
        return Reply(
            {"data": {"external_reference_id": self.external_reference_id, "nickname": self.nickname}}
        )

    # -- payment agents -----------------------------------------------------------------------

    def _listed(self) -> list[_Agent]:
        return [a for a in sorted(self.agents.values(), key=lambda a: a.id) if a.active and a.is_listed]

    def _agent_statistics(self, ctx: Ctx) -> Reply:
        listed = self._listed()
        countries = sorted({c for a in listed for c in a.countries})
        currencies = sorted({c for a in listed for c in a.currencies})
        return Reply({"data": {"available_countries": countries, "available_currencies": currencies}})

    def _agents(self, ctx: Ctx) -> Reply:
        currency = str(ctx.params["currency"]).upper()
        country = ctx.params.get("country")
        page, per_page = int(ctx.params.get("page", 1)), int(ctx.params.get("per_page", 25))
        found = [
            a
            for a in self._listed()
            if currency in a.currencies and (not country or country.lower() in a.countries)
        ]
        chunk = found[(page - 1) * per_page : page * per_page]
        return Reply({"data": [a.list_item(currency) for a in chunk]})

    def _agent(self, ctx: Ctx) -> Reply:
        wanted = ctx.path["id"]
        if wanted == "me":
            if not self.is_payment_agent or self.own_agent_id not in self.agents:
                raise RestError(404, "AgentNotFound", "you are not a payment agent", field="id")
            return Reply({"data": self.agents[self.own_agent_id].detail(own=True)})
        if not wanted.isdigit():
            raise RestError(400, "InvalidAgentID", "id must be a numeric agent ID or 'me'", field="id")
        agent = self.agents.get(int(wanted))
        if agent is None:
            raise RestError(404, "AgentNotFound", f"no payment agent {wanted}", field="id")
        return Reply({"data": agent.detail(own=agent.id == self.own_agent_id and self.is_payment_agent)})

    def _target_agent(self, agent_id: int, currency: str) -> _Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise RestError(400, "AgentIDInvalid", f"no payment agent {agent_id}", field="data.agent_id")
        if not agent.active:
            raise RestError(
                400, "AgentInactive", f"payment agent {agent_id} is inactive", field="data.agent_id"
            )
        if self.is_payment_agent and agent.id == self.own_agent_id:
            raise RestError(400, "AgentSelfWithdraw", "you cannot withdraw through your own payment agent")
        if currency not in agent.currencies:
            raise RestError(400, "AgentCurrencyUnsupported", f"agent {agent_id} does not support {currency}")
        return agent

    def _pa_transaction(self) -> int:
        self._next_pa_txn += 1
        return self._next_pa_txn

    def _verification_code(self, ctx: Ctx) -> Reply:
        data = ctx.body["data"]
        currency = str(data["currency"]).upper()
        self._target_agent(int(data["agent_id"]), currency)
        amount = _money(str(data["amount"]), "amount")
        now = time.time()
        if now < self._next_code_at:
            raise RestError(
                400,
                "OtpRateLimitExceeded",
                "Too many OTP requests. Please try again later.",
                detail={"next_request_at": int(self._next_code_at) + 1},
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        expires_at = int(now + 600)
        self._verification = {
            "code": code,
            "agent_id": int(data["agent_id"]),
            "amount": amount,
            "currency": currency,
            "expires_at": expires_at,
            "failures": 0,
        }
        self.last_verification_code = code
        self._next_code_at = now + self.verification_code_interval
        message = "Please check your email or phone for the verification code."
        return Reply(
            {
                "data": {
                    "expires_at": expires_at,
                    "message": message,
                    "next_request_at": int(self._next_code_at) + 1,
                }
            }
        )

    def _withdraw(self, ctx: Ctx) -> Reply:
        data = ctx.body["data"]
        currency = str(data["currency"]).upper()
        agent = self._target_agent(int(data["agent_id"]), currency)
        if currency not in self.wallet:
            raise RestError(400, "NoClientWallet", f"you have no {currency} wallet")
        if self.country not in agent.countries:
            raise RestError(400, "ClientCountryUnsupported", f"agent {agent.id} does not serve your country")
        amount = _money(str(data["amount"]), "amount")
        limits = agent.currencies[currency]
        if limits.get("withdrawal_minimum") is not None and amount < Decimal(limits["withdrawal_minimum"]):
            raise RestError(400, "WithdrawalAmountMinimum", f"the minimum is {limits['withdrawal_minimum']}")
        if limits.get("withdrawal_maximum") is not None and amount > Decimal(limits["withdrawal_maximum"]):
            raise RestError(400, "WithdrawalAmountMaximum", f"the maximum is {limits['withdrawal_maximum']}")
        if amount > self.wallet[currency]:
            raise RestError(400, "WalletFundsInsufficient", "your wallet does not hold enough funds")
        request_id = data.get("request_id")
        if request_id is not None and request_id in self._request_ids:
            raise RestError(400, "RequestIDUsed", "this request_id was already used", field="data.request_id")
        pending = self._verification
        if pending is not None and pending["failures"] >= 5:
            raise RestError(
                400,
                "OtpValidationRateLimitExceeded",
                "Too many failed OTP validation attempts. Please try after some time.",
            )
        matches = (
            pending is not None
            and time.time() < pending["expires_at"]
            and secrets.compare_digest(str(data["verification_code"]), pending["code"])
            and (pending["agent_id"], pending["amount"], pending["currency"]) == (agent.id, amount, currency)
        )
        if not matches:
            if pending is not None:
                pending["failures"] += 1
            raise RestError(400, "InvalidOTP", "Invalid OTP", field="data.verification_code")
        self._verification = None
        self.wallet[currency] -= amount
        txn_id = self._pa_transaction()
        if request_id is not None:
            self._request_ids.add(request_id)
            self._withdrawals[request_id] = (txn_id, time.monotonic())
        return Reply({"data": {"status": "pending", "transaction_id": txn_id}})

    def _withdrawal_status(self, ctx: Ctx) -> Reply:
        found = self._withdrawals.get(ctx.path["request_id"])
        if found is None:
            raise RestError(
                400, "RequestIDNotFound", "no withdrawal with this request_id", field="request_id"
            )
        txn_id, since = found
        status = "complete" if time.monotonic() - since >= self.withdrawal_settle_seconds else "pending"
        return Reply({"data": {"status": status, "transaction_id": txn_id}})

    def _transfer(self, ctx: Ctx) -> Reply:
        data = ctx.body["data"]
        currency = str(data["currency"]).upper()
        own = self.agents.get(self.own_agent_id) if self.is_payment_agent else None
        if own is None:
            raise RestError(400, "AgentIDInvalid", "you are not a registered payment agent")
        if not own.active:
            raise RestError(400, "AgentInactive", "your payment agent account is inactive")
        if currency not in own.currencies:
            raise RestError(
                400, "AgentCurrencyUnsupported", f"your payment agent does not support {currency}"
            )
        nickname = str(data["to_nickname"])
        if nickname == self.nickname:
            raise RestError(400, "AgentSelfTransfer", "you cannot transfer to your own account")
        if nickname not in self.client_nicknames:
            raise RestError(400, "NicknameNotFound", f"no Deriv account has the nickname {nickname}")
        amount = _money(str(data["amount"]), "amount")
        if amount > self.agent_wallet.get(currency, Decimal(0)):
            raise RestError(400, "WalletFundsInsufficient", "your agent wallet does not hold enough funds")
        request_id = data.get("request_id")
        if request_id is not None:
            if request_id in self._request_ids:
                raise RestError(
                    400, "RequestIDUsed", "this request_id was already used", field="data.request_id"
                )
            self._request_ids.add(request_id)
        self.agent_wallet[currency] -= amount
        return Reply({"data": {"status": "complete", "transaction_id": self._pa_transaction()}})


#: Body validation failures with their own error code: (operation, field) -> code.
_BODY_CODES: Mapping[tuple[str, str], str] = {
    ("POST /payment-agents/v1/withdraw", "data.verification_code"): "VerificationCodeFormatInvalid",
    ("POST /payment-agents/v1/withdraw", "data.request_id"): "InvalidRequestIDFormat",
    ("POST /payment-agents/v1/transfer", "data.request_id"): "InvalidRequestIDFormat",
}

_INVALID = object()


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        try:
            return int(raw)
        except ValueError:
            return _INVALID
    if "number" in kinds:
        try:
            return float(raw)
        except ValueError:
            return _INVALID
    if "boolean" in kinds:
        lowered = raw.lower()
        return {"true": True, "false": False, "1": True, "0": False}.get(lowered, _INVALID)
    if "array" in kinds:
        return raw.split(",")
    return raw


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return unquote(user), unquote(password)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
