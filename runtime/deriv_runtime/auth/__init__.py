"""Authentication: Deriv (PATs, OAuth 2.0 with PKCE) and Deribit (grants, signatures, keys), token storage.

Deribit (the JSON-RPC clients) has its own module, :mod:`deriv_runtime.auth.deribit`:
:class:`DeribitAuth` (``client_credentials``, HMAC ``client_signature``, Ed25519/RSA key
signatures, refresh, fork, exchange; re-authentication on every reconnect), with the signing
functions in :mod:`~deriv_runtime.auth.deribit_signing` (exact strings, fresh nonces, checkable
against Deribit's published examples) and key pairs in :mod:`~deriv_runtime.auth.keys`
(:class:`SigningKey`; also the ``deribit-keygen`` command).

Deriv v3 (the legacy WebSocket API, ``wss://ws.derivws.com/websockets/v3``):
:class:`LegacyAuth` in :mod:`deriv_runtime.auth.legacy` (``authorize`` with one or several tokens
on every connection before private streams come back, the authorized account and its scopes,
local scope checks, account switching, ``logout``), and its OAuth sign-in in
:mod:`deriv_runtime.auth.legacy_oauth` (:func:`oauth_url`, :func:`signup_url`, partner tagging from a
referral link with :func:`referral_tag`, the ``acct1/token1/cur1`` redirect read by
:func:`parse_redirect`, and :class:`LegacyLoopbackRedirect` for command-line apps).

Deriv:

Two kinds of credential implement :class:`Credentials` (what the REST client asks for a bearer
token before each request, and tells about a 401):

* :class:`PersonalAccessToken`: a token from the Deriv dashboard, for scripts and bots;
* :class:`OAuthCredentials`: the authorization code flow with PKCE (S256) for apps acting for
  other users, with refresh on expiry or on 401, one refresh for any number of concurrent callers,
  and the rotated tokens saved (:class:`FileTokenStore`, :class:`MemoryTokenStore`) before use.

The flow, for a CLI or desktop app::

    from deriv_runtime.auth import (LoopbackRedirect, OAuthClient, OAuthConfig, FileTokenStore,
                                    begin_authorization)

    async with LoopbackRedirect(port=8765) as listener:
        config = OAuthConfig(client_id="1234", redirect_uri=listener.redirect_uri)
        request = begin_authorization(config, ["trade"])
        webbrowser.open(request.url)
        code = request.complete(await listener.wait(request)) # only this request's state ends it
    client = OAuthClient(config, FileTokenStore("~/.config/mybot/tokens.json"))
    tokens = await client.exchange(code)                       # PKCE verifier sent, tokens saved
    credentials = client.credentials(tokens)                   # give this to the REST client

Every secret (PAT, tokens, code, verifier, client secret) is held as a :class:`Secret`, which
never shows its value in ``repr``/``str``/logs; nothing here logs a secret, a request body or a
URL query, and no exception message contains one. Credentials travel over https only
(:func:`require_secure`; ``http://`` to loopback hosts for local servers), with TLS verification
always on.

Why no OAuth library (authlib, oauthlib, requests-oauthlib): the protocol part is small (PKCE is
a SHA-256 and base64url; the two grants are two form POSTs; the callback check is a constant-time
comparison), while what matters most in a trading client is what those libraries leave to the
caller: one refresh shared by concurrent sync *and* async callers, rotated tokens persisted before
anyone uses them, and secrets that cannot leak through ``repr``, logs or exception text (their
tokens are plain dicts and strings). A dependency would add supply-chain surface and its own
logging for little code saved. httpx, already a runtime dependency, does the HTTP; the loopback
listener uses ``http.server``. Importing this package loads neither httpx nor any submodule:
names are resolved on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .authorize import AuthorizationCode, AuthorizationRequest, CallbackParams, begin_authorization
    from .config import OAuthConfig
    from .credentials import Credentials, PersonalAccessToken, authorization_header
    from .deribit import DeribitAuth
    from .deribit_scope import DeribitScope, DeribitToken
    from .deribit_signing import HmacSigner, KeySigner, Signer
    from .errors import (
        AuthError,
        InsecureTransportError,
        OAuthError,
        OAuthStateError,
        OAuthTimeout,
        TokenStoreError,
    )
    from .keys import KeyFileError, KeyPasswordError, SigningKey, UnsupportedKeyError, WeakKeyError
    from .legacy import (
        Authorization,
        AuthorizationRefused,
        LegacyAccount,
        LegacyAuth,
        NotAuthorized,
        ScopeError,
    )
    from .legacy_oauth import (
        LegacyLoopbackRedirect,
        OAuthAccount,
        RedirectError,
        ReferralLinkError,
        ReferralTag,
        oauth_url,
        parse_redirect,
        referral_tag,
        signup_url,
    )
    from .loopback import LoopbackRedirect
    from .oauth import OAuthClient, OAuthCredentials
    from .pkce import PKCE, challenge_s256
    from .secret import Secret, SecretLike
    from .secure import is_loopback_host, require_secure
    from .tokens import FileTokenStore, MemoryTokenStore, TokenSet, TokenStore

_EXPORTS: dict[str, str] = {
    "AuthorizationCode": ".authorize",
    "AuthorizationRequest": ".authorize",
    "CallbackParams": ".authorize",
    "begin_authorization": ".authorize",
    "OAuthConfig": ".config",
    "Credentials": ".credentials",
    "PersonalAccessToken": ".credentials",
    "authorization_header": ".credentials",
    "DeribitAuth": ".deribit",
    "DeribitScope": ".deribit_scope",
    "DeribitToken": ".deribit_scope",
    "HmacSigner": ".deribit_signing",
    "KeySigner": ".deribit_signing",
    "Signer": ".deribit_signing",
    "KeyFileError": ".keys",
    "KeyPasswordError": ".keys",
    "SigningKey": ".keys",
    "UnsupportedKeyError": ".keys",
    "WeakKeyError": ".keys",
    "AuthError": ".errors",
    "InsecureTransportError": ".errors",
    "OAuthError": ".errors",
    "OAuthStateError": ".errors",
    "OAuthTimeout": ".errors",
    "TokenStoreError": ".errors",
    "Authorization": ".legacy",
    "AuthorizationRefused": ".legacy",
    "LegacyAccount": ".legacy",
    "LegacyAuth": ".legacy",
    "NotAuthorized": ".legacy",
    "ScopeError": ".legacy",
    "LegacyLoopbackRedirect": ".legacy_oauth",
    "OAuthAccount": ".legacy_oauth",
    "RedirectError": ".legacy_oauth",
    "ReferralLinkError": ".legacy_oauth",
    "ReferralTag": ".legacy_oauth",
    "oauth_url": ".legacy_oauth",
    "parse_redirect": ".legacy_oauth",
    "referral_tag": ".legacy_oauth",
    "signup_url": ".legacy_oauth",
    "LoopbackRedirect": ".loopback",
    "OAuthClient": ".oauth",
    "OAuthCredentials": ".oauth",
    "PKCE": ".pkce",
    "challenge_s256": ".pkce",
    "Secret": ".secret",
    "SecretLike": ".secret",
    "is_loopback_host": ".secure",
    "require_secure": ".secure",
    "FileTokenStore": ".tokens",
    "MemoryTokenStore": ".tokens",
    "TokenSet": ".tokens",
    "TokenStore": ".tokens",
}

__all__ = [
    "PKCE",
    "AuthError",
    "Authorization",
    "AuthorizationCode",
    "AuthorizationRefused",
    "AuthorizationRequest",
    "CallbackParams",
    "Credentials",
    "DeribitAuth",
    "DeribitScope",
    "DeribitToken",
    "FileTokenStore",
    "HmacSigner",
    "InsecureTransportError",
    "KeyFileError",
    "KeyPasswordError",
    "KeySigner",
    "LegacyAccount",
    "LegacyAuth",
    "LegacyLoopbackRedirect",
    "LoopbackRedirect",
    "MemoryTokenStore",
    "NotAuthorized",
    "OAuthAccount",
    "OAuthClient",
    "OAuthConfig",
    "OAuthCredentials",
    "OAuthError",
    "OAuthStateError",
    "OAuthTimeout",
    "PersonalAccessToken",
    "RedirectError",
    "ReferralLinkError",
    "ReferralTag",
    "ScopeError",
    "Secret",
    "SecretLike",
    "Signer",
    "SigningKey",
    "TokenSet",
    "TokenStore",
    "TokenStoreError",
    "UnsupportedKeyError",
    "WeakKeyError",
    "authorization_header",
    "begin_authorization",
    "challenge_s256",
    "is_loopback_host",
    "oauth_url",
    "parse_redirect",
    "referral_tag",
    "require_secure",
    "signup_url",
]

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, __all__)
