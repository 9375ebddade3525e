"""Answering one JSON-RPC request, the same over WebSocket and HTTP.

In order: the request's shape (``-32600 Invalid Request`` without a method name, ``-32602`` when
``params`` is not an object); a forced error (:class:`RpcFaults`, before any check); the method
(``-32601 Method not found``; the WebSocket-only ones over HTTP too); authentication of
``private/*`` (``access_token`` param, the HTTP ``Authorization`` header, or the connection's
``public/auth``: else 13009, see :mod:`.auth`) and the scope the method needs (else 13021
``forbidden``, see :mod:`.scopes`); the params against the method's parameters (``-32602 Invalid
params``); a second factor the mock was told to require (:class:`SecondFactorGate`: 13668); then
the answer: the mock's own behaviour for :data:`WS_ONLY`, ``public/auth``, ``public/fork_token``,
``public/exchange_token``, ``private/create_api_key`` (see :mod:`.auth` and :mod:`.keys`),
``public/test``, ``public/hello`` and ``public/get_time``, and for every other method a result
synthesised from its result schema, Deribit-flavoured (``BTC-PERPETUAL``, ``BTC``/``ETH``,
millisecond timestamps of now, the request's own param values echoed in top-level fields of the
same name). Every answer carries ``usIn``/``usOut``/``usDiff`` and ``testnet``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..core.faults import check_count, take_fault
from ..core.synth import Synthesiser, SynthesisError
from .auth import HttpCredentials, TokenBook, unauthorized
from .keys import CredentialError
from .market import Market
from .params import RpcError, check_params, invalid_params
from .scopes import Need, Scope, channel_scope, method_scope
from .spec import MethodSpec, ParamSpec

if TYPE_CHECKING:
    from .session import Session

__all__ = [
    "BUILTINS",
    "DERIBIT_HINTS",
    "WS_ONLY",
    "Dispatcher",
    "RpcFault",
    "RpcFaults",
    "SecondFactorGate",
    "error_message",
]

log = logging.getLogger("deriv_runtime.mock.deribit")

Transport = Literal["ws", "http"]

#: Realistic values for properties of these names (used when they fit the schema).
DERIBIT_HINTS: Mapping[str, Any] = {
    "instrument_name": "BTC-PERPETUAL",
    "currency": "BTC",
    "base_currency": "BTC",
    "quote_currency": "USD",
    "settlement_currency": "BTC",
    "counter_currency": "USD",
    "fee_currency": "BTC",
    "index_name": "btc_usd",
    "kind": "future",
    "direction": "buy",
    "order_state": "open",
    "order_type": "limit",
    "time_in_force": "good_til_cancelled",
    "state": "open",
    "label": "mock",
    "version": "1.2.26",
}

_KNOWN_ERRORS: Mapping[int, str] = {
    -32700: "Parse error",
    -32600: "Invalid Request",
    -32601: "Method not found",
    -32602: "Invalid params",
    -32603: "Internal error",
    10000: "authorization_required",
    10009: "not_enough_funds",
    10028: "too_many_requests",
    11044: "not_open_order",
    11050: "bad_request",
    13004: "invalid_credentials",
    13009: "unauthorized",
    13021: "forbidden",
    13403: "scope_exceeded",
    13668: "security_key_authorization_error",
    13778: "raw_subscriptions_not_available_for_unauthorized",
}


def error_message(code: int) -> str:
    """Deribit's message for an error code (``"mock_error"`` for codes the mock does not know)."""
    return _KNOWN_ERRORS.get(code, "mock_error")


def _builtin(
    name: str,
    params: Mapping[str, Any],
    required: list[str],
    result: Mapping[str, Any],
    tags: tuple[str, ...] = (),
) -> MethodSpec:
    specs = {k: ParamSpec(k, v, k in required) for k, v in params.items()}
    return MethodSpec(name, specs, result, builtin=True, tags=tags)


#: Tags of the mock's own methods (what :mod:`.scopes` reads).
_SUBSCRIPTIONS = ("subscription_management",)
_SESSION = ("session_management",)
_CHANNELS = {"channels": {"type": "array", "items": {"type": "string"}, "minItems": 1}}
_LIST = {"type": "array", "items": {"type": "string"}}
_OK = {"type": "string", "enum": ["ok"]}
_VERSION = {"type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}}
_TOKEN = {
    "type": "object",
    "required": ["access_token", "expires_in", "refresh_token", "scope", "token_type"],
    "properties": {
        "access_token": {"type": "string"},
        "expires_in": {"type": "integer"},
        "refresh_token": {"type": "string"},
        "scope": {"type": "string"},
        "token_type": {"type": "string", "enum": ["bearer"]},
    },
}
_API_KEY = {
    "type": "object",
    "required": ["client_id", "id", "max_scope"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "timestamp": {"type": "integer"},
        "client_id": {"type": "string", "minLength": 8},
        "client_secret": {"type": "string", "minLength": 16},
        "public_key": {"type": "string"},
        "max_scope": {"type": "string"},
        "enabled": {"type": "boolean"},
        "default": {"type": "boolean"},
        "name": {"type": "string"},
        "enabled_features": _LIST,
    },
}

#: Methods the document lacks that the mock answers itself.
BUILTINS: Mapping[str, MethodSpec] = {
    m.name: m
    for m in (
        _builtin("public/subscribe", _CHANNELS, ["channels"], _LIST, _SUBSCRIPTIONS),
        _builtin("private/subscribe", _CHANNELS, ["channels"], _LIST, _SUBSCRIPTIONS),
        _builtin("public/unsubscribe", _CHANNELS, ["channels"], _LIST, _SUBSCRIPTIONS),
        _builtin("private/unsubscribe", _CHANNELS, ["channels"], _LIST, _SUBSCRIPTIONS),
        _builtin("public/unsubscribe_all", {}, [], _OK, _SUBSCRIPTIONS),
        _builtin("private/unsubscribe_all", {}, [], _OK, _SUBSCRIPTIONS),
        _builtin(
            "public/set_heartbeat",
            {"interval": {"type": "number", "minimum": 10}},
            ["interval"],
            _OK,
            _SESSION,
        ),
        _builtin("public/disable_heartbeat", {}, [], _OK, _SESSION),
        _builtin(
            "public/hello",
            {"client_name": {"type": "string"}, "client_version": {"type": "string"}},
            [],
            _VERSION,
        ),
        _builtin("public/test", {"expected_result": {"type": "string"}}, [], _VERSION),
        _builtin("public/get_time", {}, [], {"type": "integer"}),
        _builtin("private/logout", {"invalidate_token": {"type": "boolean"}}, [], {}, ("authentication",)),
        # Documented by Deribit, missing from its OpenAPI document (the generator adds them too).
        _builtin(
            "public/fork_token",
            {"refresh_token": {"type": "string"}, "session_name": {"type": "string"}},
            ["refresh_token", "session_name"],
            _TOKEN,
            ("authentication",),
        ),
        _builtin(
            "public/exchange_token",
            {
                "refresh_token": {"type": "string"},
                "subject_id": {"type": "integer"},
                "scope": {"type": "string"},
            },
            ["refresh_token", "subject_id"],
            _TOKEN,
            ("authentication",),
        ),
        _builtin(
            "private/create_api_key",
            {
                "max_scope": {"type": "string"},
                "name": {"type": "string"},
                "public_key": {"type": "string"},
                "enabled_features": _LIST,
            },
            ["max_scope"],
            _API_KEY,
            ("account_management",),
        ),
    )
}
#: Methods with no meaning over HTTP (subscriptions, heartbeats, the session).
WS_ONLY = frozenset(
    {n for n in BUILTINS if n.endswith(("subscribe", "subscribe_all", "heartbeat"))} | {"private/logout"}
)


@dataclass(slots=True)
class RpcFault:
    """A forced JSON-RPC error for ``remaining`` more requests (``None``: until cleared) to
    ``method`` (``None``: any), over either transport."""

    code: int
    method: str | None
    remaining: int | None
    message: str
    data: Any = None
    hits: int = 0


class RpcFaults:
    def __init__(self) -> None:
        self.faults: list[RpcFault] = []

    def add(
        self, code: int, method: str | None, count: int | None, message: str | None, data: Any
    ) -> RpcFault:
        check_count(count)
        fault = RpcFault(code, method, count, message or error_message(code), data)
        self.faults.append(fault)
        return fault

    def take(self, method: str) -> RpcFault | None:
        return take_fault(self.faults, method, lambda f: f.method)


@dataclass(slots=True)
class SecondFactorGate:
    """``method`` needs the second factor: answered 13668 ``security_key_authorization_error``
    (after authentication and the params check) until cleared; ``refusals`` counts those answers."""

    method: str
    refusals: int = 0


class DeribitHost(Protocol):
    """What the dispatcher uses of the mock."""

    @property
    def methods(self) -> Mapping[str, MethodSpec]: ...

    tokens: TokenBook
    require_auth: bool
    testnet: bool
    server_version: str
    market: Market
    synthesiser: Synthesiser
    rpc_faults: RpcFaults
    second_factor: dict[str, SecondFactorGate]


@dataclass(slots=True)
class Call:
    """One request being answered: where it came from and what it carries."""

    method: str
    params: dict[str, Any]
    transport: Transport
    session: Session | None
    #: HTTP: the ``Authorization`` header (and what a signed one covers).
    authorization: HttpCredentials | None = None
    #: The scope the caller was granted (``None``: unrestricted, or not a private method).
    scope: Scope | None = None
    #: The access token that authenticated the call, if one did.
    access_token: str | None = None


class Dispatcher:
    """Answers requests for a :class:`DeribitHost` (see the module docstring)."""

    def __init__(self, host: DeribitHost) -> None:
        self.host = host

    def envelope(
        self, req_id: Any, us_in: int, *, result: Any = None, error: RpcError | None = None
    ) -> dict[str, Any]:
        us_out = max(self.host.market.now_ms() * 1000, us_in + 1)
        answer: dict[str, Any] = {"jsonrpc": "2.0"}
        if req_id is not None:
            answer["id"] = req_id
        if error is not None:
            answer["error"] = error.error()
        else:
            answer["result"] = result
        answer.update(usIn=us_in, usOut=us_out, usDiff=us_out - us_in, testnet=self.host.testnet)
        return answer

    def answer(
        self,
        request: Mapping[str, Any],
        us_in: int,
        transport: Transport,
        session: Session | None = None,
        authorization: HttpCredentials | None = None,
    ) -> dict[str, Any] | None:
        """The answer to ``request`` (``None``: none is sent, e.g. ``private/logout``)."""
        req_id = request.get("id")
        try:
            call = self._call(request, transport, session, authorization)
            result = self._answer(call)
        except RpcError as exc:
            return self.envelope(req_id, us_in, error=exc)
        except SynthesisError as exc:
            log.error("mock deribit: cannot synthesise a result of %s: %s", request.get("method"), exc)
            return self.envelope(
                req_id, us_in, error=RpcError(-32603, "Internal error", {"reason": str(exc)})
            )
        if result is _NO_ANSWER:
            return None
        return self.envelope(req_id, us_in, result=result)

    def _call(
        self,
        request: Mapping[str, Any],
        transport: Transport,
        session: Session | None,
        authorization: HttpCredentials | None,
    ) -> Call:
        method = request.get("method")
        if not isinstance(method, str) or not method:
            raise RpcError(-32600, "Invalid Request", {"reason": "a request needs a method name"})
        params = request.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise RpcError(
                -32602, "Invalid params", {"reason": "params must be an object (named parameters)"}
            )
        return Call(method, dict(params), transport, session, authorization)

    def _answer(self, call: Call) -> Any:
        host = self.host
        fault = host.rpc_faults.take(call.method)
        if fault is not None:
            raise RpcError(fault.code, fault.message, fault.data)
        spec = host.methods.get(call.method)
        if spec is None:
            raise RpcError(-32601, "Method not found", {"method": call.method})
        if call.transport == "http" and call.method in WS_ONLY:
            raise RpcError(-32601, "Method not found", {"reason": f"{call.method} needs the WebSocket API"})
        token = call.params.pop("access_token", None)
        if spec.private and host.require_auth:
            self._authenticate(call, token)
            need = method_scope(spec)
            if need is not None and not _allows(call.scope, need):
                raise _forbidden(f"{call.method} needs scope {need}", str(need))
        if call.method != "public/auth":  # its parameters depend on the grant (see .auth)
            check_params(spec, call.params)
        gate = host.second_factor.get(call.method)
        if gate is not None:
            gate.refusals += 1
            raise RpcError(13668, error_message(13668))
        own = _HANDLERS.get(call.method)
        if own is not None:
            return own(self, call)
        return self.synthesise(spec, call.params)

    def _authenticate(self, call: Call, token: Any) -> None:
        """Who calls a private method: an ``access_token`` param, else the HTTP ``Authorization``
        header, else the connection's ``public/auth`` (see :mod:`.auth`); sets ``call.scope``."""
        tokens = self.host.tokens
        if isinstance(token, str) and token:
            call.scope, call.access_token = tokens.check(token), token
        elif call.authorization is not None:
            call.scope = tokens.check_header(call.authorization)
            if call.authorization.scheme == "bearer":
                call.access_token = call.authorization.credential
        elif call.session is not None and call.session.token is not None:
            call.scope, call.access_token = tokens.check(call.session.token), call.session.token
        else:
            raise unauthorized("a private method needs an access token (access_token, or public/auth first)")

    # -- results ------------------------------------------------------------------------------

    def synthesise(self, spec: MethodSpec, params: Mapping[str, Any]) -> Any:
        """A result valid for the method's result schema, Deribit-flavoured."""
        synth = self.host.synthesiser
        schema = spec.result
        props = schema.get("properties") if schema.get("type", "object") == "object" else None
        fields = dict(params)
        name = params.get("instrument_name")
        if isinstance(name, str) and name and isinstance(props, Mapping):
            market = self.host.market
            inst = market.instrument(name)
            book = {
                side: [list(level) for level in market.levels(inst, side, 5)] for side in ("bids", "asks")
            }
            fields = {**market.ticker(inst, market.now_ms()), **book, **fields}
        overrides = (
            {k: v for k, v in fields.items() if k in props and not synth.problems(props[k], v)}
            if isinstance(props, Mapping)
            else None
        )
        value = synth.generate(schema, overrides=overrides)
        flavoured = _flavour(value, self.host.market.now_ms())
        return value if synth.problems(schema, flavoured) else flavoured


def _allows(scope: Scope | None, need: Need) -> bool:
    return scope is None or scope.allows(need)


def _forbidden(reason: str, scope: str) -> RpcError:
    return RpcError(13021, "forbidden", {"reason": reason, "scope": scope})


_NO_ANSWER = object()
_DAY_MS = 86_400_000


def _flavour(value: Any, now: int) -> Any:
    """Millisecond timestamps of now (expirations a month ahead) in every ``*timestamp`` field."""
    if isinstance(value, list):
        return [_flavour(v, now) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key.endswith("timestamp") and type(item) is int:
            out[key] = now + 30 * _DAY_MS if "expiration" in key else now
        else:
            out[key] = _flavour(item, now)
    return out


def _version(d: Dispatcher, call: Call) -> Any:
    return {"version": d.host.server_version}


def _get_time(d: Dispatcher, call: Call) -> Any:
    return d.host.market.now_ms()


def _auth(d: Dispatcher, call: Call) -> Any:
    """``public/auth``: over WebSocket the connection is then authenticated by the new token."""
    result = d.host.tokens.grant(call.params)
    if call.session is not None:
        call.session.token = result["access_token"]
        call.session.tokens.append(result["access_token"])
    return result


def _fork_token(d: Dispatcher, call: Call) -> Any:
    """``public/fork_token``: a token for another session (the connection keeps its own)."""
    return d.host.tokens.fork(call.params["refresh_token"], call.params["session_name"])


def _exchange_token(d: Dispatcher, call: Call) -> Any:
    """``public/exchange_token``: a token for another subject (the connection keeps its own)."""
    scope = call.params.get("scope")
    return d.host.tokens.exchange(
        call.params["refresh_token"], call.params["subject_id"], scope if isinstance(scope, str) else None
    )


def _create_api_key(d: Dispatcher, call: Call) -> Any:
    """``private/create_api_key``: a new key, asymmetric with ``public_key`` (see :mod:`.keys`)."""
    params = call.params
    max_scope = Scope.parse(params["max_scope"])
    name = params.get("name") or ""
    features = params.get("enabled_features") or []
    clients = d.host.tokens.clients
    if params.get("public_key") is None:
        return clients.with_secret(None, None, max_scope, name=name).api_key()
    try:
        client = clients.with_key(params["public_key"], max_scope, name=name, features=features)
    except CredentialError as exc:
        raise invalid_params("public_key", str(exc)) from None
    return client.api_key()


def _session(call: Call) -> Session:
    if call.session is None:  # pragma: no cover - WS_ONLY methods never get here over HTTP
        raise RpcError(-32601, "Method not found", {"reason": f"{call.method} needs the WebSocket API"})
    return call.session


def _subscribe(d: Dispatcher, call: Call) -> Any:
    """Private channels need a scope each (:func:`~.scopes.channel_scope`): else 13021."""
    private = call.method.startswith("private/")
    if private:
        for name in call.params["channels"]:
            need = channel_scope(name) if isinstance(name, str) else None
            if need is not None and not _allows(call.scope, need):
                raise _forbidden(f"channel {name} needs scope {need}", str(need))
    return _session(call).subscribe(call.params["channels"], private=private)


def _unsubscribe(d: Dispatcher, call: Call) -> Any:
    return _session(call).unsubscribe(call.params["channels"])


def _unsubscribe_all(d: Dispatcher, call: Call) -> Any:
    _session(call).unsubscribe_all()
    return "ok"


def _set_heartbeat(d: Dispatcher, call: Call) -> Any:
    _session(call).set_heartbeat(float(call.params["interval"]))
    return "ok"


def _disable_heartbeat(d: Dispatcher, call: Call) -> Any:
    _session(call).set_heartbeat(None)
    return "ok"


def _test(d: Dispatcher, call: Call) -> Any:
    if call.session is not None:
        call.session.heartbeat_answered()
    return _version(d, call)


def _logout(d: Dispatcher, call: Call) -> Any:
    """``private/logout``: with ``invalidate_token`` (default true) the tokens of the connection
    (its ``public/auth`` ones, and the one that authenticated the call) and their refresh tokens
    stop being accepted; the connection forgets its token and closes, without an answer."""
    session = _session(call)
    if call.params.get("invalidate_token", True):
        for token in {*session.tokens, *([call.access_token] if call.access_token else [])}:
            d.host.tokens.revoke_pair(token)
    session.logout()
    return _NO_ANSWER


_HANDLERS = {
    "public/auth": _auth,
    "public/fork_token": _fork_token,
    "public/exchange_token": _exchange_token,
    "private/create_api_key": _create_api_key,
    "public/test": _test,
    "public/hello": _version,
    "public/get_time": _get_time,
    "public/subscribe": _subscribe,
    "private/subscribe": _subscribe,
    "public/unsubscribe": _unsubscribe,
    "private/unsubscribe": _unsubscribe,
    "public/unsubscribe_all": _unsubscribe_all,
    "private/unsubscribe_all": _unsubscribe_all,
    "public/set_heartbeat": _set_heartbeat,
    "public/disable_heartbeat": _disable_heartbeat,
    "private/logout": _logout,
}
