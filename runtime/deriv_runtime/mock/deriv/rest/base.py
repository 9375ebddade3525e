"""What every REST operation of the mock shares: errors and replies, the context a handler gets,
and :class:`RestBase` - the document, error envelopes in the shape of the operation's error schema,
schema checks of answers, synthesised answers. Behaviours (:mod:`.accounts`, :mod:`.agents`,
:mod:`.legacy`) extend it with handlers; :class:`~.api.RestAPI` combines them.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import orjson

from ...core.http import HTTPRequest, HTTPResponse
from ...core.synth import Synthesiser
from ..oauth import OAuthServer, TokenInfo
from ..platform import Platform
from .openapi import Operation, operations

__all__ = ["Ctx", "ErrorEntry", "Handler", "Reply", "RestBase", "RestError"]

log = logging.getLogger("deriv_runtime.mock.rest")

_PREFERRED_CODES: Mapping[int, tuple[str, ...]] = {
    400: ("ValidationError", "BadInputRequest", "InputError"),
    401: ("Unauthorized", "UnauthorizedAccess"),
    403: ("AccessDenied", "UnauthorizedAccess"),
    404: ("AccountNotFound", "IdentityNotFound", "AgentNotFound", "RequestIDNotFound"),
    422: ("ValidationError", "InputError"),
    429: ("RateLimit",),
}


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


class RestBase:
    """The document and the answer machinery every REST behaviour builds on."""

    def __init__(
        self,
        mock: Platform,
        document: Mapping[str, Any],
        oauth: OAuthServer,
        *,
        check_responses: bool = True,
        seed: int = 0,
    ) -> None:
        self.mock = mock
        self.document = document
        self.oauth = oauth
        self.check_responses = check_responses
        self.operations = operations(document)
        self._by_key = {op.key: op for op in self.operations}
        self._components = document.get("components") or {}
        self._validators: dict[tuple[str, str], Any] = {}
        self._roots: dict[tuple[str, str], dict[str, Any]] = {}
        self.synthesiser = Synthesiser(random.Random(f"{seed}:rest"), now=mock.market.now)  # noqa: S311
        self._rng = random.Random(f"{seed}:rest-data")  # noqa: S311
        #: The mock user's identity.
        self.nickname = "mock_trader"
        self.external_reference_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

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

    # -- answers without behaviour ------------------------------------------------------------

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
