"""Identifier sanitising, in one place: class names, module names, parameter names.

Every name the generator emits goes through here, so reserved words, case and collisions are
handled the same way everywhere.
"""

from __future__ import annotations

import keyword
import re

from .pysource import is_ident

_WORD = re.compile(r"[A-Za-z0-9]+")
_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"self", "cls", "timeout"}
#: Parameter names every generated method defines itself; every other local of a generated method
#: (``_payload``, ``_m``, ``_calls``, ``_UNSET``...) starts with ``_``, which no parameter does.
RESERVED_PARAMS = frozenset({"self", "timeout"})


def words(text: str) -> list[str]:
    """Split ``text`` into words at non-alphanumerics and lower->upper case changes."""
    out: list[str] = []
    for chunk in _WORD.findall(text):
        out.extend(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[A-Z]+", chunk))
    return out


#: A lower-case word with digits inside or at its end (``p2p``, ``mt5``, ``oauth2``) stays one word in
#: snake case: ``p2p_advert_create``, not ``p_2_p_advert_create``.
_SNAKE_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z][a-z0-9]*|[0-9]+|[A-Z]+")


def snake_words(text: str) -> list[str]:
    """:func:`words`, except that digits glued to the lower-case letters before them stay in their word."""
    out: list[str] = []
    for chunk in _WORD.findall(text):
        out.extend(_SNAKE_PART.findall(chunk))
    return out


def pascal(text: str) -> str:
    name = "".join(w[:1].upper() + w[1:] for w in words(text))
    if not name:
        return "Unnamed"
    return f"N{name}" if name[0].isdigit() else name


def snake(text: str) -> str:
    name = "_".join(w.lower() for w in snake_words(text)) or "unnamed"
    return f"n_{name}" if name[0].isdigit() else name


def identifier(text: str) -> str:
    """A Python identifier for a parameter or module: snake case, reserved words get a ``_`` suffix."""
    name = snake(text)
    return f"{name}_" if name in _RESERVED else name


def unique(candidates: list[str], used: set[str]) -> str:
    """The first candidate not in ``used`` (recorded as used); numbered only as a last resort."""
    for c in candidates:
        if c not in used:
            used.add(c)
            return c
    base = candidates[-1]
    n = 2
    while f"{base}{n}" in used:
        n += 1
    used.add(f"{base}{n}")
    return f"{base}{n}"


def param_name(name: str, json_name: str, used: set[str]) -> str:
    """The Python parameter for a field: its model name unless that could shadow a local of the method.

    Names that start with ``_`` (the generated code's locals), ``self``/``timeout``, names already
    taken and anything that is not a plain ASCII identifier become ``identifier(json_name)``,
    suffixed with ``_`` until free. The wire name stays ``json_name``.
    """
    if name in used or name in RESERVED_PARAMS or name.startswith("_") or not is_ident(name):
        name = identifier(json_name)
    while name in used or name in RESERVED_PARAMS:
        name += "_"
    used.add(name)
    return name
