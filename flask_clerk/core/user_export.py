"""Every user, in the columns of Clerk's export CSV, streamed (``flask clerk export``).

Pages of ``batch_size`` users by keyset (``WHERE id > last ORDER BY id``), each
with one query per related table, as plain rows: memory holds one page whatever the
number of users, and the ORM's identity map stays empty. The whole export runs in
the caller's transaction, so it is one consistent snapshot.

Rows carry Clerk's 13 columns (:data:`~.user_import.CLERK_COLUMNS`), then
``external_id, created_at, banned``, the three metadata objects and the unused
``backup_codes`` digests (:data:`~.user_import.EXTRA_COLUMNS`): the importer here
reads them all, and Clerk's migration tool maps the metadata and backup codes.
Values are Python values (lists, dicts, None); :func:`csv_cell` writes one as CSV
text. Our own argon2id digests go out with ``password_hasher`` "argon2id"; TOTP
secrets in the clear (base32), so the file must be kept like the database itself.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session as DbSession

from . import clock
from .instance import Instance
from .models import BackupCode, EmailAddress, Session, TotpSecret, User
from .secret_box import open_sealed
from .serializers import session_json
from .user_import import CELL_SEPARATOR, CLERK_COLUMNS, EXTRA_COLUMNS

COLUMNS = CLERK_COLUMNS + EXTRA_COLUMNS

METADATA = ("public_metadata", "private_metadata", "unsafe_metadata")

_users = User.__table__
_emails = EmailAddress.__table__
_totp = TotpSecret.__table__
_codes = BackupCode.__table__


def export_rows(instance: Instance, db: DbSession, *, batch_size: int = 1000
                ) -> Iterator[dict[str, Any]]:
    """Every user as a dict of :data:`COLUMNS`, in id order.

    Users come in keyset pages. Their email addresses come from one query for the
    whole export, ordered by ``user_id`` like the users, and are merged page by page:
    per-page ``user_id IN (...)`` would scan the whole table for every page, as
    ``clerk_email_addresses.user_id`` has no index of its own.
    """
    if not db.in_transaction() and db.get_bind().dialect.name == "postgresql":
        # One snapshot for every statement of the export, not one per statement.
        db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    addresses = iter(db.execute(
        select(_emails.c.user_id, _emails.c.id, _emails.c.email_address,
               _emails.c.verification_status)
        .order_by(_emails.c.user_id, _emails.c.created_at, _emails.c.id),
        execution_options={"yield_per": batch_size}))
    address = next(addresses, None)
    last = ""
    while True:
        page = db.execute(
            select(_users.c.id, _users.c.first_name, _users.c.last_name, _users.c.username,
                   _users.c.external_id, _users.c.created_at, _users.c.banned,
                   _users.c.password_digest, _users.c.password_hasher,
                   _users.c.primary_email_address_id,
                   # As their JSON text: most are "{}", which need no parsing.
                   *(cast(_users.c[name], Text).label(name) for name in METADATA))
            .where(_users.c.id > last).order_by(_users.c.id).limit(batch_size)).all()
        if not page:
            return
        ids = [row.id for row in page]
        verified: dict[str, list[str]] = defaultdict(list)
        unverified: dict[str, list[str]] = defaultdict(list)
        primary: dict[str, str] = {}
        # Both in the database's order of user ids: this page's addresses are next.
        for user_id in ids:
            while address is not None and address.user_id == user_id:
                if address.verification_status == "verified":
                    verified[user_id].append(address.email_address)
                else:
                    unverified[user_id].append(address.email_address)
                primary[address.id] = address.email_address
                address = next(addresses, None)
        # The page's range of ids (both columns are indexed): no list of 1,000 ids to send.
        in_page = (last, ids[-1])
        secrets: dict[str, str] = {
            row.user_id: row.secret_encrypted for row in db.execute(
                select(_totp.c.user_id, _totp.c.secret_encrypted).where(
                    _totp.c.user_id > in_page[0], _totp.c.user_id <= in_page[1],
                    _totp.c.verified.is_(True)))}
        codes: dict[str, list[str]] = defaultdict(list)
        for code in db.execute(select(_codes.c.user_id, _codes.c.code_digest).where(
                _codes.c.user_id > in_page[0], _codes.c.user_id <= in_page[1],
                _codes.c.used_at.is_(None)).order_by(_codes.c.user_id, _codes.c.id)):
            codes[code.user_id].append(code.code_digest)
        for row in page:
            primary_email = primary.get(row.primary_email_address_id or "")
            emails = verified.get(row.id, [])
            if primary_email in emails:  # the primary first, as Clerk lists them
                emails = [primary_email, *(e for e in emails if e != primary_email)]
            sealed = secrets.get(row.id)
            yield {
                "id": row.id,
                "first_name": row.first_name,
                "last_name": row.last_name,
                "username": row.username,
                "primary_email_address": primary_email,
                "primary_phone_number": None,
                "verified_email_addresses": emails,
                "unverified_email_addresses": unverified.get(row.id, []),
                "verified_phone_numbers": [],
                "unverified_phone_numbers": [],
                "totp_secret": open_sealed(instance.settings, sealed) if sealed else None,
                "password_digest": row.password_digest,
                "password_hasher": (row.password_hasher or "argon2id")
                if row.password_digest else None,
                "external_id": row.external_id,
                "created_at": rfc3339(row.created_at),
                "banned": bool(row.banned),
                "public_metadata": _metadata(row.public_metadata),
                "private_metadata": _metadata(row.private_metadata),
                "unsafe_metadata": _metadata(row.unsafe_metadata),
                "backup_codes": codes.get(row.id, []),
            }
        last = ids[-1]


def session_rows(db: DbSession, *, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """The active sessions (not ended, expired or abandoned), as Clerk's Session
    objects, in id order."""
    active = _active_sessions()
    last = ""
    while True:
        page = db.scalars(select(Session).where(Session.id > last, *active)
                          .order_by(Session.id).limit(batch_size)).all()
        if not page:
            return
        for session in page:
            yield session_json(session)
            db.expunge(session)  # the identity map holds one page at most
        last = page[-1].id


def _metadata(stored: str | None) -> dict[str, Any]:
    if not stored or stored == "{}":
        return {}
    value = json.loads(stored)
    return value if isinstance(value, dict) else {}


def _active_sessions() -> tuple[Any, ...]:
    now = clock.now()
    return (Session.status == "active", Session.expire_at > now,
            or_(Session.abandon_at.is_(None), Session.abandon_at > now))


def count_users(db: DbSession) -> int:
    return int(db.scalar(select(func.count()).select_from(_users)) or 0)


def count_active_sessions(db: DbSession) -> int:
    return int(db.scalar(select(func.count()).select_from(Session)
                         .where(*_active_sessions())) or 0)


def rfc3339(moment: datetime | None) -> str | None:
    """``2026-01-02T03:04:05.678Z``, what ``created_at`` takes back."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def csv_cell(value: Any) -> str:
    """A value as CSV text: lists joined with ``|`` (Clerk's separator), objects as
    JSON, booleans as true/false, None as an empty cell."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is list:
        return CELL_SEPARATOR.join(map(str, value))
    if kind is dict:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else "{}"
    return str(value)
