"""Intermediate representation: what a bundle describes, independent of pydantic and Jinja.

Readers (one per bundle layout) produce an :class:`ApiIR`; the model and stub renderers consume it.
Schemas are kept as plain JSON values (``dict``) exactly as read; renderers derive what they need.

Every call, whatever the wire, is an :class:`Operation` (parameters, result, auth, streaming) with
one or more :class:`Binding` entries saying how it goes over the wire: ``deriv-ws`` (a Deriv WebSocket
call: ``{"ticks": "R_100"}``, answered by messages carrying a ``msg_type``), ``deriv-rest`` (an HTTP
request of the Deriv REST API: method, path, where each parameter goes), ``jsonrpc-ws`` and
``jsonrpc-http`` (a Deribit JSON-RPC method). A Deriv call that keeps answering after ``subscribe: 1``
says so in :attr:`Operation.streaming`; Deribit's subscription channels are :class:`Channel` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import Problem

JsonSchema = dict[str, Any]


#: Where a ``deriv-rest`` parameter goes: in the URL path, the query string, a header, a cookie, or
#: (the one parameter named :data:`BODY`) as the whole request body.
ParamLocation = Literal["path", "query", "header", "cookie", "body"]
#: The name of the request body among a ``deriv-rest`` operation's parameters.
BODY = "body"


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

    ``deriv-ws``: a JSON object on the Deriv WebSocket whose :attr:`Operation.request_key` property
    names the call (``{"ticks": "R_100"}``); each answer carries one of ``msg_types`` as ``msg_type``.
    ``deriv-rest``: an HTTP request (``http_method``, ``path`` with ``{placeholders}``); ``locations``
    says where each parameter of :attr:`Operation.params_schema` goes, ``responses`` lists every answer
    the spec describes and ``security`` its requirements as published.
    ``jsonrpc-ws``: a JSON-RPC 2.0 request whose ``method`` is the operation's name, on the WebSocket.
    ``jsonrpc-http``: the same request over HTTP; ``http_method`` and ``path`` (relative to a server
    URL, which carries the API's base path) say where.
    """

    kind: BindingKind
    http_method: str = ""  # upper case; jsonrpc-http / deriv-rest only
    path: str = ""  # "/public/get_order_book"; jsonrpc-http / deriv-rest only
    #: deriv-ws only: every ``msg_type`` the call answers with (``ticks_history`` answers with four).
    msg_types: tuple[str, ...] = ()
    #: deriv-rest only: ``(parameter, location)`` for every parameter, in the spec's order.
    locations: tuple[tuple[str, ParamLocation], ...] = ()
    #: deriv-rest only: the media type of the request body (``application/json``), if it has one.
    body_content_type: str = ""
    #: deriv-rest only: every answer, by status (``200``, ``404``, ``101``...), in the spec's order.
    responses: tuple[RestResponse, ...] = ()
    #: deriv-rest only: ``None``: the spec says nothing; ``()``: explicitly no auth.
    security: tuple[SecurityRequirement, ...] | None = None


StreamingKind = Literal["deriv-subscribe"]


@dataclass(frozen=True)
class Streaming:
    """How an operation keeps answering after its first answer.

    ``deriv-subscribe``: the request accepts ``subscribe: 1``; the server then keeps sending messages,
    each carrying one of ``msg_types``, until the subscription is ended (``forget``). Deribit's streams
    are not operations that stream but subscription channels (:attr:`ApiIR.channels`).
    """

    kind: StreamingKind
    #: Every ``msg_type`` a message of the stream may carry.
    msg_types: tuple[str, ...]


OperationOrigin = Literal["spec", "override"]


@dataclass(frozen=True)
class Operation:
    """One call of an API, whatever the wire: a Deriv WebSocket call such as ``ticks`` (binding
    ``deriv-ws``) or a Deribit JSON-RPC method such as ``public/get_order_book`` (``jsonrpc-*``)."""

    #: The wire name: ``public/get_order_book``, ``ticks``.
    name: str
    #: ``public`` or ``private``: the client's attribute (``client.public.get_order_book(...)``);
    #: ``""`` where the API has no namespaces (Deriv).
    namespace: str
    #: The Python method name (within the namespace, if any): ``get_order_book``, ``ticks``.
    method_name: str
    summary: str
    description: str
    #: One JSON object schema of the call's parameters (``properties``, ``required``, descriptions,
    #: defaults). ``deriv-ws``: the whole request object as published (``ticks``, ``subscribe``,
    #: ``req_id``... and the ``auth_*`` keys); ``deriv-rest``: one property per path, query, header and
    #: cookie parameter (its description the parameter's) and :data:`BODY` for the request body.
    params_schema: JsonSchema
    #: The schema of the success answer: JSON-RPC: its ``result``; ``deriv-ws``: the whole answer
    #: message, ``msg_type`` included; ``deriv-rest``: the first 2xx answer's (``{}``: none; every
    #: answer is in the binding). ``$ref``\s resolve against ``ApiIR.components``.
    result_schema: JsonSchema
    auth_required: bool
    #: Scopes the call needs, where known (``("trade:read_write",)``); ``()`` when unknown or none.
    auth_scopes: tuple[str, ...]
    tags: tuple[str, ...]
    bindings: tuple[Binding, ...]
    #: Where it was read: ``"<file>: GET /public/get_order_book"``, ``"<overrides>: [operations...]"``,
    #: ``"ticks_request.schema.json"``. A ``deriv-rest`` operation's name is ``"GET /v1/health"``.
    source: str
    #: ``spec`` when read from the bundle, ``override`` when described by the project's override file.
    origin: OperationOrigin = "spec"
    #: ``False``: the server sends no answer (``private/logout`` closes the connection instead).
    answered: bool = True
    #: ``None``: one answer per request.
    streaming: Streaming | None = None
    #: ``deriv-ws``: the request property that names the call and carries its main argument
    #: (``ticks`` in ``{"ticks": "R_100"}``); ``""`` for other wires.
    request_key: str = ""
    #: The bundle files it was read from (``deriv-ws``: the request and response schema files).
    source_files: tuple[str, ...] = ()
    #: Sample requests as published (the legacy v3 documentation's ``example.json``), for tests and docs;
    #: never trusted to be valid (some upstream examples break their own schema).
    examples: tuple[Any, ...] = ()

    def binding(self, kind: BindingKind) -> Binding:
        """The operation's binding of that kind (:class:`KeyError` if it has none)."""
        for b in self.bindings:
            if b.kind == kind:
                return b
        raise KeyError(kind)


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
    rest_schemas: list[RestShapedSchema] = field(default_factory=list)
    security_schemes: list[SecurityScheme] = field(default_factory=list)
    #: OpenAPI ``components``, for resolving ``$ref`` in ``deriv-rest`` and JSON-RPC operations.
    components: JsonSchema = field(default_factory=dict)
    #: The OpenAPI document as published (embedded in generated packages for contract checks).
    openapi: JsonSchema | None = None
    #: Every call, as read: Deribit's sorted by name; Deriv's REST operations in the spec's order, then
    #: its WebSocket calls by schema file name.
    operations: list[Operation] = field(default_factory=list)
    #: Subscription channels (Deribit), sorted by name template.
    channels: list[Channel] = field(default_factory=list)
    #: ``(url, description)`` of each HTTP server, base path included (``https://.../api/v2``).
    servers: list[tuple[str, str]] = field(default_factory=list)
    #: ``(url, description)`` of each WebSocket endpoint, where known.
    ws_servers: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def bound(self, kind: BindingKind) -> list[Operation]:
        """The operations that have a binding of that kind, in IR order."""
        return [op for op in self.operations if any(b.kind == kind for b in op.bindings)]

    def binding_kinds(self) -> set[BindingKind]:
        """Every wire the operations go over."""
        return {b.kind for op in self.operations for b in op.bindings}

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
