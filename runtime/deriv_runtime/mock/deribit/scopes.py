"""Deribit access scopes as the mock reads them, and the scope each private call needs.

A scope is a space-separated list of words (``public/auth``'s ``scope``, a key's ``max_scope``):

* ``RESOURCE:LEVEL`` grants access: ``account``, ``trade``, ``wallet``, ``block_trade``... at
  level ``none`` < ``read`` < ``read_write`` (``read_write`` includes ``read``);
* ``session:NAME`` makes the token session-scoped (it survives a refresh, it can be forked);
  without it a token is connection-scoped;
* ``expires:N``: the token lives N seconds;
* any other word (``connection``, ``mainaccount``, ``ip:...``) is kept and shown, and grants nothing.

Granted scope: what was asked narrowed to the client's ``max_scope``, resource by resource (a
resource the key lacks is granted ``none``); asking no ``RESOURCE:LEVEL`` at all grants the key's
whole ``max_scope``; asking nothing at all grants :data:`DEFAULT_WORDS` and the key's ``max_scope``.

The scope a private method needs (:func:`method_scope`) is derived from the document's tags, since
the OpenAPI document carries no scope data:

* the resource: tag ``trading`` -> ``trade``, ``wallet`` -> ``wallet``, ``account_management``
  -> ``account`` (the first of these, in that order, among the method's tags); any other -> ``account``;
* the level: ``read`` for a method whose name starts with ``get_``, otherwise ``read_write``;
* none for the session methods (tags ``authentication``, ``session_management``,
  ``subscription_management``: ``private/logout``, ``private/subscribe``, ``private/unsubscribe``...).

So ``private/buy`` needs ``trade:read_write``, ``private/get_deposits`` ``wallet:read``,
``private/create_api_key`` ``account:read_write``. ``private/subscribe`` needs, for each private
channel (:func:`channel_scope`): ``trade:read`` for ``user.orders.*``, ``user.trades.*``,
``user.changes.*``, ``user.mmp_trigger.*``; ``account:read`` for every other ``user.*`` channel
(``user.portfolio.*``, ``user.access_log``...). A call without the scope it needs: 13021 ``forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from .params import invalid_params
from .spec import MethodSpec

__all__ = [
    "DEFAULT_MAX_SCOPE",
    "DEFAULT_WORDS",
    "LEVELS",
    "Need",
    "Scope",
    "channel_scope",
    "method_scope",
]

#: Access levels, weakest first.
LEVELS = ("none", "read", "read_write")
#: The ``max_scope`` of clients given without one.
DEFAULT_MAX_SCOPE = "account:read_write trade:read_write wallet:read_write"
#: The words of a token asked for without any scope (a connection-scoped main-account token).
DEFAULT_WORDS = ("connection", "mainaccount")

#: Tags whose methods need no particular scope (any valid token will do).
SESSION_TAGS = frozenset({"authentication", "session_management", "subscription_management"})
#: Tag -> resource, in the order they are looked for.
TAG_RESOURCES = (("trading", "trade"), ("wallet", "wallet"), ("account_management", "account"))
#: Private channel prefixes that need ``trade:read`` (every other ``user.*`` needs ``account:read``).
TRADE_CHANNELS = ("user.orders.", "user.trades.", "user.changes.", "user.mmp_trigger.")


class Need(NamedTuple):
    """A scope a call needs: ``resource`` at ``level`` at least."""

    resource: str
    level: str

    def __str__(self) -> str:
        return f"{self.resource}:{self.level}"


def _rank(level: str) -> int:
    return LEVELS.index(level)


@dataclass(slots=True)
class Scope:
    """A parsed scope (see the module docstring)."""

    #: ``resource -> level``, in the order given.
    access: dict[str, str] = field(default_factory=dict)
    #: Every other word, in the order given (``session:NAME`` and ``expires:N`` included).
    words: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``text`` read word by word; ``expires:N`` must be whole seconds (else -32602)."""
        scope = cls()
        for word in text.split():
            name, sep, value = word.partition(":")
            if sep and value in LEVELS and name not in ("session", "expires", "ip"):
                scope.access[name] = value
                continue
            if name == "expires" and (not value.isdigit() or int(value) < 1):
                raise invalid_params("scope", "expires:N needs a whole number of seconds")
            if name == "session" and not value:
                raise invalid_params("scope", "session:NAME needs a name")
            scope.words.append(word)
        return scope

    @property
    def session(self) -> str | None:
        """The name of ``session:NAME`` (the last one), or ``None``: connection-scoped."""
        names = [w.partition(":")[2] for w in self.words if w.startswith("session:")]
        return names[-1] if names else None

    @property
    def expires(self) -> int | None:
        """The seconds of ``expires:N`` (the last one), or ``None``."""
        values = [int(w.partition(":")[2]) for w in self.words if w.startswith("expires:")]
        return values[-1] if values else None

    def level(self, resource: str) -> str:
        return self.access.get(resource, "none")

    def allows(self, need: Need) -> bool:
        return _rank(self.level(need.resource)) >= _rank(need.level)

    def narrowed(self, ceiling: Scope) -> Scope:
        """This scope with each access level lowered to ``ceiling``'s (see the module docstring);
        no access asked for: all of ``ceiling``'s."""
        if not self.access:
            return Scope(dict(ceiling.access), list(self.words))
        access = {r: min(lvl, ceiling.level(r), key=_rank) for r, lvl in self.access.items()}
        return Scope(access, list(self.words))

    def exceeding(self, ceiling: Scope) -> list[str]:
        """The access words of this scope above ``ceiling``'s levels."""
        return [f"{r}:{lvl}" for r, lvl in self.access.items() if _rank(lvl) > _rank(ceiling.level(r))]

    def in_session(self, name: str) -> Scope:
        """The same access and words, bound to session ``name`` instead (``public/fork_token``)."""
        words = [w for w in self.words if not w.startswith("session:") and w != "connection"]
        return Scope(dict(self.access), [f"session:{name}", *words])

    def text(self) -> str:
        """The scope as Deribit shows it: the other words, then the access words."""
        return " ".join([*self.words, *(f"{r}:{lvl}" for r, lvl in self.access.items())])

    def copy(self) -> Scope:
        return Scope(dict(self.access), list(self.words))


def method_scope(spec: MethodSpec) -> Need | None:
    """The scope a private method needs (``None``: any valid token), from its tags and name."""
    if SESSION_TAGS & set(spec.tags):
        return None
    resource = next((res for tag, res in TAG_RESOURCES if tag in spec.tags), "account")
    short = spec.name.partition("/")[2]
    return Need(resource, "read" if short.startswith("get_") else "read_write")


def channel_scope(channel: str) -> Need | None:
    """The scope subscribing to ``channel`` needs (``None`` for public channels)."""
    if not channel.startswith("user."):
        return None
    return Need("trade" if channel.startswith(TRADE_CHANNELS) else "account", "read")
