"""Benchmark client (a fresh interpreter): the runtime's HTTP transports vs raw ``httpx`` + orjson,
against ``_http_server.py``.

argv: deribit_tree options_tree port quick(0/1). Prints one JSON object with every sample (calls per
second), keyed ``<who>_<what>_<shape>``: ``who`` is ``our`` or ``raw``; ``what`` is ``get`` (Deribit
JSON-RPC over HTTP, the transport's default ``GET``), ``post`` (the same with ``http_method="POST"``,
the JSON-RPC request object as the body) or ``rest`` (Deriv Options REST ``GET /v1/health``);
``shape`` is ``seq`` (sequential calls) or ``100`` (100 calls in flight, ``asyncio.gather``).

The raw side uses an ``httpx.AsyncClient`` made the way the runtime makes its own
(``JsonRpcHttpTransport._client``: ``timeout=30``, no redirects, httpx's default limits: 100
connections, 20 kept alive; ``AsyncRestClient``: ``timeout=30``), kept for the whole run like ours.
Every (what, shape) has its own pair of clients (ours, raw), so both sides' pools have the same
history.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson

#: Guard against a hung round.
ROUND_TIMEOUT = 120.0
WIDTH = 100


def _rate(n: int, started: float) -> float:
    return n / (time.perf_counter() - started)


async def _sequential(call: Callable[[], Awaitable[Any]], n: int, /) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await call()
    return _rate(n, started)


async def _in_flight(call: Callable[[], Awaitable[Any]], n: int, /) -> float:
    started = time.perf_counter()
    for _ in range(n // WIDTH):
        await asyncio.gather(*[call() for _ in range(WIDTH)])
    return _rate(n, started)


class Raw:
    """The hand-written calls: what a user of httpx + orjson would write for the same requests, on
    one ``httpx.AsyncClient`` made like the runtime's (``rest``: like ``AsyncRestClient``'s)."""

    def __init__(self, base: str, rpc_base: str, *, rest: bool = False) -> None:
        if rest:
            self.http = httpx.AsyncClient(timeout=30.0)
        else:
            self.http = httpx.AsyncClient(timeout=30.0, follow_redirects=False)
        self.rpc_url = f"{rpc_base}/public/get_time"
        self.health_url = f"{base}/v1/health"
        self.ids = 0

    async def get(self) -> Any:
        response = await self.http.get(self.rpc_url, headers={"Accept": "application/json"})
        answer = orjson.loads(response.content)
        return answer["result"]

    async def post(self) -> Any:
        self.ids += 1
        req_id = self.ids
        body = orjson.dumps({"jsonrpc": "2.0", "id": req_id, "method": "public/get_time"})
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        response = await self.http.post(self.rpc_url, content=body, headers=headers)
        answer = orjson.loads(response.content)
        if answer["id"] != req_id:
            raise RuntimeError("the answer carries another request's id")
        return answer["result"]

    async def rest(self) -> str:
        response = await self.http.get(self.health_url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return response.text

    async def aclose(self) -> None:
        await self.http.aclose()


async def _pair(
    stack: contextlib.AsyncExitStack, what: str, base: str, rpc_base: str
) -> tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]:
    """A fresh client of ours and a fresh raw client for ``what``; their call (each checked once)."""
    raw = Raw(base, rpc_base, rest=what == "rest")
    stack.push_async_callback(raw.aclose)
    ours: Callable[[], Awaitable[Any]]
    if what == "rest":
        rest = await stack.enter_async_context(_module("deriv_options.rest").OptionsRestClient(base_url=base))
        ours, theirs = rest.get_health, raw.rest
        assert (await ours()).root == "OK"
        assert await theirs() == "OK"
        return ours, theirs
    client_type = _module("deribit_api").DeribitClient
    http_method = "POST" if what == "post" else "GET"
    client = await stack.enter_async_context(client_type.over_http(rpc_base, http_method=http_method))
    ours, theirs = client.public.get_time, raw.post if what == "post" else raw.get
    assert await ours() == 1700000000000
    assert await theirs() == 1700000000000
    return ours, theirs


def _module(name: str) -> Any:
    return importlib.import_module(name)


async def main() -> None:
    deribit_tree, options_tree, port, quick = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    sys.path[:0] = [deribit_tree, options_tree]

    base = f"http://127.0.0.1:{port}"
    rpc_base = f"{base}/api/v2"
    rounds = 5 if quick else 9
    calls_n = 250 if quick else 800
    flight_n = 400 if quick else 1500

    async with contextlib.AsyncExitStack() as stack:
        # A fresh pair of clients for each (what, shape): a sequential loop on a pool that ran
        # 100 in flight walks up to 20 idle connections per request (httpcore checks each one), so
        # ours and raw must share the same history, and sequential loops never run in flight.
        runners: dict[str, Callable[[int], Awaitable[float]]] = {}
        sizes: dict[str, int] = {}
        for what in ("get", "post", "rest"):  # each pair next to each other: ours, raw
            for shape, measure, size in (("seq", _sequential, calls_n), ("100", _in_flight, flight_n)):
                pair = await _pair(stack, what, base, rpc_base)
                for who, call in zip(("our", "raw"), pair, strict=True):
                    runners[f"{who}_{what}_{shape}"] = functools.partial(measure, call)
                    sizes[f"{who}_{what}_{shape}"] = size
        keys = list(runners)
        out: dict[str, list[float]] = {k: [] for k in keys}
        for key in keys:  # warm-up, untimed: validators built, connections opened
            await runners[key](200)
        for i in range(rounds):  # A B B A: drift in the machine's load hits both alike
            for key in keys if i % 2 == 0 else keys[::-1]:
                async with asyncio.timeout(ROUND_TIMEOUT):
                    out[key].append(await runners[key](sizes[key]))
    result: dict[str, Any] = dict(out)
    result["sizes"] = {"calls": calls_n, "in_flight": flight_n, "rounds": rounds}
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
