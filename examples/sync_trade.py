"""The blocking client in a plain script: no asyncio in sight.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/sync_trade.py [--url WS_URL]

Runs the mock server in a background thread (or connects to ``--url`` / ``$DERIV_WS_URL``, e.g. a
running ``deriv-mock``), asks for a price, buys, follows the contract until it is sold, and prints
the balance before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from deriv_options import OptionsSyncClient
from deriv_runtime.mock import MockServer


def trade(url: str) -> None:
    with OptionsSyncClient.connect(url) as client:
        before = client.balance().balance
        if before is None:
            raise RuntimeError("the balance answer has no balance")
        print(f"balance: {before.balance} {before.currency}")
        price = client.proposal(
            amount=10,
            basis="stake",
            contract_type="CALL",
            currency="USD",
            duration=5,
            duration_unit="t",
            underlying_symbol="R_100",
        ).proposal
        if price is None or price.id is None or price.ask_price is None:
            raise RuntimeError(f"no price to buy at: {price!r}")
        print(f"proposal {price.id}: ask {price.ask_price}, payout {price.payout}")
        receipt = client.buy(price.id, price=price.ask_price).buy
        if receipt is None or receipt.contract_id is None:
            raise RuntimeError(f"no contract bought: {receipt!r}")
        print(f"bought contract {receipt.contract_id} for {receipt.buy_price}")
        with client.subscribe_proposal_open_contract(contract_id=receipt.contract_id) as updates:
            for update in updates:
                contract = update.proposal_open_contract
                if contract is None:
                    continue
                print(f"  spot {contract.current_spot} profit {contract.profit}")
                if contract.is_sold:
                    break
        after = client.balance().balance
        if after is None:
            raise RuntimeError("the balance answer has no balance")
        print(f"balance: {after.balance} {after.currency}")


@contextlib.contextmanager
def server_url(url: str | None) -> Iterator[str]:
    """``url``, or the URL of a mock server running in a background thread until the block ends."""
    if url:
        yield url
        return
    with MockServer("deriv_options", tick_interval=0.02).run_in_thread() as server:
        yield server.url


def main() -> None:
    parser = argparse.ArgumentParser(description="Buy a contract and follow it until it is sold.")
    parser.add_argument(
        "--url",
        default=os.environ.get("DERIV_WS_URL"),
        help="a WebSocket URL to connect to (default: $DERIV_WS_URL, else a mock started here)",
    )
    with server_url(parser.parse_args().url) as url:
        trade(url)


if __name__ == "__main__":
    main()
