"""What the v3 API does for each call with real behaviour; every other call gets an answer synthesised
from its ``receive.json`` (a stream when it takes ``subscribe: 1``: :func:`~..deriv.calls.generic`).

The session calls (``authorize``, ``logout``), the account (``balance``, ``topup_virtual``,
``account_list``) and trading (``proposal``, ``buy``, ``proposal_open_contract``, ``portfolio``,
``transaction``, ``active_symbols``) speak v3 here; the calls whose v3 shape is the Options one
(``ticks``, ``ticks_history``, ``sell``, ``cancel``, ``statement``, ``forget``...) reuse
:mod:`..deriv.calls`. Handlers run once the request is valid, authorized and in scope
(:mod:`.ws_api`), with ``conn.account`` the account the call acts on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..deriv import calls as options
from ..deriv.pricing import MockAPIError
from ..deriv.streams import BalanceStream, balance_body
from .accounts import authorize_body, is_virtual
from .session import LegacyConnection
from .streams import (
    ContractStream,
    ProposalStream,
    TransactionStream,
    contract_params,
    portfolio_entry,
)

__all__ = ["HANDLERS", "TOPUP_AMOUNT", "Handler"]

Handler = Callable[[LegacyConnection, str, dict[str, Any]], None]

#: What ``topup_virtual`` adds to a virtual account.
TOPUP_AMOUNT = 10000.0


def authorize(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """Authorize with the token (and up to 10 more in ``tokens``): ``InvalidToken`` for any unknown
    one; the first token's account is the one calls act on unless they name a ``loginid``."""
    server = conn.server
    grants = []
    for token in [request[call], *(request.get("tokens") or ())]:
        grant = server.tokens.grant(str(token))
        account = server.accounts.get(grant.loginid) if grant is not None else None
        if grant is None or account is None:
            raise MockAPIError("InvalidToken", "The token is invalid.")
        grants.append((grant, account))
    conn.authorize(grants)
    grant, account = grants[0]
    created = server.market.now() - 86400 * 30
    body = authorize_body(account, grant, [a for _, a in grants], created)
    conn.answer(request, call, {"authorize": body})


def logout(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """``{"logout": 1}``, then the connection is no longer authorized (its private streams end)."""
    conn.answer(request, call, {"logout": 1})
    conn.logout()


def balance(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """The balance of the account (``account``: ``current``, a loginid the connection authorized,
    or ``all``, which adds every authorized account under ``accounts``); ``subscribe: 1`` streams it."""
    which = request.get("account", "current")
    if which not in ("current", "all"):
        _, conn.account = conn.acting_as(which)
    body = balance_body(conn, None)
    if which == "all":
        body["accounts"] = {
            loginid: {
                "balance": account.balance,
                "converted_amount": account.balance,
                "currency": account.currency,
                "demo_account": int(is_virtual(account)),
                "status": 1,
                "type": "deriv",
            }
            for loginid in conn.grants
            if (account := conn.server.accounts.get(loginid)) is not None
        }
    if request.get("subscribe") == 1:
        sub = conn.subscribe(BalanceStream, call, "balance", request, "balance", key="balance")
        conn.answer(request, call, {"balance": body | {"id": sub.id}}, subscription=sub)
    else:
        conn.answer(request, call, {"balance": body})


def topup_virtual(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """Add :data:`TOPUP_AMOUNT` to a virtual account (a real one: ``TopupVirtualError``)."""
    account = conn.account
    if not is_virtual(account):
        raise MockAPIError("TopupVirtualError", "Sorry, this feature is available to virtual accounts only.")
    account.balance = round(account.balance + TOPUP_AMOUNT, 2)
    conn.answer(request, call, {"topup_virtual": {"amount": TOPUP_AMOUNT, "currency": account.currency}})
    conn.server.notify_balance(account)


def account_list(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """The accounts this connection authorized. Each entry carries ``broker_code``, which the schema
    both requires and forbids (see :attr:`~.spec.LegacyCall.contradictions`)."""
    created = conn.server.market.now() - 86400 * 30
    rows = []
    for loginid in conn.grants:
        account = conn.server.accounts[loginid]
        virtual = is_virtual(account)
        rows.append(
            {
                "account_category": "trading",
                "account_type": "binary",
                "broker_code": loginid.rstrip("0123456789"),
                "created_at": created,
                "currency": account.currency,
                "is_disabled": 0,
                "is_virtual": int(virtual),
                "landing_company_name": "virtual" if virtual else "svg",
                "linked_to": [],
                "loginid": loginid,
            }
        )
    conn.answer(request, call, {"account_list": rows})


def proposal(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """A price for the contract; ``subscribe: 1`` re-prices it on every tick of its symbol."""
    options.proposal(conn, call, request, stream=ProposalStream)


def buy(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """Buy a proposal (its id) or, with ``buy: "1"``, the contract in ``parameters``, at most at
    ``price``; the account is debited, ``subscribe: 1`` follows the contract."""
    target = str(request[call])
    if target == "1":
        parameters = request.get("parameters")
        if not isinstance(parameters, dict):
            raise MockAPIError("InvalidContractProposal", "buy: '1' needs the contract's parameters.")
        parameters = contract_params(parameters)
    else:
        known = conn.proposals.get(target)
        if known is None:
            raise MockAPIError("InvalidContractProposal", "Unknown contract proposal")
        parameters = known
    options.buy_contract(conn, call, request, parameters, stream=ContractStream)


def proposal_open_contract(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """One contract (``contract_id``) or every open one; ``subscribe: 1`` follows each until it closes."""
    options.proposal_open_contract(conn, call, request, stream=ContractStream)


def portfolio(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """The open contracts of the account (``contract_type`` filters)."""
    wanted = set(request.get("contract_type") or ())
    contracts = [
        portfolio_entry(c) for c in conn.account.open_contracts() if not wanted or c.contract_type in wanted
    ]
    conn.answer(request, call, {"portfolio": {"contracts": contracts}})


def transaction(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """Streams every buy, sale and settlement of the account."""
    options.transaction(conn, call, request, stream=TransactionStream)


def active_symbols(conn: LegacyConnection, call: str, request: dict[str, Any]) -> None:
    """The mock market's symbols (``brief`` or ``full``: the same fields here)."""
    rows = []
    for order, spec in enumerate(conn.server.market.symbols.values(), start=1):
        tick = conn.server.market.tick(spec.symbol)
        rows.append(
            {
                "display_name": spec.name,
                "display_order": order,
                "exchange_is_open": 1,
                "is_trading_suspended": 0,
                "market": spec.market,
                "market_display_name": spec.market.replace("_", " ").title(),
                "pip": 10**-spec.pip_size,
                "spot": tick.quote,
                "spot_time": str(tick.epoch),
                "subgroup": spec.subgroup,
                "subgroup_display_name": spec.subgroup.title(),
                "submarket": spec.submarket,
                "submarket_display_name": spec.submarket.replace("_", " ").title(),
                "symbol": spec.symbol,
                "symbol_type": spec.symbol_type,
            }
        )
    conn.answer(request, call, {"active_symbols": rows})


HANDLERS: Mapping[str, Handler] = {
    "account_list": account_list,
    "active_symbols": active_symbols,
    "authorize": authorize,
    "balance": balance,
    "buy": buy,
    "cancel": options.cancel,
    "contract_update": options.contract_update,
    "contract_update_history": options.contract_update_history,
    "forget": options.forget,
    "forget_all": options.forget_all,
    "logout": logout,
    "ping": options.ping,
    "portfolio": portfolio,
    "profit_table": options.profit_table,
    "proposal": proposal,
    "proposal_open_contract": proposal_open_contract,
    "sell": options.sell,
    "statement": options.statement,
    "ticks": options.ticks,
    "ticks_history": options.ticks_history,
    "time": options.server_time,
    "topup_virtual": topup_virtual,
    "transaction": transaction,
}
