"""Authenticate to Deribit with your own Ed25519 key, offline against the mock.

    python3 dev.py generate
    PYTHONPATH=generated/deribit_api python examples/deribit_key_auth.py [COUNT] [--url WS_URL]

1. generates an Ed25519 key pair (the private key written with mode 0600, in a temporary directory
   here; ``deribit-keygen --out private.pem`` does the same from the command line);
2. registers the public key with ``private/create_api_key`` (on Deribit: once, from a session
   authenticated with an existing key, or in the account's API settings);
3. authenticates with a ``client_signature`` signed by the private key (nothing secret travels);
4. reads the account summary and streams a private channel (``user.portfolio.BTC``).

Without ``--url`` (``$DERIBIT_WS_URL``) it starts the Deribit mock in this process; with it, it uses
a running ``deriv-mock --api deribit`` (the mock's built-in API key registers the new one). Against
the real exchange: load your key with ``SigningKey.load("private.pem", password=...)``, register it
once, and connect to ``wss://test.deribit.com/ws/api/v2``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from deribit_api import DeribitClient
from deribit_api.channels import user_portfolio
from deriv_runtime.auth.deribit import DeribitAuth
from deriv_runtime.auth.keys import SigningKey
from deriv_runtime.mock.deribit import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MockDeribit


async def register(url: str, key: SigningKey) -> str:
    """Register the public key; the result is its client_id."""
    # the mock's built-in API key stands for the key you already have on your account
    admin = DeribitAuth.client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    async with DeribitClient.connect(url, auth=admin) as client:
        created = await client.private.create_api_key(
            max_scope="account:read trade:read_write", name="ed25519key", public_key=key.public_pem()
        )
    if created.client_id is None:
        raise RuntimeError("private/create_api_key answered without a client_id")
    return created.client_id


async def stream_portfolio(url: str, client_id: str, key: SigningKey, count: int) -> None:
    auth = DeribitAuth.key_signature(client_id, key, scope=["account:read", "trade:read"])
    async with DeribitClient.connect(url, auth=auth) as client:
        print(f"authenticated: {auth.token!r}")
        summary = await client.private.get_account_summary(currency="BTC")
        print(f"account summary: currency {summary.currency}, equity {summary.equity}")
        async with client.subscribe(user_portfolio("BTC")) as portfolio:
            async for note in portfolio:
                print(f"{note.channel}: equity {note.data.equity}")
                count -= 1
                if count == 0:
                    break


async def run(url: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        key_file = Path(home) / "private.pem"
        SigningKey.generate("ed25519").save(key_file)
        key = SigningKey.load(key_file)  # password=... for an encrypted key
        print(f"key: {key!r}, file mode {key_file.stat().st_mode & 0o777:o}")
        client_id = await register(url, key)
        print(f"registered the public key as client {client_id}")
        await stream_portfolio(url, client_id, key, count)


async def main() -> None:
    parser = argparse.ArgumentParser(description="Sign in to Deribit with your own Ed25519 key.")
    parser.add_argument("count", nargs="?", type=int, default=3, help="portfolio messages (default: 3)")
    parser.add_argument(
        "--url",
        default=os.environ.get("DERIBIT_WS_URL"),
        help="a Deribit mock's WebSocket URL (default: $DERIBIT_WS_URL, else a mock started here)",
    )
    args = parser.parse_args()
    if args.url:
        await run(args.url, args.count)
        return
    async with MockDeribit(package="deribit_api", tick_interval=0.05) as mock:
        await run(mock.ws_url, args.count)


if __name__ == "__main__":
    asyncio.run(main())
