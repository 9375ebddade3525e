"""Where the OAuth endpoints are and who the client is: :class:`OAuthConfig`.

The defaults come from the ``oauth2`` security scheme of the Options REST API's OpenAPI document
(``authorizationCode`` flow). Deriv's published guides name other hosts for some flows, so every
URL can be overridden, or read from a (newer) document with :meth:`OAuthConfig.from_openapi`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from .._redact import redact_url
from .secret import Secret
from .secure import require_secure

__all__ = [
    "DEFAULT_AUTHORIZATION_URL",
    "DEFAULT_SCOPES",
    "DEFAULT_SIGNUP_URL",
    "DEFAULT_TOKEN_URL",
    "OAuthConfig",
]

#: From the OpenAPI document's ``components.securitySchemes.oauth2.flows.authorizationCode``.
DEFAULT_AUTHORIZATION_URL = "https://oauth.deriv.com/oauth2/authorize"
DEFAULT_TOKEN_URL = "https://oauth.deriv.com/oauth2/token"  # noqa: S105 - a URL, not a password
DEFAULT_SCOPES: tuple[str, ...] = ("trade", "account_manage", "application_read", "payment")
#: Deriv's partner guide sends sign-ups to this page, with ``t=<affiliate token>`` and ``utm_campaign``.
DEFAULT_SIGNUP_URL = "https://hub.deriv.com/tradershub/signup"

#: RFC 6749 §3.3: ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )``.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

ClientAuth = Literal["client_secret_basic", "client_secret_post"]


@dataclass(frozen=True)
class OAuthConfig:
    """A registered application and its authorization server.

    ``client_id`` is the Deriv ``app_id`` (as a string). ``scopes`` are the scopes this
    configuration knows (and requests when :func:`begin_authorization` is given none); requesting a
    scope not in it is refused, so add new ones here. ``client_secret`` is for confidential
    (server-side) clients only, sent as HTTP Basic (``client_secret_basic``, the default) or in the
    form body (``client_secret_post``); public clients (CLI, desktop, mobile) have none and rely on PKCE.

    ``redirect_uri`` must be registered with the application. ``http://`` is accepted only for a
    loopback host (RFC 8252 §7.3); private-use schemes (``com.example.app:/cb``) are accepted.
    """

    client_id: str
    redirect_uri: str
    authorization_url: str = DEFAULT_AUTHORIZATION_URL
    token_url: str = DEFAULT_TOKEN_URL
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    client_secret: Secret | None = None
    client_auth: ClientAuth = "client_secret_basic"
    #: Where ``begin_authorization(..., signup=True)`` sends the user.
    signup_url: str = DEFAULT_SIGNUP_URL
    #: OpenAPI ``refreshUrl``; ``None``: refresh at ``token_url``.
    refresh_url: str | None = None
    #: Also send ``app_id=<client_id>``, as Deriv's guides do.
    send_app_id: bool = True

    def __post_init__(self) -> None:
        client_id: object = self.client_id
        if isinstance(client_id, int) and not isinstance(client_id, bool):  # app_id given as a number
            object.__setattr__(self, "client_id", str(client_id))
        if not isinstance(self.client_id, str) or not self.client_id.strip():
            raise ValueError("OAuthConfig.client_id (the app_id) must be a non-empty string")
        client_secret: object = self.client_secret
        if isinstance(client_secret, str):  # accepted for convenience; held as a Secret
            object.__setattr__(self, "client_secret", Secret(client_secret))
        if self.client_auth not in ("client_secret_basic", "client_secret_post"):
            raise ValueError("OAuthConfig.client_auth must be 'client_secret_basic' or 'client_secret_post'")
        object.__setattr__(self, "scopes", tuple(self.scopes))
        for scope in self.scopes:
            check_scope(scope)
        require_secure(self.authorization_url, "authorization endpoint")
        require_secure(self.token_url, "token endpoint")
        require_secure(self.signup_url, "sign-up page")
        if self.refresh_url is not None:
            require_secure(self.refresh_url, "refresh endpoint")
        check_redirect_uri(self.redirect_uri)

    @property
    def refresh_endpoint(self) -> str:
        return self.refresh_url or self.token_url

    @classmethod
    def from_openapi(
        cls, doc: Mapping[str, Any], *, client_id: str, redirect_uri: str, **overrides: Any
    ) -> OAuthConfig:
        """Endpoints and scopes of the first ``oauth2`` security scheme with an ``authorizationCode`` flow.

        ``doc`` is an OpenAPI document, e.g. ``deriv_runtime.schemas.load_openapi("deriv_options")``.
        ``overrides`` replace any field read from it.
        """
        schemes = (doc.get("components") or {}).get("securitySchemes") or {}
        for scheme in schemes.values():
            if not isinstance(scheme, Mapping) or scheme.get("type") != "oauth2":
                continue
            flow = (scheme.get("flows") or {}).get("authorizationCode")
            if not isinstance(flow, Mapping):
                continue
            if not flow.get("authorizationUrl") or not flow.get("tokenUrl"):
                raise ValueError("the OpenAPI authorizationCode flow lacks authorizationUrl or tokenUrl")
            values: dict[str, Any] = {
                "authorization_url": str(flow["authorizationUrl"]),
                "token_url": str(flow["tokenUrl"]),
                "scopes": tuple(flow.get("scopes") or ()),
            }
            if flow.get("refreshUrl"):
                values["refresh_url"] = str(flow["refreshUrl"])
            values.update(overrides)
            return cls(client_id=client_id, redirect_uri=redirect_uri, **values)
        raise ValueError(
            "the OpenAPI document has no oauth2 security scheme with an authorizationCode flow "
            "(components.securitySchemes)"
        )


def check_scope(scope: str) -> str:
    if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
        raise ValueError(f"invalid OAuth scope {scope!r}: a scope is one token of printable ASCII, no spaces")
    return scope


def check_redirect_uri(uri: str) -> str:
    """Absolute, no fragment (RFC 6749 §3.1.2), ``http://`` only to loopback (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise ValueError("redirect_uri cannot be parsed") from None
    if not parts.scheme:
        raise ValueError(f"redirect_uri must be an absolute URI: {redact_url(uri)}")
    if parts.fragment:
        raise ValueError("redirect_uri must not contain a fragment (RFC 6749 §3.1.2)")
    scheme = parts.scheme.lower()
    if scheme in ("ws", "wss"):
        raise ValueError(f"redirect_uri must be http(s) or a private-use scheme: {redact_url(uri)}")
    if scheme in ("http", "https"):
        require_secure(uri, "redirect URI")  # http:// only to loopback; also refuses a missing host
    return uri
