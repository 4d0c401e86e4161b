"""Six-digit email codes: issued, hashed, bound to their flow, single use.

A code lives on any row with the :class:`~flask_clerk.core.models.CodeVerification`
columns (a sign-up, a sign-in's password reset, an email address being added).
Its hash is keyed with the instance secret and the row's id, so a code cannot be
replayed against another flow. Guesses are counted per flow, atomically and
before the comparison, and a resend does not reset the count: a flow gets
``CLERK_CODE_ATTEMPTS`` guesses in all, however many codes it asks for.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..ids import constant_time_equal, keyed_hash
from .store import increment


class HasCode(Protocol):
    id: str
    code_hash: str | None
    code_expires_at: datetime | None
    code_sent_at: datetime | None
    code_attempts: int


def issue_code(
    target: HasCode, *, key: bytes, lifetime: int, resend_interval: int, now: datetime
) -> str:
    """Replace any pending code with a new one and return it (to be mailed)."""
    if target.code_sent_at is not None:
        wait = resend_interval - int((now - target.code_sent_at).total_seconds())
        if wait > 0:
            raise ClerkError("verification_resend_too_soon", status=429, seconds=wait)
    code = f"{secrets.randbelow(1_000_000):06d}"
    target.code_hash = keyed_hash(key, f"{target.id}:{code}")
    target.code_expires_at = now + timedelta(seconds=lifetime)
    target.code_sent_at = now
    target.code_attempts = target.code_attempts or 0
    return code


def check_code(
    db: DbSession, target: HasCode, code: str, *, key: bytes, max_attempts: int, now: datetime
) -> None:
    """Accept ``code`` once, or raise. Each well-formed guess is counted (and
    committed) before it is compared, so parallel guesses cannot share a count."""
    code = "".join(code.split())
    if target.code_hash is None or target.code_expires_at is None or now > target.code_expires_at:
        raise ClerkError("form_code_expired", field="code")
    if len(code) != 6 or not code.isdigit():
        raise ClerkError("form_code_incorrect", field="code")
    if increment(db, target, "code_attempts") > max_attempts:
        raise ClerkError("form_code_attempts_exceeded", field="code")
    if not constant_time_equal(target.code_hash, keyed_hash(key, f"{target.id}:{code}")):
        raise ClerkError("form_code_incorrect", field="code")
    target.code_hash = None
    target.code_expires_at = None

