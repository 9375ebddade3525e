from __future__ import annotations

import enum
from typing import Final, Literal


class Unset(enum.Enum):
    """Type of :data:`UNSET`: "not passed", distinct from ``None`` (which may mean JSON ``null``)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = Unset.UNSET
