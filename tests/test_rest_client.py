"""The generated REST clients and the auth flows end to end, against the mock on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deriv_runtime.auth import (
    LoopbackRedirect,
    MemoryTokenStore,
    OAuthClient,
    OAuthConfig,
    PersonalAccessToken,
    begin_authorization,
)
from deriv_runtime.errors import (
    BadRequest,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    RestError,
    ServerError,
    TransportError,
    Unauthorized,
    UnprocessableEntity,
)
from deriv_runtime.mock import MockDeriv

from .conftest import CONTRACT_PARAMS

PAT = "pat-CANARY-7d1f0c"
APP_ID = "10000"
PARAMS: dict[str, Any] = dict(CONTRACT_PARAMS)


@pytest.fixture
def mock(deriv_options_dist: Path) -> Iterator[MockDeriv]:
    with MockDeriv("deriv_options", pats=[PAT], tick_interval=0.005, seed=3).run_in_thread() as running:
        yield running


def run(coro: Any, timeout: float = 30) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def operation_kwargs(mock: MockDeriv) -> dict[str, dict[str, Any]]:
    account = mock.demo_account_id
    return {
        "list_accounts": {},
        "create_account": {"currency": "USD", "group": "row", "account_type": "demo"},
        "reset_demo_balance": {"account_id": account},
        "get_websocket_otp": {"account_id": account},
        "bulk_purchase_demo": {
            "contract_parameters": dict(PARAMS),
            "accounts": [{"token": PAT, "account_id": account}],
        },
        "get_options_legacy_statement": {"loginid": "CR90000001"},
        "get_options_legacy_accounts": {},
        "get_options_legacy_migration_status": {},
        "get_markup_statistics": {"date_from": "2026-01-01", "date_to": "2026-01-31"},
        "get_health": {},
        "list_payment_agents": {"currency": "USD"},
        "get_payment_agent": {"id": "1001"},
        "get_agent_statistics": {},
        "get_nickname": {},
    }


def test_every_operation_async_and_sync(mock: MockDeriv) -> None:
    from deriv_options import OptionsRestClient, OptionsRestSyncClient
    from deriv_options.rest import _operations

    table = operation_kwargs(mock)
    credentials = PersonalAccessToken(PAT)
    covered: set[str] = set()

    async def async_side() -> None:
        async with OptionsRestClient(
            app_id=APP_ID, credentials=credentials, base_url=mock.rest_url, strict=True
        ) as api:
            for name, kwargs in table.items():
                answer = await getattr(api, name)(**kwargs)
                assert answer is None or type(answer).__module__ == "deriv_options.rest_models", name
                covered.add(name)

    run(async_side())
    with OptionsRestSyncClient(
        app_id=APP_ID, credentials=credentials, base_url=mock.rest_url, strict=True
    ) as api:
        for name, kwargs in table.items():
            answer = getattr(api, name)(**kwargs)
            assert answer is None or type(answer).__module__ == "deriv_options.rest_models", name
    with OptionsRestSyncClient(
        app_id=APP_ID, credentials=credentials, base_url=mock.rest_url, strict=True
    ) as api:
        real = api.create_account(currency="USD", group="row", account_type="real")
        created = real.data[0] if isinstance(real.data, list) else real.data
        real_id = created.account_id if created else None
        assert real_id
        api.bulk_purchase_real(
            contract_parameters=dict(PARAMS), accounts=[{"token": PAT, "account_id": real_id}]
        )
        covered.add("bulk_purchase_real")
    untested = (
        set(_operations())
        - covered
        - {  # need a verification code first: test_payment_agent_operations_async_and_sync
            "payment_agent_transfer",
            "payment_agent_withdraw",
            "payment_agent_withdraw_verification_code",
            "get_payment_agent_withdrawal",
        }
    )
    assert untested == set()


def test_typed_answers(mock: MockDeriv) -> None:
    from deriv_options import OptionsRestSyncClient

    with OptionsRestSyncClient(
        app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=mock.rest_url
    ) as api:
        accounts = api.list_accounts()
        assert mock.demo_account_id in [a.account_id for a in accounts.data or []]
        otp = api.get_websocket_otp(account_id=mock.demo_account_id)
        assert otp.data is not None and otp.data.url is not None
        assert "otp=" not in repr(otp)  # the OTP URL is a secret
        assert otp.data.url.get_secret_value().startswith("ws://127.0.0.1:")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (422, UnprocessableEntity),
        (429, RateLimited),
        (500, ServerError),
        (504, ServerError),
    ],
)
def test_each_error_status_has_its_exception(mock: MockDeriv, status: int, error: type[RestError]) -> None:
    from deriv_options import OptionsRestClient, OptionsRestSyncClient

    key = "GET /trading/v1/options/accounts"
    mock.fail_next(status, key, count=2, retry_after=7 if status == 429 else None)
    with OptionsRestSyncClient(
        app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=mock.rest_url
    ) as api:
        with pytest.raises(error) as err:
            api.list_accounts()
    assert err.value.status == status and err.value.code
    if status == 429:
        assert isinstance(err.value, RateLimited) and err.value.retry_after == 7

    async def async_side() -> None:
        async with OptionsRestClient(
            app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=mock.rest_url
        ) as api:
            with pytest.raises(error):
                await api.list_accounts()

    run(async_side())


def test_missing_credentials_and_app_id_are_caught_before_sending(mock: MockDeriv) -> None:
    from deriv_options import OptionsRestSyncClient

    with OptionsRestSyncClient(app_id=APP_ID, base_url=mock.rest_url) as api:
        with pytest.raises(ValueError, match="needs authentication"):
            api.list_accounts()
        assert api.get_health() is not None  # public
    with OptionsRestSyncClient(credentials=PersonalAccessToken(PAT), base_url=mock.rest_url) as api:
        with pytest.raises(ValueError, match="app_id"):
            api.list_accounts()
    before = len(mock.rest_requests)
    assert len(mock.rest_requests) == before


def test_plain_http_is_refused_for_credentials_except_loopback() -> None:
    from deriv_options import OptionsRestSyncClient

    with pytest.raises(TransportError, match="plain http"):
        OptionsRestSyncClient(
            app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url="http://api.example.com"
        )
    with pytest.raises(TransportError, match="plain http"):
        OptionsRestSyncClient(
            app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url="http://127.evil.example"
        )
    OptionsRestSyncClient(
        app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url="http://127.0.0.1:9"
    ).close()
    from deriv_runtime.connect import check_ws_url

    with pytest.raises(TransportError):
        check_ws_url("ws://api.example.com/trading/v1/options/ws/demo?otp=x", "demo")
    assert check_ws_url("wss://api.example.com/trading/v1/options/ws/demo?otp=x", "demo")


def test_pat_to_trade_over_otp_websocket(mock: MockDeriv) -> None:
    from deriv_options import connect_demo, connect_real

    async def scenario() -> None:
        async with connect_demo(
            mock.demo_account_id, token=PAT, app_id=APP_ID, base_url=mock.rest_url
        ) as client:
            start = (await client.balance()).balance.balance
            proposal = (await client.proposal(**{**PARAMS, "duration": 30, "duration_unit": "m"})).proposal
            receipt = (await client.buy(proposal.id, price=proposal.ask_price)).buy
            async with client.subscribe_proposal_open_contract(contract_id=receipt.contract_id) as poc:
                update = await poc.__anext__()
                assert update.proposal_open_contract.contract_id == receipt.contract_id
            sold = await client.sell(receipt.contract_id, price=0)
            assert sold.sell is not None and sold.sell.sold_for is not None
            after = (await client.balance()).balance.balance
            assert after == pytest.approx(start - receipt.buy_price + sold.sell.sold_for)
        with pytest.raises(ConnectionFailed, match="real"):
            async with connect_real(mock.demo_account_id, token=PAT, app_id=APP_ID, base_url=mock.rest_url):
                pass

    run(scenario())


def test_every_reconnect_uses_a_new_otp(mock: MockDeriv) -> None:
    from deriv_options import connect_demo
    from deriv_runtime.ws import ReconnectPolicy

    fast = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)

    async def scenario() -> None:
        async with connect_demo(
            mock.demo_account_id, token=PAT, app_id=APP_ID, base_url=mock.rest_url, reconnect=fast
        ) as client:
            for _ in range(3):
                await client.ping()
                await mock.drop_all()
                await client.ping(timeout=5)
            assert client.transport.connections == 4

    run(scenario())
    otps = [r.path for r in mock.rest_requests if r.path.endswith("/otp")]
    assert len(otps) == 4
    used = [p for p in mock.paths if "otp=" in p]
    assert len(used) == len(set(used)) == 4  # never the same OTP twice


def test_an_expired_otp_is_discarded_and_a_new_one_fetched(mock: MockDeriv) -> None:
    from deriv_options import OptionsClient, OptionsRestClient
    from deriv_runtime.connect import otp_url_source
    from deriv_runtime.ws import ReconnectPolicy

    mock.otp_ttl = 0.05
    calls = 0

    async def scenario() -> None:
        nonlocal calls
        rest = OptionsRestClient(app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=mock.rest_url)

        async def slow_issue() -> Any:
            nonlocal calls
            calls += 1
            answer = await rest.get_websocket_otp(account_id=mock.demo_account_id)
            if calls == 1:
                await asyncio.sleep(0.2)  # the first OTP expires before it is used
            return answer

        url = otp_url_source(slow_issue, "data.url", "demo")
        with pytest.raises(ConnectionFailed, match="401"):
            async with OptionsClient.connect(url, reconnect=False):
                pass
        async with OptionsClient.connect(
            url, reconnect=ReconnectPolicy(0.01, 0.05), on_close=rest.aclose
        ) as client:
            assert (await client.ping()).ping == "pong"

    run(scenario())
    assert calls == 2


def test_oauth_pkce_flow_then_trading(mock: MockDeriv) -> None:
    from deriv_options import OptionsRestClient, connect_demo

    async def scenario() -> None:
        async with LoopbackRedirect(timeout=10) as listener:
            config = OAuthConfig(
                client_id=APP_ID,
                redirect_uri=listener.redirect_uri,
                authorization_url=mock.oauth_authorize_url,
                token_url=mock.oauth_token_url,
            )
            request = begin_authorization(config, scopes=["trade", "account_manage"])
            async with httpx.AsyncClient(follow_redirects=True) as browser:  # the user's browser
                await browser.get(request.url)
            callback = await listener.wait(request)
        code = request.complete(callback)
        store = MemoryTokenStore()
        oauth = OAuthClient(config, store)
        tokens = await oauth.exchange(code, request)
        assert store.load() is not None
        credentials = oauth.credentials(tokens)
        async with OptionsRestClient(app_id=APP_ID, credentials=credentials, base_url=mock.rest_url) as api:
            assert (await api.list_accounts()).data
        async with connect_demo(
            mock.demo_account_id, credentials=credentials, app_id=APP_ID, base_url=mock.rest_url
        ) as ws:
            assert (await ws.ping()).ping == "pong"

    run(scenario())
    assert mock.token_requests.get("authorization_code") == 1


def test_ten_concurrent_callers_one_refresh(mock: MockDeriv) -> None:
    from deriv_options import OptionsRestClient

    async def scenario() -> None:
        async with LoopbackRedirect(timeout=10) as listener:
            config = OAuthConfig(
                client_id=APP_ID,
                redirect_uri=listener.redirect_uri,
                authorization_url=mock.oauth_authorize_url,
                token_url=mock.oauth_token_url,
            )
            request = begin_authorization(config, scopes=["trade"])
            async with httpx.AsyncClient(follow_redirects=True) as browser:
                await browser.get(request.url)
            code = request.complete(await listener.wait(request))
        mock.access_token_ttl = 0.2
        oauth = OAuthClient(config, MemoryTokenStore())
        credentials = oauth.credentials(await oauth.exchange(code, request), skew=0)
        await asyncio.sleep(0.3)  # the access token has expired
        async with OptionsRestClient(app_id=APP_ID, credentials=credentials, base_url=mock.rest_url) as api:
            answers = await asyncio.gather(*[api.list_accounts() for _ in range(10)])
        assert all(a.data for a in answers)

    run(scenario())
    assert mock.token_requests.get("refresh_token") == 1


def test_canary_secrets_never_reach_logs_reprs_or_errors(
    mock: MockDeriv, caplog: pytest.LogCaptureFixture
) -> None:
    from deriv_options import OptionsRestSyncClient, connect_demo
    from deriv_options.rest_models import BulkPurchaseDemoAccountsItem

    texts: list[str] = []

    async def scenario() -> None:
        async with connect_demo(
            mock.demo_account_id, token=PAT, app_id=APP_ID, base_url=mock.rest_url
        ) as client:
            await client.ping()
            await mock.drop_all()
            await client.ping(timeout=5)
            texts.append(repr(client) + repr(client.transport))

    with caplog.at_level(logging.DEBUG):
        run(scenario())
        api = OptionsRestSyncClient(
            app_id=APP_ID, credentials=PersonalAccessToken(PAT), base_url=mock.rest_url
        )
        texts.append(repr(api))
        item = BulkPurchaseDemoAccountsItem(token=PAT, account_id="DOT1")
        texts += [repr(item), str(item)]
        mock.fail_next(401, "GET /trading/v1/options/accounts")
        with pytest.raises(Unauthorized) as err:
            api.list_accounts()
        texts.append(str(err.value))
        otp = api.get_websocket_otp(account_id=mock.demo_account_id)
        texts.append(repr(otp))
        api.close()
    otp_secret = otp.data.url.get_secret_value().split("otp=")[1]
    logged = [r.getMessage() for r in caplog.records]
    assert logged
    for canary in (PAT, otp_secret):
        assert not [t for t in texts if canary in t]
        assert not [m for m in logged if canary in m]


def test_payment_agent_operations_async_and_sync(mock: MockDeriv) -> None:
    from deriv_options import OptionsRestClient, OptionsRestSyncClient
    from deriv_options.rest_models import (
        PaymentAgentTransferData,
        PaymentAgentWithdrawData,
        PaymentAgentWithdrawVerificationCodeData,
    )

    credentials = PersonalAccessToken(PAT)
    agent = 1001
    mock.rest.verification_code_interval = 0  # the mock otherwise rate-limits codes as the API does

    def withdraw_sync(api: Any, request_id: str) -> None:
        api.payment_agent_withdraw_verification_code(
            data=PaymentAgentWithdrawVerificationCodeData(agent_id=agent, amount="50.00", currency="USD")
        )
        code = mock.rest.last_verification_code
        assert code is not None
        answer = api.payment_agent_withdraw(
            data=PaymentAgentWithdrawData(
                agent_id=agent, amount="50.00", currency="USD", verification_code=code, request_id=request_id
            )
        )
        assert answer.data is not None
        status = api.get_payment_agent_withdrawal(request_id=request_id)
        assert status.data is not None

    with OptionsRestSyncClient(
        app_id=APP_ID, credentials=credentials, base_url=mock.rest_url, strict=True
    ) as api:
        withdraw_sync(api, "req-sync-0001")

    async def async_side() -> None:
        async with OptionsRestClient(
            app_id=APP_ID, credentials=credentials, base_url=mock.rest_url, strict=True
        ) as api:
            await api.payment_agent_withdraw_verification_code(
                data=PaymentAgentWithdrawVerificationCodeData(agent_id=agent, amount="50.00", currency="USD")
            )
            code = mock.rest.last_verification_code
            assert code is not None
            done = await api.payment_agent_withdraw(
                data=PaymentAgentWithdrawData(
                    agent_id=agent,
                    amount="50.00",
                    currency="USD",
                    verification_code=code,
                    request_id="req-async-1",
                )
            )
            assert done.data is not None
            assert (await api.get_payment_agent_withdrawal(request_id="req-async-1")).data is not None

    run(async_side())
    mock.rest.is_payment_agent = True
    with OptionsRestSyncClient(
        app_id=APP_ID, credentials=credentials, base_url=mock.rest_url, strict=True
    ) as api:
        moved = api.payment_agent_transfer(
            data=PaymentAgentTransferData(to_nickname="client_nickname", amount="10.00", currency="USD")
        )
        assert moved.data is not None


def test_an_otp_endpoint_failing_during_reconnect_is_one_failed_attempt(mock: MockDeriv) -> None:
    """The real composition: connect_demo's OTP source raises ServerError (503) on a reconnect; the
    transport counts it as one attempt, fetches a fresh OTP next time, and the stream resumes."""
    from deriv_options import connect_demo
    from deriv_runtime.ws import ReconnectPolicy

    fast = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)

    async def scenario() -> None:
        async with connect_demo(
            mock.demo_account_id, token=PAT, app_id=APP_ID, base_url=mock.rest_url, reconnect=fast
        ) as client:
            async with client.subscribe_ticks("R_100") as ticks:
                await ticks.__anext__()
                fault = mock.fail_next(503, "POST /trading/v1/options/accounts/{accountId}/otp")
                await mock.drop_all()
                while ticks.gaps == 0:
                    await ticks.__anext__()
                assert (await ticks.__anext__()).tick is not None
            assert fault.hits == 1  # the 503 was really served to the reconnect's OTP request
            assert client.transport.connections == 2
            assert (await client.ping()).ping == "pong"

    run(scenario())
