"""``MockLegacy``: Deriv's legacy v3 WebSocket API (``wss://ws.derivws.com/websockets/v3?app_id=...``)
on 127.0.0.1, from the v3 schemas read at run time.

    from deriv_runtime.mock import MockLegacy

    async with MockLegacy("../shared/schemas/deriv-legacy-v3/deriv-api-docs-6571f72.zip") as mock:
        url = mock.url                        # ws://127.0.0.1:P/websockets/v3?app_id=1089&l=EN
        token = mock.add_token(scopes=["read"])  # or mock.token: every scope, the default account

Every one of the calls answers (a synthesised, schema-valid answer for those without behaviour of
their own: :mod:`.calls`); ``authorize`` takes the tokens the mock was given, ``auth_required``
calls need it and the token's scopes (:mod:`.ws_api`); ``ticks``, ``proposal``, ``balance``,
``transaction`` and ``proposal_open_contract`` stream every ``tick_interval`` seconds; ``buy``,
``sell`` and ``portfolio`` share one little account per loginid (the Options mock's trading model).
The fault knobs are the core's (:class:`~..core.ws.WebSocketMock`: ``drop_after``, ``drop_all``,
``delay``, ``delay_calls``, ``garbage_every``, ``send_garbage``, ``refuse_handshake``, ``silent``),
plus :meth:`MockLegacy.fail_next` for API errors. Requests are recorded with their secrets
(``sensitive`` fields, tokens) redacted: :attr:`~..core.ws.WebSocketMock.requests`,
:attr:`MockLegacy.received`.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self, Unpack
from urllib.parse import urlencode

from ...calls import CallInfo
from ..core.faults import ServingOptions, check_count, take_fault
from ..core.record import SECRET_KEYS, redact_tree
from ..core.synth import Synthesiser
from ..core.ws import WebSocketMock
from ..deriv.host import PlatformBase
from ..deriv.market import Market, SymbolSpec
from ..deriv.pricing import MockAPIError
from ..deriv.trading import Account
from .accounts import ALL_SCOPES, SecretMaskingLogger, TokenBook
from .session import LegacyConnection
from .spec import LegacySpec, load_spec
from .ws_api import WS_PATH, LegacyWsApi

__all__ = ["DEFAULT_APP_ID", "DEFAULT_TOKEN", "LegacyFault", "MockLegacy", "ReceivedRequest"]

log = logging.getLogger("deriv_runtime.mock.legacy")

#: The app_id of :attr:`MockLegacy.url` (the one Deriv's own examples use) unless ``app_ids`` says otherwise.
DEFAULT_APP_ID = 1089
#: The token the mock accepts by default: every scope, on the default account.
DEFAULT_TOKEN = "mock-v3-token"  # noqa: S105 - the mock's own test credential


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A request as the mock received it: on which connection, for which call, while authorized
    as whom; ``message`` has its secrets redacted."""

    connection: int
    call: str | None
    loginid: str | None
    message: dict[str, Any]


@dataclass(slots=True)
class LegacyFault:
    """A forced API error: ``code``/``message`` for ``remaining`` more requests (``None``: until
    cleared) to ``call`` (``None``: any); ``hits`` counts the requests it answered."""

    code: str
    message: str
    call: str | None
    remaining: int | None
    hits: int = 0


class MockLegacy(WebSocketMock[LegacyConnection], PlatformBase):
    """A mock of Deriv's v3 WebSocket API (see the module docstring).

    ``source``: the v3 schemas' zip or directory; ``package=``: a generated package shipping them
    (``schemas.json`` or ``schemas/``) - one of the two (:func:`~.spec.load_spec`).

    ``app_ids``: the app_ids accepted (``None``: any positive integer); a connection without an
    accepted one is refused as ``app_id_refusal`` says (``"error"``: ``InvalidAppID`` then close;
    ``"handshake"``: HTTP 401). ``tokens``: token -> scopes, on the default account (``None``:
    :data:`DEFAULT_TOKEN` with every scope); more with :meth:`add_token`, on accounts from
    :meth:`add_account`. The default account ``loginid`` (virtual: ``VRTC...``) starts with
    ``balance`` ``currency``. ``check_responses``: each answer is checked against ``receive.json``;
    problems go to :attr:`schema_problems`. Every other keyword is the core's
    (:class:`~..core.faults.ServingOptions`: ``port``, ``tick_interval`` (the streams' rate;
    ``None``: only :meth:`step`), ``delay``, ``delay_calls``, ``garbage_every``...).
    """

    task_prefix = "legacy-mock"
    thread_name = "legacy-mock"
    #: New accounts (:meth:`add_account`): virtual ``VRTC9000000n`` or real ``CR9000000n``.
    ACCOUNT_PREFIXES = ("VRTC", "CR")
    ANSWER_SCHEMA_NAME = "receive"
    ENVELOPE_KEYS = (*PlatformBase.ENVELOPE_KEYS, "passthrough")

    def __init__(
        self,
        source: str | Path | None = None,
        *,
        package: str | None = None,
        seed: int = 0,
        app_ids: Iterable[int | str] | None = None,
        app_id_refusal: Literal["error", "handshake"] = "error",
        tokens: Mapping[str, Collection[str]] | None = None,
        balance: float = 10000.0,
        currency: str = "USD",
        loginid: str = "VRTC90000001",
        check_responses: bool = True,
        symbols: Mapping[str, SymbolSpec] | None = None,
        **serving: Unpack[ServingOptions],
    ) -> None:
        self.spec: LegacySpec = load_spec(source, package=package)
        super().__init__(LegacyWsApi(self), **serving)
        self.package = package
        self.seed = seed
        self.app_ids: frozenset[str] | None = None if app_ids is None else frozenset(str(a) for a in app_ids)
        if app_id_refusal not in ("error", "handshake"):
            raise ValueError("app_id_refusal must be 'error' or 'handshake'")
        self.app_id_refusal: Literal["error", "handshake"] = app_id_refusal
        self.check_responses = check_responses
        self.calls: Mapping[str, CallInfo] = {name: call.info() for name, call in self.spec.calls.items()}
        self.market = Market(seed, dict(symbols) if symbols else None)
        self.account = Account(balance=balance, currency=currency, loginid=loginid)
        #: Every account by loginid; :attr:`account` is the default one.
        self.accounts: dict[str, Account] = {loginid: self.account}
        self._account_numbers = itertools.count(2)
        self.tokens = TokenBook()
        for token, scopes in ({DEFAULT_TOKEN: ALL_SCOPES} if tokens is None else tokens).items():
            self.tokens.add(token, loginid, scopes)
        self.synthesiser = Synthesiser(random.Random(f"{seed}:legacy-synth"), now=self.market.now)  # noqa: S311
        self._ids = random.Random(f"{seed}:legacy-ids")  # noqa: S311
        self.faults: list[LegacyFault] = []
        #: Every request with its connection, call and authorized loginid (secrets redacted).
        self.received: list[ReceivedRequest] = []
        #: Answers that did not validate against their ``receive.json``.
        self.schema_problems: list[str] = []

    def __repr__(self) -> str:
        state = f"port {self.port}" if self.running else "stopped"
        return f"<MockLegacy v3 {self.spec.version or self.spec.source} ({len(self.calls)} calls) {state}>"

    def _frame_logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """Frames are logged with tokens and the calls' ``sensitive`` fields masked."""
        keys = set(SECRET_KEYS).union(*(call.sensitive for call in self.spec.calls.values()))
        return SecretMaskingLogger("deriv_runtime.mock.websockets", keys, self.tokens.secrets)

    async def start(self) -> Self:
        await super().start()
        log.info("mock v3 (%d calls) listening on %s", len(self.calls), self.base_url + WS_PATH)
        return self

    # -- addresses ----------------------------------------------------------------------------

    @property
    def app_id(self) -> str:
        """The app_id :attr:`url` carries: :data:`DEFAULT_APP_ID`, or the smallest accepted one."""
        if self.app_ids:
            return min(self.app_ids, key=lambda a: (len(a), a))
        return str(DEFAULT_APP_ID)

    def url_for(self, app_id: int | str | None = None, *, language: str | None = "EN", **query: str) -> str:
        """``ws://host:port/websockets/v3`` with ``app_id`` (``None``: none at all), ``l`` and ``query``."""
        params: dict[str, str] = {}
        if app_id is not None:
            params["app_id"] = str(app_id)
        if language is not None:
            params["l"] = language
        params.update(query)
        return f"{self.base_url}{WS_PATH}" + (f"?{urlencode(params)}" if params else "")

    @property
    def url(self) -> str:
        """The endpoint with an accepted app_id (:attr:`app_id`) and ``l=EN``."""
        return self.url_for(self.app_id)

    def accepts_app_id(self, app_id: str | None) -> bool:
        """Whether a connection with ``app_id`` is served (a positive integer, one of ``app_ids``)."""
        if app_id is None or not app_id.isdigit() or int(app_id) <= 0:
            return False
        return self.app_ids is None or app_id in self.app_ids

    # -- accounts and tokens ------------------------------------------------------------------

    @property
    def token(self) -> str:
        """:data:`DEFAULT_TOKEN` (accepted unless ``tokens`` replaced it)."""
        return DEFAULT_TOKEN

    def _keep_account(self, account: Account) -> None:
        self._apply(lambda: self.accounts.__setitem__(account.loginid, account))

    def add_token(
        self, token: str | None = None, *, loginid: str | None = None, scopes: Iterable[str] = ALL_SCOPES
    ) -> str:
        """Accept ``token`` (``None``: a new random one, returned) for ``loginid`` (default: the
        default account) with ``scopes`` (of :data:`~.accounts.ALL_SCOPES`)."""
        target = self.account.loginid if loginid is None else loginid
        if target not in self.accounts:
            raise KeyError(f"no account {target!r} on this mock (add_account first)")
        chosen = list(scopes)
        made: list[str] = []
        self._apply(lambda: made.append(self.tokens.add(token, target, chosen)))
        return made[0]

    def revoke_token(self, token: str) -> bool:
        """Stop accepting ``token`` (connections it authorized stay authorized)."""
        found: list[bool] = []
        self._apply(lambda: found.append(self.tokens.revoke(token)))
        return found[0]

    def issue_otp(
        self,
        account: Literal["demo", "real"] = "demo",
        *,
        account_id: str | None = None,
        ttl: float | None = None,
    ) -> str:
        """Not part of v3 (connect to :attr:`url`, then ``authorize``): raises NotImplementedError."""
        raise NotImplementedError("the v3 API has no OTPs: connect to MockLegacy.url, then authorize")

    # -- faults -------------------------------------------------------------------------------

    def fail_next(
        self, code: str, call: str | None = None, *, count: int | None = 1, message: str | None = None
    ) -> LegacyFault:
        """Answer the next ``count`` requests to ``call`` (``None``: any; ``count=None``: until
        :meth:`clear_faults`) with the API error ``code`` (``"RateLimit"``, ``"InvalidToken"``...),
        before any other check but the app_id's."""
        check_count(count)
        fault = LegacyFault(code, message or f"Mock error: {code}.", call, count)
        self._apply(lambda: self.faults.append(fault))
        return fault

    def fail_call(
        self, code: str, call: str | None = None, *, count: int | None = 1, message: str | None = None
    ) -> LegacyFault:
        """:meth:`fail_next`, as every mock has it."""
        return self.fail_next(code, call, count=count, message=message)

    def clear_faults(self) -> None:
        self._apply(self.faults.clear)

    def take_fault(self, call: str | None) -> MockAPIError | None:
        fault = take_fault(self.faults, call, lambda f: f.call)
        return None if fault is None else MockAPIError(fault.code, fault.message)

    # -- observability ------------------------------------------------------------------------

    def redacted(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """``message`` with its call's ``sensitive`` fields and the usual secrets replaced."""
        call = self.spec.identify(message)
        keys = SECRET_KEYS | (self.spec.calls[call].sensitive if call is not None else frozenset())
        redacted: dict[str, Any] = redact_tree(message, keys)
        return redacted

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        kept = self.redacted(message)
        self.requests.append(kept)
        return kept

    def note(self, session: LegacyConnection, call: str | None, message: Mapping[str, Any]) -> None:
        """Add a request to :attr:`received`."""
        self.received.append(ReceivedRequest(session.number, call, session.loginid, self.redacted(message)))

    @property
    def subscriptions(self) -> list[tuple[int, str, str]]:
        """``(connection, kind, subscription id)`` of every live subscription."""
        return [
            (conn.number, sub.kind, sub.id)
            for conn in self.sessions()
            for sub in list(conn.subscriptions.values())
        ]

    # -- what the calls use (:class:`~..deriv.platform.Platform`) -----------------------------

    def answer_schema(self, call: str) -> Mapping[str, Any]:
        return self.spec.calls[call].receive

    def check_response(self, call: str, message: Mapping[str, Any]) -> None:
        if not self.check_responses or call not in self.spec.calls:
            return
        for problem in self.spec.response_problems(call, message):
            text = f"{call} ({message.get('msg_type')}): {problem}"
            self.schema_problems.append(text)
            log.warning("mock v3 answer does not match its schema: %s", text)
