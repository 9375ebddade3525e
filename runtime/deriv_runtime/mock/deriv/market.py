"""Simulated market of the mock server: a symbol table, a market clock, random-walk quotes.

The market clock reads wall time, but each tick advances it by at least one second, so at the
default 1 s tick interval it *is* wall time and at faster rates it runs ahead (epochs always
increase by one per tick). Quotes follow a geometric random walk per symbol, seeded from the
server's seed and the symbol's name: the same seed gives the same sequence.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

__all__ = ["SYMBOLS", "Market", "SymbolSpec", "Tick"]

_SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    name: str
    market: str
    submarket: str
    subgroup: str
    symbol_type: str
    #: Decimal places of a quote (Deriv's ``pip_size``).
    pip_size: int
    start: float
    #: Annualised volatility of the random walk.
    volatility: float

    @property
    def tick_sigma(self) -> float:
        """Relative standard deviation of one tick (one second) of the walk."""
        return self.volatility / math.sqrt(_SECONDS_PER_YEAR)


def _synthetic(
    symbol: str, name: str, pip: int, start: float, vol: float, sub: str = "random_index"
) -> SymbolSpec:
    return SymbolSpec(symbol, name, "synthetic_index", sub, "synthetics", "stockindex", pip, start, vol)


def _forex(symbol: str, name: str, pip: int, start: float, vol: float) -> SymbolSpec:
    return SymbolSpec(symbol, name, "forex", "major_pairs", "none", "forex", pip, start, vol)


SYMBOLS: dict[str, SymbolSpec] = {
    s.symbol: s
    for s in (
        _synthetic("R_10", "Volatility 10 Index", 3, 6500.0, 0.10),
        _synthetic("R_25", "Volatility 25 Index", 3, 2800.0, 0.25),
        _synthetic("R_50", "Volatility 50 Index", 4, 180.0, 0.50),
        _synthetic("R_75", "Volatility 75 Index", 4, 41000.0, 0.75),
        _synthetic("R_100", "Volatility 100 Index", 2, 1200.0, 1.00),
        _synthetic("1HZ10V", "Volatility 10 (1s) Index", 2, 9000.0, 0.10),
        _synthetic("1HZ100V", "Volatility 100 (1s) Index", 2, 1500.0, 1.00),
        _synthetic("JD10", "Jump 10 Index", 2, 5000.0, 0.30, sub="jump_index"),
        _forex("frxEURUSD", "EUR/USD", 5, 1.08, 0.07),
        _forex("frxGBPUSD", "GBP/USD", 5, 1.27, 0.08),
        _forex("frxUSDJPY", "USD/JPY", 3, 155.0, 0.09),
        SymbolSpec(
            "cryBTCUSD",
            "BTC/USD",
            "cryptocurrency",
            "non_stable_coin",
            "none",
            "cryptocurrency",
            2,
            65000.0,
            0.6,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Tick:
    symbol: str
    epoch: int
    quote: float
    pip_size: int

    @property
    def spread(self) -> float:
        return round(2.0 * 10.0**-self.pip_size, self.pip_size)

    @property
    def bid(self) -> float:
        return round(self.quote - self.spread / 2, self.pip_size)

    @property
    def ask(self) -> float:
        return round(self.quote + self.spread / 2, self.pip_size)

    def display(self, value: float | None = None) -> str:
        return f"{self.quote if value is None else value:.{self.pip_size}f}"

    def as_tick(self, subscription_id: str | None = None) -> dict[str, object]:
        body: dict[str, object] = {
            "ask": self.ask,
            "bid": self.bid,
            "epoch": self.epoch,
            "pip_size": self.pip_size,
            "quote": self.quote,
            "symbol": self.symbol,
        }
        if subscription_id is not None:
            body["id"] = subscription_id
        return body


@dataclass(slots=True)
class _Walk:
    spec: SymbolSpec
    rng: random.Random
    quote: float
    epoch: int
    sigma: float = field(init=False)

    def __post_init__(self) -> None:
        self.sigma = self.spec.tick_sigma

    def step(self, epoch: int) -> Tick:
        self.quote = round(self.quote * math.exp(self.sigma * self.rng.gauss(0.0, 1.0)), self.spec.pip_size)
        self.epoch = epoch
        return Tick(self.spec.symbol, epoch, self.quote, self.spec.pip_size)

    def tick(self) -> Tick:
        return Tick(self.spec.symbol, self.epoch, self.quote, self.spec.pip_size)


class Market:
    """Quotes of every symbol, advanced by :meth:`advance` (the server's ticker)."""

    def __init__(self, seed: int = 0, symbols: dict[str, SymbolSpec] | None = None) -> None:
        self.seed = seed
        self.symbols = dict(symbols or SYMBOLS)
        self._walks: dict[str, _Walk] = {}
        self._epoch = int(time.time())

    def now(self) -> int:
        """The market clock: wall time, or the last tick's epoch if the ticker ran ahead."""
        self._epoch = max(self._epoch, int(time.time()))
        return self._epoch

    def next_epoch(self) -> int:
        self._epoch = max(self._epoch + 1, int(time.time()))
        return self._epoch

    def knows(self, symbol: str) -> bool:
        return symbol in self.symbols

    def spec(self, symbol: str) -> SymbolSpec:
        return self.symbols[symbol]

    def _walk(self, symbol: str) -> _Walk:
        walk = self._walks.get(symbol)
        if walk is None:
            spec = self.symbols[symbol]
            rng = random.Random(f"{self.seed}:{symbol}")  # noqa: S311
            walk = _Walk(spec, rng, round(spec.start, spec.pip_size), self.now())
            self._walks[symbol] = walk
        return walk

    def tick(self, symbol: str) -> Tick:
        """The latest tick of ``symbol``."""
        return self._walk(symbol).tick()

    def advance(self, symbols: set[str], epoch: int) -> list[Tick]:
        """One new tick, at ``epoch``, for each of ``symbols`` (sorted, for determinism)."""
        return [self._walk(s).step(epoch) for s in sorted(symbols)]

    def history(self, symbol: str, end: int, count: int) -> list[tuple[int, float]]:
        """``count`` past ticks, one per second, ending at ``end`` (the last is the current quote
        when ``end`` is now). Deterministic for a given seed, symbol and end."""
        walk = self._walk(symbol)
        spec = walk.spec
        rng = random.Random(f"{self.seed}:{symbol}:history:{end}")  # noqa: S311
        quote = walk.quote
        points: list[tuple[int, float]] = []
        for i in range(count):
            points.append((end - i, round(quote, spec.pip_size)))
            quote = quote * math.exp(walk.sigma * rng.gauss(0.0, 1.0))
        points.reverse()
        return points

    def candles(self, symbol: str, end: int, count: int, granularity: int) -> list[dict[str, float | int]]:
        """``count`` OHLC candles of ``granularity`` seconds, the last one open at ``end``."""
        walk = self._walk(symbol)
        spec = walk.spec
        rng = random.Random(f"{self.seed}:{symbol}:candles:{granularity}:{end}")  # noqa: S311
        step = max(1, granularity // 8)
        first_open = end - end % granularity - (count - 1) * granularity
        quote = walk.quote
        points: list[tuple[int, float]] = []
        t = end
        while t >= first_open:
            points.append((t, quote))
            quote = quote * math.exp(walk.sigma * math.sqrt(step) * rng.gauss(0.0, 1.0))
            t -= step
        points.reverse()
        buckets: dict[int, list[float]] = {}
        for t, q in points:
            buckets.setdefault(t - t % granularity, []).append(q)
        candles: list[dict[str, float | int]] = []
        for open_time in sorted(buckets):
            quotes = buckets[open_time]
            candles.append(
                {
                    "close": round(quotes[-1], spec.pip_size),
                    "epoch": open_time,
                    "high": round(max(quotes), spec.pip_size),
                    "low": round(min(quotes), spec.pip_size),
                    "open": round(quotes[0], spec.pip_size),
                }
            )
        return candles[-count:]
