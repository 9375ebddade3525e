"""Benchmark peer for ``pool_memory``: the Options mock server (run as a child process; prints its port).

``python _pool_server.py TREE TICK_INTERVAL``: serves ``deriv_options`` (generated in ``TREE``) on a free
port of 127.0.0.1, its clock ticking every ``TICK_INTERVAL`` seconds (every live proposal is priced
again on each tick); stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys


async def main(tick_interval: float) -> None:
    from deriv_runtime.mock import MockServer

    async with MockServer(
        "deriv_options", host="127.0.0.1", tick_interval=tick_interval, seed=1, check_responses=False
    ) as server:
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    asyncio.run(main(float(sys.argv[2])))
