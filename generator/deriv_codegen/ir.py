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


BindingKind = Literal["deriv-ws", "deriv-rest", "jsonrpc-ws", "jsonrpc-http"]


@dataclass(frozen=True)
class Binding:
    """One way an :class:`Operation` goes over the wire.

    ``jsonrpc-ws``: a JSON-RPC 2.0 request whose ``method`` is the operation's name, on the WebSocket.
    ``jsonrpc-http``: the same request over HTTP; ``http_method`` and ``path`` (relative to a server
    URL, which carries the API's base path) say where. The ``deriv-*`` kinds are for the Deriv wires.
    """

    kind: BindingKind
    http_method: str = ""  # upper case; jsonrpc-http / deriv-rest only
    path: str = ""  # "/public/get_order_book"; jsonrpc-http / deriv-rest only


OperationOrigin = Literal["spec", "override"]


@dataclass(frozen=True)
class Operation:
    """One call of an RPC-style API (Deribit: a JSON-RPC method such as ``public/get_order_book``)."""

    #: The wire name: ``public/get_order_book``.
    name: str
    #: ``public`` or ``private``: the client's attribute (``client.public.get_order_book(...)``).
    namespace: str
    #: The Python method name within the namespace: ``get_order_book``.
    method_name: str
    summary: str
    description: str
    #: One JSON object schema of the call's parameters (``properties``, ``required``, descriptions, defaults).
    params_schema: JsonSchema
    #: The schema of the success answer's ``result``; ``$ref``\s resolve against ``ApiIR.components``.
    result_schema: JsonSchema
    auth_required: bool
    #: Scopes the call needs, where known (``("trade:read_write",)``); ``()`` when unknown or none.
    auth_scopes: tuple[str, ...]
    tags: tuple[str, ...]
    bindings: tuple[Binding, ...]
    #: Where it was read: ``"<file>: GET /public/get_order_book"`` or ``"<overrides>: [operations...]"``.
    source: str
    #: ``spec`` when read from the bundle, ``override`` when described by the project's override file.
    origin: OperationOrigin = "spec"
    #: ``False``: the server sends no answer (``private/logout`` closes the connection instead).
    answered: bool = True


@dataclass(frozen=True)
class ChannelParameter:
    """One ``{placeholder}`` of a channel name template."""

    name: str
    schema: JsonSchema
    description: str = ""


@dataclass(frozen=True)
class Channel:
    """A subscription channel: ``ticker.{instrument_name}.{interval}`` and what its notifications carry."""

    #: The name template, placeholders in braces.
    name: str
    #: One per placeholder, in template order.
    parameters: tuple[ChannelParameter, ...]
    #: The schema of a notification's ``params.data``.
    notification_schema: JsonSchema
    summary: str
    description: str
    #: Subscribed with ``private/subscribe`` (needs authentication) rather than ``public/subscribe``.
    private: bool
    tags: tuple[str, ...]
    source: str


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
    #: RPC-style operations (Deribit), sorted by name.
    operations: list[Operation] = field(default_factory=list)
    #: Subscription channels (Deribit), sorted by name template.
    channels: list[Channel] = field(default_factory=list)
    #: ``(url, description)`` of each HTTP server, base path included (``https://.../api/v2``).
    servers: list[tuple[str, str]] = field(default_factory=list)
    #: ``(url, description)`` of each WebSocket endpoint, where known.
    ws_servers: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def call(self, name: str) -> WsCall:
        for c in self.ws_calls:
            if c.name == name:
                return c
        raise KeyError(name)

    def operation(self, name: str) -> Operation:
        for op in self.operations:
            if op.name == name:
                return op
        raise KeyError(name)

    def channel(self, name: str) -> Channel:
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(name)
