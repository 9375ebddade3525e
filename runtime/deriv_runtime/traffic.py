"""Recorded traffic checked against one release of an API: the contract check behind
``deriv-check`` / ``deriv-codegen check`` and :func:`deriv_runtime.testing.assert_traffic_matches`.

**What is read** (:func:`read_recording`): a JSON file holding one message or an array of them, or a
JSON Lines file (one message, or an array of messages, a line). Each message is what went over the
wire: a request or an answer of the Deriv WebSocket APIs, a JSON-RPC request, answer or notification
of Deribit, or a REST exchange written as ``{"method": "POST", "path": "/...", "body": {...},
"status": 200, "response": {...}}`` (``url`` instead of ``path``, ``body``, ``status`` and ``response``
optional). A line or file that is not JSON, or a value that is not an object, is *garbage*: counted,
shown, never fatal.

**How a message's call is told** (from its content only):

* Deriv WebSocket (Options and v3): an answer by its ``msg_type`` (``tick`` is the answer of
  ``ticks``: a message type only one call answers with is that call's), else by the call named in its
  ``echo_req``; a request by its first key that names a call (``{"ticks": "R_100", ...}``).
* Deribit JSON-RPC: a request by its ``method``; an answer by the method of the request with the same
  ``id`` in the same recording (file), else the ``method`` given to the check; a notification
  (``"method": "subscription"``) by its ``params.channel`` matched against the channel templates
  (``ticker.{instrument_name}.{interval}``); ``heartbeat`` notifications are known and carry nothing
  to check.
* REST (the Options package's OpenAPI document): by method and path template
  (``POST /trading/v1/options/accounts``).

Anything else is an *unknown call*, with the reason (a call the release does not have, an answer
whose request is not in the recording...).

**Verdicts.** Every message is checked twice:

* *strict*: against the published JSON schema, exactly; every violation is named by its path
  (``proposal_open_contract.audit_details.all_ticks[*].epoch``, list indexes folded) and the schema
  keyword it breaks (``type``, ``required``, ``additionalProperties``, ``pattern``, ``enum``...);
* *tolerant*: would the generated client read it. Answers are checked against the schema the client's
  tolerant models are generated from (:func:`tolerant_schema`): unknown fields allowed, required
  fields optional (a Deriv answer's ``msg_type`` excepted), enums read as their base type, patterns,
  bounds, lengths and formats not checked; what remains is the JSON types. Requests have no tolerant
  reading: the client builds them strictly and the server checks them, so their tolerant verdict is
  their strict one.

A message is ``ok`` (no violation), ``drift`` (strict violations only: the client reads it), or
``broken`` (the client cannot read it as typed); an ``error`` answer (Deriv's ``error``, JSON-RPC's
``error``) is the server refusing a request, counted and not checked (REST error statuses are checked
against the documented error schema). :class:`Report` counts them per call, per path and per rule,
with the first example of each; :meth:`Report.exit_status` applies a policy
(``strict``/``tolerant``/``never``).

Secrets never reach a report: values of fields whose name says credential (token, password, secret,
signature, api key, authorization, OTP, verification code...) or that the schema marks ``sensitive``
are replaced by ``***`` in examples, and violation texts never carry the offending value.

Schemas come from a generated package (:meth:`Contract.from_package`: its ``schemas.json`` and
``openapi.json``) or from documents (:meth:`Contract.from_documents`: what ``deriv-codegen check``
reads from a pinned release or a bundle).
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ._redact import MASK, scrub
from .schema_tolerance import json_type, tolerant_schema
from .schemas import CallSchemas, load_openapi, load_schemas

if TYPE_CHECKING:
    from .mock.deriv.rest.openapi import Operation as RestOperation

__all__ = [
    "FAIL_ON",
    "Checked",
    "Contract",
    "Example",
    "Garbage",
    "Report",
    "Tally",
    "Violation",
    "check_files",
    "check_messages",
    "mask",
    "read_recording",
    "tolerant_schema",
]

Kind = Literal["request", "response", "notification"]
Status = Literal["ok", "drift", "broken", "error", "unknown", "garbage"]
#: Exit policies: fail on any strict violation, only on what breaks the tolerant reader, or never.
FAIL_ON = ("strict", "tolerant", "never")
FailOn = Literal["strict", "tolerant", "never"]

#: Field names whose values are credentials (masked in examples).
SECRET_NAME = re.compile(
    r"token|passw(or)?d|secret|signature|api_?key|authori[sz]ation|otp|verifier|verification_code"
    r"|cookie|private_key|session_id",
    re.IGNORECASE,
)
_ROOT = "<message>"
_ANY_INDEX = "[*]"
#: At most this many characters of a garbage line are shown.
GARBAGE_SHOWN = 120
_REST_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"})


# -- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a message breaks its schema. Never holds the offending value."""

    #: Where, as wire names with list indexes folded (``account_list[*].currency``; ``<message>``).
    path: str
    #: The JSON-schema keyword broken (``type``, ``required``, ``additionalProperties``...).
    rule: str
    #: The validator's explanation, the value left out.
    detail: str
    #: Whether the tolerant reader ignores it (a strict-only violation: drift).
    tolerated: bool

    def __str__(self) -> str:
        return f"{self.path}: {self.detail} ({self.rule})"


@dataclass(frozen=True, slots=True)
class Checked:
    """The verdict on one message."""

    #: ``file:line`` (JSON Lines), ``file[3]`` (a JSON array), ``file`` (one JSON message).
    location: str
    status: Status
    #: ``request``, ``response`` or ``notification``; ``None`` for garbage.
    kind: Kind | None = None
    #: The call (``balance``, ``private/buy``, ``ticker.{instrument_name}.{interval}``,
    #: ``POST /trading/v1/options/accounts``); ``None`` when unknown.
    call: str | None = None
    violations: tuple[Violation, ...] = ()
    #: Why the call is unknown, or why the line is garbage.
    reason: str = ""
    #: The message with its secrets masked (garbage: the text, masked and shortened).
    message: Any = None

    @property
    def strict_ok(self) -> bool:
        return self.status in ("ok", "error")

    @property
    def tolerant_ok(self) -> bool:
        return self.status in ("ok", "drift", "error")


@dataclass(frozen=True, slots=True)
class Garbage:
    """What :func:`read_recording` yields for a line or value that is not a JSON object."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Example:
    """The first occurrence of something counted: where, what, and the message (secrets masked)."""

    location: str
    call: str | None
    kind: Kind | None
    message: Any
    violation: Violation | None = None
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"location": self.location, "call": self.call, "kind": self.kind}
        if self.violation is not None:
            v = self.violation
            out.update(path=v.path, rule=v.rule, detail=v.detail, tolerated=v.tolerated)
        if self.reason:
            out["reason"] = self.reason
        out["message"] = self.message
        return out


@dataclass(slots=True)
class Tally:
    """How many, and the first example."""

    count: int = 0
    #: Of :attr:`count`, how many break the tolerant reader (paths and rules) / how many
    #: messages are ``broken`` (calls).
    broken: int = 0
    first: Example | None = None
    #: Per status (calls only): ``{"ok": 3, "drift": 1}``.
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, example: Example, *, broken: bool = False, status: str | None = None) -> None:
        self.count += 1
        self.broken += broken
        if status is not None:
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if self.first is None:
            self.first = example

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "broken": self.broken}
        if self.statuses:
            out["statuses"] = dict(self.statuses)
        out["first"] = self.first.as_json() if self.first is not None else None
        return out


@dataclass
class Report:
    """What a check found: every verdict (:attr:`results`) and the counts a drift report shows."""

    source: str
    version: str
    files: list[str] = field(default_factory=list)
    results: list[Checked] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.statuses: dict[str, int] = dict.fromkeys(
            ("ok", "drift", "broken", "error", "unknown", "garbage"), 0
        )
        #: ``"balance (response)"`` -> messages of that call and kind.
        self.calls: dict[str, Tally] = {}
        #: ``"balance (response) balance.balance [type]"`` -> violations of that rule there.
        self.paths: dict[str, Tally] = {}
        #: ``"type"`` -> violations of that rule.
        self.rules: dict[str, Tally] = {}
        #: reason (naming the call) -> unknown messages.
        self.unknown: dict[str, Tally] = {}
        self.garbage = Tally()
        for result in list(self.results):
            self._count(result)

    def add(self, result: Checked) -> None:
        self.results.append(result)
        self._count(result)

    def _count(self, r: Checked) -> None:
        self.statuses[r.status] += 1
        example = Example(r.location, r.call, r.kind, r.message, reason=r.reason)
        if r.status == "garbage":
            self.garbage.add(example)
            return
        if r.status == "unknown":
            self.unknown.setdefault(r.reason, Tally()).add(example)
            return
        key = f"{r.call} ({r.kind})"
        self.calls.setdefault(key, Tally()).add(example, broken=r.status == "broken", status=r.status)
        for v in r.violations:
            seen = Example(r.location, r.call, r.kind, r.message, violation=v)
            self.paths.setdefault(f"{key} {v.path} [{v.rule}]", Tally()).add(seen, broken=not v.tolerated)
            self.rules.setdefault(v.rule, Tally()).add(seen, broken=not v.tolerated)

    @property
    def messages(self) -> int:
        """Messages read (garbage included)."""
        return len(self.results)

    def failures(self, fail_on: FailOn) -> int:
        """How many messages fail under the policy: ``strict`` - any violation, unknown call or
        garbage; ``tolerant`` - what the client cannot read (``broken``) and unknown calls;
        ``never`` - none."""
        s = self.statuses
        if fail_on == "strict":
            return s["drift"] + s["broken"] + s["unknown"] + s["garbage"]
        if fail_on == "tolerant":
            return s["broken"] + s["unknown"]
        return 0

    def exit_status(self, fail_on: FailOn = "tolerant") -> int:
        """``1`` if any message fails under the policy (:meth:`failures`), else ``0``."""
        return 1 if self.failures(fail_on) else 0

    def as_json(self) -> dict[str, Any]:
        """The report as JSON values (what ``--format json`` prints)."""
        return {
            "source": self.source,
            "version": self.version,
            "files": list(self.files),
            "messages": self.messages,
            "statuses": dict(self.statuses),
            "verdicts": {
                "strict": "pass" if not self.failures("strict") else "fail",
                "tolerant": "pass" if not self.failures("tolerant") else "fail",
            },
            "calls": {k: t.as_json() for k, t in sorted(self.calls.items())},
            "paths": {k: t.as_json() for k, t in sorted(self.paths.items())},
            "rules": {k: t.as_json() for k, t in sorted(self.rules.items())},
            "unknown": {k: t.as_json() for k, t in sorted(self.unknown.items())},
            "garbage": self.garbage.as_json(),
        }


# -- masking ----------------------------------------------------------------------------------------


def mask(value: Any, sensitive: Iterable[str] = ()) -> Any:
    """``value`` (JSON) with the values of credential-looking fields (:data:`SECRET_NAME`, or named in
    ``sensitive``) replaced by ``***``, and credential-looking text in strings scrubbed."""
    names = frozenset(sensitive)

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {str(k): MASK if _secret(str(k), v, names) else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return scrub(node)
        return node

    return walk(value)


def _secret(name: str, value: Any, names: frozenset[str]) -> bool:
    """A credential: a text or number under a credential-looking name (objects are entered)."""
    secret_name = SECRET_NAME.search(name) is not None or name in names
    return (
        secret_name and isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""
    )


# -- schemas ----------------------------------------------------------------------------------------


def _compile(schema: Mapping[str, Any]) -> Any:
    """A jsonschema-rs validator of ``schema``; patterns the engine refuses (PCRE's ``\\x{b0}``) are
    rewritten, or left out, as the v3 mock does."""
    import jsonschema_rs

    try:
        return jsonschema_rs.validator_for(dict(schema))
    except ValueError:
        from .mock.legacy.spec import _portable

        return jsonschema_rs.validator_for(_portable(schema, {}))


@dataclass(frozen=True)
class _Pair:
    """A schema's strict and tolerant validators (``tolerant`` is ``strict`` for requests)."""

    strict: Any
    tolerant: Any


def _pair(schema: Mapping[str, Any], tolerant: Mapping[str, Any] | None) -> _Pair:
    strict = _compile(schema)
    return _Pair(strict, _compile(tolerant) if tolerant is not None else strict)


def _violations(pair: _Pair, instance: Any, prefix: tuple[str | int, ...] = ()) -> tuple[Violation, ...]:
    """Every strict violation, each marked tolerated unless the tolerant validator finds it too."""
    strict = _errors(pair.strict, instance, prefix)
    if pair.tolerant is pair.strict:
        return tuple(Violation(p, r, d, False) for p, r, d in strict)
    breaking = {(p, r) for p, r, _ in _errors(pair.tolerant, instance, prefix)}
    found = [Violation(p, r, d, (p, r) not in breaking) for p, r, d in strict]
    strict_keys = {(p, r) for p, r, _ in strict}
    found += [Violation(p, r, "breaks the tolerant reading", False) for p, r in breaking - strict_keys]
    return tuple(found)


def _errors(validator: Any, instance: Any, prefix: tuple[str | int, ...]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for error in validator.iter_errors(instance):
        where = (*prefix, *error.instance_path)
        kind: Any = error.kind
        rule = str(getattr(kind, "name", "") or "invalid")
        if rule == "required" and isinstance(getattr(kind, "property", None), str):
            out.append((_render((*where, kind.property)), rule, "required, missing"))
        elif rule == "additionalProperties" and getattr(kind, "unexpected", None):
            out.extend((_render((*where, str(name))), rule, "not in the schema") for name in kind.unexpected)
        else:
            out.append((_render(where), rule, _detail(error, rule)))
    return sorted(set(out))


def _detail(error: Any, rule: str) -> str:
    """The validator's text with the offending value left out (it may be a token or an OTP URL)."""
    text = str(error.message)
    instance = error.instance
    for shown in dict.fromkeys(
        (orjson.dumps(instance).decode(), json.dumps(instance), json.dumps(instance, ensure_ascii=False))
    ):
        if shown and shown in text:
            return text.replace(shown, "the value")
    return f"the value breaks {rule!r}"


def _render(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += _ANY_INDEX
        else:
            text += f".{part}" if text else str(part)
    return text or _ROOT


_VALUE_KEYS = frozenset({"enum", "const", "default", "examples", "example"})


def _sensitive(schema: Any, found: set[str]) -> None:
    """Names of the properties a schema marks ``sensitive`` (the v3 API's requests)."""
    if isinstance(schema, Mapping):
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, Mapping) and sub.get("sensitive"):
                found.add(str(name))
        for key, value in schema.items():
            if key not in _VALUE_KEYS:
                _sensitive(value, found)
    elif isinstance(schema, list):
        for item in schema:
            _sensitive(item, found)


def _renamed(schema: Mapping[str, Any], old: str, new: str) -> Mapping[str, Any]:
    """``schema`` with the property ``old`` called ``new`` (in ``properties`` and ``required``)."""
    props = schema.get("properties")
    if not isinstance(props, Mapping) or old not in props:
        return schema
    required = [new if r == old else r for r in schema.get("required") or ()]
    renamed = {new if k == old else k: v for k, v in props.items()}
    return {**schema, "properties": renamed, **({"required": required} if required else {})}


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _template_pattern(template: str) -> re.Pattern[str]:
    """``ticker.{instrument_name}.{interval}`` -> a regex matching its channels (a placeholder: one
    dot-free segment)."""
    parts = _PLACEHOLDER.split(template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else "[^.]+" for i, p in enumerate(parts)))


# -- the contract -----------------------------------------------------------------------------------


class Contract:
    """One release of one API: the Deriv WebSocket calls (``calls``) and REST operations (``rest``,
    an OpenAPI document), or Deribit's JSON-RPC ``methods`` (``request``: the schema of ``params``,
    ``response``: of ``result``) and ``channels`` (name template -> the schema of a notification's
    ``params.data``), all as plain JSON Schema. Validators are compiled on first use."""

    def __init__(
        self,
        source: str,
        version: str,
        *,
        calls: Mapping[str, CallSchemas] | None = None,
        rest: Mapping[str, Any] | None = None,
        methods: Mapping[str, CallSchemas] | None = None,
        channels: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if methods is not None and (calls or rest is not None):
            raise ValueError(
                "a contract is of the Deriv APIs (calls, rest) or of JSON-RPC (methods), not both"
            )
        if methods is None and calls is None and rest is None:
            raise ValueError("a contract needs calls, a REST document or JSON-RPC methods")
        self.source = source
        self.version = version
        self.calls: Mapping[str, CallSchemas] = calls or {}
        self.rest = rest
        self.methods = methods
        self.channels: Mapping[str, Mapping[str, Any]] = channels or {}
        self._channel_patterns = [(_template_pattern(t), t) for t in self.channels]
        self._pairs: dict[tuple[str, str], _Pair] = {}
        sensitive: set[str] = set()
        for call in self.calls.values():
            _sensitive(call.request, sensitive)
        #: Request fields the schemas mark ``sensitive`` (masked in examples too).
        self.sensitive = frozenset(sensitive)

    @classmethod
    def from_package(cls, package: str) -> Contract:
        """The release a generated package was made from: its ``schemas.json`` (Deriv WebSocket calls)
        and ``openapi.json`` (Deriv REST, or Deribit JSON-RPC when there is no ``schemas.json``).
        :class:`LookupError` if it ships neither."""
        try:
            schemas = load_schemas(package)
        except LookupError:
            schemas = None
        try:
            document: Mapping[str, Any] | None = load_openapi(package)
        except LookupError:
            document = None
        if schemas is not None:
            return cls(schemas.source or package, schemas.version, calls=schemas.calls, rest=document)
        if document is None:
            raise LookupError(
                f"{package!r} is not a generated client package (no schemas.json, no openapi.json)"
            )
        return cls.from_jsonrpc_document(package, document)

    @classmethod
    def from_jsonrpc_document(cls, source: str, document: Mapping[str, Any]) -> Contract:
        """Deribit's JSON-RPC methods and channels from its OpenAPI document, read as the Deribit mock
        reads it (:mod:`deriv_runtime.mock.deribit.spec`), with the mock's corrections: the methods
        Deribit documents elsewhere (``public/subscribe``, ``public/fork_token``...), and
        ``public/auth``, whose parameters depend on the grant (only ``grant_type`` is required) and
        whose result's ``access_token`` the document misspells."""
        from .mock.deribit.rpc import BUILTINS
        from .mock.deribit.spec import DeribitSpec

        spec = DeribitSpec(document)
        methods = {n: CallSchemas(m.params_schema, m.result) for n, m in {**BUILTINS, **spec.methods}.items()}
        auth = methods.get("public/auth")
        if auth is not None:
            methods["public/auth"] = CallSchemas(
                {**auth.request, "required": ["grant_type"]},
                _renamed(auth.response, "acccess_token", "access_token"),
            )
        channels = {c.template: c.schema for c in spec.channels}
        return cls(source, spec.version, methods=methods, channels=channels)

    @classmethod
    def from_documents(
        cls,
        source: str,
        version: str,
        *,
        schemas: Mapping[str, Any] | None = None,
        openapi: Mapping[str, Any] | None = None,
    ) -> Contract:
        """A Deriv contract from the documents a generated package ships: ``schemas`` in the layout
        of ``schemas.json`` (``{"calls": {name: {"request": ..., "response": ...}}}``) and the REST
        API's OpenAPI document."""
        calls = None
        if schemas is not None:
            calls = {
                str(name): CallSchemas(c.get("request") or {}, c.get("response") or {})
                for name, c in (schemas.get("calls") or {}).items()
            }
        return cls(source, version, calls=calls, rest=openapi)

    @property
    def api(self) -> str:
        """``deriv-ws``, ``deriv-ws+rest``, ``deriv-rest`` or ``jsonrpc``."""
        if self.methods is not None:
            return "jsonrpc"
        return "+".join(
            n for n, on in (("deriv-ws", bool(self.calls)), ("rest", self.rest is not None)) if on
        )

    # -- lazily built views --

    @functools.cached_property
    def _single(self) -> dict[str, str]:
        """msg_type -> call, for message types only one call answers with (``tick`` -> ``ticks``)."""
        found: dict[str, str] = {}
        for name, call in self.calls.items():
            enum = (call.response.get("properties") or {}).get("msg_type", {}).get("enum")
            if isinstance(enum, list) and len(enum) == 1:
                found[str(enum[0])] = name
        return found

    def channel(self, name: str) -> str | None:
        """The template of the channel ``name`` is one of (``ticker.BTC-PERPETUAL.100ms`` ->
        ``ticker.{instrument_name}.{interval}``)."""
        return next((t for pattern, t in self._channel_patterns if pattern.fullmatch(name)), None)

    @functools.cached_property
    def _operations(self) -> list[RestOperation]:
        from .mock.deriv.rest.openapi import operations

        return operations(self.rest or {})

    def _validators(self, key: tuple[str, str], build: Any) -> _Pair:
        found = self._pairs.get(key)
        if found is None:
            found = self._pairs[key] = build()
        return found

    def _tolerant(
        self, key: tuple[str, str], schema: Mapping[str, Any], keep_required: tuple[str, ...] = ()
    ) -> _Pair:
        """The validators of an answer or notification: strict, and tolerant (see
        :func:`~deriv_runtime.schema_tolerance.tolerant_schema`)."""
        return self._validators(key, lambda: _pair(schema, tolerant_schema(schema, keep_required)))

    # -- checks --

    def check(self, message: Any, location: str = "", *, method: str | None = None) -> list[Checked]:
        """The verdicts on one message (two for a REST record holding a request and its answer).
        ``method``: the JSON-RPC method of an answer whose request is not known."""
        if isinstance(message, Garbage):
            return [Checked(location, "garbage", reason=message.reason, message=_shown(message.text))]
        if not isinstance(message, Mapping):
            return [
                Checked(
                    location,
                    "garbage",
                    reason=f"a JSON {json_type(message)}, not an object",
                    message=_shown(orjson.dumps(message).decode()),
                )
            ]
        shown = mask(message, self.sensitive)
        if _is_rest(message):
            return self._rest(message, location, shown)
        if self.methods is not None:
            return [self._jsonrpc(message, location, shown, method)]
        return [self._deriv_ws(message, location, shown)]

    def _deriv_ws(self, message: Mapping[str, Any], location: str, shown: Any) -> Checked:
        if not self.calls:
            return _unknown(
                location, None, "a WebSocket message, and the release has no WebSocket calls", shown
            )
        msg_type = message.get("msg_type")
        if msg_type is not None:
            call = self._single.get(msg_type) if isinstance(msg_type, str) else None
            if call is None and isinstance(msg_type, str) and msg_type in self.calls:
                call = msg_type
            echo = message.get("echo_req")
            if call is None and isinstance(echo, Mapping):
                call = next((str(k) for k in echo if k in self.calls), None)
            if call is None:
                return _unknown(
                    location, "response", f"msg_type {_name(msg_type)} answers no call of the release", shown
                )
            if "error" in message:
                return Checked(location, "error", "response", call, message=shown)
            pair = self._tolerant(("response", call), self.calls[call].response, ("msg_type",))
            return _verdict(location, "response", call, _violations(pair, message), shown)
        call = next((str(k) for k in message if k in self.calls), None)
        if call is None:
            first = next(iter(message), None)
            return _unknown(
                location, "request", f"request {_name(first)} names no call of the release", shown
            )
        pair = self._validators(("request", call), lambda: _pair(self.calls[call].request, None))
        return _verdict(location, "request", call, _violations(pair, message), shown)

    def _jsonrpc(self, message: Mapping[str, Any], location: str, shown: Any, method: str | None) -> Checked:
        methods = self.methods or {}
        name = message.get("method")
        if isinstance(name, str):
            params = message.get("params", {})
            if name == "subscription" and "id" not in message:
                channel = params.get("channel") if isinstance(params, Mapping) else None
                if not isinstance(channel, str):
                    return _unknown(location, "notification", "a notification without params.channel", shown)
                template = self.channel(channel)
                if template is None:
                    return _unknown(
                        location,
                        "notification",
                        f"channel {_name(channel)} matches no channel of the release",
                        shown,
                    )
                assert isinstance(params, Mapping)
                schema = self.channels[template]
                pair = self._tolerant(("channel", template), schema)
                data = params.get("data")
                return _verdict(
                    location,
                    "notification",
                    template,
                    _violations(pair, data, ("params", "data")),
                    shown,
                )
            if name == "heartbeat" and "id" not in message:
                return Checked(location, "ok", "notification", "heartbeat", message=shown)
            op = methods.get(name)
            if op is None:
                return _unknown(location, "request", f"method {_name(name)} is not in the release", shown)
            pair = self._validators(("request", name), lambda: _pair(op.request, None))
            return _verdict(location, "request", name, _violations(pair, params, ("params",)), shown)
        if "result" in message or "error" in message:
            if method is None:
                return _unknown(
                    location,
                    "response",
                    "an answer whose request is not in the recording (pair it by id, or give the method)",
                    shown,
                )
            op = methods.get(method)
            if op is None:
                return _unknown(location, "response", f"method {_name(method)} is not in the release", shown)
            if "error" in message:
                return Checked(location, "error", "response", method, message=shown)
            pair = self._tolerant(("response", method), op.response)
            return _verdict(
                location, "response", method, _violations(pair, message["result"], ("result",)), shown
            )
        return _unknown(location, None, "neither a JSON-RPC request, answer nor notification", shown)

    def _rest(self, record: Mapping[str, Any], location: str, shown: Any) -> list[Checked]:
        verb = str(record["method"]).upper()
        path = _path_of(record)
        if self.rest is None:
            return [_unknown(location, "request", "a REST exchange, and the release has no REST API", shown)]
        op = next((o for o in self._operations if o.method == verb and o.match(path) is not None), None)
        if op is None:
            return [
                _unknown(location, "request", f"{verb} {_name(path)} is no operation of the release", shown)
            ]
        components = self.rest.get("components") or {}
        out: list[Checked] = []
        if "body" in record or "status" not in record:
            out.append(self._rest_request(op, record, components, location, shown))
        if "status" in record:
            out.append(self._rest_response(op, record, components, location, shown))
        return out

    def _rest_request(
        self, op: RestOperation, record: Mapping[str, Any], components: Any, location: str, shown: Any
    ) -> Checked:
        body_spec = op.spec.get("requestBody")
        body = record.get("body")
        schema = _json_content(body_spec)
        if schema is None:
            found: tuple[Violation, ...] = ()
            if body is not None:
                found = (Violation("body", "requestBody", "the operation takes no JSON body", False),)
            elif isinstance(body_spec, Mapping) and body_spec.get("required"):
                found = (Violation("body", "requestBody", "the operation requires a body", False),)
            return _verdict(location, "request", op.key, found, shown)
        if body is None and not (isinstance(body_spec, Mapping) and body_spec.get("required")):
            return _verdict(location, "request", op.key, (), shown)
        pair = self._validators(
            ("request", op.key), lambda: _pair({**schema, "components": components}, None)
        )
        return _verdict(location, "request", op.key, _violations(pair, body, ("body",)), shown)

    def _rest_response(
        self, op: RestOperation, record: Mapping[str, Any], components: Any, location: str, shown: Any
    ) -> Checked:
        status = str(record.get("status"))
        responses = op.spec.get("responses") or {}
        documented = responses.get(status) or responses.get(f"{status[:1]}XX") or responses.get("default")
        if not isinstance(documented, Mapping):
            found = (Violation("status", "responses", f"status {status} is not documented", True),)
            return _verdict(location, "response", op.key, found, shown)
        schema = _json_content(documented)
        if schema is None:
            return _verdict(location, "response", op.key, (), shown)
        key = ("response", f"{op.key} {status}")

        def build() -> _Pair:
            relaxed = tolerant_schema(schema, ())
            relaxed["components"] = {
                **components,
                "schemas": {n: tolerant_schema(s, ()) for n, s in (components.get("schemas") or {}).items()},
            }
            return _pair({**schema, "components": components}, relaxed)

        pair = self._validators(key, build)
        return _verdict(
            location, "response", op.key, _violations(pair, record.get("response"), ("response",)), shown
        )


def _unknown(location: str, kind: Kind | None, reason: str, shown: Any) -> Checked:
    """The verdict on a message that matches nothing of the release, and why."""
    return Checked(location, "unknown", kind, reason=reason, message=shown)


def _verdict(location: str, kind: Kind, call: str, found: tuple[Violation, ...], shown: Any) -> Checked:
    status: Status = "ok"
    if found:
        status = "drift" if all(v.tolerated for v in found) else "broken"
    return Checked(location, status, kind, call, found, message=shown)


def _json_content(spec: Any) -> Mapping[str, Any] | None:
    content = spec.get("content") if isinstance(spec, Mapping) else None
    if not isinstance(content, Mapping):
        return None
    for media, entry in content.items():
        if "json" in str(media) and isinstance(entry, Mapping) and isinstance(entry.get("schema"), Mapping):
            schema: Mapping[str, Any] = entry["schema"]
            return schema
    return None


def _is_rest(message: Mapping[str, Any]) -> bool:
    verb = message.get("method")
    where = message.get("path", message.get("url"))
    return isinstance(verb, str) and verb.upper() in _REST_METHODS and isinstance(where, str)


def _path_of(record: Mapping[str, Any]) -> str:
    from urllib.parse import urlsplit

    where = str(record.get("path", record.get("url", "")))
    return urlsplit(where).path or "/"


def _name(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return repr(scrub(text[:80]))


def _shown(text: str) -> str:
    text = scrub(text)
    return text if len(text) <= GARBAGE_SHOWN else text[:GARBAGE_SHOWN] + "..."


# -- reading recordings ------------------------------------------------------------------------------


def read_recording(path: str | Path) -> Iterator[tuple[str, Any]]:
    """``(location, message)`` for every message of a recording (module docstring); a line or value
    that is not a JSON object comes as :class:`Garbage` (or as the value, for a non-object inside
    valid JSON). ``"-"`` reads standard input. :class:`OSError` if the file cannot be read.

    A mock's ``--record`` journal is read as what the mock received: each ``request`` entry gives
    its ``message`` (secrets in it were redacted by the mock: a redacted field may break its
    pattern in the strict verdict), the other entries (connections, faults) are not messages."""
    for location, value in _read_values(path):
        if isinstance(value, Mapping) and "seq" in value and isinstance(value.get("kind"), str):
            if value["kind"] == "request" and isinstance(value.get("message"), Mapping):
                yield location, value["message"]
            continue
        yield location, value


def _read_values(path: str | Path) -> Iterator[tuple[str, Any]]:
    name = str(path)
    data = sys.stdin.buffer.read() if name == "-" else Path(path).read_bytes()
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        whole = _LINES
    if whole is not _LINES:
        if isinstance(whole, list):
            for i, item in enumerate(whole):
                yield f"{name}[{i}]", item
        else:
            yield name, whole
        return
    for number, raw in enumerate(data.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        where = f"{name}:{number}"
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            text = line.decode("utf-8", "replace")
            yield where, Garbage(text, f"not JSON ({str(exc).split(':', 1)[0]})")
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield f"{where}[{i}]", item
        else:
            yield where, value


_LINES = object()


def check_messages(
    contract: Contract, messages: Iterable[tuple[str, Any]], *, method: str | None = None
) -> list[Checked]:
    """The verdicts on one recording's messages, in order. JSON-RPC answers are paired with the
    request of the same ``id`` in ``messages`` (the nearest one before, else the first after);
    ``method`` names the method of the others."""
    items = list(messages)
    later: dict[Any, str] = {}
    if contract.methods is not None:
        for _, m in reversed(items):
            if _rpc_request(m):
                later[_id_key(m["id"])] = m["method"]
    seen: dict[Any, str] = {}
    out: list[Checked] = []
    for location, message in items:
        paired = method
        if contract.methods is not None and isinstance(message, Mapping) and "id" in message:
            key = _id_key(message["id"])
            if _rpc_request(message):
                seen[key] = message["method"]
            else:
                paired = seen.get(key) or later.get(key) or method
        out.extend(contract.check(message, location, method=paired))
    return out


def _rpc_request(message: Any) -> bool:
    return (
        isinstance(message, Mapping)
        and isinstance(message.get("method"), str)
        and "id" in message
        and not _is_rest(message)
    )


def _id_key(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else orjson.dumps(value)


def check_files(
    contract: Contract | str, paths: Iterable[str | Path], *, method: str | None = None
) -> Report:
    """Check every recording in ``paths`` against ``contract`` (a :class:`Contract`, or the name of
    a generated package); each file is one recording (JSON-RPC answers pair with requests of the
    same file). :class:`OSError` if a file cannot be read."""
    if isinstance(contract, str):
        contract = Contract.from_package(contract)
    report = Report(contract.source, contract.version)
    for path in paths:
        report.files.append(str(path))
        for result in check_messages(contract, read_recording(path), method=method):
            report.add(result)
    return report
