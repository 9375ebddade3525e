"""Base classes of the generated REST clients (async and sync twins over one shared core).

A generated method gathers its path, query and body arguments and calls ``_request`` with the
operation's :class:`RestOperation`. This module adds ``Deriv-App-ID`` where the operation declares
it, the bearer token where the operation needs auth (refreshing once on a 401), refuses plain
``http://`` for authenticated calls except on loopback, maps error statuses to typed exceptions
(:class:`~deriv_runtime.errors.RestError` and its subclasses) and parses success answers into
the operation's response model. TLS verification is httpx's default and is never turned off here.

Path parameters are percent-encoded as one segment each (``/``, ``?``, ``#`` cannot change the
path or add a query; ``.``, ``..`` and empty values are refused). Error messages never carry a
credential a server echoes back: the request's bearer token and the secrets of its body (its
``SecretStr`` fields) are masked, and so are credential-looking pairs, ``Bearer`` values and URL
queries (:func:`deriv_runtime._redact.scrub`); the same goes for httpx's and httpcore's log records.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, SecretStr, ValidationError

from ._redact import install_http_log_filter, redact_url, scrub, scrub_data, secrets_in_flight
from .auth.credentials import authorization_header
from .auth.secure import is_loopback_host

if TYPE_CHECKING:
    from .auth import Credentials
from .errors import (
    BadRequest,
    CallTimeout,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    RequestValidationError,
    ResponseError,
    RestError,
    ServerError,
    TransportError,
    Unauthorized,
    UnprocessableEntity,
    problems,
)

T = TypeVar("T")
_ERRORS: dict[int, type[RestError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: UnprocessableEntity,
    429: RateLimited,
}
install_http_log_filter()


@dataclass(frozen=True)
class RestOperation:
    name: str  # the method name
    method: str
    path: str
    needs_auth: bool
    app_id_header: str | None
    #: status -> response model (``None``: no body) for the success statuses.
    responses: Mapping[str, type[BaseModel] | None]


def _reveal(value: Any, found: list[str]) -> Any:
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
        return found[-1]
    if isinstance(value, dict):
        return {k: _reveal(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v, found) for v in value]
    return value


def encode_body(
    op: RestOperation,
    body_type: type[BaseModel] | None,
    body: Mapping[str, Any] | None,
    secrets: list[str] | None = None,
) -> bytes | None:
    """The JSON body; the values of its secret fields are appended to ``secrets``."""
    if body is None or body_type is None:
        return None
    try:
        model = body_type.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(op.name, exc.errors(include_input=False, include_url=False)) from None
    found: list[str] = [] if secrets is None else secrets
    return orjson.dumps(_reveal(model.model_dump(by_alias=True, exclude_unset=True), found))


def build_path(op: RestOperation, path_params: Mapping[str, Any]) -> str:
    """``op.path`` with each ``{name}`` replaced by its value, percent-encoded as one segment."""
    path = op.path
    for name, value in path_params.items():
        text = str(value)
        if text in ("", ".", ".."):
            problem = "empty" if not text else f"{text!r} (a relative path segment)"
            raise RequestValidationError(
                op.name, [{"loc": (name,), "msg": f"a path parameter cannot be {problem}"}]
            )
        path = path.replace("{" + name + "}", quote(text, safe=""))
    return path


def request_secrets(request: httpx.Request, known: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The secret values ``request`` carries: ``known`` plus its Authorization header's credential."""
    header = request.headers.get("Authorization")
    if not header:
        return known
    return (*known, header, header.split(None, 1)[-1])


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def raise_for_status(op: RestOperation, response: httpx.Response, secrets: tuple[str, ...] = ()) -> None:
    """Raise the :class:`RestError` of an error status, its text scrubbed of the request's secrets."""
    status = response.status_code
    if 200 <= status < 300:
        return
    secrets = request_secrets(response.request, secrets)
    errors: list[Mapping[str, Any]] = []
    code, message = "", response.reason_phrase
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        items = payload.get("errors")
        if isinstance(items, list) and items and isinstance(items[0], dict):
            errors = [e for e in items if isinstance(e, dict)]
            first = errors[0]
            detail = first.get("detail")
            detail = detail if isinstance(detail, dict) else {}
            code = str(first.get("code", ""))
            message = str(first.get("message") or detail.get("message") or message)
        elif isinstance(payload.get("error"), str):
            code, message = payload["error"], str(payload.get("error_description", message))
    cls = _ERRORS.get(status, ServerError if status >= 500 else RestError)
    error = cls(
        op.name,
        status,
        scrub(code, secrets) or f"HTTP{status}",
        scrub(message, secrets),
        [scrub_data(e, secrets) for e in errors],
    )
    if isinstance(error, RateLimited):
        error.retry_after = _retry_after(response)
    error.status = status
    raise error


def parse_answer(
    op: RestOperation, response: httpx.Response, secrets: tuple[str, ...] = (), strict: bool = False
) -> Any:
    """The success answer as its model. One that drifts from its schema is read field by field, the
    drift reported on the result (:mod:`deriv_runtime.drift`); ``strict`` (or an answer that cannot
    be read at all): :class:`ResponseError`, every broken field by path, echoed secrets masked."""
    raise_for_status(op, response, secrets)
    model = op.responses.get(str(response.status_code))
    if model is None:
        if str(response.status_code) not in op.responses and op.responses:
            model = next((m for m in op.responses.values() if m is not None), None)
        if model is None:
            return None
    text_answer = "json" not in response.headers.get("content-type", "application/json")
    try:
        if text_answer:
            return model.model_validate(response.text)  # e.g. a plain-text health answer
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        error = exc
    what = f"{op.name}: cannot read the HTTP {response.status_code} answer"
    if not strict:
        try:
            value = response.text if text_answer else orjson.loads(response.content)
            from .drift import read_drifted  # only for an answer that drifted

            return read_drifted(model, value, error, call=op.name, what=what, raw=value)
        except (orjson.JSONDecodeError, ResponseError):
            pass  # not JSON, or nothing to read: the error below, its text scrubbed
    text = scrub(problems(error), request_secrets(response.request, secrets))
    raise ResponseError(f"{what}: {text}") from None


#: Joined URLs a client keeps (:meth:`_RestCore._build`).
_MAX_URLS = 1024


class _RestCore:
    _schema_package: str = ""
    _default_base_url: str = ""

    def __init__(
        self,
        *,
        app_id: str | None = None,
        credentials: Credentials | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        strict: bool = False,
    ) -> None:
        url = httpx.URL(base_url or self._default_base_url)
        if url.scheme not in ("https", "http"):
            raise ValueError(f"base_url must be an http(s) URL, not {redact_url(str(url))}")
        if url.scheme == "http" and credentials is not None and not is_loopback_host(url.host):
            raise TransportError(
                f"refusing to send credentials over plain http to {url.host}: use https (http: loopback only)"
            )
        self.base_url = url
        #: path -> ``base_url`` joined with it (httpx parses both on every join: a sixth of a call).
        self._urls: dict[str, httpx.URL] = {}
        self.app_id = app_id
        self.credentials = credentials
        self.timeout = timeout
        self.strict = strict

    def __repr__(self) -> str:
        auth = type(self.credentials).__name__ if self.credentials is not None else "no credentials"
        return f"{type(self).__name__}({self.base_url}, app_id={self.app_id!r}, {auth})"

    def _prepare(
        self,
        op: RestOperation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body_type: type[BaseModel] | None,
        body: Mapping[str, Any] | None,
    ) -> _Prepared:
        path = build_path(op, path_params)
        params = {k: v for k, v in query.items() if v is not None}
        headers = {"Accept": "application/json"}
        if op.app_id_header:
            if not self.app_id:
                raise ValueError(f"{op.name} needs your app id: pass app_id=... to the client")
            headers[op.app_id_header] = self.app_id
        secrets: list[str] = []
        content = encode_body(op, body_type, body, secrets)
        if content is not None:
            headers["Content-Type"] = "application/json"
        if op.needs_auth and self.credentials is None:
            raise ValueError(f"{op.name} needs authentication: pass credentials (a token) to the client")
        return _Prepared(path, params, headers, content, tuple(secrets))

    def _build(
        self,
        http: httpx.AsyncClient | httpx.Client,
        op: RestOperation,
        prepared: _Prepared,
        token: Any,
        timeout: float | None,
    ) -> httpx.Request:
        headers = prepared.headers
        if token is not None:
            headers = {**headers, "Authorization": authorization_header(token)}
        url = self._urls.get(prepared.path)
        if url is None:
            if len(self._urls) >= _MAX_URLS:  # paths carry parameters: bounded
                self._urls.clear()
            url = self._urls[prepared.path] = self.base_url.join(prepared.path)
        return http.build_request(
            op.method,
            url,
            params=prepared.params,
            headers=headers,
            content=prepared.content,
            timeout=timeout or self.timeout,
        )

    def _failed(self, op: RestOperation, exc: httpx.HTTPError, timeout: float | None) -> TransportError:
        if isinstance(exc, httpx.TimeoutException):
            return CallTimeout(f"{op.name}: no answer within {timeout or self.timeout} s")
        return TransportError(f"{op.name}: {type(exc).__name__} talking to {self.base_url.host}")

    @staticmethod
    def _should_refresh(response: httpx.Response, token: Any, attempt: int) -> bool:
        return response.status_code == 401 and token is not None and attempt == 1

    def _check_contract(
        self, request: httpx.Request, response: httpx.Response, secrets: tuple[str, ...]
    ) -> None:
        if self.strict and self._schema_package:
            from .contract import check_rest

            try:
                check_rest(self._schema_package, request, response)
            except ResponseError as exc:
                text = scrub(str(exc), request_secrets(request, secrets))
            else:
                return
            raise ResponseError(text)  # outside the except block: the unscrubbed error is not kept


@dataclass(frozen=True)
class _Prepared:
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    content: bytes | None
    #: Secret values of the body, masked in error messages and log records.
    secrets: tuple[str, ...] = field(default=(), repr=False)


class AsyncRestClient(_RestCore):
    """Async REST client over :class:`httpx.AsyncClient` (one connection pool per client)."""

    def __init__(self, *, http: httpx.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._http = http or httpx.AsyncClient(timeout=self.timeout)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _request(
        self,
        op: RestOperation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body_type: type[BaseModel] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        prepared = self._prepare(op, path_params, query, body_type, body)
        for attempt in (1, 2):
            token = await self.credentials.bearer() if op.needs_auth and self.credentials else None
            request = self._build(self._http, op, prepared, token, timeout)
            try:
                with secrets_in_flight(request_secrets(request, prepared.secrets)):
                    response = await self._http.send(request)
            except httpx.HTTPError as exc:
                raise self._failed(op, exc, timeout) from None
            if self._should_refresh(response, token, attempt) and self.credentials and token:
                await self.credentials.invalidate(token)  # refreshes, once for all callers
                if await self.credentials.bearer() != token:
                    continue  # a fresh token: try once more
            self._check_contract(request, response, prepared.secrets)
            return parse_answer(op, response, prepared.secrets, self.strict)
        raise AssertionError("unreachable")


class SyncRestClient(_RestCore):
    """Blocking REST client over :class:`httpx.Client`."""

    def __init__(self, *, http: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._http = http or httpx.Client(timeout=self.timeout)
        self._owns_http = http is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _request(
        self,
        op: RestOperation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body_type: type[BaseModel] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        prepared = self._prepare(op, path_params, query, body_type, body)
        for attempt in (1, 2):
            token = self.credentials.bearer_sync() if op.needs_auth and self.credentials else None
            request = self._build(self._http, op, prepared, token, timeout)
            try:
                with secrets_in_flight(request_secrets(request, prepared.secrets)):
                    response = self._http.send(request)
            except httpx.HTTPError as exc:
                raise self._failed(op, exc, timeout) from None
            if self._should_refresh(response, token, attempt) and self.credentials and token:
                self.credentials.invalidate_sync(token)
                if self.credentials.bearer_sync() != token:
                    continue
            self._check_contract(request, response, prepared.secrets)
            return parse_answer(op, response, prepared.secrets, self.strict)
        raise AssertionError("unreachable")
