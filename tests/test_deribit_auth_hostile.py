"""Deribit authentication against a server of the test's own that misbehaves during ``public/auth``:
it never answers, drops the connection, answers garbage, or echoes the credentials it was sent.
Every case ends in a clear error within the connection's deadline, and no secret reaches it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from deriv_runtime.auth.deribit import DeribitAuth
from deriv_runtime.errors import AuthenticationError, ConnectionFailed
from deriv_runtime.rpc import BaseRpcClient
from websockets.asyncio.server import ServerConnection, serve

CANARY = "CANARY-hostile-s3cr3t-42"


@asynccontextmanager
async def hostile(mode: str) -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = orjson.loads(frame)
            if mode == "silent":
                continue
            if mode == "drop":
                await ws.close(1011, "going away mid-auth")
                return
            if mode == "garbage":
                await ws.send("\x00{not json")
                await ws.send(orjson.dumps([1, 2, 3]).decode())
                continue
            echoed = orjson.dumps(request["params"]).decode()
            await ws.send(
                orjson.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": request["id"],
                        "error": {
                            "code": 13004,
                            "message": f"invalid_credentials for {echoed}",
                            "data": {"reason": f"bad secret {CANARY}", "params": request["params"]},
                        },
                    }
                ).decode()
            )

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def _run(scenario: Any) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), 30)

    return asyncio.run(bounded())


@pytest.mark.parametrize("mode", ["silent", "drop", "garbage"])
def test_a_server_that_fails_during_auth_gives_connection_failed_in_time(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = DeribitAuth.client_credentials("hostile", CANARY)

    async def scenario() -> ConnectionFailed:
        async with hostile(mode) as url:
            with pytest.raises(ConnectionFailed, match="could not authenticate") as info:
                async with BaseRpcClient.connect(url, auth=auth, open_timeout=0.5):
                    pass
            return info.value

    error = _run(scenario)
    assert auth.token is None
    assert CANARY not in str(error) and CANARY not in caplog.text


@pytest.mark.parametrize("grant", ["client_credentials", "client_signature"])
def test_echoed_credentials_never_reach_the_error(grant: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = getattr(DeribitAuth, grant)("hostile", CANARY)

    async def scenario() -> AuthenticationError:
        async with hostile("echo") as url:
            with pytest.raises(AuthenticationError) as info:
                async with BaseRpcClient.connect(url, auth=auth):
                    pass
            return info.value

    error = _run(scenario)
    assert error.code == 13004
    shown = [str(error), repr(error), repr(error.data), error.message, caplog.text]
    signature = None
    if grant == "client_signature":  # the signature it sent was echoed too: masked like the secret
        assert "signature" in repr(error.data)
        signature = str(error.data["params"]["signature"])
        assert "CANARY" not in signature and len(signature) < 64
    for text in shown:
        assert CANARY not in text
