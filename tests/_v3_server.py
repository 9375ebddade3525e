"""A small Deriv v3 WebSocket server of the tests' own, on 127.0.0.1 (not the shared mock).

It speaks the v3 framing (``req_id`` echoed, ``msg_type``, ``subscription.id``, ``forget``) for the
few calls the auth tests need, checks ``authorize`` tokens and scopes like the real API (a private
call on an unauthorized connection is refused with ``AuthorizationRequired``), records every frame
with the connection it came on and the account that connection was authorized as, and can drop
every connection at once (the transport aborted: no close frame).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve

#: Its own logger, quiet below WARNING: at DEBUG ``websockets`` would log the frames it receives
#: (tokens included), and the canary tests look at every record.
_LOG = logging.getLogger("tests.v3server")
_LOG.setLevel(logging.WARNING)

#: Calls that need an authorized connection, and the scopes that each allow them.
PRIVATE: dict[str, tuple[str, ...]] = {
    "balance": ("read", "trading_information"),
    "transaction": ("read", "trading_information"),
    "portfolio": ("read", "trading_information"),
    "proposal_open_contract": ("read", "trading_information"),
    "buy": ("trade",),
    "sell": ("trade",),
}
STREAMS = ("ticks", "balance", "transaction", "proposal_open_contract", "buy")


@dataclass
class Account:
    loginid: str
    scopes: tuple[str, ...]
    currency: str = "USD"


@dataclass
class Frame:
    connection: int
    #: The account the connection was authorized as when the frame arrived.
    authorized: str | None
    message: dict[str, Any]

    @property
    def call(self) -> str:
        return next(iter(self.message), "?")


@dataclass
class _Conn:
    number: int
    ws: ServerConnection
    account: Account | None = None
    subs: dict[str, asyncio.Task[None]] = field(default_factory=dict)


class V3Server:
    """``async with V3Server({"tok": Account(...)}) as server: server.url ...``"""

    def __init__(self, tokens: dict[str, Account], *, interval: float = 0.005) -> None:
        self.tokens = dict(tokens)
        self.interval = interval
        self.frames: list[Frame] = []
        self.app_ids: list[str | None] = []
        self.connections = 0
        self._live: list[_Conn] = []
        self._server: Server | None = None
        self._ids = itertools.count(1)
        self._contracts = itertools.count(1000)

    async def __aenter__(self) -> V3Server:
        self._server = await serve(self._handle, "127.0.0.1", 0, logger=_LOG, compression=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}/websockets/v3"

    def on(self, connection: int) -> list[Frame]:
        return [f for f in self.frames if f.connection == connection]

    def calls(self, name: str) -> list[Frame]:
        return [f for f in self.frames if f.call == name]

    async def drop(self) -> None:
        """Abort every live connection (no close frame: a network drop)."""
        for conn in list(self._live):
            conn.ws.transport.abort()
        await asyncio.sleep(0)

    async def wait_for(self, check: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.005)

    # -- serving -----------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "/").query)
        app_id = (query.get("app_id") or [None])[0]
        self.app_ids.append(app_id)
        if app_id is None or not app_id.isdigit():
            await ws.close(1008, "app_id required")
            return
        self.connections += 1
        conn = _Conn(self.connections, ws)
        self._live.append(conn)
        try:
            async for raw in ws:
                message = json.loads(raw)
                self.frames.append(Frame(conn.number, conn.account and conn.account.loginid, message))
                await self._answer(conn, message)
        except Exception:  # the drop, seen from this side
            pass
        finally:
            self._live.remove(conn)
            for task in conn.subs.values():
                task.cancel()

    async def _send(self, conn: _Conn, message: dict[str, Any]) -> None:
        await conn.ws.send(json.dumps(message))

    async def _answer(self, conn: _Conn, msg: dict[str, Any]) -> None:
        call = next(iter(msg), "?")
        base = {"echo_req": msg, "msg_type": call}
        if "req_id" in msg:
            base["req_id"] = msg["req_id"]

        async def error(code: str, text: str) -> None:
            await self._send(conn, {**base, "error": {"code": code, "message": text}})

        if call == "authorize":
            first, extra = msg.get("authorize"), msg.get("tokens", [])
            accounts = [self.tokens.get(t) for t in [first, *extra]]
            if any(a is None for a in accounts):
                await error("InvalidToken", "The token is invalid.")
                return
            account = accounts[0]
            assert account is not None
            conn.account = account
            listed = [
                {
                    "loginid": a.loginid,
                    "currency": a.currency,
                    "is_virtual": int(a.loginid.startswith("VR")),
                    "account_category": "trading",
                    "is_disabled": 0,
                }
                for a in accounts
                if a is not None
            ]
            body = {
                "loginid": account.loginid,
                "currency": account.currency,
                "scopes": list(account.scopes),
                "account_list": listed,
                "balance": 10000.1,
                "country": 62,  # drift seen on real servers: a number where a string is documented
                "email": "user@example.com",
                "is_virtual": int(account.loginid.startswith("VR")),
            }
            await self._send(conn, {**base, "authorize": body})
            return
        if call == "logout":
            conn.account = None
            await self._send(conn, {**base, "logout": 1})
            return
        if call == "ping":
            await self._send(conn, {**base, "ping": "pong"})
            return
        if call == "forget":
            task = conn.subs.pop(str(msg.get("forget")), None)
            if task is not None:
                task.cancel()
            await self._send(conn, {**base, "forget": 1 if task is not None else 0})
            return
        if call in PRIVATE:
            if conn.account is None:
                await error("AuthorizationRequired", "Please log in.")
                return
            if not set(PRIVATE[call]) & set(conn.account.scopes):
                await error(
                    "PermissionDenied", f"Permission denied, requires {' '.join(PRIVATE[call])} scopes."
                )
                return
        if call == "portfolio":
            await self._send(conn, {**base, "portfolio": {"contracts": []}})
            return
        if call in STREAMS and msg.get("subscribe") == 1:
            sub = f"sub-{next(self._ids)}"
            first_message = self._stream_message(conn, call, msg)
            if call == "buy":
                contract = next(self._contracts)
                first_message = {
                    "buy": {"contract_id": contract, "buy_price": 10, "transaction_id": contract}
                }
                msg = {"proposal_open_contract": 1, "contract_id": contract, "subscribe": 1}
                base = {**base, "msg_type": "buy"}
            await self._send(conn, {**base, **first_message, "subscription": {"id": sub}})
            follow = "proposal_open_contract" if call == "buy" else call
            conn.subs[sub] = asyncio.get_running_loop().create_task(self._emit(conn, follow, msg, base, sub))
            return
        if call in ("ticks", "balance"):  # once, without a subscription
            await self._send(conn, {**base, **self._stream_message(conn, call, msg)})
            return
        await error("UnrecognisedRequest", "Unrecognised request.")

    def _stream_message(self, conn: _Conn, call: str, msg: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        loginid = conn.account.loginid if conn.account else None
        if call == "ticks":
            return {
                "tick": {"symbol": msg.get("ticks"), "quote": 100 + n / 100, "epoch": n},
                "msg_type": "tick",
            }
        if call == "balance":
            return {"balance": {"balance": 100 + n, "currency": "USD", "loginid": loginid}}
        if call == "transaction":
            return {"transaction": {"action": "buy", "amount": -1, "transaction_id": n}}
        return {"proposal_open_contract": {"contract_id": msg.get("contract_id"), "profit": n / 10}}

    async def _emit(
        self, conn: _Conn, call: str, msg: dict[str, Any], base: dict[str, Any], sub: str
    ) -> None:
        base = {**base, "msg_type": call}
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._send(
                    conn, {**base, **self._stream_message(conn, call, msg), "subscription": {"id": sub}}
                )
            except Exception:
                return
