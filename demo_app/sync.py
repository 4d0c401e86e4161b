"""The demo's users table, kept in step with the identity store.

One upsert, used by the webhook handlers (``/webhooks/clerk``) and by
``flask clerk sync``. Safe to run twice and out of order: a row remembers the
``updated_at`` of the identity it reflects, and an older event changes nothing;
a deletion leaves a tombstone, so a late ``user.updated`` cannot bring it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from flask_clerk import ClerkWebhooks

from .models import User, db

webhooks = ClerkWebhooks(url="/webhooks/clerk")


def upsert_user(data: dict[str, Any]) -> str | None:
    """Create or update the row of a Clerk User object; None when ``data`` is older
    than what the row already has. Two deliveries for a new user may race (they
    are sent side by side): the loser of the insert reads the winner's row and
    compares versions like any other update."""
    try:
        return _upsert(data)
    except IntegrityError:
        db.session.rollback()
        return _upsert(data)


def _upsert(data: dict[str, Any]) -> str | None:
    row = db.session.scalar(db.select(User).filter_by(clerk_id=data["id"]))
    outcome = "updated" if row is not None and row.deleted_at is None else "created"
    version = data.get("updated_at")
    if row is not None and row.clerk_updated_at is not None and (
            version is None or version <= row.clerk_updated_at):
        return None
    if row is None:
        row = User(clerk_id=data["id"])
        db.session.add(row)
    emails = data.get("email_addresses") or []
    primary = next((e for e in emails if e.get("id") == data.get("primary_email_address_id")),
                   emails[0] if emails else None)
    row.email = primary["email_address"] if primary else None
    row.first_name, row.last_name = data.get("first_name"), data.get("last_name")
    row.name = " ".join(n for n in (row.first_name, row.last_name) if n) or None
    row.image_url = data.get("image_url") or None
    row.clerk_updated_at = version
    row.deleted_at = None
    db.session.commit()
    return outcome


def delete_user(clerk_id: str, at_ms: int) -> None:
    """Soft-delete (a tombstone even for a user this table never saw)."""
    try:
        _delete(clerk_id, at_ms)
    except IntegrityError:
        db.session.rollback()
        _delete(clerk_id, at_ms)


def _delete(clerk_id: str, at_ms: int) -> None:
    row = db.session.scalar(db.select(User).filter_by(clerk_id=clerk_id))
    if row is None:
        row = User(clerk_id=clerk_id)
        db.session.add(row)
    if row.clerk_updated_at is None or at_ms >= row.clerk_updated_at:
        row.deleted_at = datetime.fromtimestamp(at_ms / 1000, UTC)
        row.clerk_updated_at = at_ms
    db.session.commit()


def known_ids() -> list[str]:
    return list(db.session.scalars(db.select(User.clerk_id).where(User.deleted_at.is_(None))))


webhooks.sync_users(upsert=upsert_user, delete=delete_user, known_ids=known_ids)
