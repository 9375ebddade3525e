"""How the Deribit mock authenticates, over real sockets: raw ``websockets`` and ``httpx`` clients,
every signature computed here with ``hmac``/``hashlib``/``cryptography`` (never the runtime's
signing code, which the mock exists to check).

Covered: ``client_signature`` (the seed's AMANDA example, wrong signatures, timestamps beyond 60 s
either way, reused nonces), Ed25519 and RSA keys registered through ``private/create_api_key``,
``client_credentials`` refused for them, the ``deri-hmac-sha256`` header (GET with a query, POST
with a body, one byte changed), ``Basic``, scopes on methods and channels, token expiry, refresh
rotation, connection vs session refresh, ``fork_token``, ``exchange_token``, ``private/logout``,
an injected 13668, and secrets kept out of records and logs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from deriv_runtime.errors import PermissionDenied, SecondFactorRequired
from deriv_runtime.mock.deribit import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MockDeribit
from deriv_runtime.rpc import BaseRpcClient

from .test_mock_deribit import SPEC

pytestmark = pytest.mark.skipif(not SPEC.is_file(), reason="the Deribit OpenAPI document is not mirrored")

#: The seed's worked example of a client_signature grant.
AMANDA = {"client_id": "AMANDA", "secret": "AMANDASECRECT", "timestamp": 1576074319000, "nonce": "1iqt2wls"}
AMANDA_SIGNATURE = "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1"
START = 1_700_000_000.0
CLIENT, SECRET = "hmac-client", "hmac-client-secret-value"
POSITIONS = {"currency": "BTC"}

PrivateKey = Ed25519PrivateKey | rsa.RSAPrivateKey
Signer = str | PrivateKey  # an HMAC secret, or a private key


class Clock:
    """The mock's clock, moved by hand (epoch seconds)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def ms(self, offset: float = 0.0) -> int:
        return int((self.now + offset) * 1000)


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 60.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


# -- signing, done here independently ------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign(signer: Signer, payload: bytes) -> str:
    """HMAC-SHA256 lower-case hex with a secret; Ed25519, or RSA PKCS#1 v1.5 SHA-256, in base64url."""
    if isinstance(signer, str):
        return hmac.new(signer.encode(), payload, hashlib.sha256).hexdigest()
    if isinstance(signer, rsa.RSAPrivateKey):
        return b64url(signer.sign(payload, padding.PKCS1v15(), hashes.SHA256()))
    return b64url(signer.sign(payload))


def signed_grant(client_id: str, signer: Signer, stamp: int, nonce: str, data: str = "") -> dict[str, Any]:
    payload = f"{stamp}\n{nonce}\n{data}".encode()
    return {
        "grant_type": "client_signature",
        "client_id": client_id,
        "timestamp": stamp,
        "nonce": nonce,
        "data": data,
        "signature": sign(signer, payload),
    }


def signed_header(
    client_id: str, signer: Signer, method: str, uri: str, body: bytes, stamp: int, nonce: str
) -> str:
    payload = f"{stamp}\n{nonce}\n{method}\n{uri}\n".encode() + body + b"\n"
    return f"deri-hmac-sha256 id={client_id},ts={stamp},sig={sign(signer, payload)},nonce={nonce}"


def public_pem(key: PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def ed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- raw clients --------------------------------------------------------------------------------------


class Rpc:
    """JSON-RPC over one raw WebSocket connection."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def send(self, method: str, params: dict[str, Any]) -> int:
        rid = next(self._ids)
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        return rid

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole answer."""
        rid = await self.send(method, params or {})
        while True:
            answer: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if answer.get("id") == rid:
                return answer

    async def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        answer = await self.call(method, params)
        assert "result" in answer, answer
        return answer["result"]

    async def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.call(method, params)
        assert "error" in answer, answer
        error: dict[str, Any] = answer["error"]
        return error


@asynccontextmanager
async def connected(mock: MockDeribit) -> Any:
    async with websockets.connect(mock.ws_url) as ws:
        yield Rpc(ws)


def new_mock(clock: Clock, **options: Any) -> MockDeribit:
    mock = MockDeribit(SPEC, tick_interval=None, clock=clock, **options)
    mock.register_client(CLIENT, SECRET)
    return mock


async def http_error(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 400, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


# -- client_signature ------------------------------------------------------------------------------


def test_the_seed_example_authenticates_and_its_nonce_is_then_spent() -> None:
    assert sign(AMANDA["secret"], b"1576074319000\n1iqt2wls\n") == AMANDA_SIGNATURE  # "" data, no "\n"
    clock = Clock(AMANDA["timestamp"] / 1000 + 5)
    mock = new_mock(clock)
    mock.register_client(AMANDA["client_id"], AMANDA["secret"])
    params = {
        "grant_type": "client_signature",
        "client_id": "AMANDA",
        "timestamp": 1576074319000,
        "nonce": "1iqt2wls",
        "data": "",
        "signature": AMANDA_SIGNATURE,
    }

    async def scenario() -> None:
        async with mock, connected(mock) as rpc:
            token = await rpc.result("public/auth", params)
            assert token["token_type"] == "bearer" and token["scope"].startswith("connection mainaccount")
            await rpc.result("private/get_positions", {**POSITIONS, "access_token": token["access_token"]})
            replay = await rpc.error("public/auth", params)
            assert replay["code"] == 13004 and "nonce" in replay["data"]["reason"]

    run(scenario)


def test_client_signature_refuses_wrong_signatures_stale_or_future_timestamps_and_reused_nonces() -> None:
    clock = Clock()
    mock = new_mock(clock)

    async def refused(rpc: Rpc, params: dict[str, Any], reason: str) -> None:
        error = await rpc.error("public/auth", params)
        assert error["code"] == 13004 and error["message"] == "invalid_credentials", error
        assert reason in error["data"]["reason"]

    async def scenario() -> None:
        async with mock, connected(mock) as rpc:
            await rpc.result("public/auth", signed_grant(CLIENT, SECRET, clock.ms(), "n1", "some data"))
            trailing = {  # the old, wrong string to sign: a newline after data
                **signed_grant(CLIENT, SECRET, clock.ms(), "n2"),
                "signature": sign(SECRET, f"{clock.ms()}\nn2\n\n".encode()),
            }
            await refused(rpc, trailing, "bad signature")
            await refused(rpc, signed_grant(CLIENT, "not-the-secret", clock.ms(), "n3"), "bad signature")
            upper = signed_grant(CLIENT, SECRET, clock.ms(), "n4")
            await refused(rpc, {**upper, "signature": upper["signature"].upper()}, "bad signature")
            other_data = {**signed_grant(CLIENT, SECRET, clock.ms(), "n5", "a"), "data": "b"}
            await refused(rpc, other_data, "bad signature")
            await refused(rpc, signed_grant("nobody", SECRET, clock.ms(), "n6"), "unknown client_id")
            # 60 s either way is accepted; a millisecond beyond is not
            await rpc.result("public/auth", signed_grant(CLIENT, SECRET, clock.ms(-60), "n7"))
            await rpc.result("public/auth", signed_grant(CLIENT, SECRET, clock.ms(60), "n8"))
            await refused(rpc, signed_grant(CLIENT, SECRET, clock.ms(-60.001), "n9"), "old")
            await refused(rpc, signed_grant(CLIENT, SECRET, clock.ms(60.001), "n10"), "ahead")
            # a nonce is single-use while its timestamp is in the window, even with a new timestamp
            await refused(rpc, signed_grant(CLIENT, SECRET, clock.ms(1), "n1"), "nonce")
            await rpc.result("public/auth", signed_grant(CLIENT, SECRET, clock.ms(), ""))  # no nonce: "" once
            await refused(rpc, signed_grant(CLIENT, SECRET, clock.ms(2), ""), "nonce")
            clock.now += 61
            await rpc.result("public/auth", signed_grant(CLIENT, SECRET, clock.ms(), "n1"))  # forgotten now
            # a refused (forged) request does not spend the nonce
            await refused(rpc, signed_grant(CLIENT, "forged", clock.ms(), "n11"), "bad signature")
            await rpc.result("public/auth", signed_grant(CLIENT, SECRET, clock.ms(), "n11"))

    run(scenario)


# -- asymmetric keys ----------------------------------------------------------------------------------


def test_ed25519_and_rsa_keys_registered_through_create_api_key_authenticate(
    ed_key: Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    mock = new_mock(clock)
    fingerprint = re.compile(r"(?:[0-9a-f]{2}:){15}[0-9a-f]{2}")

    async def scenario() -> None:
        async with mock, connected(mock) as rpc:
            admin = await rpc.result(
                "public/auth",
                {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET},
            )
            as_admin = {"access_token": admin["access_token"]}  # each public/auth below re-authenticates
            for key, name in ((ed_key, "ed25519key"), (rsa_key, "rsakey")):
                pem = public_pem(key)
                made = await rpc.result(
                    "private/create_api_key",
                    {
                        **as_admin,
                        "public_key": pem,
                        "name": name,
                        "max_scope": "account:read trade:read_write",
                    },
                )
                assert (made["public_key"], made["name"], made["enabled"]) == (pem, name, True)
                assert made["max_scope"] == "account:read trade:read_write"
                assert fingerprint.fullmatch(made["client_secret"]) and len(made["client_id"]) >= 8
                client_id = made["client_id"]
                token = await rpc.result("public/auth", signed_grant(client_id, key, clock.ms(), "k1", "d"))
                assert token["scope"] == "connection mainaccount account:read trade:read_write"
                # narrowed to the key's max_scope
                asked = {
                    **signed_grant(client_id, key, clock.ms(), "k2"),
                    "scope": "account:read_write wallet:read",
                }
                assert (await rpc.result("public/auth", asked))["scope"] == "account:read wallet:none"
                stranger = Ed25519PrivateKey.generate()
                wrong = await rpc.error("public/auth", signed_grant(client_id, stranger, clock.ms(), "k3"))
                assert wrong["code"] == 13004 and wrong["data"]["reason"] == "bad signature"
                padded = signed_grant(client_id, key, clock.ms(), "k4")
                padded["signature"] += "=" * (-len(padded["signature"]) % 4) or "="
                assert (await rpc.error("public/auth", padded))["code"] == 13004
                as_hmac = signed_grant(client_id, made["client_secret"], clock.ms(), "k5")
                assert (await rpc.error("public/auth", as_hmac))["code"] == 13004
                credentials = {"grant_type": "client_credentials", "client_id": client_id}
                refused = await rpc.error(
                    "public/auth", {**credentials, "client_secret": made["client_secret"]}
                )
                assert refused["code"] == 13004 and "client_signature" in refused["data"]["reason"]
            weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
            for bad in (public_pem(weak), public_pem(ec.generate_private_key(ec.SECP256R1())), "not a key"):
                error = await rpc.error(
                    "private/create_api_key", {**as_admin, "public_key": bad, "max_scope": "account:read"}
                )
                assert error["code"] == -32602 and error["data"]["param"] == "public_key"
            # without public_key: a Deribit-generated key, with a secret for client_credentials
            plain = await rpc.result(
                "private/create_api_key", {**as_admin, "max_scope": "trade:read", "name": "plain"}
            )
            assert "public_key" not in plain
            granted = await rpc.result(
                "public/auth",
                {
                    "grant_type": "client_credentials",
                    "client_id": plain["client_id"],
                    "client_secret": plain["client_secret"],
                },
            )
            assert granted["scope"] == "connection mainaccount trade:read"

    run(scenario)


def test_register_key_is_the_python_side_of_create_api_key(ed_key: Ed25519PrivateKey) -> None:
    clock = Clock()
    mock = new_mock(clock)
    assert mock.register_key(public_pem(ed_key), client_id="edkey") == "edkey"
    generated = mock.register_key(public_pem(ed_key).encode(), max_scope="trade:read")
    assert generated != "edkey"
    with pytest.raises(ValueError, match="PEM"):
        mock.register_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")

    async def scenario() -> None:
        async with mock, connected(mock) as rpc:
            token = await rpc.result("public/auth", signed_grant(generated, ed_key, clock.ms(), "x"))
            assert token["scope"] == "connection mainaccount trade:read"
            await rpc.result(
                "public/auth", signed_grant("edkey", ed_key, clock.ms(), "x")
            )  # nonces are per key

    run(scenario)


# -- HTTP: deri-hmac-sha256, Basic ---------------------------------------------------------------------


def test_the_deri_hmac_sha256_header_signs_method_uri_and_body(ed_key: Ed25519PrivateKey) -> None:
    clock = Clock()
    mock = new_mock(clock)
    key_client = mock.register_key(public_pem(ed_key))
    get_uri = "/api/v2/private/get_positions?currency=BTC&kind=future"
    post_uri = "/api/v2/private/get_positions"
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 3, "method": "private/get_positions", "params": POSITIONS}
    ).encode()
    nonces = (f"h{i}" for i in itertools.count())

    async def scenario() -> None:
        async with mock, httpx.AsyncClient(base_url=f"http://127.0.0.1:{mock.http_port}") as http:

            async def get(uri: str, header: str) -> httpx.Response:
                return await http.get(uri, headers={"Authorization": header})

            async def post(content: bytes, header: str) -> httpx.Response:
                headers = {"Authorization": header, "Content-Type": "application/json"}
                return await http.post(post_uri, content=content, headers=headers)

            for signer, client_id in ((SECRET, CLIENT), (ed_key, key_client)):
                header = signed_header(client_id, signer, "GET", get_uri, b"", clock.ms(), next(nonces))
                answer = await get(get_uri, header)
                assert answer.status_code == 200 and isinstance(answer.json()["result"], list), answer.text
                header = signed_header(client_id, signer, "POST", post_uri, body, clock.ms(), next(nonces))
                answer = await post(body, header)
                assert answer.status_code == 200 and answer.json()["id"] == 3, answer.text
                # one byte of the URI, or of the body, differs from what was signed
                header = signed_header(client_id, signer, "GET", get_uri, b"", clock.ms(), next(nonces))
                error = await http_error(await get(get_uri.replace("BTC", "ETH"), header))
                assert error["code"] == 13009 and error["data"]["reason"] == "bad signature"
                header = signed_header(client_id, signer, "POST", post_uri, body, clock.ms(), next(nonces))
                error = await http_error(await post(body.replace(b'"id": 3', b'"id": 4'), header))
                assert error["data"]["reason"] == "bad signature"
                header = signed_header(client_id, signer, "POST", post_uri, body, clock.ms(), next(nonces))
                assert (await http_error(await get(post_uri, header)))["code"] == 13009  # method differs
            # scheme in any case, fields in any order
            nonce, stamp = next(nonces), clock.ms()
            sig = (
                signed_header(CLIENT, SECRET, "GET", get_uri, b"", stamp, nonce)
                .split("sig=")[1]
                .split(",")[0]
            )
            answer = await get(get_uri, f"DERI-HMAC-SHA256 nonce={nonce}, sig={sig}, id={CLIENT}, ts={stamp}")
            assert answer.status_code == 200, answer.text
            again = await http_error(
                await get(get_uri, f"deri-hmac-sha256 id={CLIENT},ts={stamp},sig={sig},nonce={nonce}")
            )
            assert again["data"]["reason"] == "the nonce was already used"
            for offset, word in ((-61, "old"), (61, "ahead")):
                header = signed_header(CLIENT, SECRET, "GET", get_uri, b"", clock.ms(offset), next(nonces))
                assert word in (await http_error(await get(get_uri, header)))["data"]["reason"]
            lacking = await http_error(await get(get_uri, f"deri-hmac-sha256 id={CLIENT},ts={clock.ms()}"))
            assert lacking["code"] == 13009 and "sig" in lacking["data"]["reason"]
            # Basic: for a Deribit-generated key only
            answer = await http.get(get_uri, auth=httpx.BasicAuth(CLIENT, SECRET))
            assert answer.status_code == 200
            error = await http_error(await http.get(get_uri, auth=httpx.BasicAuth(CLIENT, "wrong")))
            assert error["code"] == 13009
            error = await http_error(await http.get(get_uri, auth=httpx.BasicAuth(key_client, "x")))
            assert "client_signature" in error["data"]["reason"]

    run(scenario)


# -- scopes --------------------------------------------------------------------------------------------


def test_private_methods_and_channels_need_the_scope_their_tags_and_names_call_for() -> None:
    clock = Clock()
    mock = new_mock(clock)
    mock.register_client("reader", "reader-secret", max_scope="account:read trade:read")
    reader = {"grant_type": "client_credentials", "client_id": "reader", "client_secret": "reader-secret"}
    buy = {"instrument_name": "BTC-PERPETUAL", "amount": 10}

    async def forbidden(rpc: Rpc, method: str, params: dict[str, Any], scope: str) -> None:
        error = await rpc.error(method, params)
        assert (error["code"], error["message"], error["data"]["scope"]) == (13021, "forbidden", scope)
        assert error["code"] in PermissionDenied.codes

    async def scenario() -> None:
        async with mock:
            async with connected(mock) as rpc:
                token = await rpc.result("public/auth", reader)
                assert token["scope"] == "connection mainaccount account:read trade:read"
                await rpc.result("private/get_positions", POSITIONS)  # account_management, get_: account:read
                await rpc.result(
                    "private/get_open_orders_by_currency", POSITIONS
                )  # trading, get_: trade:read
                await forbidden(rpc, "private/buy", buy, "trade:read_write")  # trading
                await forbidden(rpc, "private/get_deposits", POSITIONS, "wallet:read")  # wallet, get_
                await forbidden(
                    rpc, "private/withdraw", {**POSITIONS, "address": "a", "amount": 1}, "wallet:read_write"
                )
                await forbidden(
                    rpc, "private/create_api_key", {"max_scope": "account:read"}, "account:read_write"
                )
                await forbidden(rpc, "private/set_email_language", {"language": "en"}, "account:read_write")
                subscribed = await rpc.result(
                    "private/subscribe", {"channels": ["user.orders.BTC-PERPETUAL.raw"]}
                )
                assert subscribed == ["user.orders.BTC-PERPETUAL.raw"]
                # asking for more than the key's max_scope is narrowed; trade:read only now
                narrow = await rpc.result("public/auth", {**reader, "scope": "trade:read_write wallet:read"})
                assert narrow["scope"] == "trade:read wallet:none"
                await forbidden(rpc, "private/get_positions", POSITIONS, "account:read")
                await forbidden(
                    rpc, "private/subscribe", {"channels": ["user.portfolio.btc"]}, "account:read"
                )
                await rpc.result("private/subscribe", {"channels": ["user.trades.BTC-PERPETUAL.raw"]})
                await rpc.result("private/unsubscribe_all")  # session methods need no scope
            async with httpx.AsyncClient() as http:  # Basic acts with the key's max_scope
                basic = httpx.BasicAuth("reader", "reader-secret")
                answer = await http.get(f"{mock.http_url}/private/buy", params=buy, auth=basic)
                assert (await http_error(answer))["code"] == 13021
                answer = await http.get(
                    f"{mock.http_url}/private/get_positions", params=POSITIONS, auth=basic
                )
                assert answer.status_code == 200

    run(scenario)


# -- token life: expiry, refresh, sessions, fork, exchange ---------------------------------------------


def test_tokens_expire_and_refresh_tokens_rotate_with_connection_and_session_semantics() -> None:
    clock = Clock()
    mock = new_mock(clock, token_ttl=900)
    credentials = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}

    async def scenario() -> None:
        async with mock, connected(mock) as rpc:

            async def works(token: dict[str, Any]) -> bool:
                answer = await rpc.call(
                    "private/get_positions", {**POSITIONS, "access_token": token["access_token"]}
                )
                assert "result" in answer or answer["error"]["code"] == 13009, answer
                return "result" in answer

            async def refresh(token: dict[str, Any]) -> dict[str, Any]:
                result: dict[str, Any] = await rpc.result(
                    "public/auth", {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
                )
                return result

            # expiry, on the mock's clock; expires:N sets the life
            token = await rpc.result("public/auth", credentials)
            assert token["expires_in"] == 900
            clock.now += 899
            assert await works(token)
            clock.now += 1
            assert not await works(token)
            short = await rpc.result("public/auth", {**credentials, "scope": "expires:30 account:read"})
            assert short["expires_in"] == 30 and short["scope"] == "expires:30 account:read"
            clock.now += 30
            assert not await works(short)
            # connection-scoped: a refresh ends the access token it was issued with
            token = await rpc.result("public/auth", credentials)
            renewed = await refresh(token)
            assert renewed["scope"] == token["scope"] and renewed["access_token"] != token["access_token"]
            assert await works(renewed) and not await works(token)
            used = await rpc.error(
                "public/auth", {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
            )
            assert used["code"] == 13004  # a refresh token is used once
            # session-scoped: the access token stays valid
            session = await rpc.result("public/auth", {**credentials, "scope": "session:s1"})
            assert session["scope"] == "session:s1 account:read_write trade:read_write wallet:read_write"
            renewed = await refresh(session)
            assert renewed["scope"] == session["scope"]
            assert await works(renewed) and await works(session)
            assert (
                await rpc.error(
                    "public/auth", {"grant_type": "refresh_token", "refresh_token": session["refresh_token"]}
                )
            )["code"] == 13004
            assert [t.grant_type for t in mock.tokens_issued].count("refresh_token") == 2

    run(scenario)


def test_fork_token_needs_a_session_and_exchange_token_may_narrow_but_not_widen() -> None:
    clock = Clock()
    mock = new_mock(clock)
    credentials = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}

    async def scenario() -> None:
        async with mock, connected(mock) as rpc:
            connection = await rpc.result("public/auth", credentials)
            refused = await rpc.error(
                "public/fork_token", {"refresh_token": connection["refresh_token"], "session_name": "x"}
            )
            assert refused["code"] == 13004 and "session-scoped" in refused["data"]["reason"]
            session = await rpc.result(
                "public/auth", {**credentials, "scope": "session:main account:read trade:read_write"}
            )
            missing = await rpc.error("public/fork_token", {"refresh_token": session["refresh_token"]})
            assert missing["code"] == -32602 and missing["data"]["param"] == "session_name"
            forked = await rpc.result(
                "public/fork_token", {"refresh_token": session["refresh_token"], "session_name": "side"}
            )
            assert forked["scope"] == "session:side account:read trade:read_write"
            assert forked["access_token"] != session["access_token"]
            await rpc.result("private/get_positions", {**POSITIONS, "access_token": forked["access_token"]})
            # the forked token is session-scoped: refreshing it keeps it valid
            await rpc.result(
                "public/auth", {"grant_type": "refresh_token", "refresh_token": forked["refresh_token"]}
            )
            await rpc.result("private/get_positions", {**POSITIONS, "access_token": forked["access_token"]})
            unknown = await rpc.error(
                "public/fork_token", {"refresh_token": "never-issued", "session_name": "y"}
            )
            assert unknown["code"] == 13004
            # exchange: same scope, a narrower one, never a wider one
            same = await rpc.result(
                "public/exchange_token", {"refresh_token": session["refresh_token"], "subject_id": 7}
            )
            assert same["scope"] == session["scope"]
            narrow = await rpc.result(
                "public/exchange_token",
                {
                    "refresh_token": session["refresh_token"],
                    "subject_id": 8,
                    "scope": "session:sub trade:read",
                },
            )
            assert narrow["scope"] == "session:sub trade:read"
            buy = {"instrument_name": "BTC-PERPETUAL", "amount": 10, "access_token": narrow["access_token"]}
            assert (await rpc.error("private/buy", buy))["code"] == 13021
            wide = await rpc.error(
                "public/exchange_token",
                {"refresh_token": session["refresh_token"], "subject_id": 9, "scope": "account:read_write"},
            )
            assert (wide["code"], wide["message"], wide["data"]["scope"]) == (
                13403,
                "scope_exceeded",
                "account:read_write",
            )
            assert (
                await rpc.error("public/exchange_token", {"refresh_token": "never-issued", "subject_id": 1})
            )["code"] == 13004
            # fork and exchange leave the connection's token (its last public/auth, trade:read_write)
            await rpc.result("private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 10})
        issued = mock.tokens_issued
        assert [t.grant_type for t in issued] == [
            "client_credentials",
            "client_credentials",
            "fork_token",
            "refresh_token",
            "exchange_token",
            "exchange_token",
        ]
        assert [(t.subject_id, t.session) for t in issued[-2:]] == [(7, "main"), (8, "sub")]
        assert issued[2].session == "side"

    run(scenario)


# -- logout --------------------------------------------------------------------------------------------


def test_logout_closes_without_an_answer_and_invalidates_the_tokens_unless_told_not_to() -> None:
    clock = Clock()
    mock = new_mock(clock)
    credentials = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}

    async def logout(params: dict[str, Any]) -> dict[str, Any]:
        async with connected(mock) as rpc:
            token: dict[str, Any] = await rpc.result("public/auth", credentials)
            await rpc.send("private/logout", params)
            with pytest.raises(websockets.ConnectionClosedOK) as closed:
                await asyncio.wait_for(rpc.ws.recv(), 5)  # no answer: the connection closes
            assert closed.value.rcvd is not None and closed.value.rcvd.reason == "logout"
            return token

    async def scenario() -> None:
        async with mock, httpx.AsyncClient() as http:

            async def positions(token: dict[str, Any]) -> httpx.Response:
                headers = {"Authorization": f"Bearer {token['access_token']}"}
                return await http.get(
                    f"{mock.http_url}/private/get_positions", params=POSITIONS, headers=headers
                )

            async def refresh(token: dict[str, Any]) -> httpx.Response:
                params = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
                return await http.get(f"{mock.http_url}/public/auth", params=params)

            kept = await logout({"invalidate_token": False})
            assert (await positions(kept)).status_code == 200
            assert (await refresh(kept)).status_code == 200
            ended = await logout({})  # invalidate_token defaults to true
            assert (await http_error(await positions(ended)))["code"] == 13009
            assert (await http_error(await refresh(ended)))["code"] == 13004
            async with connected(mock) as rpc:  # a logout needs a token too
                assert (await rpc.error("private/logout"))["code"] == 13009

    run(scenario)


# -- 13668 ---------------------------------------------------------------------------------------------


def test_an_injected_second_factor_requirement_answers_13668_and_counts_each_refusal() -> None:
    clock = Clock()
    mock = new_mock(clock)
    withdraw = {"currency": "BTC", "address": "bc1-mock", "amount": 0.5}
    credentials = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}

    async def scenario() -> None:
        async with mock:
            gate = mock.require_second_factor("private/withdraw")
            async with connected(mock) as rpc:
                assert (await rpc.error("private/withdraw", withdraw))[
                    "code"
                ] == 13009  # authentication first
                await rpc.result("public/auth", credentials)
                assert (await rpc.error("private/withdraw", {"currency": "BTC"}))[
                    "code"
                ] == -32602  # then params
                assert gate.refusals == 0
                error = await rpc.error("private/withdraw", withdraw)
                assert error == {"code": 13668, "message": "security_key_authorization_error"}
                assert gate.refusals == 1
                await rpc.result("private/get_positions", POSITIONS)  # other methods are not affected
            token = mock.issue_token(CLIENT)
            async with BaseRpcClient.over_http(mock.http_url, token=token) as client:
                with pytest.raises(SecondFactorRequired):
                    await client._call("private/withdraw", withdraw, Any)
            assert gate.refusals == 2  # the client asked once: no retry
            mock.clear_second_factor("private/withdraw")
            async with connected(mock) as rpc:
                await rpc.result("public/auth", credentials)
                await rpc.result("private/withdraw", withdraw)
            assert gate.refusals == 2

    run(scenario)


# -- secrets -------------------------------------------------------------------------------------------


def test_no_secret_token_signature_or_key_is_recorded_or_logged(
    ed_key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    mock = new_mock(clock)
    key_client = mock.register_key(public_pem(ed_key))
    secrets: list[str] = [SECRET, DEFAULT_CLIENT_SECRET]
    private_pem = ed_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    uri = "/api/v2/private/get_positions?currency=BTC"

    async def scenario() -> None:
        async with mock:
            async with connected(mock) as rpc:
                hmac_grant = signed_grant(CLIENT, SECRET, clock.ms(), "nonce-one")
                key_grant = signed_grant(key_client, ed_key, clock.ms(), "nonce-two")
                token = await rpc.result("public/auth", hmac_grant)
                other = await rpc.result("public/auth", key_grant)
                refreshed = await rpc.result(
                    "public/auth", {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
                )
                made = await rpc.result("private/create_api_key", {"max_scope": "trade:read"})
                forked = await rpc.error(
                    "public/fork_token", {"refresh_token": refreshed["refresh_token"], "session_name": "s"}
                )
                assert forked["code"] == 13004
                secrets.extend([hmac_grant["signature"], key_grant["signature"], made["client_secret"]])
                secrets.extend(
                    t[k] for t in (token, other, refreshed) for k in ("access_token", "refresh_token")
                )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{mock.http_port}") as http:
                header = signed_header(CLIENT, SECRET, "GET", uri, b"", clock.ms(), "nonce-three")
                secrets.append(header.split("sig=")[1].split(",")[0])
                assert (await http.get(uri, headers={"Authorization": header})).status_code == 200
                await http.get(uri, auth=httpx.BasicAuth(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
                await http.get(uri, headers={"Authorization": f"Bearer {token['access_token']}"})

    with caplog.at_level(logging.DEBUG):
        run(scenario)
    kept = " ".join(
        [
            repr(mock.requests),
            repr(mock.http_requests),
            repr(mock.tokens_issued),
            repr([mock.tokens.clients.get(c) for c in mock.tokens.clients]),
            caplog.text,
        ]
    )
    assert not [s for s in secrets if s in kept]
    assert private_pem not in kept and "nonce-one" not in kept and "nonce-three" not in kept
    assert ("Authorization", "deri-hmac-sha256 <redacted>") in mock.http_requests[0].headers
