"""From credentials to a closed trade on a demo account, offline against the mock platform.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/trade_demo.py [--oauth]
    PYTHONPATH=generated/deriv_options python examples/trade_demo.py --rest-url http://127.0.0.1:8766 \
        --pat TOKEN

With a personal access token (default) or OAuth 2.0 + PKCE (``--oauth``: a loopback redirect
listener receives the code, as in a CLI app): REST asks for a one-time WebSocket URL, the demo
socket opens with it, then proposal -> buy -> follow the open contract -> sell.

Without ``--rest-url`` (``$DERIV_REST_URL``) it starts the mock platform (REST, OAuth, WebSocket) in
this process; with it, it uses a running one (``deriv-mock --pat TOKEN`` prints its ``REST API:``
URL; pass the same ``--pat``, or ``$DERIV_PAT``). Against the real API, pass your own ``--app-id``,
token and ``--rest-url https://api.derivws.com``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import httpx
from deriv_options import OptionsRestClient, connect_demo
from deriv_runtime.auth import (
    Credentials,
    LoopbackRedirect,
    MemoryTokenStore,
    OAuthClient,
    OAuthConfig,
    PersonalAccessToken,
    begin_authorization,
)
from deriv_runtime.mock import MockDeriv

APP_ID = "10000"  # the mock's registered app; yours comes from Deriv's dashboard
PAT = "example-personal-access-token"


async def oauth_credentials(rest_url: str, app_id: str) -> Credentials:
    async with LoopbackRedirect(timeout=60) as listener:
        config = OAuthConfig(
            client_id=app_id,
            redirect_uri=listener.redirect_uri,
            authorization_url=f"{rest_url}/oauth2/authorize",
            token_url=f"{rest_url}/oauth2/token",
        )
        request = begin_authorization(config, scopes=["trade"])
        print("open in a browser:", request.url.split("?")[0], "(the mock approves by itself)")
        async with httpx.AsyncClient(follow_redirects=True) as browser:
            await browser.get(request.url)  # stands in for the user's browser
        code = request.complete(await listener.wait(request))
    oauth = OAuthClient(config, MemoryTokenStore())
    return oauth.credentials(await oauth.exchange(code, request))


async def trade(rest_url: str, app_id: str, credentials: Credentials) -> None:
    async with OptionsRestClient(app_id=app_id, credentials=credentials, base_url=rest_url) as api:
        accounts = (await api.list_accounts()).data or []
        demo = next((a for a in accounts if a.account_type == "demo" and a.account_id), None)
        if demo is None or demo.account_id is None:
            raise RuntimeError("no demo account")
        print(f"demo account {demo.account_id}: {demo.balance} {demo.currency}")
    async with connect_demo(demo.account_id, credentials=credentials, app_id=app_id, base_url=rest_url) as ws:
        price = (
            await ws.proposal(
                amount=10,
                basis="stake",
                contract_type="CALL",
                currency="USD",
                duration=5,
                duration_unit="m",
                underlying_symbol="R_100",
            )
        ).proposal
        if price is None or price.id is None or price.ask_price is None:
            raise RuntimeError(f"no price to buy at: {price!r}")
        receipt = (await ws.buy(price.id, price=price.ask_price)).buy
        if receipt is None or receipt.contract_id is None:
            raise RuntimeError(f"no contract bought: {receipt!r}")
        print(f"bought {receipt.contract_id} for {receipt.buy_price}")
        async with ws.subscribe_proposal_open_contract(contract_id=receipt.contract_id) as updates:
            seen = 0
            async for update in updates:
                contract = update.proposal_open_contract
                if contract is None:
                    continue
                print(f"  spot {contract.current_spot} bid {contract.bid_price}")
                seen += 1
                if seen == 3:
                    break
        sold = (await ws.sell(receipt.contract_id, price=0)).sell
        if sold is None:
            raise RuntimeError("the sale has no receipt")
        print(f"sold for {sold.sold_for}; balance {sold.balance_after}")


@contextlib.asynccontextmanager
async def platform(rest_url: str | None, pat: str) -> AsyncIterator[str]:
    """``rest_url``, or the REST URL of a mock platform running until the block ends."""
    if rest_url:
        yield rest_url.rstrip("/")
        return
    async with MockDeriv("deriv_options", pats=[pat], tick_interval=0.05) as mock:
        yield mock.rest_url


async def main() -> None:
    parser = argparse.ArgumentParser(description="Sign in, buy on the demo account, sell.")
    parser.add_argument("--oauth", action="store_true", help="OAuth 2.0 + PKCE instead of a PAT")
    parser.add_argument(
        "--rest-url",
        default=os.environ.get("DERIV_REST_URL"),
        help="the REST API (default: $DERIV_REST_URL, else a mock started here)",
    )
    parser.add_argument("--pat", default=os.environ.get("DERIV_PAT", PAT), help="personal access token")
    parser.add_argument("--app-id", default=APP_ID, help="your app id (default: the mock's, %(default)s)")
    args = parser.parse_args()
    async with platform(args.rest_url, args.pat) as rest_url:
        if args.oauth:
            credentials = await oauth_credentials(rest_url, args.app_id)
        else:
            credentials = PersonalAccessToken(args.pat)
        await trade(rest_url, args.app_id, credentials)


if __name__ == "__main__":
    asyncio.run(main())
