"""A small Deribit-like market: instruments whose prices move, order books, trades, indices.

Every instrument (any name: ``BTC-PERPETUAL``, ``ETH-27JUN25``, ``BTC-27JUN25-60000-C``) starts at a
price for its currency (BTC about 60 000 USD, ETH about 3 000, others derived from the name) and
random-walks on each :meth:`Market.move`, deterministically for the seed. Timestamps are
milliseconds since the epoch and strictly increase (:meth:`Market.now_ms`).
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

__all__ = ["Instrument", "Market", "index_currency"]

_START_PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0, "USDC": 1.0}


def index_currency(index_name: str) -> str:
    """``btc_usd`` -> ``BTC``."""
    return index_name.split("_", 1)[0].upper()


@dataclass(slots=True)
class Instrument:
    name: str
    currency: str
    price: float
    tick: float
    change_id: int
    trade_seq: int = 0
    last_trade: float = 0.0
    high: float = 0.0
    low: float = 0.0
    volume: float = 0.0
    open_interest: float = 0.0

    def round(self, price: float) -> float:
        return round(round(price / self.tick) * self.tick, 8)

    @property
    def option(self) -> bool:
        return self.name.endswith(("-C", "-P")) and self.name.count("-") >= 3

    @property
    def perpetual(self) -> bool:
        return self.name.endswith("-PERPETUAL")


class Market:
    """Instruments by name, created on first use, and a strictly increasing millisecond clock."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(f"{seed}:deribit-market")  # noqa: S311 - simulated prices
        self.instruments: dict[str, Instrument] = {}
        self._last_ms = 0
        self._trade_ids = 100_000_000 + seed % 1000

    def now_ms(self) -> int:
        """Milliseconds since the epoch, later than every earlier answer."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    def instrument(self, name: str) -> Instrument:
        found = self.instruments.get(name)
        if found is None:
            currency = name.split("-", 1)[0].upper() or "BTC"
            start = _START_PRICES.get(currency)
            if start is None:
                digest = hashlib.sha256(currency.encode()).digest()
                start = 10.0 + int.from_bytes(digest[:2], "big") % 500
            option = name.endswith(("-C", "-P")) and name.count("-") >= 3
            price = round(start * 0.02, 4) if option else start
            tick = 0.0005 if option else (0.5 if start >= 10_000 else 0.05 if start >= 100 else 0.0001)
            found = Instrument(name, currency, price, tick, change_id=self._rng.randint(10_000, 99_999))
            found.price = found.round(price)
            found.last_trade = found.high = found.low = found.price
            found.open_interest = float(self._rng.randint(1_000, 900_000))
            self.instruments[name] = found
        return found

    def move(self, name: str) -> Instrument:
        """One step of the instrument's random walk (its book changes: a new ``change_id``)."""
        inst = self.instrument(name)
        step = inst.price * self._rng.gauss(0, 0.0005)
        inst.price = max(inst.tick, inst.round(inst.price + step))
        inst.high, inst.low = max(inst.high, inst.price), min(inst.low, inst.price)
        inst.change_id += 1
        return inst

    def index_price(self, currency: str) -> float:
        """The index of a currency: its perpetual's price."""
        return self.instrument(f"{currency.upper()}-PERPETUAL").price

    # -- what the channels show ---------------------------------------------------------------

    def quote(self, inst: Instrument) -> tuple[float, float, float, float]:
        """Best bid price and amount, best ask price and amount: a tick either side of the price."""
        amount = 10.0 if inst.option else 10.0 * self._rng.randint(1, 500)
        other = 10.0 if inst.option else 10.0 * self._rng.randint(1, 500)
        bid = max(inst.tick, inst.round(inst.price - inst.tick))
        return bid, amount, inst.round(inst.price + inst.tick), other

    def levels(self, inst: Instrument, side: str, depth: int) -> list[tuple[float, float]]:
        """``depth`` price levels of one side of the book, best first."""
        bid, _, ask, _ = self.quote(inst)
        sign, start = (-1, bid) if side == "bids" else (1, ask)
        return [
            (max(inst.tick, inst.round(start + sign * i * inst.tick)), float(10 * self._rng.randint(1, 300)))
            for i in range(depth)
        ]

    def trade(self, inst: Instrument, timestamp: int) -> dict[str, object]:
        """One trade near the current price."""
        inst.trade_seq += 1
        self._trade_ids += 1
        direction = self._rng.choice(("buy", "sell"))
        price = inst.round(inst.price + (inst.tick if direction == "buy" else -inst.tick))
        price = max(inst.tick, price)
        tick_direction = (0 if price > inst.last_trade else 2) if price != inst.last_trade else 1
        inst.last_trade = price
        amount = 10.0 * self._rng.randint(1, 100)
        inst.volume += amount
        return {
            "trade_id": str(self._trade_ids),
            "trade_seq": inst.trade_seq,
            "instrument_name": inst.name,
            "timestamp": timestamp,
            "price": price,
            "amount": amount,
            "direction": direction,
            "tick_direction": tick_direction,
            "index_price": self.index_price(inst.currency),
        }

    def ticker(self, inst: Instrument, timestamp: int) -> dict[str, object]:
        """The fields of a ticker that follow the market."""
        bid, bid_amount, ask, ask_amount = self.quote(inst)
        return {
            "instrument_name": inst.name,
            "timestamp": timestamp,
            "state": "open",
            "best_bid_price": bid,
            "best_bid_amount": bid_amount,
            "best_ask_price": ask,
            "best_ask_amount": ask_amount,
            "last_price": inst.last_trade,
            "mark_price": inst.price,
            "index_price": self.index_price(inst.currency),
            "min_price": inst.round(inst.price * 0.98),
            "max_price": inst.round(inst.price * 1.02),
            "open_interest": inst.open_interest,
            "stats": {"volume": inst.volume, "high": inst.high, "low": inst.low},
        }
