"""REST behaviour: health, the options accounts (tied to the WebSocket mock's accounts and
balances), OTPs for the WebSocket, demo balance reset, bulk purchase, markup statistics, nickname."""

from __future__ import annotations

import datetime
import logging
import random
from typing import Any

from ..pricing import MockAPIError, price_contract
from ..trading import Account, purchase_receipt
from .base import Ctx, ErrorEntry, Reply, RestBase, RestError

__all__ = ["AccountOperations"]

log = logging.getLogger("deriv_runtime.mock.rest")


class AccountOperations(RestBase):
    """Accounts, OTPs, bulk purchase, reporting and identity."""

    def _health(self, ctx: Ctx) -> Reply:
        return Reply("OK")

    @staticmethod
    def account_json(account: Account) -> dict[str, Any]:
        return {
            "account_id": account.loginid,
            "account_type": account.account_type,
            "balance": account.balance,
            "currency": account.currency,
            "group": account.group,
            "status": account.status,
        }

    def _account(self, ctx: Ctx, name: str) -> Account:
        account_id = ctx.path.get(name, "")
        account = self.mock.accounts.get(account_id)
        if account is None:
            raise RestError((404, 400), "AccountNotFound", f"no options account {account_id}", field=name)
        return account

    def _accounts_list(self, ctx: Ctx) -> Reply:
        return Reply({"data": [self.account_json(a) for a in self.mock.accounts.values()]})

    def _accounts_create(self, ctx: Ctx) -> Reply:
        body = ctx.body
        kind, currency, group = body["account_type"], body["currency"], body["group"]
        for account in self.mock.accounts.values():
            if (account.account_type, account.currency, account.group) == (kind, currency, group):
                return Reply({"data": self.account_json(account)}, 200)
        created = self.mock.add_account(kind, currency=currency, group=group)
        log.info("mock REST: opened %s account %s", kind, created.loginid)
        return Reply({"data": [self.account_json(created)]}, 201)

    def _otp(self, ctx: Ctx) -> Reply:
        account = self._account(ctx, "accountId")
        if account.status != "active":
            raise RestError(
                400, "AccessDenied", f"account {account.loginid} is not active", field="accountId"
            )
        return Reply({"data": {"url": self.mock.issue_otp(account_id=account.loginid)}})

    def _reset_demo(self, ctx: Ctx) -> Reply:
        account = self._account(ctx, "account_id")
        if account.account_type != "demo":
            raise RestError(400, "BadInputRequest", "only demo accounts can be reset", field="account_id")
        account.reset_balance()
        self.mock.notify_balance(account)
        return Reply(None, 200)

    def _bulk_demo(self, ctx: Ctx) -> Reply:
        return self._bulk(ctx, "demo")

    def _bulk_real(self, ctx: Ctx) -> Reply:
        return self._bulk(ctx, "real")

    def _bulk(self, ctx: Ctx, kind: str) -> Reply:
        parameters = dict(ctx.body["contract_parameters"])
        if "underlying_symbol" not in parameters and "symbol" in parameters:
            parameters["underlying_symbol"] = parameters.pop("symbol")
        max_price = parameters.pop("price", None)
        results: list[dict[str, Any]] = []
        refused: list[ErrorEntry] = []
        valid = 0
        market = self.mock.market
        for index, entry in enumerate(ctx.body["accounts"]):
            account_id = entry["account_id"]
            info = self.oauth.is_pat(entry["token"])
            account = self.mock.accounts.get(account_id)
            problem: tuple[str, str, str] | None = None
            if info is None:
                problem = ("InvalidToken", "the token is not a valid personal access token", "token")
            elif "trade" not in info.scopes:
                problem = ("PermissionDenied", "the token lacks the trade scope", "token")
            elif account is None:
                problem = ("AccountNotFound", f"no options account {account_id} for this token", "account_id")
            elif account.account_type != kind:
                problem = (
                    "InvalidAccountType",
                    f"{account_id} is a {account.account_type} account",
                    "account_id",
                )
            if problem is not None or account is None:
                code, message, where = problem or ("AccountNotFound", "unknown account", "account_id")
                results.append({"account_id": account_id, "error": {"code": code, "message": message}})
                refused.append(
                    ErrorEntry("ValidationError", f"{account_id}: {message}", f"accounts.{index}.{where}")
                )
                continue
            valid += 1
            try:
                params = {"currency": account.currency, **parameters}
                quote = price_contract(params, market, currency=account.currency)
                price = float(max_price) if isinstance(max_price, (int, float)) else quote.ask_price
                contract, txn = account.buy(quote, price, market.now())
            except MockAPIError as exc:
                results.append(
                    {"account_id": account_id, "error": {"code": exc.code, "message": exc.message}}
                )
                continue
            results.append({"account_id": account_id, **purchase_receipt(quote, contract, txn)})
            self.mock.notify_transaction(txn, account)
        if not valid:
            first, *more = refused
            raise RestError(400, first.code, first.message, field=first.field, more=more)
        return Reply({"data": {"transactions": results}})

    def _markup(self, ctx: Ctx) -> Reply:
        dates = []
        for name in ("date_from", "date_to"):
            try:
                dates.append(datetime.date.fromisoformat(ctx.params[name]))
            except ValueError:
                raise RestError(
                    (422, 400), "ValidationError", f"{name}: not a calendar date", field=name
                ) from None
        if dates[0] > dates[1]:
            raise RestError((422, 400), "ValidationError", "date_from is after date_to", field="date_from")
        days = (dates[1] - dates[0]).days + 1
        rows: list[dict[str, Any]] = []
        for app_id in sorted(self.oauth.apps):
            rng = random.Random(f"{app_id}:{dates[0]}:{dates[1]}")  # noqa: S311
            contracts = sum(rng.randint(0, 40) for _ in range(min(days, 366)))
            volume = round(contracts * rng.uniform(5, 50), 2)
            rows.append(
                {
                    "app_id": app_id,
                    "app_markup_usd": round(volume * 0.02, 2),
                    "client_count": min(contracts, rng.randint(1, 25)) if contracts else 0,
                    "contract_count": contracts,
                    "payout_usd": round(volume * 1.9, 2),
                    "volume_usd": volume,
                }
            )
        data = {
            "breakdown": rows,
            "total_app_markup_usd": round(sum(r["app_markup_usd"] for r in rows), 2),
            "total_client_count": sum(r["client_count"] for r in rows),
            "total_contract_count": sum(r["contract_count"] for r in rows),
            "total_payout_usd": round(sum(r["payout_usd"] for r in rows), 2),
            "total_volume_usd": round(sum(r["volume_usd"] for r in rows), 2),
        }
        return Reply({"data": data})

    def _nickname(self, ctx: Ctx) -> Reply:
        return Reply(
            {"data": {"external_reference_id": self.external_reference_id, "nickname": self.nickname}}
        )
