"""The ``websockets`` client connection the transport uses: data messages go to a callback, inline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def connection_class() -> type[Any]:
    """A ``websockets`` client connection that hands each data message to a callback, inline.

    The stock connection queues frames for a ``recv()`` coroutine; dispatching from the read
    callback instead saves a task switch per message (calls answer sooner, streams deliver more).
    Backpressure is ours: every stream buffer is bounded.

    This overrides ``process_event``, an internal method of ``websockets``: the dependency is bounded
    to the versions it is tested with (pyproject.toml), the method's presence is checked here, and a
    test fails loudly if the hook stops being called.
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

        def process_event(self, event: Any) -> None:
            handler = self.on_message
            if handler is None or type(event) is not Frame or self.response is None:
                super().process_event(event)
                return
            opcode = event.opcode
            if opcode is text or opcode is binary:
                if event.fin:  # a whole message: the hot path
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

    return DispatchingConnection
