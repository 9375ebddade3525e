"""``Secret``: a string that does not show itself.

``repr()``, ``str()`` and ``format()`` give ``Secret('***')``; :meth:`Secret.reveal` is the one way to
the value, so every place that puts a credential on the wire is easy to find. Equality runs in
constant time (:func:`hmac.compare_digest`). A secret refuses to be pickled (pickles end up in caches,
task queues and crash dumps) and is not hashable (hashes of short tokens can be brute-forced).
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn, Protocol, final

__all__ = ["Secret", "SecretLike"]

_MASK = "Secret('***')"


class SecretLike(Protocol):
    """Anything that holds a secret string behind ``reveal()`` (a :class:`Secret`, typically)."""

    def reveal(self) -> str: ...


@final
class Secret:
    """An immutable wrapper around a secret ``str``."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The secret value. Call it only where the value goes on the wire or to a store."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other._value
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other.encode())

    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("Secret values cannot be pickled; store them through a TokenStore")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: Any) -> Secret:
        return self
