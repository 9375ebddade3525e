"""From credentials to a closed trade on a demo account, offline against the mock platform.

    python3 dev.py generate
    PYTHONPATH=generated/deriv_options python examples/trade_demo.py [--oauth]

With a personal access token (default) or OAuth 2.0 + PKCE (``--oauth``: a loopback redirect
listener receives the code, as in a CLI app): REST asks for a one-time WebSocket URL, the demo
socket opens with it, then proposal -> buy -> follow the open contract -> sell. Against the real
API, drop the mock and pass your own ``app_id``, token and account id (base_url defaults to
https://api.derivws.com).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
from deriv_options import OptionsRestClient, connect_demo
from deriv_runtime.auth import (
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


async def oauth_credentials(mock: MockDeriv) -> Any:
    async with LoopbackRedirect(timeout=60) as listener:
        config = OAuthConfig(
            client_id=APP_ID,
            redirect_uri=listener.redirect_uri,
            authorization_url=mock.oauth_authorize_url,
            token_url=mock.oauth_token_url,
        )
        request = begin_authorization(config, scopes=["trade"])
        print("open in a browser:", request.url.split("?")[0], "(the mock approves by itself)")
        async with httpx.AsyncClient(follow_redirects=True) as browser:
            await browser.get(request.url)  # stands in for the user's browser
        code = request.complete(await listener.wait(request))
    oauth = OAuthClient(config, MemoryTokenStore())
    return oauth.credentials(await oauth.exchange(code, request))


async def main(use_oauth: bool) -> None:
    async with MockDeriv("deriv_options", pats=[PAT], tick_interval=0.05) as mock:
        credentials = await oauth_credentials(mock) if use_oauth else PersonalAccessToken(PAT)
        async with OptionsRestClient(app_id=APP_ID, credentials=credentials, base_url=mock.rest_url) as api:
            accounts = (await api.list_accounts()).data or []
            demo = next(a for a in accounts if a.account_type == "demo")
            print(f"demo account {demo.account_id}: {demo.balance} {demo.currency}")
        async with connect_demo(
            demo.account_id, credentials=credentials, app_id=APP_ID, base_url=mock.rest_url
        ) as ws:
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
            assert price is not None
            receipt = (await ws.buy(price.id, price=price.ask_price)).buy
            assert receipt is not None
            print(f"bought {receipt.contract_id} for {receipt.buy_price}")
            async with ws.subscribe_proposal_open_contract(contract_id=receipt.contract_id) as updates:
                for _ in range(3):
                    contract = (await updates.__anext__()).proposal_open_contract
                    assert contract is not None
                    print(f"  spot {contract.current_spot} bid {contract.bid_price}")
            sold = (await ws.sell(receipt.contract_id, price=0)).sell
            assert sold is not None
            print(f"sold for {sold.sold_for}; balance {sold.balance_after}")


if __name__ == "__main__":
    asyncio.run(main("--oauth" in sys.argv[1:]))
