"""Benchmark client for ``many_subscriptions`` (a fresh interpreter): many tick streams at once, the
process's CPU time over a steady window, ours vs raw hand routing, against ``_subs_server``.

``python _subs_child.py TREE PORT STREAMS RATE WINDOW WARMUP ROUNDS``: every round runs two phases,
each on a fresh connection (their order alternates from round to round): ``raw`` (``websockets`` +
orjson, one reader routing each frame by ``req_id`` to a dict of ``asyncio.Queue``, a consumer task
per subscription) and ``ours`` (``OptionsClient.subscribe_ticks`` streams, a consumer task per stream
iterating it). Each phase opens ``STREAMS`` subscriptions, waits until all answered, lets them run
``WARMUP`` seconds, then counts the messages its consumers get and the CPU time of the process
(``time.process_time``) over ``WINDOW`` seconds. Prints one JSON object with every sample.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import connect


class Counter:
    """Messages the consumers got; the window's start and end are read from outside."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


async def _window(counter: Counter, warmup: float, window: float) -> dict[str, float]:
    """CPU seconds and messages of this process over ``window`` seconds, after ``warmup``."""
    await asyncio.sleep(warmup)
    n0, cpu0, t0 = counter.n, time.process_time(), time.perf_counter()
    await asyncio.sleep(window)
    n1, cpu1, t1 = counter.n, time.process_time(), time.perf_counter()
    return {"cpu_s": cpu1 - cpu0, "messages": n1 - n0, "wall_s": t1 - t0}


async def raw_phase(url: str, symbols: list[str], warmup: float, window: float) -> dict[str, Any]:
    """What a user would write by hand: one reader routing by ``req_id`` to per-subscription queues."""
    counter = Counter()
    async with connect(url, compression=None) as ws:
        queues: dict[int, asyncio.Queue[Any]] = {i + 1: asyncio.Queue() for i in range(len(symbols))}
        opened = asyncio.Event()
        pending = set(queues)

        async def reader() -> None:
            async for frame in ws:
                message = orjson.loads(frame)
                queue = queues.get(message.get("req_id"))
                if queue is not None:
                    queue.put_nowait(message)

        async def consume(req_id: int) -> None:
            queue = queues[req_id]
            first = await queue.get()  # the subscription's answer
            assert "subscription" in first
            pending.discard(req_id)
            if not pending:
                opened.set()
            while True:
                message = await queue.get()
                message["tick"]["quote"]
                counter.n += 1

        tasks = [asyncio.create_task(consume(req_id)) for req_id in queues]
        read = asyncio.create_task(reader())
        started = time.perf_counter()
        for req_id, symbol in zip(queues, symbols, strict=True):
            await ws.send(orjson.dumps({"ticks": symbol, "subscribe": 1, "req_id": req_id}).decode())
        await opened.wait()
        open_s = time.perf_counter() - started
        result = await _window(counter, warmup, window)
        for task in [*tasks, read]:
            task.cancel()
        await asyncio.gather(*tasks, read, return_exceptions=True)
    return {**result, "open_s": open_s, "dropped": 0}


async def our_phase(url: str, symbols: list[str], warmup: float, window: float) -> dict[str, Any]:
    """The generated client: a task per stream, each ``async with`` its stream and ``async for`` in it."""
    from deriv_options import OptionsClient

    counter = Counter()
    async with OptionsClient.connect(url, compression=None, ping_interval=None) as client:
        opened = asyncio.Event()
        pending = set(symbols)
        streams: list[Any] = []

        async def consume(symbol: str) -> None:
            async with client.subscribe_ticks(symbol) as stream:
                streams.append(stream)
                pending.discard(symbol)
                if not pending:
                    opened.set()
                async for tick in stream:
                    tick.tick.quote  # noqa: B018 - touch it, as a user would
                    counter.n += 1

        started = time.perf_counter()
        tasks = [asyncio.create_task(consume(symbol)) for symbol in symbols]
        done = asyncio.create_task(opened.wait())
        await asyncio.wait([done, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if not opened.is_set():  # a stream failed to open: say why
            for task in tasks:
                if task.done():
                    task.result()
        open_s = time.perf_counter() - started
        result = await _window(counter, warmup, window)
        dropped = sum(s.dropped for s in streams)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Every stream's first tick answered its subscribe: it is not counted (neither is raw's).
    return {**result, "open_s": open_s, "dropped": dropped}


async def main(
    url: str, streams: int, rate: float, window: float, warmup: float, rounds: int
) -> dict[str, Any]:
    symbols = [f"R_{i}" for i in range(streams)]
    phases: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "raw": lambda: raw_phase(url, symbols, warmup, window),
        "ours": lambda: our_phase(url, symbols, warmup, window),
    }
    out: dict[str, list[dict[str, Any]]] = {"raw": [], "ours": []}
    names = list(phases)
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            out[name].append(await phases[name]())
    return {
        "streams": streams,
        "rate": rate,
        "window_s": window,
        "warmup_s": warmup,
        "expected": streams * rate * window,
        **out,
    }


if __name__ == "__main__":
    tree, port, n, per_s, secs, warm, reps = sys.argv[1:8]
    sys.path.insert(0, tree)
    result = asyncio.run(
        main(f"ws://127.0.0.1:{port}", int(n), float(per_s), float(secs), float(warm), int(reps))
    )
    print(json.dumps(result))
