"""The Options WebSocket API's streams: what each subscription sends on ticks, the clock,
transactions, closed contracts and balance changes; and the bodies they share with the calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .market import Tick
from .pricing import MULTIPLIERS, OPEN_ENDED, MockAPIError, Quote, price_contract
from .session import Connection, Subscription
from .trading import Contract, Transaction

__all__ = [
    "BalanceStream",
    "CandleStream",
    "ContractStream",
    "GenericStream",
    "ProposalStream",
    "TickStream",
    "TransactionStream",
    "balance_body",
    "proposal_body",
]


class TickStream(Subscription):
    def on_tick(self, conn: Connection, tick: Tick) -> None:
        if tick.symbol == self.symbol:
            conn.push(self, {"tick": tick.as_tick(self.id)}, msg_type="tick")


class CandleStream(Subscription):
    def __init__(self, *args: Any, granularity: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.granularity = granularity
        self.candle: dict[str, float | int] | None = None

    def start(self, last: Mapping[str, float | int]) -> None:
        self.candle = dict(last)

    def on_tick(self, conn: Connection, tick: Tick) -> None:
        if tick.symbol != self.symbol:
            return
        open_time = tick.epoch - tick.epoch % self.granularity
        candle = self.candle
        if candle is None or candle["epoch"] != open_time:
            candle = {"epoch": open_time, "open": tick.quote, "high": tick.quote, "low": tick.quote}
        candle["high"] = max(candle["high"], tick.quote)
        candle["low"] = min(candle["low"], tick.quote)
        candle["close"] = tick.quote
        self.candle = candle
        ohlc = {
            "close": tick.display(float(candle["close"])),
            "epoch": tick.epoch,
            "granularity": self.granularity,
            "high": tick.display(float(candle["high"])),
            "id": self.id,
            "low": tick.display(float(candle["low"])),
            "open": tick.display(float(candle["open"])),
            "open_time": open_time,
            "pip_size": tick.pip_size,
            "symbol": tick.symbol,
        }
        conn.push(self, {"ohlc": ohlc}, msg_type="ohlc")


class ProposalStream(Subscription):
    """A proposal re-priced on every tick of its symbol (a priced-out contract streams its error)."""

    @staticmethod
    def params_of(request: Mapping[str, Any]) -> Mapping[str, Any]:
        """A request's contract parameters as the pricing reads them."""
        return request

    @staticmethod
    def body_of(quote: Quote, proposal_id: str) -> dict[str, Any]:
        """The ``proposal`` body of a quote."""
        return proposal_body(quote, proposal_id)

    def on_tick(self, conn: Connection, tick: Tick) -> None:
        if tick.symbol != self.symbol:
            return
        try:
            quote = price_contract(self.params_of(self.request), conn.server.market)
        except MockAPIError as exc:
            conn.push(self, {"error": exc.as_error()}, msg_type="proposal")
            return
        conn.remember_proposal(self.id, quote.parameters)
        conn.push(self, {"proposal": self.body_of(quote, self.id)})


class ContractStream(Subscription):
    """An open contract: an update on each tick of its symbol, a last one when it closes."""

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contract = contract

    @staticmethod
    def body_of(contract: Contract, sub_id: str | None = None) -> dict[str, Any]:
        """The ``proposal_open_contract`` body of a contract."""
        return contract.poc(sub_id)

    def on_tick(self, conn: Connection, tick: Tick) -> None:
        if tick.symbol == self.contract.symbol and self.contract.current is tick:
            self._update(conn)

    def on_contract_closed(self, conn: Connection, contract: Contract) -> None:
        if contract is self.contract:
            self._update(conn)

    def _update(self, conn: Connection) -> None:
        conn.push(
            self,
            {"proposal_open_contract": self.body_of(self.contract, self.id)},
            msg_type="proposal_open_contract",
        )
        if self.contract.is_sold:
            conn.end(self)


class BalanceStream(Subscription):
    def on_transaction(self, conn: Connection, txn: Transaction) -> None:
        conn.push(self, {"balance": balance_body(conn, self.id)})

    def on_balance(self, conn: Connection) -> None:
        conn.push(self, {"balance": balance_body(conn, self.id)})


class TransactionStream(Subscription):
    """Every buy, sale and settlement on the connection's account."""

    #: The key of a contract's symbol in the body.
    SYMBOL_KEY = "underlying_symbol"

    def on_transaction(self, conn: Connection, txn: Transaction) -> None:
        body: dict[str, Any] = {
            "action": txn.action,
            "amount": txn.amount,
            "balance": txn.balance_after,
            "currency": conn.account.currency,
            "id": self.id,
            "transaction_id": txn.transaction_id,
            "transaction_time": txn.time,
        }
        contract = txn.contract
        if contract is not None:
            body.update(
                contract_id=contract.contract_id,
                longcode=contract.quote.longcode,
                purchase_time=contract.purchase_time,
            )
            body[self.SYMBOL_KEY] = contract.symbol
            if contract.expiry_time is not None:
                body["date_expiry"] = contract.expiry_time
        conn.push(self, {"transaction": body})


class GenericStream(Subscription):
    """A streaming call without special behaviour: a fresh synthesised message every few ticks."""

    EVERY = 5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ticks = 0

    def on_clock(self, conn: Connection, epoch: int) -> None:
        self._ticks += 1
        if self._ticks % self.EVERY == 0:
            conn.push(self, conn.server.synthesise_body(self.call, self.msg_type, self.id))


# -- bodies -----------------------------------------------------------------------------------


def balance_body(conn: Connection, sub_id: str | None) -> dict[str, Any]:
    account = conn.account
    body: dict[str, Any] = {
        "balance": account.balance,
        "currency": account.currency,
        "loginid": account.loginid,
    }
    if sub_id is not None:
        body["id"] = sub_id
    return body


def proposal_body(quote: Quote, proposal_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ask_price": quote.ask_price,
        "date_start": quote.date_start,
        "id": proposal_id,
        "longcode": quote.longcode,
        "payout": quote.payout,
        "spot": quote.spot.quote,
        "spot_time": quote.spot.epoch,
    }
    if quote.date_expiry is not None:
        body["date_expiry"] = quote.date_expiry
    details: dict[str, Any] = {"last_tick_epoch": quote.spot.epoch}
    if quote.barrier is not None and quote.contract_type not in OPEN_ENDED:
        if quote.barrier2 is not None:
            details["high_barrier"] = quote.barrier
            details["low_barrier"] = quote.barrier2
        else:
            details["barrier"] = quote.barrier
    body["contract_details"] = details
    if quote.multiplier is not None:
        body["multiplier"] = quote.multiplier
    if quote.contract_type in MULTIPLIERS:
        body["commission"] = round(quote.ask_price * 0.0005, 2)
    body["validation_params"] = {"stake": {"max": "50000.00", "min": "0.35"}}
    return body
