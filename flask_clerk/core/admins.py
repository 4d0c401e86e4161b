"""Instance administrators (who may use the dashboard) and the audit log of what
they did there.

An administrator is a user named in ``CLERK_DASHBOARD_ADMINS`` (by user id, or by
one of their *verified* email addresses) or promoted with ``flask clerk admins
add``. Every dashboard action is written to the audit log in the same transaction
as the change it records: who, what, on what, when and from where.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from ..errors import NotFound
from ..settings import Settings
from . import clock
from .instance import RequestInfo
from .models import AuditEntry, InstanceAdmin, User
from .users import find_user_by_email, normalize_email


def dashboard_issuer(settings: Settings) -> str:
    """The dashboard's URL, the ``iss`` of its impersonations' ``act`` claim (from
    the frontend API's origin, never a request's Host)."""
    parts = urlsplit(settings.issuer)
    return f"{parts.scheme}://{parts.netloc}{settings.dashboard_url}"


def is_admin(db: DbSession, settings: Settings, user: User) -> bool:
    named = set(settings.dashboard_admins)
    if user.id in named or any(e.verified and e.email_address in named
                               for e in user.email_addresses):
        return True
    return db.get(InstanceAdmin, user.id) is not None


def add_admin(db: DbSession, email: str) -> User:
    """Promote the user with this verified address (``flask clerk admins add``)."""
    user = find_user_by_email(db, normalize_email(email))
    if user is None:
        raise NotFound("resource_not_found")
    if db.get(InstanceAdmin, user.id) is None:
        db.add(InstanceAdmin(user_id=user.id, created_at=clock.now()))
        db.commit()
    return user


def remove_admin(db: DbSession, email: str) -> bool:
    user = find_user_by_email(db, normalize_email(email))
    if user is None:
        return False
    removed = db.execute(delete(InstanceAdmin).where(InstanceAdmin.user_id == user.id))
    db.commit()
    return bool(removed.rowcount)  # type: ignore[attr-defined]


def promoted_admins(db: DbSession) -> list[User]:
    return list(db.scalars(select(User).join(InstanceAdmin, InstanceAdmin.user_id == User.id)
                           .order_by(InstanceAdmin.created_at)))


# -- The audit log --------------------------------------------------------------------


def record(db: DbSession, actor: User, action: str, request: RequestInfo | None, *,
           target_type: str | None = None, target_id: str | None = None,
           **details: Any) -> AuditEntry:
    """Write one entry (the caller commits, with the change it records)."""
    user_agent = (request.user_agent or "")[:500] if request else ""
    entry = AuditEntry(
        actor_id=actor.id, actor_email=actor.primary_address, action=action,
        target_type=target_type, target_id=target_id[:64] if target_id else None,
        details=details,
        ip_address=request.ip_address if request else None,
        user_agent=user_agent or None,
        created_at=clock.now(),
    )
    db.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None  # an administrator's id or email
    action: str | None = None  # exact, or a prefix ending with "." ("user.")
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def statement(self) -> Any:
        query = select(AuditEntry)
        if self.actor:
            query = query.where((AuditEntry.actor_id == self.actor)
                                | (AuditEntry.actor_email == self.actor.lower()))
        if self.action:
            query = query.where(AuditEntry.action.startswith(self.action)
                                if self.action.endswith(".")
                                else AuditEntry.action == self.action)
        if self.target_id:
            query = query.where(AuditEntry.target_id == self.target_id)
        if self.since:
            query = query.where(AuditEntry.created_at >= self.since)
        if self.until:
            query = query.where(AuditEntry.created_at < self.until)
        return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())


def audit_entries(db: DbSession, filters: AuditFilters, *, limit: int,
                  offset: int = 0) -> list[AuditEntry]:
    return list(db.scalars(filters.statement().limit(limit).offset(offset)))


def audit_entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "object": "audit_log_entry", "id": entry.id, "action": entry.action,
        "actor": {"user_id": entry.actor_id, "email_address": entry.actor_email},
        "target": {"type": entry.target_type, "id": entry.target_id},
        "details": dict(entry.details or {}), "ip_address": entry.ip_address,
        "user_agent": entry.user_agent, "created_at": clock.unix_ms(entry.created_at),
    }


def audit_jsonl(db: DbSession, filters: AuditFilters, batch: int = 500) -> Iterator[str]:
    """Every matching entry, newest first, one JSON object per line: one query read
    in batches (entries written meanwhile neither repeat nor shift the rest)."""
    rows = db.scalars(filters.statement().execution_options(yield_per=batch))
    for entry in rows:
        yield json.dumps(audit_entry_json(entry), sort_keys=True) + "\n"

