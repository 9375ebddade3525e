"""Deribit's public API: server time, instruments, and a ticker channel.

    python3 dev.py generate
    PYTHONPATH=generated/deribit_api python examples/deribit_ticker.py [WS_URL]

Connects to WS_URL (or ``$DERIBIT_WS_URL``: ``deribit_api.TESTNET_WS_URL`` for the real testnet, or
the ``WebSocket:`` URL of a running ``deriv-mock --api deribit``); without one, it starts the
Deribit mock in this process. Ends after five channel messages.

One ``subscribe`` takes several channels; with channels of different data types (``ticker`` and
``trades``) mypy cannot type the stream, so this example subscribes to one kind.
"""

from __future__ import annotations

import asyncio
import os
import sys

from deribit_api import DeribitClient
from deribit_api.channels import ticker
from deriv_runtime.mock import MockDeribit


async def main(url: str) -> None:
    async with DeribitClient.connect(url) as client:  # default: production (WS_URL)
        now = await client.public.get_time()  # int
        instruments = await client.public.get_instruments(currency="BTC")  # list[GetInstrumentsResultItem]
        print(f"server time {now}, {len(instruments)} BTC instruments")
        async with client.subscribe(ticker("BTC-PERPETUAL", "100ms")) as stream:
            count = 0
            async for note in stream:  # Notification(channel, data: TickerData)
                print(note.channel, note.data.best_bid_price, note.data.best_ask_price)
                count += 1
                if count == 5:
                    break


async def on_a_local_mock() -> None:
    async with MockDeribit(package="deribit_api", tick_interval=0.05) as mock:
        await main(mock.ws_url)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DERIBIT_WS_URL")
    asyncio.run(main(url) if url else on_a_local_mock())
