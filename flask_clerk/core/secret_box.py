"""Small secrets encrypted at rest (TOTP secrets), with Fernet.

The key is derived with HKDF-SHA256 from ``CLERK_SECRET_KEY``: nothing more to
configure or to lose, and a copy of the database alone does not reveal the secrets.
The flip side: **rotating CLERK_SECRET_KEY makes every stored TOTP secret
unreadable.** Don't rotate it; or export the users first (``flask clerk export``
writes the secrets in the clear), rotate, and import them into a fresh store.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..settings import Settings

INFO = b"flask_clerk totp"


class UnreadableSecret(ValueError):
    """A sealed secret that this key cannot open (CLERK_SECRET_KEY changed, or the
    stored value was tampered with)."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
        secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(settings: Settings, plaintext: str) -> str:
    """``plaintext`` encrypted and authenticated, as text for a column."""
    return _fernet(settings.secret_key).encrypt(plaintext.encode()).decode("ascii")


def open_sealed(settings: Settings, token: str) -> str:
    """The plaintext of :func:`seal`; :class:`UnreadableSecret` if it won't open."""
    try:
        return _fernet(settings.secret_key).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise UnreadableSecret(
            "a stored secret cannot be decrypted: CLERK_SECRET_KEY changed since it "
            "was stored") from error
