"""The front half of the authorization code flow: the authorize URL, then the callback.

:func:`begin_authorization` builds the URL to open in the user's browser and returns an
:class:`AuthorizationRequest` that remembers the ``state`` and the PKCE verifier (both
:class:`Secret`). When the browser comes back to the redirect URI, :meth:`AuthorizationRequest.complete`
checks the callback *before anything is sent to the token endpoint*:

* ``state`` must be present once and equal to ours (:func:`hmac.compare_digest`), else
  :class:`OAuthStateError` (a forged, stale or mixed-up callback);
* a request completes once: a second callback, even a valid one, raises :class:`OAuthStateError`;
* an ``error`` in the callback (``access_denied`` when the user said no) raises :class:`OAuthError`;
* otherwise the result is an :class:`AuthorizationCode`, exchanged once by ``OAuthClient.exchange``.

Sign-up mode: Deriv's partner guide sends new users to a separate sign-up page
(``https://hub.deriv.com/tradershub/signup?t=<affiliate token>&utm_campaign=...``) rather than to the
authorize endpoint with a ``prompt``. ``signup=True`` therefore builds the URL on
``OAuthConfig.signup_url`` (overridable), names the affiliate token ``t`` as documented there, and
still carries every OAuth parameter (client, redirect URI, scope, state, PKCE challenge): when the
sign-up ends in a redirect to our redirect URI, the callback is checked exactly like a sign-in's.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from .._redact import redact_url
from .config import OAuthConfig, check_scope
from .errors import OAuthError, OAuthStateError
from .pkce import PKCE
from .secret import Secret

__all__ = ["AuthorizationCode", "AuthorizationRequest", "CallbackParams", "begin_authorization"]

#: Bytes of randomness in ``state`` (RFC 6749 §10.10 asks for enough to be unguessable).
STATE_BYTES = 32
_MAX_FIELDS = 64
_ERROR_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")

_RESERVED = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "app_id",
        "affiliate_token",
        "t",
        "utm_campaign",
        "utm_medium",
        "utm_source",
    }
)


class CallbackParams(Mapping[str, str]):
    """The query parameters of a redirect callback. ``repr()`` shows the names only, never values.

    ``params["code"]`` is the first value; :meth:`getall` gives every value of a repeated name.
    """

    __slots__ = ("_lists",)

    def __init__(self, lists: Mapping[str, Sequence[str]]) -> None:
        self._lists = {str(k): [str(v) for v in vs] for k, vs in lists.items() if vs}

    @classmethod
    def from_query(cls, query: str) -> CallbackParams:
        try:
            return cls(parse_qs(query, keep_blank_values=True, max_num_fields=_MAX_FIELDS))
        except ValueError:
            raise OAuthStateError(f"the callback has more than {_MAX_FIELDS} parameters") from None

    @classmethod
    def from_callback(cls, callback: str | Mapping[str, str | Sequence[str]]) -> CallbackParams:
        """From a full callback URL, a bare query string or a mapping of names to value(s)."""
        if isinstance(callback, CallbackParams):
            return callback
        if isinstance(callback, str):
            if "?" in callback or "://" in callback or "#" in callback:
                try:
                    parts = urlsplit(callback)
                except ValueError:
                    raise OAuthStateError("the callback URL cannot be parsed") from None
                return cls.from_query(parts.query or parts.fragment)
            return cls.from_query(callback)
        lists: dict[str, list[str]] = {}
        for key, value in callback.items():
            lists[key] = [value] if isinstance(value, str) else [str(v) for v in value]
        return cls(lists)

    def __getitem__(self, key: str) -> str:
        return self._lists[key][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def getall(self, key: str) -> list[str]:
        return list(self._lists.get(key, ()))

    def __repr__(self) -> str:
        return "CallbackParams(" + ", ".join(f"{k}=***" for k in self._lists) + ")"

    __str__ = __repr__


@dataclass(frozen=True)
class AuthorizationCode:
    """An authorization code from a verified callback, bound to the request that asked for it."""

    code: Secret
    request: AuthorizationRequest = field(repr=False, compare=False)


class AuthorizationRequest:
    """One authorization in flight: the URL to open, and the ``state`` and PKCE verifier to check against.

    ``url`` carries only public values (``state`` is compared, not secret from the user; the PKCE
    challenge is a hash), but it is still not worth logging. Keep the request object in memory (or
    in the server-side session of a web app) until the callback arrives.
    """

    def __init__(
        self, config: OAuthConfig, url: str, state: Secret, pkce: PKCE, scopes: tuple[str, ...]
    ) -> None:
        self.config = config
        self.url = url
        self.state = state
        self.pkce = pkce
        self.scopes = scopes
        self._lock = threading.Lock()
        self._completed = False
        self._exchanged = False

    @property
    def redirect_uri(self) -> str:
        return self.config.redirect_uri

    @property
    def code_verifier(self) -> Secret:
        return self.pkce.verifier

    @property
    def completed(self) -> bool:
        return self._completed

    def __repr__(self) -> str:
        return (
            f"AuthorizationRequest(url={redact_url(self.url)!r}, scopes={self.scopes!r}, "
            f"completed={self._completed})"
        )

    def complete(self, callback: str | Mapping[str, str | Sequence[str]]) -> AuthorizationCode:
        """Check a callback (URL, query string or mapping) and return its authorization code.

        Raises :class:`OAuthStateError` (state missing, wrong, repeated, or this request already
        completed) or :class:`OAuthError` (the server's ``error``, or no code). Sends nothing.
        """
        params = CallbackParams.from_callback(callback)
        with self._lock:
            if self._completed:
                raise OAuthStateError(
                    "this authorization request was already completed (a request completes once): "
                    "start a new one with begin_authorization()"
                )
            states = params.getall("state")
            errors = params.getall("error")
            hint = f" (the callback also carried error={_error_code(errors[0])!r})" if errors else ""
            if not states or not states[0]:
                raise OAuthStateError("the callback has no state parameter" + hint)
            if len(states) > 1:
                raise OAuthStateError("the callback has more than one state parameter" + hint)
            if not hmac.compare_digest(states[0].encode(), self.state.reveal().encode()):
                raise OAuthStateError(
                    "the callback's state does not match this authorization request "
                    "(forged, stale, or from another login)" + hint
                )
            # The callback answers this request: whatever it says, the request is used up.
            self._completed = True
            if errors:
                descriptions = params.getall("error_description")
                raise OAuthError(
                    _error_code(errors[0]), _error_description(descriptions[0]) if descriptions else None
                )
            codes = params.getall("code")
            if len(codes) != 1 or not codes[0]:
                raise OAuthError(
                    "invalid_request", "the callback carries no authorization code (or more than one)"
                )
            return AuthorizationCode(Secret(codes[0]), self)

    def _take_code(self, code: AuthorizationCode) -> None:
        """Called by the token exchange: the code must come from this request, and be used once."""
        with self._lock:
            if code.request is not self:
                raise OAuthStateError("this authorization code was obtained by another authorization request")
            if not self._completed:
                raise OAuthStateError("complete() the authorization request before exchanging its code")
            if self._exchanged:
                raise OAuthStateError("this authorization code was already exchanged (codes are single-use)")
            self._exchanged = True


def begin_authorization(
    config: OAuthConfig,
    scopes: Sequence[str] | None = None,
    *,
    signup: bool = False,
    affiliate_token: str | None = None,
    utm_campaign: str | None = None,
    utm_medium: str | None = None,
    utm_source: str | None = None,
    extra: Mapping[str, str] | None = None,
    pkce: PKCE | None = None,
) -> AuthorizationRequest:
    """Build the authorize URL (RFC 6749 §4.1.1 with PKCE S256) and the request that checks the callback.

    ``scopes``: ``None`` requests every scope of ``config.scopes``; an empty sequence sends no
    ``scope`` (the server's default). A scope not listed in ``config.scopes`` is refused (a typo
    would otherwise fail only in the browser). ``affiliate_token`` / ``utm_*`` tag the user for a
    Deriv partner. ``signup=True`` builds the URL on ``config.signup_url`` (see the module docstring).
    ``extra`` adds parameters (e.g. ``{"l": "ZH_CN"}`` for the login page's language); it cannot
    override the ones set here.
    """
    if isinstance(scopes, str):
        raise TypeError("scopes is a sequence of scope names, not a string")
    requested = tuple(config.scopes if scopes is None else scopes)
    for scope in requested:
        check_scope(scope)
        if config.scopes and scope not in config.scopes:
            raise ValueError(
                f"unknown scope {scope!r}: known scopes are {', '.join(config.scopes)} "
                "(add it to OAuthConfig.scopes if the server supports it)"
            )
    pkce = pkce or PKCE.generate()
    state = Secret(secrets.token_urlsafe(STATE_BYTES))
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", config.client_id),
        ("redirect_uri", config.redirect_uri),
    ]
    if requested:
        params.append(("scope", " ".join(requested)))
    params += [
        ("state", state.reveal()),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
    if config.send_app_id:
        params.append(("app_id", config.client_id))
    if affiliate_token is not None:
        params.append(("t" if signup else "affiliate_token", affiliate_token))
    for name, value in (
        ("utm_campaign", utm_campaign),
        ("utm_medium", utm_medium),
        ("utm_source", utm_source),
    ):
        if value is not None:
            params.append((name, value))
    for name, value in (extra or {}).items():
        if name in _RESERVED:
            raise ValueError(f"extra parameter {name!r} would override a parameter begin_authorization sets")
        params.append((name, str(value)))
    base = config.signup_url if signup else config.authorization_url
    separator = "&" if urlsplit(base).query else "?"
    url = base + separator + urlencode(params, quote_via=quote)
    return AuthorizationRequest(config, url, state, pkce, requested)


def _error_code(value: str) -> str:
    """An OAuth ``error`` value as RFC 6749 allows it, or a placeholder (never arbitrary text)."""
    return value if _ERROR_CODE.fullmatch(value) else "invalid_error_code"


def _error_description(value: str) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in value)
    return text[:300]
