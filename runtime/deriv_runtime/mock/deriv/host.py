"""What the Options mock (:class:`~.ws_server.MockServer`) and the v3 mock
(:class:`~..legacy.mock_legacy.MockLegacy`) share of :class:`~.platform.Platform`: subscription and
proposal ids, synthesised answers, more accounts, and telling the streams what happened.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..core.synth import Synthesiser, SynthesisError
from .session import Connection
from .trading import Account, Contract, Transaction

__all__ = ["PlatformBase"]


class PlatformBase:
    """A mixin for an API mock on the Deriv trading model (after its core base class, whose
    ``sessions`` it uses): :attr:`ACCOUNT_PREFIXES` names new accounts, :meth:`answer_schema` and
    :attr:`ENVELOPE_KEYS` shape synthesised answers."""

    #: The loginid prefixes of new demo and real accounts.
    ACCOUNT_PREFIXES: ClassVar[tuple[str, str]]
    #: What the answer schemas are called (in the error of an answer that is not an object).
    ANSWER_SCHEMA_NAME: ClassVar[str] = "response"
    #: The keys a synthesised answer loses: its envelope.
    ENVELOPE_KEYS: ClassVar[tuple[str, ...]] = ("echo_req", "msg_type", "req_id", "subscription")

    account: Account
    accounts: dict[str, Account]
    synthesiser: Synthesiser
    _ids: random.Random
    _account_numbers: Iterator[int]

    if TYPE_CHECKING:

        def sessions(self) -> Sequence[Connection]: ...

    def answer_schema(self, call: str) -> Mapping[str, Any]:
        """The schema of ``call``'s answers."""
        raise NotImplementedError

    @property
    def balance(self) -> float:
        return self.account.balance

    def new_id(self) -> str:
        """A subscription/proposal id: uuid-like, deterministic for the seed."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def synthesise_body(self, call: str, msg_type: str, sub_id: str | None) -> dict[str, Any]:
        """A schema-valid answer of ``call``, without its envelope (echo_req, req_id, ...)."""
        overrides: dict[str, Any] = {"echo_req": {}, "msg_type": msg_type}
        if sub_id is not None:
            overrides["subscription"] = {"id": sub_id}
        message = self.synthesiser.generate(
            self.answer_schema(call), overrides=overrides, omit=("req_id", "subscription", "error")
        )
        if not isinstance(message, dict):
            raise SynthesisError(f"{call}: the {self.ANSWER_SCHEMA_NAME} schema does not describe an object")
        for key in self.ENVELOPE_KEYS:
            message.pop(key, None)
        return message

    def add_account(
        self,
        account_type: Literal["demo", "real"] = "demo",
        *,
        currency: str = "USD",
        group: str = "row",
        balance: float | None = None,
        account_id: str | None = None,
    ) -> Account:
        """Open another account: a demo one starts with the default account's starting balance, a
        real one with 0; its id is the next free one of its prefix (:attr:`ACCOUNT_PREFIXES`: demo,
        real) unless ``account_id`` names it (``ValueError`` if taken)."""
        if account_id is None:
            prefix = self.ACCOUNT_PREFIXES[0 if account_type == "demo" else 1]
            while account_id is None or account_id in self.accounts:
                account_id = f"{prefix}{90000000 + next(self._account_numbers)}"
        elif account_id in self.accounts:
            raise ValueError(f"account {account_id!r} already exists")
        if balance is None:
            balance = self.account.starting_balance if account_type == "demo" else 0.0
        created = Account(
            balance=balance, currency=currency, loginid=account_id, account_type=account_type, group=group
        )
        self._keep_account(created)
        return created

    def _keep_account(self, account: Account) -> None:
        """Add a new account to :attr:`accounts`."""
        self.accounts[account.loginid] = account

    def notify_transaction(self, txn: Transaction, account: Account | None = None) -> None:
        """Tell the streams of every connection on ``account`` (default: :attr:`account`)."""
        target = self.account if account is None else account
        for conn in self.sessions():
            if conn.trades_on(target):
                for sub in list(conn.subscriptions.values()):
                    sub.on_transaction(conn, txn)

    def notify_balance(self, account: Account | None = None) -> None:
        """The balance of ``account`` changed without a transaction (e.g. a demo reset)."""
        target = self.account if account is None else account
        for conn in self.sessions():
            if conn.trades_on(target):
                for sub in list(conn.subscriptions.values()):
                    sub.on_balance(conn)

    def notify_contract_closed(self, contract: Contract) -> None:
        for conn in self.sessions():
            for sub in list(conn.subscriptions.values()):
                sub.on_contract_closed(conn, contract)
