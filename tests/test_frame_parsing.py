"""The connection takes plain data frames out of each read itself and gives every other frame to
``websockets`` whole (``_dispatching``): whatever the reads look like, messages arrive whole and in
order, control frames still work, and ``websockets`` still refuses what it refuses. Calls made in
one turn of the event loop leave in one write, in order.

Reads are fed to a real, connected client connection (what the event loop does on each read), cut
at every position; hostile servers of the tests' own send frames a server must not send, and a
handshake answer followed at once by frames (in one write, or cut in two). No timing is asserted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from deriv_runtime._dispatching import COALESCE_BYTES
from deriv_runtime.jsonrpc import JsonRpcProtocol
from deriv_runtime.ws import WebSocketTransport
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 60.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


def frame(opcode: Opcode, data: bytes, *, fin: bool = True, **options: Any) -> bytes:
    return Frame(opcode, data, fin=fin, **options).serialize(mask=False)


def answer(req_id: int, result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": req_id, "result": result})


async def echo(ws: ServerConnection) -> None:
    """Answers every call with its method name."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            request = orjson.loads(raw)
            await ws.send(answer(request["id"], request["method"]).decode())


@asynccontextmanager
async def client(
    handler: Callable[[ServerConnection], Awaitable[None]] = echo, **options: Any
) -> AsyncIterator[Any]:
    async with serve(handler, "127.0.0.1", 0, compression=options.pop("server_compression", None)) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        options.setdefault("compression", None)
        transport = WebSocketTransport(
            f"ws://127.0.0.1:{port}", wire=JsonRpcProtocol, reconnect=False, **options
        )
        await transport.connect()
        try:
            yield transport
        finally:
            await transport.close()


#: One stream of frames with every kind of length field, a ping between them, a fragmented message
#: and a binary one; and the messages it carries, in order.
SMALL = b'{"n":1}'
MEDIUM = b"m" * 300  # 16-bit length
LARGE = b"L" * 70_000  # 64-bit length
STREAM = b"".join(
    [
        frame(Opcode.TEXT, SMALL),
        frame(Opcode.TEXT, MEDIUM),
        frame(Opcode.PING, b"are you there"),
        frame(Opcode.TEXT, b"frag", fin=False),
        frame(Opcode.CONT, b"men", fin=False),
        frame(Opcode.CONT, b"ted", fin=True),
        frame(Opcode.BINARY, LARGE),
        frame(Opcode.TEXT, b""),
        frame(Opcode.TEXT, SMALL),
    ]
)
MESSAGES = [SMALL, MEDIUM, b"fragmented", LARGE, b"", SMALL]


def cut_points() -> list[int]:
    """Every position in the first frames and around the large one's header; a sample inside it."""
    large_at = STREAM.index(LARGE[:64]) - 10
    return sorted(
        {
            *range(len(STREAM) - len(LARGE) - 40),
            *range(large_at - 4, large_at + 24),
            *range(large_at, len(STREAM), 997),
        }
    )


def test_messages_arrive_whole_and_in_order_however_the_reads_are_cut() -> None:
    async def scenario() -> None:
        async with client() as transport:
            ws = transport._ws
            got: list[bytes] = []
            ws.on_message = got.append
            points = cut_points()
            for cut in points:
                ws.data_received(STREAM[:cut])
                ws.data_received(STREAM[cut:])
            for cut in points[::7]:  # three reads
                second = cut + (len(STREAM) - cut) // 2
                for piece in (STREAM[:cut], STREAM[cut:second], STREAM[second:]):
                    ws.data_received(piece)
            for byte in range(0, len(STREAM) - len(LARGE)):  # the first frames one byte per read
                ws.data_received(STREAM[byte : byte + 1])
            ws.data_received(STREAM[len(STREAM) - len(LARGE) :])
            rounds = len(points) + len(points[::7]) + 1
            assert len(got) == rounds * len(MESSAGES)
            assert all(got[i * len(MESSAGES) : (i + 1) * len(MESSAGES)] == MESSAGES for i in range(rounds))
            assert ws.dispatched >= len(got)
            assert ws._head == b"" and ws._owed == 0
            # websockets' own parser is where it should be: the connection still works both ways
            ws.on_message = transport._dispatch
            after = await transport.request({"method": "public/after"}, timeout=5)
            assert after["result"] == "public/after"

    run(scenario)


def test_a_ping_among_the_frames_is_answered() -> None:
    async def pinging(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                request = orjson.loads(raw)
                ws.transport.write(frame(Opcode.TEXT, SMALL))
                pong = await ws.ping(b"p1")  # written right after the first frame
                ws.transport.write(frame(Opcode.TEXT, SMALL))
                await asyncio.wait_for(pong, 10)  # the client answered it
                await ws.send(answer(request["id"], "ponged").decode())

    async def scenario() -> None:
        async with client(pinging) as transport:
            ws = transport._ws
            seen: list[bytes] = []
            dispatch = transport._dispatch

            def spy(data: bytes) -> None:
                seen.append(data)
                dispatch(data)

            ws.on_message = spy
            assert (await transport.request({"method": "public/go"}, timeout=15))["result"] == "ponged"
            assert seen[:2] == [SMALL, SMALL]

    run(scenario)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (Frame(Opcode.TEXT, b'{"x":1}').serialize(mask=True), 1002),  # a server must not mask
        (bytes([0xC1, 7]) + b'{"x":1}', 1002),  # a reserved bit set without an extension
        (frame(Opcode.CONT, b"orphan"), 1002),  # a continuation of nothing
        (frame(Opcode.TEXT, b"x" * 2048), 1009),  # over max_size
    ],
)
def test_frames_websockets_refuses_still_fail_the_connection(bad: bytes, code: int) -> None:
    async def hostile(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                ws.transport.write(frame(Opcode.TEXT, SMALL) + bad + frame(Opcode.TEXT, SMALL))

    async def scenario() -> None:
        async with client(hostile, max_message_size=1024) as transport:
            ws = transport._ws
            seen: list[bytes] = []
            ws.on_message = seen.append
            await ws.send(answer(1, "go").decode())
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert seen == [SMALL]  # what came before; nothing after the bad frame
            assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == code

    run(scenario)


def test_frames_after_a_close_frame_are_discarded() -> None:
    async def closing(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                close = frame(Opcode.CLOSE, (1000).to_bytes(2, "big") + b"bye")
                ws.transport.write(frame(Opcode.TEXT, SMALL) + close + frame(Opcode.TEXT, MEDIUM))

    async def scenario() -> None:
        async with client(closing) as transport:
            ws = transport._ws
            seen: list[bytes] = []
            ws.on_message = seen.append
            await ws.send(answer(1, "go").decode())
            await asyncio.wait_for(ws.wait_closed(), 10)
            assert seen == [SMALL]
            assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000

    run(scenario)


def test_compressed_messages_go_through_websockets_and_arrive() -> None:
    async def scenario() -> None:
        async with client(compression="deflate", server_compression="deflate") as transport:
            big = "p" * 5000
            answers = [await transport.request({"method": f"public/{big}{n}"}, timeout=5) for n in range(5)]
            assert [a["result"] for a in answers] == [f"public/{big}{n}" for n in range(5)]
            assert transport._ws.protocol.extensions  # permessage-deflate was negotiated

    run(scenario)


# -- the handshake's answer and the first frames in one read ----------------------------------------


def accept(key: str) -> str:
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


@asynccontextmanager
async def raw_server(cut: int | None) -> AsyncIterator[str]:
    """Answers the handshake and writes two notifications right after it: in the same write (``cut``
    None) or in two writes, cut at ``cut`` (negative: ``-cut - 1`` bytes past the handshake's end).
    Then answers every call with ``"late"``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.decode().split("\r\n")
            if line.lower().startswith("sec-websocket-key:")
        )
        response = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept(key)}\r\n\r\n"
        ).encode()
        early = b"".join(frame(Opcode.TEXT, orjson.dumps({"jsonrpc": "2.0", "early": n})) for n in range(2))
        out = response + early
        if cut is None:
            writer.write(out)
        else:
            at = cut if cut >= 0 else len(response) - cut - 1
            writer.write(out[:at])
            await writer.drain()
            await asyncio.sleep(0.05)  # most likely two reads (nothing depends on it)
            writer.write(out[at:])
        try:
            while True:
                head = await reader.readexactly(2)
                length = head[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                mask = await reader.readexactly(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(length)))
                if head[0] & 0x0F == 0x8:  # close
                    return
                writer.write(frame(Opcode.TEXT, answer(orjson.loads(payload)["id"], "late")))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@pytest.mark.parametrize("cut", [None, 20, -1, -4])
def test_frames_in_the_same_read_as_the_handshake_answer_keep_the_parser_in_step(cut: int | None) -> None:
    async def scenario() -> None:
        async with raw_server(cut) as url:
            transport = WebSocketTransport(url, wire=JsonRpcProtocol, reconnect=False, compression=None)
            try:
                await transport.connect()
                for _ in range(3):
                    assert (await transport.request({"method": "public/x"}, timeout=5))["result"] == "late"
                assert transport._ws.protocol.state.name == "OPEN"
                assert transport._ws._slow is (cut == 20)  # the handshake's answer itself was cut
            finally:
                await transport.close()

    run(scenario)


# -- sending: messages sent in one turn leave in one write ------------------------------------------


def client_frames(data: bytes) -> list[tuple[bytes, bytes]]:
    """The masked text frames in ``data``: (mask, unmasked payload) of each."""
    out, pos = [], 0
    while pos < len(data):
        assert data[pos] == 0x81 and data[pos + 1] & 0x80  # whole text frames, masked
        length, start = data[pos + 1] & 0x7F, pos + 2
        if length == 126:
            length, start = int.from_bytes(data[pos + 2 : pos + 4], "big"), pos + 4
        mask, start = data[start : start + 4], start + 4
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data[start : start + length]))
        out.append((mask, payload))
        pos = start + length
    return out


def test_calls_made_at_once_leave_in_one_write_in_their_order() -> None:
    order: list[int] = []

    async def recording(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                request = orjson.loads(raw)
                order.append(request["params"]["n"])
                await ws.send(answer(request["id"], request["params"]["n"]).decode())

    async def scenario() -> None:
        async with client(recording) as transport:
            ws = transport._ws
            writes: list[int] = []
            written: list[bytes] = []
            write = ws.transport.write

            def counted(data: bytes) -> None:
                writes.append(len(data))
                written.append(bytes(data))
                write(data)

            ws.transport.write = counted
            calls = [
                transport.request({"method": "public/n", "params": {"n": n}}, timeout=5) for n in range(50)
            ]
            answers = await asyncio.gather(*calls)
            assert [a["result"] for a in answers] == list(range(50))
            assert order == list(range(50))
            assert len(writes) == 1  # fifty frames, one write
            frames = client_frames(written[0])
            assert [orjson.loads(payload)["params"]["n"] for _, payload in frames] == list(range(50))
            masks = [mask for mask, _ in frames]
            assert len(set(masks)) == 50  # a fresh mask for every frame (drawn from os.urandom)
            # a message too big to wait for the end of the turn is written at once
            big = "x" * COALESCE_BYTES
            sent = transport.request({"method": "public/n", "params": {"n": 50, "pad": big}}, timeout=5)
            task = asyncio.ensure_future(sent)
            await asyncio.sleep(0)  # the call ran up to its answer: its frame is written already
            assert len(writes) == 2 and writes[1] > COALESCE_BYTES
            assert (await task)["result"] == 50

    run(scenario)
