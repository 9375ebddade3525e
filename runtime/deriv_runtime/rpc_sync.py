"""Blocking facade over the generated JSON-RPC clients (Deribit), for scripts and notebooks.

The async client runs on a :class:`~deriv_runtime.sync.LoopThread` (an event loop in a daemon
thread), as the Deriv sync clients do; every blocking method submits the async method's coroutine
and waits for it. Deadlines are the async calls' own::

    with DeribitSyncClient.connect() as client:
        print(client.public.get_time())
        with client.subscribe(ticker("BTC-PERPETUAL", "100ms")) as stream:
            for note in stream:
                ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from .client import UrlSource
from .rpc import BaseRpcClient, Channel, Notification, RpcStream
from .sync import LoopThread, SyncClientBase, SyncStream

if TYPE_CHECKING:
    from .auth.deribit import DeribitAuth
    from .auth.deribit_signing import Signer

T = TypeVar("T")
A = TypeVar("A", bound=BaseRpcClient)
S = TypeVar("S", bound="SyncBaseRpcClient[Any]")

__all__ = ["SyncBaseRpcClient", "SyncRpcStream"]


class SyncRpcStream(SyncStream[Notification[T]]):
    """``with client.subscribe(channel, ...) as stream: for note in stream: ...``"""

    def __init__(self, runner: LoopThread, stream: RpcStream[T]) -> None:
        super().__init__(runner, stream)
        self._channels = stream.channels

    @property
    def channels(self) -> list[str]:
        return list(self._channels)


class SyncBaseRpcClient(SyncClientBase[A]):
    """Base of the generated blocking JSON-RPC clients: the async client, driven from a loop thread."""

    _async_class: ClassVar[type[BaseRpcClient]]
    #: The URL :meth:`connect` uses when given none (the API's production WebSocket endpoint).
    _default_url: ClassVar[str] = ""

    @classmethod
    def connect(
        cls: type[S],
        url: UrlSource | None = None,
        *,
        timeout: float | None = 30.0,
        auth: DeribitAuth | None = None,
        **transport_options: Any,
    ) -> S:
        """Connect and return a client: ``with Client.connect() as client:``.

        ``url`` defaults to the API's production endpoint; it may be a callable (called on every
        connect). ``auth`` authenticates every connection (see :meth:`BaseRpcClient.connect`).
        ``transport_options`` go to :class:`~deriv_runtime.ws.WebSocketTransport`.
        """
        target = url if url is not None else cls._default_url
        if not target:
            raise ValueError(f"{cls.__name__}.connect needs a URL")

        async def open_client() -> Any:
            opening = cls._async_class.connect(target, timeout=timeout, auth=auth, **transport_options)
            return await opening.__aenter__()

        return cls._open(open_client)

    @classmethod
    def over_http(
        cls: type[S],
        base_url: str,
        *,
        http_method: Literal["GET", "POST"] = "GET",
        timeout: float | None = 30.0,
        auth: DeribitAuth | Signer | None = None,
        **options: Any,
    ) -> S:
        """JSON-RPC over HTTP, blocking: ``with Client.over_http(base_url, auth=...) as client:``;
        see :meth:`BaseRpcClient.over_http`."""

        async def open_client() -> Any:
            return cls._async_class._over_http(
                base_url, http_method=http_method, timeout=timeout, auth=auth, **options
            )

        return cls._open(open_client)

    @property
    def auth(self) -> DeribitAuth | None:
        """The client's authentication (its current token: ``client.auth.token``)."""
        return self._client.auth

    def logout(self, *, invalidate_token: bool = True, timeout: float | None = None) -> None:
        """``private/logout`` and close (WebSocket only); see :meth:`BaseRpcClient.logout`."""
        self._runner.run(self._client.logout(invalidate_token=invalidate_token, timeout=timeout))

    def subscribe(self, *channels: Channel[T], timeout: float | None = None) -> SyncRpcStream[T]:
        """One subscribe request for ``channels``; see :meth:`BaseRpcClient.subscribe`."""
        return SyncRpcStream(self._runner, self._client.subscribe(*channels, timeout=timeout))
