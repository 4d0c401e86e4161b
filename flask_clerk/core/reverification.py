"""Step-up reverification: confirm a factor again before a sensitive action.

A session token's ``fva`` claim holds the minutes since the session last verified
its first and its second factor (-1: the user has no second factor). A check
names a level and a maximum age, as Clerk's ``has({reverification})`` does:

- ``first_factor``: the first factor within the age;
- ``second_factor``: the second factor within the age, or the first for a user
  who has no second factor;
- ``multi_factor``: both (the first alone for a user without a second factor).

Clerk's presets: ``strict_mfa`` (10 min, multi_factor), ``strict`` (10 min,
second_factor), ``moderate`` (60 min), ``lax`` (1 day). Every check fails closed:
a missing or malformed claim is "not verified".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from . import clock, emails
from .audit import security_event
from .codes import check_code, issue_code
from .instance import Instance, RequestInfo
from .mfa import check_second_factor, has_second_factor
from .models import Session, User
from .passkeys import RelyingParty, authentication_options, verify_passkey
from .users import attempt_failed, claim_attempt, release_attempt
from .webhooks import mail_sent

LEVELS = ("first_factor", "second_factor", "multi_factor")
PRESETS: dict[str, tuple[int, str]] = {
    "strict_mfa": (10, "multi_factor"),
    "strict": (10, "second_factor"),
    "moderate": (60, "second_factor"),
    "lax": (1440, "second_factor"),
}


@dataclass(frozen=True)
class Requirement:
    """What an action asks for: a factor verified within ``max_age_minutes``."""

    max_age_minutes: int = 10
    level: str = "second_factor"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {self.level!r}")
        if not 0 < self.max_age_minutes <= 1_000_000:
            raise ValueError("max_age_minutes must be a positive number of minutes")

    @classmethod
    def preset(cls, name: str) -> Requirement:
        minutes, level = PRESETS[name]
        return cls(minutes, level)

    def stale_factors(self, fva: Any) -> tuple[bool, bool]:
        """Which factors must be verified again, (first, second), for a token's ``fva``."""
        ages = _ages(fva)
        if ages is None:
            return True, self.level != "first_factor"
        first, second = ages
        first_stale = not 0 <= first < self.max_age_minutes
        second_stale = not 0 <= second < self.max_age_minutes
        if self.level == "first_factor":
            return first_stale, False
        if second == -1:  # no second factor: the first stands in for it
            return first_stale, False
        if self.level == "second_factor":
            return False, second_stale
        return first_stale, second_stale

    def satisfied_by(self, fva: Any) -> bool:
        return self.stale_factors(fva) == (False, False)

    def to_json(self) -> dict[str, Any]:
        """Clerk's error metadata: ``{"level": …, "afterMinutes": …}``."""
        return {"level": self.level, "afterMinutes": self.max_age_minutes}


def _ages(fva: Any) -> tuple[int, int] | None:
    if (not isinstance(fva, Sequence) or isinstance(fva, str) or len(fva) != 2
            or not all(isinstance(a, int) and not isinstance(a, bool) for a in fva)):
        return None
    return int(fva[0]), int(fva[1])


def _not_impersonating(session: Session) -> None:
    """An administrator acting as a user never passes for the user verifying: the
    actions that ask for it (deleting the account, changing factors) stay the user's."""
    if session.actor:
        raise ClerkError("reverification_while_impersonating", status=403)


def reverify_password(
    instance: Instance, db: DbSession, request: RequestInfo, session: Session, user: User,
    password: str,
) -> None:
    """Verify the first factor again with the password. A wrong one counts toward
    the lockout as at sign-in; a right one un-counts only itself (see
    :func:`~flask_clerk.core.users.release_attempt`)."""
    _not_impersonating(session)
    instance.rate_limiter.hit("sign_in", request.ip_address or "-")
    if not password:
        raise ClerkError("form_param_missing", field="password")
    if not user.password_digest or len(password) > instance.settings.password_max_length:
        raise ClerkError("form_password_incorrect", field="password")
    with instance.failure_floor.padding():
        claim_attempt(instance, db, user)
        if not instance.hasher.verify(user.password_digest, password, user.password_hasher):
            attempt_failed(instance, db, user)
            security_event("reverification.failed", user_id=user.id, reason="password",
                           ip=request.ip_address)
            raise ClerkError("form_password_incorrect", field="password")
    release_attempt(db, user)
    session.first_factor_verified_at = clock.now()
    db.commit()
    security_event("reverification.succeeded", user_id=user.id, session_id=session.id,
                   factor="password")


def reverify_second_factor(
    instance: Instance, db: DbSession, request: RequestInfo, session: Session, user: User,
    strategy: str, code: str,
) -> None:
    """Verify the second factor again (authenticator app or backup code)."""
    _not_impersonating(session)
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    check_second_factor(instance, db, user, strategy, code,
                        failed_event="reverification.failed", ip=request.ip_address)
    release_attempt(db, user)
    session.second_factor_verified_at = clock.now()
    db.commit()
    security_event("reverification.succeeded", user_id=user.id, session_id=session.id,
                   factor=strategy)


def send_reverification_code(
    instance: Instance, db: DbSession, request: RequestInfo, session: Session, user: User,
) -> None:
    """Mail a code to the user's primary address, to confirm the first factor again
    without a password (a passwordless account, or one that prefers it)."""
    _not_impersonating(session)
    settings = instance.settings
    address = user.primary_address
    if address is None:
        raise ClerkError("strategy_for_user_invalid")
    instance.rate_limiter.hit("send_code", request.ip_address or "-")
    instance.rate_limiter.hit("address_sends", address)
    code = issue_code(session, key=settings.code_key, lifetime=settings.code_lifetime,
                      resend_interval=settings.code_resend_interval, now=clock.now())
    # Each code gets its own guesses (a session lives for days); the account's
    # lockout still bounds them all.
    session.code_attempts = 0
    subject, text = emails.reverification_code(code, settings.application_name,
                                                settings.code_lifetime // 60)
    mail_sent(instance, db, address, subject, text, user_id=user.id)
    db.commit()
    instance.mailer.send(address, subject, text)


def reverify_email_code(
    instance: Instance, db: DbSession, request: RequestInfo, session: Session, user: User,
    code: str,
) -> None:
    """The mailed code as the first factor, again. Guesses count per code and
    toward the lockout."""
    _not_impersonating(session)
    settings = instance.settings
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    claim_attempt(instance, db, user)
    try:
        check_code(db, session, code, key=settings.code_key,
                   max_attempts=settings.code_attempts, now=clock.now())
    except ClerkError:
        attempt_failed(instance, db, user)
        db.commit()
        raise
    release_attempt(db, user)
    session.first_factor_verified_at = clock.now()
    db.commit()
    security_event("reverification.succeeded", user_id=user.id, session_id=session.id,
                   factor="email_code")


def passkey_binding(session: Session) -> str:
    return f"reverify:{session.id}"


def reverification_passkey_options(
    instance: Instance, db: DbSession, session: Session, user: User, rp: RelyingParty,
) -> str:
    _not_impersonating(session)
    return authentication_options(instance, db, rp, binding=passkey_binding(session), user=user)


def reverify_passkey(
    instance: Instance, db: DbSession, request: RequestInfo, session: Session, user: User,
    rp: RelyingParty, credential: str,
) -> None:
    """One of the user's passkeys: both factors at once, as at sign-in."""
    _not_impersonating(session)
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    verify_passkey(instance, db, rp, binding=passkey_binding(session), credential=credential,
                   user=user)
    now = clock.now()
    session.first_factor_verified_at = now
    if has_second_factor(user):
        session.second_factor_verified_at = now
    db.commit()
    security_event("reverification.succeeded", user_id=user.id, session_id=session.id,
                   factor="passkey")
