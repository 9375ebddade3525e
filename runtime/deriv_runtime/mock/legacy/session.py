"""One connection to the v3 API: the Options mock's :class:`~..deriv.session.Connection` (envelopes,
subscriptions, ``forget``) plus what v3 adds - the ``app_id`` it connected with, the tokens it
authorized, the account each call acts on - and v3's envelope details: sensitive request fields
shown as ``<not shown>`` in ``echo_req``, ``passthrough`` echoed at the top level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from ..core.ws import WsConnection
from ..deriv.platform import Platform
from ..deriv.pricing import MockAPIError
from ..deriv.session import Connection
from ..deriv.trading import Account
from .accounts import TokenBook, TokenGrant
from .spec import LegacySpec

__all__ = ["NOT_SHOWN", "LegacyConnection", "LegacyHost", "query_of"]

#: What ``echo_req`` shows instead of a sensitive field.
NOT_SHOWN = "<not shown>"


class LegacyHost(Platform, Protocol):
    """What a v3 connection uses of its server, beyond :class:`~..deriv.platform.Platform`."""

    spec: LegacySpec
    tokens: TokenBook


def query_of(path: str) -> dict[str, str]:
    """The handshake's query parameters (the last value of each)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


def _mask(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {
            k: ([NOT_SHOWN] * len(v) if isinstance(v, list) else NOT_SHOWN) if k in keys else _mask(v, keys)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v, keys) for v in value]
    return value


class LegacyConnection(Connection):
    """One v3 connection (see the module docstring).

    ``app_id`` is the handshake's ``app_id`` (``None``: missing); ``app_id_ok`` whether the mock
    accepts it. ``language`` and ``brand`` are the ``l`` and ``brand`` query parameters.
    """

    server: LegacyHost

    def __init__(self, server: LegacyHost, link: WsConnection, account: Account, *, app_id_ok: bool) -> None:
        super().__init__(server, link, account)
        query = query_of(link.path)
        self.app_id = query.get("app_id")
        self.app_id_ok = app_id_ok
        self.language = query.get("l", "EN")
        self.brand = query.get("brand", "deriv")
        self.authorised = False
        #: The accounts ``authorize`` opened, by loginid; the first is the one calls act on by default.
        self.grants: dict[str, TokenGrant] = {}

    # -- authorization ------------------------------------------------------------------------

    @property
    def loginid(self) -> str | None:
        """The authorized (default) account, or ``None`` before ``authorize``."""
        return next(iter(self.grants), None)

    def authorize(self, grants: list[tuple[TokenGrant, Account]]) -> None:
        """Authorize the connection for ``grants`` (the first is the default account). A different
        default account than before ends the streams that needed the old authorization."""
        first_grant, first_account = grants[0]
        if self.authorised and first_grant.loginid != self.loginid:
            self._end_private_streams()
        self.grants = {grant.loginid: grant for grant, _ in grants}
        self.account = first_account
        self.authorised = True

    def acting_as(self, loginid: Any) -> tuple[TokenGrant, Account]:
        """The grant and account a call with ``loginid`` (``None``: the default) acts on."""
        chosen = self.loginid if loginid is None else str(loginid)
        grant = self.grants.get(chosen) if chosen is not None else None
        account = self.server.accounts.get(chosen) if chosen is not None else None
        if grant is None or account is None:
            raise MockAPIError(
                "PermissionDenied", f"Permission denied: {chosen} is not authorized on this connection."
            )
        return grant, account

    def trades_on(self, account: Account) -> bool:
        """Only an authorized connection hears of its account."""
        return self.authorised and self.account is account

    def logout(self) -> None:
        super().logout()
        self.grants.clear()

    def _end_private_streams(self) -> None:
        for sub in list(self.subscriptions.values()):
            info = self.server.calls.get(sub.call)
            if info is not None and info.auth_required:
                self.end(sub)

    # -- envelopes ----------------------------------------------------------------------------

    def _enqueue(self, message: Mapping[str, Any], *, schema_call: str | None, stream: bool) -> None:
        echo = message.get("echo_req")
        if isinstance(echo, Mapping) and echo:
            spec = self.server.spec
            call = spec.identify(echo)
            sensitive = spec.calls[call].sensitive if call is not None else frozenset()
            shown = dict(message)
            if sensitive:
                shown["echo_req"] = _mask(echo, sensitive)
            if "passthrough" in echo:
                shown["passthrough"] = echo["passthrough"]
            message = shown
        super()._enqueue(message, schema_call=schema_call, stream=stream)
