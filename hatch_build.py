"""Build hook of the generator distribution (deriv-codegen): its dependencies.

deriv-codegen depends on deriv-runtime of its own version (both come from this repository, with
the one version in ``runtime/deriv_runtime/__init__.py``), plus the build tools listed under
``[tool.hatch.metadata.hooks.custom] dependencies`` in pyproject.toml.
"""

from __future__ import annotations

from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        tools = self.config.get("dependencies", [])
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise TypeError("[tool.hatch.metadata.hooks.custom] dependencies must be a list of strings")
        metadata["dependencies"] = [f"deriv-runtime=={metadata['version']}", *tools]
