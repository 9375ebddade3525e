"""Contract checks: answers validated against the published JSON schema (strict mode).

Uses jsonschema-rs (about 100x faster than the pure-Python ``jsonschema`` here); validators are
compiled once per call and schema, on first use.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

from .calls import CallInfo
from .drift import Drift, DriftError, json_type, render_path
from .errors import ResponseError
from .schemas import load_schemas


@functools.cache
def _single_msg_types(package: str) -> dict[str, str]:
    """msg_type -> call, for message types only one call answers with (``tick`` -> ``ticks``)."""
    found: dict[str, str] = {}
    for name, call in load_schemas(package).calls.items():
        enum = call.response.get("properties", {}).get("msg_type", {}).get("enum")
        if isinstance(enum, list) and len(enum) == 1:
            found[str(enum[0])] = name
    return found


@functools.cache
def _validator(package: str, call: str) -> Any:
    import jsonschema_rs

    schemas = load_schemas(package)
    return jsonschema_rs.validator_for(dict(schemas.calls[call].response))


def check_response(package: str, info: CallInfo, message: Mapping[str, Any]) -> None:
    """Raise :class:`~deriv_runtime.drift.DriftError` (a :class:`ResponseError`) if ``message``
    breaks its schema: its text names the first ten violations by path, its ``drift`` every one."""
    if not package or "error" in message:
        return
    msg_type = message.get("msg_type")
    single = _single_msg_types(package)
    schema_of = single.get(msg_type, info.name) if isinstance(msg_type, str) else info.name
    validator = _validator(package, schema_of)
    found = sorted(
        (
            (f"{'/'.join(str(p) for p in e.instance_path) or '<root>'}: {_without_value(e)}", _drift(e))
            for e in validator.iter_errors(message)
        ),
        key=lambda item: item[0],
    )
    if found:
        text = f"{info.name}: the answer breaks its schema: " + "; ".join(t for t, _ in found[:10])
        raise DriftError(text, [d for _, d in found], raw=dict(message))


def _drift(error: Any) -> Drift:
    """A schema violation as a :class:`~deriv_runtime.drift.Drift` (its path, the rule, the JSON
    type that came; a missing required property: its own path, ``missing``)."""
    path: tuple[str | int, ...] = tuple(error.instance_path)
    keyword = str(getattr(error.kind, "name", "")) or "invalid"
    got = json_type(error.instance)
    missing = getattr(error.kind, "property", None) if keyword == "required" else None
    if isinstance(missing, str):
        path, got = (*path, missing), "missing"
    folded = tuple("[*]" if isinstance(p, int) else p for p in path)
    return Drift(path, render_path(folded), _without_value(error), got, keyword)


def _without_value(error: Any) -> str:
    """The violation without the offending value (an answer may carry a token or an OTP URL)."""
    import json

    text = str(error.message)
    if isinstance(error.instance, dict | list):
        return text
    shown = json.dumps(error.instance, ensure_ascii=False)
    return text.replace(shown, "the value") if shown else text


# -- REST: requests and answers checked against the OpenAPI document with openapi-core ----------


@functools.cache
def _openapi(package: str) -> Any:
    try:
        from openapi_core import OpenAPI
    except ImportError:
        raise ImportError(
            "strict REST mode validates with openapi-core: pip install 'deriv-runtime[contract]'"
        ) from None
    from .schemas import load_openapi

    return OpenAPI.from_dict(dict(load_openapi(package)))


class _Request:
    """An :class:`httpx.Request` as openapi-core's request protocol sees it."""

    def __init__(self, request: Any) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self._request = request
        url = request.url
        self.host_url: str = f"{url.scheme}://{url.netloc.decode()}"
        self.path: str = url.path
        self.method = request.method.lower()
        self.content_type = request.headers.get("content-type", "")
        self.body = request.content or None
        query = ImmutableMultiDict(list(url.params.multi_items()))
        headers = Headers(dict(request.headers))
        self.parameters = RequestParameters(query=query, header=headers, cookie=ImmutableMultiDict())

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


class _Response:
    def __init__(self, response: Any) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))
        self.data = response.content or None


def check_rest(package: str, request: Any, response: Any) -> None:
    """Raise :class:`ResponseError` if the exchange breaks the OpenAPI document (openapi-core)."""
    api = _openapi(package)
    req = _Request(request)
    with warnings.catch_warnings():
        # openapi-core cannot check oauth2 security itself; the client already sent the bearer token.
        warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
        problems = [f"request: {_describe(e)}" for e in api.iter_request_errors(req)]
        problems += [f"response: {_describe(e)}" for e in api.iter_response_errors(req, _Response(response))]
    if problems:
        where = f"{request.method} {request.url.path}"
        raise ResponseError(f"{where}: breaks the OpenAPI contract: " + "; ".join(problems))


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    inner = getattr(exc, "schema_errors", None) or getattr(cause, "schema_errors", None)
    if inner:
        return f"{exc}: " + "; ".join(str(getattr(e, "message", e)) for e in inner)
    return str(exc)
