"""OAuth sign-in for the Deriv v3 API: the authorize and sign-up URLs, partner tagging, the redirect.

    from deriv_runtime.auth.legacy import LegacyAuth
    from deriv_runtime.auth.legacy_oauth import oauth_url, parse_redirect, referral_tag

    tag = referral_tag("https://track.deriv.com/_jqd7qq_iBB18zg8lBvFoLmNd7ZgqdRLk/1/")
    url = oauth_url(1089, language="ZH_CN", referral=tag)  # send the user there
    ...                                                     # Deriv redirects to the app's redirect URL:
    accounts = parse_redirect(redirect_url)                 # (OAuthAccount('cr799393', ...), ...)
    auth = LegacyAuth.from_accounts(accounts)               # authorize the first; switch to the others

The flow (seeds "Authentication" and "API guide"): the user signs in at
``https://oauth.deriv.com/oauth2/authorize?app_id=<app_id>`` (``l`` picks the page's language;
Deriv partners add ``affiliate_token`` and ``utm_campaign``, and may add the other ``utm_*``
parameters); new users sign up at ``https://hub.deriv.com/tradershub/signup?t=<affiliate
token>&utm_campaign=<campaign>``. Deriv then redirects to the redirect URL registered for the app,
with one session token per account: ``acct1=<loginid>&token1=<token>&cur1=<currency>&acct2=...``;
each token is then given to ``authorize`` (:class:`~deriv_runtime.auth.legacy.LegacyAuth`).

Unlike the newer flow of the Options API (:mod:`deriv_runtime.auth.authorize`: PKCE and ``state``,
which stays as it is), this redirect carries the tokens themselves and no ``state``: nothing ties a
redirect to the sign-in that asked for it. :class:`LegacyLoopbackRedirect` therefore makes the
redirect URL itself the secret (see its docstring).

A partner's referral link comes in two forms; :func:`referral_tag` reads both:
``https://deriv.com/signup?sidc=<token>&utm_campaign=<campaign>&...`` (the affiliate token is the
``sidc``) and ``https://track.deriv.com/_<token>/1/`` (campaign ``myaffiliates``).

Malformed input raises :class:`RedirectError` or :class:`ReferralLinkError`; their messages name
the parameter (``token2``), never a value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from ..errors import DerivError
from ..legacy import check_app_id, check_language
from .authorize import CallbackParams, _error_code, _error_description
from .config import DEFAULT_SIGNUP_URL
from .errors import AuthError, OAuthError
from .legacy import TOKEN
from .loopback import LoopbackRedirect, _Verdict
from .secret import Secret
from .secure import require_secure

__all__ = [
    "DEFAULT_OAUTH_URL",
    "DEFAULT_SIGNUP_URL",
    "TRACK_CAMPAIGN",
    "UTM_PARAMETERS",
    "LegacyLoopbackRedirect",
    "OAuthAccount",
    "RedirectError",
    "ReferralLinkError",
    "ReferralTag",
    "oauth_url",
    "parse_redirect",
    "referral_tag",
    "signup_url",
]

#: Where users sign in (seed "Authentication").
DEFAULT_OAUTH_URL = "https://oauth.deriv.com/oauth2/authorize"
#: The campaign of ``track.deriv.com`` referral links.
TRACK_CAMPAIGN = "myaffiliates"
#: The ``utm_*`` parameters Deriv records (those of ``new_account_virtual``).
UTM_PARAMETERS = frozenset(
    {
        "utm_ad_id",
        "utm_adgroup_id",
        "utm_adrollclk_id",
        "utm_campaign",
        "utm_campaign_id",
        "utm_content",
        "utm_fbcl_id",
        "utm_gl_client_id",
        "utm_medium",
        "utm_msclk_id",
        "utm_source",
        "utm_term",
    }
)
#: The form in which Deriv records a ``utm_*`` value.
_UTM_VALUE = re.compile(r"[a-zA-Z0-9\s\-._]{1,100}")
_AFFILIATE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_LOGINID = re.compile(r"[A-Za-z]+[0-9]+")
_CURRENCY = re.compile(r"[A-Za-z0-9]{1,16}")
_ACCOUNT_KEY = re.compile(r"(acct|token|cur)([0-9]{1,3})")
_TRACK_PATH = re.compile(r"/_([A-Za-z0-9_-]{1,128})/[0-9]{1,4}/?")
#: Parameters read from a redirect at most (a user rarely has more than a few dozen accounts).
_MAX_FIELDS = 300


class RedirectError(AuthError, ValueError):
    """The redirect's query is not what Deriv sends (no account, a token without its account, a
    malformed value). The message names the parameter, never its value."""


class ReferralLinkError(DerivError, ValueError):
    """A referral link in neither form of the partner guide (``sidc`` + ``utm_campaign`` on a Deriv
    page, or ``track.deriv.com/_<token>/1/``)."""


# -- partner tagging ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferralTag:
    """What tags a user for a Deriv partner: ``affiliate_token`` and ``utm_campaign``."""

    affiliate_token: str
    utm_campaign: str

    def __post_init__(self) -> None:
        _check_affiliate_token(self.affiliate_token)
        _check_utm("utm_campaign", self.utm_campaign)


def _check_affiliate_token(value: object) -> str:
    if not isinstance(value, str) or not _AFFILIATE_TOKEN.fullmatch(value):
        raise ValueError("affiliate_token must be 1 to 128 letters, digits, '_' or '-'")
    return value


def _check_utm(name: str, value: object) -> str:
    if name not in UTM_PARAMETERS:
        raise ValueError(f"unknown UTM parameter {name!r}: Deriv records {', '.join(sorted(UTM_PARAMETERS))}")
    if not isinstance(value, str) or not _UTM_VALUE.fullmatch(value):
        raise ValueError(
            f"{name} must be 1 to 100 letters, digits, spaces, '-', '.' or '_' (Deriv records nothing else)"
        )
    return value


def referral_tag(link: str) -> ReferralTag:
    """The :class:`ReferralTag` of a partner's referral link, in either form of the partner guide:

    * ``https://deriv.com/signup?sidc=<token>&utm_campaign=<campaign>&utm_medium=...`` - the
      affiliate token is the ``sidc`` value, the campaign ``utm_campaign`` (both required, once);
    * ``https://track.deriv.com/_<token>/1/`` - the token is the path's part after ``_``; the
      campaign is ``myaffiliates``.

    Anything else raises :class:`ReferralLinkError`.
    """
    if not isinstance(link, str):
        raise TypeError(f"a referral link is a str, not {type(link).__name__}")
    try:
        parts = urlsplit(link.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        raise ReferralLinkError("the referral link is not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ReferralLinkError("the referral link is not an http(s) URL")
    if host != "deriv.com" and not host.endswith(".deriv.com"):
        raise ReferralLinkError(f"not a Deriv referral link (host {host!r}, expected deriv.com)")
    if host == "track.deriv.com":
        match = _TRACK_PATH.fullmatch(parts.path)
        if match is None:
            raise ReferralLinkError(
                "a track.deriv.com referral link has the form https://track.deriv.com/_<token>/1/"
            )
        return ReferralTag(match.group(1), TRACK_CAMPAIGN)
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, max_num_fields=64)
    except ValueError:
        raise ReferralLinkError("the referral link has too many parameters") from None
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key.strip(), []).append(value.strip())
    found: dict[str, str] = {}
    for name in ("sidc", "utm_campaign"):
        given = values.get(name, [])
        if len(given) != 1 or not given[0]:
            state = "has no" if not given or not any(given) else "repeats"
            raise ReferralLinkError(
                f"the referral link {state} {name} (expected ?sidc=<token>&utm_campaign=<campaign>)"
            )
        found[name] = given[0]
    try:
        return ReferralTag(found["sidc"], found["utm_campaign"])
    except ValueError as exc:
        raise ReferralLinkError(f"the referral link's sidc or utm_campaign is malformed: {exc}") from None


def _tagging(
    referral: ReferralTag | None,
    affiliate_token: str | None,
    utm_campaign: str | None,
    utm: Mapping[str, str],
    token_name: str,
) -> list[tuple[str, str]]:
    if referral is not None:
        if affiliate_token is not None or utm_campaign is not None:
            raise ValueError("pass referral=... or affiliate_token/utm_campaign, not both")
        affiliate_token, utm_campaign = referral.affiliate_token, referral.utm_campaign
    params: list[tuple[str, str]] = []
    if affiliate_token is not None:
        params.append((token_name, _check_affiliate_token(affiliate_token)))
    if utm_campaign is not None:
        params.append(("utm_campaign", _check_utm("utm_campaign", utm_campaign)))
    for name in sorted(utm):  # utm_campaign is a named parameter: never in here
        params.append((name, _check_utm(name, utm[name])))
    return params


def _base(endpoint: str, what: str) -> str:
    require_secure(endpoint, what)
    if urlsplit(endpoint).query:
        raise ValueError(f"the {what} URL must carry no query")
    return endpoint


def oauth_url(
    app_id: int | str,
    *,
    language: str | None = None,
    referral: ReferralTag | None = None,
    affiliate_token: str | None = None,
    utm_campaign: str | None = None,
    endpoint: str = DEFAULT_OAUTH_URL,
    **utm: str,
) -> str:
    """The sign-in URL: ``https://oauth.deriv.com/oauth2/authorize?app_id=<app_id>``, plus ``l``
    (the page's language: ``EN``, ``ZH_CN``), a partner's ``affiliate_token`` and ``utm_campaign``
    (or ``referral=`` from :func:`referral_tag`), and any other ``utm_*`` keyword (``utm_medium=``,
    ``utm_source=``...: one of :data:`UTM_PARAMETERS`, in the form Deriv records).
    """
    params: list[tuple[str, str]] = [("app_id", str(check_app_id(app_id)))]
    if language is not None:
        params.append(("l", check_language(language)))
    params += _tagging(referral, affiliate_token, utm_campaign, utm, "affiliate_token")
    return _base(endpoint, "OAuth authorize") + "?" + urlencode(params, quote_via=quote)


def signup_url(
    referral: ReferralTag | None = None,
    *,
    affiliate_token: str | None = None,
    utm_campaign: str | None = None,
    endpoint: str = DEFAULT_SIGNUP_URL,
    **utm: str,
) -> str:
    """The sign-up URL for a partner's new users:
    ``https://hub.deriv.com/tradershub/signup?t=<affiliate token>&utm_campaign=<campaign>`` (the
    affiliate token is called ``t`` there), from ``referral`` or the two values; other ``utm_*``
    keywords as in :func:`oauth_url`."""
    params = _tagging(referral, affiliate_token, utm_campaign, utm, "t")
    if not params:
        raise ValueError("a partner sign-up URL needs the affiliate token and campaign (referral=...)")
    return _base(endpoint, "sign-up") + "?" + urlencode(params, quote_via=quote)


# -- the redirect --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OAuthAccount:
    """One account of the redirect: ``acctN`` (the login id, as sent: the example's ``cr799393``
    is ``CR799393`` to ``authorize``; compare without case), ``tokenN`` and ``curN`` (``None`` when
    absent or empty)."""

    loginid: str
    token: Secret
    currency: str | None = None


def _redirect_pairs(redirect: str | Mapping[str, str | Sequence[str]]) -> list[tuple[str, str]]:
    if isinstance(redirect, CallbackParams):
        return [(k, v) for k in redirect for v in redirect.getall(k)]
    if isinstance(redirect, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in redirect.items():
            for item in [value] if isinstance(value, str) else value:
                if not isinstance(key, str) or not isinstance(item, str):
                    raise RedirectError("the redirect's parameters must be strings")
                pairs.append((key, item))
        return pairs
    if not isinstance(redirect, str):
        raise TypeError(f"the redirect is a URL, a query string or a mapping, not {type(redirect).__name__}")
    text = redirect.strip()
    if "://" in text or text.startswith("/") or "#" in text:
        try:
            parts = urlsplit(text)
        except ValueError:
            raise RedirectError("the redirect URL cannot be parsed") from None
        text = parts.query or parts.fragment
    try:
        return parse_qsl(text.lstrip("?"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise RedirectError(f"the redirect has more than {_MAX_FIELDS} parameters") from None


def parse_redirect(redirect: str | Mapping[str, str | Sequence[str]]) -> tuple[OAuthAccount, ...]:
    """The accounts of Deriv's OAuth redirect, in order: from the whole redirect URL, its query
    string, or a mapping of its parameters.

    Tolerant of what the seed's example shows: spaces around names and values
    (``&amp; token1=...``). Other parameters are ignored. Raises :class:`OAuthError` if the redirect
    carries an ``error`` (the user declined), and :class:`RedirectError` if it has no ``acct1`` and
    ``token1``, a number without its ``acctN`` or ``tokenN``, a gap in the numbering, a name or
    a login id twice, or a malformed login id, token or currency.
    """
    fields: dict[tuple[str, int], str] = {}
    errors: list[str] = []
    descriptions: list[str] = []
    for raw_key, raw_value in _redirect_pairs(redirect):
        key, value = raw_key.strip(), raw_value.strip()
        if key == "error":
            errors.append(value)
            continue
        if key == "error_description":
            descriptions.append(value)
            continue
        match = _ACCOUNT_KEY.fullmatch(key)
        if match is None:
            continue
        slot = (match.group(1), int(match.group(2)))
        if slot in fields:
            raise RedirectError(f"the redirect carries {key} twice")
        fields[slot] = value
    if errors:
        raise OAuthError(
            _error_code(errors[0]), _error_description(descriptions[0]) if descriptions else None
        )
    numbers = sorted({n for _, n in fields})
    if not numbers:
        raise RedirectError("the redirect carries no account (acct1, token1, cur1...)")
    if numbers != list(range(1, len(numbers) + 1)):
        missing = next(n for n in range(1, numbers[-1] + 1) if n not in numbers)
        raise RedirectError(
            f"the redirect's accounts are not numbered 1, 2, ...: account {missing} is missing"
        )
    accounts: list[OAuthAccount] = []
    for n in numbers:
        loginid, token, currency = fields.get(("acct", n)), fields.get(("token", n)), fields.get(("cur", n))
        if not loginid:
            raise RedirectError(f"the redirect has token{n} or cur{n} but no acct{n}")
        if not token:
            raise RedirectError(f"the redirect has acct{n} but no token{n}")
        if not _LOGINID.fullmatch(loginid):
            raise RedirectError(f"acct{n} is not a login id (letters then digits)")
        if not TOKEN.fullmatch(token):
            raise RedirectError(f"token{n} is not a Deriv token (1 to 128 letters, digits, '_' or '-')")
        if currency and not _CURRENCY.fullmatch(currency):
            raise RedirectError(f"cur{n} is not a currency code")
        if any(a.loginid.upper() == loginid.upper() for a in accounts):
            raise RedirectError(f"acct{n} repeats an earlier account")
        accounts.append(OAuthAccount(loginid, Secret(token), currency or None))
    return tuple(accounts)


# -- a loopback listener for command-line apps ----------------------------------------------------------


_SECRET_SEGMENT = re.compile(r"[A-Za-z0-9_-]{22,}")


class LegacyLoopbackRedirect(LoopbackRedirect):
    """A one-shot listener on ``127.0.0.1`` for the v3 redirect, which carries no ``state``.

        path = LegacyLoopbackRedirect.new_path()    # once: register http://127.0.0.1:8765<path>
        with LegacyLoopbackRedirect(8765, path) as listener:
            webbrowser.open(oauth_url(app_id))
            accounts = listener.accounts_sync()     # or: await listener.accounts()

    Why it is safe without ``state``: the redirect is the only thing that reaches the app, and any
    local process can send requests to a loopback port, so what keeps a forged redirect (someone
    else's tokens, to make the user trade on an account they do not own) out is that nobody else
    knows where to send it. The listener therefore

    * answers on one *unguessable* path only (at least 22 URL-safe characters in one segment:
      :meth:`new_path` makes one with 144 random bits). Deriv redirects to the URL registered for
      the app, so the path is chosen once and kept with the app's settings, like a password;
      ``allow_guessable_path=True`` turns the check off (not recommended);
    * binds a loopback address only, refuses a ``Host`` that is not loopback (DNS rebinding), and
      never logs a request line;
    * ends with the first request whose query is a well-formed v3 redirect (or carries ``error``),
      runs only while the app waits for a sign-in (``timeout``), and answers later requests 409;
      malformed ones get 400 and do not end it;
    * and the tokens it returns are :class:`~deriv_runtime.auth.secret.Secret` values: show the
      user the account ``authorize`` reports before trading.

    Everything else is :class:`~deriv_runtime.auth.loopback.LoopbackRedirect`'s (the PKCE flow's
    listener), whose ``state`` check is replaced by the redirect check above.
    """

    def __init__(
        self,
        port: int,
        path: str,
        timeout: float = 120.0,
        *,
        host: str = "127.0.0.1",
        allow_guessable_path: bool = False,
    ) -> None:
        if not allow_guessable_path and not any(_SECRET_SEGMENT.fullmatch(p) for p in path.split("/")):
            raise ValueError(
                "the redirect path must be unguessable (a segment of at least 22 URL-safe characters): "
                "make one with LegacyLoopbackRedirect.new_path() and register it for the app"
            )
        super().__init__(port, path, timeout, host=host)

    @staticmethod
    def new_path() -> str:
        """A fresh unguessable path (``/deriv-redirect/<24 random bytes, base64url>``) to register."""
        return "/deriv-redirect/" + secrets.token_urlsafe(24)

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self.port}" if self._server is not None else "not started"
        return f"LegacyLoopbackRedirect({where!r}, received={self._result is not None}, closed={self.closed})"

    def expect(self, request: object = "") -> None:
        """Nothing to expect: the v3 redirect has no ``state`` (any other value is refused)."""
        if request not in ("", None):
            raise TypeError("the v3 redirect carries no state: call accounts() / accounts_sync()")

    def _offer(self, params: CallbackParams) -> _Verdict:
        """From the server thread: keep the first well-formed redirect, wake the waiters."""
        if not params.getall("error"):
            try:
                parse_redirect(params)
            except (RedirectError, OAuthError):
                return "mismatch"
        return super()._offer(params)

    def _admit(self, params: CallbackParams) -> _Verdict | None:
        """Any well-formed redirect is kept: it has no ``state`` to check (see the class docstring)."""
        return None

    async def accounts(self, timeout: float | None = None) -> tuple[OAuthAccount, ...]:
        """The accounts of the redirect (see :func:`parse_redirect`). Raises :class:`OAuthError` if
        the user declined, :class:`~deriv_runtime.auth.errors.OAuthTimeout` after ``timeout``
        seconds (default: the listener's; the listener is then closed)."""
        return parse_redirect(await self.wait("", timeout))

    def accounts_sync(self, timeout: float | None = None) -> tuple[OAuthAccount, ...]:
        """:meth:`accounts` for blocking code."""
        return parse_redirect(self.wait_sync("", timeout))
