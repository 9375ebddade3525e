"""The mock's event loop: a server that runs on one loop, driven from any thread.

:class:`LoopHost` runs a server's :meth:`~LoopHost.start` / :meth:`~LoopHost.stop` on its own loop
in a daemon thread (:meth:`~LoopHost.run_in_thread`), and lets other threads change its state on
that loop (:meth:`~LoopHost._apply`) or schedule actions there (:meth:`~LoopHost._schedule`), which
return an :class:`Action`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, Self, TypeVar

__all__ = ["Action", "LoopHost"]

T = TypeVar("T")


class Action(Generic[T]):
    """A fault action already scheduled on the server's loop.

    ``await action`` from any event loop (the server's or another thread's), or ``action.result()``
    from synchronous code (not from the server's own loop thread). Not awaiting it is fine too:
    the action runs regardless.
    """

    def __init__(self, future: concurrent.futures.Future[T], loop_thread: int | None) -> None:
        self._future = future
        self._loop_thread = loop_thread

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self._future).__await__()

    def result(self, timeout: float | None = 10.0) -> T:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("Action.result() would block the server's own loop: await the action instead")
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()


class LoopHost:
    """A server living on one event loop: subclasses implement :meth:`start` (calling
    :meth:`_bind_loop`) and :meth:`stop` (calling :meth:`_unbind_loop`)."""

    #: The name of the thread :meth:`run_in_thread` starts.
    thread_name = "mock"
    _loop: asyncio.AbstractEventLoop | None = None
    _loop_thread: int | None = None

    async def start(self) -> Self:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def _bind_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def _unbind_loop(self) -> None:
        self._loop = None
        self._loop_thread = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self, *, timeout: float = 30.0) -> Iterator[Self]:
        """Run the server on its own event loop in a daemon thread, for sync code and scripts::

        with MockServer(tick_interval=0.05).run_in_thread() as server:
            connect_somehow(server.url)
        """
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the mock server did not start in time")
        if failure:
            thread.join(timeout)
            raise failure[0]
        try:
            yield self
        finally:
            try:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout)

    # -- from other threads -------------------------------------------------------------------

    def _on_loop_thread(self) -> bool:
        return self._loop_thread == threading.get_ident()

    def _apply(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the server's loop (now, if already there or not running) and wait for it."""
        loop = self._loop
        if loop is None or self._on_loop_thread() or not loop.is_running():
            fn()
            return

        async def run() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(run(), loop).result(10)

    def _schedule(self, factory: Callable[[], Awaitable[T]]) -> Action[T]:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the mock server is not running")

        async def run() -> T:
            return await factory()

        return Action(asyncio.run_coroutine_threadsafe(run(), loop), self._loop_thread)

    @staticmethod
    def _spawn(coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
