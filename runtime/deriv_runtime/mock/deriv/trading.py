"""The mock's trading model: the account, contracts and their settlement (prices: :mod:`.pricing`).

Contracts enter at the next tick, expire after their duration (ticks, or seconds of the market
clock), settle against their barrier and credit the account. Multipliers and accumulators stay
open until sold (or a limit order closes them).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from .market import Tick
from .pricing import (
    ACCU_MAX_TICKS,
    DIGITS,
    DOWN,
    MULTIPLIERS,
    OPEN_ENDED,
    RANGES,
    TOUCH,
    UP,
    MockAPIError,
    Quote,
    fmt_amount,
    last_digit,
    resolve_barrier,
    round_money,
)

__all__ = ["Account", "Contract", "MockAPIError", "Quote", "Transaction", "purchase_receipt"]


@dataclass(slots=True)
class Transaction:
    transaction_id: int
    action: str
    amount: float
    balance_after: float
    time: int
    contract: Contract | None = None
    reference_id: int | None = None


@dataclass(slots=True)
class Contract:
    contract_id: int
    quote: Quote
    buy_price: float
    purchase_time: int
    buy_transaction_id: int
    limit_order: dict[str, float] = field(default_factory=dict)
    entry: Tick | None = None
    current: Tick | None = None
    exit: Tick | None = None
    ticks: list[Tick] = field(default_factory=list)
    is_sold: bool = False
    status: str = "open"
    sell_price: float | None = None
    sell_time: int | None = None
    sell_transaction_id: int | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    #: An accumulator whose price left its barrier range.
    knocked_out: bool = False

    @property
    def contract_type(self) -> str:
        return self.quote.contract_type

    @property
    def symbol(self) -> str:
        return self.quote.symbol

    @property
    def payout(self) -> float:
        return self.quote.payout

    @property
    def is_open(self) -> bool:
        return not self.is_sold

    @property
    def pip(self) -> int:
        return self.quote.spot.pip_size

    @property
    def shortcode(self) -> str:
        return self.quote.shortcode(self.purchase_time)

    @property
    def expiry_time(self) -> int | None:
        if self.quote.date_expiry is not None:
            return self.quote.date_expiry
        if self.quote.duration_unit == "t" and self.quote.duration is not None:
            # Tick contracts: an estimate, one tick per second of the market clock.
            return self.purchase_time + self.quote.duration + 1
        return None

    def barrier_value(self) -> float | None:
        if self.entry is None:
            return None
        if self.contract_type in DIGITS:
            return None
        return resolve_barrier(self.quote.barrier, self.entry.quote, self.pip)

    def ticks_after_entry(self) -> int:
        return max(0, len(self.ticks) - 1)

    def on_tick(self, tick: Tick) -> bool:
        """Record ``tick``; True when the contract is now due to settle (expired or closed)."""
        if self.is_sold:
            return False
        self.current = tick
        if self.entry is None:
            self.entry = tick
        self.ticks.append(tick)
        if self.contract_type in MULTIPLIERS:
            value = self.bid_price()
            profit = value - self.buy_price
            take, stop = self.limit_order.get("take_profit"), self.limit_order.get("stop_loss")
            return (
                value <= 0 or (take is not None and profit >= take) or (stop is not None and -profit >= stop)
            )
        if self.contract_type == "ACCU":
            return self._accumulator_done()
        q = self.quote
        if q.duration_unit == "t" and q.duration is not None:
            return self.ticks_after_entry() >= q.duration
        return q.date_expiry is not None and tick.epoch >= q.date_expiry

    def _accumulator_done(self) -> bool:
        if len(self.ticks) >= 2:
            previous, current = self.ticks[-2].quote, self.ticks[-1].quote
            # The barrier range is set so the chance of leaving it each tick grows with the rate.
            growth = self.quote.growth_rate or 0.03
            knock_chance = min(0.9, max(0.01, growth * 5))
            half_range = NormalDist().inv_cdf(1 - knock_chance / 2) * previous * self.quote.sigma
            if abs(current - previous) > half_range:
                self.knocked_out = True
                return True
        take = self.limit_order.get("take_profit")
        if take is not None and self.bid_price() - self.buy_price >= take:
            return True
        return self.ticks_after_entry() >= ACCU_MAX_TICKS

    def won(self) -> bool:
        """The outcome at expiry (uses the last tick as exit spot)."""
        assert self.entry is not None
        assert self.current is not None
        exit_quote = self.current.quote
        kind = self.contract_type
        quotes = [t.quote for t in self.ticks]
        barrier = self.barrier_value()
        if kind in {"ASIANU", "ASIAND"}:
            barrier = sum(quotes) / len(quotes)
        level = self.entry.quote if barrier is None else barrier
        if kind in UP:
            return exit_quote >= level if kind == "CALLE" else exit_quote > level
        if kind in DOWN:
            return exit_quote <= level if kind == "PUTE" else exit_quote < level
        if kind in DIGITS:
            digit = last_digit(exit_quote, self.pip)
            target = int(self.quote.barrier or 5) if (self.quote.barrier or "5").isdigit() else 5
            return {
                "DIGITMATCH": digit == target,
                "DIGITDIFF": digit != target,
                "DIGITOVER": digit > target,
                "DIGITUNDER": digit < target,
                "DIGITEVEN": digit % 2 == 0,
                "DIGITODD": digit % 2 == 1,
            }[kind]
        if kind in TOUCH:
            assert barrier is not None
            above = barrier >= self.entry.quote
            touched = any(q >= barrier if above else q <= barrier for q in quotes[1:])
            return touched if kind == "ONETOUCH" else not touched
        if kind in RANGES:
            high = resolve_barrier(self.quote.barrier, self.entry.quote, self.pip)
            low = resolve_barrier(self.quote.barrier2, self.entry.quote, self.pip)
            high, low = max(high, low), min(high, low)
            inside_at_end = low < exit_quote < high
            always_inside = all(low < q < high for q in quotes[1:])
            return {
                "EXPIRYRANGE": inside_at_end,
                "EXPIRYRANGEE": low <= exit_quote <= high,
                "EXPIRYMISS": not inside_at_end,
                "EXPIRYMISSE": not (low < exit_quote < high),
                "RANGE": always_inside,
                "UPORDOWN": not always_inside,
            }[kind]
        if kind in {"TICKHIGH", "TICKLOW"}:
            selected = int(self.quote.parameters.get("selected_tick", 1) or 1)
            after = quotes[1:] or quotes
            index = min(max(selected, 1), len(after)) - 1
            best = max(after) if kind == "TICKHIGH" else min(after)
            return after[index] == best
        if kind in {"RUNHIGH", "RUNLOW"}:
            pairs = list(itertools.pairwise(quotes))
            return all(b > a for a, b in pairs) if kind == "RUNHIGH" else all(b < a for a, b in pairs)
        return exit_quote > self.entry.quote

    def bid_price(self) -> float:
        """What selling now would credit."""
        if self.is_sold:
            return self.sell_price or 0.0
        if self.entry is None or self.current is None:
            return round_money(self.buy_price * 0.95)
        spot, entry = self.current.quote, self.entry.quote
        kind = self.contract_type
        if kind in MULTIPLIERS:
            change = (spot - entry) / entry * (1 if kind == "MULTUP" else -1)
            return max(0.0, round_money(self.buy_price * (1 + (self.quote.multiplier or 1) * change)))
        if kind == "ACCU":
            if self.knocked_out:
                return 0.0
            return round_money(
                self.buy_price * (1 + (self.quote.growth_rate or 0.03)) ** self.ticks_after_entry()
            )
        if kind in UP or kind in DOWN:
            barrier = self.barrier_value() or entry
            remaining = self._remaining()
            sigma = max(1e-12, spot * self.quote.sigma * math.sqrt(max(remaining, 1)))
            z = (spot - barrier) / sigma * (1 if kind in UP else -1)
            probability = 0.5 * (1 + math.erf(z / math.sqrt(2)))
            return round_money(self.payout * probability * 0.97)
        return round_money(self.buy_price * 0.9)

    def _remaining(self) -> int:
        q = self.quote
        if q.duration_unit == "t" and q.duration is not None:
            return max(0, q.duration - self.ticks_after_entry())
        if q.date_expiry is not None and self.current is not None:
            return max(0, q.date_expiry - self.current.epoch)
        return 1

    def poc(self, subscription_id: str | None = None) -> dict[str, Any]:
        """The contract as ``proposal_open_contract`` shows it."""
        q = self.quote
        bid = self.bid_price()
        value = self.sell_price if self.is_sold and self.sell_price is not None else bid
        profit = round_money(value - self.buy_price)
        body: dict[str, Any] = {
            "account_id": 90000001,
            "barrier_count": 2
            if q.barrier2 is not None
            else (1 if q.barrier is not None or q.contract_type in UP | DOWN else 0),
            "bid_price": fmt_amount(bid),
            "buy_price": fmt_amount(self.buy_price),
            "contract_id": self.contract_id,
            "contract_type": q.contract_type,
            "currency": q.currency,
            "date_start": q.date_start,
            "entry_spot": None if self.entry is None else self.entry.display(),
            "entry_spot_time": None if self.entry is None else self.entry.epoch,
            "exit_spot": None if self.exit is None else self.exit.display(),
            "exit_spot_time": None if self.exit is None else self.exit.epoch,
            "is_expired": int(self.is_sold and self.status in {"won", "lost"}),
            "is_intraday": int(q.duration_unit != "d"),
            "is_path_dependent": int(q.contract_type in TOUCH | {"RANGE", "UPORDOWN"} | OPEN_ENDED),
            "is_settleable": int(self.is_sold),
            "is_sold": int(self.is_sold),
            "is_valid_to_cancel": int(self.is_open and q.contract_type in MULTIPLIERS),
            "is_valid_to_sell": int(self.is_open and self.entry is not None),
            "longcode": q.longcode,
            "payout": fmt_amount(q.payout),
            "profit": fmt_amount(profit),
            "profit_percentage": round_money(profit / self.buy_price * 100) if self.buy_price else 0.0,
            "purchase_time": self.purchase_time,
            "sell_price": None if self.sell_price is None else fmt_amount(self.sell_price),
            "sell_time": self.sell_time,
            "shortcode": self.shortcode,
            "status": self.status,
            "transaction_ids": {"buy": self.buy_transaction_id}
            | ({} if self.sell_transaction_id is None else {"sell": self.sell_transaction_id}),
            "underlying_symbol": q.symbol,
        }
        if self.current is not None:
            body["current_spot"] = self.current.display()
            body["current_spot_time"] = self.current.epoch
        barrier = self.barrier_value()
        if barrier is not None:
            body["barrier"] = f"{barrier:.{self.pip}f}"
        elif q.barrier is not None:
            body["barrier"] = q.barrier
        expiry = self.expiry_time
        if expiry is not None:
            body["date_expiry"] = expiry
            body["expiry_time"] = expiry
        if self.is_sold and self.sell_time is not None:
            body["date_settlement"] = self.sell_time
        body.update(self.poc_terms())
        if q.contract_type in MULTIPLIERS:
            body["limit_order"] = {
                name: {
                    "display_name": name.replace("_", " ").title(),
                    "order_amount": amount,
                    "order_date": self.purchase_time,
                    "value": fmt_amount(
                        self.buy_price + amount if name == "take_profit" else self.buy_price - amount
                    ),
                }
                for name, amount in self.limit_order.items()
            }
        if subscription_id is not None:
            body["id"] = subscription_id
        return body

    def poc_terms(self) -> dict[str, Any]:
        """The ticks of a tick contract, its multiplier and growth rate, as every API's
        ``proposal_open_contract`` shows them."""
        q = self.quote
        terms: dict[str, Any] = {}
        if q.duration_unit == "t" and q.duration is not None:
            terms["tick_count"] = q.duration
            terms["tick_passed"] = self.ticks_after_entry()
            terms["tick_stream"] = [
                {"epoch": t.epoch, "tick": t.quote, "tick_display_value": t.display()} for t in self.ticks
            ]
        if q.multiplier is not None:
            terms["multiplier"] = q.multiplier
        if q.growth_rate is not None:
            terms["growth_rate"] = q.growth_rate
        return terms

    def portfolio_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "buy_price": self.buy_price,
            "contract_id": self.contract_id,
            "contract_type": self.contract_type,
            "currency": self.quote.currency,
            "date_start": self.quote.date_start,
            "longcode": self.quote.longcode,
            "payout": self.payout,
            "purchase_time": self.purchase_time,
            "shortcode": self.shortcode,
            "transaction_id": self.buy_transaction_id,
            "underlying_symbol": self.symbol,
        }
        if self.expiry_time is not None:
            entry["expiry_time"] = self.expiry_time
        return entry


class Account:
    """One trading account: balance, contracts, transactions. Shared by every connection to it."""

    def __init__(
        self,
        *,
        balance: float,
        currency: str,
        loginid: str,
        account_type: str = "demo",
        group: str = "row",
        status: str = "active",
    ) -> None:
        self.balance = round_money(balance)
        self.currency = currency
        self.loginid = loginid
        #: ``"demo"`` or ``"real"``: which WebSocket endpoint (``.../ws/demo``, ``.../ws/real``) serves it.
        self.account_type = account_type
        self.group = group
        self.status = status
        #: What :meth:`reset_balance` restores.
        self.starting_balance = self.balance
        self.contracts: dict[int, Contract] = {}
        self.transactions: list[Transaction] = []
        self._next_contract_id = 250_000_000_001
        self._next_transaction_id = 500_000_000_001

    def reset_balance(self) -> float:
        """Back to :attr:`starting_balance` (the demo reset); open contracts are left alone."""
        self.balance = self.starting_balance
        return self.balance

    def _transaction_id(self) -> int:
        value = self._next_transaction_id
        self._next_transaction_id += 2
        return value

    def open_contracts(self) -> list[Contract]:
        return [c for c in self.contracts.values() if c.is_open]

    def contract(self, contract_id: int) -> Contract:
        try:
            return self.contracts[contract_id]
        except KeyError:
            raise MockAPIError(
                "ContractNotFound", f"Contract {contract_id} not found on this account."
            ) from None

    def buy(self, quote: Quote, price: float, now: int) -> tuple[Contract, Transaction]:
        """Buy at ``quote.ask_price`` if it is at most ``price``; debit the balance."""
        if quote.ask_price > price + 1e-9:
            raise MockAPIError(
                "PriceMoved",
                f"The contract price {fmt_amount(quote.ask_price)} is above your maximum price "
                f"{fmt_amount(price)}.",
                {"ask_price": quote.ask_price, "price": price},
            )
        if quote.currency.upper() != self.currency.upper():
            raise MockAPIError("InvalidCurrency", f"Contracts on this account are in {self.currency}.")
        if quote.ask_price > self.balance:
            raise MockAPIError(
                "InsufficientBalance",
                f"Your account balance ({fmt_amount(self.balance)} {self.currency}) is insufficient to buy "
                f"this contract ({fmt_amount(quote.ask_price)}).",
            )
        self.balance = round_money(self.balance - quote.ask_price)
        contract_id = self._next_contract_id
        self._next_contract_id += 20
        txn_id = self._transaction_id()
        limit = quote.parameters.get("limit_order")
        contract = Contract(
            contract_id=contract_id,
            quote=quote,
            buy_price=quote.ask_price,
            purchase_time=now,
            buy_transaction_id=txn_id,
            limit_order={k: float(v) for k, v in (limit or {}).items() if isinstance(v, (int, float))},
        )
        self.contracts[contract_id] = contract
        txn = Transaction(txn_id, "buy", -quote.ask_price, self.balance, now, contract)
        self.transactions.append(txn)
        return contract, txn

    def close(self, contract: Contract, amount: float, now: int, *, status: str) -> Transaction:
        """Close ``contract`` for ``amount`` (sale, settlement or cancellation); credit the balance."""
        contract.is_sold = True
        contract.status = status
        contract.sell_price = round_money(amount)
        contract.sell_time = now
        contract.exit = contract.current
        self.balance = round_money(self.balance + amount)
        txn_id = self._transaction_id()
        contract.sell_transaction_id = txn_id
        txn = Transaction(
            txn_id, "sell", round_money(amount), self.balance, now, contract, contract.buy_transaction_id
        )
        self.transactions.append(txn)
        return txn

    def sell(self, contract_id: int, price: float, now: int) -> Transaction:
        contract = self.contract(contract_id)
        if contract.is_sold:
            raise MockAPIError("InvalidSellContractProposal", f"Contract {contract_id} is already sold.")
        bid = contract.bid_price()
        if price > 0 and bid < price:
            raise MockAPIError(
                "PriceMoved",
                f"The contract's sell price {fmt_amount(bid)} is below your minimum price "
                f"{fmt_amount(price)}.",
                {"bid_price": bid, "price": price},
            )
        return self.close(contract, bid, now, status="sold")

    def cancel(self, contract_id: int, now: int) -> Transaction:
        contract = self.contract(contract_id)
        if contract.is_sold or contract.contract_type not in MULTIPLIERS:
            raise MockAPIError(
                "InvalidCancelContract",
                f"Contract {contract_id} cannot be cancelled (only open multiplier contracts can).",
            )
        return self.close(contract, contract.buy_price, now, status="cancelled")

    def settle(self, contract: Contract, now: int) -> Transaction:
        if contract.contract_type in OPEN_ENDED:
            value = contract.bid_price()
            return self.close(contract, value, now, status="won" if value > contract.buy_price else "lost")
        won = contract.won()
        return self.close(contract, contract.payout if won else 0.0, now, status="won" if won else "lost")

    def on_tick(self, tick: Tick) -> list[Transaction]:
        """Advance the open contracts on ``tick.symbol``; the settlements this tick caused."""
        settled = []
        for contract in self.open_contracts():
            if contract.symbol == tick.symbol and contract.on_tick(tick):
                settled.append(self.settle(contract, tick.epoch))
        return settled


def purchase_receipt(quote: Quote, contract: Contract, txn: Transaction) -> dict[str, Any]:
    """The receipt of a purchase, as ``buy`` (and each bulk-purchase result) reports it."""
    return {
        "balance_after": txn.balance_after,
        "buy_price": contract.buy_price,
        "contract_id": contract.contract_id,
        "longcode": quote.longcode,
        "payout": quote.payout,
        "purchase_time": contract.purchase_time,
        "shortcode": contract.shortcode,
        "start_time": quote.date_start,
        "transaction_id": txn.transaction_id,
    }
