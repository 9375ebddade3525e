"""Per-API overrides: ``schemas/overrides/<source>.toml`` (title, client class, method names)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SourcesError
from .naming import pascal

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ApiConfig:
    title: str
    client_class: str
    methods: dict[str, str] = field(default_factory=dict)

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
    client_class = str(data.get("client_class", default.client_class))
    for name in [client_class, *methods.values()]:
        if not _IDENT.match(name):
            raise SourcesError(f"{path}: {name!r} is not a valid Python identifier")
    return ApiConfig(title=str(data.get("title", default.title)), client_class=client_class, methods=methods)
