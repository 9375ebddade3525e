"""What the Options WebSocket API does for each call: handlers for the calls with real behaviour.

A handler receives the connection (:class:`~.session.Connection`), the call name and the (already
validated) request; it answers through ``conn.answer(...)`` and may open subscriptions
(:mod:`.streams`). It raises :class:`~.trading.MockAPIError` to answer with an error. Calls without
a handler get a response synthesised from their schema (see :func:`generic`).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from .pricing import OPEN_ENDED, MockAPIError, price_contract
from .session import Connection, Subscription
from .streams import (
    BalanceStream,
    CandleStream,
    ContractStream,
    GenericStream,
    ProposalStream,
    TickStream,
    TransactionStream,
    balance_body,
)
from .trading import Contract, purchase_receipt

__all__ = ["HANDLERS", "Handler", "generic"]

Handler = Callable[[Connection, str, dict[str, Any]], None]

#: Request fields that do not change what a subscription streams.
_ENVELOPE = frozenset({"req_id", "passthrough", "subscribe"})
_MAX_HISTORY = 5000


def canonical(request: Mapping[str, Any]) -> str:
    body = {k: v for k, v in request.items() if k not in _ENVELOPE}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()


# -- handlers ---------------------------------------------------------------------------------


def ping(conn: Connection, call: str, request: dict[str, Any]) -> None:
    conn.answer(request, call, {"ping": "pong"})


def server_time(conn: Connection, call: str, request: dict[str, Any]) -> None:
    conn.answer(request, call, {"time": conn.server.market.now()})


def _symbol(conn: Connection, symbol: Any) -> str:
    market = conn.server.market
    if not isinstance(symbol, str) or not market.knows(symbol):
        raise MockAPIError(
            "InvalidSymbol",
            f"Symbol {symbol} is invalid. The mock offers: {', '.join(sorted(market.symbols))}.",
            {"field": "symbol"},
        )
    return symbol


def ticks(conn: Connection, call: str, request: dict[str, Any]) -> None:
    value = request[call]
    symbols = [_symbol(conn, s) for s in (value if isinstance(value, list) else [value])]
    market = conn.server.market
    for symbol in symbols:
        tick = market.tick(symbol)
        if request.get("subscribe") == 1:
            sub = conn.subscribe(
                TickStream, call, "ticks", request, "tick", key=f"ticks:{symbol}", symbol=symbol
            )
            conn.answer(request, call, {"tick": tick.as_tick(sub.id)}, msg_type="tick", subscription=sub)
        else:
            conn.answer(request, call, {"tick": tick.as_tick()}, msg_type="tick")


def ticks_history(conn: Connection, call: str, request: dict[str, Any]) -> None:
    symbol = _symbol(conn, request[call])
    market = conn.server.market
    latest = market.tick(symbol)
    end_value = str(request.get("end", "latest"))
    end = latest.epoch if end_value == "latest" else min(int(end_value), latest.epoch)
    count = int(request.get("count", 1000))
    if count <= 0 or count > _MAX_HISTORY:
        raise MockAPIError("InvalidCount", f"count must be between 1 and {_MAX_HISTORY}.")
    style = str(request.get("style", "ticks"))
    granularity = int(request.get("granularity", 60))
    start = request.get("start")
    if isinstance(start, int):
        span = (end - start) // (granularity if style == "candles" else 1) + 1
        count = max(1, min(count, span))
    subscribe = request.get("subscribe") == 1
    if subscribe and end_value != "latest":
        raise MockAPIError("InvalidEnd", "Streaming ticks_history needs end: 'latest'.")
    pip = latest.pip_size
    if style == "candles":
        candles = market.candles(symbol, end, count, granularity)
        body: dict[str, Any] = {"candles": candles, "pip_size": pip}
        if subscribe:
            sub = conn.subscribe(
                CandleStream,
                call,
                "candles",
                request,
                "ohlc",
                key=f"candles:{symbol}:{granularity}",
                symbol=symbol,
                granularity=granularity,
            )
            assert isinstance(sub, CandleStream)
            sub.start(candles[-1])
            conn.answer(request, call, body, msg_type="candles", subscription=sub)
        else:
            conn.answer(request, call, body, msg_type="candles")
        return
    history = market.history(symbol, end, count)
    body = {
        "history": {"prices": [q for _, q in history], "times": [t for t, _ in history]},
        "pip_size": pip,
    }
    if subscribe:
        sub = conn.subscribe(TickStream, call, "ticks", request, "tick", key=f"ticks:{symbol}", symbol=symbol)
        conn.answer(request, call, body, msg_type="history", subscription=sub)
    else:
        conn.answer(request, call, body, msg_type="history")


def proposal(
    conn: Connection, call: str, request: dict[str, Any], *, stream: type[ProposalStream] = ProposalStream
) -> None:
    """A price for the contract; ``subscribe: 1`` re-prices it on every tick of its symbol
    (``stream``: the API's shape of proposals)."""
    quote = price_contract(stream.params_of(request), conn.server.market)
    if request.get("subscribe") == 1:
        sub = conn.subscribe(
            stream, call, "proposal", request, "proposal", key=f"proposal:{canonical(request)}",
            symbol=quote.symbol,
        )  # fmt: skip
        conn.remember_proposal(sub.id, quote.parameters)
        conn.answer(request, call, {"proposal": stream.body_of(quote, sub.id)}, subscription=sub)
    else:
        proposal_id = conn.server.new_id()
        conn.remember_proposal(proposal_id, quote.parameters)
        conn.answer(request, call, {"proposal": stream.body_of(quote, proposal_id)})


def buy(conn: Connection, call: str, request: dict[str, Any]) -> None:
    target = str(request[call])
    if target == "1":
        parameters = request.get("parameters")
        if not isinstance(parameters, dict):
            raise MockAPIError(
                "InvalidContractProposal",
                "buy: '1' needs the contract's parameters.",
                {"field": "parameters"},
            )
    else:
        known = conn.proposals.get(target)
        if known is None:
            raise MockAPIError("InvalidContractProposal", "Unknown contract proposal.", {"field": "buy"})
        parameters = known
    buy_contract(conn, call, request, parameters)


def buy_contract(
    conn: Connection,
    call: str,
    request: dict[str, Any],
    parameters: Mapping[str, Any],
    *,
    stream: type[ContractStream] = ContractStream,
) -> None:
    """Buy the contract ``parameters`` describe, at most at the request's ``price``: the account is
    debited, ``subscribe: 1`` follows the contract (``stream``: the API's shape of contracts)."""
    server = conn.server
    account = conn.account
    quote = price_contract(parameters, server.market, currency=account.currency)
    contract, txn = account.buy(quote, float(request["price"]), server.market.now())
    receipt = purchase_receipt(quote, contract, txn)
    if request.get("subscribe") == 1:
        sub = _contract_stream(conn, call, request, contract, stream)
        conn.answer(request, call, {"buy": receipt}, subscription=sub)
    else:
        conn.answer(request, call, {"buy": receipt})
    server.notify_transaction(txn, account)


def _contract_stream(
    conn: Connection, call: str, request: dict[str, Any], contract: Contract, stream: type[ContractStream]
) -> Subscription:
    return conn.subscribe(
        stream,
        call,
        "proposal_open_contract",
        request,
        "proposal_open_contract",
        key=f"poc:{contract.contract_id}",
        symbol=contract.symbol,
        schema_call="proposal_open_contract",
        contract=contract,
    )


def sell(conn: Connection, call: str, request: dict[str, Any]) -> None:
    server = conn.server
    txn = conn.account.sell(int(request[call]), float(request["price"]), server.market.now())
    assert txn.contract is not None
    body = {
        "balance_after": txn.balance_after,
        "contract_id": txn.contract.contract_id,
        "reference_id": txn.reference_id,
        "sold_for": txn.amount,
        "transaction_id": txn.transaction_id,
    }
    conn.answer(request, call, {"sell": body})
    server.notify_contract_closed(txn.contract)
    server.notify_transaction(txn, conn.account)


def cancel(conn: Connection, call: str, request: dict[str, Any]) -> None:
    server = conn.server
    txn = conn.account.cancel(int(request[call]), server.market.now())
    assert txn.contract is not None
    body = {
        "balance_after": txn.balance_after,
        "contract_id": txn.contract.contract_id,
        "reference_id": txn.reference_id,
        "sold_for": txn.amount,
        "transaction_id": txn.transaction_id,
    }
    conn.answer(request, call, {"cancel": body})
    server.notify_contract_closed(txn.contract)
    server.notify_transaction(txn, conn.account)


def _order(contract: Contract, name: str, amount: float | None, now: int) -> dict[str, Any]:
    value = None
    if amount is not None:
        value = f"{contract.buy_price + amount if name == 'take_profit' else contract.buy_price - amount:.2f}"
    return {
        "display_name": name.replace("_", " ").title(),
        "order_amount": amount,
        "order_date": now,
        "value": value,
    }


def contract_update(conn: Connection, call: str, request: dict[str, Any]) -> None:
    server = conn.server
    contract = conn.account.contract(int(request["contract_id"]))
    if contract.is_sold or contract.contract_type not in OPEN_ENDED:
        raise MockAPIError(
            "ContractUpdateFailure",
            "Only open multiplier and accumulator contracts have limit orders to update.",
        )
    now = server.market.now()
    answer: dict[str, Any] = {}
    for name, amount in dict(request.get("limit_order") or {}).items():
        if amount is None:
            contract.limit_order.pop(name, None)
        elif isinstance(amount, (int, float)):
            if amount <= 0:
                raise MockAPIError("InvalidLimitOrder", f"{name} must be a positive amount.", {"field": name})
            contract.limit_order[name] = float(amount)
        order = _order(contract, name, None if amount is None else float(amount), now)
        answer[name] = order
        contract.updates.append(
            {
                "display_name": order["display_name"],
                "order_amount": "" if amount is None else f"{float(amount):.2f}",
                "order_date": now,
                "order_type": name,
                "value": order["value"],
            }
        )
    conn.answer(request, call, {"contract_update": answer})


def contract_update_history(conn: Connection, call: str, request: dict[str, Any]) -> None:
    contract = conn.account.contract(int(request["contract_id"]))
    limit = int(request.get("limit", 500))
    conn.answer(request, call, {"contract_update_history": list(reversed(contract.updates))[:limit]})


def balance(conn: Connection, call: str, request: dict[str, Any]) -> None:
    if request.get("subscribe") == 1:
        sub = conn.subscribe(BalanceStream, call, "balance", request, "balance", key="balance")
        conn.answer(request, call, {"balance": balance_body(conn, sub.id)}, subscription=sub)
    else:
        conn.answer(request, call, {"balance": balance_body(conn, None)})


def transaction(
    conn: Connection,
    call: str,
    request: dict[str, Any],
    *,
    stream: type[TransactionStream] = TransactionStream,
) -> None:
    """Streams every buy, sale and settlement of the account (``stream``: the API's shape)."""
    sub = conn.subscribe(stream, call, "transaction", request, "transaction", key="transaction")
    conn.answer(request, call, {"transaction": {"id": sub.id}}, subscription=sub)


def proposal_open_contract(
    conn: Connection, call: str, request: dict[str, Any], *, stream: type[ContractStream] = ContractStream
) -> None:
    """One contract (``contract_id``) or every open one; ``subscribe: 1`` follows each until it
    closes (``stream``: the API's shape of contracts)."""
    account = conn.account
    contract_id = request.get("contract_id")
    contracts = [account.contract(int(contract_id))] if contract_id is not None else account.open_contracts()
    if not contracts:
        conn.answer(request, call, {"proposal_open_contract": {}})
        return
    for contract in contracts:
        if request.get("subscribe") == 1 and contract.is_open:
            sub = _contract_stream(conn, call, request, contract, stream)
            body = stream.body_of(contract, sub.id)
            conn.answer(request, call, {"proposal_open_contract": body}, subscription=sub)
        else:
            conn.answer(request, call, {"proposal_open_contract": stream.body_of(contract)})


def portfolio(conn: Connection, call: str, request: dict[str, Any]) -> None:
    wanted = set(request.get("contract_type") or ())
    contracts = [
        c.portfolio_entry() for c in conn.account.open_contracts() if not wanted or c.contract_type in wanted
    ]
    conn.answer(request, call, {"portfolio": {"contracts": contracts}})


def _epoch(value: Any, *, end_of_day: bool = False) -> int | None:
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return int(value)
    if value == "today":
        day = time.gmtime()
        value = f"{day.tm_year:04d}-{day.tm_mon:02d}-{day.tm_mday:02d}"
    try:
        epoch = calendar.timegm(time.strptime(value, "%Y-%m-%d"))
    except ValueError:
        return None
    return epoch + 86399 if end_of_day else epoch


def _window(request: Mapping[str, Any], items: Iterable[Any], when: Callable[[Any], int]) -> list[Any]:
    start = _epoch(request.get("date_from"))
    end = _epoch(request.get("date_to"), end_of_day=True)
    return [i for i in items if (start is None or when(i) >= start) and (end is None or when(i) <= end)]


def statement(conn: Connection, call: str, request: dict[str, Any]) -> None:
    account = conn.account
    txns = [t for t in reversed(account.transactions) if request.get("action_type") in (None, t.action)]
    txns = _window(request, txns, lambda t: int(t.time))
    offset = int(request.get("offset", 0))
    limit = int(request.get("limit", 100))
    page = txns[offset : offset + limit]
    rows = []
    for t in page:
        row: dict[str, Any] = {
            "action_type": t.action,
            "amount": t.amount,
            "balance_after": t.balance_after,
            "transaction_id": t.transaction_id,
            "transaction_time": t.time,
            "reference_id": t.reference_id,
        }
        if t.contract is not None:
            row.update(
                contract_id=t.contract.contract_id,
                payout=t.contract.payout,
                purchase_time=t.contract.purchase_time,
                shortcode=t.contract.shortcode,
            )
            if request.get("description"):
                row["longcode"] = t.contract.quote.longcode
        rows.append(row)
    conn.answer(request, call, {"statement": {"count": len(rows), "transactions": rows}})


def profit_table(conn: Connection, call: str, request: dict[str, Any]) -> None:
    account = conn.account
    wanted = set(request.get("contract_type") or ())
    sold = [
        c
        for c in account.contracts.values()
        if c.is_sold and c.sell_time is not None and (not wanted or c.contract_type in wanted)
    ]
    sold = _window(request, sold, lambda c: int(c.purchase_time))
    sold.sort(key=lambda c: c.sell_time or 0, reverse=request.get("sort", "DESC") == "DESC")
    offset = int(request.get("offset", 0))
    limit = int(request.get("limit", 50))
    rows = []
    for c in sold[offset : offset + limit]:
        row: dict[str, Any] = {
            "buy_price": c.buy_price,
            "contract_id": c.contract_id,
            "contract_type": c.contract_type,
            "duration_type": c.quote.duration_unit,
            "payout": c.payout,
            "purchase_time": c.purchase_time,
            "sell_price": c.sell_price or 0.0,
            "sell_time": c.sell_time,
            "shortcode": c.shortcode,
            "transaction_id": c.buy_transaction_id,
            "underlying_symbol": c.symbol,
        }
        if request.get("description"):
            row["longcode"] = c.quote.longcode
        if c.quote.multiplier is not None:
            row["multiplier"] = f"{c.quote.multiplier:g}"
        rows.append(row)
    conn.answer(request, call, {"profit_table": {"count": len(rows), "transactions": rows}})


def forget(conn: Connection, call: str, request: dict[str, Any]) -> None:
    conn.answer(request, call, {"forget": int(conn.forget(str(request[call])))})


def forget_all(conn: Connection, call: str, request: dict[str, Any]) -> None:
    value = request[call]
    kinds = {value} if isinstance(value, str) else set(value)
    conn.answer(request, call, {"forget_all": conn.forget_kinds(kinds)})


def active_symbols(conn: Connection, call: str, request: dict[str, Any]) -> None:
    rows = [
        {
            "exchange_is_open": 1,
            "is_trading_suspended": 0,
            "market": spec.market,
            "pip_size": 10**-spec.pip_size,
            "subgroup": spec.subgroup,
            "submarket": spec.submarket,
            "trade_count": 0,
            "underlying_symbol": spec.symbol,
            "underlying_symbol_name": spec.name,
            "underlying_symbol_type": spec.symbol_type,
        }
        for spec in conn.server.market.symbols.values()
    ]
    conn.answer(request, call, {"active_symbols": rows})


def logout(conn: Connection, call: str, request: dict[str, Any]) -> None:
    conn.answer(request, call, {"logout": 1})
    conn.logout()


def generic(conn: Connection, call: str, request: dict[str, Any]) -> None:
    """Any other call: a response synthesised from its schema (a stream when subscribing)."""
    server = conn.server
    info = server.calls[call]
    msg_type = info.msg_types[0] if info.msg_types else call
    if request.get("subscribe") == 1 and info.streams:
        sub = conn.subscribe(GenericStream, call, call, request, msg_type, key=f"{call}:{canonical(request)}")
        conn.answer(request, call, server.synthesise_body(call, msg_type, sub.id), subscription=sub)
    else:
        conn.answer(request, call, server.synthesise_body(call, msg_type, None))


HANDLERS: Mapping[str, Handler] = {
    "active_symbols": active_symbols,
    "balance": balance,
    "buy": buy,
    "cancel": cancel,
    "contract_update": contract_update,
    "contract_update_history": contract_update_history,
    "forget": forget,
    "forget_all": forget_all,
    "logout": logout,
    "ping": ping,
    "portfolio": portfolio,
    "profit_table": profit_table,
    "proposal": proposal,
    "proposal_open_contract": proposal_open_contract,
    "sell": sell,
    "statement": statement,
    "ticks": ticks,
    "ticks_history": ticks_history,
    "time": server_time,
    "transaction": transaction,
}
