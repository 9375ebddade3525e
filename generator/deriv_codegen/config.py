"""Per-API overrides: ``schemas/overrides/<source>.toml`` (title, client class, method names, fixes)."""

from __future__ import annotations

import keyword
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SourcesError
from .naming import pascal

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ApiConfig:
    title: str
    client_class: str
    methods: dict[str, str] = field(default_factory=dict)
    #: "METHOD /path" -> method name, for REST operations whose derived name reads poorly.
    rest_methods: dict[str, str] = field(default_factory=dict)
    #: Default base URL of the REST API (the spec has no ``servers``).
    rest_base_url: str = ""
    #: "METHOD /path" of the operation that issues one-time WebSocket URLs, if any.
    otp_operation: str = ""
    #: Dotted path of the WebSocket URL in that operation's answer.
    otp_url_field: str = "data.url"
    #: The ``[reconnect]`` table: which calls may be re-sent after a reconnect (see reconnect.py).
    reconnect: Mapping[str, Any] = field(default_factory=dict)
    #: The ``[reader]`` table: corrections and additions the layout's reader applies to the bundle
    #: (interpreted by that reader, e.g. :mod:`deriv_codegen.readers.deribit`).
    reader: Mapping[str, Any] = field(default_factory=dict)
    #: Channel name template -> builder function name, where the derived one reads poorly (RPC APIs).
    channel_names: dict[str, str] = field(default_factory=dict)

    @property
    def rest_client_class(self) -> str:
        return f"{self.client_class.removesuffix('Client')}RestClient"

    @property
    def rest_sync_client_class(self) -> str:
        return f"{self.client_class.removesuffix('Client')}RestSyncClient"

    @property
    def sync_client_class(self) -> str:
        """``OptionsClient`` -> ``OptionsSyncClient``."""
        stem = self.client_class.removesuffix("Client")
        return f"{stem}SyncClient" if stem != self.client_class else f"{self.client_class}Sync"


def load_api_config(overrides_dir: Path, source: str) -> ApiConfig:
    path = overrides_dir / f"{source}.toml"
    default = ApiConfig(title=source, client_class=pascal(source) + "Client")
    if not path.is_file():
        return default
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path} is not valid TOML: {exc}") from None
    methods = {str(k): str(v) for k, v in (data.get("methods") or {}).items()}
    rest = data.get("rest") or {}
    rest_methods = {str(k): str(v) for k, v in (rest.get("methods") or {}).items()}
    channel_names = {str(k): str(v) for k, v in (data.get("channel_names") or {}).items()}
    client_class = str(data.get("client_class", default.client_class))
    for name in [client_class, *methods.values(), *rest_methods.values(), *channel_names.values()]:
        if not _IDENT.match(name) or keyword.iskeyword(name):
            raise SourcesError(f"{path}: {name!r} is not a valid Python identifier")
    return ApiConfig(
        title=str(data.get("title", default.title)),
        client_class=client_class,
        methods=methods,
        rest_methods=rest_methods,
        rest_base_url=str(rest.get("base_url", "")),
        otp_operation=str(rest.get("otp_operation", "")),
        otp_url_field=str(rest.get("otp_url_field", "data.url")),
        reconnect=data.get("reconnect") or {},
        reader=data.get("reader") or {},
        channel_names=channel_names,
    )
