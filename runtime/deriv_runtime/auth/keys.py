"""Self-generated Deribit API keys: Ed25519 or RSA key pairs, kept as PKCS#8 PEM files.

A :class:`SigningKey` is the private half. Make one (:meth:`SigningKey.generate`), or read one made
by ``openssl genpkey`` or this package (:meth:`SigningKey.from_pem`, :meth:`SigningKey.load`,
optionally password-encrypted); register :meth:`SigningKey.public_pem` with Deribit (account API
settings, "self-generated" key, or ``private/create_api_key`` with ``public_key``); sign through
:class:`~deriv_runtime.auth.deribit_signing.KeySigner`. Such a key authenticates only with
``grant_type=client_signature``.

* Ed25519 (recommended) signs the message bytes directly; RSA signs with PKCS#1 v1.5 over SHA-256
  and must have at least 2048 bits. Signatures are base64url without ``=`` padding.
* :meth:`SigningKey.save` writes the key ``0600``, atomically, and never replaces an existing file
  unless asked to.
* A key never shows itself: ``repr`` gives the kind and a fingerprint of the public key, pickling is
  refused, and no error message carries the password, PEM text or key bytes (errors raised by
  ``cryptography`` are replaced, not chained).

``cryptography`` is imported on first use of a key, not when this module is imported.

Errors (all :class:`~deriv_runtime.auth.errors.AuthError`)::

    KeyFileError            a key cannot be read, parsed or written
    ├── KeyPasswordError    wrong password; no password for an encrypted key; one for a plain key
    ├── WeakKeyError        an RSA key under 2048 bits
    └── UnsupportedKeyError not an Ed25519 or RSA private key (EC, DSA, OpenSSH format ...)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeAlias

from ._atomic import write_file_atomic
from .errors import AuthError
from .secret import Secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "DEFAULT_RSA_BITS",
    "MIN_RSA_BITS",
    "KeyFileError",
    "KeyKind",
    "KeyPasswordError",
    "SigningKey",
    "UnsupportedKeyError",
    "WeakKeyError",
]

KeyKind: TypeAlias = Literal["ed25519", "rsa"]
#: Deribit refuses shorter RSA keys.
MIN_RSA_BITS = 2048
#: The RSA size :meth:`SigningKey.generate` uses unless told otherwise.
DEFAULT_RSA_BITS = 3072
_MAX_KEY_FILE = 1 << 20  # a PEM key is a few kB; anything past 1 MiB is not one
_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_ENCRYPTED_LEGACY = re.compile(rb"Proc-Type:\s*4,\s*ENCRYPTED")


class KeyFileError(AuthError):
    """A private key could not be read, parsed or written. The message says what to do."""


class KeyPasswordError(KeyFileError):
    """The password is wrong, missing (the key is encrypted) or not wanted (the key is not)."""


class WeakKeyError(KeyFileError):
    """An RSA key shorter than 2048 bits, which Deribit does not accept."""


class UnsupportedKeyError(KeyFileError):
    """A key type other than Ed25519 or RSA, or a key format other than PEM (PKCS#8)."""


class SigningKey:
    """The private key of a self-generated Deribit API key (Ed25519 or RSA >= 2048 bits).

    Wraps a ``cryptography`` private key object; build one with :meth:`generate`,
    :meth:`from_pem` or :meth:`load` rather than the constructor.
    """

    __slots__ = ("_fingerprint", "_key", "_kind")

    _key: PrivateKeyTypes
    _kind: KeyKind
    _fingerprint: str

    def __init__(self, private_key: PrivateKeyTypes) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

        if isinstance(private_key, ed25519.Ed25519PrivateKey):
            kind: KeyKind = "ed25519"
        elif isinstance(private_key, rsa.RSAPrivateKey):
            kind = "rsa"
            if private_key.key_size < MIN_RSA_BITS:
                raise WeakKeyError(
                    f"the RSA key has {private_key.key_size} bits; Deribit requires at least "
                    f"{MIN_RSA_BITS}: generate a new key (Ed25519, or RSA with 3072 bits)"
                )
        else:
            raise UnsupportedKeyError(
                f"unsupported key type {type(private_key).__name__.removeprefix('_')}: Deribit accepts "
                "Ed25519 and RSA keys only; generate one with deribit-keygen or openssl genpkey"
            )
        der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        object.__setattr__(self, "_key", private_key)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_fingerprint", hashlib.sha256(der).hexdigest()[:16])

    # -- making and reading keys -------------------------------------------------------------

    @classmethod
    def generate(cls, kind: str = "ed25519", *, rsa_bits: int = DEFAULT_RSA_BITS) -> SigningKey:
        """A new random key: ``"ed25519"`` (recommended) or ``"rsa"`` with ``rsa_bits`` bits.

        ``rsa_bits`` under 2048 raises :class:`WeakKeyError`; an unknown ``kind``,
        :class:`UnsupportedKeyError`.
        """
        if kind == "ed25519":
            from cryptography.hazmat.primitives.asymmetric import ed25519

            return cls(ed25519.Ed25519PrivateKey.generate())
        if kind == "rsa":
            if isinstance(rsa_bits, bool) or not isinstance(rsa_bits, int):
                raise TypeError(f"rsa_bits must be an int, not {type(rsa_bits).__name__}")
            if rsa_bits < MIN_RSA_BITS:
                raise WeakKeyError(
                    f"an RSA key of {rsa_bits} bits is too short: Deribit requires at least "
                    f"{MIN_RSA_BITS} (3072 recommended)"
                )
            from cryptography.hazmat.primitives.asymmetric import rsa

            return cls(rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits))
        raise UnsupportedKeyError(f"unknown key kind {kind!r}: use 'ed25519' or 'rsa'")

    @classmethod
    def from_pem(cls, data: bytes | str, password: str | bytes | Secret | None = None) -> SigningKey:
        """Read a PEM private key (PKCS#8, encrypted or not; traditional RSA PEM is accepted too).

        Give ``password`` exactly when the key is encrypted. Raises :class:`KeyPasswordError`,
        :class:`WeakKeyError`, :class:`UnsupportedKeyError` or :class:`KeyFileError`.
        """
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be PEM bytes or str, not {type(data).__name__}")
        pem = bytes(data)
        secret = _password_bytes(password)
        label = _private_label(pem)
        encrypted = label == b"ENCRYPTED PRIVATE KEY" or _ENCRYPTED_LEGACY.search(pem) is not None
        if encrypted and secret is None:
            raise KeyPasswordError("the private key is encrypted: give its password")
        if not encrypted and secret is not None:
            raise KeyPasswordError(
                "the private key is not encrypted but a password was given: load it without a password"
            )

        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization

        try:
            key = serialization.load_pem_private_key(pem, password=secret)
        except UnsupportedAlgorithm:
            raise UnsupportedKeyError(
                "the private key uses an algorithm or encryption this system cannot read: "
                "use an Ed25519 or RSA key in PKCS#8 PEM"
            ) from None
        except (ValueError, TypeError):
            if encrypted:
                raise KeyPasswordError(
                    "cannot decrypt the private key: wrong password (or a damaged key file)"
                ) from None
            raise KeyFileError(
                "cannot read the private key: the PEM data is damaged or not a PKCS#8 private key"
            ) from None
        return cls(key)

    @classmethod
    def load(cls, path: str | os.PathLike[str], password: str | bytes | Secret | None = None) -> SigningKey:
        """Read the PEM private key file at ``path`` (see :meth:`from_pem`)."""
        file = Path(path).expanduser()
        try:
            with file.open("rb") as handle:
                pem = handle.read(_MAX_KEY_FILE + 1)
        except OSError as exc:
            raise KeyFileError(
                f"cannot read the key file {file}: {exc.strerror or type(exc).__name__}"
            ) from None
        if len(pem) > _MAX_KEY_FILE:
            raise KeyFileError(f"{file} is too large to be a PEM private key")
        try:
            return cls.from_pem(pem, password)
        except KeyFileError as exc:
            raise type(exc)(f"{file}: {exc}") from None

    # -- using a key -----------------------------------------------------------------------------

    @property
    def kind(self) -> KeyKind:
        """``"ed25519"`` or ``"rsa"``."""
        return self._kind

    @property
    def fingerprint(self) -> str:
        """The first 16 hex digits of the SHA-256 of the public key (DER SubjectPublicKeyInfo)."""
        return self._fingerprint

    @property
    def key_size(self) -> int:
        """The key size in bits (256 for Ed25519)."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        return self._key.key_size if isinstance(self._key, rsa.RSAPrivateKey) else 256

    def sign(self, message: bytes) -> str:
        """The signature of ``message``, base64url without ``=`` padding (Deribit's form)."""
        if not isinstance(message, bytes | bytearray | memoryview):
            raise TypeError(f"message must be bytes, not {type(message).__name__}")
        raw = self._raw_sign(bytes(message))
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def verify(self, message: bytes, signature: str) -> bool:
        """True if ``signature`` (as :meth:`sign` gives it) is this key's signature of ``message``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        if not isinstance(signature, str) or not signature.isascii():
            return False
        try:
            raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        except (binascii.Error, ValueError):
            return False
        public: Any = self._key.public_key()
        try:
            if self._kind == "ed25519":
                public.verify(raw, bytes(message))
            else:
                public.verify(raw, bytes(message), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM: what to register with Deribit."""
        from cryptography.hazmat.primitives import serialization

        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def private_pem(self, password: str | bytes | Secret | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted with ``password`` when one is given.

        **Contains the private key**: for key files only.
        """
        from cryptography.hazmat.primitives import serialization

        secret = _password_bytes(password)
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption() if secret is None else serialization.BestAvailableEncryption(secret)
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def save(
        self,
        path: str | os.PathLike[str],
        password: str | bytes | Secret | None = None,
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write :meth:`private_pem` to ``path``: mode ``0600``, atomically; returns the path.

        An existing file is left alone (:class:`KeyFileError`) unless ``overwrite``. Missing parent
        directories are created ``0700``. On failure nothing is left behind.
        """
        file = Path(path).expanduser()
        data = self.private_pem(password)
        try:
            write_file_atomic(file, data, mode=0o600, overwrite=overwrite)
        except FileExistsError:
            raise KeyFileError(
                f"{file} already exists: refusing to overwrite a key file "
                "(choose another path, or pass overwrite=True / --force to replace it)"
            ) from None
        except OSError as exc:
            raise KeyFileError(
                f"cannot write the key file {file}: {exc.strerror or type(exc).__name__}"
            ) from None
        return file

    def _raw_sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key: Any = self._key
        if self._kind == "ed25519":
            signed: bytes = key.sign(message)
        else:
            signed = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return signed

    # -- staying private ---------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"SigningKey(kind={self._kind!r}, fingerprint={self._fingerprint!r})"

    __str__ = __repr__

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("SigningKey is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("SigningKey is immutable")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a SigningKey cannot be pickled; save it with SigningKey.save() instead")

    def __copy__(self) -> SigningKey:
        return self

    def __deepcopy__(self, memo: Any) -> SigningKey:
        return self


def _password_bytes(password: str | bytes | Secret | None) -> bytes | None:
    if password is None:
        return None
    if isinstance(password, Secret):
        value = password.reveal().encode("utf-8")
    elif isinstance(password, str):
        value = password.encode("utf-8")
    elif isinstance(password, bytes | bytearray):
        value = bytes(password)
    else:
        raise TypeError(f"password must be a str, bytes or Secret, not {type(password).__name__}")
    if not value:
        raise KeyPasswordError("the password is empty: give a non-empty password, or none")
    return value


def _private_label(pem: bytes) -> bytes:
    """The label of the first private key PEM block; explains what else was found."""
    labels = [m.group(1) for m in _PEM_LABEL.finditer(pem)]
    for label in labels:
        if label == b"OPENSSH PRIVATE KEY":
            raise UnsupportedKeyError(
                "this is an OpenSSH private key: Deribit keys are PKCS#8 PEM "
                "(generate one with deribit-keygen or `openssl genpkey -algorithm ed25519`)"
            )
        if label.endswith(b"PRIVATE KEY"):
            if label in (b"EC PRIVATE KEY", b"DSA PRIVATE KEY"):
                kind = label.split()[0].decode()
                raise UnsupportedKeyError(
                    f"this is a {kind} private key: Deribit accepts Ed25519 and RSA keys only"
                )
            return label
    if any(label in (b"PUBLIC KEY", b"RSA PUBLIC KEY", b"CERTIFICATE") for label in labels):
        raise KeyFileError("this is a public key or certificate: load the private key file instead")
    raise KeyFileError("no PEM private key found (expected a '-----BEGIN PRIVATE KEY-----' block)")
