"""The mock's pricing: proposals (a price, a payout and a long code per contract type) from the
market's last tick, and the errors the Options API answers with (:class:`MockAPIError`).

Deliberately simple and deterministic, but shaped like the real thing: prices come from the amount
and a payout ratio per contract type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .market import Market, Tick

__all__ = [
    "DIGITS",
    "DOWN",
    "MULTIPLIERS",
    "OPEN_ENDED",
    "RANGES",
    "TOUCH",
    "UP",
    "MockAPIError",
    "Quote",
    "fmt_amount",
    "last_digit",
    "price_contract",
    "resolve_barrier",
    "round_money",
]

UP = frozenset({"CALL", "CALLE", "HIGHER", "ASIANU", "RESETCALL", "VANILLALONGCALL", "TURBOSLONG"})
DOWN = frozenset({"PUT", "PUTE", "LOWER", "ASIAND", "RESETPUT", "VANILLALONGPUT", "TURBOSSHORT"})
DIGITS = frozenset({"DIGITMATCH", "DIGITDIFF", "DIGITOVER", "DIGITUNDER", "DIGITEVEN", "DIGITODD"})
TOUCH = frozenset({"ONETOUCH", "NOTOUCH"})
RANGES = frozenset({"EXPIRYRANGE", "EXPIRYRANGEE", "EXPIRYMISS", "EXPIRYMISSE", "RANGE", "UPORDOWN"})
MULTIPLIERS = frozenset({"MULTUP", "MULTDOWN"})
OPEN_ENDED = MULTIPLIERS | {"ACCU"}

_PAYOUT_RATIO: Mapping[str, float] = {
    "DIGITMATCH": 9.5,
    "DIGITDIFF": 1.06,
    "TICKHIGH": 4.6,
    "TICKLOW": 4.6,
    "RUNHIGH": 2.6,
    "RUNLOW": 2.6,
    "ONETOUCH": 2.1,
    "NOTOUCH": 1.8,
    "VANILLALONGCALL": 3.2,
    "VANILLALONGPUT": 3.2,
    "TURBOSLONG": 3.5,
    "TURBOSSHORT": 3.5,
}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {"t": "ticks", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MIN_STAKE = 0.35
MAX_PAYOUT = 50000.0
#: Accumulators close (as won) after this many ticks, as the real ones do at their maximum.
ACCU_MAX_TICKS = 230


class MockAPIError(Exception):
    """An error the mock answers with: ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = dict(details) if details else None

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return error


def round_money(value: float) -> float:
    return round(value + 0.0, 2)


def fmt_amount(value: float) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced contract: what ``proposal`` shows and ``buy`` charges."""

    parameters: dict[str, Any]
    contract_type: str
    symbol: str
    currency: str
    ask_price: float
    payout: float
    spot: Tick
    date_start: int
    duration: int | None
    duration_unit: str | None
    date_expiry: int | None
    barrier: str | None
    barrier2: str | None
    multiplier: float | None
    growth_rate: float | None
    longcode: str
    #: Relative standard deviation of one tick's move (from the symbol's volatility).
    sigma: float

    def shortcode(self, purchase_time: int) -> str:
        end = f"{self.duration}T" if self.duration_unit == "t" else str(self.date_expiry or 0)
        return f"{self.contract_type}_{self.symbol}_{fmt_amount(self.payout)}_{purchase_time}_{end}_S0P_0"


def _number(params: Mapping[str, Any], key: str) -> float | None:
    value = params.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def price_contract(params: Mapping[str, Any], market: Market, *, currency: str | None = None) -> Quote:
    """Price the contract described by ``params`` (proposal or buy parameters) at the current spot.

    Raises :class:`MockAPIError` for what the real API refuses: unknown symbol, no amount,
    no duration, stake or payout out of range.
    """
    contract_type = str(params.get("contract_type", ""))
    symbol = str(params.get("underlying_symbol", ""))
    if not market.knows(symbol):
        raise MockAPIError(
            "InvalidSymbol",
            f"Symbol {symbol} is invalid. The mock offers: {', '.join(sorted(market.symbols))}.",
        )
    spec = market.spec(symbol)
    amount = _number(params, "amount")
    if amount is None:
        raise MockAPIError("ContractCreationFailure", "Please specify the amount (stake or payout).")
    basis = str(params.get("basis", "stake"))
    req_currency = str(params.get("currency", currency or "USD"))
    if currency is not None and req_currency.upper() != currency.upper():
        raise MockAPIError("InvalidCurrency", f"The provided currency {req_currency} is not the account's.")
    multiplier = _number(params, "multiplier")
    growth_rate = _number(params, "growth_rate")
    duration = params.get("duration")
    duration_unit = params.get("duration_unit")
    date_expiry = params.get("date_expiry")
    spot = market.tick(symbol)
    now = market.now()
    if contract_type in OPEN_ENDED:
        if basis != "stake":
            raise MockAPIError("ContractCreationFailure", f"{contract_type} contracts are bought by stake.")
        duration = duration_unit = date_expiry = None
        if contract_type in MULTIPLIERS and multiplier is None:
            multiplier = 100.0
        if contract_type == "ACCU" and growth_rate is None:
            growth_rate = 0.03
    elif isinstance(duration, int) and duration > 0:
        duration_unit = str(duration_unit or "s")
        date_expiry = None if duration_unit == "t" else now + duration * _UNIT_SECONDS[duration_unit]
    elif isinstance(date_expiry, int):
        if date_expiry <= now:
            raise MockAPIError("OfferingsValidationError", "Contract expiry must be in the future.")
        duration = date_expiry - now
        duration_unit = "s"
    else:
        raise MockAPIError("OfferingsValidationError", "Please specify either duration or date_expiry.")

    ratio = _payout_ratio(contract_type, params)
    if contract_type in OPEN_ENDED:
        ask, payout = amount, (0.0 if contract_type in MULTIPLIERS else round_money(amount * 10))
    elif basis == "payout":
        payout, ask = amount, round_money(amount / ratio)
    else:
        ask, payout = amount, round_money(amount * ratio)
    if ask < MIN_STAKE:
        raise MockAPIError(
            "ContractBuyValidationError",
            f"Minimum stake of {MIN_STAKE:.2f} and maximum payout of {MAX_PAYOUT:.2f}.",
        )
    if payout > MAX_PAYOUT:
        raise MockAPIError("ContractBuyValidationError", f"Maximum payout allowed is {MAX_PAYOUT:.2f}.")

    barrier = params.get("barrier")
    barrier2 = params.get("barrier2")
    if contract_type in DIGITS and barrier is None and contract_type not in {"DIGITEVEN", "DIGITODD"}:
        barrier = "5"
    if contract_type in TOUCH and barrier is None:
        barrier = f"+{spot.quote * 0.001:.{spec.pip_size}f}"
    if contract_type in RANGES and barrier is None:
        barrier = f"+{spot.quote * 0.001:.{spec.pip_size}f}"
        barrier2 = f"-{spot.quote * 0.001:.{spec.pip_size}f}"
    longcode = _longcode(
        contract_type, spec.name, payout, duration, duration_unit, barrier, currency or req_currency
    )
    return Quote(
        parameters=dict(params),
        contract_type=contract_type,
        symbol=symbol,
        currency=(currency or req_currency).upper(),
        ask_price=round_money(ask),
        payout=round_money(payout),
        spot=spot,
        date_start=now,
        duration=duration if isinstance(duration, int) else None,
        duration_unit=str(duration_unit) if duration_unit else None,
        date_expiry=date_expiry if isinstance(date_expiry, int) else None,
        barrier=None if barrier is None else str(barrier),
        barrier2=None if barrier2 is None else str(barrier2),
        multiplier=multiplier,
        growth_rate=growth_rate,
        longcode=longcode,
        sigma=spec.tick_sigma,
    )


def _payout_ratio(contract_type: str, params: Mapping[str, Any]) -> float:
    if contract_type in {"DIGITOVER", "DIGITUNDER"}:
        text = str(params.get("barrier", "5"))
        digit = int(text) if len(text) == 1 and text.isdigit() else 5
        winning = 9 - digit if contract_type == "DIGITOVER" else digit
        return max(1.05, min(9.5, 0.95 * 10 / max(1, winning)))
    return _PAYOUT_RATIO.get(contract_type, 1.95)


def _longcode(
    contract_type: str,
    name: str,
    payout: float,
    duration: Any,
    unit: Any,
    barrier: Any,
    currency: str,
) -> str:
    if contract_type in MULTIPLIERS:
        direction = "rises" if contract_type == "MULTUP" else "falls"
        return f"If you select 'Up' your net profit grows with the multiplier as {name} {direction}."
    if contract_type == "ACCU":
        return f"Your stake grows each tick while {name} stays within the barrier range."
    when = f"{duration} {_UNIT_WORDS.get(str(unit), 'seconds')} after contract start time"
    if contract_type in UP:
        condition = "strictly higher than " + ("entry spot" if barrier is None else f"barrier {barrier}")
    elif contract_type in DOWN:
        condition = "strictly lower than " + ("entry spot" if barrier is None else f"barrier {barrier}")
    elif contract_type in DIGITS:
        condition = f"last digit {contract_type.removeprefix('DIGIT').lower()} {barrier or ''}".strip()
    else:
        condition = f"{contract_type.lower()} {barrier or ''}".strip()
    return f"Win payout of {currency} {fmt_amount(payout)} if {name} is {condition} at {when}."


def resolve_barrier(barrier: str | None, entry: float, pip: int) -> float:
    if barrier is None:
        return entry
    text = barrier.strip()
    if text[:1] in "+-":
        return round(entry + float(text), pip)
    return float(text)


def last_digit(quote: float, pip: int) -> int:
    return int(f"{quote:.{pip}f}"[-1])
