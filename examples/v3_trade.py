"""The legacy WebSocket API v3: authorize, watch the balance, buy, list the portfolio, sell.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_v3 python examples/v3_trade.py
    PYTHONPATH=generated/deriv_v3 python examples/v3_trade.py --endpoint ws://127.0.0.1:8765/websockets/v3 \
        --token TOKEN

Without ``--endpoint`` (``$DERIV_V3_ENDPOINT``) it starts the v3 mock (``MockLegacy``, reading the
schemas the generated package ships) in this process; with it, it uses a running one (``deriv-mock
--api legacy --package deriv_v3 --token TOKEN``) and the token from ``--token`` or ``$DERIV_TOKEN``.
Against the real API: ``--endpoint ws.derivws.com --app-id YOUR_APP_ID`` and a demo account's token.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from deriv_runtime.auth.legacy import LegacyAuth
from deriv_runtime.legacy import v3_url
from deriv_runtime.mock import MockLegacy
from deriv_v3 import V3Client


async def trade(url: str, token: str) -> None:
    auth = LegacyAuth(token)
    async with V3Client.connect(url, auth=auth) as client:
        print(f"authorized as {auth.loginid}, scopes {', '.join(auth.scopes)}")
        async with client.subscribe_balance() as balances:
            first = (await balances.__anext__()).balance
            if first is None or first.currency is None:
                raise RuntimeError(f"the balance stream sent no balance: {first!r}")
            print(f"balance: {first.balance} {first.currency}")
            proposal = (
                await client.proposal(
                    amount=10,
                    basis="stake",
                    contract_type="CALL",
                    currency=first.currency,
                    duration=5,
                    duration_unit="m",
                    symbol="R_100",
                )
            ).proposal
            if proposal is None or proposal.id is None or proposal.ask_price is None:
                raise RuntimeError(f"no price to buy at: {proposal!r}")
            print(f"proposal {proposal.id}: ask {proposal.ask_price}, payout {proposal.payout}")
            bought = (await client.buy(proposal.id, price=proposal.ask_price)).buy
            if bought is None or bought.contract_id is None:
                raise RuntimeError(f"no contract bought: {bought!r}")
            print(f"bought contract {bought.contract_id} for {bought.buy_price}")
            after = (await balances.__anext__()).balance
            if after is not None:
                print(f"balance: {after.balance} {after.currency}")
        portfolio = (await client.portfolio()).portfolio
        held = [c.contract_id for c in (portfolio.contracts or [])] if portfolio is not None else []
        print(f"portfolio: {len(held)} open contract(s), ours among them: {bought.contract_id in held}")
        sold = (await client.sell(bought.contract_id, price=0)).sell
        if sold is None:
            raise RuntimeError("the sale has no receipt")
        print(f"sold for {sold.sold_for}; balance {sold.balance_after}")


async def main() -> None:
    parser = argparse.ArgumentParser(description="A v3 round trip: authorize, buy, sell.")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("DERIV_V3_ENDPOINT"),
        help="the v3 endpoint (default: $DERIV_V3_ENDPOINT, else a mock started here)",
    )
    parser.add_argument("--app-id", type=int, default=1089, help="your app_id (default: %(default)s)")
    parser.add_argument("--token", default=os.environ.get("DERIV_TOKEN"), help="an API token")
    args = parser.parse_args()
    if args.endpoint:
        if not args.token:
            raise SystemExit("--token (or $DERIV_TOKEN) is needed with --endpoint")
        # v3_url(1089, language="en") is wss://ws.derivws.com/websockets/v3?app_id=1089&l=EN
        await trade(v3_url(args.app_id, language="en", endpoint=args.endpoint), args.token)
        return
    async with MockLegacy(package="deriv_v3", tick_interval=0.05) as mock:
        await trade(v3_url(args.app_id, language="en", endpoint=f"{mock.base_url}/websockets/v3"), mock.token)


if __name__ == "__main__":
    asyncio.run(main())
