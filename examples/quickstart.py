"""Quick start: ping, buy and stream ticks with the generated async client.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/quickstart.py [WS_URL]

Connects to WS_URL (or ``$DERIV_WS_URL``), e.g. the ``authenticated:`` URL a running ``deriv-mock``
prints; without one, it starts the mock server in this process. Ends after five ticks.
"""

from __future__ import annotations

import asyncio
import os
import sys

from deriv_options import OptionsClient
from deriv_options.models.buy import BuyParameters
from deriv_runtime.mock import MockServer


async def main(url: str) -> None:
    async with OptionsClient.connect(url) as client:  # or a callable returning a fresh URL
        print("ping:", (await client.ping()).ping)
        receipt = await client.buy(
            "1",
            price=10.5,
            parameters=BuyParameters(
                contract_type="CALL",
                currency="USD",
                underlying_symbol="R_100",
                amount=10,
                basis="stake",
                duration=5,
                duration_unit="t",
            ),
        )
        if receipt.buy is not None:  # every field of an answer may be missing: check first
            print(f"bought contract {receipt.buy.contract_id} for {receipt.buy.buy_price}")
        async with client.subscribe_ticks("R_100") as ticks:
            count = 0
            async for message in ticks:
                if message.tick is None:
                    continue
                print(f"{message.tick.symbol} {message.tick.epoch} {message.tick.quote}")
                count += 1
                if count == 5:
                    break


async def on_a_local_mock() -> None:
    async with MockServer("deriv_options", tick_interval=0.05) as server:
        await main(server.url)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DERIV_WS_URL")
    asyncio.run(main(url) if url else on_a_local_mock())
