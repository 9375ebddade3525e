"""Stream ticks with the async client: from a mock it starts itself, or from a running one.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/stream_ticks.py [COUNT]
    PYTHONPATH=generated/deriv_options python examples/stream_ticks.py 5 --url ws://127.0.0.1:8765/trading/v1/options/ws/demo?otp=mock-otp

Without ``--url`` (or ``$DERIV_WS_URL``) it starts the schema-driven mock server on 127.0.0.1 in
this process (no network, no account); with one, it connects there (e.g. the ``authenticated:`` URL
``deriv-mock`` prints). It prints the server time and COUNT ticks, then shuts everything down.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from deriv_options import OptionsClient
from deriv_runtime.mock import MockServer


async def stream(url: str, count: int) -> None:
    async with OptionsClient.connect(url) as client:
        print("server time:", (await client.time()).time)
        async with client.subscribe_ticks("R_100") as ticks:
            async for message in ticks:
                tick = message.tick
                if tick is None:  # every field of an answer is optional: check before use
                    continue
                print(f"{tick.symbol} {tick.epoch} {tick.quote}")
                count -= 1
                if count == 0:
                    break


async def main() -> None:
    parser = argparse.ArgumentParser(description="Stream a few ticks of R_100.")
    parser.add_argument("count", nargs="?", type=int, default=5, help="ticks to print (default: 5)")
    parser.add_argument(
        "--url",
        default=os.environ.get("DERIV_WS_URL"),
        help="a WebSocket URL to connect to (default: $DERIV_WS_URL, else a mock started here)",
    )
    args = parser.parse_args()
    if args.url:
        await stream(args.url, args.count)
        return
    async with MockServer("deriv_options", tick_interval=0.05) as server:
        await stream(server.url, args.count)


if __name__ == "__main__":
    asyncio.run(main())
