"""Deribit's JSON-RPC over HTTP on the core's pipeline: the :class:`~..core.http_api.HttpApi` of
:class:`~.mock_deribit.MockDeribit`.

* ``GET /api/v2/{method}?query``: params from the query as :mod:`deriv_runtime.rpc_http` sends them
  (:func:`~.params.decode_query`); ``POST /api/v2/{method}`` (or ``POST /api/v2``) with the
  JSON-RPC request object as the body (the body's ``method`` must match the path's).
* ``Authorization: Bearer <token>``, ``Basic base64(client_id:client_secret)`` or
  ``deri-hmac-sha256 id=...,ts=...,sig=...,nonce=...`` (signed over the method, the request target
  as received and the raw body: see :mod:`.keys`) authenticates ``private/*``, as does an
  ``access_token`` param.
* The answer is the JSON-RPC envelope: HTTP 200 with ``result``, 400 with ``error`` (Deribit's way).
  Other paths: 404; other HTTP methods: 405.
* Operation keys (for HTTP delays and forced HTTP faults) are the method names. A forced fault is
  a bare HTTP status (a plain-text body, ``Retry-After`` on a 429), as a proxy or gateway would
  send; forced JSON-RPC errors are :meth:`~.mock_deribit.MockDeribit.fail_next`'s, on both transports.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from typing import Any, Protocol
from urllib.parse import unquote

import orjson

from ..core.faults import RestFault
from ..core.http import HTTPRequest, HTTPResponse
from .auth import HttpCredentials
from .params import RpcError, decode_query
from .rpc import Dispatcher
from .spec import MethodSpec

__all__ = ["API_PREFIX", "DeribitHttpApi"]

log = logging.getLogger("deriv_runtime.mock.deribit")

API_PREFIX = "/api/v2"
_JSON = "application/json"


class HttpHost(Protocol):
    dispatcher: Dispatcher
    methods: dict[str, MethodSpec]

    def _record(self, message: dict[str, Any]) -> object: ...


def _us_in(started: float) -> int:
    """Wall-clock microseconds of a request that arrived at ``started`` (``time.monotonic()``)."""
    return int((time.time() - (time.monotonic() - started)) * 1_000_000)


def _authorization(request: HTTPRequest) -> HttpCredentials | None:
    """The ``Authorization`` header, with what a ``deri-hmac-sha256`` signature covers: the method,
    the request target exactly as received, the raw body."""
    value = request.header("authorization")
    if not value or " " not in value.strip():
        return None
    scheme, credential = value.strip().split(" ", 1)
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            credential = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            credential = ""
    return HttpCredentials(scheme, credential.strip(), request.method, request.target, request.body)


class DeribitHttpApi:
    """Routes and answers JSON-RPC over HTTP (see the module docstring)."""

    def __init__(self, host: HttpHost) -> None:
        self.host = host

    def _json(self, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> HTTPResponse:
        return HTTPResponse(status, orjson.dumps(body), _JSON, headers or [])

    def _envelope(self, request_id: Any, started: float, error: RpcError) -> HTTPResponse:
        return self._json(400, self.host.dispatcher.envelope(request_id, _us_in(started), error=error))

    def _request(self, request: HTTPRequest) -> dict[str, Any] | RpcError:
        """The JSON-RPC request an HTTP request amounts to (or why it is none)."""
        path = request.path.rstrip("/")
        named = unquote(path[len(API_PREFIX) + 1 :]) if path.startswith(API_PREFIX + "/") else ""
        if request.method == "GET":
            spec = self.host.methods.get(named)
            fallback = MethodSpec(named, {}, {})
            params = decode_query(spec or fallback, request.query)
            return {"jsonrpc": "2.0", "method": named, "params": params}
        try:
            body = orjson.loads(request.body) if request.body else {}
        except orjson.JSONDecodeError:
            return RpcError(-32700, "Parse error", {"reason": "the body is not JSON"})
        if not isinstance(body, dict):
            return RpcError(
                -32600, "Invalid Request", {"reason": "the body must be one JSON-RPC request object"}
            )
        method = body.get("method")
        if named and method is not None and method != named:
            return RpcError(-32600, "Invalid Request", {"reason": "the body's method is not the path's"})
        return {**body, "method": method if method is not None else named}

    # -- HttpApi ------------------------------------------------------------------------------

    def route(self, request: HTTPRequest, started: float) -> str | HTTPResponse:
        path = request.path.rstrip("/")
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            return HTTPResponse(
                404, f"Not found: the JSON-RPC API is under {API_PREFIX}/\n".encode(), "text/plain"
            )
        if request.method not in ("GET", "POST"):
            return HTTPResponse(405, b"GET or POST\n", "text/plain", [("Allow", "GET, POST")])
        rpc = self._request(request)
        if isinstance(rpc, RpcError):
            return self._envelope(None, started, rpc)
        self.host._record(rpc)
        method = rpc.get("method")
        return method if isinstance(method, str) and method else "?"

    def respond(self, request: HTTPRequest, key: str, started: float) -> HTTPResponse:
        rpc = self._request(request)
        if isinstance(rpc, RpcError):  # pragma: no cover - route answered it already
            return self._envelope(None, started, rpc)
        answer = self.host.dispatcher.answer(rpc, _us_in(started), "http", None, _authorization(request))
        if answer is None:  # pragma: no cover - only WebSocket-only methods go unanswered
            return HTTPResponse(204)
        return self._json(400 if "error" in answer else 200, answer)

    def fault(
        self, request: HTTPRequest, key: str, fault: RestFault, retry_after: float | None, started: float
    ) -> HTTPResponse:
        headers = [("Retry-After", f"{retry_after:g}")] if retry_after is not None else []
        body = f"mock: forced HTTP {fault.status} for {key}\n".encode()
        return HTTPResponse(fault.status, body, "text/plain", headers)

    def failure(self, request: HTTPRequest, started: float) -> HTTPResponse:
        return self._json(
            500,
            self.host.dispatcher.envelope(None, _us_in(started), error=RpcError(-32603, "Internal error")),
        )
