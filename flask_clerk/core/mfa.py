"""Second factors: an authenticator app (TOTP) and backup codes.

TOTP follows RFC 6238 as authenticator apps do: SHA-1, 6 digits, a 30 s step,
with one step of drift either way (SECURITY.md 12). A code is accepted once: the
step it matched is stored, and a code of that step or an earlier one is refused,
with one atomic UPDATE so that two requests racing with the same code cannot both
pass. The secret is sealed at rest (:mod:`.secret_box`) and shown only at enrolment.

Backup codes: ten per set, 64 random bits each (SECURITY.md 13), shown once,
stored as a keyed hash (HMAC-SHA256 under the instance's key, :mod:`.secret_box`:
with 64 bits of entropy a slow hash adds nothing), single use (an atomic UPDATE), and
regenerating a set revokes the old one. Imported codes keep the digest they came
with (bcrypt or argon2id) and are checked against it.

These are the flows; sign-in's ``needs_second_factor`` step, reverification and
the profile's pages call them. ``User.mfa_enabled_at`` is set while the user has a
second factor: token minting reads it without a query.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..ids import new_id
from . import clock
from .audit import security_event
from .instance import Instance
from .models import BackupCode, Session, TotpSecret, User
from .password_digests import verify_digest
from .secret_box import keyed_digests, open_sealed, reseal, seal
from .users import attempt_failed, claim_attempt, user_updated

STEP = 30
DRIFT = 1  # steps accepted either side of now
BACKUP_CODES = 10
ENROLMENT_LIFETIME = 600  # s: scan the code and confirm it within 10 minutes


@dataclass(frozen=True)
class Enrolment:
    """What the user sees once: the secret, its ``otpauth://`` URI and a QR code."""

    secret: str
    uri: str
    qr_svg: str


def start_totp(instance: Instance, db: DbSession, user: User, *,
               session: Session | None = None) -> Enrolment:
    """A new secret for ``user``, not active until :func:`confirm_totp` sees a code
    from it. An unconfirmed earlier one is replaced; an active one must be removed
    first.

    The enrolment belongs to the ``session`` that started it (after a recent
    verification) for :data:`ENROLMENT_LIFETIME`: no other session sees its secret
    or may confirm it, so an abandoned one cannot be finished by whoever holds a
    stale session later, to pass for a fresh second factor."""
    current = db.get(TotpSecret, user.id)
    if current is not None and current.verified:
        raise ClerkError("totp_already_enabled")
    secret = pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends
    sealed = seal(instance.settings, secret)
    if current is None:
        current = TotpSecret(user_id=user.id, verified=False)
        db.add(current)
    current.secret_encrypted, current.last_used_step = sealed, None
    current.enrolling_session_id = session.id if session is not None else None
    current.created_at = clock.now()
    db.commit()
    return _enrolment(instance, user, secret)


def pending_enrolment(instance: Instance, db: DbSession, user: User, *,
                      session: Session | None = None) -> Enrolment | None:
    """``session``'s enrolment, started and not yet confirmed, to show again."""
    totp = _enrolling(db, user, session)
    if totp is None:
        return None
    return _enrolment(instance, user, open_sealed(instance.settings, totp.secret_encrypted))


def _enrolling(db: DbSession, user: User, session: Session | None) -> TotpSecret | None:
    totp = db.get(TotpSecret, user.id)
    if (totp is None or totp.verified
            or totp.enrolling_session_id != (session.id if session is not None else None)
            or clock.now() - totp.created_at > timedelta(seconds=ENROLMENT_LIFETIME)):
        return None
    return totp


def _enrolment(instance: Instance, user: User, secret: str) -> Enrolment:
    account = user.primary_address or user.username or user.id
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=account, issuer_name=instance.settings.application_name or "flask_clerk")
    qr = segno.make(uri, error="m")
    return Enrolment(secret=secret, uri=uri, qr_svg=qr.svg_inline(scale=4, border=2))


def confirm_totp(
    instance: Instance, db: DbSession, user: User, code: str, *, session: Session | None = None
) -> list[str]:
    """Activate the enrolled secret with a code from it; returns a fresh set of
    backup codes (to show once). The code is a second factor just verified: the
    ``session`` it was typed in counts it (the token's ``fva``)."""
    totp = _enrolling(db, user, session)
    if totp is None:
        raise ClerkError("totp_not_enrolling")
    if not _accept(instance, db, totp, code):
        raise ClerkError("form_code_incorrect", field="code")
    totp.verified, totp.enrolling_session_id = True, None
    now = clock.now()
    user.mfa_enabled_at, user.mfa_disabled_at = now, None
    if session is not None:
        session.second_factor_verified_at = now
    codes = _replace_backup_codes(instance, db, user)
    user_updated(instance, db, user)
    db.commit()
    security_event("mfa.enabled", user_id=user.id)
    return codes


def verify_totp(instance: Instance, db: DbSession, user: User, code: str) -> bool:
    """Whether ``code`` is a fresh code of the user's active secret (then used up)."""
    totp = db.get(TotpSecret, user.id)
    if totp is None or not totp.verified:
        return False
    return _accept(instance, db, totp, code)


def _accept(instance: Instance, db: DbSession, totp: TotpSecret, code: str) -> bool:
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return False
    generator = pyotp.TOTP(open_sealed(instance.settings, totp.secret_encrypted))
    now_step = int(clock.now().timestamp()) // STEP
    for step in range(now_step - DRIFT, now_step + DRIFT + 1):
        if hmac.compare_digest(generator.generate_otp(step), code):
            # Used once: only if no code of this step or a later one was used before.
            used = db.execute(
                update(TotpSecret)
                .where(TotpSecret.user_id == totp.user_id,
                       (TotpSecret.last_used_step.is_(None))
                       | (TotpSecret.last_used_step < step))
                .values(last_used_step=step)
                .returning(TotpSecret.user_id)
            ).first()
            db.commit()
            db.refresh(totp)
            return used is not None
    return False


def reseal_totp_secrets(instance: Instance, db: DbSession, *, batch: int = 500) -> int:
    """Re-encrypt every TOTP secret under the first encryption key (key rotation,
    :mod:`.secret_box`); how many there are."""
    count, after = 0, ""
    while rows := db.scalars(select(TotpSecret).where(TotpSecret.user_id > after)
                             .order_by(TotpSecret.user_id).limit(batch)).all():
        for row in rows:
            row.secret_encrypted = reseal(instance.settings, row.secret_encrypted)
        db.commit()
        count, after = count + len(rows), rows[-1].user_id
    return count


def cancel_enrolment(db: DbSession, user: User) -> None:
    """Forget an enrolment that was started and not confirmed."""
    db.execute(delete(TotpSecret).where(TotpSecret.user_id == user.id,
                                        TotpSecret.verified.is_(False)))
    db.commit()


def remove_totp(instance: Instance, db: DbSession, user: User) -> None:
    """Turn the authenticator app off; the backup codes go with it (they back it up).
    The caller has checked a recent reverification."""
    db.execute(delete(TotpSecret).where(TotpSecret.user_id == user.id))
    db.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    # A second factor verified before belonged to that app: a new one starts afresh.
    db.execute(update(Session).where(Session.user_id == user.id)
               .values(second_factor_verified_at=None))
    if user.mfa_enabled_at is not None:
        user.mfa_enabled_at, user.mfa_disabled_at = None, clock.now()
        user_updated(instance, db, user)
        security_event("mfa.disabled", user_id=user.id)
    db.commit()


def remove_backup_codes(instance: Instance, db: DbSession, user: User) -> None:
    """Delete the backup codes (the authenticator app stays)."""
    db.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    user_updated(instance, db, user)
    db.commit()


def regenerate_backup_codes(instance: Instance, db: DbSession, user: User) -> list[str]:
    """A new set of codes (shown once); the old set stops working."""
    codes = _replace_backup_codes(instance, db, user)
    db.commit()
    return codes


def _replace_backup_codes(instance: Instance, db: DbSession, user: User) -> list[str]:
    db.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    codes = [_new_backup_code() for _ in range(BACKUP_CODES)]
    db.add_all(BackupCode(id=new_id("bkc"), user_id=user.id,
                          code_digest="hmac$" + keyed_digests(instance.settings,
                                                              _normal(code))[0])
               for code in codes)
    return codes


def _new_backup_code() -> str:
    raw = secrets.token_hex(8)  # 64 bits
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _normal(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def use_backup_code(instance: Instance, db: DbSession, user: User, code: str) -> bool:
    """Whether ``code`` is one of the user's unused backup codes (then used up)."""
    typed = _normal(code)
    if not typed or len(typed) > 64:
        return False
    mine = keyed_digests(instance.settings, typed)  # under every key (rotation)
    for row in db.scalars(select(BackupCode).where(BackupCode.user_id == user.id,
                                                   BackupCode.used_at.is_(None))):
        if row.code_digest.startswith("hmac$"):
            matches = any([hmac.compare_digest(row.code_digest[5:], d) for d in mine])
        else:  # imported as it was: bcrypt or argon2id of the code as shown
            matches = verify_digest("bcrypt" if row.code_digest.startswith("$2")
                                    else "argon2id", row.code_digest, code.strip())
        if matches:
            used = db.execute(update(BackupCode).where(
                BackupCode.id == row.id, BackupCode.used_at.is_(None)
            ).values(used_at=clock.now()).returning(BackupCode.id)).first()
            db.commit()
            return used is not None
    return False


SECOND_FACTORS = ("totp", "backup_code")


def verify_second_factor(
    instance: Instance, db: DbSession, user: User, strategy: str, code: str
) -> bool:
    """Whether ``code`` passes as the user's second factor (then used up)."""
    if strategy == "totp":
        return verify_totp(instance, db, user, code)
    if strategy == "backup_code":
        return use_backup_code(instance, db, user, code)
    raise ClerkError("strategy_for_user_invalid")


def check_second_factor(instance: Instance, db: DbSession, user: User, strategy: str,
                        code: str, *, failed_event: str, ip: str | None) -> None:
    """Accept ``code`` as the user's second factor (then used up), or raise. The
    attempt counts toward the lockout before it is checked, so a locked account is
    refused whatever the code; the caller un-counts or clears it on success."""
    if strategy not in SECOND_FACTORS or not has_second_factor(user):
        raise ClerkError("strategy_for_user_invalid")
    if not code.strip():
        raise ClerkError("form_param_missing", field="code")
    claim_attempt(instance, db, user)
    if not verify_second_factor(instance, db, user, strategy, code):
        attempt_failed(instance, db, user)
        security_event(failed_event, user_id=user.id, reason=strategy, ip=ip)
        raise ClerkError("form_code_incorrect", field="code")


def unused_backup_codes(db: DbSession, user: User) -> int:
    return db.scalar(select(func.count()).select_from(BackupCode).where(
        BackupCode.user_id == user.id, BackupCode.used_at.is_(None))) or 0


def has_second_factor(user: User) -> bool:
    return user.mfa_enabled_at is not None

