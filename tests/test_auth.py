"""deriv_runtime.auth: secrets, PKCE, the authorize URL, callbacks, token exchange and refresh, stores.

Token endpoints are real HTTP servers on 127.0.0.1 (``tests/_oauth_server.py``); nothing is mocked
below httpx. Every wait is bounded; nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import pickle
import socket
import stat
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from deriv_runtime.auth import (
    PKCE,
    AuthError,
    AuthorizationRequest,
    CallbackParams,
    Credentials,
    FileTokenStore,
    InsecureTransportError,
    LoopbackRedirect,
    MemoryTokenStore,
    OAuthClient,
    OAuthConfig,
    OAuthCredentials,
    OAuthError,
    OAuthStateError,
    OAuthTimeout,
    PersonalAccessToken,
    Secret,
    TokenSet,
    TokenStoreError,
    authorization_header,
    begin_authorization,
    challenge_s256,
    require_secure,
)
from deriv_runtime.errors import DerivError

from ._oauth_server import TokenServer, closed_port_url, s256

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
REDIRECT = "http://127.0.0.1:8765/callback"
ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def authorize(server: TokenServer, request: AuthorizationRequest, code: str = "the-code") -> str:
    """Play the authorization server: remember the challenge for ``code``, return the callback URL."""
    params = query(request.url)
    server.register_code(code, params["code_challenge"][0], params["redirect_uri"][0])
    return f"{params['redirect_uri'][0]}?code={code}&state={params['state'][0]}"


def config_for(server: TokenServer, **changes: Any) -> OAuthConfig:
    return OAuthConfig(
        client_id=server.client_id, redirect_uri=REDIRECT, token_url=server.token_url, **changes
    )


def expired(access: str = "access-0", refresh: str | None = "refresh-0") -> TokenSet:
    return TokenSet(
        Secret(access), refresh_token=Secret(refresh) if refresh else None, expires_at=time.time() - 60
    )


def fresh(access: str = "access-0", refresh: str | None = "refresh-0") -> TokenSet:
    return TokenSet(
        Secret(access), refresh_token=Secret(refresh) if refresh else None, expires_at=time.time() + 3600
    )


class RecordingStore(MemoryTokenStore):
    """Records the order of saves, so tests can check that tokens are stored before use.

    With ``watch`` set, each save also records whether those credentials already hand out the token
    being saved (``"in use before saved"``): they must not.
    """

    def __init__(self, tokens: TokenSet | None, events: list[tuple[str, str]]) -> None:
        super().__init__(tokens)
        self.events = events
        self.watch: OAuthCredentials | None = None

    def save(self, tokens: TokenSet) -> None:
        current = self.watch.tokens if self.watch is not None else None
        if current is not None and current.access_token == tokens.access_token:
            self.events.append(("in use before saved", tokens.access_token.reveal()))
        super().save(tokens)
        self.events.append(("saved", tokens.access_token.reveal()))


class FailingStore(MemoryTokenStore):
    def __init__(self, tokens: TokenSet | None, failures: int) -> None:
        super().__init__(tokens)
        self.failures = failures

    def save(self, tokens: TokenSet) -> None:
        if self.failures:
            self.failures -= 1
            raise TokenStoreError("disk full")
        super().save(tokens)


@pytest.fixture
def server() -> Iterator[TokenServer]:
    with TokenServer() as running:
        yield running


# -- Secret ------------------------------------------------------------------------------------


def test_secret_hides_its_value() -> None:
    secret = Secret("hunter2-value")
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        format(secret, ">40"),
        logging.Formatter().format(logging.makeLogRecord({"msg": "%s", "args": (secret,)})),
        str([secret]),
    ):
        assert "hunter2" not in text
    assert repr(secret) == "Secret('***')"
    assert secret.reveal() == "hunter2-value"
    assert secret == Secret("hunter2-value") and secret == "hunter2-value"
    assert secret != Secret("other")
    assert secret != "other"
    assert secret != 1
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        hash(secret)
    with pytest.raises(AttributeError):
        secret._value = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Secret(123)  # type: ignore[arg-type]


def test_auth_errors_are_deriv_errors() -> None:
    for cls in (OAuthError, OAuthStateError, OAuthTimeout, InsecureTransportError, TokenStoreError):
        assert issubclass(cls, AuthError) and issubclass(cls, DerivError)
    assert issubclass(OAuthTimeout, TimeoutError)
    err = OAuthError("invalid_grant", "expired", status=400)
    assert (err.code, err.description, err.status) == ("invalid_grant", "expired", 400)
    assert str(err) == "invalid_grant: expired (HTTP 400)"


def test_import_is_cheap_and_exports_resolve() -> None:
    code = "import sys, deriv_runtime.auth as a; print('httpx' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    from deriv_runtime import auth

    assert sorted(auth.__all__) == sorted(auth._EXPORTS)
    for name in auth.__all__:
        assert getattr(auth, name) is not None


# -- PKCE --------------------------------------------------------------------------------------


def test_pkce_rfc7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    pkce = PKCE(verifier)
    assert pkce.challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce.method == "S256"
    assert pkce.verifier == verifier
    assert verifier not in repr(pkce)


@pytest.mark.parametrize(
    ("verifier", "rule"),
    [
        ("a" * 42, "43 to 128"),
        ("a" * 129, "43 to 128"),
        ("a" * 50 + "+", "unreserved"),
        ("a" * 50 + " ", "unreserved"),
        ("a" * 50 + "é", "unreserved"),
        ("a" * 50 + "=", "unreserved"),
    ],
)
def test_pkce_verifier_length_and_alphabet_enforced(verifier: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule) as caught:
        PKCE(verifier)
    assert verifier not in str(caught.value)
    with pytest.raises(ValueError, match=rule):
        challenge_s256(verifier)


def test_pkce_random_verifiers_are_valid() -> None:
    seen = set()
    for _ in range(200):
        pkce = PKCE.generate()
        value = pkce.verifier.reveal()
        assert len(value) == 64
        assert set(value) <= ALPHABET
        assert pkce.challenge == s256(value)
        seen.add(value)
    assert len(seen) == 200
    assert len(PKCE.generate(43).verifier.reveal()) == 43
    assert len(PKCE.generate(128).verifier.reveal()) == 128
    for length in (42, 129):
        with pytest.raises(ValueError, match="43 to 128"):
            PKCE.generate(length)


def test_pkce_plain_is_refused() -> None:
    with pytest.raises(ValueError, match="only S256"):
        PKCE("a" * 43, method="plain")


# -- authorize URL -----------------------------------------------------------------------------


def test_authorize_url_has_every_parameter() -> None:
    config = OAuthConfig(client_id="1234", redirect_uri=REDIRECT)
    request = begin_authorization(config, ["trade", "payment"])
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://oauth.deriv.com/oauth2/authorize"
    params = query(request.url)
    assert all(len(values) == 1 for values in params.values())
    flat = {k: v[0] for k, v in params.items()}
    state = flat.pop("state")
    challenge = flat.pop("code_challenge")
    assert flat == {
        "response_type": "code",
        "client_id": "1234",
        "redirect_uri": REDIRECT,
        "scope": "trade payment",
        "code_challenge_method": "S256",
        "app_id": "1234",
    }
    assert "%20" in request.url  # space-separated scopes, percent-encoded
    assert len(state) >= 43 and request.state == state  # 32 random bytes, urlsafe
    assert challenge == s256(request.code_verifier.reveal())
    assert request.redirect_uri == REDIRECT
    assert begin_authorization(config).state != request.state
    assert "state" not in repr(request) and state not in repr(request)


def test_authorize_url_scopes_defaults_and_checks() -> None:
    config = OAuthConfig(client_id="1234", redirect_uri=REDIRECT)
    assert query(begin_authorization(config).url)["scope"] == [
        "trade account_manage application_read payment"
    ]
    assert "scope" not in query(begin_authorization(config, []).url)
    with pytest.raises(ValueError, match="unknown scope 'trades'"):
        begin_authorization(config, ["trades"])
    with pytest.raises(ValueError, match="invalid OAuth scope"):
        OAuthConfig(client_id="1234", redirect_uri=REDIRECT, scopes=("read write",))
    with pytest.raises(TypeError):
        begin_authorization(config, "trade")
    wider = OAuthConfig(client_id="1234", redirect_uri=REDIRECT, scopes=("trade", "admin"))
    assert query(begin_authorization(wider, ["admin"]).url)["scope"] == ["admin"]
    assert query(begin_authorization(config, extra={"l": "ZH_CN"}).url)["l"] == ["ZH_CN"]
    with pytest.raises(ValueError, match="would override"):
        begin_authorization(config, extra={"state": "mine"})
    no_app_id = OAuthConfig(client_id="1234", redirect_uri=REDIRECT, send_app_id=False)
    assert "app_id" not in query(begin_authorization(no_app_id).url)


def test_authorize_url_affiliate_and_utm() -> None:
    config = OAuthConfig(client_id="1234", redirect_uri=REDIRECT)
    request = begin_authorization(
        config,
        ["trade"],
        affiliate_token="FB58247C-6B33",
        utm_campaign="dynamicworks",
        utm_medium="affiliate",
        utm_source="CU00001",
    )
    params = query(request.url)
    assert params["affiliate_token"] == ["FB58247C-6B33"]
    assert params["utm_campaign"] == ["dynamicworks"]
    assert params["utm_medium"] == ["affiliate"]
    assert params["utm_source"] == ["CU00001"]
    assert "t" not in params
    assert request.url.startswith("https://oauth.deriv.com/oauth2/authorize?")


def test_signup_mode_uses_the_signup_page_and_t() -> None:
    config = OAuthConfig(client_id="1234", redirect_uri=REDIRECT)
    request = begin_authorization(
        config, ["trade"], signup=True, affiliate_token="TOKEN", utm_campaign="camp"
    )
    assert request.url.startswith("https://hub.deriv.com/tradershub/signup?")
    params = query(request.url)
    assert params["t"] == ["TOKEN"] and params["utm_campaign"] == ["camp"]
    assert "affiliate_token" not in params
    for name in (
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
    ):
        assert name in params  # the sign-up still ends in a checked callback
    custom = OAuthConfig(client_id="1234", redirect_uri=REDIRECT, signup_url="https://signup.example/new?x=1")
    url = begin_authorization(custom, signup=True).url
    assert url.startswith("https://signup.example/new?x=1&response_type=code")


def test_config_from_the_generated_openapi_document(deriv_options_dist: Path) -> None:
    doc = json.loads((deriv_options_dist / "deriv_options" / "openapi.json").read_text())
    config = OAuthConfig.from_openapi(doc, client_id="1234", redirect_uri=REDIRECT)
    assert config.authorization_url == "https://oauth.deriv.com/oauth2/authorize"
    assert config.token_url == "https://oauth.deriv.com/oauth2/token"
    assert set(config.scopes) == {"trade", "account_manage", "application_read", "payment"}
    assert config.refresh_endpoint == config.token_url
    other = OAuthConfig.from_openapi(
        doc, client_id="1234", redirect_uri=REDIRECT, token_url="https://auth.example/token"
    )
    assert other.token_url == "https://auth.example/token"
    assert other.authorization_url == config.authorization_url


def test_config_from_openapi_needs_an_authorization_code_flow() -> None:
    doc = {"components": {"securitySchemes": {"key": {"type": "apiKey"}}}}
    with pytest.raises(ValueError, match="authorizationCode"):
        OAuthConfig.from_openapi(doc, client_id="1", redirect_uri=REDIRECT)
    doc = {
        "components": {
            "securitySchemes": {
                "o": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": "https://a.example/authorize",
                            "tokenUrl": "https://a.example/token",
                            "refreshUrl": "https://a.example/refresh",
                            "scopes": {"read": "r"},
                        }
                    },
                }
            }
        }
    }
    config = OAuthConfig.from_openapi(doc, client_id="1", redirect_uri=REDIRECT)
    assert (config.scopes, config.refresh_endpoint) == (("read",), "https://a.example/refresh")


def test_config_defaults_are_overridable_and_checked() -> None:
    config = OAuthConfig(
        client_id="1234",
        redirect_uri="com.example.bot:/oauth",
        authorization_url="https://auth.deriv.com/oauth2/auth",
        token_url="https://auth.deriv.com/oauth2/token",
    )
    assert begin_authorization(config).url.startswith("https://auth.deriv.com/oauth2/auth?")
    assert OAuthConfig(client_id=1234, redirect_uri=REDIRECT).client_id == "1234"  # type: ignore[arg-type]
    with pytest.raises(InsecureTransportError):
        OAuthConfig(client_id="1", redirect_uri=REDIRECT, token_url="http://auth.example/token")
    with pytest.raises(InsecureTransportError):
        OAuthConfig(client_id="1", redirect_uri=REDIRECT, authorization_url="http://auth.example/a")
    with pytest.raises(InsecureTransportError):
        OAuthConfig(client_id="1", redirect_uri="http://app.example/callback")
    with pytest.raises(ValueError, match="fragment"):
        OAuthConfig(client_id="1", redirect_uri="https://app.example/cb#x")
    with pytest.raises(ValueError, match="client_id"):
        OAuthConfig(client_id=" ", redirect_uri=REDIRECT)


# -- require_secure ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://oauth.deriv.com/oauth2/token",
        "wss://api.derivws.com/trading/v1/options/ws/public",
        "http://127.0.0.1:8080/token",
        "http://127.8.9.10/token",
        "http://[::1]:8080/token",
        "http://localhost:8080/token",
        "ws://127.0.0.1:8765/ws",
    ],
)
def test_require_secure_accepts_tls_and_loopback(url: str) -> None:
    assert require_secure(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/token",
        "ws://example.com/ws?otp=SECRET-OTP",
        "http://10.0.0.1/token",
        "http://localhost.example.com/token",
        "http://127.evil.example/token",
        "ftp://example.com/token",
        "https:///no-host",
    ],
)
def test_require_secure_refuses_plain_transport(url: str) -> None:
    with pytest.raises(InsecureTransportError) as caught:
        require_secure(url, "WebSocket endpoint")
    assert "SECRET-OTP" not in str(caught.value)
    assert "WebSocket endpoint" in str(caught.value)


# -- callbacks ---------------------------------------------------------------------------------


def test_bad_state_is_refused_before_any_token_request(server: TokenServer) -> None:
    config = config_for(server)
    client = OAuthClient(config)
    request = begin_authorization(config, ["trade"])
    good = authorize(server, request)
    state = request.state.reveal()

    with pytest.raises(OAuthStateError, match="does not match"):
        request.complete(f"{REDIRECT}?code=the-code&state=forged")
    with pytest.raises(OAuthStateError, match="no state"):
        request.complete(f"{REDIRECT}?code=the-code")
    with pytest.raises(OAuthStateError, match="no state"):
        request.complete({"code": "the-code", "state": ""})
    with pytest.raises(OAuthStateError, match="more than one"):
        request.complete(f"{REDIRECT}?code=the-code&state={state}&state={state}")
    with pytest.raises(OAuthStateError, match="does not match"):
        request.complete({"code": "the-code", "state": state + "x"})
    assert not request.completed  # a forged callback does not use up the request

    code = request.complete(good)
    assert code.code == "the-code" and "the-code" not in repr(code)
    with pytest.raises(OAuthStateError, match="already completed"):
        request.complete(good)  # reused
    with pytest.raises(OAuthStateError, match="another authorization request"):
        run(lambda: client.exchange(code, begin_authorization(config)))
    assert server.count() == 0

    run(lambda: client.exchange(code))
    with pytest.raises(OAuthStateError, match="already exchanged"):
        run(lambda: client.exchange(code))
    assert server.count() == 1


def test_callback_error_is_an_oauth_error(server: TokenServer) -> None:
    config = config_for(server)
    request = begin_authorization(config)
    state = request.state.reveal()
    with pytest.raises(OAuthStateError, match="error='access_denied'"):
        request.complete(f"{REDIRECT}?error=access_denied&state=wrong")
    with pytest.raises(OAuthError) as caught:
        request.complete(f"{REDIRECT}?error=access_denied&error_description=The+user+said+no&state={state}")
    assert caught.value.code == "access_denied"
    assert caught.value.description == "The user said no"
    assert request.completed
    with pytest.raises(OAuthStateError, match="already completed"):
        request.complete(f"{REDIRECT}?code=late&state={state}")

    other = begin_authorization(config)
    with pytest.raises(OAuthError, match="no authorization code"):
        other.complete({"state": other.state.reveal()})
    assert server.count() == 0


def test_callback_forms() -> None:
    params = CallbackParams.from_callback("http://127.0.0.1:1/cb?code=abc&state=xyz&state=2")
    assert params["code"] == "abc" and params.getall("state") == ["xyz", "2"]
    assert "abc" not in repr(params) and repr(params) == "CallbackParams(code=***, state=***)"
    assert dict(CallbackParams.from_callback("code=abc&state=x")) == {"code": "abc", "state": "x"}
    assert dict(CallbackParams.from_callback({"code": ["a"], "state": "s"})) == {"code": "a", "state": "s"}


# -- code exchange -----------------------------------------------------------------------------


def test_code_exchange_with_pkce(server: TokenServer) -> None:
    config = config_for(server)
    store = MemoryTokenStore()
    client = OAuthClient(config, store)
    request = begin_authorization(config, ["trade"])
    code = request.complete(authorize(server, request))

    async def exchange() -> TokenSet:
        async with httpx.AsyncClient() as http:
            return await OAuthClient(config, store, http).exchange(code, request)

    before = time.time()
    tokens = run(exchange)
    assert tokens.access_token == "access-1" and tokens.refresh_token == "refresh-1"
    assert tokens.expires_at is not None and tokens.expires_at >= before + 3600 - 1
    assert tokens.scopes == () and tokens.token_type == "Bearer"
    assert store.load() == tokens
    (sent,) = server.requests
    assert sent.path == "/oauth2/token"
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": REDIRECT,
        "client_id": "1234",
        "code_verifier": request.code_verifier.reveal(),
    }
    assert "authorization" not in sent.headers
    assert client.credentials(tokens).bearer_sync() == "access-1"


def test_code_exchange_with_a_wrong_verifier_fails(server: TokenServer) -> None:
    config = config_for(server)
    request = begin_authorization(config)
    params = query(request.url)
    server.register_code("the-code", s256(PKCE.generate().verifier.reveal()), REDIRECT)
    code = request.complete({"code": "the-code", "state": params["state"][0]})
    store = MemoryTokenStore()
    with pytest.raises(OAuthError) as caught:
        run(lambda: OAuthClient(config, store).exchange(code))
    assert (caught.value.code, caught.value.status) == ("invalid_grant", 400)
    assert store.load() is None


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_exchange_sync_authenticates_a_confidential_client(method: str) -> None:
    with TokenServer(client_secret="s3cr:t &x") as server:
        config = config_for(server, client_secret=Secret("s3cr:t &x"), client_auth=method)
        request = begin_authorization(config)
        code = request.complete(authorize(server, request))
        with httpx.Client() as http:
            tokens = OAuthClient(config, http_sync=http).exchange_sync(code)
        assert tokens.access_token == "access-1"
        (sent,) = server.requests
        if method == "client_secret_basic":
            assert sent.headers["authorization"].startswith("Basic ") and "client_secret" not in sent.form
        else:
            assert sent.form["client_secret"] == "s3cr:t &x" and "authorization" not in sent.headers

        wrong = config_for(server, client_secret=Secret("nope"), client_auth=method)
        request = begin_authorization(wrong)
        code = request.complete(authorize(server, request, "code-2"))
        with pytest.raises(OAuthError, match="invalid_client"):
            OAuthClient(wrong).exchange_sync(code)


def test_token_endpoint_failures_are_auth_errors() -> None:
    config = OAuthConfig(client_id="1234", redirect_uri=REDIRECT, token_url=closed_port_url())
    request = begin_authorization(config)
    code = request.complete({"code": "c", "state": request.state.reveal()})
    with pytest.raises(AuthError, match="cannot reach the token endpoint"):
        run(lambda: OAuthClient(config).exchange(code))

    with TokenServer() as server:
        server.gate = threading.Event()  # refresh answers wait: the client times out first
        server.add_refresh_token("refresh-0")
        client = OAuthClient(config_for(server), timeout=0.3)
        with pytest.raises(OAuthTimeout, match="did not answer"):
            run(lambda: client.refresh(expired()))
        with pytest.raises(OAuthTimeout):
            client.refresh_sync(expired())
        server.gate.set()

        server.force_error = (503, {"status": "down"})
        with pytest.raises(OAuthError, match="invalid_response") as caught:
            client.refresh_sync(expired())
        assert caught.value.status == 503


# -- refresh -----------------------------------------------------------------------------------


def test_ten_concurrent_callers_share_one_refresh(server: TokenServer) -> None:
    server.add_refresh_token("refresh-0")
    events: list[tuple[str, str]] = []
    store = RecordingStore(expired(), events)
    seen_by_server: list[str | None] = []

    def check(record: Any) -> None:  # while the refresh is being answered, nobody has the new token
        tokens = store.load()
        seen_by_server.append(tokens.access_token.reveal() if tokens else None)
        assert not any(kind == "got" for kind, _ in events)

    server.before_answer = check
    credentials = OAuthCredentials(OAuthClient(config_for(server), store))  # loads from the store
    store.watch = credentials
    assert isinstance(credentials, Credentials)

    async def caller() -> Secret:
        token = await credentials.bearer()
        events.append(("got", token.reveal()))
        return token

    async def scenario() -> list[Secret]:
        return await asyncio.gather(*(caller() for _ in range(10)))

    tokens = run(scenario)
    assert [t.reveal() for t in tokens] == ["access-1"] * 10
    assert server.count("refresh_token") == 1 and credentials.refreshes == 1
    assert seen_by_server == ["access-0"]
    assert events[0] == ("saved", "access-1")
    assert events[1:] == [("got", "access-1")] * 10
    loaded = store.load()
    assert loaded is not None and loaded.refresh_token == "refresh-1"
    assert server.requests[0].form == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-0",
        "client_id": "1234",
    }

    assert run(credentials.bearer) == "access-1"  # still fresh: no request
    assert server.count() == 1


def test_ten_threads_share_one_refresh(server: TokenServer) -> None:
    server.add_refresh_token("refresh-0")
    events: list[tuple[str, str]] = []
    store = RecordingStore(expired(), events)
    credentials = OAuthClient(config_for(server), store).credentials()
    store.watch = credentials
    server.gate = threading.Event()
    barrier = threading.Barrier(11, timeout=10)
    results: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def caller() -> None:
        try:
            barrier.wait()
            token = credentials.bearer_sync()
            with lock:
                events.append(("got", token.reveal()))
                results.append(token.reveal())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(10)]
    for thread in threads:
        thread.start()
    barrier.wait()
    server.gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not failures
    assert results == ["access-1"] * 10
    assert server.count("refresh_token") == 1
    assert events[0] == ("saved", "access-1") and len(events) == 11


def test_invalidate_refreshes_once_and_ignores_stale_tokens(server: TokenServer) -> None:
    server.add_refresh_token("refresh-0")
    credentials = OAuthCredentials(OAuthClient(config_for(server)), fresh())

    async def scenario() -> None:
        rejected = await credentials.bearer()
        assert rejected == "access-0"
        await asyncio.gather(*(credentials.invalidate(rejected) for _ in range(10)))  # a burst of 401s
        assert await credentials.bearer() == "access-1"
        await credentials.invalidate(rejected)  # an old token: already rotated, nothing to do
        assert await credentials.bearer() == "access-1"

    run(scenario)
    assert server.count("refresh_token") == 1
    credentials.invalidate_sync(Secret("access-1"))
    assert credentials.bearer_sync() == "access-2"
    assert credentials.authorization_sync() == "Bearer access-2"
    assert server.count("refresh_token") == 2


def test_expiry_uses_expires_in_with_skew(server: TokenServer) -> None:
    now = [1_000_000.0]
    config = config_for(server)
    client = OAuthClient(config, clock=lambda: now[0])
    request = begin_authorization(config)
    tokens = client.exchange_sync(request.complete(authorize(server, request)))
    assert tokens.expires_at == 1_000_000.0 + 3600
    credentials = client.credentials(tokens, skew=30)
    now[0] += 3600 - 31
    assert credentials.bearer_sync() == "access-1"
    now[0] += 2  # inside the skew
    assert credentials.bearer_sync() == "access-2"
    assert server.count("refresh_token") == 1


def test_failed_refresh_is_shared_and_reported(server: TokenServer) -> None:
    credentials = OAuthCredentials(OAuthClient(config_for(server)), expired(refresh="revoked"))

    async def scenario() -> list[Any]:
        return await asyncio.gather(*(credentials.bearer() for _ in range(10)), return_exceptions=True)

    results = run(scenario)
    assert all(isinstance(r, OAuthError) and r.code == "invalid_grant" for r in results)
    assert server.count() == 1


def test_without_a_refresh_token_an_expired_or_rejected_token_means_authorize_again(
    server: TokenServer,
) -> None:
    credentials = OAuthCredentials(OAuthClient(config_for(server)), expired(refresh=None))
    with pytest.raises(AuthError, match="expired and there is no refresh token"):
        credentials.bearer_sync()
    credentials = OAuthCredentials(OAuthClient(config_for(server)), fresh(refresh=None))
    with pytest.raises(AuthError, match="rejected and there is no refresh token"):
        run(lambda: credentials.invalidate(Secret("access-0")))
    with pytest.raises(AuthError, match="no OAuth tokens yet"):
        OAuthCredentials(OAuthClient(config_for(server))).bearer_sync()
    assert server.count() == 0


def test_a_failed_save_keeps_the_rotated_tokens_for_the_next_attempt(server: TokenServer) -> None:
    server.add_refresh_token("refresh-0")
    store = FailingStore(expired(), failures=1)
    credentials = OAuthCredentials(OAuthClient(config_for(server), store))
    with pytest.raises(TokenStoreError):
        run(credentials.bearer)
    stored = store.load()
    assert stored is not None and stored.access_token == "access-0"  # the old set is still stored
    assert run(credentials.bearer) == "access-1"  # saved now, without asking the server again
    assert server.count() == 1
    stored = store.load()
    assert stored is not None and stored.access_token == "access-1"


def test_tokens_refreshed_by_another_process_are_picked_up(server: TokenServer) -> None:
    store = MemoryTokenStore(fresh("access-9", "refresh-9"))
    credentials = OAuthCredentials(OAuthClient(config_for(server), store), expired())
    assert credentials.bearer_sync() == "access-9"
    assert server.count() == 0


def test_refresh_without_rotation_keeps_the_refresh_token() -> None:
    with TokenServer(rotate_refresh=False) as server:
        server.add_refresh_token("refresh-0")
        tokens = OAuthClient(config_for(server)).refresh_sync(expired())
        assert tokens.access_token == "access-1" and tokens.refresh_token == "refresh-0"


def test_personal_access_token() -> None:
    pat = PersonalAccessToken("pat-value-123")
    assert isinstance(pat, Credentials)
    assert "pat-value" not in repr(pat) and "pat-value" not in str(pat)
    assert run(pat.bearer) == "pat-value-123" and pat.bearer_sync() == "pat-value-123"
    assert run(pat.authorization) == "Bearer pat-value-123" == pat.authorization_sync()
    run(lambda: pat.invalidate(Secret("pat-value-123")))  # nothing to refresh: same token after
    assert pat.bearer_sync() == "pat-value-123"
    assert PersonalAccessToken("pasted-token\n").bearer_sync() == "pasted-token"
    with pytest.raises(ValueError, match="empty"):
        PersonalAccessToken(" ")
    with pytest.raises(AuthError, match="not allowed"):
        PersonalAccessToken("abc\r\nX-Injected: 1")
    with pytest.raises(AuthError, match="not allowed"):
        authorization_header(Secret("a b"))


# -- loopback listener -------------------------------------------------------------------------


def test_loopback_listener_delivers_one_callback() -> None:
    with LoopbackRedirect() as listener:
        assert listener.redirect_uri == f"http://127.0.0.1:{listener.port}/callback"
        config = OAuthConfig(client_id="1234", redirect_uri=listener.redirect_uri)
        request = begin_authorization(config)
        listener.expect(request)
        state = request.state.reveal()
        with httpx.Client() as http:
            assert http.get(f"http://127.0.0.1:{listener.port}/favicon.ico").status_code == 404
            assert http.get(listener.redirect_uri).status_code == 400  # no parameters
            first = http.get(listener.redirect_uri, params={"code": "code-1", "state": state})
            assert first.status_code == 200 and "close this window" in first.text
            assert first.headers["cache-control"] == "no-store"
            assert "code-1" not in first.text
            second = http.get(listener.redirect_uri, params={"code": "code-2", "state": state})
            assert second.status_code == 409
        params = listener.wait_sync(request, timeout=5)
        assert params["code"] == "code-1"
        assert listener.wait_sync(request, timeout=5) is params
        assert request.complete(params).code == "code-1"
    assert listener.closed


def test_loopback_listener_async_wait() -> None:
    async def scenario() -> CallbackParams:
        async with LoopbackRedirect(path="/oauth/done") as listener:
            waiting = asyncio.ensure_future(listener.wait("s-1", timeout=5))
            await asyncio.sleep(0)
            async with httpx.AsyncClient() as http:
                answer = await http.get(listener.redirect_uri + "?code=c&state=s-1")
            assert answer.status_code == 200
            return await waiting

    params = run(scenario)
    assert params["code"] == "c"


def test_loopback_listener_times_out_and_closes() -> None:
    listener = LoopbackRedirect(timeout=0.2).start()
    port = listener.port
    with pytest.raises(OAuthTimeout, match="no redirect arrived"):
        listener.wait_sync("state")
    assert listener.closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

    async def scenario() -> None:
        async with LoopbackRedirect() as other:
            with pytest.raises(OAuthTimeout):
                await other.wait("state", timeout=0.2)
            assert other.closed

    run(scenario)


def test_loopback_listener_is_loopback_only() -> None:
    for host in ("0.0.0.0", "192.168.1.1", "localhost", "::"):
        with pytest.raises(ValueError, match="loopback"):
            LoopbackRedirect(host=host)
    with LoopbackRedirect() as listener:
        assert listener._server is not None
        assert listener._server.server_address[0] == "127.0.0.1"
        with httpx.Client() as http:
            rebound = http.get(listener.redirect_uri + "?code=x&state=y", headers={"Host": "evil.example"})
            assert rebound.status_code == 400  # DNS rebinding: refused, and not consumed
            assert http.get(listener.redirect_uri + "?code=x&state=y").status_code == 200
    with pytest.raises(AuthError, match="not started"):
        _ = LoopbackRedirect().redirect_uri


# -- token stores ------------------------------------------------------------------------------


def test_file_store_round_trip_is_private_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "tokens.json"
    store = FileTokenStore(path)
    assert store.load() is None
    tokens = TokenSet(Secret("a-1"), refresh_token=Secret("r-1"), expires_at=123.5, scopes=("trade",))
    store.save(tokens)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load() == tokens
    newer = fresh()
    store.save(newer)
    assert store.load() == newer
    assert os.listdir(path.parent) == ["tokens.json"]
    assert "a-1" not in repr(store) and "a-1" not in repr(tokens)


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_file_store_leaves_no_temp_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    store.save(TokenSet(Secret("old")))

    def boom(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(TokenStoreError, match="No space left"):
        store.save(TokenSet(Secret("new")))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["tokens.json"]
    loaded = store.load()
    assert loaded is not None and loaded.access_token == "old"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_file_store_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    store.save(TokenSet(Secret("secret-access")))
    path.chmod(0o644)
    with pytest.raises(TokenStoreError, match="chmod 600") as caught:
        store.load()
    assert "secret-access" not in str(caught.value)
    path.chmod(0o600)
    assert store.load() is not None
    path.write_text("{not json")
    with pytest.raises(TokenStoreError, match="not a valid token set"):
        store.load()


# -- no secret anywhere ------------------------------------------------------------------------

CANARIES = {
    "pat": "CANARY-PAT-7f3a9",
    "access": "CANARY-ACCESS-51c2",
    "refresh": "CANARY-REFRESH-88d1",
    "code": "CANARY-CODE-0b7e",
    "verifier": "CANARY-VERIFIER-" + "v" * 40,
    "client_secret": "CANARY-CLIENT-SECRET-e41",
}


def test_no_secret_reaches_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "deriv_runtime", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    texts: list[str] = []
    errors: list[BaseException] = []

    def expect_error(kind: type[BaseException], action: Callable[[], object]) -> None:
        with pytest.raises(kind) as caught:
            action()
        errors.append(caught.value)

    pat = PersonalAccessToken(CANARIES["pat"])
    texts += [repr(pat), str(pat), repr(run(pat.bearer))]

    with TokenServer(
        client_secret=CANARIES["client_secret"],
        access_prefix=CANARIES["access"],
        refresh_prefix=CANARIES["refresh"],
    ) as server:
        server.echo_secrets = True  # a careless server that quotes what it was sent
        store = FileTokenStore(tmp_path / "tokens.json")
        with LoopbackRedirect() as listener:
            config = OAuthConfig(
                client_id=server.client_id,
                redirect_uri=listener.redirect_uri,
                token_url=server.token_url,
                client_secret=Secret(CANARIES["client_secret"]),
            )
            client = OAuthClient(config, store)
            request = begin_authorization(config, ["trade"], pkce=PKCE(CANARIES["verifier"]))
            server.register_code(
                CANARIES["code"], challenge_s256(CANARIES["verifier"]), listener.redirect_uri
            )
            callback = f"{listener.redirect_uri}?code={CANARIES['code']}&state={request.state.reveal()}"
            with urllib.request.urlopen(callback, timeout=5) as answer:  # (httpx would log this URL)
                assert answer.status == 200
            params = listener.wait_sync(request, timeout=5)
            texts += [repr(listener), repr(params), str(params), repr(request)]
        code = request.complete(params)
        texts += [repr(code), str(code), repr(request.pkce), repr(config), repr(client)]
        tokens = run(lambda: client.exchange(code))
        credentials = client.credentials(tokens)
        texts += [repr(tokens), str(tokens), repr(credentials), repr(store)]
        texts += [repr(run(credentials.bearer)), repr(store.load())]
        expect_error(OAuthStateError, lambda: run(lambda: client.exchange(code)))

        # a refresh, the sync twin, then failing paths whose server answers quote our secrets
        run(lambda: credentials.invalidate(tokens.access_token))
        credentials.invalidate_sync(credentials.bearer_sync())
        texts.append(repr(credentials.tokens))
        dead = TokenSet(Secret(CANARIES["access"] + "-old"), refresh_token=Secret(CANARIES["refresh"] + "-1"))
        expect_error(OAuthError, lambda: client.refresh_sync(dead))
        expect_error(OAuthError, lambda: run(lambda: client.refresh(dead)))
        request = begin_authorization(config, pkce=PKCE(CANARIES["verifier"]))
        server.register_code(CANARIES["code"] + "-2", s256("x" * 43), listener.redirect_uri)
        bad = request.complete({"code": CANARIES["code"] + "-2", "state": request.state.reveal()})
        expect_error(OAuthError, lambda: run(lambda: client.exchange(bad)))
        expect_error(
            OAuthStateError,
            lambda: begin_authorization(config).complete({"code": CANARIES["code"], "state": "x"}),
        )
        unreachable = OAuthClient(
            OAuthConfig(client_id="1", redirect_uri=REDIRECT, token_url=closed_port_url())
        )
        expect_error(AuthError, lambda: unreachable.refresh_sync(dead))
        expect_error(
            InsecureTransportError, lambda: require_secure(f"ws://example.com/ws?otp={CANARIES['pat']}")
        )
        (tmp_path / "tokens.json").chmod(0o644)
        expect_error(TokenStoreError, store.load)
        expect_error(TypeError, lambda: pickle.dumps(tokens))

    assert any("CANARY" in r.form.get("code", "") for r in server.requests)  # the flows did run
    descriptions = [e.description for e in errors if isinstance(e, OAuthError)]
    assert any(d and "***" in d for d in descriptions)  # an echoed secret was masked
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += ["".join(traceback.format_exception(e)) for e in errors]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    assert any(record.name.startswith("httpx") for record in caplog.records)  # httpx did log at DEBUG
    out, err = capfd.readouterr()
    texts += [out, err]
    everything = "\n".join(texts)
    for name, canary in CANARIES.items():
        assert canary not in everything, f"the {name} leaked"
