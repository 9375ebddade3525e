"""The mock Deriv REST API: every operation of a package's OpenAPI document, plus OAuth 2.0.

:class:`RestAPI` answers HTTP requests (through the core's :class:`~...core.http_api.HttpService`,
on the mock's event loop, so it shares the WebSocket mock's accounts without locks):

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

import base64
import binascii
import logging
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from ...core.faults import HttpFaults, RestFault
from ...core.http import HTTPRequest, HTTPResponse
from ...core.http_api import HttpService
from ...core.synth import SynthesisError
from ..oauth import OAuthFailure, OAuthServer, TokenInfo
from ..platform import Platform
from .accounts import AccountOperations
from .agents import AgentOperations
from .base import Ctx, ErrorEntry, Handler, RestError
from .legacy import LegacyOperations
from .openapi import APP_ID_HEADER, INVALID, Operation, coerce

__all__ = ["AUTHORIZE_PATH", "TOKEN_PATH", "RestAPI"]

log = logging.getLogger("deriv_runtime.mock.rest")

AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a password
AUTHORIZE_KEY = f"GET {AUTHORIZE_PATH}"
TOKEN_KEY = f"POST {TOKEN_PATH}"
_RANGE_KINDS = frozenset(
    {"Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum", "Enum", "MinLength", "MaxLength"}
)
_OAUTH_FAULT_ERRORS: Mapping[int, str] = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "temporarily_unavailable",
    503: "temporarily_unavailable",
}


class RestAPI(AccountOperations, AgentOperations, LegacyOperations):
    """The REST side of :class:`~..mock_deriv.MockDeriv` (see the module docstring): an
    :class:`~...core.http_api.HttpApi` for the core's :attr:`http` pipeline."""

    def __init__(
        self,
        mock: Platform,
        document: Mapping[str, Any],
        oauth: OAuthServer,
        *,
        check_responses: bool = True,
        require_registered_app: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(mock, document, oauth, check_responses=check_responses, seed=seed)
        #: Refuse (400) a ``Deriv-App-ID`` that is not a registered app (default: any non-empty one).
        self.require_registered_app = require_registered_app
        #: Recording, delays (keys: :meth:`resolve` names) and forced faults; answers by operation
        #: key and status (``"POST /oauth2/token"`` included).
        self.http = HttpService(self, log)
        # Behaviour knobs and state (the order keeps the seeded data as it was).
        self._init_agents()
        self._init_legacy()

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

    @property
    def faults(self) -> HttpFaults:
        """Forced answers and delays (fault knobs)."""
        return self.http.faults

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
        HttpFaults.check(status, count)
        key = self.resolve(operation) if operation is not None else None
        if code is not None and key is not None and key in self._by_key:
            shape = self._error_shape(self._by_key[key], status)
            if shape.codes is not None and code not in shape.codes:
                raise ValueError(f"{key} answers {status} with codes {', '.join(shape.codes)}, not {code!r}")
        return self.http.faults.add(
            status, key, count=count, code=code, message=message, retry_after=retry_after
        )

    # -- the HttpApi --------------------------------------------------------------------------

    def route(self, request: HTTPRequest, started: float) -> str | HTTPResponse:
        if request.path in (AUTHORIZE_PATH, TOKEN_PATH):
            oauth_key = AUTHORIZE_KEY if request.path == AUTHORIZE_PATH else TOKEN_KEY
            allowed = ("GET", "HEAD") if oauth_key == AUTHORIZE_KEY else ("POST",)
            if request.method not in allowed:
                return self._oauth_response(
                    405,
                    OAuthFailure("invalid_request", f"use {allowed[0]}").body(),
                    [("Allow", ", ".join(allowed))],
                )
            return oauth_key
        op, allowed_methods = self._route(request)
        if op is None:
            status = 405 if allowed_methods else 404
            entry = ErrorEntry(
                None,
                f"{request.method} is not allowed here" if allowed_methods else "no such endpoint",
            )
            headers = [("Allow", ", ".join(sorted(allowed_methods)))] if allowed_methods else []
            return self._json(status, self._envelope(None, status, [entry], request, started), headers)
        return op.key

    def respond(self, request: HTTPRequest, key: str, started: float) -> HTTPResponse:
        if key == AUTHORIZE_KEY:
            return self._authorize(request)
        if key == TOKEN_KEY:
            return self._token(request)
        op = self._by_key[key]
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

    def fault(
        self, request: HTTPRequest, key: str, fault: RestFault, retry_after: float | None, started: float
    ) -> HTTPResponse:
        status = fault.status
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("Retry-After", str(max(0, math.ceil(retry_after)))))
        message = fault.message or f"mock: forced {status} (fault injection)"
        if key in (AUTHORIZE_KEY, TOKEN_KEY):
            error = fault.code or _OAUTH_FAULT_ERRORS.get(
                status, "server_error" if status >= 500 else "invalid_request"
            )
            return self._oauth_response(status, {"error": error, "error_description": message}, headers)
        op = self._by_key.get(key)
        detail = {"next_request_at": int(time.time() + retry_after)} if retry_after is not None else None
        body = self._envelope(op, status, [ErrorEntry(fault.code, message, None, detail)], request, started)
        return self._json(status, body, headers, op=op)

    def failure(self, request: HTTPRequest, started: float) -> HTTPResponse:
        return self._json(
            500, self._envelope(None, 500, [ErrorEntry(None, "mock failure")], request, started)
        )

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
            f"this endpoint upgrades to a WebSocket: connect to {self.mock.base_url}{request.path}",
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
            value = coerce(raw, schema)
            if value is INVALID:
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


#: Body validation failures with their own error code: (operation, field) -> code.
_BODY_CODES: Mapping[tuple[str, str], str] = {
    ("POST /payment-agents/v1/withdraw", "data.verification_code"): "VerificationCodeFormatInvalid",
    ("POST /payment-agents/v1/withdraw", "data.request_id"): "InvalidRequestIDFormat",
    ("POST /payment-agents/v1/transfer", "data.request_id"): "InvalidRequestIDFormat",
}


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
