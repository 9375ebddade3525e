"""v3's shapes of the trading model (:mod:`..deriv.trading`): proposals, open contracts, portfolio
entries and transactions as the v3 schemas describe them (``symbol`` and ``underlying`` where
Options says ``underlying_symbol``, amounts as numbers), and the streams that send them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..deriv import streams as options
from ..deriv.pricing import MULTIPLIERS, Quote
from ..deriv.streams import proposal_body
from ..deriv.trading import Contract

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
    body.update(contract.poc_terms())
    if subscription_id is not None:
        body["id"] = subscription_id
    return body


def portfolio_entry(contract: Contract) -> dict[str, Any]:
    """An entry of v3's ``portfolio``."""
    entry = contract.portfolio_entry()
    entry["symbol"] = entry.pop("underlying_symbol")
    return entry


class ProposalStream(options.ProposalStream):
    """A proposal re-priced on every tick of its symbol, in v3's shape."""

    @staticmethod
    def params_of(request: Mapping[str, Any]) -> Mapping[str, Any]:
        return contract_params(request)

    @staticmethod
    def body_of(quote: Quote, proposal_id: str) -> dict[str, Any]:
        return v3_proposal_body(quote, proposal_id)


class ContractStream(options.ContractStream):
    """An open contract, in v3's shape."""

    @staticmethod
    def body_of(contract: Contract, sub_id: str | None = None) -> dict[str, Any]:
        return poc_body(contract, sub_id)


class TransactionStream(options.TransactionStream):
    """Every buy, sale and settlement on the connection's account (``symbol``, v3's name)."""

    SYMBOL_KEY = "symbol"
