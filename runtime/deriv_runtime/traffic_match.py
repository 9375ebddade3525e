"""Per-API matching for the traffic check (:mod:`deriv_runtime.traffic`): how a message's call is
told and checked, for the Deriv WebSocket APIs, Deribit's JSON-RPC and REST (the module docstring
of :mod:`deriv_runtime.traffic`). :class:`~deriv_runtime.traffic.Contract` is built on
:class:`_Matching`."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ._redact import scrub
from .schema_tolerance import tolerant_schema
from .schemas import CallSchemas
from .traffic_results import Checked, Kind, Status, Violation
from .traffic_schema import _Pair, _pair, _violations

if TYPE_CHECKING:
    from .mock.deriv.rest.openapi import Operation as RestOperation

#: At most this many characters of a garbage line are shown.
GARBAGE_SHOWN = 120
_REST_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"})


class _Matching:
    """The matching half of a contract: the lazily built views of its schemas and the checks of a
    message of each API. The attributes are set by :class:`~deriv_runtime.traffic.Contract`."""

    calls: Mapping[str, CallSchemas]
    rest: Mapping[str, Any] | None
    methods: Mapping[str, CallSchemas] | None
    channels: Mapping[str, Mapping[str, Any]]
    _channel_patterns: list[tuple[re.Pattern[str], str]]
    _pairs: dict[tuple[str, str], _Pair]

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
