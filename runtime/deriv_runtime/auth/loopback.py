"""A one-shot redirect listener on 127.0.0.1 for CLI and desktop apps (RFC 8252 §7.3).

    with LoopbackRedirect(port=8765) as listener:            # binds 127.0.0.1:8765
        config = OAuthConfig(client_id="1234", redirect_uri=listener.redirect_uri)
        request = begin_authorization(config, ["trade"])
        webbrowser.open(request.url)
        code = request.complete(listener.wait_sync())          # or: await listener.wait()

The listener binds a loopback address only (never ``0.0.0.0``), answers the first callback on its
path with a small HTML page and hands its query to :meth:`~LoopbackRedirect.wait`; later callbacks
get HTTP 409 and change nothing. Requests whose ``Host`` is not a loopback name are refused (DNS
rebinding). No request line is ever logged (the query holds the code). If nothing arrives in time,
``wait`` raises :class:`OAuthTimeout` and the socket is closed. Standard library only
(``http.server`` in a daemon thread), so it serves sync and async callers alike.

Deriv checks the redirect URI against the one registered for the app: register
``http://127.0.0.1:<port>/callback`` and pass that ``port`` (``port=0`` picks a free one, which
only works with servers that accept any loopback port, as RFC 8252 §7.3 recommends).
"""

from __future__ import annotations

import asyncio
import html
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from .authorize import CallbackParams, _error_code
from .errors import AuthError, OAuthStateError, OAuthTimeout
from .secure import is_loopback_host

__all__ = ["LoopbackRedirect"]


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
        if not owner._deliver(params):
            self._reply(409, "Already done", "This sign-in was already received; this request was ignored.")
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

    async def wait(self, timeout: float | None = None) -> CallbackParams:
        """The callback's query parameters (the first callback; the same one on every call).

        Raises :class:`OAuthTimeout` after ``timeout`` seconds (default: the listener's), and closes
        the listener.
        """
        self._require_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CallbackParams] = loop.create_future()
        with self._lock:
            if self._result is not None:
                return self._result
            if self._closed:
                raise AuthError("the loopback listener is closed")
            self._waiters.append((loop, future))
        limit = self.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            uri = self.redirect_uri
            await asyncio.to_thread(self.close)
            raise OAuthTimeout(f"no redirect arrived at {uri} within {limit:g} s") from None
        finally:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))

    def wait_sync(self, timeout: float | None = None) -> CallbackParams:
        """:meth:`wait` for blocking code."""
        self._require_started()
        limit = self.timeout if timeout is None else timeout
        if not self._event.wait(limit):
            self.close()
            raise OAuthTimeout(f"no redirect arrived at {self.redirect_uri} within {limit:g} s")
        if self._result is None:
            raise AuthError("the loopback listener was closed before a redirect arrived")
        return self._result

    def _deliver(self, params: CallbackParams) -> bool:
        """From the server thread: keep the first callback, wake the waiters. False if one came already."""
        with self._lock:
            if self._result is not None or self._closed:
                return False
            self._result = params
            waiters, self._waiters = self._waiters, []
        self._event.set()
        for loop, future in waiters:
            _notify(loop, future, params)
        return True


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
