"""One connection to the Options WebSocket API: its subscriptions, proposals and account, and the
Deriv message envelopes (``echo_req``, ``msg_type``, ``req_id``, ``subscription``, ``error``).

:class:`Connection` is the session the Options API keeps per :class:`~..core.ws.WsConnection`;
the call handlers (:mod:`.calls`) and streams (:mod:`.streams`) answer through it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..core.ws import WsConnection
from .market import Tick
from .platform import Platform
from .pricing import MockAPIError
from .trading import Account, Contract, Transaction

__all__ = ["Connection", "Subscription", "envelope", "is_public", "req_id_of"]


def req_id_of(request: Mapping[str, Any]) -> int | None:
    value = request.get("req_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def envelope(
    request: Mapping[str, Any], msg_type: str, body: Mapping[str, Any], sub_id: str | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"echo_req": request, "msg_type": msg_type}
    message.update(body)
    req_id = req_id_of(request)
    if req_id is not None:
        message["req_id"] = req_id
    if sub_id is not None:
        message["subscription"] = {"id": sub_id}
    return message


def is_public(path: str) -> bool:
    return urlsplit(path).path.rstrip("/").endswith("/public")


class Subscription:
    """A live stream on one connection. ``kind`` is the type ``forget_all`` knows it by; a second
    subscription with the same ``key`` on a connection is refused with AlreadySubscribed."""

    def __init__(
        self,
        sub_id: str,
        call: str,
        kind: str,
        request: dict[str, Any],
        msg_type: str,
        *,
        key: str,
        symbol: str | None = None,
        schema_call: str | None = None,
    ) -> None:
        self.id = sub_id
        self.call = call
        self.kind = kind
        self.request = request
        self.msg_type = msg_type
        self.key = key
        self.symbol = symbol
        #: The call whose response schema describes this stream's messages.
        self.schema_call = schema_call or call
        #: Set once the first answer went out (stream messages never precede it).
        self.started = False

    @property
    def what(self) -> str:
        return self.symbol or self.kind

    def on_tick(self, conn: Connection, tick: Tick) -> None:
        """A new tick of :attr:`symbol`."""

    def on_clock(self, conn: Connection, epoch: int) -> None:
        """Once per tick of the server's ticker, whatever the symbols."""

    def on_transaction(self, conn: Connection, txn: Transaction) -> None:
        """A buy, sale or settlement on the connection's account."""

    def on_contract_closed(self, conn: Connection, contract: Contract) -> None:
        """A contract was sold or cancelled (settlements arrive through :meth:`on_tick`)."""

    def on_balance(self, conn: Connection) -> None:
        """The balance changed without a transaction (a demo balance reset)."""


class Connection:
    """One client connection: its subscriptions, proposals and account (see the module docstring)."""

    def __init__(self, server: Platform, link: WsConnection, account: Account) -> None:
        self.server = server
        #: The core's side of the connection (send queue, fault state).
        self.link = link
        #: The account this connection trades on (the one its OTP was issued for).
        self.account = account
        self.authorised = not is_public(link.path)
        self.subscriptions: dict[str, Subscription] = {}
        self._keys: dict[str, str] = {}
        self.proposals: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.max_req_id = 0

    def __repr__(self) -> str:
        return repr(self.link)

    @property
    def number(self) -> int:
        return self.link.number

    @property
    def closed(self) -> bool:
        return self.link.closed

    def trades_on(self, account: Account) -> bool:
        """Whether the streams of this connection hear of ``account``'s transactions and balance."""
        return self.account is account

    # -- sending ------------------------------------------------------------------------------

    def _enqueue(self, message: Mapping[str, Any], *, schema_call: str | None, stream: bool) -> None:
        if not self.link.accepts(stream):
            return
        if schema_call is not None and "error" not in message:
            self.server.check_response(schema_call, message)
        self.link.send(orjson.dumps(message).decode(), stream=stream)

    def answer(
        self,
        request: dict[str, Any],
        call: str,
        body: Mapping[str, Any],
        *,
        msg_type: str | None = None,
        subscription: Subscription | None = None,
    ) -> None:
        """Answer ``request``; with ``subscription``, this is its first message and starts it."""
        if msg_type is None:
            info = self.server.calls.get(call)
            msg_type = info.msg_types[0] if info is not None and info.msg_types else call
        sub_id = None
        if subscription is not None:
            subscription.started = True
            sub_id = subscription.id
        self._enqueue(envelope(request, msg_type, body, sub_id), schema_call=call, stream=False)

    def push(self, sub: Subscription, body: Mapping[str, Any], *, msg_type: str | None = None) -> None:
        """A stream message of ``sub`` (dropped if it has ended or not started)."""
        if not sub.started or self.subscriptions.get(sub.id) is not sub:
            return
        message = envelope(sub.request, msg_type or sub.msg_type, body, sub.id)
        self._enqueue(message, schema_call=sub.schema_call, stream=True)

    def error(self, request: Mapping[str, Any] | None, call: str | None, exc: MockAPIError) -> None:
        echo = dict(request) if request is not None else {}
        message: dict[str, Any] = {"echo_req": echo, "error": exc.as_error(), "msg_type": call or "error"}
        req_id = req_id_of(echo)
        if req_id is not None:
            message["req_id"] = req_id
        self._enqueue(message, schema_call=None, stream=False)

    def answer_unknown_req_id(self) -> int:
        """A well-formed ``ping`` answer whose ``req_id`` no request used; the result is that req_id."""
        req_id = self.max_req_id + 1_000_000
        request = {"ping": 1, "req_id": req_id}
        self._enqueue(envelope(request, "ping", {"ping": "pong"}, None), schema_call=None, stream=False)
        return req_id

    # -- subscriptions ------------------------------------------------------------------------

    def subscribe(
        self,
        cls: type[Subscription],
        call: str,
        kind: str,
        request: dict[str, Any],
        msg_type: str,
        *,
        key: str,
        **kwargs: Any,
    ) -> Subscription:
        """Register a subscription (not started until :meth:`answer` sends its first message)."""
        if key in self._keys:
            existing = self.subscriptions[self._keys[key]]
            raise MockAPIError(
                "AlreadySubscribed",
                f"You are already subscribed to {existing.what}.",
                {"subscription_id": existing.id},
            )
        sub = cls(self.server.new_id(), call, kind, request, msg_type, key=key, **kwargs)
        self.subscriptions[sub.id] = sub
        self._keys[key] = sub.id
        return sub

    def end(self, sub: Subscription) -> bool:
        if self.subscriptions.get(sub.id) is not sub:
            return False
        del self.subscriptions[sub.id]
        self._keys.pop(sub.key, None)
        if sub.kind == "proposal":
            self.proposals.pop(sub.id, None)
        return True

    def forget(self, sub_id: str) -> bool:
        sub = self.subscriptions.get(sub_id)
        return sub is not None and self.end(sub)

    def forget_kinds(self, kinds: Iterable[str]) -> list[str]:
        wanted = set(kinds)
        ended = [s for s in list(self.subscriptions.values()) if s.kind in wanted]
        return [s.id for s in ended if self.end(s)]

    def remember_proposal(self, proposal_id: str, parameters: dict[str, Any]) -> None:
        self.proposals[proposal_id] = parameters
        self.proposals.move_to_end(proposal_id)
        while len(self.proposals) > 1000:
            self.proposals.popitem(last=False)

    def logout(self) -> None:
        self.authorised = False
        for sub in list(self.subscriptions.values()):
            info = self.server.calls.get(sub.call)
            if info is not None and info.auth_required:
                self.end(sub)

    def close(self) -> None:
        self.subscriptions.clear()
        self._keys.clear()
        self.proposals.clear()
