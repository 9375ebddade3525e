"""PKCE, RFC 7636, ``S256`` only (``plain`` offers no protection if the request is seen, so it is refused).

The code verifier is 43 to 128 characters from the unreserved alphabet ``[A-Za-z0-9-._~]``
(RFC 7636 §4.1); the challenge is ``BASE64URL(SHA256(ASCII(verifier)))`` without padding (§4.2).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

from .secret import Secret

__all__ = ["PKCE", "challenge_s256"]

#: RFC 7636 §4.1: ``unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"``.
VERIFIER_ALPHABET = string.ascii_letters + string.digits + "-._~"
MIN_LENGTH = 43
MAX_LENGTH = 128
DEFAULT_LENGTH = 64
_ALLOWED = frozenset(VERIFIER_ALPHABET)


def _check_verifier(verifier: str) -> None:
    if not MIN_LENGTH <= len(verifier) <= MAX_LENGTH:
        raise ValueError(
            f"PKCE code verifier must be {MIN_LENGTH} to {MAX_LENGTH} characters long (RFC 7636 §4.1), "
            f"got {len(verifier)}"
        )
    if not _ALLOWED.issuperset(verifier):
        raise ValueError(
            "PKCE code verifier may contain only the unreserved characters "
            "A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)"
        )


def challenge_s256(verifier: str | Secret) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` without ``=`` padding. The verifier is checked first."""
    value = verifier.reveal() if isinstance(verifier, Secret) else verifier
    _check_verifier(value)
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class PKCE:
    """A code verifier (kept as a :class:`Secret`) and its S256 challenge."""

    __slots__ = ("challenge", "verifier")
    method = "S256"

    def __init__(self, verifier: str | Secret, method: str = "S256") -> None:
        if method != "S256":
            raise ValueError(f"PKCE method {method!r} is refused: only S256 is supported (RFC 7636 §4.2)")
        self.verifier = Secret(verifier)
        self.challenge = challenge_s256(self.verifier)

    @classmethod
    def generate(cls, length: int = DEFAULT_LENGTH) -> PKCE:
        """A fresh verifier: ``length`` characters of the unreserved alphabet, drawn with :mod:`secrets`."""
        if not MIN_LENGTH <= length <= MAX_LENGTH:
            raise ValueError(f"PKCE code verifier length must be {MIN_LENGTH} to {MAX_LENGTH}, got {length}")
        return cls("".join(secrets.choice(VERIFIER_ALPHABET) for _ in range(length)))

    def __repr__(self) -> str:
        return f"PKCE(verifier={self.verifier!r}, challenge={self.challenge!r}, method='S256')"
