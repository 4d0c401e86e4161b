"""Users and their email addresses: lookups, validation, and the profile flows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import object_session
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import ClerkError, NotFound
from ..ids import new_id
from . import clock, emails
from .audit import security_event
from .codes import check_code, issue_code
from .instance import Instance, RequestInfo
from .models import EmailAddress, User
from .passwords import check_password
from .serializers import user_json
from .sessions import end_session, revoke_user_sessions
from .store import increment
from .webhooks import deleted, emit, mail_sent

# A dot-atom local part (no quotes, commas or angle brackets that could smuggle a
# second recipient into a mail header) and a DNS domain name.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{2,63}$"
)
NAME_MAX = 100


def normalize_email(value: str | None, field: str = "email_address") -> str:
    value = (value or "").strip()
    if not value:
        raise ClerkError("form_param_missing", field=field)
    if len(value) > 320 or len(value.split("@", 1)[0]) > 64 or not _EMAIL.match(value):
        raise ClerkError("form_email_invalid", field=field)
    return value.lower()


def clean_name(value: str | None, field: str, *, required: bool) -> str | None:
    value = " ".join((value or "").split())
    if not value:
        if required:
            raise ClerkError("form_param_missing", field=field)
        return None
    if len(value) > NAME_MAX:
        raise ClerkError("form_param_too_long", field=field)
    return value


def find_user_by_email(db: DbSession, email_address: str) -> User | None:
    """The user owning a *verified* address (the only kind that identifies anyone)."""
    return db.scalars(
        select(User)
        .join(EmailAddress, EmailAddress.user_id == User.id)
        .where(
            EmailAddress.email_address == email_address,
            EmailAddress.verification_status == "verified",
        )
    ).first()


def password_context(
    instance: Instance, email_address: str | None, first_name: str | None, last_name: str | None
) -> dict[str, str | None]:
    return {
        "email address": email_address,
        "first name": first_name,
        "last name": last_name,
        "application name": instance.settings.application_name,
    }


def user_password_context(instance: Instance, user: User) -> dict[str, str | None]:
    return password_context(instance, user.primary_address, user.first_name, user.last_name)


def check_new_password(
    instance: Instance, password: str, confirm: str | None, context: dict[str, str | None],
    field: str = "password",
) -> None:
    settings = instance.settings
    check_password(
        password, min_length=settings.password_min_length,
        max_length=settings.password_max_length, context=context, field=field,
    )
    if confirm is not None and confirm != password:
        raise ClerkError("form_password_mismatch", field="confirm_password")


def claim_attempt(
    instance: Instance, db: DbSession, user: User, *, refuse_when_locked: bool = True
) -> None:
    """Count a password or code attempt on ``user`` *before* checking it.

    The increment is one atomic UPDATE, committed at once: parallel guesses each
    get their own number, and the ones past the limit are refused whatever the
    password (the password sign-in hashes meanwhile; its result then goes unused). A
    success resets the count (:func:`attempt_succeeded`); a failure that reaches
    the limit locks the account (:func:`attempt_failed`). A password reset, the
    way out of a lockout, counts its code guesses without being refused
    (``refuse_when_locked=False``); its own per-flow and per-address limits bound it.
    """
    now = clock.now()
    if user.locked_until is not None and user.locked_until <= now:
        # The lockout ran out: a fresh start.
        db.execute(update(User).where(User.id == user.id, User.locked_until <= now)
                   .values(failed_attempts=0, locked_until=None))
        db.commit()
    if not refuse_when_locked:
        increment(db, user, "failed_attempts")
        return
    raise_if_locked(user)
    if increment(db, user, "failed_attempts") > instance.settings.lockout_attempts:
        _lock(instance, db, user)
        raise_if_locked(user)


def attempt_failed(instance: Instance, db: DbSession, user: User) -> None:
    if user.failed_attempts >= instance.settings.lockout_attempts:
        _lock(instance, db, user)


def attempt_succeeded(user: User) -> None:
    user.failed_attempts = 0
    user.locked_until = None


def new_password_digest(instance: Instance, password: str, context: Any) -> str | None:
    """A new account's password, checked and hashed; None when passwords are off
    (``CLERK_SIGN_IN_STRATEGIES`` without ``password``: mailed codes and links,
    passkeys)."""
    if "password" not in instance.settings.sign_in_strategies:
        return None
    check_new_password(instance, password, None, context)
    return instance.hasher.hash(password)


def release_attempt(db: DbSession, user: User) -> None:
    """Un-count a claimed attempt that passed without ending the guessing: a right
    password before a second factor. Unlike :func:`attempt_succeeded` the earlier
    failures stay counted, so the password does not buy more second-factor guesses."""
    count = db.execute(update(User).where(User.id == user.id, User.failed_attempts > 0)
                       .values(failed_attempts=User.failed_attempts - 1)
                       .returning(User.failed_attempts)).scalar()
    db.commit()
    if count is not None:
        set_committed_value(user, "failed_attempts", count)


def _lock(instance: Instance, db: DbSession, user: User) -> None:
    now = clock.now()
    if not user.is_locked(now):
        user.locked_until = now + timedelta(seconds=instance.settings.lockout_duration)
        db.commit()
        security_event("user.locked", user_id=user.id)


def raise_if_locked(user: User) -> None:
    now = clock.now()
    if user.locked_until is not None and user.locked_until > now:
        raise ClerkError("user_locked", status=403, minutes=_minutes(user.locked_until - now))


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 59) // 60)


def create_user(
    db: DbSession, *, email_address: str, password_digest: str | None,
    first_name: str | None, last_name: str | None, email_strategy: str = "email_code",
) -> User:
    """A user with one verified, primary email address. The caller commits."""
    now = clock.now()
    user = User(
        id=new_id("user"), first_name=first_name, last_name=last_name,
        password_digest=password_digest,
        password_last_updated_at=now if password_digest else None,
        public_metadata={}, private_metadata={}, unsafe_metadata={}, banned=False,
        failed_attempts=0, created_at=now, updated_at=now,
    )
    email = EmailAddress(
        id=new_id("idn"), user_id=user.id, email_address=email_address,
        verification_status="verified", verification_strategy=email_strategy,
        code_attempts=0, created_at=now, updated_at=now,
    )
    user.primary_email_address_id = email.id
    user.email_addresses.append(email)
    db.add(user)
    return user


# --- Profile flows (the signed-in user acting on their own account) ---------------


def update_profile(
    instance: Instance, db: DbSession, user: User, *, first_name: str | None, last_name: str | None
) -> None:
    required = instance.settings.sign_up_name == "required"
    user.first_name = clean_name(first_name, "first_name", required=required)
    user.last_name = clean_name(last_name, "last_name", required=required)
    user_updated(instance, db, user)
    db.commit()


def add_email_address(
    instance: Instance, db: DbSession, request: RequestInfo, user: User, email_address: str
) -> str:
    """Add an unverified address and mail it a code; returns the new address's id."""
    instance.rate_limiter.hit("send_code", request.ip_address or "-")
    address = normalize_email(email_address)
    existing = next((e for e in user.email_addresses if e.email_address == address), None)
    if existing is not None and existing.verified:
        raise ClerkError("form_identifier_exists", field="email_address")
    email = existing or EmailAddress(id=new_id("idn"), user_id=user.id, email_address=address)
    if existing is None:
        user.email_addresses.append(email)
    _send_email_code(instance, db, user, email)
    return email.id


def resend_email_code(
    instance: Instance, db: DbSession, request: RequestInfo, user: User, email_id: str
) -> None:
    instance.rate_limiter.hit("send_code", request.ip_address or "-")
    email = _own_email(user, email_id)
    if not email.verified:
        _send_email_code(instance, db, user, email)


def _send_email_code(instance: Instance, db: DbSession, user: User, email: EmailAddress) -> None:
    """Mail a code to ``email``. An address that already belongs to someone else gets
    the same answer here, and its owner a notice instead of a code, so adding an
    address cannot be used to probe for accounts."""
    settings = instance.settings
    instance.rate_limiter.hit("address_sends", email.email_address)
    code = issue_code(email, key=settings.code_key, lifetime=settings.code_lifetime,
                      resend_interval=settings.code_resend_interval, now=clock.now())
    owner = find_user_by_email(db, email.email_address)
    if owner is not None and owner.id != user.id:
        subject, text = emails.sign_up_existing(settings.application_name, settings.sign_in_url)
    else:
        subject, text = emails.email_address_code(
            code, settings.application_name, settings.code_lifetime // 60
        )
    mail_sent(instance, db, email.email_address, subject, text,
              user_id=owner.id if owner is not None else user.id)
    db.commit()
    instance.mailer.send(email.email_address, subject, text)


def user_updated(instance: Instance, db: DbSession, user: User) -> None:
    """The ``user.updated`` event, written with the change (the caller commits)."""
    db.flush()  # updated_at and the rows as they will be
    emit(instance, db, "user.updated", user_json(user))


def notify_owner(instance: Instance, user: User, change: str, *, also: str | None = None) -> None:
    """Tell the account's primary address (and ``also``) about a sensitive change."""
    subject, text = emails.account_changed(change, instance.settings.application_name)
    addresses = sorted({a for a in (user.primary_address, also) if a})
    db = object_session(user)
    if db is not None and not inspect(user).deleted:
        for address in addresses:
            mail_sent(instance, db, address, subject, text, user_id=user.id)
        db.commit()
    for address in addresses:
        instance.mailer.send(address, subject, text)


R = TypeVar("R", bound=Any)


def own_row(db: DbSession, model: type[R], user: User, row_id: str) -> R:
    """``user``'s row of ``model`` (a passkey, an external account) by id; 404 for
    anyone else's, as for none."""
    row = db.get(model, row_id) if isinstance(row_id, str) else None
    if row is None or row.user_id != user.id:
        raise NotFound("resource_not_found")
    return row


def _own_email(user: User, email_id: str) -> EmailAddress:
    email = next((e for e in user.email_addresses if e.id == email_id), None)
    if email is None:
        raise NotFound("resource_not_found")
    return email


def verify_email_address(
    instance: Instance, db: DbSession, request: RequestInfo, user: User, email_id: str,
    code: str,
) -> None:
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    settings = instance.settings
    email = _own_email(user, email_id)
    instance.rate_limiter.hit("address_guesses", email.email_address)
    claim_attempt(instance, db, user)
    try:
        check_code(db, email, code, key=settings.code_key, max_attempts=settings.code_attempts,
                   now=clock.now())
    except ClerkError:
        attempt_failed(instance, db, user)
        raise
    attempt_succeeded(user)
    email.verification_status = "verified"
    email.verification_strategy = "email_code"
    user_updated(instance, db, user)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ClerkError("form_identifier_exists", field="email_address") from None
    notify_owner(instance, user, f"email address {email.email_address} added")


def set_primary_email(instance: Instance, db: DbSession, user: User, email_id: str) -> None:
    email = _own_email(user, email_id)
    if not email.verified:
        raise ClerkError("email_address_not_verified", field="email_address")
    previous = user.primary_email
    user.primary_email_address_id = email.id
    user_updated(instance, db, user)
    db.commit()
    if previous is not None:
        notify_owner(instance, user, f"primary email address changed to {email.email_address}",
                     also=previous.email_address)


def remove_email_address(instance: Instance, db: DbSession, user: User, email_id: str) -> None:
    email = _own_email(user, email_id)
    if email.id == user.primary_email_address_id:
        raise ClerkError("primary_email_cannot_be_removed", field="email_address")
    user.email_addresses.remove(email)
    db.delete(email)
    user_updated(instance, db, user)
    db.commit()
    notify_owner(instance, user, f"email address {email.email_address} removed")


def change_password(
    instance: Instance, db: DbSession, user: User, *, current_password: str,
    new_password: str, confirm_password: str, current_session_id: str | None,
) -> int:
    """Change the password (the current one required), or set a first one (a user
    who signed up with a provider or a code); other sessions are signed out. The
    caller has checked a recent reverification.

    Returns how many other sessions were revoked.
    """
    first = user.password_digest is None
    if not first:
        claim_attempt(instance, db, user)
        if len(current_password) > instance.settings.password_max_length or not (
            instance.hasher.verify(user.password_digest, current_password, user.password_hasher)
        ):
            attempt_failed(instance, db, user)
            raise ClerkError("form_password_incorrect", field="current_password")
        attempt_succeeded(user)
    check_new_password(instance, new_password, confirm_password,
                       user_password_context(instance, user), field="new_password")
    user.password_digest = instance.hasher.hash(new_password)
    user.password_hasher = None
    user.password_last_updated_at = clock.now()
    revoked = revoke_user_sessions(instance, db, user.id, keep_session_id=current_session_id)
    user_updated(instance, db, user)
    db.commit()
    security_event("password.set" if first else "password.changed", user_id=user.id,
                   sessions_revoked=str(revoked))
    notify_owner(instance, user, "password set" if first else "password changed")
    return revoked


DELETE_CONFIRMATION = "Delete account"


def delete_user(instance: Instance, db: DbSession, user: User, *, confirmation: str) -> None:
    """The user deletes their own account, typing the confirmation."""
    if confirmation.strip() != DELETE_CONFIRMATION:
        raise ClerkError("form_confirmation_mismatch", field="confirmation",
                         expected=DELETE_CONFIRMATION)
    remove_user(instance, db, user)


def remove_user(instance: Instance, db: DbSession, user: User) -> None:
    """Delete the user, their sessions, and the organizations they are alone in;
    refused while they are the last admin of an organization with other members."""
    from .organizations import release_organizations  # organizations imports this module

    release_organizations(db, user)
    for session in user.sessions:
        end_session(instance, session, "removed")
    emit(instance, db, "user.deleted", deleted("user", user.id))
    db.delete(user)
    db.commit()
    security_event("user.deleted", user_id=user.id)
