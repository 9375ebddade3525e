"""Stream ticks from the mock server with the async client.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/stream_ticks.py [COUNT]

Starts the schema-driven mock server on 127.0.0.1 (no network, no account), connects, prints a few
ticks, and shuts everything down. Point ``url`` at a real endpoint to do the same for real.
"""

from __future__ import annotations

import asyncio
import sys

from deriv_options import OptionsClient
from deriv_runtime.mock import MockServer


async def main(count: int) -> None:
    async with MockServer("deriv_options", tick_interval=0.05) as server:
        async with OptionsClient.connect(server.url) as client:
            print("server time:", (await client.time()).time)
            async with client.subscribe_ticks("R_100") as ticks:
                async for message in ticks:
                    tick = message.tick
                    assert tick is not None
                    print(f"{tick.symbol} {tick.epoch} {tick.quote}")
                    count -= 1
                    if count == 0:
                        break


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
