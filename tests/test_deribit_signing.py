"""deriv_runtime.auth.deribit_signing: the strings Deribit signs, HMAC signatures, headers, nonces.

Known answers come from Deribit's authentication guide (client AMANDA) and from independent HMAC
computations here (and the ``openssl`` binary where it is installed). Nothing touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import pickle
import re
import shutil
import subprocess
import sys
import time

import pytest
from deriv_runtime.auth import deribit_signing
from deriv_runtime.auth.deribit_signing import (
    HmacSigner,
    Signer,
    basic_authorization,
    grant_params,
    http_authorization,
    http_string_to_sign,
    new_nonce,
    now_ms,
    string_to_sign,
)
from deriv_runtime.auth.secret import Secret

# The worked example of Deribit's authentication guide.
AMANDA_ID = "AMANDA"
AMANDA_SECRET = "AMANDASECRECT"
AMANDA_TS = 1576074319000
AMANDA_NONCE = "1iqt2wls"
AMANDA_SIG = "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1"

TS = 1576074319000
NONCE = "abcd1234efgh"
GET_URI = "/api/v2/private/get_account_summary?currency=BTC&extended=true"

CANARY_SECRET = "cs-CANARY-deribit-9f31c7"


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


# -- client_signature (public/auth) ------------------------------------------------------------


def test_amanda_example_from_the_guide() -> None:
    signer = HmacSigner(AMANDA_ID, AMANDA_SECRET)
    params = grant_params(signer, timestamp=AMANDA_TS, nonce=AMANDA_NONCE, data="")
    assert params == {
        "grant_type": "client_signature",
        "client_id": AMANDA_ID,
        "timestamp": AMANDA_TS,
        "nonce": AMANDA_NONCE,
        "data": "",
        "signature": AMANDA_SIG,
    }
    assert isinstance(params["timestamp"], int)


def test_amanda_example_with_a_secret_wrapper() -> None:
    signer = HmacSigner(AMANDA_ID, Secret(AMANDA_SECRET))
    assert signer.sign(string_to_sign(AMANDA_TS, AMANDA_NONCE)) == AMANDA_SIG


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_amanda_example_matches_openssl_hmac() -> None:
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", AMANDA_SECRET, "-r"],
        input=string_to_sign(AMANDA_TS, AMANDA_NONCE),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert out.split()[0] == AMANDA_SIG


def test_string_to_sign_has_no_trailing_newline_after_data() -> None:
    assert string_to_sign(AMANDA_TS, AMANDA_NONCE) == b"1576074319000\n1iqt2wls\n"
    assert string_to_sign(1, "n", "ctx") == b"1\nn\nctx"
    assert string_to_sign(1, "n", "two\nlines") == b"1\nn\ntwo\nlines"


@pytest.mark.parametrize("data", ["é", "ключ", "€", "日本"])
def test_utf8_not_latin1(data: str) -> None:
    signer = HmacSigner("id", "secret")
    message = string_to_sign(TS, NONCE, data)
    assert message == f"{TS}\n{NONCE}\n{data}".encode()
    signature = grant_params(signer, timestamp=TS, nonce=NONCE, data=data)["signature"]
    assert signature == _hmac_hex("secret", f"{TS}\n{NONCE}\n{data}".encode())  # str.encode(): UTF-8
    try:
        latin1 = f"{TS}\n{NONCE}\n{data}".encode("latin-1")
    except UnicodeEncodeError:
        return  # the Latin-1 sample could not sign this value at all; UTF-8 signs it
    assert latin1 != message
    assert signature != _hmac_hex("secret", latin1)


def test_latin1_difference_for_e_acute_is_concrete() -> None:
    assert string_to_sign(1, "n", "é").endswith(b"\xc3\xa9")  # UTF-8: two bytes
    assert "é".encode("latin-1") == b"\xe9"  # what the Latin-1 sample would have signed


def test_secret_is_utf8_encoded() -> None:
    signer = HmacSigner("id", "sécret")
    message = string_to_sign(TS, NONCE)
    assert signer.sign(message) == _hmac_hex("sécret", message)
    assert signer.sign(message) != hmac.new("sécret".encode("latin-1"), message, hashlib.sha256).hexdigest()


def test_signature_is_lowercase_hex() -> None:
    sig = HmacSigner("id", "s").sign(b"anything")
    assert re.fullmatch(r"[0-9a-f]{64}", sig)


def test_explicit_timestamp_and_nonce_reproduce_the_signature() -> None:
    signer = HmacSigner("id", "secret")
    first = grant_params(signer, timestamp=TS, nonce=NONCE, data="x")
    second = grant_params(signer, timestamp=TS, nonce=NONCE, data="x")
    assert first == second
    other = grant_params(signer, timestamp=TS + 1, nonce=NONCE, data="x")
    assert other["signature"] != first["signature"]


def test_grant_params_defaults_are_fresh() -> None:
    signer = HmacSigner("id", "secret")
    before = now_ms()
    params = grant_params(signer)
    after = now_ms()
    assert before <= params["timestamp"] <= after
    assert params["data"] == ""
    assert params["signature"] == _hmac_hex("secret", string_to_sign(params["timestamp"], params["nonce"]))


def test_ten_thousand_grants_have_distinct_nonces() -> None:
    signer = HmacSigner("id", "secret")
    grants = [grant_params(signer) for _ in range(10_000)]
    assert len({g["nonce"] for g in grants}) == 10_000
    assert len({g["signature"] for g in grants}) == 10_000


def test_nonces_do_not_come_from_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    monkeypatch.setattr(time, "time_ns", lambda: 1_700_000_000_000_000_000)
    monkeypatch.setattr(time, "monotonic", lambda: 1.0)
    monkeypatch.setattr(time, "perf_counter", lambda: 1.0)
    signer = HmacSigner("id", "secret")
    grants = [grant_params(signer) for _ in range(1_000)]
    assert {g["timestamp"] for g in grants} == {1_700_000_000_000}
    assert len({g["nonce"] for g in grants}) == 1_000


def test_nonces_do_not_come_from_the_random_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    def fail(*args: object) -> object:
        raise AssertionError("the random module is not a CSPRNG")

    for name in ("random", "choice", "choices", "getrandbits", "randbytes", "sample"):
        monkeypatch.setattr(random, name, fail)
    assert len({new_nonce() for _ in range(100)}) == 100


def test_nonce_shape() -> None:
    for _ in range(200):
        nonce = new_nonce()
        assert re.fullmatch(r"[a-z0-9]{16,}", nonce), nonce


def test_now_ms_is_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1576074319.0004)
    assert now_ms() == 1576074319000


@pytest.mark.parametrize(
    ("timestamp", "nonce", "error"),
    [
        (True, "n", TypeError),
        (1.5, "n", TypeError),
        ("1", "n", TypeError),
        (-1, "n", ValueError),
        (1, "", ValueError),
        (1, "a\nb", ValueError),
        (1, "a b", ValueError),
        (1, 7, TypeError),
    ],
)
def test_string_to_sign_refuses_bad_parts(timestamp: object, nonce: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        string_to_sign(timestamp, nonce)  # type: ignore[arg-type]


def test_every_call_signs_anew() -> None:
    calls: list[bytes] = []

    class Recording:
        client_id = "id"
        asymmetric = False

        def sign(self, message: bytes) -> str:
            calls.append(message)
            return "sig"

    signer = Recording()
    assert isinstance(signer, Signer)
    grant_params(signer, timestamp=1, nonce="n")
    grant_params(signer, timestamp=1, nonce="n")
    http_authorization(signer, "GET", "/x", timestamp=1, nonce="n")
    assert calls == [b"1\nn\n", b"1\nn\n", b"1\nn\nGET\n/x\n\n"]


# -- signed HTTP requests ------------------------------------------------------------------------


def test_http_string_for_a_get_with_query() -> None:
    assert http_string_to_sign(TS, NONCE, "get", GET_URI) == (
        b"1576074319000\nabcd1234efgh\nGET\n"
        b"/api/v2/private/get_account_summary?currency=BTC&extended=true\n"
        b"\n"
    )


def test_http_string_for_a_post_with_a_json_body() -> None:
    body = (
        b'{"jsonrpc":"2.0","id":7,"method":"private/buy",'
        b'"params":{"instrument_name":"BTC-PERPETUAL","amount":10}}'
    )
    assert http_string_to_sign(TS, NONCE, "POST", "/api/v2/private/buy", body) == (
        b"1576074319000\nabcd1234efgh\nPOST\n/api/v2/private/buy\n" + body + b"\n"
    )
    assert http_string_to_sign(TS, NONCE, "POST", "/api/v2/private/buy", bytearray(body)) == (  # type: ignore[arg-type]
        http_string_to_sign(TS, NONCE, "POST", "/api/v2/private/buy", body)
    )


def test_http_body_bytes_are_signed_as_is() -> None:
    body = '{"label":"€"}'.encode()
    message = http_string_to_sign(TS, NONCE, "POST", "/api/v2/private/buy", body)
    assert body in message
    with pytest.raises(TypeError, match="bytes"):
        http_string_to_sign(TS, NONCE, "POST", "/api/v2/private/buy", '{"a":1}')  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "uri",
    [
        "https://test.deribit.com/api/v2/private/get_positions",
        "//test.deribit.com/api/v2/private/get_positions",
        "api/v2/private/get_positions",
        "",
    ],
)
def test_http_string_refuses_anything_but_path_and_query(uri: str) -> None:
    with pytest.raises(ValueError, match="path and query"):
        http_string_to_sign(TS, NONCE, "GET", uri)


@pytest.mark.parametrize("uri", ["/a b", "/a\nb", "/é"])
def test_http_string_refuses_unencoded_uri(uri: str) -> None:
    with pytest.raises(ValueError, match="percent-encoded"):
        http_string_to_sign(TS, NONCE, "GET", uri)


@pytest.mark.parametrize("method", ["", "GET\n", "G ET", "PÖST"])
def test_http_string_refuses_bad_methods(method: str) -> None:
    with pytest.raises(ValueError, match="method"):
        http_string_to_sign(TS, NONCE, method, "/x")


def test_http_authorization_header_format() -> None:
    signer = HmacSigner("GgUXjYUj", "secret")
    header = http_authorization(signer, "get", GET_URI, timestamp=TS, nonce=NONCE)
    sig = _hmac_hex("secret", http_string_to_sign(TS, NONCE, "GET", GET_URI))
    assert header == f"deri-hmac-sha256 id=GgUXjYUj,ts={TS},sig={sig},nonce={NONCE}"
    scheme, _, fields = header.partition(" ")
    assert scheme == deribit_signing.SCHEME
    assert dict(item.split("=", 1) for item in fields.split(",")) == {
        "id": "GgUXjYUj",
        "ts": str(TS),
        "sig": sig,
        "nonce": NONCE,
    }


def test_http_authorization_post_signs_the_body() -> None:
    signer = HmacSigner("id", "secret")
    a = http_authorization(signer, "POST", "/api/v2/private/buy", b'{"a":1}', timestamp=TS, nonce=NONCE)
    b = http_authorization(signer, "POST", "/api/v2/private/buy", b'{"a":2}', timestamp=TS, nonce=NONCE)
    assert a != b


def test_http_authorization_defaults_are_fresh() -> None:
    signer = HmacSigner("id", "secret")
    headers = {http_authorization(signer, "GET", "/x") for _ in range(100)}
    assert len(headers) == 100
    match = re.fullmatch(
        r"deri-hmac-sha256 id=id,ts=(\d+),sig=([0-9a-f]{64}),nonce=([a-z0-9]+)", headers.pop()
    )
    assert match is not None
    ts, sig, nonce = match.groups()
    assert sig == _hmac_hex("secret", http_string_to_sign(int(ts), nonce, "GET", "/x"))


def test_http_authorization_refuses_a_comma_in_the_nonce() -> None:
    with pytest.raises(ValueError, match="','"):
        http_authorization(HmacSigner("id", "s"), "GET", "/x", timestamp=1, nonce="a,b")


# -- Basic authentication ------------------------------------------------------------------------


def test_basic_authorization_is_a_str_that_round_trips() -> None:
    value = basic_authorization("GgUXjYUj", "sécret:with:colons")
    assert isinstance(value, str)
    assert not value.startswith("Basic b'")
    scheme, encoded = value.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded, validate=True).decode("utf-8") == "GgUXjYUj:sécret:with:colons"
    assert basic_authorization("GgUXjYUj", Secret("sécret:with:colons")) == value


def test_basic_authorization_refuses_a_colon_in_the_client_id() -> None:
    with pytest.raises(ValueError, match="':'"):
        basic_authorization("a:b", "secret")


def test_basic_authorization_refuses_empty_parts() -> None:
    with pytest.raises(ValueError, match="client_id"):
        basic_authorization("", "secret")
    with pytest.raises(ValueError, match="secret is empty"):
        basic_authorization("id", "")


# -- the signer keeps its secret -----------------------------------------------------------------


@pytest.mark.parametrize("client_id", ["", "a b", "a,b", "a\nb", "ключ"])
def test_signer_refuses_bad_client_ids(client_id: str) -> None:
    with pytest.raises(ValueError, match="client_id"):
        HmacSigner(client_id, "secret")


def test_signer_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="empty"):
        HmacSigner("id", "")
    with pytest.raises(ValueError, match="empty"):
        HmacSigner("id", Secret(""))


def test_signer_protocol_and_flags() -> None:
    signer = HmacSigner("id", "secret")
    assert isinstance(signer, Signer)
    assert signer.asymmetric is False
    assert signer.client_id == "id"


def test_canary_secret_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signer = HmacSigner("GgUXjYUj", CANARY_SECRET)
    texts = [repr(signer), str(signer), f"{signer}", repr([signer]), repr(vars(type(signer)))]
    assert repr(signer) == "HmacSigner(client_id='GgUXjYUj')"
    params = grant_params(signer)
    texts.append(repr(params))
    texts.append(http_authorization(signer, "GET", GET_URI))
    with pytest.raises(TypeError) as err:
        pickle.dumps(signer)
    texts += [str(err.value), repr(err.value)]
    with pytest.raises(TypeError) as err2:
        signer.sign("text")  # type: ignore[arg-type]
    texts += [str(err2.value), repr(err2.value)]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    assert not [t for t in texts if CANARY_SECRET in t]
    assert not hasattr(signer, "__dict__")


def test_importing_the_module_loads_no_cryptography() -> None:
    code = (
        "import sys, deriv_runtime.auth.deribit_signing as s\n"
        "s.grant_params(s.HmacSigner('a', 'b'))\n"
        "print('cryptography' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
