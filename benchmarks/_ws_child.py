"""Benchmark client (a fresh interpreter): ours vs raw websockets, against ``_ws_server``.

argv: tree_dir port quick(0/1). Prints one JSON object with every sample.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import timeit
from typing import Any

import orjson
from websockets.asyncio.client import connect


async def raw_ticks(url: str, n: int) -> float:
    async with connect(url, compression=None) as ws:
        await ws.send(
            json.dumps({"ticks": "R_100", "subscribe": 1, "passthrough": {"count": n}, "req_id": 1})
        )
        # The clock starts at the first tick, as ours does (its subscribe returns once the first tick
        # arrived): the server's time to prepare the frames is nobody's receive time.
        first = await ws.recv()
        started = time.perf_counter()
        got = orjson.loads(first)["req_id"]
        async for frame in ws:
            message = orjson.loads(frame)
            got += message["req_id"]  # touch it, as a dispatcher would
            if got == n:
                break
        return n / (time.perf_counter() - started)


async def our_ticks(client: Any, n: int) -> float:
    got = 0
    async with client.subscribe_ticks("R_100", passthrough={"count": n}) as stream:
        started = time.perf_counter()
        async for tick in stream:  # noqa: B007 - the last one is checked below
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - started
    assert tick.tick.quote is not None
    return n / elapsed


async def raw_sequential(url: str, n: int) -> float:
    async with connect(url, compression=None) as ws:
        started = time.perf_counter()
        for i in range(n):
            await ws.send(orjson.dumps({"ping": 1, "req_id": i + 1}).decode())
            orjson.loads(await ws.recv())
        return n / (time.perf_counter() - started)


async def our_sequential(client: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await client.ping()
    return n / (time.perf_counter() - started)


async def raw_in_flight(url: str, n: int, width: int = 100) -> float:
    """100 calls in flight by hand: a reader task resolves a dict of futures by ``req_id``."""
    async with connect(url, compression=None) as ws:
        loop = asyncio.get_running_loop()
        futures: dict[int, asyncio.Future[Any]] = {}

        async def reader() -> None:
            async for frame in ws:
                message = orjson.loads(frame)
                future = futures.pop(message["req_id"], None)
                if future is not None:
                    future.set_result(message)

        async def call(req_id: int) -> Any:
            future = futures[req_id] = loop.create_future()
            await ws.send(orjson.dumps({"ping": 1, "req_id": req_id}).decode())
            return await future

        task = asyncio.create_task(reader())
        try:
            started = time.perf_counter()
            for batch in range(n // width):
                await asyncio.gather(*[call(batch * width + i + 1) for i in range(width)])
            return n / (time.perf_counter() - started)
        finally:
            task.cancel()


async def our_in_flight(client: Any, n: int, width: int = 100) -> float:
    started = time.perf_counter()
    for _ in range(n // width):
        await asyncio.gather(*[client.ping() for _ in range(width)])
    return n / (time.perf_counter() - started)


def request_build() -> dict[str, float]:
    from deriv_options import CALLS
    from deriv_options.models.buy import BuyParameters, BuyRequest
    from deriv_runtime.client import build_request
    from deriv_runtime.protocol import Protocol

    protocol = Protocol()
    info = CALLS["buy"]

    def ours() -> None:
        params = BuyParameters(
            contract_type="CALL",
            currency="USD",
            underlying_symbol="R_100",
            amount=10.5,
            basis="stake",
            duration=5,
            duration_unit="t",
        )
        body = build_request(info, BuyRequest, {"buy": "1", "price": 10.5, "parameters": params})
        protocol.call("buy", body)
        protocol.abandon(protocol.pending.popitem()[0]) if protocol.pending else None

    payload = {
        "buy": "1",
        "price": 10.5,
        "parameters": {
            "contract_type": "CALL",
            "currency": "USD",
            "underlying_symbol": "R_100",
            "amount": 10.5,
            "basis": "stake",
            "duration": 5,
            "duration_unit": "t",
        },
        "req_id": 1,
    }

    def baseline() -> None:
        orjson.dumps(payload).decode()

    plain = {k: v for k, v in payload.items() if k != "req_id"}

    def ours_plain() -> None:
        # the same request with the nested parameters given as a dict (validated just the same)
        protocol.call("buy", build_request(info, BuyRequest, plain))
        protocol.pending.clear()

    ours()  # builds validators (defer_build) before timing
    number = 20000
    ours_s = [t / number for t in timeit.repeat(ours, number=number, repeat=5)]
    plain_s = [t / number for t in timeit.repeat(ours_plain, number=number, repeat=5)]
    base_s = [t / number for t in timeit.repeat(baseline, number=number, repeat=5)]
    return {
        "ours_us": statistics.median(ours_s) * 1e6,
        "plain_us": statistics.median(plain_s) * 1e6,
        "baseline_us": statistics.median(base_s) * 1e6,
    }


async def main() -> None:
    tree, port, quick = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    sys.path.insert(0, tree)
    from deriv_options import OptionsClient

    url = f"ws://127.0.0.1:{port}"
    rounds = 3 if quick else 5
    ticks_n = 20000 if quick else 50000
    calls_n = 2000 if quick else 5000
    out: dict[str, list[float]] = {
        k: [] for k in ("raw_ticks", "our_ticks", "raw_seq", "our_seq", "raw_100", "our_100")
    }
    async with OptionsClient.connect(url, compression=None, ping_interval=None) as client:
        await our_ticks(client, 1000)  # warm-up: builds the tick model
        await our_sequential(client, 200)
        for _ in range(rounds):
            out["raw_ticks"].append(await raw_ticks(url, ticks_n))
            out["our_ticks"].append(await our_ticks(client, ticks_n))
            out["raw_seq"].append(await raw_sequential(url, calls_n))
            out["our_seq"].append(await our_sequential(client, calls_n))
            out["raw_100"].append(await raw_in_flight(url, calls_n * 2))
            out["our_100"].append(await our_in_flight(client, calls_n * 2))
    result: dict[str, Any] = dict(out)
    result["build"] = request_build()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
