"""Deriv v3 sign-in: the v3 WebSocket URL, the OAuth and sign-up URLs, referral links, the
``acct1/token1/cur1`` redirect (the seed's examples, and malformed input), and the loopback listener
for command-line apps (real HTTP requests to a real listener)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from deriv_runtime.auth import CallbackParams, InsecureTransportError, OAuthError, OAuthTimeout
from deriv_runtime.auth.legacy import LegacyAuth
from deriv_runtime.auth.legacy_oauth import (
    LegacyLoopbackRedirect,
    OAuthAccount,
    RedirectError,
    ReferralLinkError,
    ReferralTag,
    oauth_url,
    parse_redirect,
    referral_tag,
    signup_url,
)
from deriv_runtime.auth.secret import Secret
from deriv_runtime.legacy import v3_url

CR = "a1-f7pnteezo4jzhpxclctizt27hyeot"
VR = "a1clwe3vfuuus5kraceykdsoqm4snfq"
#: The seed's redirect example, stray spaces and all.
SEED_REDIRECT = (
    f"https://example.com/redirect/?acct1=cr799393& token1={CR}&cur1=usd& acct2=vrtc1859315& "
    f"token2={VR}& cur2=usd"
)
SIDC_LINK = (
    "https://deriv.com/signup?sidc=FB58247C-6B33-4677-A6AD-168C2D72323C&utm_campaign=dynamicworks"
    "&utm_medium=affiliate&utm_source=CU00001"
)
TRACK_LINK = "https://track.deriv.com/_jqd7qq_iBB18zg8lBvFoLmNd7ZgqdRLk/1/"
CANARY = "canary-redirect-token-7Hq2"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


# -- the v3 WebSocket URL ---------------------------------------------------------------------------


def test_v3_url_with_app_id_language_brand_and_endpoint() -> None:
    assert v3_url(1089) == "wss://ws.derivws.com/websockets/v3?app_id=1089"
    assert v3_url("1089", language="zh_cn", brand="deriv") == (
        "wss://ws.derivws.com/websockets/v3?app_id=1089&l=ZH_CN&brand=deriv"
    )
    assert v3_url(1, endpoint="green.derivws.com") == "wss://green.derivws.com/websockets/v3?app_id=1"
    assert (
        v3_url(1, endpoint="ws://127.0.0.1:8765/websockets/v3")
        == "ws://127.0.0.1:8765/websockets/v3?app_id=1"
    )


@pytest.mark.parametrize("app_id", [0, -1, True, "12a", "", " ", "1.5", 2**31, "١٢", 1.0, None])
def test_v3_url_refuses_a_bad_app_id(app_id: Any) -> None:
    with pytest.raises(ValueError, match="app_id"):
        v3_url(app_id)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"language": "english"}, "language"),
        ({"language": "E"}, "language"),
        ({"brand": "Deriv!"}, "brand"),
        ({"endpoint": "ws://ws.derivws.com/websockets/v3"}, "wss://"),
        ({"endpoint": "https://ws.derivws.com/websockets/v3"}, "wss://"),
        ({"endpoint": "wss://ws.derivws.com/websockets/v3?app_id=1"}, "no query"),
        ({"endpoint": "wss://user:pw@ws.derivws.com/websockets/v3"}, "credentials"),
        ({"endpoint": "not a host"}, "host name"),
        ({"endpoint": "wss:///v3"}, "no host"),
    ],
)
def test_v3_url_refuses_bad_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        v3_url(1089, **options)


# -- OAuth and sign-up URLs -------------------------------------------------------------------------


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_oauth_url_as_the_seed_builds_it() -> None:
    assert oauth_url(1089) == "https://oauth.deriv.com/oauth2/authorize?app_id=1089"
    assert oauth_url(1089, language="ZH_CN").endswith("?app_id=1089&l=ZH_CN")
    tagged = oauth_url(1089, affiliate_token="YOUR_TOKEN", utm_campaign="YOUR_CAMPAIGN")
    assert tagged == (
        "https://oauth.deriv.com/oauth2/authorize?app_id=1089&affiliate_token=YOUR_TOKEN&utm_campaign=YOUR_CAMPAIGN"
    )
    assert oauth_url(1089, referral=referral_tag(SIDC_LINK)) == (
        "https://oauth.deriv.com/oauth2/authorize?app_id=1089"
        "&affiliate_token=FB58247C-6B33-4677-A6AD-168C2D72323C&utm_campaign=dynamicworks"
    )
    assert oauth_url(1089, referral=referral_tag(TRACK_LINK)) == (
        "https://oauth.deriv.com/oauth2/authorize?app_id=1089"
        "&affiliate_token=jqd7qq_iBB18zg8lBvFoLmNd7ZgqdRLk&utm_campaign=myaffiliates"
    )
    every = oauth_url(
        1089,
        language="en",
        referral=ReferralTag("tok", "spring sale"),
        utm_medium="affiliate",
        utm_source="CU00001",
        utm_content="banner.1",
        utm_term="forex",
    )
    assert query(every) == [
        ("app_id", "1089"),
        ("l", "EN"),
        ("affiliate_token", "tok"),
        ("utm_campaign", "spring sale"),
        ("utm_content", "banner.1"),
        ("utm_medium", "affiliate"),
        ("utm_source", "CU00001"),
        ("utm_term", "forex"),
    ]
    assert "spring%20sale" in every


def test_oauth_url_refuses_what_deriv_would_not_record() -> None:
    with pytest.raises(ValueError, match="app_id"):
        oauth_url(0)
    with pytest.raises(ValueError, match="unknown UTM parameter"):
        oauth_url(1089, utm_campain="typo")
    with pytest.raises(ValueError, match="utm_source must be"):
        oauth_url(1089, utm_source="a&b=c")
    with pytest.raises(ValueError, match="utm_campaign must be"):
        oauth_url(1089, utm_campaign="x" * 101)
    with pytest.raises(ValueError, match="affiliate_token"):
        oauth_url(1089, affiliate_token="not/a/token")
    with pytest.raises(ValueError, match="not both"):
        oauth_url(1089, referral=ReferralTag("t", "c"), affiliate_token="t")
    with pytest.raises(ValueError, match="not both"):
        oauth_url(1089, referral=ReferralTag("t", "c"), utm_campaign="d")
    with pytest.raises(InsecureTransportError):
        oauth_url(1089, endpoint="http://oauth.deriv.com/oauth2/authorize")
    assert oauth_url(1089, endpoint="http://127.0.0.1:9/authorize").startswith(
        "http://127.0.0.1:9/authorize?"
    )


def test_signup_url_names_the_token_t() -> None:
    assert signup_url(affiliate_token="YOUR_TOKEN", utm_campaign="YOUR_CAMPAIGN") == (
        "https://hub.deriv.com/tradershub/signup?t=YOUR_TOKEN&utm_campaign=YOUR_CAMPAIGN"
    )
    assert signup_url(referral_tag(TRACK_LINK)) == (
        "https://hub.deriv.com/tradershub/signup?t=jqd7qq_iBB18zg8lBvFoLmNd7ZgqdRLk&utm_campaign=myaffiliates"
    )
    with pytest.raises(ValueError, match="needs the affiliate token"):
        signup_url()


# -- referral links ------------------------------------------------------------------------------------


def test_referral_links_in_both_forms_of_the_seed() -> None:
    assert referral_tag(SIDC_LINK) == ReferralTag("FB58247C-6B33-4677-A6AD-168C2D72323C", "dynamicworks")
    assert referral_tag(TRACK_LINK) == ReferralTag("jqd7qq_iBB18zg8lBvFoLmNd7ZgqdRLk", "myaffiliates")
    # the same, written a little differently
    assert referral_tag(" https://TRACK.deriv.com/_jqd7qq_iBB18zg8lBvFoLmNd7ZgqdRLk/1 ") == referral_tag(
        TRACK_LINK
    )
    assert (
        referral_tag("https://www.deriv.com/signup/?utm_campaign=dynamicworks&sidc=ABC-1").affiliate_token
        == "ABC-1"
    )


@pytest.mark.parametrize(
    ("link", "match"),
    [
        ("not a link", "not an http"),
        ("ftp://deriv.com/signup?sidc=A&utm_campaign=b", "not an http"),
        ("https://example.com/signup?sidc=A&utm_campaign=b", "not a Deriv referral link"),
        ("https://deriv.com.evil.example/signup?sidc=A&utm_campaign=b", "not a Deriv referral link"),
        ("https://evilderiv.com/signup?sidc=A&utm_campaign=b", "not a Deriv referral link"),
        ("https://deriv.com/signup?utm_campaign=b", "has no sidc"),
        ("https://deriv.com/signup?sidc=&utm_campaign=b", "has no sidc"),
        ("https://deriv.com/signup?sidc=A&sidc=B&utm_campaign=b", "repeats sidc"),
        ("https://deriv.com/signup?sidc=A", "has no utm_campaign"),
        ("https://deriv.com/signup?sidc=A%2FB&utm_campaign=b", "malformed"),
        ("https://deriv.com/signup?sidc=A&utm_campaign=%3Cscript%3E", "malformed"),
        ("https://track.deriv.com/jqd7qq/1/", "has the form"),
        ("https://track.deriv.com/_jqd7qq/", "has the form"),
        ("https://track.deriv.com/_jq/d7/1/", "has the form"),
        ("https://[::1/x", "not a URL"),
    ],
)
def test_malformed_referral_links_are_refused(link: str, match: str) -> None:
    with pytest.raises(ReferralLinkError, match=match):
        referral_tag(link)


# -- the redirect --------------------------------------------------------------------------------------


def test_the_seeds_redirect_becomes_typed_accounts() -> None:
    accounts = parse_redirect(SEED_REDIRECT)
    assert accounts == (
        OAuthAccount("cr799393", Secret(CR), "usd"),
        OAuthAccount("vrtc1859315", Secret(VR), "usd"),
    )
    assert all(isinstance(a.token, Secret) for a in accounts)
    assert CR not in repr(accounts) and VR not in str(accounts)
    # the same from the query alone, a mapping, the listener's parameters, or without the spaces
    same = [
        SEED_REDIRECT.split("?", 1)[1],
        "?" + SEED_REDIRECT.split("?", 1)[1],
        {
            "acct1": "cr799393",
            "token1": CR,
            "cur1": "usd",
            "acct2": "vrtc1859315",
            "token2": VR,
            "cur2": ["usd"],
        },
        CallbackParams.from_query(SEED_REDIRECT.split("?", 1)[1]),
        SEED_REDIRECT.replace(" ", ""),
        SEED_REDIRECT.replace(" ", "%20"),
        "https://example.com/redirect/#" + SEED_REDIRECT.split("?", 1)[1],
    ]
    for redirect in same:
        assert parse_redirect(redirect) == accounts, redirect
    # unknown parameters are ignored, the currency may be absent
    assert parse_redirect(f"acct1=CR1&token1={CR}&lang=EN") == (OAuthAccount("CR1", Secret(CR), None),)
    # authorize the first account; switch to the other by loginid
    auth = LegacyAuth.from_accounts(accounts, "VRTC1859315")
    assert "VRTC" not in repr(auth)  # not authorized yet
    with pytest.raises(ValueError, match="no account"):
        LegacyAuth.from_accounts(())


@pytest.mark.parametrize(
    ("redirect", "match"),
    [
        ("", "no account"),
        ("https://example.com/redirect/", "no account"),
        ("lang=EN", "no account"),
        (f"token1={CANARY}&cur1=usd", "no acct1"),
        ("acct1=CR1&cur1=usd", "no token1"),
        ("acct1=CR1&token1=", "no token1"),
        (f"acct1=CR1&token1={CANARY}&acct3=CR3&token3={CANARY}x", "account 2 is missing"),
        (f"acct2=CR2&token2={CANARY}", "account 1 is missing"),
        (f"acct1=CR1&token1={CANARY}&token1={CANARY}", "token1 twice"),
        (f"acct1=CR1&token1={CANARY}!", "token1 is not a Deriv token"),
        (f"acct1=CR1&token1={'x' * 129}", "token1 is not a Deriv token"),
        (f"acct1=1CR&token1={CANARY}", "acct1 is not a login id"),
        (f"acct1=CR1&token1={CANARY}&cur1=US$", "cur1 is not a currency"),
        (f"acct1=CR1&token1={CANARY}&acct2=cr1&token2={CANARY}x", "acct2 repeats"),
        ("&".join(f"x{i}=1" for i in range(400)), "more than"),
    ],
)
def test_malformed_redirects_are_refused_without_their_values(redirect: str, match: str) -> None:
    with pytest.raises(RedirectError, match=match) as refused:
        parse_redirect(redirect)
    assert CANARY not in str(refused.value) and "x" * 50 not in str(refused.value)


def test_a_declined_sign_in_is_an_oauth_error() -> None:
    with pytest.raises(OAuthError) as declined:
        parse_redirect("error=access_denied&error_description=The+user+said+no")
    assert declined.value.code == "access_denied"
    with pytest.raises(TypeError):
        parse_redirect(42)  # type: ignore[arg-type]


# -- the loopback listener ----------------------------------------------------------------------------------


def test_the_listener_needs_an_unguessable_path() -> None:
    with pytest.raises(ValueError, match="unguessable"):
        LegacyLoopbackRedirect(0, "/callback")
    path = LegacyLoopbackRedirect.new_path()
    assert path.startswith("/deriv-redirect/") and len(path) > 40
    assert path != LegacyLoopbackRedirect.new_path()
    LegacyLoopbackRedirect(0, "/callback", allow_guessable_path=True).close()
    with pytest.raises(ValueError, match="loopback"):
        LegacyLoopbackRedirect(0, path, host="0.0.0.0")


def test_the_listener_ends_with_the_first_well_formed_redirect() -> None:
    async def scenario() -> None:
        async with LegacyLoopbackRedirect(0, LegacyLoopbackRedirect.new_path(), timeout=10) as listener:
            assert listener.redirect_uri.startswith("http://127.0.0.1:")
            assert listener.path not in repr(listener)  # the path is the secret
            with pytest.raises(TypeError, match="no state"):
                listener.expect("some-state")
            waiting = asyncio.ensure_future(listener.accounts())
            await asyncio.sleep(0.05)
            base = f"http://127.0.0.1:{listener.port}"
            async with httpx.AsyncClient() as http:
                other = await http.get(f"{base}/callback", params={"acct1": "CR9", "token1": CANARY})
                assert other.status_code == 404 and CANARY not in other.text
                broken = await http.get(
                    listener.redirect_uri, params={"acct1": "CR9", "token1": CANARY + "!"}
                )
                assert broken.status_code == 400 and CANARY not in broken.text
                empty = await http.get(listener.redirect_uri)
                assert empty.status_code == 400
                foreign = await http.get(
                    listener.redirect_uri,
                    params={"acct1": "CR9", "token1": CANARY},
                    headers={"Host": "evil.example"},
                )
                assert foreign.status_code == 400
                await asyncio.sleep(0.05)
                assert not waiting.done() and not listener.closed
                right = await http.get(listener.redirect_uri + "?" + SEED_REDIRECT.split("?", 1)[1])
                assert right.status_code == 200 and CR not in right.text
                accounts = await waiting
                assert [a.loginid for a in accounts] == ["cr799393", "vrtc1859315"]
                assert accounts[0].token == CR
                later = await http.get(listener.redirect_uri, params={"acct1": "CR9", "token1": CANARY})
                assert later.status_code == 409
                assert await listener.accounts() == accounts  # the same on every call

    run(scenario())


def test_the_listener_reports_a_declined_sign_in_and_times_out() -> None:
    async def scenario() -> None:
        async with LegacyLoopbackRedirect(0, LegacyLoopbackRedirect.new_path(), timeout=10) as listener:
            waiting = asyncio.ensure_future(listener.accounts())
            await asyncio.sleep(0.05)
            async with httpx.AsyncClient() as http:
                answer = await http.get(listener.redirect_uri, params={"error": "access_denied"})
                assert answer.status_code == 200 and "access_denied" in answer.text
            with pytest.raises(OAuthError) as declined:
                await waiting
            assert declined.value.code == "access_denied"

    run(scenario())

    with LegacyLoopbackRedirect(0, LegacyLoopbackRedirect.new_path()) as listener:
        started = time.monotonic()
        with pytest.raises(OAuthTimeout, match="no redirect arrived"):
            listener.accounts_sync(timeout=0.5)
        assert 0.4 <= time.monotonic() - started < 10
        assert listener.closed


def test_the_listener_serves_blocking_code() -> None:
    with LegacyLoopbackRedirect(0, LegacyLoopbackRedirect.new_path(), timeout=10) as listener:

        def browser() -> None:
            time.sleep(0.05)
            httpx.get(f"{listener.redirect_uri}?acct1=CR5&token1={CANARY}&cur1=USD")

        thread = threading.Thread(target=browser)
        thread.start()
        (account,) = listener.accounts_sync()
        thread.join()
        assert account.loginid == "CR5" and account.currency == "USD" and account.token == CANARY
