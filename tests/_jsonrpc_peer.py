"""A JSON-RPC 2.0 peer on 127.0.0.1 for tests: scripted methods, channels, heartbeats, drops.

    peer = JsonRpcPeer({"public/get_time": lambda params: 1700000000000})
    async with peer.serving() as url:
        ...
        await peer.notify(["ticker.BTC-PERPETUAL.100ms"], data=lambda channel, n: {...})

A method returns its ``result``, or raises :class:`RpcFailure` to answer with an ``error`` object.
Calls whose params carry ``"batch": N`` are held until N of them arrived, then answered in random
order. Every request is recorded in ``requests``; subscribe requests also in ``subscribes``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Method = Callable[[dict[str, Any]], Any]


class RpcFailure(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            self.error["data"] = data


def _send(ws: ServerConnection, message: Mapping[str, Any]) -> Any:
    return ws.send(orjson.dumps({"jsonrpc": "2.0", **message}).decode())


class JsonRpcPeer:
    def __init__(self, methods: Mapping[str, Method] | None = None, *, meta: bool = True) -> None:
        self.methods = dict(methods or {})
        self.meta = meta
        self.connections: list[ServerConnection] = []
        self.requests: list[dict[str, Any]] = []
        self.subscribes: list[list[str]] = []
        self.tests_answered = 0
        self.seq = 0

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request["method"], request.get("params") or {}
        if method in ("public/subscribe", "private/subscribe"):
            self.subscribes.append(list(params["channels"]))
            return {"id": request["id"], "result": params["channels"]}
        if method in ("public/unsubscribe", "private/unsubscribe"):
            return {"id": request["id"], "result": params["channels"]}
        if method == "public/test":
            self.tests_answered += 1
            return {"id": request["id"], "result": {"version": "test"}}
        handler = self.methods.get(method)
        if handler is None:
            return {"id": request["id"], "error": {"code": -32601, "message": "Method not found"}}
        try:
            answer: dict[str, Any] = {"id": request["id"], "result": handler(params)}
        except RpcFailure as failure:
            return {"id": request["id"], "error": failure.error}
        if self.meta:
            answer.update(usIn=1_000, usOut=1_250, usDiff=250, testnet=True)
        return answer

    async def handler(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        try:
            await self._serve(ws)
        except ConnectionClosed:
            pass  # the test dropped it, or the client left

    async def _serve(self, ws: ServerConnection) -> None:
        held: list[dict[str, Any]] = []
        async for frame in ws:
            request = orjson.loads(frame)
            self.requests.append(request)
            batch = (request.get("params") or {}).get("batch")
            if isinstance(batch, int):
                held.append(request)
                if len(held) >= batch:
                    random.shuffle(held)
                    for r in held:
                        await _send(ws, self._answer(r))
                    held.clear()
                continue
            await _send(ws, self._answer(request))

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        async with serve(self.handler, "127.0.0.1", 0, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}"

    async def notify(
        self, channels: list[str], rounds: int = 1, data: Callable[[str, int], Any] | None = None
    ) -> None:
        ws = self.connections[-1]
        for _ in range(rounds):
            for channel in channels:
                self.seq += 1
                body = data(channel, self.seq) if data is not None else self.seq
                await _send(ws, {"method": "subscription", "params": {"channel": channel, "data": body}})

    async def heartbeat(self) -> None:
        await _send(self.connections[-1], {"method": "heartbeat", "params": {"type": "test_request"}})
