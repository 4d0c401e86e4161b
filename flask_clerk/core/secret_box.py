"""Small secrets at rest: TOTP secrets encrypted (Fernet), backup codes keyed-hashed.

The keys are ``CLERK_ENCRYPTION_KEYS``, newest first, and after them always the
one derived from ``CLERK_SECRET_KEY`` (the default: nothing to configure or to
lose; a copy of the database alone reveals nothing). Each is stretched with
HKDF-SHA256. The first key seals and hashes; every key opens and matches.

Rotating: put a new key first in ``CLERK_ENCRYPTION_KEYS`` (keep the old ones
after it), run ``flask clerk reseal`` to re-encrypt every TOTP secret under it,
then drop the old keys (backup codes hashed under an old key stop matching when it
goes: regenerating them, or keeping the key a while, is the user's way on). The
same path moves off ``CLERK_SECRET_KEY`` before rotating that key itself.
"""

from __future__ import annotations

import base64
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..settings import Settings

INFO = b"flask_clerk totp"
HASH_INFO = b"flask_clerk backup codes"


class UnreadableSecret(ValueError):
    """A sealed secret that no key opens (the key it was sealed with is gone, or the
    stored value was tampered with)."""


def _keys(settings: Settings) -> tuple[str, ...]:
    derived = settings.secret_key
    return tuple(dict.fromkeys([*settings.encryption_keys, derived]))


@lru_cache(maxsize=16)
def _derive(key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        key.encode())


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...], info: bytes = INFO) -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(k, info))) for k in keys])


def seal(settings: Settings, plaintext: str, *, info: bytes = INFO) -> str:
    """``plaintext`` encrypted and authenticated under the first key, as text
    (``info`` keeps one use's boxes from opening as another's)."""
    return _fernet(_keys(settings), info).encrypt(plaintext.encode()).decode("ascii")


def open_sealed(settings: Settings, token: str, *, info: bytes = INFO,
                ttl: int | None = None) -> str:
    """The plaintext of :func:`seal`; :class:`UnreadableSecret` if no key opens it
    (or it was sealed more than ``ttl`` seconds ago)."""
    try:
        return _fernet(_keys(settings), info).decrypt(token.encode("ascii"), ttl).decode()
    except (InvalidToken, UnicodeError) as error:
        raise UnreadableSecret(
            "a stored secret cannot be decrypted: the key it was sealed with is not in "
            "CLERK_ENCRYPTION_KEYS (or CLERK_SECRET_KEY changed)") from error


def reseal(settings: Settings, token: str) -> str:
    """``token`` sealed again under the first key (unchanged if it already is)."""
    try:
        return _fernet(_keys(settings)).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as error:
        raise UnreadableSecret("a stored secret cannot be decrypted") from error


def keyed_digests(settings: Settings, value: str) -> list[str]:
    """HMAC-SHA256 of ``value`` under each key, the first (for storing) first."""
    return [hmac.new(_derive(k, HASH_INFO), value.encode(), "sha256").hexdigest()
            for k in _keys(settings)]
