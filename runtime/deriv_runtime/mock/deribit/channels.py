"""Subscriptions and the data of their notifications.

Each clock tick every live subscription gets one notification (``raw`` and ``100ms`` channels alike).
Its ``data`` is synthesised from the channel's notification schema, with the values that matter
made realistic: the channel's parameters (``instrument_name``, ``index_name``, ``currency``...) are
echoed, ``timestamp`` increases, and for ``ticker``, ``book``, ``trades``, ``quote``, the index and
user trade channels, prices come from the :class:`~.market.Market` (which moves once per tick).
A ``book.{instrument}.{interval}`` subscription starts with a ``snapshot`` and continues with
``change`` notifications whose ``prev_change_id`` is the previous ``change_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.synth import Synthesiser, SynthesisError
from .market import Instrument, Market, index_currency
from .spec import ChannelSpec

__all__ = ["ChannelFeed", "Subscription"]

log = logging.getLogger("deriv_runtime.mock.deribit")


@dataclass(slots=True)
class Subscription:
    """One channel subscribed on one connection."""

    name: str
    spec: ChannelSpec
    values: dict[str, str]
    #: Notifications sent on it.
    sent: int = 0
    #: ``book`` channels: the last ``change_id`` sent.
    change_id: int | None = None

    @property
    def instrument_name(self) -> str | None:
        return self.values.get("instrument_name")


_MARKET_KINDS = frozenset({"ticker", "book", "trades", "quote", "perpetual", "deribit_price_index"})


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else {}


class ChannelFeed:
    """Builds the ``data`` of each notification (see the module docstring)."""

    def __init__(self, market: Market, synthesiser: Synthesiser) -> None:
        self.market = market
        self.synth = synthesiser
        self._warned: set[str] = set()

    def instruments(self, subs: list[Subscription]) -> set[str]:
        """The instruments (and index perpetuals) these subscriptions follow: moved once per tick."""
        names = {s.instrument_name for s in subs if s.instrument_name}
        names |= {
            f"{index_currency(s.values['index_name'])}-PERPETUAL" for s in subs if "index_name" in s.values
        }
        return {n for n in names if n}

    def data(self, sub: Subscription) -> Any:
        """The ``data`` of the next notification on ``sub``."""
        now = self.market.now_ms()
        fields: dict[str, Any] = {
            "timestamp": now,
            **{k: v for k, v in sub.values.items() if k != "interval"},
        }
        kind = sub.spec.kind
        inst = self.market.instrument(sub.instrument_name) if sub.instrument_name else None
        if "index_name" in sub.values:
            price = self.market.index_price(index_currency(sub.values["index_name"]))
            fields.update(price=price, index_price=price)
        if inst is not None:
            if kind in ("ticker", "quote", "perpetual"):
                fields.update(self.market.ticker(inst, now))
            elif kind == "book":
                return self._book(sub, inst, now)
            elif kind == "trades" or sub.spec.template.startswith("user.trades"):
                return self._items(sub, [self.market.trade(inst, now) for _ in range(1 + sub.sent % 2)])
        return self._shaped(sub, sub.spec.schema, fields)

    def _book(self, sub: Subscription, inst: Instrument, now: int) -> Any:
        depth_text = sub.values.get("depth")
        fields: dict[str, Any] = {"instrument_name": inst.name, "timestamp": now, "change_id": inst.change_id}
        if depth_text is not None:  # grouped: [price, amount] levels, always the whole top of the book
            depth = int(depth_text) if depth_text.isdigit() else 10
            fields["bids"] = [list(level) for level in self.market.levels(inst, "bids", depth)]
            fields["asks"] = [list(level) for level in self.market.levels(inst, "asks", depth)]
        elif sub.change_id is None:
            fields["type"] = "snapshot"
            fields["bids"] = [["new", p, a] for p, a in self.market.levels(inst, "bids", 5)]
            fields["asks"] = [["new", p, a] for p, a in self.market.levels(inst, "asks", 5)]
        else:
            fields.update(type="change", prev_change_id=sub.change_id)
            (bid, bid_amount), (ask, ask_amount) = (
                self.market.levels(inst, "bids", 1)[0],
                self.market.levels(inst, "asks", 1)[0],
            )
            fields["bids"] = [["change", bid, bid_amount]]
            fields["asks"] = [["new", ask, ask_amount]]
        if sub.change_id is not None and sub.change_id >= inst.change_id:
            inst.change_id = sub.change_id + 1  # no move since the last one: a change all the same
            fields["change_id"] = inst.change_id
        sub.change_id = fields["change_id"]
        return self._shaped(sub, sub.spec.schema, fields)

    def _items(self, sub: Subscription, rows: list[dict[str, Any]]) -> Any:
        schema = sub.spec.schema
        items = schema.get("items")
        if schema.get("type") != "array" or not isinstance(items, Mapping):
            return self._shaped(sub, schema, rows[0])
        value = [self._object(sub, items, row) for row in rows]
        if self.synth.problems(schema, value):
            return self._fallback(sub, schema)
        return value

    def _shaped(self, sub: Subscription, schema: Mapping[str, Any], fields: Mapping[str, Any]) -> Any:
        items = schema.get("items")
        if schema.get("type") == "array" and isinstance(items, Mapping):
            return self._items(sub, [dict(fields)])
        return self._object(sub, schema, fields)

    def _object(self, sub: Subscription, schema: Mapping[str, Any], fields: Mapping[str, Any]) -> Any:
        props = _properties(schema)
        overrides = {k: v for k, v in fields.items() if k in props and not self.synth.problems(props[k], v)}
        # Market channels carry what the market says (and what the schema requires); others everything.
        omit = set(props) - set(overrides) if sub.spec.kind in _MARKET_KINDS else ()
        try:
            return self.synth.generate(schema, overrides=overrides, omit=omit, attempts=3)
        except SynthesisError as exc:
            if sub.spec.template not in self._warned:
                self._warned.add(sub.spec.template)
                log.warning("mock deribit: %s: realistic values do not fit the schema (%s)", sub.name, exc)
            return self._fallback(sub, schema)

    def _fallback(self, sub: Subscription, schema: Mapping[str, Any]) -> Any:
        return self.synth.generate(schema)
