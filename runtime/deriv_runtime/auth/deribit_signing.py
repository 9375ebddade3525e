"""Deribit request signing: ``public/auth`` with ``client_signature``, and signed HTTP requests.

Pure functions: nothing here sends a request, logs, or keeps a signature. A :class:`Signer` turns
bytes into a signature; :class:`HmacSigner` uses a Deribit-generated client secret,
:class:`KeySigner` a self-generated Ed25519 or RSA key (:class:`~deriv_runtime.auth.keys.SigningKey`).

**What is signed.** For ``public/auth`` (grant type ``client_signature``, WebSocket or HTTP)::

    string_to_sign = f"{timestamp}\\n{nonce}\\n{data}"            # no newline after data

and for one HTTP request authenticated by its own ``Authorization`` header::

    string_to_sign = f"{timestamp}\\n{nonce}\\n{METHOD}\\n{URI}\\n{BODY}\\n"

``timestamp`` is milliseconds since the Unix epoch (the server accepts it for about 60 seconds),
``nonce`` a fresh random string for every signature, ``data`` an optional caller value sent along,
``URI`` the path and query exactly as sent (``/api/v2/private/get_account_summary?currency=BTC``),
``BODY`` the exact body bytes (empty for a GET). The header is::

    Authorization: deri-hmac-sha256 id=<client_id>,ts=<timestamp>,sig=<signature>,nonce=<nonce>

**Signatures.** With a client secret: HMAC-SHA256 keyed by the secret, as lowercase hex. With an
asymmetric key the same bytes are signed by the private key (Ed25519 over the bytes; RSA with
PKCS#1 v1.5 and SHA-256) and the signature is base64url without ``=`` padding. Asymmetric keys
work only with ``client_signature`` (and signed HTTP requests), never ``client_credentials``.

**Where Deribit's own documents disagree, and what this module does:**

* *Text encoding.* The authentication guide says UTF-8 for every string; the Python samples of the
  asymmetric-key guide encode the string to sign as Latin-1. The two agree on ASCII and differ
  for anything else (``"é"`` is one byte in Latin-1, two in UTF-8; ``"€"`` has no Latin-1 byte at
  all). We encode with **UTF-8**, the documented rule, which signs every ``data`` value; the
  client secret is encoded as UTF-8 too (one sample uses ASCII; the same for every real secret).
* *Header scheme and field order.* The guides write the scheme as ``deri-hmac-sha256`` in one
  place and ``DERI-HMAC-SHA256`` in another, and their samples put ``nonce`` before ``sig``. We
  send lowercase ``deri-hmac-sha256`` (authentication schemes are case-insensitive, RFC 9110
  §11.1) with the fields in the order ``id, ts, sig, nonce`` of the API reference; they are
  named, so their order carries no meaning.
* *The trailing newline.* The auth string ends right after ``data`` (no final ``\\n``; with empty
  ``data`` it ends with the ``\\n`` after the nonce). The HTTP string ends with a ``\\n`` after the
  body, even an empty one. The worked example of the authentication guide (client ``AMANDA``)
  fixes the first rule; the tests reproduce it.

**Nonces** come from :mod:`secrets` (a CSPRNG), never from the clock: two signatures made in the
same millisecond still differ, and a nonce cannot be guessed ahead.

**Basic authentication** (:func:`basic_authorization`) is supported for completeness but
discouraged: it sends the client secret itself with every request, where a signature proves
knowledge of the secret without revealing it, and expires with its timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, runtime_checkable

from .secret import Secret

if TYPE_CHECKING:
    from .keys import SigningKey

__all__ = [
    "HmacSigner",
    "KeySigner",
    "Signer",
    "basic_authorization",
    "grant_params",
    "http_authorization",
    "http_string_to_sign",
    "new_nonce",
    "now_ms",
    "string_to_sign",
]

#: The ``Authorization`` scheme of a signed HTTP request.
SCHEME = "deri-hmac-sha256"

_NONCE_BYTES = 15  # 120 bits; base32 gives 24 characters of [a-z2-7]


def new_nonce() -> str:
    """A fresh nonce: 24 characters of ``[a-z2-7]`` (120 random bits from :mod:`secrets`)."""
    return base64.b32encode(secrets.token_bytes(_NONCE_BYTES)).decode("ascii").lower()


def now_ms() -> int:
    """The current time in milliseconds since the Unix epoch (the ``timestamp`` Deribit expects)."""
    return int(time.time() * 1000)


def string_to_sign(timestamp: int, nonce: str, data: str = "") -> bytes:
    """The bytes signed for ``public/auth`` with ``client_signature``: ``"{ts}\\n{nonce}\\n{data}"``.

    UTF-8 encoded, without a newline after ``data``.
    """
    _check_timestamp(timestamp)
    _check_nonce(nonce)
    if not isinstance(data, str):
        raise TypeError(f"data must be a str, not {type(data).__name__}")
    return f"{timestamp}\n{nonce}\n{data}".encode()


def http_string_to_sign(timestamp: int, nonce: str, method: str, uri: str, body: bytes = b"") -> bytes:
    """The bytes signed for one HTTP request: ``"{ts}\\n{nonce}\\n{METHOD}\\n{URI}\\n{BODY}\\n"``.

    ``method`` is upper-cased. ``uri`` is the path and query exactly as sent, starting with ``/``
    (a full URL is refused: the host is not signed). ``body`` is the exact body bytes (``b""`` for
    a GET).
    """
    _check_timestamp(timestamp)
    _check_nonce(nonce)
    if not isinstance(method, str) or not method or not method.isascii() or not method.isalpha():
        raise ValueError("method must be an HTTP method name such as 'GET' or 'POST'")
    if not isinstance(uri, str):
        raise TypeError(f"uri must be a str, not {type(uri).__name__}")
    if "://" in uri or uri.startswith("//"):
        raise ValueError(
            "uri must be the path and query as sent (e.g. '/api/v2/private/get_positions?currency=BTC'), "
            "not a full URL"
        )
    if not uri.startswith("/"):
        raise ValueError("uri must start with '/': the path and query as sent")
    if any(not ("!" <= ch <= "~") for ch in uri):
        raise ValueError("uri must be percent-encoded as sent: no spaces, control or non-ASCII characters")
    raw: object = body
    if isinstance(raw, str):
        raise TypeError("body must be the exact bytes sent (encode the text first), not a str")
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"body must be bytes, not {type(raw).__name__}")
    head = f"{timestamp}\n{nonce}\n{method.upper()}\n{uri}\n".encode()
    return head + bytes(raw) + b"\n"


@runtime_checkable
class Signer(Protocol):
    """Signs Deribit strings for one API key (see :class:`HmacSigner`, :class:`KeySigner`)."""

    @property
    def client_id(self) -> str:
        """The API key's client id (public)."""
        ...

    @property
    def asymmetric(self) -> bool:
        """True for a self-generated key pair, False for a Deribit-generated client secret."""
        ...

    def sign(self, message: bytes) -> str:
        """The ``signature`` value for ``message`` (one of the strings to sign above)."""
        ...


class HmacSigner:
    """Signs with a Deribit-generated client secret: HMAC-SHA256, lowercase hex.

    The secret is kept as a :class:`Secret`; ``repr`` shows the client id only, and the signer
    refuses to be pickled.
    """

    __slots__ = ("_client_id", "_secret")

    def __init__(self, client_id: str, client_secret: str | Secret) -> None:
        self._client_id = _check_client_id(client_id)
        secret = Secret(client_secret)
        if not secret:
            raise ValueError("the client secret is empty")
        self._secret = secret

    @property
    def client_id(self) -> str:
        """The API key's client id."""
        return self._client_id

    @property
    def asymmetric(self) -> bool:
        """Always False: a shared secret."""
        return False

    def sign(self, message: bytes) -> str:
        """Lowercase hex HMAC-SHA256 of ``message`` keyed by the client secret (UTF-8)."""
        if not isinstance(message, bytes | bytearray | memoryview):
            raise TypeError(f"message must be bytes, not {type(message).__name__}")
        key = self._secret.reveal().encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"HmacSigner(client_id={self._client_id!r})"

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("HmacSigner holds a client secret and cannot be pickled")


class KeySigner:
    """Signs with the private half of a self-generated key pair; base64url without padding.

    Only ``client_signature`` (and signed HTTP requests) accept such signatures. ``repr`` shows the
    client id and the key kind.
    """

    __slots__ = ("_client_id", "_key")

    def __init__(self, client_id: str, key: SigningKey) -> None:
        self._client_id = _check_client_id(client_id)
        if not callable(getattr(key, "sign", None)) or getattr(key, "kind", None) not in ("ed25519", "rsa"):
            raise TypeError("key must be a deriv_runtime.auth.keys.SigningKey")
        self._key = key

    @property
    def client_id(self) -> str:
        """The client id Deribit gave when the public key was registered."""
        return self._client_id

    @property
    def asymmetric(self) -> bool:
        """Always True: a key pair."""
        return True

    @property
    def key(self) -> SigningKey:
        """The private key used to sign."""
        return self._key

    def sign(self, message: bytes) -> str:
        """The key's signature of ``message``, base64url without ``=`` padding."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"KeySigner(client_id={self._client_id!r}, kind={self._key.kind!r})"

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("KeySigner holds a private key and cannot be pickled")


def grant_params(
    signer: Signer, *, timestamp: int | None = None, nonce: str | None = None, data: str = ""
) -> dict[str, Any]:
    """The ``public/auth`` params for ``grant_type=client_signature``, freshly signed.

    ``timestamp`` defaults to :func:`now_ms`, ``nonce`` to :func:`new_nonce`; pass them only to
    reproduce a known signature. Every call signs anew: the result is single-use.
    """
    ts = now_ms() if timestamp is None else timestamp
    nc = new_nonce() if nonce is None else nonce
    signature = signer.sign(string_to_sign(ts, nc, data))
    return {
        "grant_type": "client_signature",
        "client_id": signer.client_id,
        "timestamp": ts,
        "nonce": nc,
        "data": data,
        "signature": signature,
    }


def http_authorization(
    signer: Signer,
    method: str,
    uri: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The ``Authorization`` value for one HTTP request signed by ``signer``.

    ``deri-hmac-sha256 id=<client_id>,ts=<timestamp>,sig=<signature>,nonce=<nonce>``, over
    :func:`http_string_to_sign` of the same arguments. ``uri`` and ``body`` must be exactly what
    is sent. Make a new one for every request.
    """
    ts = now_ms() if timestamp is None else timestamp
    nc = new_nonce() if nonce is None else nonce
    _check_header_nonce(nc)
    signature = signer.sign(http_string_to_sign(ts, nc, method, uri, body))
    return f"{SCHEME} id={_check_client_id(signer.client_id)},ts={ts},sig={signature},nonce={nc}"


def basic_authorization(client_id: str, client_secret: str | Secret) -> str:
    """``"Basic " + base64("client_id:client_secret")``, the value of an ``Authorization`` header.

    Discouraged: the secret itself travels with every request (prefer :func:`http_authorization`
    or a token from ``public/auth``). The result contains the secret: never log it.
    """
    cid = _check_client_id(client_id)
    if ":" in cid:
        raise ValueError("client_id must not contain ':' (Basic authentication splits on it)")
    secret = Secret(client_secret).reveal()
    if not secret:
        raise ValueError("the client secret is empty")
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode("ascii")


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"timestamp must be an int (milliseconds), not {type(timestamp).__name__}")
    if timestamp < 0:
        raise ValueError("timestamp must be milliseconds since the Unix epoch, not negative")


def _check_nonce(nonce: str) -> None:
    if not isinstance(nonce, str):
        raise TypeError(f"nonce must be a str, not {type(nonce).__name__}")
    if not nonce or any(not ("!" <= ch <= "~") for ch in nonce):
        raise ValueError("nonce must be non-empty visible ASCII (no spaces or newlines); see new_nonce()")


def _check_header_nonce(nonce: str) -> None:
    _check_nonce(nonce)
    if "," in nonce:
        raise ValueError("a nonce sent in an Authorization header must not contain ','")


def _check_client_id(client_id: str) -> str:
    if not isinstance(client_id, str):
        raise TypeError(f"client_id must be a str, not {type(client_id).__name__}")
    if not client_id or any(not ("!" <= ch <= "~") or ch == "," for ch in client_id):
        raise ValueError("client_id must be non-empty visible ASCII without ','")
    return client_id
