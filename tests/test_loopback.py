"""The OAuth loopback listener ends only with the callback that answers its authorization request.

Any local process can send requests to 127.0.0.1, so a callback with a wrong, missing or repeated
state, or a request to another path, is refused and the listener keeps listening. Real HTTP
requests (httpx) to a real listener.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from deriv_runtime.auth import (
    AuthError,
    AuthorizationRequest,
    LoopbackRedirect,
    OAuthConfig,
    OAuthError,
    OAuthTimeout,
    begin_authorization,
)

FORGED_CODE = "code-FORGED-1c9e"
FORGED_STATE = "state-FORGED-88d0"


def authorization(listener: LoopbackRedirect) -> AuthorizationRequest:
    config = OAuthConfig(client_id="1234", redirect_uri=listener.redirect_uri)
    return begin_authorization(config, [])


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def assert_refused(answer: httpx.Response, status: int, *values: str) -> None:
    assert answer.status_code == status
    for value in values:
        assert value not in answer.text  # nothing of the request is echoed


def test_wrong_state_first_then_right_state_delivers_the_code() -> None:
    async def scenario() -> None:
        async with LoopbackRedirect(timeout=10) as listener:
            request = authorization(listener)
            waiting = asyncio.ensure_future(listener.wait(request))
            await asyncio.sleep(0.05)
            async with httpx.AsyncClient() as http:
                forged = await http.get(
                    listener.redirect_uri, params={"code": FORGED_CODE, "state": FORGED_STATE}
                )
                assert_refused(forged, 400, FORGED_CODE, FORGED_STATE)
                await asyncio.sleep(0.05)
                assert not waiting.done() and not listener.closed  # still listening
                right = await http.get(
                    listener.redirect_uri, params={"code": "code-right", "state": request.state.reveal()}
                )
                assert right.status_code == 200 and "close this window" in right.text
                assert "code-right" not in right.text
                params = await waiting
                assert params["code"] == "code-right"
                assert request.complete(params).code == "code-right"
                again = await http.get(
                    listener.redirect_uri, params={"code": "x", "state": request.state.reveal()}
                )
                assert again.status_code == 409

    run(scenario())


def test_wrong_state_only_times_out() -> None:
    with LoopbackRedirect(timeout=30) as listener:
        request = authorization(listener)
        listener.expect(request)
        with httpx.Client() as http:
            forged = http.get(listener.redirect_uri, params={"code": FORGED_CODE, "state": FORGED_STATE})
            assert_refused(forged, 400, FORGED_CODE, FORGED_STATE)
        started = time.monotonic()
        with pytest.raises(OAuthTimeout, match="no redirect arrived"):
            listener.wait_sync(request, timeout=1)
        assert 0.9 <= time.monotonic() - started < 10
        assert listener.closed

    async def scenario() -> None:
        async with LoopbackRedirect() as listener:
            request = authorization(listener)
            waiting = asyncio.ensure_future(listener.wait(request, timeout=1))
            await asyncio.sleep(0.05)
            async with httpx.AsyncClient() as http:
                answer = await http.get(listener.redirect_uri, params={"code": FORGED_CODE, "state": "nope"})
                assert answer.status_code == 400
            with pytest.raises(OAuthTimeout):
                await waiting
            assert listener.closed

    run(scenario())


def test_missing_state_foreign_error_and_other_paths_do_not_end_it() -> None:
    with LoopbackRedirect(timeout=10) as listener:
        request = authorization(listener)
        state = request.state.reveal()
        listener.expect(request)
        base = f"http://127.0.0.1:{listener.port}"
        with httpx.Client() as http:
            assert_refused(http.get(listener.redirect_uri, params={"code": FORGED_CODE}), 400, FORGED_CODE)
            denied = http.get(listener.redirect_uri, params={"error": "access_denied", "state": FORGED_STATE})
            assert_refused(denied, 400, FORGED_STATE, "access_denied")
            twice = http.get(f"{listener.redirect_uri}?code={FORGED_CODE}&state={state}&state={FORGED_STATE}")
            assert_refused(twice, 400, FORGED_CODE, FORGED_STATE)
            empty = http.get(listener.redirect_uri, params={"code": FORGED_CODE, "state": ""})
            assert_refused(empty, 400, FORGED_CODE)
            other = http.get(f"{base}/elsewhere", params={"code": FORGED_CODE, "state": state})
            assert_refused(other, 404, FORGED_CODE)
            assert not listener.closed
            right = http.get(listener.redirect_uri, params={"code": "the-code", "state": state})
            assert right.status_code == 200
        params = listener.wait_sync(request, timeout=5)
        assert params["code"] == "the-code"


def test_right_state_with_an_error_ends_it_with_that_error() -> None:
    async def scenario() -> None:
        async with LoopbackRedirect(timeout=10) as listener:
            request = authorization(listener)
            waiting = asyncio.ensure_future(listener.wait(request))
            await asyncio.sleep(0.05)
            async with httpx.AsyncClient() as http:
                answer = await http.get(
                    listener.redirect_uri,
                    params={
                        "error": "access_denied",
                        "error_description": "The user said no",
                        "state": request.state.reveal(),
                    },
                )
                assert answer.status_code == 200 and "Sign-in not completed" in answer.text
                with pytest.raises(OAuthError, match="access_denied") as err:
                    await waiting
                assert err.value.code == "access_denied"
                late = await http.get(
                    listener.redirect_uri, params={"code": "late", "state": request.state.reveal()}
                )
                assert late.status_code == 409  # ended

    run(scenario())


def test_callbacks_before_the_state_is_known_are_checked_when_it_is() -> None:
    with LoopbackRedirect(timeout=10) as listener:
        request = authorization(listener)
        with httpx.Client() as http:  # a forged callback races the real one, before wait() is called
            assert http.get(
                listener.redirect_uri, params={"code": FORGED_CODE, "state": FORGED_STATE}
            ).is_success
            right = http.get(listener.redirect_uri, params={"code": "real", "state": request.state.reveal()})
            assert right.is_success
        params = listener.wait_sync(request, timeout=5)
        assert params["code"] == "real"
        assert request.complete(params).code == "real"


def test_one_listener_one_authorization_request() -> None:
    with LoopbackRedirect(timeout=10) as listener:
        first, second = authorization(listener), authorization(listener)
        listener.expect(first)
        listener.expect(first.state)  # the same state again: fine
        with pytest.raises(AuthError, match="another authorization request"):
            listener.expect(second)
        with pytest.raises(TypeError, match="AuthorizationRequest"):
            listener.wait_sync(5)  # type: ignore[arg-type]
