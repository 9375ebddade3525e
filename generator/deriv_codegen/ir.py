"""Intermediate representation: what a bundle describes, independent of pydantic and Jinja.

Readers (one per bundle layout) produce an :class:`ApiIR`; the model and stub renderers consume it.
Schemas are kept as plain JSON values (``dict``) exactly as read; renderers derive what they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import Problem

JsonSchema = dict[str, Any]


@dataclass(frozen=True)
class WsCall:
    """One WebSocket call: a request keyed by the call name, answered by messages with a ``msg_type``."""

    name: str
    description: str
    request_schema: JsonSchema
    response_schema: JsonSchema
    auth_required: bool
    auth_scopes: tuple[str, ...]
    #: The request accepts ``subscribe`` and the server then keeps sending messages.
    streams: bool
    #: Every ``msg_type`` the call answers with (``ticks_history`` answers with four).
    msg_types: tuple[str, ...]
    source_files: tuple[str, str]


ParamLocation = Literal["path", "query", "header", "cookie"]


@dataclass(frozen=True)
class RestParameter:
    name: str
    location: ParamLocation
    required: bool
    schema: JsonSchema
    description: str = ""


@dataclass(frozen=True)
class RestBody:
    content_type: str
    schema: JsonSchema
    required: bool


@dataclass(frozen=True)
class RestResponse:
    status: str  # "200", "4XX", "default"
    description: str
    content_type: str | None
    schema: JsonSchema | None


@dataclass(frozen=True)
class SecurityRequirement:
    scheme: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class RestOperation:
    method: str  # upper case
    path: str
    summary: str
    description: str
    tags: tuple[str, ...]
    #: Kept for reference only: upstream operationIds are UUIDs, never used for names.
    operation_id: str
    parameters: tuple[RestParameter, ...]
    body: RestBody | None
    responses: tuple[RestResponse, ...]
    #: ``None``: the spec says nothing; ``()``: explicitly no auth.
    security: tuple[SecurityRequirement, ...] | None


@dataclass(frozen=True)
class OAuthFlow:
    kind: str  # "authorizationCode", "clientCredentials", ...
    authorization_url: str
    token_url: str
    scopes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SecurityScheme:
    name: str
    type: str
    flows: tuple[OAuthFlow, ...] = ()


RestShape = Literal["envelope", "flat"]


@dataclass(frozen=True)
class RestShapedSchema:
    """A request/response schema pair in the bundle that describes a REST call, not a WebSocket one.

    ``envelope`` requests wrap parameters in ``headers``/``path``/``query``/``body`` objects; ``flat``
    ones list them directly. The REST client is generated from the OpenAPI document; these pairs are
    classified so that nothing in the bundle goes unaccounted for.
    """

    name: str
    shape: RestShape
    request_schema: JsonSchema
    response_schema: JsonSchema | None


@dataclass(frozen=True)
class BundleInfo:
    source: str
    version: str
    sha256: str
    location: str  # what the user pointed at (cache path, --from argument)


@dataclass
class ApiIR:
    bundle: BundleInfo
    ws_calls: list[WsCall] = field(default_factory=list)
    rest_operations: list[RestOperation] = field(default_factory=list)
    rest_schemas: list[RestShapedSchema] = field(default_factory=list)
    security_schemes: list[SecurityScheme] = field(default_factory=list)
    #: OpenAPI ``components``, for resolving ``$ref`` in REST operations.
    components: JsonSchema = field(default_factory=dict)
    #: The OpenAPI document as published (embedded in generated packages for contract checks).
    openapi: JsonSchema | None = None
    problems: list[Problem] = field(default_factory=list)

    def call(self, name: str) -> WsCall:
        for c in self.ws_calls:
            if c.name == name:
                return c
        raise KeyError(name)
