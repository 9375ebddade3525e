"""Options for obtaining bundles (:class:`FetchOptions`) and the mirror directories named by the
environment (see :mod:`deriv_codegen.fetch`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .limits import DEFAULT_LIMITS, Limits

#: Environment variable naming mirror directories, separated by :data:`os.pathsep`.
MIRRORS_ENV = "DERIV_CODEGEN_MIRRORS"


@dataclass(frozen=True)
class FetchOptions:
    cache_dir: Path
    mirrors: Sequence[Path] = ()
    offline: bool = False  # never use the network
    retries: int = 3  # attempts for transient failures
    backoff: float = 0.5  # seconds before the 2nd attempt, doubled each time, with jitter
    timeout: float = 30.0
    progress: bool | None = None  # None: rich progress bar only when stderr is a terminal; quiet otherwise
    limits: Limits = DEFAULT_LIMITS  # a download, mirror file or bundle over these is refused


def mirrors_from_env(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The mirror directories named by ``$DERIV_CODEGEN_MIRRORS`` (``os.pathsep``-separated)."""
    value = (os.environ if environ is None else environ).get(MIRRORS_ENV, "")
    return tuple(Path(part).expanduser() for part in value.split(os.pathsep) if part.strip())
