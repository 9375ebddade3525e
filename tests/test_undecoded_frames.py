"""A running stream's frames reach its consumer undecoded and are validated straight from their bytes;
everything the quick route could get wrong goes the long way and ends where the long way puts it.

The transport routes a frame from its text (``Wire.route_raw``: the last ``"req_id":`` of a Deriv
frame, the channel of a notification written as Deribit writes one) and the consumer checks the
decoded message against that guess. These servers are the tests' own and send exact bytes: frames
whose text points at one stream and whose message belongs to another, errors under escaped keys,
garbage that carries the key, drifted values among good ones, answers that look like notifications.
No timing is asserted; ``run`` is a hang guard.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from deriv_runtime.drift import DriftError, drift_of
from deriv_runtime.errors import APIError
from deriv_runtime.models import ResponseModel
from deriv_runtime.protocol import Protocol, frame_req_id
from deriv_runtime.rpc import BaseRpcClient, Channel
from deriv_runtime.ws import ReconnectPolicy
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05)
Script = Callable[[ServerConnection, dict[str, int]], Awaitable[None]]


def run(scenario: Callable[[], Awaitable[Any]], guard: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), guard)

    return asyncio.run(bounded())


@asynccontextmanager
async def serving(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def counting_receive(transport: Any) -> list[int]:
    """Counts the frames the transport's protocol decoded (``receive``): the long way."""
    decoded: list[int] = []
    receive = transport.protocol.receive

    def counted(data: Any) -> Any:
        decoded.append(1)
        return receive(data)

    transport.protocol.receive = counted
    return decoded


# -- Deriv ------------------------------------------------------------------------------------------


def tick(req_id: int, symbol: str, quote: Any, **extra: Any) -> bytes:
    """A tick frame as Deriv writes one (keys in order, ``echo_req`` first)."""
    message = {
        "echo_req": {"req_id": req_id, "subscribe": 1, "ticks": symbol},
        "msg_type": "tick",
        "req_id": req_id,
        "subscription": {"id": f"sub-{symbol}"},
        "tick": {"epoch": 1, "id": f"sub-{symbol}", "pip_size": 2, "quote": quote, "symbol": symbol},
        **extra,
    }
    return orjson.dumps(message)


def deriv_server(script: Script) -> Callable[[ServerConnection], Awaitable[None]]:
    """Answers each ``ticks`` request with a first tick; a ``ping`` runs ``script`` with the req_ids
    of the streams (what it sends is what the test is about), then answers."""

    async def handler(ws: ServerConnection) -> None:
        ids: dict[str, int] = {}
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                request = orjson.loads(raw)
                req_id = request["req_id"]
                if "ticks" in request:
                    ids[request["ticks"]] = req_id
                    await ws.send(tick(req_id, request["ticks"], 0.0).decode())
                elif "ping" in request:
                    await script(ws, ids)
                    pong = {"echo_req": {"ping": 1, "req_id": req_id}, "msg_type": "ping", "ping": "pong"}
                    await ws.send(orjson.dumps({**pong, "req_id": req_id}))
                elif "forget" in request:
                    await ws.send(orjson.dumps({"forget": 1, "msg_type": "forget", "req_id": req_id}))

    return handler


@asynccontextmanager
async def two_streams(url: str, **options: Any) -> AsyncIterator[tuple[Any, Any, Any]]:
    from deriv_options import OptionsClient

    async with OptionsClient.connect(url, reconnect=FAST, **options) as client:
        async with client.subscribe_ticks("R_10") as a, client.subscribe_ticks("R_25") as b:
            yield client, a, b


def test_the_last_req_id_of_the_text_is_the_guess_and_only_digits_count() -> None:
    assert frame_req_id(b'{"echo_req":{"req_id":7},"msg_type":"tick","req_id":7}') == 7
    assert frame_req_id(b'{"req_id":7,"passthrough":{"req_id":9}}') == 9  # a guess: checked later
    assert frame_req_id(b'{"req_id":"7"}') is None
    assert frame_req_id(b'{"req_id":-7}') is None
    assert frame_req_id(b'{"req_id": 7}') is None  # not written as Deriv writes it: the long way
    assert frame_req_id(b'{"msg_type":"tick"}') is None
    p = Protocol()
    state, _ = p.open_stream("ticks", {"ticks": "R_10", "subscribe": 1})
    first = tick(state.req_id, "R_10", 1.0)
    assert p.route_raw(first) is None  # not subscribed yet: its first answer is decoded
    p.receive(first)
    assert p.route_raw(tick(state.req_id, "R_10", 2.0)) is state
    assert p.route_raw(tick(state.req_id + 1, "R_10", 2.0)) is None


def test_running_ticks_are_not_decoded_by_the_transport(deriv_options_dist: Path) -> None:
    async def script(ws: ServerConnection, ids: dict[str, int]) -> None:
        for n in range(1, 201):
            await ws.send(tick(ids["R_10"], "R_10", float(n)).decode())

    async def scenario() -> None:
        async with serving(deriv_server(script)) as url, two_streams(url) as (client, a, _):
            decoded = counting_receive(client._transport)
            await client.ping()  # the server sends the ticks first
            quotes = [(await a.__anext__()).tick.quote for _ in range(201)]
            assert quotes == [0.0] + [float(n) for n in range(1, 201)]
            assert a._messages.raw is True
            assert decoded == [1]  # the answer to ping: the ticks were routed without being decoded

    run(scenario)


def test_a_frame_whose_text_names_another_stream_reaches_the_stream_it_belongs_to(
    deriv_options_dist: Path,
) -> None:
    async def script(ws: ServerConnection, ids: dict[str, int]) -> None:
        # R_25's tick, with R_10's req_id written after its own (the text's guess: R_10)
        await ws.send(tick(ids["R_25"], "R_25", 25.0, zzz={"req_id": ids["R_10"]}).decode())
        await ws.send(tick(ids["R_10"], "R_10", 10.0).decode())

    async def scenario() -> None:
        async with serving(deriv_server(script)) as url, two_streams(url) as (client, a, b):
            await client.ping()
            assert (await a.__anext__()).tick.quote == 0.0
            assert (await a.__anext__()).tick.quote == 10.0  # never R_25's tick
            assert (await b.__anext__()).tick.quote == 0.0
            moved = await b.__anext__()
            assert moved.tick.quote == 25.0 and moved.tick.symbol == "R_25"
            assert client._transport.ignored_frames == 0

    run(scenario)


@pytest.mark.parametrize("key", ['"error"', '"\\u0065rror"'])
def test_an_error_on_a_running_stream_raises_even_under_an_escaped_key(
    deriv_options_dist: Path, key: str
) -> None:
    async def script(ws: ServerConnection, ids: dict[str, int]) -> None:
        req_id = ids["R_10"]
        text = (
            f'{{"echo_req":{{"req_id":{req_id},"subscribe":1,"ticks":"R_10"}},'
            f'{key}:{{"code":"MarketIsClosed","message":"This market is presently closed."}},'
            f'"msg_type":"tick","req_id":{req_id}}}'
        )
        await ws.send(text)

    async def scenario() -> None:
        async with serving(deriv_server(script)) as url, two_streams(url) as (client, a, b):
            await client.ping()
            assert (await a.__anext__()).tick.quote == 0.0
            with pytest.raises(APIError) as caught:
                await a.__anext__()
            assert caught.value.code == "MarketIsClosed"
            with pytest.raises(StopAsyncIteration):  # the server ended it: nothing more comes
                await a.__anext__()
            assert (await b.__anext__()).tick.quote == 0.0  # the other stream is untouched

    run(scenario)


def test_garbage_carrying_the_key_is_ignored_and_a_drifted_tick_keeps_its_place(
    deriv_options_dist: Path,
) -> None:
    async def script(ws: ServerConnection, ids: dict[str, int]) -> None:
        req_id = ids["R_10"]
        await ws.send(tick(req_id, "R_10", 1.0).decode())
        await ws.send(f'{{"req_id":{req_id},"tick":{{"quote":'.encode())  # cut short: not JSON
        await ws.send(tick(req_id, "R_10", "two").decode())  # drifted: the quote is not a number
        await ws.send(tick(req_id, "R_10", 3.0).decode())
        await ws.send(tick(req_id, "R_10", 4.0).decode())

    async def scenario() -> None:
        async with serving(deriv_server(script)) as url, two_streams(url) as (client, a, _):
            await client.ping()
            got = [await a.__anext__() for _ in range(5)]
            assert [m.tick.quote for m in got[:2]] == [0.0, 1.0]
            drifted = got[2]  # read field by field: kept as received, its drift reported
            assert drifted.tick.quote == "two"
            assert [d.path for d in drift_of(drifted)] == [("tick", "quote")]
            assert [m.tick.quote for m in got[3:]] == [3.0, 4.0]
            assert client._transport.ignored_frames == 1

    run(scenario)


def test_strict_streams_are_decoded_and_checked_as_before(deriv_options_dist: Path) -> None:
    async def script(ws: ServerConnection, ids: dict[str, int]) -> None:
        await ws.send(tick(ids["R_10"], "R_10", 1.0).decode())
        broken = orjson.loads(tick(ids["R_10"], "R_10", 2.0))
        del broken["tick"]["pip_size"]  # the schema requires it; the model does not
        await ws.send(orjson.dumps(broken).decode())

    async def scenario() -> None:
        async with serving(deriv_server(script)) as url, two_streams(url, strict=True) as (client, a, _):
            decoded = counting_receive(client._transport)
            await client.ping()
            assert [(await a.__anext__()).tick.quote for _ in range(2)] == [0.0, 1.0]
            with pytest.raises(DriftError, match="pip_size"):  # checked against the schema, running or not
                await a.__anext__()
            assert a._messages.raw is False and len(decoded) == 3

    run(scenario)


# -- JSON-RPC ---------------------------------------------------------------------------------------

ONE, TWO = "ticker.ONE.raw", "ticker.TWO.raw"


class Ticker(ResponseModel):
    instrument_name: str | None = None
    last_price: float | None = None


def note(channel: str, price: Any, *, head: str = "", tail: str = "") -> str:
    """A notification as Deribit writes one; ``head``/``tail`` add text at the top level."""
    data = orjson.dumps({"instrument_name": channel.split(".")[1], "last_price": price}).decode()
    return (
        f'{{"jsonrpc":"2.0",{head}"method":"subscription","params":{{"channel":"{channel}",'
        f'"data":{data}}}{tail}}}'
    )


def rpc_server(script: Callable[[ServerConnection, int], Awaitable[None]]) -> Any:
    """Answers a subscribe for ONE and TWO, then runs ``script`` with the id of the next call it
    gets (``public/go``), which it leaves to the script to answer."""

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                request = orjson.loads(raw)
                if request["method"] == "public/subscribe":
                    channels = request["params"]["channels"]
                    await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": request["id"], "result": channels}))
                elif request["method"] == "public/go":
                    await script(ws, request["id"])
                else:
                    await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": request["id"], "result": []}))

    return handler


def test_notifications_are_read_from_their_bytes_and_impostors_go_the_long_way() -> None:
    async def script(ws: ServerConnection, call_id: int) -> None:
        await ws.send(note(ONE, 1.0))
        await ws.send(note(ONE, 2.0, tail=',"id":999'))  # with an id it is a request from the server:
        await ws.send(note(ONE, 3.0, head='"id":998,'))  # not supported, whatever the text looks like
        # the text says ONE, the message (the last key wins) says TWO: TWO's
        await ws.send(note(ONE, 4.0).replace('"data"', f'"channel":"{TWO}","data"'))
        await ws.send(note(ONE, "five"))  # drifted
        await ws.send(note(ONE, 6.0))
        await ws.send(note(TWO, 7.0))
        await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": call_id, "result": "done"}))

    async def scenario() -> None:
        async with serving(rpc_server(script)) as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            channels = [Channel(ONE, Ticker), Channel(TWO, Ticker)]
            async with client.subscribe(*channels) as stream:
                decoded = counting_receive(client._transport)
                go = asyncio.ensure_future(client._transport.request({"method": "public/go"}, timeout=5))
                got = [await stream.__anext__() for _ in range(5)]
                assert [(n.channel, n.data.last_price) for n in got] == [
                    (ONE, 1.0),
                    (TWO, 4.0),
                    (ONE, "five"),
                    (ONE, 6.0),
                    (TWO, 7.0),
                ]
                assert [d.path for d in drift_of(got[2].data)] == [("last_price",)]
                assert stream._messages.raw is True
                assert (await go)["result"] == "done"
                assert client._transport.ignored_frames == 2  # the two requests
                # decoded by the transport: both requests and the answer (the note naming two channels
                # and the drifted one were this stream's: decoded by the stream and read there)
                assert len(decoded) == 3

    run(scenario)


def test_a_note_whose_text_names_another_streams_channel_reaches_that_stream() -> None:
    async def script(ws: ServerConnection, call_id: int) -> None:
        await ws.send(note(ONE, 4.0).replace('"data"', f'"channel":"{TWO}","data"'))
        await ws.send(note(ONE, 1.0))
        await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": call_id, "result": "done"}))

    async def scenario() -> None:
        async with serving(rpc_server(script)) as url, BaseRpcClient.connect(url, reconnect=FAST) as client:
            async with (
                client.subscribe(Channel(ONE, Ticker)) as one,
                client.subscribe(Channel(TWO, Ticker)) as two,
            ):
                assert (await client._transport.request({"method": "public/go"}, timeout=5))[
                    "result"
                ] == "done"
                assert (await one.__anext__()).data.last_price == 1.0  # never the note for TWO
                moved = await two.__anext__()
                assert (moved.channel, moved.data.last_price) == (TWO, 4.0)

    run(scenario)
