"""What Deriv's behaviours use of the running mock (:class:`~.ws_server.MockServer`).

The WebSocket call handlers, the streams and the REST operations see the mock through this
protocol only, so none of them imports the server (and the server imports them freely).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from ...calls import CallInfo
from .market import Market
from .trading import Account, Contract, Transaction

__all__ = ["Platform"]


class Platform(Protocol):
    """The shared state of the mock platform: the market, the accounts, the calls it serves."""

    market: Market
    #: The default (demo) account.
    account: Account
    accounts: dict[str, Account]
    calls: Mapping[str, CallInfo]
    schema_problems: list[str]

    @property
    def base_url(self) -> str:
        """``ws://host:port`` of the WebSocket API."""
        ...

    def new_id(self) -> str:
        """A subscription/proposal id, deterministic for the seed."""
        ...

    def check_response(self, call: str, message: Mapping[str, Any]) -> None:
        """Check an outgoing message against the response schema of ``call`` (when enabled)."""
        ...

    def synthesise_body(self, call: str, msg_type: str, sub_id: str | None) -> dict[str, Any]:
        """A schema-valid response of ``call``, without its envelope."""
        ...

    def notify_transaction(self, txn: Transaction, account: Account | None = None) -> None: ...

    def notify_balance(self, account: Account | None = None) -> None: ...

    def notify_contract_closed(self, contract: Contract) -> None: ...

    def add_account(
        self,
        account_type: Literal["demo", "real"] = "demo",
        *,
        currency: str = "USD",
        group: str = "row",
        balance: float | None = None,
        account_id: str | None = None,
    ) -> Account: ...

    def issue_otp(
        self,
        account: Literal["demo", "real"] = "demo",
        *,
        account_id: str | None = None,
        ttl: float | None = None,
    ) -> str: ...
