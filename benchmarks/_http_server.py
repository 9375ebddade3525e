"""Benchmark HTTP server (its own process): a minimal HTTP/1.1 keep-alive responder on an
``asyncio.Protocol``, fast enough not to be the bottleneck of an httpx client.

Answers:

- ``POST /api/v2/public/get_time`` (a JSON-RPC request object as the body): the Deribit envelope
  ``{"jsonrpc":"2.0","id":N,"result":1700000000000,"usIn":..,"usOut":..,"usDiff":12,"testnet":false}``
  echoing the request's ``id``; ``GET /api/v2/public/get_time`` the same without an ``id``.
- ``GET /v1/health``: ``200 text/plain OK`` (the Deriv Options REST health check).
- anything else: ``404``.

Prints its port, then serves on 127.0.0.1 until its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson

_RPC_PATH = b"/api/v2/public/get_time"
_HEALTH_PATH = b"/v1/health"


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
    return head % (status, content_type, len(body)) + body


_HEALTH = _response(b"200 OK", b"text/plain", b"OK")
_NOT_FOUND = _response(b"404 Not Found", b"application/json", b'{"error":"not found"}')


def _get_time(request_id: object) -> bytes:
    now = int(time.time() * 1e6)
    answer: dict[str, object] = {"jsonrpc": "2.0"}
    if request_id is not None:
        answer["id"] = request_id
    answer.update(result=1700000000000, usIn=now, usOut=now + 12, usDiff=12, testnet=False)
    return _response(b"200 OK", b"application/json", orjson.dumps(answer))


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining; ``Content-Length`` bodies only (no chunked)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        out: list[bytes] = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            length = 0
            start = head.lower().find(b"\r\ncontent-length:")
            if start >= 0:
                line_end = head.find(b"\r\n", start + 2)
                length = int(head[start + 17 : line_end if line_end >= 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                break
            body = buffer[end + 4 : total]
            buffer = buffer[total:]
            method, _, rest = head.partition(b" ")
            target = rest.partition(b" ")[0].partition(b"?")[0]
            if target == _RPC_PATH:
                request_id = orjson.loads(body).get("id") if method == b"POST" and body else None
                out.append(_get_time(request_id))
            elif target == _HEALTH_PATH and method == b"GET":
                out.append(_HEALTH)
            else:
                out.append(_NOT_FOUND)
        self.buffer = buffer
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HttpProtocol, "127.0.0.1", 0, backlog=1024)
    async with server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        # Serve until the parent closes stdin.
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
