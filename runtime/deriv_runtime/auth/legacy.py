"""Deriv v3 ``authorize``: the token(s) of a WebSocket session, the authorized account, its scopes.

    from deriv_runtime.auth.legacy import LegacyAuth
    from deriv_runtime.legacy import v3_url

    auth = LegacyAuth(token)                                  # an API token, or an OAuth session token
    async with DerivV3Client.connect(v3_url(1089), auth=auth) as client:
        print(auth.authorization)                             # Authorization(loginid='CR799393', ...)
        async with client.balance_stream() as balances:       # re-authorized, then resubscribed
            ...
        await auth.switch(loginid="VRTC1859315")              # another account of the same user
        await auth.logout()                                   # forgets the tokens

What it does (``BaseClient.connect(url, auth=...)`` wires it in):

* **Every connection is authorized before use.** :meth:`LegacyAuth.on_connect` is the transport's
  ``on_connect`` hook: on the first connection and after every drop it sends ``authorize`` (with
  ``tokens`` when several were given: up to 10 more accounts of the same user in one session) on
  the new connection, before any waiting call goes out and before any *private* stream (a call
  with ``auth_required``: ``balance``, ``transaction``, ``proposal_open_contract``) is subscribed
  again; public streams (``ticks``) do not wait for it. See :mod:`deriv_runtime.protocol`.
* **A refused token is final.** The server's error (``InvalidToken``...) is
  :class:`AuthorizationRefused`: ``connect`` raises it, and after a drop nothing is retried: every
  call and stream fails with a ``ConnectionFailed`` chained to it.
* **Scopes are checked locally.** A call whose ``CallInfo.auth_scopes`` the authorized token lacks
  raises :class:`ScopeError` (naming the call, the scopes it needs and the ones the token has)
  before anything is sent; a call that needs authorization after a :meth:`~LegacyAuth.logout` raises
  :class:`NotAuthorized`. A v3 call lists the scopes that each allow it (``balance``: ``read`` or
  ``trading_information``), so one of them is enough. A call aimed at another account of a
  multi-token session (``loginid=``) is left to the server: ``authorize`` reports the scopes of the
  first token only.
* **Account switching.** :meth:`LegacyAuth.switch` authorizes another token (or the token known
  for a ``loginid``, from :meth:`LegacyAuth.from_accounts`) on the live connection; reconnects use
  it from then on. It is refused while private streams are open (after the next reconnect they
  would carry the other account's data under the same iterator). The generated ``authorize`` call
  has the same effect (its answer is adopted), and the generated ``logout`` call forgets the tokens
  as :meth:`LegacyAuth.logout` does.

Tokens are :class:`~deriv_runtime.auth.secret.Secret` values: never in a ``repr``, a log record or
an exception message. The server's ``echo_req`` (which repeats the token) is never kept. While an
object of this class is alive, the ``websockets`` library's DEBUG records of the frames it sends
are scrubbed of its tokens.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .._redact import scrub
from ..errors import APIError, ResponseError
from .errors import AuthError
from .secret import Secret

if TYPE_CHECKING:
    from ..calls import CallInfo
    from .legacy_oauth import OAuthAccount

__all__ = [
    "Authorization",
    "AuthorizationRefused",
    "LegacyAccount",
    "LegacyAuth",
    "NotAuthorized",
    "ScopeError",
]

log = logging.getLogger("deriv_runtime.auth.legacy")

#: A v3 token, as ``authorize/send.json`` describes it.
TOKEN = re.compile(r"[\w\-]{1,128}")
#: ``authorize.tokens`` takes up to 10 more tokens.
MAX_EXTRA_TOKENS = 10
#: The v3 token scopes (seed "Token scopes").
SCOPES = ("read", "trade", "trading_information", "payments", "admin")

#: Sends one request on the connection and returns its answer (the transport's ``on_connect``
#: ``call``, or a request on the live connection).
V3Call = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


# -- errors ----------------------------------------------------------------------------------------


class AuthorizationRefused(AuthError, APIError):
    """The server refused ``authorize`` (``InvalidToken``, a disabled or self-excluded account):
    ``code`` and ``message`` are the server's (the message with any token masked). Retrying with
    the same token cannot help, so a reconnect refused this way is final."""

    def __init__(self, code: str, message: str) -> None:
        APIError.__init__(self, "authorize", code, message)


class ScopeError(AuthError):
    """A call needs a scope the authorized token does not have; nothing was sent.

    ``call`` is the call, ``needed`` the scopes that would each allow it, ``held`` the token's
    scopes, ``loginid`` the authorized account.
    """

    def __init__(
        self, call: str, needed: Sequence[str], held: Sequence[str], loginid: str | None, text: str = ""
    ) -> None:
        self.call = call
        self.needed = tuple(needed)
        self.held = tuple(held)
        self.loginid = loginid
        if not text:
            wanted = " or ".join(self.needed)
            has = ", ".join(self.held) or "no scope"
            text = (
                f"{call} needs a token with the scope {wanted}; the token authorized for {loginid} "
                f"has {has} (not sent: authorize a token with that scope)"
            )
        super().__init__(text)


class NotAuthorized(ScopeError):
    """A call needs an authorized connection and there is none (after ``logout``); nothing was sent."""

    def __init__(self, call: str, needed: Sequence[str]) -> None:
        super().__init__(
            call,
            needed,
            (),
            None,
            f"{call} needs an authorized connection and this client has none (logged out?): "
            "not sent; switch to a token first",
        )


# -- the authorized account ------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flag(value: Any) -> bool | None:
    return bool(value) if value in (0, 1) and not isinstance(value, float) else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:  # str(float) is the shortest text that reads back as the same float: the JSON's digits
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True, slots=True)
class LegacyAccount:
    """One account of the authorized user (``authorize.account_list``)."""

    loginid: str
    currency: str | None = None
    is_virtual: bool | None = None
    is_disabled: bool | None = None
    #: ``trading`` or ``wallet``.
    account_category: str | None = None
    account_type: str | None = None
    landing_company_name: str | None = None
    #: Creation time (epoch seconds).
    created_at: int | None = None

    @classmethod
    def from_answer(cls, item: Any) -> LegacyAccount | None:
        """One ``account_list`` entry; ``None`` if it names no account. Fields of an unexpected type
        are left out (``None``), never fatal."""
        if not isinstance(item, Mapping) or not isinstance(item.get("loginid"), str):
            return None
        return cls(
            item["loginid"],
            _str(item.get("currency")),
            _flag(item.get("is_virtual")),
            _flag(item.get("is_disabled")),
            _str(item.get("account_category")),
            _str(item.get("account_type")),
            _str(item.get("landing_company_name")),
            _int(item.get("created_at")),
        )


@dataclass(frozen=True, slots=True)
class Authorization:
    """What ``authorize`` answered: the account the (first) token belongs to, its scopes, the user's
    accounts. Personal data (e-mail, name, user id) is kept but left out of ``repr``; ``raw`` is the
    ``authorize`` object as received (never the echoed request, which repeats the token)."""

    loginid: str
    currency: str | None
    #: Scopes of the token (``read``, ``trade``, ``trading_information``, ``payments``, ``admin``).
    scopes: tuple[str, ...]
    accounts: tuple[LegacyAccount, ...] = ()
    is_virtual: bool | None = None
    balance: Decimal | None = None
    landing_company_name: str | None = None
    country: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    fullname: str | None = field(default=None, repr=False)
    user_id: int | None = field(default=None, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> Authorization:
        """Read an ``authorize`` answer. Only ``authorize.loginid`` is required; a field of an
        unexpected type (a number where a string is documented) is left out, never fatal."""
        body = answer.get("authorize")
        if not isinstance(body, Mapping) or not isinstance(body.get("loginid"), str):
            kept = {k: v for k, v in answer.items() if k != "echo_req"}
            raise ResponseError("authorize: the answer names no account (authorize.loginid)", raw=kept)
        scopes = body.get("scopes")
        listed = body.get("account_list")
        accounts = [LegacyAccount.from_answer(a) for a in listed] if isinstance(listed, list) else []
        return cls(
            body["loginid"],
            _str(body.get("currency")),
            tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
            tuple(a for a in accounts if a is not None),
            _flag(body.get("is_virtual")),
            _decimal(body.get("balance")),
            _str(body.get("landing_company_name")),
            _str(body.get("country")),
            _str(body.get("email")),
            _str(body.get("fullname")),
            _int(body.get("user_id")),
            dict(body),
        )

    def allows(self, needed: Iterable[str]) -> bool:
        """The token has one of the ``needed`` scopes (or nothing is needed)."""
        wanted = set(needed)
        return not wanted or not wanted.isdisjoint(self.scopes)

    def account(self, loginid: str) -> LegacyAccount | None:
        """The user's account ``loginid`` (case-insensitive), if listed."""
        key = loginid.upper()
        return next((a for a in self.accounts if a.loginid.upper() == key), None)


# -- keeping tokens out of the websockets library's DEBUG records ----------------------------------


class _TokenMask(logging.Filter):
    """Masks the tokens of every live :class:`LegacyAuth` in the records of ``websockets.client``:
    at DEBUG that library logs each frame it sends, and ``authorize`` carries the token."""

    def __init__(self) -> None:
        super().__init__()
        self.owners: weakref.WeakSet[LegacyAuth] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        values = [t.reveal() for owner in list(self.owners) for t in owner._all_tokens()]
        if not values:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        clean = scrub(message, values)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_MASK = _TokenMask()
_MASKED_LOGGERS = ("websockets.client",)


def _mask_tokens_of(auth: LegacyAuth) -> None:
    _MASK.owners.add(auth)
    for name in _MASKED_LOGGERS:
        logger = logging.getLogger(name)
        if _MASK not in logger.filters:
            logger.addFilter(_MASK)


def _token(value: str | Secret, what: str) -> Secret:
    if not isinstance(value, str | Secret):
        raise TypeError(f"{what} must be a str or a Secret, not {type(value).__name__}")
    secret = Secret(value)
    if not TOKEN.fullmatch(secret.reveal()):
        raise ValueError(f"{what} is not a Deriv API token (1 to 128 letters, digits, '_' or '-')")
    return secret


def _tokens(token: str | Secret | Sequence[str | Secret] | None) -> list[Secret]:
    if token is None:
        return []
    items: list[str | Secret] = [token] if isinstance(token, str | Secret) else list(token)
    if not items:
        raise ValueError("give at least one token")
    if len(items) > 1 + MAX_EXTRA_TOKENS:
        raise ValueError(f"authorize takes one token and up to {MAX_EXTRA_TOKENS} more, not {len(items)}")
    secrets = [
        _token(t, f"token {i} of {len(items)}" if len(items) > 1 else "the token")
        for i, t in enumerate(items, 1)
    ]
    for i, secret in enumerate(secrets):
        if secret in secrets[:i]:
            raise ValueError(f"token {i + 1} of {len(secrets)} repeats an earlier one")
    return secrets


# -- the auth ----------------------------------------------------------------------------------------


class LegacyAuth:
    """The token(s) of a v3 WebSocket client, and what ``authorize`` said about them (see the module
    docstring). Give it to ``Client.connect(url, auth=...)``; one object serves one client at a time.

    ``token``: an API token or an OAuth session token, or a list of tokens of the same user (the
    first is authorized, the others are sent as ``tokens``: at most 10). ``None``: no token yet
    (authorize later with :meth:`switch`). ``add_to_login_history``: ask the server to record API
    token logins. ``check_scopes``: refuse calls the token cannot make locally (default), or leave
    every refusal to the server.
    """

    def __init__(
        self,
        token: str | Secret | Sequence[str | Secret] | None,
        *,
        add_to_login_history: bool = False,
        check_scopes: bool = True,
    ) -> None:
        self._tokens = _tokens(token)
        #: Tokens by upper-case loginid (from the OAuth redirect, and learnt from each authorize).
        self._known: dict[str, Secret] = {}
        self.add_to_login_history = add_to_login_history
        self.check_scopes = check_scopes
        self._authorization: Authorization | None = None
        self._call: V3Call | None = None
        self._private_streams: Callable[[], int] | None = None
        #: ``authorize`` answers adopted so far (one per connection, plus switches).
        self.authorizations = 0
        _mask_tokens_of(self)

    @classmethod
    def from_accounts(
        cls,
        accounts: Sequence[OAuthAccount],
        loginid: str | None = None,
        *,
        all_tokens: bool = False,
        **options: Any,
    ) -> LegacyAuth:
        """From the accounts of an OAuth redirect (:func:`~deriv_runtime.auth.legacy_oauth.parse_redirect`).

        ``loginid`` picks the account to authorize (default: the first); :meth:`switch` can later
        move to any of the others by loginid. ``all_tokens=True`` also sends the others' tokens
        (``authorize.tokens``) so that calls may name them with ``loginid=``.
        """
        if not accounts:
            raise ValueError("the redirect carries no account")
        chosen = accounts[0]
        if loginid is not None:
            found = [a for a in accounts if a.loginid.upper() == loginid.upper()]
            if not found:
                raise AuthError(f"the redirect has no account {loginid!r}")
            chosen = found[0]
        others = [a.token for a in accounts if a is not chosen] if all_tokens else []
        auth = cls([chosen.token, *others], **options)
        auth._known = {a.loginid.upper(): a.token for a in accounts}
        return auth

    def __repr__(self) -> str:
        authorization = self._authorization
        who = "not authorized" if authorization is None else f"loginid={authorization.loginid!r}"
        scopes = "" if authorization is None else f", scopes={','.join(authorization.scopes)!r}"
        return f"LegacyAuth({who}{scopes}, tokens={len(self._tokens)})"

    # -- state ------------------------------------------------------------------------------------

    @property
    def authorization(self) -> Authorization | None:
        """What the last ``authorize`` answered (``None`` before it, and after a logout)."""
        return self._authorization

    @property
    def loginid(self) -> str | None:
        """The authorized account."""
        return None if self._authorization is None else self._authorization.loginid

    @property
    def scopes(self) -> tuple[str, ...]:
        """The authorized token's scopes (empty when not authorized)."""
        return () if self._authorization is None else self._authorization.scopes

    @property
    def accounts(self) -> tuple[LegacyAccount, ...]:
        """The authorized user's accounts (``authorize.account_list``)."""
        return () if self._authorization is None else self._authorization.accounts

    def _all_tokens(self) -> list[Secret]:
        return [*self._tokens, *self._known.values()]

    # -- authorize ----------------------------------------------------------------------------------

    def _payload(self, tokens: Sequence[Secret]) -> dict[str, Any]:
        payload: dict[str, Any] = {"authorize": tokens[0].reveal()}
        if len(tokens) > 1:
            payload["tokens"] = [t.reveal() for t in tokens[1:]]
        if self.add_to_login_history:
            payload["add_to_login_history"] = 1
        return payload

    def _refused(self, error: Any, tokens: Sequence[Secret]) -> AuthorizationRefused:
        fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
        code = fields.get("code")
        message = fields.get("message")
        values = [t.reveal() for t in tokens]
        return AuthorizationRefused(
            scrub(code, values) if isinstance(code, str) and code else "UnknownError",
            scrub(message, values)[:200] if isinstance(message, str) else "",
        )

    async def _authorize(self, call: V3Call, tokens: Sequence[Secret]) -> Authorization:
        answer = await call(self._payload(tokens))
        if "error" in answer:
            raise self._refused(answer["error"], tokens)
        authorization = Authorization.from_answer(answer)
        self._adopt(list(tokens), authorization)
        return authorization

    def _adopt(self, tokens: list[Secret], authorization: Authorization) -> None:
        self._tokens = tokens
        self._known[authorization.loginid.upper()] = tokens[0]
        self._authorization = authorization
        self.authorizations += 1
        log.info(
            "authorized %s (scopes: %s)", authorization.loginid, ", ".join(authorization.scopes) or "none"
        )

    async def on_connect(self, call: V3Call) -> None:
        """The WebSocket transport's hook: authorize every new connection before it is used.
        Without a token (after a logout) the connection stays unauthorized."""
        if self._tokens:
            await self._authorize(call, self._tokens)

    # -- the client's side --------------------------------------------------------------------------

    def attach(self, call: V3Call, private_streams: Callable[[], int]) -> None:
        """Bind to a client (done by ``connect(auth=)``): ``call`` sends a request on its live
        connection, ``private_streams`` counts its open private streams."""
        if self._call is not None:
            raise RuntimeError("this LegacyAuth already serves another client: make one per client")
        self._call, self._private_streams = call, private_streams

    async def detach(self) -> None:
        """The client closed: let go of it (the tokens stay, for another client)."""
        self._call = self._private_streams = None

    def _attached(self) -> V3Call:
        if self._call is None:
            raise AuthError("not attached to a client: pass auth= to Client.connect(...)")
        return self._call

    def before(self, info: CallInfo, body: Mapping[str, Any]) -> None:
        """Called by the client before ``body`` is sent: refuse a call the token cannot make
        (:class:`ScopeError`, :class:`NotAuthorized`), or an ``authorize`` that would switch accounts
        under open private streams."""
        if "authorize" in body and info.name == "authorize":
            token = body.get("authorize")
            if isinstance(token, str | Secret) and not (self._tokens and self._tokens[0] == token):
                self._check_switch()
            return
        if not info.auth_required or not self.check_scopes:
            return
        authorization = self._authorization
        if authorization is None:
            raise NotAuthorized(info.name, info.auth_scopes)
        target = body.get("loginid")
        if isinstance(target, str) and target.upper() != authorization.loginid.upper():
            return  # another account of a multi-token session: the server knows that token's scopes
        if not authorization.allows(info.auth_scopes):
            raise ScopeError(info.name, info.auth_scopes, authorization.scopes, authorization.loginid)

    def after(self, info: CallInfo, body: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """Called by the client with each answer: adopt an ``authorize`` made through the generated
        call (reconnects then use its token; a refusal raises :class:`AuthorizationRefused`, which
        keeps no echo of the token), forget everything after ``logout``."""
        if info.name == "authorize":
            first, extra = body.get("authorize"), body.get("tokens")
            listed = [first, *(extra if isinstance(extra, list) else [])]
            tokens = [Secret(t) for t in listed if isinstance(t, str | Secret)]
            if "error" in answer:
                raise self._refused(answer["error"], tokens)
            if tokens and isinstance(first, str | Secret) and answer.get("msg_type") == "authorize":
                self._adopt(tokens, Authorization.from_answer(answer))
            return
        if "error" in answer:
            return
        if answer.get("msg_type") == "logout" and info.name == "logout" and answer.get("logout") == 1:
            self._logged_out(body.get("loginid"))

    # -- switching, logout --------------------------------------------------------------------------

    def _check_switch(self) -> None:
        count = self._private_streams() if self._private_streams is not None else 0
        if count:
            raise AuthError(
                f"switching accounts with {count} private stream(s) open is refused: after a reconnect "
                "they would follow the other account; close them first"
            )

    async def switch(self, *, token: str | Secret | None = None, loginid: str | None = None) -> Authorization:
        """Authorize another account on the live connection; reconnects authorize it from now on.

        ``token``: its token; or ``loginid``: an account whose token is known (from
        :meth:`from_accounts`, or authorized before). The other tokens given at the start stay in
        the session. Refused (:class:`AuthError`, nothing sent) while private streams are open. If the
        server refuses (:class:`AuthorizationRefused`), reconnects keep the previous token.
        """
        call = self._attached()
        if (token is None) == (loginid is None):
            raise ValueError("pass token=... or loginid=..., not both")
        if loginid is not None:
            known = self._known.get(loginid.upper())
            if known is None:
                raise AuthError(f"no token is known for {loginid!r}: pass token=... instead")
            secret = known
        else:
            assert token is not None
            secret = _token(token, "the token")
        self._check_switch()
        old = self._tokens
        # an account already in the session: the old first token takes its place among the others
        rest = [old[0], *(t for t in old[1:] if t != secret)] if secret in old[1:] else old[1:]
        return await self._authorize(call, [secret, *rest])

    async def logout(self) -> None:
        """``logout``: end the session on the server, then forget every token here (reconnects
        no longer authorize; private streams still open will be refused by the server)."""
        answer = await self._attached()({"logout": 1})
        if "error" in answer:
            error = answer["error"]
            fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
            code, message = fields.get("code"), fields.get("message")
            raise APIError(
                "logout",
                code if isinstance(code, str) else "UnknownError",
                message if isinstance(message, str) else "",
            )
        self._logged_out(None)

    def _logged_out(self, loginid: Any) -> None:
        authorization = self._authorization
        if (
            isinstance(loginid, str)
            and authorization is not None
            and loginid.upper() != authorization.loginid.upper()
        ):
            gone = self._known.pop(loginid.upper(), None)  # another account of the session
            if gone is not None:
                self._tokens = [t for t in self._tokens if t != gone]
            return
        self._tokens = []
        self._known = {}
        self._authorization = None
        log.info("logged out")
