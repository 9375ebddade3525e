"""A one-shot redirect listener on 127.0.0.1 for CLI and desktop apps (RFC 8252 §7.3).

    with LoopbackRedirect(port=8765) as listener:            # binds 127.0.0.1:8765
        config = OAuthConfig(client_id="1234", redirect_uri=listener.redirect_uri)
        request = begin_authorization(config, ["trade"])
        listener.expect(request)                               # optional: wait() does it too
        webbrowser.open(request.url)
        code = request.complete(listener.wait_sync(request))   # or: await listener.wait(request)

The listener binds a loopback address only (never ``0.0.0.0``) and ends with the first callback on
its path whose ``state`` is the authorization request's (compared in constant time): any local
process can send it requests, so nothing else may end a sign-in. A callback with another state, no
state, or several, gets HTTP 400 (an error page that echoes nothing; an ``error=`` in it is
ignored too) and the listener keeps listening; another path gets 404. Callbacks that arrive before
the expected state is known (:meth:`~LoopbackRedirect.expect`, or ``wait(request)``) are held
(the last 16) and checked then. The right callback gets a small HTML page and its query goes to
:meth:`~LoopbackRedirect.wait`, which raises :class:`OAuthError` if it carries ``error=`` (the user
said no: ``access_denied``); later callbacks get HTTP 409 and change nothing. Requests whose
``Host`` is not a loopback name are refused (DNS rebinding). No request line is ever logged (the
query holds the code). If no right callback arrives in time, ``wait`` raises :class:`OAuthTimeout`
and the socket is closed. Standard library only (``http.server`` in a daemon thread), so it serves
sync and async callers alike.

Deriv checks the redirect URI against the one registered for the app: register
``http://127.0.0.1:<port>/callback`` and pass that ``port`` (``port=0`` picks a free one, which
only works with servers that accept any loopback port, as RFC 8252 §7.3 recommends).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import socket
import socketserver
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

from .authorize import AuthorizationRequest, CallbackParams, _error_code, _error_description
from .errors import AuthError, OAuthError, OAuthStateError, OAuthTimeout
from .secret import Secret, SecretLike
from .secure import is_loopback_host

__all__ = ["LoopbackRedirect"]

#: Callbacks kept while the expected state is not known yet (the oldest are dropped).
_MAX_PENDING = 16
_Verdict = Literal["accepted", "held", "done", "mismatch"]


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>{title}</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>{title}</h1><p>{text}</p></body></html>
"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # on Windows, SO_REUSEADDR would let another process share the port
    owner: LoopbackRedirect

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn): not needed on loopback.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Server6(_Server):
    address_family = socket.AF_INET6


_HOSTS: dict[str, type[_Server]] = {"127.0.0.1": _Server, "::1": _Server6}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 10
    server_version = "deriv-auth-loopback"
    sys_version = ""

    def do_GET(self) -> None:
        owner = self.server.owner
        host = self.headers.get("Host")
        if host is not None and not _host_ok(host):
            self._reply(400, "Bad request", "This address only answers loopback requests.")
            return
        try:
            parts = urlsplit(self.path)
        except ValueError:
            self._reply(400, "Bad request", "The request could not be read.")
            return
        if parts.path != owner.path:
            self._reply(404, "Not found", "Nothing here.")
            return
        if not parts.query:
            self._reply(400, "Bad request", "The redirect carries no parameters.")
            return
        try:
            params = CallbackParams.from_query(parts.query)
        except OAuthStateError:
            self._reply(400, "Bad request", "The redirect has too many parameters.")
            return
        verdict = owner._offer(params)
        if verdict == "done":
            self._reply(409, "Already done", "This sign-in was already received; this request was ignored.")
            return
        if verdict == "mismatch":
            self._reply(
                400,
                "Bad request",
                "This response does not belong to the sign-in in progress and was ignored.",
            )
            return
        if verdict == "held":
            self._reply(200, "Received", "You can close this window and return to the application.")
            return
        errors = params.getall("error")
        if errors:
            reason = html.escape(_error_code(errors[0]))
            self._reply(200, "Sign-in not completed", f"The authorization server answered: {reason}.")
        else:
            self._reply(200, "Signed in", "You can close this window and return to the application.")

    def _reply(self, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=html.escape(title), text=text).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Never log: the request line carries the authorization code."""


def _host_ok(header: str) -> bool:
    try:
        return is_loopback_host(urlsplit("//" + header).hostname)
    except ValueError:
        return False


class LoopbackRedirect:
    """An HTTP listener on ``127.0.0.1`` (or ``::1``) that receives one OAuth redirect."""

    def __init__(
        self, port: int = 0, path: str = "/callback", timeout: float = 120.0, *, host: str = "127.0.0.1"
    ) -> None:
        if host not in _HOSTS:
            raise ValueError(
                f"LoopbackRedirect binds a loopback address only (127.0.0.1 or ::1), not {host!r}"
            )
        if not path.startswith("/") or "?" in path or "#" in path:
            raise ValueError("path must start with '/' and carry no query or fragment")
        if not 0 <= port <= 65535:
            raise ValueError("port must be 0..65535")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.host = host
        self.path = path
        self.timeout = timeout
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._result: CallbackParams | None = None
        self._expected: Secret | None = None
        self._pending: deque[CallbackParams] = deque(maxlen=_MAX_PENDING)
        self._closed = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[CallbackParams]]] = []

    def __repr__(self) -> str:
        where = self.redirect_uri if self._server is not None else "not started"
        return f"LoopbackRedirect({where!r}, received={self._result is not None}, closed={self._closed})"

    # -- life -----------------------------------------------------------------------------------

    def start(self) -> LoopbackRedirect:
        """Bind and serve (idempotent). Raises :class:`OSError` if the port is taken."""
        with self._lock:
            if self._closed:
                raise AuthError("this loopback listener is closed")
            if self._server is not None:
                return self
            server = _HOSTS[self.host]((self.host, self._requested_port), _Handler)
            server.owner = self
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="deriv-auth-loopback",
                daemon=True,
            )
            self._thread.start()
            return self

    def close(self) -> None:
        """Stop listening and close the socket (idempotent). Waiters still waiting get :class:`AuthError`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            server, thread, waiters = self._server, self._thread, self._waiters
            self._waiters = []
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        for loop, future in waiters:
            _notify(loop, future, None)
        self._event.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> LoopbackRedirect:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> LoopbackRedirect:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)

    # -- address --------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._require_started().server_port

    def _require_started(self) -> _Server:
        if self._server is None:
            raise AuthError(
                "the loopback listener is not started: use it as a context manager or call start()"
            )
        return self._server

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:<port><path>``: register this exact URI for the app."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    # -- waiting --------------------------------------------------------------------------------

    def expect(self, request: AuthorizationRequest | SecretLike | str) -> None:
        """Accept only the callback whose ``state`` is this request's (or this state).

        Call it before opening the browser to have wrong callbacks refused at once; :meth:`wait`
        calls it too. A listener serves one authorization request: expecting another raises
        :class:`AuthError`.
        """
        state = _state_of(request)
        with self._lock:
            if self._expected is not None:
                if self._expected != state:
                    raise AuthError("this loopback listener already waits for another authorization request")
                return
            self._expected = state
            pending, self._pending = list(self._pending), deque(maxlen=_MAX_PENDING)
            found = next((p for p in pending if _state_matches(p, state)), None)
        if found is not None:
            self._offer(found)

    async def wait(
        self, request: AuthorizationRequest | SecretLike | str, timeout: float | None = None
    ) -> CallbackParams:
        """The query parameters of the callback that answers ``request`` (the same on every call).

        ``request``: the :class:`AuthorizationRequest` (or its ``state``); callbacks with another
        state are refused and the listener keeps listening. Raises :class:`OAuthError` when the
        callback carries ``error`` (``access_denied``: the user said no), and :class:`OAuthTimeout`
        after ``timeout`` seconds (default: the listener's), closing the listener.
        """
        self._require_started()
        self.expect(request)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CallbackParams] = loop.create_future()
        with self._lock:
            if self._result is not None:
                return _checked(self._result)
            if self._closed:
                raise AuthError("the loopback listener is closed")
            self._waiters.append((loop, future))
        limit = self.timeout if timeout is None else timeout
        try:
            return _checked(await asyncio.wait_for(future, limit))
        except TimeoutError:
            uri = self.redirect_uri
            await asyncio.to_thread(self.close)
            raise OAuthTimeout(f"no redirect arrived at {uri} within {limit:g} s") from None
        finally:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))

    def wait_sync(
        self, request: AuthorizationRequest | SecretLike | str, timeout: float | None = None
    ) -> CallbackParams:
        """:meth:`wait` for blocking code."""
        self._require_started()
        self.expect(request)
        limit = self.timeout if timeout is None else timeout
        if not self._event.wait(limit):
            uri = self.redirect_uri
            self.close()
            raise OAuthTimeout(f"no redirect arrived at {uri} within {limit:g} s")
        if self._result is None:
            raise AuthError("the loopback listener was closed before a redirect arrived")
        return _checked(self._result)

    def _offer(self, params: CallbackParams) -> _Verdict:
        """From the server thread: keep the first callback :meth:`_admit` lets through, wake the
        waiters."""
        with self._lock:
            if self._result is not None or self._closed:
                return "done"
            refused = self._admit(params)
            if refused is not None:
                return refused
            self._result = params
            waiters, self._waiters = self._waiters, []
        self._event.set()
        for loop, future in waiters:
            _notify(loop, future, params)
        return "accepted"

    def _admit(self, params: CallbackParams) -> _Verdict | None:
        """Under the lock: ``None`` to keep ``params``, else why not (held until :meth:`expect`
        says which state to expect, or a state that does not match)."""
        if self._expected is None:
            self._pending.append(params)
            return "held"
        if not _state_matches(params, self._expected):
            return "mismatch"
        return None


def _state_of(request: AuthorizationRequest | SecretLike | str) -> Secret:
    if isinstance(request, AuthorizationRequest):
        return request.state
    if isinstance(request, str):
        state = Secret(request)
    elif callable(getattr(request, "reveal", None)):
        state = Secret(request.reveal())
    else:
        raise TypeError(
            "pass the AuthorizationRequest (or its state) whose callback the listener should accept, "
            f"not {type(request).__name__}"
        )
    if not state:
        raise ValueError("the expected state is empty")
    return state


def _state_matches(params: CallbackParams, expected: Secret) -> bool:
    states = params.getall("state")
    return len(states) == 1 and hmac.compare_digest(states[0].encode(), expected.reveal().encode())


def _checked(params: CallbackParams) -> CallbackParams:
    """The callback, unless it is the authorization server's error (then :class:`OAuthError`)."""
    errors = params.getall("error")
    if errors:
        descriptions = params.getall("error_description")
        raise OAuthError(
            _error_code(errors[0]), _error_description(descriptions[0]) if descriptions else None
        )
    return params


def _notify(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[CallbackParams], result: CallbackParams | None
) -> None:
    def settle() -> None:
        if future.done():
            return
        if result is None:
            future.set_exception(AuthError("the loopback listener was closed before a redirect arrived"))
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # that event loop is closed: nobody is waiting any more
        pass
