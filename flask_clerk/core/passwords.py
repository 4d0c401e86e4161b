"""Password hashing (argon2id with explicit parameters) and password rules.

Digests imported from another system keep their own algorithm (``User.password_hasher``,
see :mod:`.password_digests`) until the first sign-in re-hashes them with argon2id.

Rules follow NIST SP 800-63B: a minimum length counted in characters, a bounded
maximum, no composition rules, and a check against a bundled list of common
passwords and against words from the user's own context.
"""

from __future__ import annotations

import contextlib
import gzip
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ClerkError
from .password_digests import verify_digest


class PasswordHasher:
    """argon2id with the instance's parameters; knows when a digest needs upgrading."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Verified against when the account does not exist, so that an unknown
        # identifier costs the same time as a wrong password.
        self._dummy_digest = self._argon2.hash("flask_clerk dummy password")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, digest: str | None, password: str, hasher: str | None = None) -> bool:
        """Whether ``password`` matches ``digest``: ours (``hasher`` None) or one
        imported in the format ``hasher`` names."""
        if not digest:
            self.verify_dummy(password)
            return False
        if hasher is not None:
            return verify_digest(hasher, digest, password)
        try:
            return self._argon2.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def verify_dummy(self, password: str) -> None:
        with contextlib.suppress(VerificationError):
            self._argon2.verify(self._dummy_digest, password)

    def needs_rehash(self, digest: str, hasher: str | None = None) -> bool:
        if hasher is not None:
            return True  # imported: ours replaces it at the first sign-in
        try:
            return self._argon2.check_needs_rehash(digest)
        except InvalidHashError:
            return True


@cache
def common_passwords() -> frozenset[str]:
    data = resources.files("flask_clerk.core").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def check_password(
    password: str,
    *,
    min_length: int,
    max_length: int,
    context: Mapping[str, str | None] | None = None,
    field: str = "password",
) -> None:
    """Raise :class:`ClerkError` if ``password`` breaks the rules; say which rule.

    A context word (say the email's local part) refuses the password when it makes
    up at least half of it: "alicesmith1" for alice.smith@…, not "alice-in-the-long-grass".
    """
    if not password:
        raise ClerkError("form_param_missing", field=field)
    length = len(unicodedata.normalize("NFC", password))
    if length > max_length:
        raise ClerkError("form_password_length_too_long", field=field, max=max_length)
    if length < min_length:
        raise ClerkError("form_password_length_too_short", field=field, min=min_length)
    lowered = password.lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        raise ClerkError("form_password_pwned", field=field)
    for label, word in _context_words(context or {}):
        if word in lowered and 2 * len(word) >= len(lowered):
            raise ClerkError("form_password_context", field=field, word=label)


def _context_words(context: Mapping[str, str | None]) -> Iterable[tuple[str, str]]:
    """(label, word) pairs: the email's local part, names, the application's name."""
    for label, value in context.items():
        if not value:
            continue
        value = value.lower()
        if label == "email address":
            value = value.split("@", 1)[0]
        parts = value.replace(".", " ").replace("_", " ").replace("-", " ").split()
        for word in {value, "".join(parts), *parts}:
            if len(word) >= 4:
                yield label, word
