"""The blocking client in a plain script: no asyncio in sight.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/sync_trade.py

Runs the mock server in a background thread, asks for a price, buys, follows the contract until it
is sold, and prints the balance before and after.
"""

from __future__ import annotations

from deriv_options import OptionsSyncClient
from deriv_options.models.proposal import ProposalRequest  # noqa: F401  (models are importable too)
from deriv_runtime.mock import MockServer


def main() -> None:
    with MockServer("deriv_options", tick_interval=0.02).run_in_thread() as server:
        with OptionsSyncClient.connect(server.url) as client:
            before = client.balance().balance
            assert before is not None
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
            assert price is not None
            print(f"proposal {price.id}: ask {price.ask_price}, payout {price.payout}")
            receipt = client.buy(price.id, price=price.ask_price).buy
            assert receipt is not None
            print(f"bought contract {receipt.contract_id} for {receipt.buy_price}")
            with client.subscribe_proposal_open_contract(contract_id=receipt.contract_id) as updates:
                for update in updates:
                    contract = update.proposal_open_contract
                    assert contract is not None
                    print(f"  spot {contract.current_spot} profit {contract.profit}")
                    if contract.is_sold:
                        break
            after = client.balance().balance
            assert after is not None
            print(f"balance: {after.balance} {after.currency}")


if __name__ == "__main__":
    main()
