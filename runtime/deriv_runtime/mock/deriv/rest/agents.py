"""REST behaviour: payment agents - the directory, the mock user's own agent profile,
withdrawal verification codes, withdrawals (pending, then complete) and transfers to clients."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import Ctx, Reply, RestBase, RestError

__all__ = ["AgentOperations"]


@dataclass(slots=True)
class _Agent:
    id: int
    name: str
    countries: list[str]
    currencies: dict[str, dict[str, Any]]
    is_listed: bool = True
    active: bool = True
    email: str | None = None
    phone_numbers: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    payment_methods: list[str] = field(default_factory=list)
    information: str | None = None
    created_at: int = 1717000000000

    def list_item(self, currency: str) -> dict[str, Any]:
        rates = self.currencies.get(currency, {})
        return {
            "countries": list(self.countries),
            "created_at": self.created_at,
            "deposit_commission": rates.get("deposit_commission"),
            "email": self.email,
            "id": self.id,
            "information": self.information,
            "is_listed": self.is_listed,
            "name": self.name,
            "payment_methods": list(self.payment_methods),
            "phone_numbers": list(self.phone_numbers),
            "withdrawal_commission": rates.get("withdrawal_commission"),
            "withdrawal_maximum": rates.get("withdrawal_maximum"),
            "withdrawal_minimum": rates.get("withdrawal_minimum"),
        }

    def detail(self, *, own: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "countries": list(self.countries),
            "created_at": self.created_at,
            "currencies": [{"currency": c, **rates} for c, rates in sorted(self.currencies.items())],
            "email": self.email,
            "id": self.id,
            "information": self.information,
            "is_listed": self.is_listed,
            "name": self.name,
            "payment_methods": list(self.payment_methods),
            "phone_numbers": list(self.phone_numbers),
            "urls": list(self.urls),
        }
        if own:
            body["cashier_withdraw"] = True
        return body


def _rates(
    deposit: float | None, withdrawal: float | None, low: str | None, high: str | None
) -> dict[str, Any]:
    return {
        "deposit_commission": deposit,
        "withdrawal_commission": withdrawal,
        "withdrawal_minimum": low,
        "withdrawal_maximum": high,
    }


def _default_agents() -> dict[int, _Agent]:
    agents = [
        _Agent(
            1000,
            "Mock Trader Payments",
            ["id", "my"],
            {"USD": _rates(1.0, 1.0, "10.00", "2000.00")},
            is_listed=False,
            email="trader@example.com",
            urls=["https://example.com/mock-trader"],
            payment_methods=["bank_transfer"],
            information="The mock user's own payment agent profile.",
        ),
        _Agent(
            1001,
            "Agent One",
            ["id", "my", "ng"],
            {"USD": _rates(1.5, 2.0, "10.00", "1000.00"), "IDR": _rates(1.5, 2.0, "150000", "15000000")},
            email="agent.one@example.com",
            phone_numbers=["+62 21 5550 1001"],
            urls=["https://example.com/agent-one"],
            payment_methods=["bank_transfer", "mobile_money"],
            information="Local bank transfers, same day.",
        ),
        _Agent(
            1002,
            "Agent Two",
            ["ng", "ke"],
            {"USD": _rates(None, 1.0, "5.00", "500.00")},
            email="agent.two@example.com",
            urls=["https://example.com/agent-two"],
            payment_methods=["mobile_money"],
        ),
        _Agent(
            1003,
            "Agent Three",
            ["id", "pk"],
            {"USD": _rates(2.0, 2.5, None, None), "EUR": _rates(2.0, 2.5, "10.00", "3000.00")},
            urls=["https://example.com/agent-three"],
            payment_methods=["bank_transfer", "e_wallet"],
        ),
        _Agent(
            1004, "Agent Four (inactive)", ["id"], {"USD": _rates(1.0, 1.0, "10.00", "100.00")}, active=False
        ),
    ]
    return {a.id: a for a in agents}


def _money(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RestError(400, "InputError", f"{what} must be a decimal string", field=f"data.{what}") from None
    if not value.is_finite() or value <= 0:
        raise RestError(400, "InputError", f"{what} must be a positive amount", field=f"data.{what}")
    return value


class AgentOperations(RestBase):
    """The payment agent endpoints and their state (wallets, verification codes, withdrawals)."""

    def _init_agents(self) -> None:
        #: Country of residence of the mock user (payment agents serve some countries only).
        self.country = "id"
        #: The mock user is a payment agent (agent ``me``, id 1000): it may transfer to clients.
        self.is_payment_agent = True
        self.agents = _default_agents()
        self.own_agent_id = 1000
        #: Nicknames of clients a transfer may go to (others: ``NicknameNotFound``).
        self.client_nicknames: set[str] = {"client_nickname", "mock_client"}
        #: The mock user's payment wallet, and their payment agent wallet, by currency.
        self.wallet: dict[str, Decimal] = {"USD": Decimal("1000.00")}
        self.agent_wallet: dict[str, Decimal] = {"USD": Decimal("5000.00")}
        #: Seconds between two verification code requests; a withdrawal settles after this long.
        self.verification_code_interval = 60.0
        self.withdrawal_settle_seconds = 2.0
        #: The last withdrawal verification code "sent" (what the user would read in their email).
        self.last_verification_code: str | None = None
        self._verification: dict[str, Any] | None = None
        self._next_code_at = 0.0
        self._withdrawals: dict[str, tuple[int, float]] = {}
        self._request_ids: set[str] = set()
        self._next_pa_txn = 7_000_001

    def _listed(self) -> list[_Agent]:
        return [a for a in sorted(self.agents.values(), key=lambda a: a.id) if a.active and a.is_listed]

    def _agent_statistics(self, ctx: Ctx) -> Reply:
        listed = self._listed()
        countries = sorted({c for a in listed for c in a.countries})
        currencies = sorted({c for a in listed for c in a.currencies})
        return Reply({"data": {"available_countries": countries, "available_currencies": currencies}})

    def _agents(self, ctx: Ctx) -> Reply:
        currency = str(ctx.params["currency"]).upper()
        country = ctx.params.get("country")
        page, per_page = int(ctx.params.get("page", 1)), int(ctx.params.get("per_page", 25))
        found = [
            a
            for a in self._listed()
            if currency in a.currencies and (not country or country.lower() in a.countries)
        ]
        chunk = found[(page - 1) * per_page : page * per_page]
        return Reply({"data": [a.list_item(currency) for a in chunk]})

    def _agent(self, ctx: Ctx) -> Reply:
        wanted = ctx.path["id"]
        if wanted == "me":
            if not self.is_payment_agent or self.own_agent_id not in self.agents:
                raise RestError(404, "AgentNotFound", "you are not a payment agent", field="id")
            return Reply({"data": self.agents[self.own_agent_id].detail(own=True)})
        if not wanted.isdigit():
            raise RestError(400, "InvalidAgentID", "id must be a numeric agent ID or 'me'", field="id")
        agent = self.agents.get(int(wanted))
        if agent is None:
            raise RestError(404, "AgentNotFound", f"no payment agent {wanted}", field="id")
        return Reply({"data": agent.detail(own=agent.id == self.own_agent_id and self.is_payment_agent)})

    def _target_agent(self, agent_id: int, currency: str) -> _Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise RestError(400, "AgentIDInvalid", f"no payment agent {agent_id}", field="data.agent_id")
        if not agent.active:
            raise RestError(
                400, "AgentInactive", f"payment agent {agent_id} is inactive", field="data.agent_id"
            )
        if self.is_payment_agent and agent.id == self.own_agent_id:
            raise RestError(400, "AgentSelfWithdraw", "you cannot withdraw through your own payment agent")
        if currency not in agent.currencies:
            raise RestError(400, "AgentCurrencyUnsupported", f"agent {agent_id} does not support {currency}")
        return agent

    def _pa_transaction(self) -> int:
        self._next_pa_txn += 1
        return self._next_pa_txn

    def _verification_code(self, ctx: Ctx) -> Reply:
        data = ctx.body["data"]
        currency = str(data["currency"]).upper()
        self._target_agent(int(data["agent_id"]), currency)
        amount = _money(str(data["amount"]), "amount")
        now = time.time()
        if now < self._next_code_at:
            raise RestError(
                400,
                "OtpRateLimitExceeded",
                "Too many OTP requests. Please try again later.",
                detail={"next_request_at": int(self._next_code_at) + 1},
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        expires_at = int(now + 600)
        self._verification = {
            "code": code,
            "agent_id": int(data["agent_id"]),
            "amount": amount,
            "currency": currency,
            "expires_at": expires_at,
            "failures": 0,
        }
        self.last_verification_code = code
        self._next_code_at = now + self.verification_code_interval
        message = "Please check your email or phone for the verification code."
        return Reply(
            {
                "data": {
                    "expires_at": expires_at,
                    "message": message,
                    "next_request_at": int(self._next_code_at) + 1,
                }
            }
        )

    def _withdraw(self, ctx: Ctx) -> Reply:
        data = ctx.body["data"]
        currency = str(data["currency"]).upper()
        agent = self._target_agent(int(data["agent_id"]), currency)
        if currency not in self.wallet:
            raise RestError(400, "NoClientWallet", f"you have no {currency} wallet")
        if self.country not in agent.countries:
            raise RestError(400, "ClientCountryUnsupported", f"agent {agent.id} does not serve your country")
        amount = _money(str(data["amount"]), "amount")
        limits = agent.currencies[currency]
        if limits.get("withdrawal_minimum") is not None and amount < Decimal(limits["withdrawal_minimum"]):
            raise RestError(400, "WithdrawalAmountMinimum", f"the minimum is {limits['withdrawal_minimum']}")
        if limits.get("withdrawal_maximum") is not None and amount > Decimal(limits["withdrawal_maximum"]):
            raise RestError(400, "WithdrawalAmountMaximum", f"the maximum is {limits['withdrawal_maximum']}")
        if amount > self.wallet[currency]:
            raise RestError(400, "WalletFundsInsufficient", "your wallet does not hold enough funds")
        request_id = data.get("request_id")
        if request_id is not None and request_id in self._request_ids:
            raise RestError(400, "RequestIDUsed", "this request_id was already used", field="data.request_id")
        pending = self._verification
        if pending is not None and pending["failures"] >= 5:
            raise RestError(
                400,
                "OtpValidationRateLimitExceeded",
                "Too many failed OTP validation attempts. Please try after some time.",
            )
        matches = (
            pending is not None
            and time.time() < pending["expires_at"]
            and secrets.compare_digest(str(data["verification_code"]), pending["code"])
            and (pending["agent_id"], pending["amount"], pending["currency"]) == (agent.id, amount, currency)
        )
        if not matches:
            if pending is not None:
                pending["failures"] += 1
            raise RestError(400, "InvalidOTP", "Invalid OTP", field="data.verification_code")
        self._verification = None
        self.wallet[currency] -= amount
        txn_id = self._pa_transaction()
        if request_id is not None:
            self._request_ids.add(request_id)
            self._withdrawals[request_id] = (txn_id, time.monotonic())
        return Reply({"data": {"status": "pending", "transaction_id": txn_id}})

    def _withdrawal_status(self, ctx: Ctx) -> Reply:
        found = self._withdrawals.get(ctx.path["request_id"])
        if found is None:
            raise RestError(
                400, "RequestIDNotFound", "no withdrawal with this request_id", field="request_id"
            )
        txn_id, since = found
        status = "complete" if time.monotonic() - since >= self.withdrawal_settle_seconds else "pending"
        return Reply({"data": {"status": status, "transaction_id": txn_id}})

    def _transfer(self, ctx: Ctx) -> Reply:
        data = ctx.body["data"]
        currency = str(data["currency"]).upper()
        own = self.agents.get(self.own_agent_id) if self.is_payment_agent else None
        if own is None:
            raise RestError(400, "AgentIDInvalid", "you are not a registered payment agent")
        if not own.active:
            raise RestError(400, "AgentInactive", "your payment agent account is inactive")
        if currency not in own.currencies:
            raise RestError(
                400, "AgentCurrencyUnsupported", f"your payment agent does not support {currency}"
            )
        nickname = str(data["to_nickname"])
        if nickname == self.nickname:
            raise RestError(400, "AgentSelfTransfer", "you cannot transfer to your own account")
        if nickname not in self.client_nicknames:
            raise RestError(400, "NicknameNotFound", f"no Deriv account has the nickname {nickname}")
        amount = _money(str(data["amount"]), "amount")
        if amount > self.agent_wallet.get(currency, Decimal(0)):
            raise RestError(400, "WalletFundsInsufficient", "your agent wallet does not hold enough funds")
        request_id = data.get("request_id")
        if request_id is not None:
            if request_id in self._request_ids:
                raise RestError(
                    400, "RequestIDUsed", "this request_id was already used", field="data.request_id"
                )
            self._request_ids.add(request_id)
        self.agent_wallet[currency] -= amount
        return Reply({"data": {"status": "complete", "transaction_id": self._pa_transaction()}})
