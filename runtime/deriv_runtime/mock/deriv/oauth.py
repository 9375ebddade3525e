"""The mock's OAuth 2.0 authorization server (authorization code + PKCE S256, refresh rotation) and
its bearer-token registry (personal access tokens and the access tokens it issued).

Pure state and rules, no I/O: :mod:`.rest` serves it over HTTP. Follows RFC 6749 (§4.1 authorization
code grant, §5.2 error responses, §6 refresh), RFC 7636 (PKCE; only ``S256``, ``plain`` is refused)
and the OAuth 2.0 Security BCP (refresh token rotation with reuse detection, single-use codes whose
reuse revokes what they issued). Secrets are kept only as dictionary keys; records and logs carry
fingerprints.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import secrets
import string
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..core.record import fingerprint

__all__ = [
    "AuthorizeResult",
    "IssuedToken",
    "OAuthFailure",
    "OAuthServer",
    "TokenInfo",
    "pkce_challenge",
]

log = logging.getLogger("deriv_runtime.mock.oauth")

_VERIFIER_CHARS = frozenset(string.ascii_letters + string.digits + "-._~")
_CHALLENGE_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def pkce_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthFailure(Exception):
    """An OAuth error answer: ``{"error": error, "error_description": description}`` with ``status``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(slots=True)
class TokenInfo:
    """What a bearer token grants. ``kind``: ``"pat"`` or ``"access"``."""

    kind: Literal["pat", "access"]
    scopes: frozenset[str]
    fingerprint: str
    client_id: str | None = None
    #: ``time.monotonic()`` deadline; ``None``: never expires.
    deadline: float | None = None
    family: str | None = None
    revoked: bool = False

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token the mock issued, as :attr:`OAuthServer.tokens_issued` reports it (no secret)."""

    kind: Literal["access", "refresh"]
    grant_type: str
    client_id: str
    scope: str
    fingerprint: str
    issued_at: float
    #: Epoch seconds; ``None``: no expiry.
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class AuthorizeResult:
    """Either a redirect (``location``) or an error shown to the user (``status`` and ``error``)."""

    location: str | None = None
    status: int = 302
    error: OAuthFailure | None = None


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    redirect_given: bool
    challenge: str
    scopes: frozenset[str]
    deadline: float
    family: str
    used: bool = False


@dataclass(slots=True)
class _Refresh:
    client_id: str
    scopes: frozenset[str]
    family: str
    deadline: float | None
    used: bool = False
    revoked: bool = False


@dataclass(slots=True)
class App:
    """A registered OAuth client (a Deriv app): its id and the redirect URIs it may use."""

    app_id: str
    redirect_uris: list[str] = field(default_factory=list)


def _loopback(host: str | None) -> bool:
    return (host or "").strip("[]") in _LOOPBACK


def redirect_matches(registered: str, given: str) -> bool:
    """Exact match, except that a loopback ``http`` URI may use any port (RFC 8252 §7.3)."""
    if registered == given:
        return True
    try:
        reg, got = urlsplit(registered), urlsplit(given)
        _ = (reg.port, got.port)  # raises ValueError on a malformed port
    except ValueError:
        return False
    return (
        reg.scheme == got.scheme == "http"
        and _loopback(reg.hostname)
        and reg.hostname == got.hostname
        and reg.path == got.path
        and reg.query == got.query
        and not got.fragment
    )


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


class OAuthServer:
    """Apps, personal access tokens, authorization codes, access and refresh tokens.

    ``scopes`` are the scopes the API knows (the OpenAPI ``oauth2`` scheme's). Lifetimes are in
    seconds: ``access_token_ttl``, ``refresh_token_ttl`` (``None``: no expiry) and ``code_ttl``.
    With ``approve`` off, the (simulated) user denies every authorization: ``access_denied``.
    """

    def __init__(
        self,
        scopes: Iterable[str],
        *,
        access_token_ttl: float = 3600.0,
        refresh_token_ttl: float | None = None,
        code_ttl: float = 60.0,
        approve: bool = True,
        require_state: bool = True,
        revoke_on_reuse: bool = True,
    ) -> None:
        self.scopes = frozenset(scopes)
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.code_ttl = code_ttl
        #: Auto-approve authorizations (``False``: the user denies: ``error=access_denied``).
        self.approve = approve
        #: Refuse authorization requests without ``state`` (CSRF protection).
        self.require_state = require_state
        #: On reuse of a code or of a rotated refresh token, revoke every token of that grant.
        self.revoke_on_reuse = revoke_on_reuse
        self.apps: dict[str, App] = {}
        self._pats: dict[str, TokenInfo] = {}
        self._access: dict[str, TokenInfo] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, _Code] = {}
        #: Requests to the token endpoint by ``grant_type`` (failed ones included).
        self.token_requests: Counter[str] = Counter()
        #: Requests to the authorization endpoint.
        self.authorize_requests = 0
        #: Authorization codes issued.
        self.codes_issued = 0
        #: Every token issued, oldest first (fingerprints, not the tokens).
        self.tokens_issued: list[IssuedToken] = []

    # -- registration -------------------------------------------------------------------------

    def register_app(self, app_id: str, redirect_uris: Iterable[str] = ()) -> App:
        app = self.apps.get(app_id)
        if app is None:
            app = self.apps[app_id] = App(app_id)
        for uri in redirect_uris:
            if uri not in app.redirect_uris:
                app.redirect_uris.append(uri)
        return app

    def register_pat(
        self, token: str, scopes: Iterable[str] | None = None, *, expires_in: float | None = None
    ) -> TokenInfo:
        """Accept ``token`` as a bearer token with ``scopes`` (default: every scope)."""
        if not token:
            raise ValueError("a personal access token cannot be empty")
        granted = self.scopes if scopes is None else frozenset(scopes)
        deadline = None if expires_in is None else time.monotonic() + expires_in
        info = TokenInfo("pat", granted, fingerprint(token), deadline=deadline)
        self._pats[token] = info
        return info

    def revoke(self, token: str) -> bool:
        """Revoke a PAT, an access token or a refresh token. True if it was known."""
        found = False
        for table in (self._pats, self._access):
            info = table.get(token)
            if info is not None:
                info.revoked = True
                found = True
        refresh = self._refresh.get(token)
        if refresh is not None:
            refresh.revoked = True
            found = True
        return found

    def authenticate(self, token: str) -> tuple[TokenInfo | None, str]:
        """``(info, "")`` for a usable bearer token, else ``(None, why)``."""
        info = self._pats.get(token) or self._access.get(token)
        if info is None:
            return None, "unknown token"
        if info.revoked:
            return None, "the token was revoked"
        if info.expired:
            return None, "the token has expired"
        return info, ""

    def is_pat(self, token: str) -> TokenInfo | None:
        info = self._pats.get(token)
        return info if info is not None and not info.revoked and not info.expired else None

    # -- authorization endpoint ---------------------------------------------------------------

    def authorize(self, params: Mapping[str, str]) -> AuthorizeResult:
        """The answer to ``GET /oauth2/authorize?...`` (already decoded ``params``)."""
        self.authorize_requests += 1
        client_id = params.get("client_id") or params.get("app_id") or ""
        app = self.apps.get(client_id)
        if not client_id:
            return AuthorizeResult(status=400, error=OAuthFailure("invalid_request", "client_id is missing"))
        if app is None:
            return AuthorizeResult(
                status=400, error=OAuthFailure("invalid_client", "client_id is not a registered app")
            )
        given = params.get("redirect_uri")
        if given is None:
            if len(app.redirect_uris) != 1:
                return AuthorizeResult(
                    status=400, error=OAuthFailure("invalid_request", "redirect_uri is missing")
                )
            redirect_uri = app.redirect_uris[0]
        elif any(redirect_matches(r, given) for r in app.redirect_uris):
            redirect_uri = given
        else:
            return AuthorizeResult(
                status=400,
                error=OAuthFailure("invalid_request", "redirect_uri is not registered for this client_id"),
            )
        state = params.get("state")

        def fail(error: str, description: str) -> AuthorizeResult:
            answer = {"error": error, "error_description": description}
            if state is not None:
                answer["state"] = state
            return AuthorizeResult(location=_with_query(redirect_uri, answer))

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "only response_type=code is supported")
        if self.require_state and not state:
            return fail("invalid_request", "state is required")
        challenge = params.get("code_challenge") or ""
        method = params.get("code_challenge_method") or "plain"
        if not challenge:
            return fail("invalid_request", "code_challenge is required (PKCE)")
        if method != "S256":
            return fail("invalid_request", f"code_challenge_method {method} is not supported: use S256")
        if len(challenge) != 43 or not _CHALLENGE_CHARS.issuperset(challenge):
            return fail(
                "invalid_request", "code_challenge must be BASE64URL(SHA256(verifier)), 43 characters"
            )
        requested = (params.get("scope") or "").replace(",", " ").split()
        unknown = sorted(set(requested) - self.scopes)
        if unknown:
            return fail("invalid_scope", f"unknown scope: {' '.join(unknown)}")
        if not self.approve:
            return fail("access_denied", "the user denied the request")
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(
            client_id=client_id,
            redirect_uri=redirect_uri,
            redirect_given=given is not None,
            challenge=challenge,
            scopes=frozenset(requested) if requested else self.scopes,
            deadline=time.monotonic() + self.code_ttl,
            family=fingerprint(code),
        )
        self.codes_issued += 1
        self._prune()
        answer = {"code": code}
        if state is not None:
            answer["state"] = state
        return AuthorizeResult(location=_with_query(redirect_uri, answer))

    # -- token endpoint -----------------------------------------------------------------------

    def token(self, form: Mapping[str, str], basic: tuple[str, str] | None = None) -> dict[str, object]:
        """The answer to ``POST /oauth2/token``; raises :class:`OAuthFailure`."""
        grant_type = form.get("grant_type") or ""
        self.token_requests[grant_type or "<missing>"] += 1
        client_id = form.get("client_id") or (basic[0] if basic else "")
        if basic and form.get("client_id") and basic[0] != form["client_id"]:
            raise OAuthFailure("invalid_request", "client_id differs from the Authorization header's")
        if not grant_type:
            raise OAuthFailure("invalid_request", "grant_type is missing")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthFailure("unsupported_grant_type", f"grant_type {grant_type} is not supported")
        if not client_id or client_id not in self.apps:
            raise OAuthFailure("invalid_client", "unknown or missing client_id", 401)
        if grant_type == "authorization_code":
            return self._exchange_code(form, client_id)
        return self._refresh_grant(form, client_id)

    def _exchange_code(self, form: Mapping[str, str], client_id: str) -> dict[str, object]:
        for name in ("code", "code_verifier"):
            if not form.get(name):
                raise OAuthFailure("invalid_request", f"{name} is missing")
        code = self._codes.get(form["code"])
        if code is None:
            raise OAuthFailure("invalid_grant", "the authorization code is invalid")
        if code.used:
            if self.revoke_on_reuse:
                self._revoke_family(code.family)
            raise OAuthFailure("invalid_grant", "the authorization code was already used")
        code.used = True  # single use: even a failed redemption spends it
        if time.monotonic() >= code.deadline:
            raise OAuthFailure("invalid_grant", "the authorization code has expired")
        if code.client_id != client_id:
            raise OAuthFailure("invalid_grant", "the authorization code was issued to another client")
        given = form.get("redirect_uri")
        if (given is not None or code.redirect_given) and given != code.redirect_uri:
            raise OAuthFailure("invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = form["code_verifier"]
        if not 43 <= len(verifier) <= 128 or not _VERIFIER_CHARS.issuperset(verifier):
            raise OAuthFailure("invalid_grant", "code_verifier must be 43-128 unreserved characters")
        if not hmac.compare_digest(pkce_challenge(verifier), code.challenge):
            raise OAuthFailure("invalid_grant", "code_verifier does not match the code_challenge")
        return self._issue("authorization_code", client_id, code.scopes, code.family)

    def _refresh_grant(self, form: Mapping[str, str], client_id: str) -> dict[str, object]:
        token = form.get("refresh_token")
        if not token:
            raise OAuthFailure("invalid_request", "refresh_token is missing")
        refresh = self._refresh.get(token)
        if refresh is None or refresh.revoked:
            raise OAuthFailure("invalid_grant", "the refresh token is invalid")
        if refresh.used:
            if self.revoke_on_reuse:
                self._revoke_family(refresh.family)
            raise OAuthFailure("invalid_grant", "the refresh token was already used (rotated)")
        if refresh.deadline is not None and time.monotonic() >= refresh.deadline:
            raise OAuthFailure("invalid_grant", "the refresh token has expired")
        if refresh.client_id != client_id:
            raise OAuthFailure("invalid_grant", "the refresh token was issued to another client")
        scopes = refresh.scopes
        requested = (form.get("scope") or "").split()
        if requested:
            if not set(requested) <= refresh.scopes:
                raise OAuthFailure("invalid_scope", "the scope exceeds the original grant's")
            scopes = frozenset(requested)
        refresh.used = True
        return self._issue("refresh_token", client_id, scopes, refresh.family)

    def _issue(
        self, grant_type: str, client_id: str, scopes: frozenset[str], family: str
    ) -> dict[str, object]:
        now, mono = time.time(), time.monotonic()
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        ttl = self.access_token_ttl
        self._access[access] = TokenInfo(
            "access", scopes, fingerprint(access), client_id=client_id, deadline=mono + ttl, family=family
        )
        refresh_deadline = None if self.refresh_token_ttl is None else mono + self.refresh_token_ttl
        self._refresh[refresh] = _Refresh(client_id, scopes, family, refresh_deadline)
        scope = " ".join(sorted(scopes))
        self.tokens_issued.append(
            IssuedToken("access", grant_type, client_id, scope, fingerprint(access), now, now + ttl)
        )
        self.tokens_issued.append(
            IssuedToken(
                "refresh",
                grant_type,
                client_id,
                scope,
                fingerprint(refresh),
                now,
                None if self.refresh_token_ttl is None else now + self.refresh_token_ttl,
            )
        )
        log.info("mock OAuth: %s grant: tokens issued to client %s (scope %s)", grant_type, client_id, scope)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": max(1, math.ceil(ttl)),
            "refresh_token": refresh,
            "scope": scope,
        }

    def _revoke_family(self, family: str) -> None:
        log.warning("mock OAuth: a code or refresh token was reused: revoking every token of its grant")
        for info in self._access.values():
            if info.family == family:
                info.revoked = True
        for refresh in self._refresh.values():
            if refresh.family == family:
                refresh.revoked = True

    def _prune(self) -> None:
        if len(self._codes) < 1024:
            return
        now = time.monotonic()
        for code, entry in list(self._codes.items()):
            if now >= entry.deadline + 600:
                del self._codes[code]
