"""Readers: one per bundle layout, each turning a bundle into an :class:`~deriv_codegen.ir.ApiIR`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BundleError
from ..ir import ApiIR, BundleInfo
from ..limits import DEFAULT_LIMITS, Limits
from .deribit import read_deribit_bundle
from .files import BundleFiles
from .legacy_v3 import read_v3_bundle
from .options import read_options_bundle

if TYPE_CHECKING:
    from ..config import ApiConfig

#: ``reader(files, info, config)``: ``config`` is the API's override file (``None``: the reader's default).
Reader = Callable[[BundleFiles, BundleInfo, "ApiConfig | None"], ApiIR]

READERS: dict[str, Reader] = {
    "deriv-options-zip": read_options_bundle,
    "deribit-openapi": read_deribit_bundle,
    "deriv-v3-docs-zip": read_v3_bundle,
}


def read_bundle(
    path: Path,
    layout: str,
    info: BundleInfo,
    limits: Limits = DEFAULT_LIMITS,
    config: ApiConfig | None = None,
) -> ApiIR:
    try:
        reader = READERS[layout]
    except KeyError:
        raise BundleError(
            f"no reader for bundle layout {layout!r} (readers exist for: {', '.join(READERS)})"
        ) from None
    return reader(BundleFiles.open(path, limits), info, config)


__all__ = ["READERS", "BundleFiles", "read_bundle"]
