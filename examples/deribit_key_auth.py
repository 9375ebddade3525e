"""Authenticate to Deribit with your own Ed25519 key, offline against the mock.

    python3 dev.py generate
    PYTHONPATH=generated/deribit_api python examples/deribit_key_auth.py [COUNT]

1. generates an Ed25519 key pair (the private key written with mode 0600, in a temporary directory
   here; ``deribit-keygen --out private.pem`` does the same from the command line);
2. registers the public key with ``private/create_api_key`` (on Deribit: once, from a session
   authenticated with an existing key, or in the account's API settings);
3. authenticates with a ``client_signature`` signed by the private key (nothing secret travels);
4. reads the account summary and streams a private channel (``user.portfolio.BTC``).

Against the real exchange: drop the mock, load your key with ``SigningKey.load("private.pem",
password=...)``, and connect to ``wss://test.deribit.com/ws/api/v2``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from deribit_api import DeribitClient
from deribit_api.channels import user_portfolio
from deriv_runtime.auth.deribit import DeribitAuth
from deriv_runtime.auth.keys import SigningKey
from deriv_runtime.mock.deribit import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MockDeribit


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        key_file = Path(home) / "private.pem"
        SigningKey.generate("ed25519").save(key_file)
        key = SigningKey.load(key_file)
        print(f"key: {key!r}, file mode {key_file.stat().st_mode & 0o777:o}")

        async with MockDeribit(package="deribit_api", tick_interval=0.05) as mock:
            # the mock's built-in API key stands for the key you already have on your account
            admin = DeribitAuth.client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
            async with DeribitClient.connect(mock.ws_url, auth=admin) as client:
                created = await client.private.create_api_key(
                    max_scope="account:read trade:read_write", name="ed25519key", public_key=key.public_pem()
                )
            client_id = created.client_id
            print(f"registered the public key as client {client_id}")

            auth = DeribitAuth.key_signature(client_id, key, scope=["account:read", "trade:read"])
            async with DeribitClient.connect(mock.ws_url, auth=auth) as client:
                print(f"authenticated: {auth.token!r}")
                summary = await client.private.get_account_summary(currency="BTC")
                print(f"account summary: currency {summary.currency}, equity {summary.equity}")
                async with client.subscribe(user_portfolio("BTC")) as portfolio:
                    async for note in portfolio:
                        print(f"{note.channel}: equity {note.data.equity}")
                        count -= 1
                        if count == 0:
                            break


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
