"""The v3 API's API tokens and what ``authorize`` answers about their accounts.

A token (what a user creates under *Security & Limits -> API token*, or gets from the OAuth redirect)
grants its account (``loginid``) some of the five scopes: ``read``, ``trade``, ``trading_information``,
``payments``, ``admin``. The mock keeps tokens in a :class:`TokenBook`; secrets never appear in a
``repr``, a record or a log line (only :func:`~..core.record.fingerprint`).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from ..._redact import RedactingLogger, scrub
from ..core.record import fingerprint
from ..deriv.trading import Account

__all__ = [
    "ALL_SCOPES",
    "SecretMaskingLogger",
    "TokenBook",
    "TokenGrant",
    "account_entry",
    "authorize_body",
    "is_virtual",
]

#: The scopes of the v3 API, as the API guide lists them.
ALL_SCOPES: tuple[str, ...] = ("read", "trade", "trading_information", "payments", "admin")


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a token grants: an account and scopes (the token itself is not kept here)."""

    loginid: str
    scopes: tuple[str, ...]
    #: The token's fingerprint (for records and logs).
    fingerprint: str

    def allows(self, required: Collection[str]) -> bool:
        """Whether the grant covers a call needing ``required`` (any one of them; none: always)."""
        return not required or any(scope in self.scopes for scope in required)


class TokenBook:
    """The tokens the mock accepts."""

    def __init__(self) -> None:
        self._grants: dict[str, TokenGrant] = {}

    def __repr__(self) -> str:
        return f"<TokenBook {len(self._grants)} tokens>"

    def __len__(self) -> int:
        return len(self._grants)

    def add(self, token: str | None, loginid: str, scopes: Iterable[str]) -> str:
        """Accept ``token`` (``None``: a new random one) for ``loginid`` with ``scopes``; the token."""
        chosen = tuple(dict.fromkeys(scopes))
        unknown = [s for s in chosen if s not in ALL_SCOPES]
        if unknown:
            raise ValueError(f"unknown scopes {unknown}: the v3 scopes are {', '.join(ALL_SCOPES)}")
        if token is None:
            token = f"a1-{secrets.token_urlsafe(24)}"
        self._grants[token] = TokenGrant(loginid, chosen, fingerprint(token))
        return token

    def revoke(self, token: str) -> bool:
        return self._grants.pop(token, None) is not None

    def grant(self, token: str) -> TokenGrant | None:
        """The grant of ``token`` (compared in constant time), or ``None``."""
        found = None
        for known, grant in self._grants.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = grant
        return found

    def grants(self) -> list[TokenGrant]:
        return list(self._grants.values())

    def secrets(self) -> list[str]:
        """The tokens themselves (for masking them in logs only)."""
        return list(self._grants)


class SecretMaskingLogger(RedactingLogger):
    """The frame logger of the v3 mock: besides URL queries, the values of ``keys`` in JSON text
    (``"authorize": "..."``, even cut short by ``websockets``' truncation) and every token
    ``known()`` returns are masked."""

    def __init__(self, name: str, keys: Iterable[str], known: Callable[[], Iterable[str]]) -> None:
        super().__init__(name)
        names = "|".join(sorted(re.escape(k) for k in keys))
        self._pairs = re.compile(rf'("(?:{names})"\s*:\s*)("[^"]*"?|\[[^\]]*\]?|[^\s,}}]+)')
        self._known = known

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            text = scrub(self._pairs.sub(r'\1"***"', text), self._known())
            kwargs.setdefault("stacklevel", 2)
            super().log(level, text, **kwargs)


def is_virtual(account: Account) -> bool:
    return account.account_type == "demo"


def account_entry(account: Account, created_at: int) -> dict[str, Any]:
    """An ``account_list`` entry of ``authorize``."""
    virtual = is_virtual(account)
    return {
        "account_category": "trading",
        "account_type": "binary",
        "broker": account.loginid.rstrip("0123456789"),
        "created_at": created_at,
        "currency": account.currency,
        "is_disabled": 0,
        "is_virtual": int(virtual),
        "landing_company_name": "virtual" if virtual else "svg",
        "linked_to": [],
        "loginid": account.loginid,
    }


def authorize_body(
    account: Account, grant: TokenGrant, accounts: Iterable[Account], created_at: int
) -> dict[str, Any]:
    """What ``authorize`` answers for the account ``grant`` opens (shaped like the API guide's example)."""
    virtual = is_virtual(account)
    return {
        "account_list": [account_entry(a, created_at) for a in accounts],
        "balance": account.balance,
        "country": "id",
        "currency": account.currency,
        "email": "trader@example.com",
        "fullname": " Mock Trader",
        "is_virtual": int(virtual),
        "landing_company_fullname": "Deriv Limited" if virtual else "Deriv (SVG) LLC",
        "landing_company_name": "virtual" if virtual else "svg",
        "linked_to": [],
        "local_currencies": {account.currency: {"fractional_digits": 2}},
        "loginid": account.loginid,
        "preferred_language": "EN",
        "scopes": list(grant.scopes),
        "upgradeable_landing_companies": [] if virtual else ["svg"],
        "user_id": 90000001,
    }
