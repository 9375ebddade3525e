"""The API keys the Deribit mock knows, and how their credentials are verified.

This is the mock's own, independent reading of Deribit's rules: it imports nothing of the
runtime's signing code, so that a test against the mock checks that code.

Keys (:class:`Client`):

* a Deribit-generated key: ``client_id`` and ``client_secret`` (given to the mock, registered with
  :meth:`Clients.with_secret`, or made by ``private/create_api_key`` without ``public_key``). It
  authenticates with ``client_credentials``, ``client_signature`` (HMAC), ``Authorization: Basic``
  and ``Authorization: deri-hmac-sha256``;
* an asymmetric key: a ``client_id`` bound to a PEM public key, Ed25519 or RSA of 2048 bits or
  more (``private/create_api_key`` with ``public_key``, or :meth:`Clients.with_key`). It
  authenticates with signatures only (``client_signature``, ``deri-hmac-sha256``): asking it for
  ``client_credentials`` or ``Basic`` is refused. The ``client_secret`` shown for it is a
  fingerprint of the public key (16 bytes of the SHA-256 of its DER form, colon-separated hex),
  no secret.

What is signed (UTF-8):

* ``public/auth`` with ``client_signature``: ``"{timestamp}\\n{nonce}\\n{data}"``, no trailing
  newline (``nonce`` and ``data`` empty when absent) (:func:`auth_payload`);
* the ``deri-hmac-sha256`` header: ``"{ts}\\n{nonce}\\n{METHOD}\\n{URI}\\n{BODY}\\n"``, URI the request
  target exactly as received (path and query), BODY the raw body bytes (empty for a GET)
  (:func:`request_payload`).

The signature: for a secret, the lower-case hex HMAC-SHA256 keyed by the secret (anything else,
upper-case hex included, is refused); for Ed25519 the signature of the bytes, for RSA PKCS#1 v1.5
with SHA-256, both in base64url without padding (``+``, ``/`` or ``=`` are refused).

Replays (:class:`ReplayGuard`): the timestamp (milliseconds) must be within 60 s of the mock's
clock, either way; a nonce is single-use per client for as long as its timestamp is in that
window. The checks run in order: timestamp, client, signature, nonce (only a valid signature spends
a nonce). Refusals are :class:`CredentialError` with a reason that carries no secret.

``cryptography`` is imported only when a public key is loaded or a signature checked with one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .scopes import Scope

__all__ = [
    "SIGNATURE_WINDOW_MS",
    "Client",
    "Clients",
    "CredentialError",
    "ReplayGuard",
    "auth_payload",
    "load_public_key",
    "request_payload",
    "signature_valid",
]

#: How far a signed timestamp may be from the mock's clock, either way.
SIGNATURE_WINDOW_MS = 60_000
MIN_RSA_BITS = 2048
_ID_CHARS = string.ascii_letters + string.digits
_URLSAFE = frozenset(string.ascii_letters + string.digits + "-_")

KeyKind = Literal["hmac", "ed25519", "rsa"]


class CredentialError(Exception):
    """Credentials refused; the message is the reason (it never carries a secret)."""


@dataclass(slots=True)
class Client:
    """An API key (see the module docstring). Its secret and key are left out of its ``repr``."""

    client_id: str
    max_scope: Scope
    kind: KeyKind = "hmac"
    secret: str | None = field(default=None, repr=False)
    public_key: Any = field(default=None, repr=False)
    public_pem: str | None = field(default=None, repr=False)
    name: str = ""
    key_id: int = 0
    created_ms: int = 0
    enabled_features: list[str] = field(default_factory=list)

    @property
    def asymmetric(self) -> bool:
        return self.kind != "hmac"

    def api_key(self) -> dict[str, Any]:
        """The key as ``private/create_api_key`` answers it."""
        answer: dict[str, Any] = {
            "id": self.key_id,
            "client_id": self.client_id,
            "client_secret": key_fingerprint(self.public_key) if self.asymmetric else self.secret,
            "max_scope": self.max_scope.text(),
            "name": self.name,
            "enabled": True,
            "default": False,
            "enabled_features": list(self.enabled_features),
            "ip_whitelist": [],
            "timestamp": self.created_ms,
        }
        if self.public_pem is not None:
            answer["public_key"] = self.public_pem
        return answer


# -- what is signed, and checking a signature ---------------------------------------------------------


def auth_payload(timestamp: int, nonce: str, data: str) -> bytes:
    """The bytes a ``client_signature`` grant signs."""
    return f"{timestamp}\n{nonce}\n{data}".encode()


def request_payload(timestamp: int, nonce: str, method: str, uri: str, body: bytes) -> bytes:
    """The bytes a ``deri-hmac-sha256`` header signs."""
    return f"{timestamp}\n{nonce}\n{method}\n{uri}\n".encode() + body + b"\n"


def load_public_key(pem: str) -> tuple[KeyKind, Any]:
    """The kind and key of a PEM public key: Ed25519, or RSA of :data:`MIN_RSA_BITS` or more."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CredentialError("not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CredentialError(f"an RSA key needs at least {MIN_RSA_BITS} bits")
        return "rsa", key
    raise CredentialError("only Ed25519 and RSA public keys are accepted")


def key_fingerprint(key: Any) -> str:
    """``81:c2:...``: 16 bytes of the SHA-256 of the public key's DER form."""
    from cryptography.hazmat.primitives import serialization

    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest()[:16])


def _base64url(text: str) -> bytes | None:
    """Unpadded base64url, strictly (``None`` for anything else)."""
    if not text or not set(text) <= _URLSAFE:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def signature_valid(client: Client, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` is the client's signature of ``payload`` (module docstring)."""
    if client.secret is not None:
        expected = hmac.new(client.secret.encode(), payload, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)
    raw = _base64url(signature)
    if raw is None or client.public_key is None:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        if client.kind == "rsa":
            client.public_key.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            client.public_key.verify(raw, payload)
    except InvalidSignature:
        return False
    return True


class ReplayGuard:
    """Signed timestamps near the clock, nonces used once (module docstring)."""

    def __init__(self, clock: Callable[[], float], window_ms: int = SIGNATURE_WINDOW_MS) -> None:
        self.clock = clock
        self.window_ms = window_ms
        self._seen: dict[tuple[str, str], int] = {}  # (client_id, nonce) -> forgotten after (ms)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def check_time(self, stamp_ms: int) -> None:
        now = self.now_ms()
        if stamp_ms < now - self.window_ms:
            raise CredentialError("the timestamp is more than 60 s old")
        if stamp_ms > now + self.window_ms:
            raise CredentialError("the timestamp is more than 60 s ahead")

    def spend(self, client_id: str, nonce: str, stamp_ms: int) -> None:
        now = self.now_ms()
        self._seen = {k: until for k, until in self._seen.items() if until >= now}
        if (client_id, nonce) in self._seen:
            raise CredentialError("the nonce was already used")
        self._seen[client_id, nonce] = stamp_ms + self.window_ms


# -- the registry ----------------------------------------------------------------------------------


class Clients:
    """The keys, by ``client_id``; verifies their credentials."""

    def __init__(self, clock: Callable[[], float], *, seed: int = 0) -> None:
        self.replay = ReplayGuard(clock)
        self._clients: dict[str, Client] = {}
        self._rng = random.Random(f"{seed}:clients")  # noqa: S311 - a mock's ids
        self._next_id = 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._clients

    def __len__(self) -> int:
        return len(self._clients)

    def get(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    def remove(self, client_id: str) -> bool:
        """Revoke a key: nothing it signs or its secret opens is accepted any more."""
        return self._clients.pop(client_id, None) is not None

    def clear(self) -> None:
        """Revoke every key."""
        self._clients.clear()

    def _new_id(self) -> str:
        while True:
            found = "".join(self._rng.choice(_ID_CHARS) for _ in range(8))
            if found not in self._clients:
                return found

    def _add(self, client: Client) -> Client:
        client.key_id, self._next_id = self._next_id, self._next_id + 1
        client.created_ms = self.replay.now_ms()
        self._clients[client.client_id] = client
        return client

    def with_secret(
        self, client_id: str | None, secret: str | None, max_scope: Scope, *, name: str = ""
    ) -> Client:
        """A Deribit-generated key (``None``: a new id, a new secret)."""
        secret = secret or "".join(self._rng.choice(_ID_CHARS) for _ in range(43))
        return self._add(Client(client_id or self._new_id(), max_scope, "hmac", secret, name=name))

    def with_key(
        self,
        public_pem: str,
        max_scope: Scope,
        *,
        client_id: str | None = None,
        name: str = "",
        features: Iterable[str] = (),
    ) -> Client:
        """An asymmetric key bound to ``public_pem`` (:class:`CredentialError` if unusable)."""
        kind, key = load_public_key(public_pem)
        client = Client(client_id or self._new_id(), max_scope, kind, None, key, public_pem, name)
        client.enabled_features = list(features)
        return self._add(client)

    # -- verification -------------------------------------------------------------------------

    def check_secret(self, client_id: str, secret: str) -> Client:
        """``client_credentials`` / ``Basic``: a key with this secret."""
        client = self._clients.get(client_id)
        if client is not None and client.asymmetric:
            raise CredentialError(
                "an asymmetric (public key) API key authenticates with grant_type client_signature only"
            )
        if client is None or client.secret is None or not hmac.compare_digest(client.secret, secret):
            raise CredentialError("unknown client_id or wrong client_secret")
        return client

    def check_signature(
        self, client_id: str, stamp_ms: int, nonce: str, payload: bytes, signature: str
    ) -> Client:
        """A signed request or grant: timestamp, client, signature, nonce (module docstring)."""
        self.replay.check_time(stamp_ms)
        client = self._clients.get(client_id)
        if client is None:
            raise CredentialError("unknown client_id")
        if not signature_valid(client, payload, signature):
            raise CredentialError("bad signature")
        self.replay.spend(client_id, nonce, stamp_ms)
        return client
