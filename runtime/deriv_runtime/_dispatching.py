"""The ``websockets`` client connection the transport uses: data messages go to a callback, inline.

The connection finds frame boundaries itself and takes a plain data frame (a whole text or binary
message, unmasked, no reserved bits, within the size limit) straight out of the read; every other
frame (control frames, fragments, compressed frames, anything malformed or too big) goes to
``websockets``' own parser whole, so its state (close handshake, pings, limits, protocol errors)
is exactly what it would be had it parsed everything. Measured: ``websockets`` spends about 1.7 us
parsing a frame, this loop about 0.2 us.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import Callable
from typing import Any

#: Frames parsed per turn of the event loop when one read brings a burst (a read takes up to
#: 256 KiB: hundreds of messages). Between two slices the event loop runs the tasks the slice woke
#: (a stream's consumer reads what was just parsed, while it is still in the CPU's cache), and few
#: parsed messages wait at a time: the garbage collector's young generation (700 new containers by
#: default) rarely fills. Measured on a Deribit ticker burst: 0 collections instead of ~230 per
#: 50,000 notifications, about 10 % less time per notification.
BURST_SLICE = 64

#: After a read of at least this many bytes (a burst is arriving) the connection asks to acknowledge
#: at once (``TCP_QUICKACK``, Linux; one ``setsockopt``, about 0.4 us). Linux delays ACKs on a
#: connection it sees as interactive (ours sends requests), and a peer whose congestion window
#: restarted after an idle spell waits for those ACKs: a burst that follows calls then stalls 40 ms
#: at a time. Measured on 20,000-tick bursts after calls: 95,000-185,000 messages/s (stalls) without
#: it or at 16 KiB, 270,000-285,000 from 4 KiB down. Not on every read: on small answers the
#: immediate ACKs cost sequential calls 4 % (the delayed ACK rides on the next request instead).
QUICKACK_READ = 4096
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)

#: Bytes of small messages :meth:`send_soon` lets wait for the end of the turn of the event loop
#: (beyond them it writes at once: a big message is never held back).
COALESCE_BYTES = 65536

#: Random bytes drawn at once for the masks of the frames :meth:`send_soon` writes (4 a frame):
#: ``websockets`` draws each mask with its own ``os.urandom`` call, about 2 us, a tenth of a call
#: made among 100 in flight. The same source, read 1,024 masks at a time.
MASK_POOL = 4096

#: First byte of a whole text / binary message (FIN, no reserved bits).
_WHOLE_MESSAGE = (0x81, 0x82)
_NO_LIMIT = 1 << 63


@functools.cache
def connection_class() -> type[Any]:
    """A ``websockets`` client connection that hands each data message to a callback, inline.

    The stock connection queues frames for a ``recv()`` coroutine; dispatching from the read
    callback instead saves a task switch per message (calls answer sooner, streams deliver more).
    Backpressure is ours: every stream buffer is bounded.

    A read that brings more than :data:`BURST_SLICE` frames is parsed in slices, one per turn of the
    event loop, in order: reading pauses until the last slice is handed over, and a lost connection
    (or the end of the stream) hands over every message received before it first.

    Built once per process (the first connection pays for it, the checks below included).

    This overrides ``data_received`` and ``process_event``, internal methods of ``websockets``, and
    reads its protocol's ``state``, ``current_size`` and size limits: the dependency is bounded to
    the versions it is tested with (pyproject.toml), the hooks' presence is checked here, and tests
    fail loudly if the hook stops being called or a frame goes astray.
    """
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import Frame, Opcode

    try:
        from websockets.speedups import apply_mask  # websockets' own C masking, as its frames use
    except ImportError:  # pragma: no cover - a build without the C extension
        from websockets.utils import apply_mask
    from websockets.protocol import Protocol, Side, State

    probe = Protocol(Side.CLIENT)
    missing = [
        n for n in ("process_event", "data_received") if not callable(getattr(ClientConnection, n, None))
    ]
    missing += [
        n for n in ("state", "current_size", "max_message_size", "max_fragment_size") if not hasattr(probe, n)
    ]
    if missing:
        from importlib.metadata import version

        raise ImportError(
            f"websockets {version('websockets')} is not supported: its connection lacks "
            f"{', '.join(missing)}; install the version deriv-codegen declares (pip install 'websockets<18')"
        )

    text, binary = Opcode.TEXT, Opcode.BINARY  # closure cells: cheaper than the enum's attributes
    OPEN, CONNECTING = State.OPEN, State.CONNECTING

    class DispatchingConnection(ClientConnection):
        on_message: Callable[[bytes], None] | None = None
        _fragments: list[bytes] | None = None
        #: Data messages handed to ``on_message`` (a test checks that the hook is still called).
        dispatched = 0
        #: Frames this turn may still parse before the rest of the read waits.
        _budget = 0
        #: Bytes of a read held for the next turn (``None``: nothing is held).
        _backlog: bytes | None = None
        #: The start of a frame whose header had not fully arrived (parsed with the next read).
        _head = b""
        #: Bytes ``websockets`` still needs to complete the frame it was handed the start of.
        _owed = 0
        #: ``websockets`` parses everything on this connection (its handshake answer came in pieces:
        #: where its frames start is not known here).
        _slow = False
        #: The write of the messages :meth:`send_soon` queued this turn, scheduled.
        _flush_handle: asyncio.Handle | None = None
        #: Bytes of the messages :meth:`send_soon` queued this turn.
        _queued = 0
        #: Random bytes for masks (:data:`MASK_POOL`), and the next one's offset.
        _masks = b""
        _mask_at = 0
        #: Reads after which the connection asked to acknowledge at once (:data:`QUICKACK_READ`);
        #: ``-1``: the socket cannot (not Linux, not TCP).
        quickacks = 0 if _TCP_QUICKACK is not None else -1

        def data_received(self, data: bytes) -> None:
            if len(data) >= QUICKACK_READ and self.quickacks >= 0:
                self._ack_now()
            if self._backlog is not None:  # a burst is being handed over: this comes after it
                self._backlog += data
                return
            self._budget = BURST_SLICE
            self._feed(data)

        def _ack_now(self) -> None:
            sock = self.transport.get_extra_info("socket")
            try:
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            except (OSError, AttributeError, TypeError):  # no TCP socket under this transport
                self.quickacks = -1
            else:
                self.quickacks += 1

        def _to_websockets(self, data: bytes) -> None:
            super().data_received(data)

        def _feed(self, data: bytes) -> None:
            """Parse ``data``: the bytes after the last frame (or handshake) parsed whole."""
            if self._head:
                data, self._head = self._head + data, b""
            pos, size = 0, len(data)
            if self._owed:  # the rest of the frame websockets was handed the start of
                pos = min(self._owed, size)
                self._owed -= pos
                self._to_websockets(data[:pos])
            protocol = self.protocol
            if protocol.state is not OPEN or self._slow:
                if protocol.state is not CONNECTING or self._slow:
                    if pos < size:
                        self._to_websockets(data[pos:])
                    return
                end = data.find(b"\r\n\r\n", pos)  # the handshake's answer (a 101 has no body)
                if end < 0:
                    self._slow = True
                    self._to_websockets(data[pos:])
                    return
                pos = end + 4
                self._to_websockets(data[:pos])
                if protocol.state is not OPEN:
                    if pos < size:
                        self._to_websockets(data[pos:])
                    return
            limit = protocol.max_message_size or _NO_LIMIT
            if protocol.max_fragment_size is not None:
                limit = min(limit, protocol.max_fragment_size)
            handler = self.on_message
            while pos < size:
                if size - pos < 2:
                    self._head = data[pos:]
                    return
                first, second = data[pos], data[pos + 1]
                length = second & 0x7F
                start = pos + 2
                if length == 126:
                    start = pos + 4
                    if start > size:
                        self._head = data[pos:]
                        return
                    length = (data[pos + 2] << 8) | data[pos + 3]
                elif length == 127:
                    start = pos + 10
                    if start > size:
                        self._head = data[pos:]
                        return
                    length = int.from_bytes(data[pos + 2 : start], "big")
                if second & 0x80:  # masked: a server must not (websockets refuses it)
                    start += 4
                    if start > size:
                        self._head = data[pos:]
                        return
                end = start + length
                if end > size:  # websockets takes the start of the frame, and what is owed of it
                    self._owed = end - size
                    self._to_websockets(data[pos:])
                    return
                if (
                    first in _WHOLE_MESSAGE
                    and second < 0x80
                    and length <= limit
                    and handler is not None
                    and protocol.current_size is None
                ):
                    self.dispatched += 1
                    handler(data[start:end])
                else:
                    self._to_websockets(data[pos:end])
                    if protocol.state is not OPEN:  # it closed (or failed): the rest is its own
                        if end < size:
                            self._to_websockets(data[end:])
                        return
                    handler = self.on_message
                pos = end
                self._budget -= 1
                if self._budget <= 0 and pos < size:
                    self._hold(data[pos:])
                    return

        async def send_soon(self, text: str) -> None:
            """Send ``text`` as one text message, as ``send`` does (``ConnectionClosed`` if the
            connection is not open; waits while the peer is not reading), except that small messages
            sent during one turn of the event loop leave together, in one write at its end: 100
            calls made at once cost one system call, not 100 (a ``send`` costs about as much as the
            rest of a call). Once :data:`COALESCE_BYTES` are waiting, or the peer is not reading,
            they are written at once and the caller waits as ``send``'s would. Messages keep their
            order, with ``send``'s too."""
            protocol = self.protocol
            if (
                protocol.state is not OPEN
                or self.send_in_progress is not None
                or protocol.expect_continuation_frame
            ):
                await self.send(text)
                return
            payload = text.encode()
            if protocol.extensions:  # compressed: websockets encodes it
                protocol.send_text(payload)
            else:
                protocol.writes.append(self._text_frame(payload))
            self._queued += len(payload)
            if self._queued < COALESCE_BYTES and not self.paused:
                if self._flush_handle is None:
                    self._flush_handle = self.loop.call_soon(self._flush)
                return
            self._flush()
            if self.paused:  # the peer is not reading: wait, as send does
                try:
                    await self.drain()
                except Exception:
                    raise self.close_exc from None

        def _text_frame(self, payload: bytes) -> bytes:
            """``payload`` as one masked text frame (what ``Frame(TEXT, payload).serialize(mask=True)``
            writes, its mask from :data:`MASK_POOL`)."""
            size = len(payload)
            if size < 126:
                head = bytes((0x81, 0x80 | size))
            elif size < 65536:
                head = bytes((0x81, 0xFE)) + size.to_bytes(2, "big")
            else:
                head = bytes((0x81, 0xFF)) + size.to_bytes(8, "big")
            at = self._mask_at
            if at >= len(self._masks):
                self._masks, at = os.urandom(MASK_POOL), 0
            mask = self._masks[at : at + 4]
            self._mask_at = at + 4
            return head + mask + apply_mask(payload, mask)

        def _flush(self) -> None:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None
            self._queued = 0
            writes = self.protocol.writes
            if len(writes) > 1 and all(writes):  # (an empty item asks for the end of the stream)
                writes[:] = [b"".join(writes)]
            try:
                self.send_data()
            except Exception as exc:  # as websockets does when a send fails: the connection is done for
                self.set_connection_exc(exc)
                self.transport.abort()

        def process_event(self, event: Any) -> None:
            """A frame ``websockets`` parsed (control frames, fragments, compressed messages)."""
            handler = self.on_message
            if handler is None or type(event) is not Frame or self.response is None:
                super().process_event(event)
                return
            opcode = event.opcode
            if opcode is text or opcode is binary:
                if event.fin:
                    self.dispatched += 1
                    handler(bytes(event.data))
                else:
                    self._fragments = [bytes(event.data)]
            elif opcode is Opcode.CONT:
                if self._fragments is not None:
                    self._fragments.append(bytes(event.data))
                    if event.fin:
                        data, self._fragments = b"".join(self._fragments), None
                        self.dispatched += 1
                        handler(data)
            else:
                super().process_event(event)

        def _hold(self, rest: bytes) -> None:
            """This turn's slice is handed over: the rest of the read waits for the next turn."""
            self._backlog = rest
            self.transport.pause_reading()  # only this hook pauses: data frames never queue in websockets
            self.loop.call_soon(self._next_slice)

        def _next_slice(self) -> None:
            rest, self._backlog = self._backlog, None
            if rest is None:  # handed over already (the connection closed meanwhile)
                return
            self._budget = BURST_SLICE
            try:
                self._feed(rest)
            except BaseException:
                # as when data_received fails: the connection is done for, the rest of the read lost
                self._backlog = None
                self.transport.abort()
                raise
            if self._backlog is None and not self.transport.is_closing():
                self.transport.resume_reading()

        def _hand_over_all(self) -> None:
            """Hand over every held message now: nobody sees the end of the connection before them."""
            rest, self._backlog = self._backlog, None
            if rest:
                self._budget = _NO_LIMIT
                self._feed(rest)

        def eof_received(self) -> None:
            self._hand_over_all()
            super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            self._hand_over_all()
            super().connection_lost(exc)

    return DispatchingConnection
