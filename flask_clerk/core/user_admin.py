"""Users as an administrator sees them: search, update, ban, lock, metadata, delete.

The Backend API (and the dashboard, later) call these; the signed-in user's own
profile flows are in :mod:`.users`. Every change writes its ``user.*`` event in
the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from ..errors import ClerkError, NotFound
from . import clock, user_search
from .audit import security_event
from .instance import Instance
from .metadata import merge_into
from .mfa import SECOND_FACTORS, has_second_factor, verify_second_factor
from .models import EmailAddress, OrganizationMembership, User
from .sessions import revoke_user_sessions
from .users import (
    attempt_failed,
    attempt_succeeded,
    check_new_password,
    claim_attempt,
    release_attempt,
    user_password_context,
    user_updated,
)

# ``order_by`` values (with an optional + or - in front) and their columns.
ORDERS = {
    "created_at": User.created_at, "updated_at": User.updated_at,
    "first_name": User.first_name, "last_name": User.last_name, "username": User.username,
    "last_active_at": User.last_active_at, "last_sign_in_at": User.last_sign_in_at,
}


@dataclass
class UserFilters:
    """``GET /users`` filters: each list matches any of its values; all must hold."""

    user_id: list[str] = field(default_factory=list)
    email_address: list[str] = field(default_factory=list)
    external_id: list[str] = field(default_factory=list)
    username: list[str] = field(default_factory=list)
    organization_id: list[str] = field(default_factory=list)
    query: str | None = None
    banned: bool | None = None
    conditions: list[Any] = field(default_factory=list)  # e.g. User.created_at < a time

    def apply(self, db: DbSession, statement: Select[Any]) -> Select[Any]:
        statement = statement.where(*self.conditions)
        if self.user_id:
            statement = statement.where(User.id.in_(self.user_id))
        if self.external_id:
            statement = statement.where(User.external_id.in_(self.external_id))
        if self.username:
            statement = statement.where(User.username.in_([u.lower() for u in self.username]))
        if self.email_address:
            statement = statement.where(User.id.in_(
                select(EmailAddress.user_id).where(
                    EmailAddress.email_address.in_([e.lower() for e in self.email_address]))))
        if self.organization_id:
            statement = statement.where(User.id.in_(
                select(OrganizationMembership.user_id).where(
                    OrganizationMembership.organization_id.in_(self.organization_id))))
        if self.banned is not None:
            statement = statement.where(User.banned == self.banned)
        if self.query:
            statement = statement.where(user_search.matches(db, self.query))
        return statement


def list_users(db: DbSession, filters: UserFilters, *, limit: int, offset: int,
               order_by: str = "-created_at") -> list[User]:
    name = order_by.lstrip("+-")
    column = ORDERS.get(name)
    if column is None:
        raise ClerkError("form_param_format_invalid", field="order_by")
    descending = order_by.startswith("-")
    statement = filters.apply(db, select(User)).options(selectinload(User.email_addresses),
                                                        selectinload(User.passkeys),
                                                        selectinload(User.external_accounts))
    statement = statement.order_by(column.desc() if descending else column.asc(),
                                   User.id.desc() if descending else User.id.asc())
    return list(db.scalars(statement.limit(limit).offset(offset)))


def count_users(db: DbSession, filters: UserFilters) -> int:
    return db.scalar(filters.apply(db, select(func.count()).select_from(User))) or 0


def get_user(db: DbSession, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("resource_not_found")
    return user


# --- Changes ------------------------------------------------------------------------


def set_banned(instance: Instance, db: DbSession, user: User, banned: bool) -> User:
    """Ban (every session revoked; sign-in refused) or lift the ban."""
    user.banned = banned
    if banned:
        revoke_user_sessions(instance, db, user.id)
    user_updated(instance, db, user)
    db.commit()
    security_event("user.banned" if banned else "user.unbanned", user_id=user.id)
    return user


def set_locked(instance: Instance, db: DbSession, user: User, locked: bool) -> User:
    """Lock for the instance's lockout duration, as too many failed attempts do, and
    revoke the sessions (SECURITY.md 20); or unlock."""
    user.failed_attempts = 0
    user.locked_until = (clock.now() + timedelta(seconds=instance.settings.lockout_duration)
                         if locked else None)
    if locked:
        revoke_user_sessions(instance, db, user.id)
    user_updated(instance, db, user)
    db.commit()
    security_event("user.locked" if locked else "user.unlocked", user_id=user.id)
    return user


METADATA_KINDS = ("public_metadata", "private_metadata", "unsafe_metadata")


def update_metadata(instance: Instance, db: DbSession, user: User,
                    patches: Mapping[str, Mapping[str, Any]]) -> User:
    """Merge each given kind of metadata (``public_metadata``…) into the user's."""
    merge_into(user, patches)
    user_updated(instance, db, user)
    db.commit()
    return user


@dataclass
class UserChanges:
    """The fields of ``PATCH /users/{id}`` that were given (validated already)."""

    values: dict[str, Any] = field(default_factory=dict)  # column -> new value
    password: str | None = None
    skip_password_checks: bool = False
    password_digest: tuple[str, str] | None = None  # (digest, hasher)
    primary_email_address_id: str | None = None
    sign_out_of_other_sessions: bool = False


def update_user(instance: Instance, db: DbSession, user: User, changes: UserChanges) -> User:
    # No flush before the commit below: a taken username or external_id then fails there
    # (a 422), not in the middle of a lazy load (a 500).
    with db.no_autoflush:
        for name, value in changes.values.items():
            setattr(user, name, value)
        if changes.primary_email_address_id is not None:
            email = next((e for e in user.email_addresses
                          if e.id == changes.primary_email_address_id), None)
            if email is None:
                raise ClerkError("form_param_format_invalid", field="primary_email_address_id")
            if not email.verified:
                raise ClerkError("email_address_not_verified", field="primary_email_address_id")
            user.primary_email_address_id = email.id
        password_changed = False
        if changes.password is not None:
            if not changes.password:
                raise ClerkError("form_param_missing", field="password")
            if len(changes.password) > instance.settings.password_max_length:
                # Even unchecked: a sign-in refuses longer ones, so it could never be used.
                raise ClerkError("form_password_length_too_long", field="password",
                                 max=instance.settings.password_max_length)
            if not changes.skip_password_checks:
                check_new_password(instance, changes.password, None,
                                   user_password_context(instance, user))
            user.password_digest = instance.hasher.hash(changes.password)
            user.password_hasher = None
            password_changed = True
        elif changes.password_digest is not None:
            user.password_digest, user.password_hasher = changes.password_digest
            password_changed = True
        if password_changed:
            user.password_last_updated_at = clock.now()
            if changes.sign_out_of_other_sessions:
                revoke_user_sessions(instance, db, user.id)
    try:
        user_updated(instance, db, user)
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ClerkError("form_identifier_exists", field=_taken_field(changes)) from None
    if password_changed:
        if changes.password_digest is not None:
            instance.failure_floor.invalidate()  # a new imported digest to measure
        security_event("password.changed", user_id=user.id, by="backend_api")
    return user


def _taken_field(changes: UserChanges) -> str:
    return "username" if "username" in changes.values else "external_id"


def verify_password(instance: Instance, db: DbSession, user: User, password: str) -> bool:
    """Whether ``password`` is the user's (an imported digest is upgraded on a match).

    Failures count towards the lockout, as a sign-in's do: a server asking on a
    user's behalf must not become a way around it."""
    if len(password) > instance.settings.password_max_length or not user.password_digest:
        return False
    claim_attempt(instance, db, user)
    if not instance.hasher.verify(user.password_digest, password, user.password_hasher):
        attempt_failed(instance, db, user)
        return False
    attempt_succeeded(user)
    if instance.hasher.needs_rehash(user.password_digest, user.password_hasher):
        user.password_digest = instance.hasher.hash(password)
        user.password_hasher = None
    db.commit()
    return True


def verify_second_factor_code(instance: Instance, db: DbSession, user: User,
                              code: str) -> str | None:
    """Which of the user's second factors ``code`` is, ``"totp"`` or ``"backup_code"``
    (then used up), or None. Counted toward the lockout as a sign-in's are."""
    if not has_second_factor(user) or not code.strip() or len(code) > 64:
        return None
    claim_attempt(instance, db, user)
    for strategy in SECOND_FACTORS:
        if verify_second_factor(instance, db, user, strategy, code):
            release_attempt(db, user)
            return strategy
    attempt_failed(instance, db, user)
    return None
