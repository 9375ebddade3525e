"""Reader for the Deribit API v2 OpenAPI 3.0 document (layout ``deribit-openapi``).

Each path ``/public/get_order_book`` is a JSON-RPC method ``public/get_order_book``, callable over the
WebSocket (``jsonrpc-ws``) and, unless it is WebSocket-only, over HTTP GET (``jsonrpc-http``). The
reader turns it into an :class:`~deriv_codegen.ir.Operation`: query parameters become one params
object schema; the ``result`` member of the JSON-RPC success envelope (an ``allOf``) becomes the
result schema. ``components/x-subscriptions`` becomes :class:`~deriv_codegen.ir.Channel`\\s.

The document is not valid OpenAPI; the reader is lenient and reports each defect as a problem:
responses without ``description``, prose ``type`` values (``"price-amount pair"``), ``enum`` values
that are not of the declared type, ``required`` names with no property, ``$ref``\\s that do not
resolve, the root ``security`` that would put public methods behind authentication, and channels
kept under ``components`` as a vendor extension.

What the document gets wrong or lacks is corrected from the ``[reader]`` table of the API's override
file (``schemas/overrides/<source>.toml``, read through :func:`~deriv_codegen.config.load_api_config`):

    [reader.prose_types]     prose ``type`` -> the schema it is read as
    [reader.fix."<name>"]    per method: ``required`` params, ``add_params``, ``rename_result_properties``,
                             ``scopes``, ``websocket_only``
    [reader.add."<name>"]    methods the document lacks (``origin="override"``)
    [reader.schemas.<name>]  schemas shared by added methods (``result = "<name>"``)
    [reader.channels.<name>] ``private`` where the document's tags are wrong
    [reader.servers], [reader.ws_servers]   server descriptions, WebSocket endpoints

Every fix that applies is reported (so the report lists the document's defects), and every fix that
no longer applies is reported too (so a corrected upstream document shows what to delete).
"""

from __future__ import annotations

import copy
import keyword
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import ApiConfig, load_api_config
from ..errors import BundleError, Problem
from ..ir import ApiIR, Binding, BundleInfo, Channel, ChannelParameter, JsonSchema, Operation
from ..naming import identifier
from .deribit_overrides import METHOD_NAME, Overrides
from .deribit_schemas import SchemaReader
from .files import BundleFiles

LAYOUT = "deribit-openapi"
#: ``schemas/overrides`` of the checkout this module runs from.
DEFAULT_OVERRIDES_DIR = Path(__file__).resolve().parents[3] / "schemas" / "overrides"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PATH_ITEM_KEYS = frozenset({*HTTP_METHODS, "parameters", "summary", "description", "servers", "$ref"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Members of a JSON-RPC answer's envelope, beside ``result``/``error``.
_ENVELOPE = frozenset({"jsonrpc", "id", "testnet", "usIn", "usOut", "usDiff"})


def read_deribit_bundle(files: BundleFiles, info: BundleInfo, config: ApiConfig | None = None) -> ApiIR:
    """The IR of the Deribit OpenAPI document in ``files``, corrected by ``config.reader``.

    ``config`` defaults to ``schemas/overrides/<info.source>.toml`` of this checkout. Raises
    :class:`BundleError` only when the bundle is not an OpenAPI document at all (and
    :class:`~deriv_codegen.errors.LimitExceeded` over a limit); everything else is reported.
    """
    overrides_where = f"overrides/{info.source}.toml [reader]"
    ir = ApiIR(bundle=info)
    if config is None:
        config = load_api_config(DEFAULT_OVERRIDES_DIR, info.source)
        overrides_where = f"{DEFAULT_OVERRIDES_DIR.name}/{info.source}.toml [reader]"
    if not config.reader:
        ir.problems.append(
            Problem(overrides_where, "no [reader] table: the document is read as published, uncorrected")
        )
    name = _document_name(files)
    doc = files.json(name)
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise BundleError(f"{files.location}: {name} is not an OpenAPI document (no 'paths' object)")
    _DeribitReader(doc, name, Overrides.parse(config.reader, overrides_where), ir).read(config)
    return ir


def _document_name(files: BundleFiles) -> str:
    names = files.names()
    if len(names) == 1:
        return names[0]
    docs = [n for n in names if n.endswith(".json")]
    if len(docs) == 1:
        return docs[0]
    raise BundleError(
        f"{files.location}: the {LAYOUT} layout expects one JSON document, found {len(names)} file(s)"
    )


class _DeribitReader(SchemaReader):
    # -- the document -------------------------------------------------------------------------------

    def read(self, config: ApiConfig) -> None:
        raw_comps = self.doc.get("components")
        comps: dict[str, Any] = raw_comps if isinstance(raw_comps, dict) else {}
        raw_schemas = comps.get("schemas")
        schemas: dict[str, Any] = raw_schemas if isinstance(raw_schemas, dict) else {}
        components: dict[str, Any] = {k: v for k, v in comps.items() if not str(k).startswith("x-")}
        components["schemas"] = {
            str(k): self.fix_schema(v, f"{self.name}: components/schemas/{k}")
            for k, v in sorted(schemas.items())
        }
        self.ir.components = components
        self.ir.openapi = self.doc
        self._servers()
        ops = self._spec_operations()
        self._override_operations(ops)
        self._apply_method_names(config, ops)
        self.ir.operations = sorted(ops.values(), key=lambda op: op.name)
        self.ir.channels = sorted(self._channels(comps), key=lambda ch: ch.name)
        self.ir.problems = sorted(set(self.ir.problems))

    def _servers(self) -> None:
        servers = self.doc.get("servers")
        if not isinstance(servers, list):
            servers = []
            self.problem(f"{self.name}: servers", "missing; no server URLs")
        for i, s in enumerate(servers):
            url = s.get("url") if isinstance(s, dict) else None
            if not isinstance(url, str) or not url:
                self.problem(f"{self.name}: servers/{i}", "no url; skipped", "skipped")
                continue
            description = s.get("description") if isinstance(s, dict) else None
            named = self.o.servers.get(url)
            if not isinstance(description, str) or not description:
                description = named or ""
                self.problem(
                    f"{self.name}: servers/{i}",
                    f"{url} has no description" + (f"; {named!r} from the overrides" if named else ""),
                )
            elif named:
                description = named  # the project's own words for the client's server choices
            self.ir.servers.append((url, description))
        self.ir.ws_servers = list(self.o.ws_servers.items())

    def _spec_operations(self) -> dict[str, Operation]:
        ops: dict[str, Operation] = {}
        root_security = self.doc.get("security")
        public_behind_root = 0
        envelopes = 0
        for path, item in sorted(self.doc["paths"].items()):
            where = f"{self.name}: {path}"
            if not isinstance(item, dict):
                self.problem(where, "path item is not an object; skipped", "skipped")
                continue
            m = METHOD_NAME.match(str(path))
            if not m:
                self.problem(where, "not a /public/<method> or /private/<method> path; skipped", "skipped")
                continue
            odd = sorted(k for k in item if k not in _PATH_ITEM_KEYS and not str(k).startswith("x-"))
            if odd:
                self.problem(where, f"path item keys not understood: {', '.join(map(str, odd))}; ignored")
            methods = [h for h in HTTP_METHODS if isinstance(item.get(h), dict)]
            if not methods:
                self.problem(where, "no operation; skipped", "skipped")
                continue
            if len(methods) > 1:
                self.problem(
                    where, f"described for {len(methods)} HTTP methods; read from {methods[0].upper()}"
                )
            op_doc = item[methods[0]]
            here = f"{self.name}: {methods[0].upper()} {path}"
            ns, wire = m["ns"], f"{m['ns']}/{m['method']}"
            security = op_doc.get("security", root_security)
            if ns == "public" and isinstance(security, list) and any(security):
                if "security" in op_doc:
                    self.problem(here, "public method with its own security requirement; read as no auth")
                else:
                    public_behind_root += 1
            if ns == "private" and security == []:
                self.problem(here, "private method with security []; read as needing auth")
            tags = sorted({str(t) for t in op_doc.get("tags") or () if isinstance(t, (str, int))})
            other = "private" if ns == "public" else "public"
            if other in tags:
                self.problem(here, f"tagged {other!r} but named {ns}/...; the name decides")
            params = self._params([*_list(item.get("parameters")), *_list(op_doc.get("parameters"))], here)
            raw_result, envelope = self._result(op_doc, here)
            envelopes += envelope
            fix = self.o.fix.get(wire, {})
            if fix:
                params, raw_result = self._apply_fix(wire, fix, params, raw_result, here)
            result = self.fix_schema(raw_result, f"{here} result")
            ws_only = bool(fix.get("websocket_only")) or "websocket_only" in tags
            bindings = [Binding("jsonrpc-ws")]
            if not ws_only:
                bindings += [Binding("jsonrpc-http", h.upper(), str(path)) for h in methods]
            ops[wire] = Operation(
                name=wire,
                namespace=ns,
                method_name=m["method"],
                summary=_text(op_doc.get("summary")),
                description=_text(op_doc.get("description")),
                params_schema=params,
                result_schema=result,
                auth_required=ns == "private",
                auth_scopes=tuple(fix.get("scopes", ())),
                tags=tuple(tags),
                bindings=tuple(bindings),
                source=here,
            )
        if public_behind_root:
            self.problem(
                f"{self.name}: security",
                f"the root security requirement applies to every method, {public_behind_root} public/* "
                "ones included; public/* read as needing no authentication, private/* as needing it",
            )
        if envelopes:
            self.problem(
                f"{self.name}: paths",
                f"{envelopes} success answers are allOf compositions of the JSON-RPC envelope and its "
                "result; the result member read as each method's result",
            )
        for wire in sorted(set(self.o.fix) - set(ops)):
            self.problem(
                f"{self.o.where}: fix.{wire!r}", "the document has no such method; the fix no longer applies"
            )
        return ops

    def _params(self, raw_params: list[Any], here: str) -> JsonSchema:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for raw in raw_params:
            p = self.deref(raw, here)
            name = p.get("name") if isinstance(p, dict) else None
            if not isinstance(name, str) or not name:
                self.problem(here, "parameter without a name; skipped", "skipped")
                continue
            where = f"{here} parameter {name!r}"
            if p.get("in") != "query":
                self.problem(where, f"in {p.get('in')!r}, not query; skipped", "skipped")
                continue
            if "schema" not in p:
                self.problem(where, "no schema; read as any value")
            schema = self.fix_schema(self.deref(p.get("schema"), where), where)
            description = p.get("description")
            if isinstance(description, str) and description:
                schema["description"] = description
            if name in properties:
                self.problem(where, "listed twice; the last one kept")
                if name in required:
                    required.remove(name)
            properties[name] = schema
            if p.get("required") is True:
                required.append(name)
        out: JsonSchema = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        return out

    def _result(self, op_doc: dict[str, Any], here: str) -> tuple[JsonSchema, int]:
        responses = op_doc.get("responses")
        if not isinstance(responses, dict) or not responses:
            self.problem(here, "no responses; result read as any value")
            return {}, 0
        for status, raw in sorted(responses.items()):
            r = self.deref(raw, f"{here} response {status}")
            if isinstance(r, dict) and "description" not in r:
                self.problem(here, f"response {status} lacks a description")
        status = next(
            (s for s in ("200", "2XX", "default") if s in responses),
            next((s for s in sorted(responses) if str(s).startswith("2")), None),
        )
        if status is None:
            self.problem(here, "no success response; result read as any value")
            return {}, 0
        where = f"{here} response {status}"
        r = self.deref(responses[status], where)
        content = r.get("content") if isinstance(r, dict) else None
        media = content.get("application/json") if isinstance(content, dict) else None
        if not isinstance(media, dict) or "schema" not in media:
            self.problem(where, "no application/json schema; result read as any value")
            return {}, 0
        found = self._find_result(media["schema"], where, 0) or self._bare_result(media["schema"], where)
        if found is None:
            self.problem(where, "the answer has no result member; result read as any value")
            return {}, 0
        result, via_all_of = found
        return copy.deepcopy(self.deref(result, f"{where} result")), int(via_all_of)

    def _bare_result(self, schema: Any, where: str) -> tuple[Any, bool] | None:
        """The other member of an ``allOf`` whose one member is the JSON-RPC envelope, when the result
        is given bare instead of as a ``result`` property (reported)."""
        node = self.deref(schema, where)
        parts = node.get("allOf") if isinstance(node, dict) else None
        if not isinstance(parts, list) or len(parts) != 2:
            return None
        resolved = [self.deref(p, where) for p in parts]
        envelope = [
            isinstance(p, dict)
            and isinstance(p.get("properties"), dict)
            and bool(p["properties"])
            and set(p["properties"]) <= _ENVELOPE
            for p in resolved
        ]
        if envelope.count(True) != 1:
            return None
        self.problem(
            where,
            "the result is given bare beside the JSON-RPC envelope, not as its result member; "
            "read as the result",
        )
        return resolved[envelope.index(False)], True

    def _find_result(self, schema: Any, where: str, depth: int) -> tuple[Any, bool] | None:
        node = self.deref(schema, where)
        if not isinstance(node, dict) or depth > 8:
            return None
        props = node.get("properties")
        if isinstance(props, dict) and "result" in props:
            return props["result"], depth > 0
        for key in ("allOf", "anyOf", "oneOf"):
            parts = node.get(key)
            if isinstance(parts, list):
                for part in parts:
                    found = self._find_result(part, where, depth + 1)
                    if found is not None:
                        return found[0], True
        return None

    def _apply_fix(
        self, wire: str, fix: dict[str, Any], params: JsonSchema, result: JsonSchema, here: str
    ) -> tuple[JsonSchema, JsonSchema]:
        where = f"{self.o.where}: fix.{wire!r}"
        props: dict[str, Any] = params["properties"]
        for name, schema in fix.get("add_params", {}).items():
            if name in props:
                self.problem(where, f"parameter {name!r} is in the document now; add_params entry not used")
                continue
            props[name] = self.fix_schema(schema, f"{where} add_params.{name}")
            self.problem(here, f"parameter {name!r} missing; added from the overrides")
        if "required" in fix:
            wanted = list(fix["required"])
            unknown = [n for n in wanted if n not in props]
            if unknown:
                self.problem(where, f"required names unknown parameters {', '.join(unknown)}; ignored")
                wanted = [n for n in wanted if n in props]
            before = list(params.get("required", []))
            if before == wanted:
                self.problem(where, "required matches the document now; the fix is no longer needed")
            else:
                self.problem(
                    here,
                    f"marks {', '.join(before) or 'nothing'} required; corrected from the overrides to "
                    f"{', '.join(wanted) or 'nothing'}",
                )
            if wanted:
                params["required"] = wanted
            else:
                params.pop("required", None)
        renames = fix.get("rename_result_properties", {})
        rprops = result.get("properties") if isinstance(result, dict) else None
        for old, new in renames.items():
            if not isinstance(rprops, dict) or old not in rprops:
                self.problem(where, f"result has no property {old!r}; the rename no longer applies")
                continue
            if new in rprops:
                self.problem(where, f"result already has {new!r}; {old!r} left as it is")
                continue
            result["properties"] = rprops = {(new if k == old else k): v for k, v in rprops.items()}
            self.problem(here, f"result property {old!r} is misspelt; renamed {new!r} from the overrides")
        return params, result

    def _override_operations(self, ops: dict[str, Operation]) -> None:
        for wire, entry in self.o.add.items():
            where = f"{self.o.where}: add.{wire!r}"
            if wire in ops:
                self.problem(
                    where, "the document describes this method now; its description kept, the entry unused"
                )
                continue
            m = METHOD_NAME.match(wire)
            assert m is not None  # checked by Overrides.parse
            properties: dict[str, Any] = {}
            required: list[str] = []
            for name, raw in entry.get("params", {}).items():
                schema = dict(raw) if isinstance(raw, Mapping) else {}
                if schema.pop("required", False) is True:
                    required.append(name)
                properties[name] = self.fix_schema(schema, f"{where} params.{name}")
            params: JsonSchema = {"type": "object", "properties": properties}
            if required:
                params["required"] = required
            result = entry.get("result", {})
            if isinstance(result, str):
                result = self.o.schemas[result]
            ws_only = bool(entry.get("websocket_only", False))
            bindings = [Binding("jsonrpc-ws")]
            if not ws_only:
                bindings.append(Binding("jsonrpc-http", "GET", f"/{wire}"))
            ops[wire] = Operation(
                name=wire,
                namespace=m["ns"],
                method_name=m["method"],
                summary=_text(entry.get("summary")),
                description=_text(entry.get("description")),
                params_schema=params,
                result_schema=self.fix_schema(result, f"{where} result"),
                auth_required=m["ns"] == "private",
                auth_scopes=tuple(entry.get("scopes", ())),
                tags=tuple(sorted(set(entry.get("tags", ())))),
                bindings=tuple(bindings),
                source=where,
                origin="override",
                answered=bool(entry.get("answered", True)),
            )

    def _apply_method_names(self, config: ApiConfig, ops: dict[str, Operation]) -> None:
        from dataclasses import replace

        used: dict[str, set[str]] = {}
        for wire in sorted(ops):
            op = ops[wire]
            name = config.methods.get(wire, op.method_name)
            if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                new = identifier(name).lstrip("_") or "call"
                self.problem(op.source, f"method name {name!r} is not a usable Python name; {new!r} used")
                name = new
            taken = used.setdefault(op.namespace, set())
            if name in taken:
                n = 2
                while f"{name}_{n}" in taken:
                    n += 1
                self.problem(op.source, f"method name {name!r} taken in {op.namespace}; {name}_{n} used")
                name = f"{name}_{n}"
            taken.add(name)
            if name != op.method_name:
                ops[wire] = replace(op, method_name=name)
        for wire in sorted(set(config.methods) - set(ops)):
            self.problem(self.o.where, f"[methods] names {wire!r}, which is not an operation; ignored")

    # -- channels ------------------------------------------------------------------------------------

    def _channels(self, comps: dict[str, Any]) -> list[Channel]:
        table = comps.get("x-subscriptions")
        location = "components/x-subscriptions"
        if table is None and "x-subscriptions" in self.doc:
            table, location = self.doc["x-subscriptions"], "x-subscriptions"
        if table is None:
            self.problem(f"{self.name}: components", "no x-subscriptions: no channels read")
            table = {}
        elif not isinstance(table, dict):
            self.problem(f"{self.name}: {location}", "not an object; no channels read", "skipped")
            table = {}
        else:
            self.problem(
                f"{self.name}: {location}",
                f"{len(table)} channels kept as a vendor extension (OpenAPI 3.0 has no channels); "
                "read from there",
            )
        channels = []
        for name, item in sorted(table.items()):
            where = f"{self.name}: {location}/{name}"
            if not isinstance(item, dict):
                self.problem(where, "not an object; skipped", "skipped")
                continue
            channel = self._channel(str(name), item, where)
            if channel is not None:
                channels.append(channel)
        for name in sorted(set(self.o.channels) - {c.name for c in channels}):
            self.problem(
                f"{self.o.where}: channels.{name!r}", "the document has no such channel; not applied"
            )
        return channels

    def _channel(self, name: str, item: dict[str, Any], where: str) -> Channel | None:
        placeholders = _PLACEHOLDER.findall(name)
        if len(set(placeholders)) != len(placeholders) or not all(p.isidentifier() for p in placeholders):
            self.problem(where, "name template has repeated or unusable placeholders; skipped", "skipped")
            return None
        listed: dict[str, dict[str, Any]] = {}
        for i, raw in enumerate(_list(item.get("parameters"))):
            p = self.deref(raw, f"{where} parameters/{i}")
            pname = p.get("name") if isinstance(p, dict) else None
            if not isinstance(pname, str):
                self.problem(where, f"parameter {i} has no name; skipped", "skipped")
                continue
            listed[pname] = p
        for extra in sorted(set(listed) - set(placeholders)):
            self.problem(where, f"parameter {extra!r} is not in the name template; ignored")
        params = []
        for pname in placeholders:
            p = listed.get(pname)
            if p is None:
                self.problem(where, f"placeholder {{{pname}}} has no parameter; read as a string")
                params.append(ChannelParameter(pname, {"type": "string"}))
                continue
            schema = self.fix_schema(self.deref(p.get("schema"), where), f"{where} parameter {pname!r}")
            params.append(ChannelParameter(pname, schema, _text(p.get("description") or p.get("summary"))))
        notifications = item.get("notifications")
        raw_schema = notifications.get("schema") if isinstance(notifications, dict) else None
        if raw_schema is None:
            self.problem(where, "no notifications schema; notifications read as any value")
        notification = self.fix_schema(self.deref(raw_schema, where), f"{where} notifications")
        tags = tuple(sorted({str(t) for t in _list(item.get("tags"))}))
        spec_private = "private" in tags or name.startswith("user.")
        private = spec_private
        fix = self.o.channels.get(name, {})
        if "private" in fix:
            private = bool(fix["private"])
            if private == spec_private:
                self.problem(
                    f"{self.o.where}: channels.{name!r}", "agrees with the document now; no longer needed"
                )
            else:
                self.problem(
                    where,
                    f"read as {'private' if spec_private else 'public'} from the document; "
                    f"{'private' if private else 'public'} per the overrides",
                )
        description = _text(item.get("description"))
        summary = _text(item.get("summary")) or description.split("\n", 1)[0]
        return Channel(
            name=name,
            parameters=tuple(params),
            notification_schema=notification,
            summary=summary,
            description=description,
            private=private,
            tags=tags,
            source=where,
        )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
