"""Benchmark client (a fresh interpreter): the generated Deribit client vs raw ``websockets``, against
``_ws_server.py jsonrpc``.

argv: tree_dir port quick(0/1). Prints one JSON object with every sample (rates per second) and a
per-message breakdown of the client's own work (microseconds, from ``timeit``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import statistics
import sys
import time
import timeit
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import connect

#: Guard against a hung round (a lost notification would otherwise wait forever).
ROUND_TIMEOUT = 120.0


def _channel(n: int) -> str:
    return f"ticker.BENCH-{n}.raw"  # the server reads the count from the instrument name


def _subscribe(req_id: int, channel: str) -> str:
    params = {"channels": [channel]}
    return orjson.dumps(
        {"jsonrpc": "2.0", "id": req_id, "method": "public/subscribe", "params": params}
    ).decode()


async def raw_stream(url: str, n: int) -> float:
    channel = _channel(n)
    async with connect(url, compression=None) as ws:
        await ws.send(_subscribe(1, channel))
        orjson.loads(await ws.recv())  # the subscribe answer: notifications follow
        started = time.perf_counter()
        got = 0
        async for frame in ws:
            message = orjson.loads(frame)
            got += message["params"]["channel"] == channel  # route it, as a dispatcher would
            if got == n:
                break
        return n / (time.perf_counter() - started)


async def our_stream(client: Any, ticker: Callable[[str, str], Any], n: int) -> float:
    got = 0
    async with client.subscribe(ticker(f"BENCH-{n}", "raw")) as stream:  # returns after the answer
        started = time.perf_counter()
        async for note in stream:  # noqa: B007 - the last one is checked below
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - started
        if stream.dropped:
            raise RuntimeError(f"{stream.dropped} notifications dropped: the numbers would be wrong")
    assert note.data.mark_price is not None
    assert note.data.stats.high is not None
    return n / elapsed


async def raw_sequential(url: str, n: int) -> float:
    async with connect(url, compression=None) as ws:
        started = time.perf_counter()
        for i in range(n):
            await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "public/get_time"}).decode())
            answer = orjson.loads(await ws.recv())
            answer["result"]
        return n / (time.perf_counter() - started)


async def our_sequential(client: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await client.public.get_time()
    return n / (time.perf_counter() - started)


async def raw_in_flight(url: str, n: int, width: int = 100) -> float:
    """100 calls in flight by hand: a reader task resolves a dict of futures by ``id``."""
    async with connect(url, compression=None) as ws:
        loop = asyncio.get_running_loop()
        futures: dict[int, asyncio.Future[Any]] = {}

        async def reader() -> None:
            async for frame in ws:
                message = orjson.loads(frame)
                future = futures.pop(message["id"], None)
                if future is not None:
                    future.set_result(message["result"])

        async def call(req_id: int) -> Any:
            future = futures[req_id] = loop.create_future()
            await ws.send(
                orjson.dumps({"jsonrpc": "2.0", "id": req_id, "method": "public/get_time"}).decode()
            )
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
        await asyncio.gather(*[client.public.get_time() for _ in range(width)])
    return n / (time.perf_counter() - started)


async def _frames(url: str) -> tuple[bytes, bytes]:
    """One real notification frame and one real ``public/get_time`` answer, for the breakdown."""
    async with connect(url, compression=None) as ws:
        await ws.send(_subscribe(1, _channel(1)))
        await ws.recv()
        note = await ws.recv(decode=False)
        await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": 7, "method": "public/get_time"}).decode())
        answer = await ws.recv(decode=False)
    return note, answer


def breakdown(note: bytes, answer: bytes) -> dict[str, float]:
    """Microseconds per message of each step the client takes, outside the event loop."""
    from deriv_runtime.client import build_request
    from deriv_runtime.jsonrpc import JsonRpcProtocol
    from deriv_runtime.rpc import _frame_reader, _validator

    calls = importlib.import_module("deribit_api._calls")
    ticker_model = importlib.import_module("deribit_api.models.channel_ticker").TickerData
    time_params = importlib.import_module("deribit_api.models.public_get_time").GetTimeParams

    protocol = JsonRpcProtocol()
    channel = orjson.loads(note)["params"]["channel"]
    subscribe = {"method": "public/subscribe", "params": {"channels": [channel]}}
    protocol.open_stream("public/subscribe", subscribe)
    info = calls.PUBLIC_GET_TIME
    # the functions the stream and the call read with (looked up once, as they are there)
    read_frame, read_int = _frame_reader(ticker_model), _validator(int)
    reply = orjson.loads(answer)
    answer_id = reply["id"]

    def call_round_trip() -> None:
        payload = {"method": "public/get_time"}
        out = protocol.call("public/get_time", payload)
        frame = answer.replace(b'"id":%d' % answer_id, b'"id":%d' % out.req_id, 1)
        protocol.route_raw(frame)  # not a notification: decoded next
        protocol.receive(frame)

    steps: dict[str, Callable[[], object]] = {
        "orjson_loads_note": lambda: orjson.loads(note),
        "route_raw_note": lambda: protocol.route_raw(note),
        "read_frame_ticker": lambda: read_frame(note),
        "build_request_get_time": lambda: build_request(info, time_params, {}),
        "protocol_call_and_reply": call_round_trip,
        "validate_int_result": lambda: read_int(reply["result"]),
    }
    out: dict[str, float] = {}
    number = 5000
    for name, step in steps.items():
        step()
        out[name] = statistics.median(t / number for t in timeit.repeat(step, number=number, repeat=5)) * 1e6
    return out


async def main() -> None:
    tree, port, quick = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    sys.path.insert(0, tree)
    deribit_api = importlib.import_module("deribit_api")
    ticker = importlib.import_module("deribit_api.channels").ticker

    url = f"ws://127.0.0.1:{port}"
    rounds = 3 if quick else 5
    notes_n = 20000 if quick else 50000
    calls_n = 2000 if quick else 5000
    keys = ("raw_stream", "our_stream", "raw_seq", "our_seq", "raw_100", "our_100")
    out: dict[str, list[float]] = {k: [] for k in keys}
    options: dict[str, Any] = {"compression": None, "ping_interval": None, "stream_buffer": notes_n + 16}
    async with deribit_api.DeribitClient.connect(url, **options) as client:
        runners: dict[str, Callable[[int], Awaitable[float]]] = {
            "raw_stream": lambda k: raw_stream(url, k),
            "our_stream": lambda k: our_stream(client, ticker, k),
            "raw_seq": lambda k: raw_sequential(url, k),
            "our_seq": lambda k: our_sequential(client, k),
            "raw_100": lambda k: raw_in_flight(url, k),
            "our_100": lambda k: our_in_flight(client, k),
        }
        sizes = {"raw_stream": notes_n, "our_stream": notes_n, "raw_seq": calls_n, "our_seq": calls_n}
        for key in keys:  # warm-up, untimed: validators are built, connections opened once
            await runners[key](1000 if "stream" in key else 200)
        for i in range(rounds):  # A B B A: drift in the machine's load hits both alike
            for key in keys if i % 2 == 0 else keys[::-1]:
                async with asyncio.timeout(ROUND_TIMEOUT):
                    out[key].append(await runners[key](sizes.get(key, calls_n * 2)))
    result: dict[str, Any] = dict(out)
    result["breakdown_us"] = breakdown(*await _frames(url))
    result["sizes"] = {"notifications": notes_n, "calls": calls_n, "in_flight": calls_n * 2, "rounds": rounds}
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
