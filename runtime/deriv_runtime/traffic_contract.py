"""One release of an API as a contract (:class:`Contract`) and the check of recordings against it
(:func:`check_messages`, :func:`check_files`); what is checked and how is told in
:mod:`deriv_runtime.traffic`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from .schema_tolerance import json_type
from .schemas import CallSchemas, load_openapi, load_schemas
from .traffic_match import _is_rest, _Matching, _shown
from .traffic_read import read_recording
from .traffic_results import Checked, Garbage, Report
from .traffic_schema import _Pair, _renamed, _sensitive, _template_pattern, mask

# -- the contract -----------------------------------------------------------------------------------


class Contract(_Matching):
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
        self.calls = calls or {}
        self.rest = rest
        self.methods = methods
        self.channels = channels or {}
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
