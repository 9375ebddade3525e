"""A small threaded HTTP server on 127.0.0.1 for tests: real sockets, scripted answers.

    with HTTPTestServer() as server:
        server.serve("/bundle.zip", data)
        server.redirect("/release/schemas.zip", "/storage/bundle.zip?X-Amz-Signature=SECRET")
        server.flaky("/flaky.zip", data, failures=2)           # 503, 503, then 200
        server.truncated("/short.zip", data, send=10)          # Content-Length: len(data), 10 bytes, close
        fetch(server.url("/release/schemas.zip"))
        assert server.count("/bundle.zip") == 1

Routes match the request path without its query string; every request is counted per path and
its full request target is kept in ``server.targets`` (GET and POST; each request's method, target,
headers and body also in ``server.requests``). Nothing here talks to anything but loopback.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HTTPTestServer", "LoopbackServer", "Recorded", "Reply", "closed_port_url"]


@dataclass
class Reply:
    """One scripted answer.

    ``send`` cuts the body short after that many bytes while still declaring ``len(body)`` as the
    Content-Length, then closes the connection. ``stall`` waits (until the server stops, at most
    that many seconds) after sending the headers and ``send`` bytes, to provoke client timeouts.
    ``delay`` waits the same way before sending anything (a server that never answers); ``drop``
    closes the connection without answering at all.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    send: int | None = None
    stall: float = 0.0
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


#: A route gets the 1-based number of the request to its path and returns the answer.
Route = Callable[[int], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that stop reading (errors, timeouts, closed keep-alive sockets) reset connections;
        # that is expected here. Anything else still gets the default traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 serving ``handler`` in a daemon thread until ``stop()``.
    Shared by the test servers; clients that hang up are expected and not reported."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


class HTTPTestServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.targets: list[str] = []
        self.requests: list[Recorded] = []
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: LoopbackServer | None = None

    # -- routes ---------------------------------------------------------------------------------

    def route(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def serve(
        self, path: str, body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        reply = Reply(status=status, body=body, headers=dict(headers or {}))
        self.route(path, lambda n: reply)

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Answer with a redirect; a ``location`` starting with ``/`` is made absolute (as GitHub does)."""
        target = self.url(location) if location.startswith("/") else location
        reply = Reply(status=status, headers={"Location": target})
        self.route(path, lambda n: reply)

    def truncated(self, path: str, body: bytes, *, send: int) -> None:
        reply = Reply(body=body, send=send)
        self.route(path, lambda n: reply)

    def flaky(self, path: str, body: bytes, *, failures: int, status: int = 503) -> None:
        """The first ``failures`` requests get ``status``; later ones get ``body``."""

        def answer(n: int) -> Reply:
            if n <= failures:
                return Reply(status=status, body=b"try again later\n")
            return Reply(body=body)

        self.route(path, answer)

    def stalled(self, path: str, body: bytes, *, send: int = 0, seconds: float = 5.0) -> None:
        reply = Reply(body=body, send=send, stall=seconds)
        self.route(path, lambda n: reply)

    # -- inspection -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            return self._counts[path]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> HTTPTestServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10  # a stuck client never keeps a handler thread alive for long

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
                with server._lock:
                    server._counts[path] += 1
                    n = server._counts[path]
                    server.targets.append(self.path)
                    server.requests.append(recorded)
                route = server.routes.get(path)
                reply = route(n) if route else Reply(status=404, body=b"no such route\n")
                if reply.delay:
                    server._stop.wait(reply.delay)
                if reply.drop or server._stop.is_set():
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.send is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply.body if reply.send is None else reply.body[: reply.send])
                self.wfile.flush()
                if reply.stall:
                    server._stop.wait(reply.stall)
                if reply.send is not None:
                    self.close_connection = True

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        self._stop.clear()
        self._server = LoopbackServer(Handler)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop()


def closed_port_url(path: str = "/schemas.zip") -> str:
    """A loopback URL nothing listens on (the port was just bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
