"""JSON-RPC over HTTP (Deribit): a :class:`~deriv_runtime.transport.Transport` for plain calls.

    async with DeribitClient.over_http("https://test.deribit.com/api/v2") as client:
        book = await client.public.get_order_book(instrument_name="BTC-PERPETUAL")

How Deribit takes a call over HTTP (facts gathered from Deribit's public documentation in 2026;
paraphrased, no text copied):

- The method is the path under the API base URL, which keeps ``/api/v2``:
  ``GET https://test.deribit.com/api/v2/public/get_instruments?currency=BTC&kind=future``
  (docs.deribit.com/articles/deribit-quickstart). The pinned OpenAPI document of the API
  (``deribit-api-v2.0.0.openapi.json``, servers ``https://www.deribit.com/api/v2`` and
  ``https://test.deribit.com/api/v2``) declares every method as ``GET /{scope}/{name}`` with all
  its params ``in: query``.
- Query values: Deribit's HTTP API introduction for API v1 (deribitexchange.gitbooks.io/deribit-api,
  "api-http") says GET arguments are url-encoded per RFC 3986; the v2 pages do not restate it. So a
  space is ``%20`` and ``&`` is ``%26``. The OpenAPI document types query params as ``string``,
  ``integer``, ``number``, ``boolean`` and, once (``ids`` of ``private/get_order_margin_by_ids``),
  ``array`` of strings with ``style: form, explode: true``: one ``ids=...`` pair per item, in order.
  Booleans in ``form`` style are the words ``true`` / ``false`` (also what established clients, e.g.
  gocryptotrader, send). Numbers are written in plain decimal: integers as digits, floats in their
  shortest round-trip form, never with an exponent (``1e-07`` goes out as ``0.0000001``); NaN and
  infinities are refused. Third-party clients disagree on arrays (comma-joined, JSON text,
  ``ids[]=``); the document's ``form``/``explode`` rule is the one followed here.
- No query form is documented for nested objects, arrays of objects, empty arrays or ``null``.
  Deribit's API reference shows every method with the JSON-RPC request object as a JSON body sent
  to ``{base_url}/{method}`` (the cURL example on each docs.deribit.com/api-reference page).
  **Policy here:** with ``http_method="GET"`` such params are sent with POST instead, automatically
  (a DEBUG log line says so, without values). Params whose name says "credential"
  (``client_secret``, ``refresh_token``, ``signature``, ``password`` ...) are POSTed too, so that no
  secret ends up in a URL (servers and proxies log URLs).
- POST: the body is the JSON-RPC 2.0 request ``{"jsonrpc": "2.0", "id": n, "method": ..., "params":
  ...}`` (``n`` counts up per transport), sent to ``{base_url}/{method}``; an answer carrying
  another ``id`` is refused.
- The answer is the JSON-RPC envelope (``result`` or ``error``, plus ``usIn``/``usOut``/``usDiff``/
  ``testnet``; docs.deribit.com/articles/json-rpc-overview). Deribit sends a JSON-RPC error with an
  HTTP error status (400; the pages searched do not state the status, so any status whose body is
  an ``error`` envelope is accepted as the answer). HTTP has no subscriptions and no
  cancel-on-disconnect (JSON-RPC overview): :meth:`JsonRpcHttpTransport.subscribe` refuses.
- Over HTTP the access token travels in the ``Authorization: Bearer <token>`` header
  (docs.deribit.com/articles/authentication): pass ``token=`` (or ``headers=``), or
  ``auth=DeribitAuth(...)`` for tokens granted, refreshed (and re-granted after a 13009) by the
  runtime (:mod:`deriv_runtime.auth.deribit`). ``auth=<Signer>`` (an ``HmacSigner`` or
  ``KeySigner``) signs every request instead: ``Authorization: deri-hmac-sha256 id=..,ts=..,sig=..,
  nonce=..`` over ``ts\nnonce\nMETHOD\nURI\nBODY\n`` where URI and BODY are exactly the path,
  query and body bytes sent (:mod:`deriv_runtime.auth.deribit_signing`); the secret never travels.
  ``basic_auth=(client_id, client_secret)`` sends ``Authorization: Basic`` (the secret on every
  request: discouraged, and only when asked for). Token methods (``public/auth``,
  ``public/fork_token``, ``public/exchange_token``) carry their own credentials and are sent
  without any of these.

Errors: an envelope with ``error`` (any status: Deribit uses 400) is returned, and
:meth:`~deriv_runtime.rpc.BaseRpcClient._call` raises its typed :class:`~deriv_runtime.errors.JsonRpcError`;
HTTP 429 without an envelope raises :class:`~deriv_runtime.errors.TooManyRequests` (``retry_after``
from ``Retry-After``); any other answer that is not an envelope raises :class:`HttpStatusError`
(a ``TransportError`` naming the status) or, for a 2xx, :class:`~deriv_runtime.errors.ResponseError`.
No message carries the answer's body. Cannot connect: ``ConnectionFailed``; the connection dropped
after the request went out: ``ConnectionLost`` (``OutcomeUnknown`` for a call that is not
repeatable); no complete answer within the call's timeout (connect, send, wait and read together):
``CallTimeout``.

Retries: none, except that a call whose :class:`~deriv_runtime.calls.CallInfo` says it is
repeatable is tried once more when the connection could not be opened at all (nothing was sent).
A call without ``info`` counts as not repeatable.

Security: ``http://`` only to loopback hosts (:func:`~deriv_runtime.auth.secure.require_secure`);
TLS verification is httpx's default and never turned off here; redirects are not followed. The
``Authorization`` value (and other credential-looking headers) never shows in ``repr``, in error
messages or in httpx/httpcore log records (:mod:`deriv_runtime._redact`).
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import itertools
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from ._redact import install_http_log_filter, redact_url, scrub_data, secrets_in_flight
from .auth.deribit import TOKEN_METHODS, DeribitAuth
from .auth.deribit_signing import Signer, http_authorization
from .auth.secret import Secret
from .auth.secure import require_secure
from .calls import CallInfo
from .errors import (
    CallTimeout,
    ConnectionFailed,
    ConnectionLost,
    HttpStatusError,
    OutcomeUnknown,
    RequestValidationError,
    ResponseError,
    TooManyRequests,
    TransportClosed,
    TransportError,
)
from .transport import JsonObject

__all__ = ["HttpStatusError", "JsonRpcHttpTransport", "encode_query"]

log = logging.getLogger(__name__)
install_http_log_filter()

#: Deribit method names: ``public/get_time``, ``private/buy`` (no ``..``, ``?`` or ``%`` can sneak in).
_METHOD = re.compile(r"[A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)*")
#: Parameter and header names that carry a credential.
_CREDENTIAL = re.compile(r"secret|token|password|passwd|signature|otp|api[_-]?key|authorization|cookie", re.I)


def _number(name: str, value: float, method: str) -> str:
    if not math.isfinite(value):
        raise RequestValidationError(method, [{"loc": (name,), "msg": f"{value} is not a JSON number"}])
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def _scalar(name: str, value: Any, method: str) -> str | None:
    """The query form of one value, or ``None`` if it has none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _number(name, float(value), method)
    if isinstance(value, str):
        return str.__str__(value)
    return None


def encode_query(method: str, params: Mapping[str, Any]) -> str | None:
    """``params`` as a Deribit query string (without ``?``), or ``None`` if they have no query form
    (nested objects, arrays of objects, empty arrays, ``null``) or carry a credential."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if _CREDENTIAL.search(name):
            return None
        items = value if isinstance(value, list | tuple) else [value]
        if not items:
            return None
        for item in items:
            text = _scalar(name, item, method)
            if text is None:
                return None
            pairs.append((name, text))
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _check_numbers(value: Any, method: str, loc: tuple[Any, ...] = ()) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestValidationError(method, [{"loc": loc, "msg": f"{value} is not a JSON number"}])
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_numbers(item, method, (*loc, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_numbers(item, method, (*loc, index))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _unauthorized(answer: JsonObject) -> bool:
    """A JSON-RPC error saying the token is not (or no longer) valid."""
    error = answer.get("error")
    return isinstance(error, Mapping) and error.get("code") == 13009


def _status_text(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)  # the server's reason phrase is never shown: it could echo anything


class JsonRpcHttpTransport:
    """JSON-RPC calls over HTTP (GET with a query, or POST with the request object as the body).

    ``base_url`` is the API root with its version (``https://www.deribit.com/api/v2``); ``headers``
    are sent with every request, ``token`` adds ``Authorization: Bearer <token>``. A given ``client``
    is used as it is and not closed; otherwise the transport owns one (closed by :meth:`close`).
    ``timeout`` is the default of the owned httpx client; each call's deadline is the ``timeout``
    given to :meth:`request` (``None``: none).
    """

    def __init__(
        self,
        base_url: str,
        *,
        http_method: Literal["GET", "POST"] = "GET",
        headers: Mapping[str, str] | None = None,
        token: str | Secret | None = None,
        auth: DeribitAuth | Signer | None = None,
        basic_auth: tuple[str, str | Secret] | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        if http_method not in ("GET", "POST"):
            raise ValueError(f"http_method must be 'GET' or 'POST', not {http_method!r}")
        require_secure(base_url, "JSON-RPC HTTP endpoint")
        url = httpx.URL(base_url)
        if url.query or url.fragment:
            raise ValueError(f"base_url cannot have a query or fragment: {redact_url(base_url)}")
        self._base = str(url.copy_with(path=url.path.rstrip("/") or "/")).rstrip("/")
        self._host = url.host
        self.http_method: Literal["GET", "POST"] = http_method
        self._headers = {"Accept": "application/json", **dict(headers or {})}
        given = [
            n for n, v in (("token=", token), ("auth=", auth), ("basic_auth=", basic_auth)) if v is not None
        ]
        if any(k.lower() == "authorization" for k in self._headers):
            given.append("an Authorization header")
        if len(given) > 1:
            raise ValueError(f"pass one way to authenticate, not {' and '.join(given)}")
        if token is not None:
            self._headers["Authorization"] = f"Bearer {Secret(token).reveal()}"
        if basic_auth is not None:
            from .auth.deribit_signing import basic_authorization

            self._headers["Authorization"] = basic_authorization(*basic_auth)
        self.auth = auth
        if isinstance(auth, DeribitAuth):
            auth.attach(self._token_call, background=False)
        self._secrets = tuple(
            form
            for name, value in self._headers.items()
            if _CREDENTIAL.search(name)
            for form in (value, value.split(None, 1)[-1])
        )
        self.timeout = timeout
        self._http = client  # made on first use when not given: nothing to close before that
        self._owns_http = client is None
        self._ids = itertools.count(1)
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self._base)!r}, http_method={self.http_method!r})"

    # -- lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        self._closed = True
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._http

    async def __aenter__(self) -> JsonRpcHttpTransport:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- Transport ------------------------------------------------------------------------------

    def subscribe(
        self, payload: JsonObject, *, info: CallInfo | None = None, timeout: float | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[JsonObject]]:
        raise TransportError(
            f"{payload.get('method', 'subscribe')}: subscriptions need the WebSocket transport "
            "(Deribit has no subscriptions over HTTP): use Client.connect(wss_url)"
        )

    async def request(
        self, payload: JsonObject, *, timeout: float | None, info: CallInfo | None = None
    ) -> JsonObject:
        method = payload.get("method")
        if not isinstance(method, str) or not _METHOD.fullmatch(method):
            raise ValueError(f"not a JSON-RPC method name: {method!r}")
        if self._closed:
            raise TransportClosed(f"{method}: the HTTP transport is closed")
        params = payload.get("params") or {}
        if not isinstance(params, Mapping):
            raise RequestValidationError(method, [{"loc": ("params",), "msg": "params must be an object"}])
        try:
            async with asyncio.timeout(timeout):
                answer, credential = await self._exchange(method, params, timeout, info)
                if credential is not None and _unauthorized(answer) and isinstance(self.auth, DeribitAuth):
                    # the token expired or was replaced (a connection-scoped refresh): once more
                    await self.auth.rejected(credential)
                    answer, credential = await self._exchange(method, params, timeout, info)
        except TimeoutError as exc:
            if isinstance(exc, CallTimeout):
                raise
            raise CallTimeout(f"{method}: no answer within {timeout} s") from None
        return answer

    async def _token_call(self, payload: JsonObject) -> JsonObject:
        """How :class:`DeribitAuth` sends its grants over this transport."""
        return await self.request(payload, timeout=self.timeout)

    async def _exchange(
        self, method: str, params: Mapping[str, Any], timeout: float | None, info: CallInfo | None
    ) -> tuple[JsonObject, Secret | None]:
        """Build, authenticate, send and read one request; also the bearer token it carried."""
        request, sent_id = self._build(method, params, timeout)
        auth, credential, secrets = self.auth, None, self._secrets
        if auth is not None and method not in TOKEN_METHODS:
            if isinstance(auth, DeribitAuth):
                credential = await auth.access_token()
                value = f"Bearer {credential.reveal()}"
            else:
                uri = request.url.raw_path.decode("ascii")
                value = http_authorization(auth, request.method, uri, request.content)
            request.headers["Authorization"] = value
            secrets = (*secrets, value, value.split(None, 1)[-1])
        response = await self._send(method, request, info, timeout, secrets)
        return self._read(method, response, sent_id, secrets), credential

    # -- internals ------------------------------------------------------------------------------

    def _build(
        self, method: str, params: Mapping[str, Any], timeout: float | None
    ) -> tuple[httpx.Request, int | None]:
        url = f"{self._base}/{method}"
        query = encode_query(method, params) if self.http_method == "GET" else None
        if self.http_method == "GET" and query is None:
            log.debug("%s: params have no query form (or carry a credential): sent with POST", method)
        if query is not None:
            target = f"{url}?{query}" if query else url
            return self._client().build_request("GET", target, headers=self._headers, timeout=timeout), None
        sent_id = next(self._ids)
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": sent_id, "method": method}
        if params:
            _check_numbers(params, method)
            body["params"] = dict(params)
        try:
            content = orjson.dumps(body)
        except TypeError as exc:
            raise RequestValidationError(
                method, [{"loc": ("params",), "msg": f"not JSON-serialisable: {type(exc).__name__}"}]
            ) from None
        headers = {**self._headers, "Content-Type": "application/json"}
        request = self._client().build_request("POST", url, content=content, headers=headers, timeout=timeout)
        return request, sent_id

    async def _send(
        self,
        method: str,
        request: httpx.Request,
        info: CallInfo | None,
        timeout: float | None,
        secrets: tuple[str, ...],
    ) -> httpx.Response:
        repeatable = info is not None and info.repeatable
        for attempt in (1, 2):
            try:
                with secrets_in_flight(secrets):
                    return await self._client().send(request)
            except httpx.TimeoutException:
                raise CallTimeout(f"{method}: no answer within {timeout} s") from None
            except httpx.ConnectError:
                if repeatable and attempt == 1:
                    log.debug("%s: cannot connect to %s; trying once more", method, self._host)
                    continue
                raise ConnectionFailed(f"{method}: cannot connect to {self._host}") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                if info is not None and not info.repeatable:
                    raise OutcomeUnknown(method, info.check) from None
                raise ConnectionLost(
                    f"{method}: the connection to {self._host} dropped before the answer came"
                ) from None
            except httpx.HTTPError as exc:  # no message: httpx's can carry the URL and its query
                raise TransportError(f"{method}: {type(exc).__name__} talking to {self._host}") from None
        raise AssertionError("unreachable")

    def _read(
        self, method: str, response: httpx.Response, sent_id: int | None, secrets: tuple[str, ...]
    ) -> JsonObject:
        status = response.status_code
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            data = None
        envelope = data if isinstance(data, dict) and ("result" in data or "error" in data) else None
        if envelope is not None and "error" in envelope:  # Deribit answers errors with HTTP 400
            if secrets:
                envelope["error"] = scrub_data(envelope["error"], secrets)
            return envelope
        ok = 200 <= status < 300
        if envelope is not None and ok:
            answered = envelope.get("id")
            if sent_id is not None and answered is not None and answered != sent_id:
                raise ResponseError(f"{method}: the answer carries another request's id (sent {sent_id})")
            return envelope
        if status == 429:
            error = TooManyRequests(method, None, f"HTTP {_status_text(status)}")
            error.retry_after = _retry_after(response)
            raise error
        what = "not JSON" if data is None else "JSON but not a JSON-RPC answer"
        if ok:
            raise ResponseError(f"{method}: the HTTP {_status_text(status)} answer is {what}")
        raise HttpStatusError(
            f"{method}: HTTP {_status_text(status)} from {self._host} ({what}; body not shown)", status
        )
