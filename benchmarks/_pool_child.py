"""Benchmark client for ``pool_memory``: many proposal streams over a :class:`PooledTransport`, the
process's RSS sampled while they run (prints a JSON result).

``python _pool_child.py TREE PORT STREAMS CONNECTIONS SECONDS WARMUP``: opens ``STREAMS`` proposal
streams (distinct amounts) over ``CONNECTIONS`` connections to the mock on ``PORT``, a consumer task
reading each one as a user would (typed messages), and samples the resident set size every second
for ``SECONDS`` seconds; the first ``WARMUP`` seconds are the warm-up.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from typing import Any

CONTRACT: dict[str, Any] = {
    "basis": "stake",
    "contract_type": "CALL",
    "currency": "USD",
    "duration": 5,
    "duration_unit": "t",
    "underlying_symbol": "R_100",
}


def rss() -> int:
    """The resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def main(port: str, streams: int, connections: int, seconds: float, warmup: float) -> dict[str, Any]:
    from deriv_options import OptionsClient
    from deriv_runtime.pool import PooledTransport

    before = rss()
    pool = PooledTransport(
        f"ws://127.0.0.1:{port}/",
        connections=connections,
        max_streams_per_connection=-(-streams // connections),
        open_timeout=60.0,
    )
    received = 0
    async with OptionsClient(pool, timeout=120.0) as client:
        opened = [client.subscribe_proposal(**CONTRACT, amount=1 + i) for i in range(streams)]
        started = time.perf_counter()
        for start in range(0, streams, 500):
            await asyncio.gather(*(s.__aenter__() for s in opened[start : start + 500]))
        open_s = time.perf_counter() - started

        async def consume(stream: Any) -> None:
            nonlocal received
            async for _ in stream:
                received += 1

        consumers = [asyncio.create_task(consume(s)) for s in opened]
        samples: list[tuple[float, int]] = []
        t0 = time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            samples.append((round(elapsed, 2), rss()))
            await asyncio.sleep(1.0)
        samples.append((round(time.perf_counter() - t0, 2), rss()))
        gc.collect()
        collected = rss()
        messages, load = received, pool.load()
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        await asyncio.gather(*(s.__aexit__(None, None, None) for s in opened))
        result = {
            "streams": streams,
            "connections": connections,
            "load": load,
            "open_s": open_s,
            "seconds": seconds,
            "warmup": warmup,
            "rss_before": before,
            "rss_after_gc": collected,
            "samples": samples,
            "messages": messages,
            "gaps": sum(s.gaps for s in opened),
            "dropped": sum(s.dropped for s in opened),
        }
    return result


if __name__ == "__main__":
    tree, port, n, conns, secs, warm = sys.argv[1:7]
    sys.path.insert(0, tree)
    out = asyncio.run(main(port, int(n), int(conns), float(secs), float(warm)))
    print(json.dumps(out))
