"""v3's shapes of the trading model (:mod:`..deriv.trading`): proposals, open contracts, portfolio
entries and transactions as the v3 schemas describe them (``symbol`` and ``underlying`` where
Options says ``underlying_symbol``, amounts as numbers), and the streams that send them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..deriv.market import Tick
from ..deriv.pricing import MULTIPLIERS, MockAPIError, Quote, price_contract
from ..deriv.session import Connection, Subscription
from ..deriv.streams import proposal_body
from ..deriv.trading import Contract, Transaction

__all__ = [
    "ContractStream",
    "ProposalStream",
    "TransactionStream",
    "contract_params",
    "poc_body",
    "portfolio_entry",
    "v3_proposal_body",
]


def contract_params(request: Mapping[str, Any]) -> dict[str, Any]:
    """v3 contract parameters (``proposal``, ``buy``'s ``parameters``) as the pricing reads them."""
    params = dict(request)
    if "symbol" in params:
        params["underlying_symbol"] = params.pop("symbol")
    return params


def v3_proposal_body(quote: Quote, proposal_id: str) -> dict[str, Any]:
    body = proposal_body(quote, proposal_id)
    body.pop("validation_params", None)
    body["display_value"] = f"{quote.ask_price:.2f}"
    return body


def poc_body(contract: Contract, subscription_id: str | None = None) -> dict[str, Any]:
    """The contract as v3's ``proposal_open_contract`` shows it."""
    q = contract.quote
    bid = contract.bid_price()
    value = contract.sell_price if contract.is_sold and contract.sell_price is not None else bid
    profit = round(value - contract.buy_price, 2)
    body: dict[str, Any] = {
        "account_id": 90000001,
        "barrier_count": 2 if q.barrier2 is not None else 1,
        "bid_price": bid,
        "buy_price": contract.buy_price,
        "contract_id": contract.contract_id,
        "contract_type": q.contract_type,
        "currency": q.currency,
        "date_start": q.date_start,
        "display_name": contract.symbol,
        "is_expired": int(contract.is_sold and contract.status in {"won", "lost"}),
        "is_forward_starting": 0,
        "is_intraday": int(q.duration_unit != "d"),
        "is_path_dependent": 0,
        "is_settleable": int(contract.is_sold),
        "is_sold": int(contract.is_sold),
        "is_valid_to_cancel": int(contract.is_open and q.contract_type in MULTIPLIERS),
        "is_valid_to_sell": int(contract.is_open and contract.entry is not None),
        "longcode": q.longcode,
        "payout": q.payout,
        "profit": profit,
        "profit_percentage": round(profit / contract.buy_price * 100, 2) if contract.buy_price else 0.0,
        "purchase_time": contract.purchase_time,
        "shortcode": contract.shortcode,
        "status": contract.status,
        "transaction_ids": {"buy": contract.buy_transaction_id}
        | ({} if contract.sell_transaction_id is None else {"sell": contract.sell_transaction_id}),
        "underlying": q.symbol,
    }
    for name, tick in (("entry", contract.entry), ("exit", contract.exit)):
        if tick is not None:
            body[f"{name}_tick"] = tick.quote
            body[f"{name}_tick_display_value"] = tick.display()
            body[f"{name}_tick_time"] = tick.epoch
    if contract.entry is not None:
        body["entry_spot"] = contract.entry.quote
        body["entry_spot_display_value"] = contract.entry.display()
    if contract.current is not None:
        body["current_spot"] = contract.current.quote
        body["current_spot_display_value"] = contract.current.display()
        body["current_spot_time"] = contract.current.epoch
    barrier = contract.barrier_value()
    if barrier is not None:
        body["barrier"] = f"{barrier:.{contract.pip}f}"
    if contract.expiry_time is not None:
        body["date_expiry"] = contract.expiry_time
        body["expiry_time"] = contract.expiry_time
    if contract.is_sold and contract.sell_time is not None:
        body["date_settlement"] = contract.sell_time
        body["sell_time"] = contract.sell_time
        body["sell_price"] = contract.sell_price or 0.0
    if q.duration_unit == "t" and q.duration is not None:
        body["tick_count"] = q.duration
        body["tick_passed"] = contract.ticks_after_entry()
        body["tick_stream"] = [
            {"epoch": t.epoch, "tick": t.quote, "tick_display_value": t.display()} for t in contract.ticks
        ]
    if q.multiplier is not None:
        body["multiplier"] = q.multiplier
    if q.growth_rate is not None:
        body["growth_rate"] = q.growth_rate
    if subscription_id is not None:
        body["id"] = subscription_id
    return body


def portfolio_entry(contract: Contract) -> dict[str, Any]:
    """An entry of v3's ``portfolio``."""
    entry = contract.portfolio_entry()
    entry["symbol"] = entry.pop("underlying_symbol")
    return entry


class ProposalStream(Subscription):
    """A proposal re-priced on every tick of its symbol (a priced-out contract streams its error)."""

    def on_tick(self, conn: Connection, tick: Tick) -> None:
        if tick.symbol != self.symbol:
            return
        try:
            quote = price_contract(contract_params(self.request), conn.server.market)
        except MockAPIError as exc:
            conn.push(self, {"error": exc.as_error()}, msg_type="proposal")
            return
        conn.remember_proposal(self.id, quote.parameters)
        conn.push(self, {"proposal": v3_proposal_body(quote, self.id)})


class ContractStream(Subscription):
    """An open contract: an update on each tick of its symbol, a last one when it closes."""

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contract = contract

    def on_tick(self, conn: Connection, tick: Tick) -> None:
        if tick.symbol == self.contract.symbol and self.contract.current is tick:
            self._update(conn)

    def on_contract_closed(self, conn: Connection, contract: Contract) -> None:
        if contract is self.contract:
            self._update(conn)

    def _update(self, conn: Connection) -> None:
        conn.push(
            self,
            {"proposal_open_contract": poc_body(self.contract, self.id)},
            msg_type="proposal_open_contract",
        )
        if self.contract.is_sold:
            conn.end(self)


class TransactionStream(Subscription):
    """Every buy, sale and settlement on the connection's account."""

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
                symbol=contract.symbol,
            )
            if contract.expiry_time is not None:
                body["date_expiry"] = contract.expiry_time
        conn.push(self, {"transaction": body})
