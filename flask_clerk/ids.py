"""Prefixed identifiers (``user_…``, ``sess_…``) and opaque secrets.

Clerk's ids are a prefix plus 27 base62 characters; ours have the same form,
made from 160 bits of ``secrets`` randomness so that they are also unguessable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id such as ``user_2b4Xk…`` (27 base62 characters after the prefix)."""
    return f"{prefix}_{_base62(secrets.randbits(160), 27)}"


def new_token(nbytes: int = 32) -> str:
    """An opaque URL-safe secret (256 bits by default) for cookies and links."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """The stored form of an opaque token: its SHA-256, hex.

    Tokens carry ≥ 128 bits of entropy, so an unsalted hash is enough to make a
    leaked database useless for replaying them.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of a low-entropy value (a 6-digit code) under the instance key."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
