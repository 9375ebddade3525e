"""HTTP serving: a small HTTP/1.1 server on asyncio (stdlib only, 127.0.0.1 use), and the request
pipeline every HTTP API of the mock shares (:class:`~.http_api.HttpService`).

The server runs on the mock's own event loop, so HTTP handlers and the WebSocket mock share state
without locks. Supported: keep-alive, ``Content-Length`` and chunked request bodies, ``Expect:
100-continue``, ``HEAD``. Not supported (nor needed by a mock): pipelining beyond in-order
answers, TLS, trailers. Nothing here logs a request target, header or body: they carry secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

__all__ = ["HTTPRequest", "HTTPResponse", "HTTPServer"]

log = logging.getLogger("deriv_runtime.mock.http")

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class HTTPRequest:
    """One request. ``path`` is the raw (percent-encoded) path, ``query`` the decoded parameters."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    #: Lower-case names; repeated headers joined with ``", "``.
    headers: dict[str, str]
    #: ``(name, value)`` as received.
    raw_headers: list[tuple[str, str]]
    body: bytes
    version: str
    peer: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class HTTPResponse:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Abort the TCP connection instead of answering (fault injection).
    disconnect: bool = False

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


Handler = Callable[[HTTPRequest], Awaitable[HTTPResponse]]


def _parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise _BadRequest(400, "undecodable request head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise _BadRequest(400, "malformed request line")
    method, target, version = parts
    if not method or not _TOKEN_CHARS.issuperset(method):
        raise _BadRequest(400, "malformed method")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(505, "HTTP/1.0 or HTTP/1.1 only")
    if not target.startswith("/"):
        raise _BadRequest(400, "origin-form request targets only")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or not _TOKEN_CHARS.issuperset(name):
            raise _BadRequest(400, "malformed header line")
        headers.append((name, value.strip(" \t")))
    return method, target, version, headers


def _join_headers(raw: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in raw:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


class HTTPServer:
    """Serves ``handler`` on ``host``:``port`` until :meth:`stop`."""

    def __init__(self, handler: Handler, *, idle_timeout: float = 30.0, max_body: int = MAX_BODY) -> None:
        self.handler = handler
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._port = 0
        self._closing = False

    @property
    def port(self) -> int:
        return self._port

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # idle readers see EOF and return
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=1.0)
            for task in pending:  # busy in a handler (a delay): cancelled, and they return quietly
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else "?"
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    await self._write(writer, HTTPResponse(431, b"request head too large\n"), "GET", False)
                    return
                try:
                    request = await self._read_request(reader, writer, head, peer)
                except _BadRequest as exc:
                    body = f"{exc}\n".encode()
                    await self._write(writer, HTTPResponse(exc.status, body, "text/plain"), "GET", False)
                    return
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                keep_alive = self._keep_alive(request)
                try:
                    response = await self.handler(request)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("mock REST: the handler failed")
                    response = HTTPResponse(500, b"mock: the handler failed\n", "text/plain")
                if response.disconnect:
                    writer.transport.abort()
                    return
                await self._write(writer, response, request.method, keep_alive)
                if not keep_alive:
                    return
        except ConnectionError:
            return
        except asyncio.CancelledError:
            if not self._closing:
                raise
            # Stopping: asyncio's stream callback would log a cancelled handler task as an error.
            return
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, peer: str
    ) -> HTTPRequest:
        method, target, version, raw = _parse_head(head[:-4])
        headers = _join_headers(raw)
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        body = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked(reader)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise _BadRequest(400, "malformed Content-Length") from None
            if length < 0:
                raise _BadRequest(400, "malformed Content-Length")
            if length > self.max_body:
                raise _BadRequest(413, "request body too large")
            body = await reader.readexactly(length)
        parts = urlsplit(target)
        return HTTPRequest(
            method=method.upper(),
            target=target,
            path=parts.path or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            raw_headers=raw,
            body=body,
            version=version,
            peer=peer,
        )

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "malformed chunk size") from None
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers: ignored
                    pass
                return b"".join(chunks)
            total += size
            if total > self.max_body:
                raise _BadRequest(413, "request body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)

    @staticmethod
    def _keep_alive(request: HTTPRequest) -> bool:
        connection = request.headers.get("connection", "").lower()
        if request.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection

    @staticmethod
    async def _write(
        writer: asyncio.StreamWriter, response: HTTPResponse, method: str, keep_alive: bool
    ) -> None:
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {response.status} {phrase}"]
        names = {name.lower() for name, _ in response.headers}
        if "date" not in names:
            lines.append(f"Date: {formatdate(usegmt=True)}")
        lines.append("Server: deriv-mock")
        if response.content_type and "content-type" not in names:
            lines.append(f"Content-Type: {response.content_type}")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        lines.append(f"Content-Length: {len(response.body)}")
        if not keep_alive:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        writer.write(head if method == "HEAD" else head + response.body)
        await writer.drain()
