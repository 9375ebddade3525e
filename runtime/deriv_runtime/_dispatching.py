"""The ``websockets`` client connection the transport uses: data messages go to a callback, inline."""

from __future__ import annotations

import collections
import socket
from collections.abc import Callable
from typing import Any

#: Data messages handed over per turn of the event loop when one read brings a burst (a read takes
#: up to 256 KiB: hundreds of messages). Between two slices the event loop runs the tasks the slice
#: woke (a stream's consumer reads what was just parsed, while it is still in the CPU's cache), and
#: few parsed messages wait at a time: the garbage collector's young generation (700 new containers
#: by default) rarely fills. Measured on a Deribit ticker burst: 0 collections instead of ~230 per
#: 50,000 notifications, about 10 % less time per notification.
BURST_SLICE = 64

#: A read at least this large means the peer is sending a burst: the connection acknowledges at once
#: (``TCP_QUICKACK``, Linux) instead of delaying its ACKs. After request/answer traffic Linux treats a
#: connection as interactive and delays ACKs (and so the window updates the sender waits for once
#: the receive buffer filled): a burst then stalls for tens of milliseconds at a time. Measured on a
#: 20,000-tick burst after 100 calls in flight: 80,000 instead of 190,000 messages/s.
QUICKACK_READ = 16384
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def connection_class() -> type[Any]:
    """A ``websockets`` client connection that hands each data message to a callback, inline.

    The stock connection queues frames for a ``recv()`` coroutine; dispatching from the read
    callback instead saves a task switch per message (calls answer sooner, streams deliver more).
    Backpressure is ours: every stream buffer is bounded.

    A read that brings more than :data:`BURST_SLICE` data messages is handed over in slices, one per
    turn of the event loop, in order: reading pauses until the last slice is handed over, and a
    lost connection (or the end of the stream) hands over every message received before it first.

    This overrides ``process_event`` and ``data_received``, internal methods of ``websockets``: the
    dependency is bounded to the versions it is tested with (pyproject.toml), the method's presence
    is checked here, and a test fails loudly if the hook stops being called.
    """
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import Frame, Opcode

    if not callable(getattr(ClientConnection, "process_event", None)):
        from importlib.metadata import version

        raise ImportError(
            f"websockets {version('websockets')} is not supported: its connection has no process_event "
            "hook; install the version deriv-codegen declares (pip install 'websockets<18')"
        )

    text, binary = Opcode.TEXT, Opcode.BINARY  # closure cells: cheaper than the enum's attributes

    class DispatchingConnection(ClientConnection):
        on_message: Callable[[bytes], None] | None = None
        _fragments: list[bytes] | None = None
        #: Data messages handed to ``on_message`` (a test checks that the hook is still called).
        dispatched = 0
        #: Data messages this turn may still hand over before the rest of the read waits.
        _budget = 0
        #: Events of the current burst still to hand over (``None``: no burst is being handed over).
        _backlog: collections.deque[Any] | None = None
        #: Reads after which the connection asked to acknowledge at once (:data:`QUICKACK_READ`);
        #: ``-1``: the socket cannot (not Linux, not TCP).
        quickacks = 0 if _TCP_QUICKACK is not None else -1

        def data_received(self, data: bytes) -> None:
            self._budget = BURST_SLICE
            if len(data) >= QUICKACK_READ and self.quickacks >= 0:
                self._ack_now()
            super().data_received(data)  # parses the frames, then calls process_event for each

        def _ack_now(self) -> None:
            sock = self.transport.get_extra_info("socket")
            try:
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            except (OSError, AttributeError, TypeError):  # no TCP socket under this transport
                self.quickacks = -1
            else:
                self.quickacks += 1

        def process_event(self, event: Any) -> None:
            backlog = self._backlog
            if backlog is not None:  # a burst is being handed over: this comes after it
                backlog.append(event)
                return
            handler = self.on_message
            if handler is None or type(event) is not Frame or self.response is None:
                super().process_event(event)
                return
            opcode = event.opcode
            if opcode is text or opcode is binary:
                if event.fin:  # a whole message: the hot path
                    self.dispatched += 1
                    handler(bytes(event.data))
                    self._budget -= 1
                    if self._budget <= 0:
                        self._hold()
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

        def _hold(self) -> None:
            """This turn's slice is handed over: the rest of the read waits for the next turn."""
            self._backlog = collections.deque()
            self.transport.pause_reading()  # only this hook pauses: data frames never queue in websockets
            self.loop.call_soon(self._next_slice)

        def _next_slice(self) -> None:
            backlog, self._backlog = self._backlog, None
            if backlog is None:  # handed over already (the connection closed meanwhile)
                return
            self._budget = BURST_SLICE
            try:
                while backlog:
                    self.process_event(backlog.popleft())
                    if self._budget <= 0:  # the slice is full again (_hold ran): the rest, next turn
                        self._backlog = backlog
                        return
            except BaseException:
                # as when data_received fails: the connection is done for, the rest of the read lost
                self._backlog = None
                self.transport.abort()
                raise
            if not self.transport.is_closing():
                self.transport.resume_reading()

        def _hand_over_all(self) -> None:
            """Hand over every held message now: nobody sees the end of the connection before them."""
            backlog, self._backlog = self._backlog, None
            if backlog:
                self._budget = len(backlog) + 1
                for event in backlog:
                    self.process_event(event)

        def eof_received(self) -> None:
            self._hand_over_all()
            super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            self._hand_over_all()
            super().connection_lost(exc)

    return DispatchingConnection
