"""Fingerprints of secrets (OTPs, tokens, codes): what the mock records and logs instead of them."""

from __future__ import annotations

import hashlib

__all__ = ["fingerprint"]


def fingerprint(secret: str) -> str:
    """The first 12 hex digits of the secret's SHA-256: enough to tell secrets apart, not to recover one."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:12]
