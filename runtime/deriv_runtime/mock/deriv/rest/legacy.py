"""REST behaviour: the legacy (pre-upgrade) account, its migration status and statement."""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

from .base import Ctx, Reply, RestBase, RestError

__all__ = ["LegacyOperations"]

LEGACY_LOGINID = "CR90000001"
LEGACY_ACCOUNT_ID = 202201


class LegacyOperations(RestBase):
    """The legacy endpoints; they follow :attr:`legacy_migration_status`."""

    def _init_legacy(self) -> None:
        #: ``complete``, ``pending``, ``failed`` or ``not_applicable`` (the legacy endpoints follow).
        self.legacy_migration_status = "complete"
        self._legacy = self._legacy_transactions()

    def _legacy_transactions(self) -> list[dict[str, Any]]:
        rng = random.Random(f"{self._rng.random()}:legacy")  # noqa: S311
        now = int(time.time())
        balance = Decimal("10000.00")
        rows: list[dict[str, Any]] = []
        txn_id, contract_id = 22801, 13001
        when = now - 30 * 86400
        rows.append(self._legacy_row(txn_id, when, "deposit", balance, balance))
        for _ in range(12):
            when += rng.randint(3600, 86400)
            stake = Decimal(rng.choice(["5.00", "10.00", "25.00"]))
            symbol = rng.choice(["R_100", "1HZ100V", "frxEURUSD"])
            bet_type = rng.choice(["CALL", "PUT"])
            txn_id += 1
            contract_id += 1
            balance -= stake
            shortcode = f"{bet_type}_{symbol}_{stake * 2}_{when}_{when + 300}_S0P_0"
            contract = {
                "bet_class": "higher_lower_bet",
                "bet_type": bet_type,
                "contract_id": contract_id,
                "shortcode": shortcode,
                "symbol": symbol,
            }
            rows.append({**self._legacy_row(txn_id, when, "buy", -stake, balance), **contract})
            txn_id += 1
            won = rng.random() < 0.5
            payout = stake * Decimal("1.95") if won else Decimal("0.00")
            balance += payout
            rows.append({**self._legacy_row(txn_id, when + 300, "sell", payout, balance), **contract})
        rows.sort(key=lambda r: (r["transaction_time"], r["transaction_id"]), reverse=True)
        return rows

    @staticmethod
    def _legacy_row(txn_id: int, when: int, action: str, amount: Decimal, balance: Decimal) -> dict[str, Any]:
        return {
            "account_id": LEGACY_ACCOUNT_ID,
            "action_type": action,
            "amount": f"{amount:.2f}",
            "app_id": 16929,
            "balance_after": f"{balance:.2f}",
            "bet_class": None,
            "bet_type": None,
            "contract_id": None,
            "currency": "USD",
            "loginid": LEGACY_LOGINID,
            "shortcode": None,
            "symbol": None,
            "transaction_id": txn_id,
            "transaction_time": when,
        }

    def _legacy_ready(self) -> None:
        status = self.legacy_migration_status
        if status == "not_applicable":
            raise RestError(404, "AccountNotFound", "the user has no legacy account")
        if status != "complete":
            raise RestError(409, "BadInputRequest", f"the platform upgrade is {status}")

    def _legacy_accounts(self, ctx: Ctx) -> Reply:
        self._legacy_ready()
        return Reply({"loginids": {LEGACY_LOGINID: [{"account_id": LEGACY_ACCOUNT_ID, "currency": "USD"}]}})

    def _legacy_status(self, ctx: Ctx) -> Reply:
        return Reply({"status": self.legacy_migration_status}, headers=[("Cache-Control", "no-store")])

    def _legacy_statement(self, ctx: Ctx) -> Reply:
        self._legacy_ready()
        params = ctx.params
        if params["loginid"] != LEGACY_LOGINID:
            raise RestError(404, "AccountNotFound", f"no legacy account {params['loginid']}", field="loginid")
        start = int(params.get("date_from", 0))
        end = int(params.get("date_to", time.time()))
        action = params.get("action_type")
        rows = [
            r
            for r in self._legacy
            if start <= r["transaction_time"] < end and (action is None or r["action_type"] == action)
        ]
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        page = rows[offset : offset + limit]
        return Reply({"count": len(page), "transactions": page})
