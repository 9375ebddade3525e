"""The mock as a tool for other programs' tests: a fault plan, and an HTTP control endpoint.

:class:`FaultPlan` is a set of WebSocket faults in one value, the same for every API: drop each
connection after n messages or t seconds, delay answers (all, or per call), answer calls with an
API error, send garbage frames, refuse handshakes, stop answering. The CLI builds one from its
flags (``deriv-mock --drop-every 5 --fail ticks=RateLimit:2``); :meth:`FaultPlan.apply` sets it on
a running mock; :meth:`FaultPlan.from_json` reads the same thing as JSON.

:class:`ControlServer` serves, on 127.0.0.1, what a test written in any language needs to drive
the mock from outside and check what its program sent::

    GET    /records?since=N&kind=K  what the mock received (the journal): a JSON array, oldest first
    GET    /faults                  the faults in force
    POST   /faults                  apply a fault plan (JSON: {"drop_every": 3, "fail": ["buy=RateLimit"]})
    DELETE /faults                  clear every fault
    POST   /drop?mode=close&code=N  drop every live connection now; {"dropped": n}
    POST   /garbage                 send garbage frames on every live connection now; {"connections": n}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, get_args

import orjson

from .faults import DropMode
from .http import HTTPRequest, HTTPResponse, HTTPServer
from .record import Journal
from .ws import WebSocketMock

__all__ = ["CallFailure", "ControlServer", "FaultPlan", "clear_faults", "parse_delay_call", "parse_fail"]

log = logging.getLogger("deriv_runtime.mock.control")

_DROP_MODES: tuple[str, ...] = get_args(DropMode)


@dataclass(frozen=True, slots=True)
class CallFailure:
    """``--fail CALL=CODE[:COUNT]``: ``call`` ``None`` is any call, ``count`` ``None`` until cleared."""

    call: str | None
    code: str
    count: int | None = 1

    def __str__(self) -> str:
        count = "*" if self.count is None else str(self.count)
        return f"{self.call or '*'}={self.code}:{count}"


def parse_fail(text: str) -> CallFailure:
    """``CALL=CODE[:COUNT]``: CALL ``*`` is any call; COUNT (default 1) ``*`` is until cleared."""
    call, sep, rest = text.partition("=")
    if not sep or not call or not rest:
        raise ValueError(f"expected CALL=CODE[:COUNT] (e.g. buy=RateLimit:2), not {text!r}")
    code, sep, count_text = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not code:
        raise ValueError(f"no error code in {text!r}")
    count: int | None = 1
    if sep:
        if count_text == "*":
            count = None
        elif count_text.isdigit() and int(count_text) >= 1:
            count = int(count_text)
        else:
            raise ValueError(f"COUNT must be a positive integer or *, not {count_text!r}")
    return CallFailure(None if call == "*" else call, code, count)


def parse_delay_call(text: str) -> tuple[str, float]:
    """``CALL=SECONDS``."""
    call, sep, seconds = text.partition("=")
    try:
        value = float(seconds)
    except ValueError:
        value = -1.0
    if not sep or not call or value < 0:
        raise ValueError(f"expected CALL=SECONDS (e.g. buy=0.5), not {text!r}")
    return call, value


@dataclass(slots=True)
class FaultPlan:
    """WebSocket faults to set on a mock (``None``: leave as it is). See the module docstring."""

    #: Drop each connection after it has sent this many messages (every new one too).
    drop_every: int | None = None
    #: Drop each connection this many seconds after it opened (every new one too).
    drop_after: float | None = None
    #: How connections are dropped: ``abort`` (TCP closed, no close frame) or ``close`` (:attr:`drop_code`).
    drop_mode: DropMode = "abort"
    drop_code: int = 1011
    #: Seconds before each answer.
    delay: float | None = None
    #: Seconds before the answers to these calls.
    delay_calls: dict[str, float] = field(default_factory=dict)
    #: API errors forced on calls.
    fail: list[CallFailure] = field(default_factory=list)
    #: A garbage frame after every n-th message of a connection.
    garbage_every: int | None = None
    #: Refuse every opening handshake (True), or stop refusing (False).
    refuse_handshake: bool | None = None
    #: Refuse the next n opening handshakes, then accept.
    refuse_first: int | None = None
    #: The HTTP status of refused handshakes.
    refuse_status: int | None = None
    #: Stop answering (reading paused, no stream messages), or answer again.
    silent: bool | None = None

    def __post_init__(self) -> None:
        if self.drop_every is not None and self.drop_every < 1:
            raise ValueError("drop_every must be at least 1")
        if self.drop_after is not None and self.drop_after <= 0:
            raise ValueError("drop_after must be more than 0 seconds")
        if self.drop_mode not in _DROP_MODES:
            raise ValueError(f"drop_mode must be one of {', '.join(_DROP_MODES)}, not {self.drop_mode!r}")
        if not 1000 <= self.drop_code <= 4999:
            raise ValueError("drop_code must be a WebSocket close code (1000-4999)")
        if self.delay is not None and self.delay < 0:
            raise ValueError("delay must not be negative")
        if self.garbage_every is not None and self.garbage_every < 1:
            raise ValueError("garbage_every must be at least 1")
        if self.refuse_first is not None and self.refuse_first < 0:
            raise ValueError("refuse_first must not be negative")
        if self.refuse_status is not None and not 400 <= self.refuse_status <= 599:
            raise ValueError("refuse_status must be 4xx or 5xx")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultPlan:
        """A plan from decoded JSON: the field names as keys; ``fail`` a list of
        ``"CALL=CODE[:COUNT]"`` strings or ``{"call", "code", "count"}`` objects; ``delay_calls``
        an object ``{call: seconds}``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        values = dict(data)
        fails: list[CallFailure] = []
        for item in values.pop("fail", None) or []:
            if isinstance(item, str):
                fails.append(parse_fail(item))
            elif isinstance(item, Mapping) and "code" in item:
                count = item.get("count", 1)
                fails.append(
                    CallFailure(item.get("call"), str(item["code"]), None if count is None else int(count))
                )
            else:
                raise ValueError(
                    f"a fail entry is 'CALL=CODE[:COUNT]' or an object with a code, not {item!r}"
                )
        delays = values.pop("delay_calls", None) or {}
        if not isinstance(delays, Mapping):
            raise ValueError("delay_calls must be an object {call: seconds}")
        try:
            return cls(**values, fail=fails, delay_calls={str(k): float(v) for k, v in delays.items()})
        except TypeError as exc:
            raise ValueError(f"bad fault settings: {exc}") from None

    def apply(self, mock: WebSocketMock[Any]) -> None:
        """Set the plan on ``mock`` (running or not; from any thread)."""
        if self.drop_every is not None:
            mock.drop_after(self.drop_every, mode=self.drop_mode, code=self.drop_code)
        if self.drop_after is not None:
            mock.drop_after_seconds(self.drop_after, mode=self.drop_mode, code=self.drop_code)
        if self.delay is not None:
            mock.delay = self.delay
        if self.delay_calls:
            mock.delay_calls.update(self.delay_calls)
        for failure in self.fail:
            mock.fail_call(failure.code, failure.call, count=failure.count)
        if self.garbage_every is not None:
            mock.garbage_every = self.garbage_every
        if self.refuse_status is not None:
            mock.refuse_status = self.refuse_status
        if self.refuse_handshake is not None:
            mock.refuse_handshake = self.refuse_handshake
        if self.refuse_first is not None:
            mock.refuse_next = self.refuse_first
        if self.silent is not None:
            mock.silent = self.silent

    def describe(self) -> list[str]:
        """One line per fault the plan sets, for people."""
        how = "abort" if self.drop_mode == "abort" else f"close {self.drop_code}"
        lines = []
        if self.drop_every is not None:
            lines.append(f"drop each connection after {self.drop_every} messages ({how})")
        if self.drop_after is not None:
            lines.append(f"drop each connection {self.drop_after:g} s after it opens ({how})")
        if self.delay:
            lines.append(f"answer after {self.delay:g} s")
        lines.extend(f"answer {call} after {s:g} s" for call, s in sorted(self.delay_calls.items()))
        for f in self.fail:
            times = "every time" if f.count is None else f"{f.count} time{'s' if f.count != 1 else ''}"
            lines.append(f"answer {f.call or 'any call'} with error {f.code}, {times}")
        if self.garbage_every is not None:
            lines.append(f"a garbage frame after every {self.garbage_every} messages")
        status = self.refuse_status or "503"
        if self.refuse_handshake:
            lines.append(f"refuse every handshake (HTTP {status})")
        if self.refuse_first:
            lines.append(f"refuse the first {self.refuse_first} handshakes (HTTP {status})")
        if self.silent:
            lines.append("silent: no answers, no stream messages, no pongs")
        return lines


def clear_faults(mock: WebSocketMock[Any]) -> None:
    """Stop every WebSocket fault of :class:`FaultPlan` (and the API's forced errors)."""
    mock.drop_after(None)
    mock.drop_after_seconds(None)
    mock.delay = 0.0
    mock.delay_calls.clear()
    mock.garbage_every = None
    mock.refuse_handshake = False
    mock.refuse_next = 0
    mock.silent = False
    mock.clear_faults()


def fault_state(mock: WebSocketMock[Any]) -> dict[str, Any]:
    """The WebSocket faults in force on ``mock``, as JSON values."""
    drop_new, drop_age = mock._drop_new, mock._drop_age
    return {
        "drop_every": None if drop_new is None else drop_new[0],
        "drop_after": None if drop_age is None else drop_age[0],
        "drop_mode": (drop_new or drop_age or (0, "abort", 1011))[1],
        "delay": mock.delay,
        "delay_calls": dict(mock.delay_calls),
        "garbage_every": mock.garbage_every,
        "refuse_handshake": mock.refuse_handshake,
        "refuse_first": mock.refuse_next,
        "refuse_status": mock.refuse_status,
        "silent": mock.silent,
    }


def _json(status: int, value: Any) -> HTTPResponse:
    return HTTPResponse(status, orjson.dumps(value, default=str) + b"\n", "application/json")


class ControlServer:
    """The HTTP control endpoint of a running mock (see the module docstring), on ``host``:``port``
    (0: any free port). It reads ``journal`` (default: the mock's :attr:`~.ws.WebSocketMock.journal`,
    or a new in-memory one it sets on the mock). Start it on the mock's event loop."""

    def __init__(
        self,
        mock: WebSocketMock[Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        journal: Journal | None = None,
    ) -> None:
        self.mock = mock
        self.host = host
        self._port = port
        self.journal = journal or mock.journal or mock.record_to(Journal()) or Journal()
        self._server: HTTPServer | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    async def start(self) -> ControlServer:
        server = HTTPServer(self.handle)
        await server.start(self.host, self._port)
        self._server = server
        self._port = server.port
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    async def __aenter__(self) -> ControlServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def handle(self, request: HTTPRequest) -> HTTPResponse:
        """The :class:`~.http.HTTPServer` handler."""
        try:
            return await self._route(request)
        except ValueError as exc:
            return _json(400, {"error": str(exc)})

    async def _route(self, request: HTTPRequest) -> HTTPResponse:
        path, method, mock = request.path.rstrip("/") or "/", request.method, self.mock
        routes: dict[str, Sequence[str]] = {
            "/": ["GET"],
            "/records": ["GET"],
            "/faults": ["GET", "POST", "DELETE"],
            "/drop": ["POST"],
            "/garbage": ["POST"],
        }
        if path not in routes:
            return _json(404, {"error": f"no {path}", "endpoints": sorted(routes)})
        if method not in routes[path]:
            return _json(405, {"error": f"{method} {path}: use {' or '.join(routes[path])}"})
        if path == "/":
            return _json(200, {"endpoints": {p: list(m) for p, m in routes.items()}, "doc": __doc__})
        if path == "/records":
            since = request.query_value("since") or "0"
            if not since.isdigit():
                raise ValueError("since must be a record number (seq)")
            return _json(200, self.journal.since(int(since), request.query_value("kind")))
        if path == "/faults":
            if method == "POST":
                try:
                    body = orjson.loads(request.body or b"{}")
                except orjson.JSONDecodeError:
                    raise ValueError("the body must be a JSON object") from None
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                plan = FaultPlan.from_json(body)
                plan.apply(mock)
                log.info("mock control: faults applied: %s", "; ".join(plan.describe()) or "none")
            elif method == "DELETE":
                clear_faults(mock)
            return _json(200, fault_state(mock))
        if path == "/drop":
            mode = request.query_value("mode") or "abort"
            code = request.query_value("code") or "1011"
            if mode not in _DROP_MODES or not code.isdigit():
                raise ValueError("mode is abort or close; code a WebSocket close code")
            dropped = await mock.drop_all(mode="close" if mode == "close" else "abort", code=int(code))
            return _json(200, {"dropped": dropped})
        sent = await mock.send_garbage()
        return _json(200, {"connections": sent})
