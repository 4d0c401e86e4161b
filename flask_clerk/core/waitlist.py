"""The waitlist (Clerk's ``waitlist`` sign-up mode): people leave their address, an
administrator invites them (an ordinary invitation, :mod:`.invitations`), and their
sign-up completes the entry. The page, the dashboard and the Backend API all come
here.

Joining answers the same whatever the address's state (new, already waiting,
invited, rejected, or with an account), and never makes a second entry: the page
tells no one who is there; only a mail to the address says what happened.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from ..errors import ClerkError, NotFound
from ..ids import new_id
from ..settings import identifier_allowed
from . import emails
from .instance import Instance, RequestInfo
from .invitations import create_invitation, is_pending, revoke
from .models import Invitation, WaitlistEntry
from .serializers import waitlist_entry_json
from .store import fetch_page
from .user_search import contains_pattern
from .users import find_user_by_email, normalize_email
from .webhooks import emit, mail_sent

STATUSES = ("pending", "invited", "completed", "rejected")
# ``order_by`` values (with an optional + or - in front) and their columns.
ORDERS: dict[str, Any] = {"created_at": WaitlistEntry.created_at,
                          "email_address": WaitlistEntry.email_address,
                          "invited_at": Invitation.created_at}


def join_waitlist(instance: Instance, db: DbSession, request: RequestInfo, *,
                  email_address: str) -> None:
    """Someone asks for a spot (the waitlist page). Their entry is made once and
    confirmed by mail; an address with an account gets a sign-in notice instead."""
    settings = instance.settings
    instance.rate_limiter.hit("sign_up", request.ip_address or "-")
    if settings.sign_up_mode != "waitlist":
        raise ClerkError("waitlist_closed", status=403)
    address = normalize_email(email_address)
    if not identifier_allowed(settings, address, signing_up=True):
        raise ClerkError("identifier_not_allowed", status=403, field="email_address")
    instance.rate_limiter.hit("address_sends", address)
    if find_user_by_email(db, address) is not None:
        subject, text = emails.sign_up_existing(settings.application_name, settings.sign_in_url)
        mail_sent(instance, db, address, subject, text)
        db.commit()
        instance.mailer.send(address, subject, text)
        return
    add_entry(instance, db, email_address=address, request=request)


def add_entry(instance: Instance, db: DbSession, *, email_address: str, notify: bool = True,
              request: RequestInfo | None = None) -> WaitlistEntry:
    """The address's entry, made (and confirmed by mail when ``notify``) if it has
    none yet; an existing one is returned as it is."""
    address = normalize_email(email_address)
    existing = _entry_for(db, address)
    if existing is not None:
        return existing
    entry = WaitlistEntry(id=new_id("wle"), email_address=address, status="pending")
    db.add(entry)
    try:
        db.flush()
    except IntegrityError:
        # The same address joined at the same moment, and the other one won.
        db.rollback()
        raced = _entry_for(db, address)
        if raced is None:
            raise
        return raced
    emit(instance, db, "waitlistEntry.created", partial(waitlist_entry_json, entry), request)
    subject = text = ""
    if notify:
        subject, text = emails.waitlist_joined(instance.settings.application_name)
        mail_sent(instance, db, address, subject, text)
    db.commit()
    if notify:
        instance.mailer.send(address, subject, text)
    return entry


def invite_entry(instance: Instance, db: DbSession, entry: WaitlistEntry, *,
                 ignore_existing: bool = False) -> WaitlistEntry:
    """Invite the entry's address to sign up (the invitation mails the link)."""
    db.refresh(entry, with_for_update=True)  # an Invite and a Reject at once: one after the other
    if entry.status == "completed":
        raise ClerkError("waitlist_entry_completed", status=400)

    def invited(invitation: Invitation) -> None:
        entry.invitation, entry.status = invitation, "invited"
        _updated(instance, db, entry)

    create_invitation(instance, db, email_address=entry.email_address,
                      ignore_existing=ignore_existing, before_commit=invited)
    return entry


def reject_entry(instance: Instance, db: DbSession, entry: WaitlistEntry) -> WaitlistEntry:
    """Turn the entry down; the address's invitations nobody used yet are revoked
    (an entry invited again has had more than one)."""
    db.refresh(entry, with_for_update=True)
    if entry.status == "completed":
        raise ClerkError("waitlist_entry_completed", status=400)
    if entry.status != "rejected":
        _revoke_invitations(instance, db, entry.email_address)
        entry.status = "rejected"
        _updated(instance, db, entry)
        db.commit()
    return entry


def delete_entry(instance: Instance, db: DbSession, entry: WaitlistEntry) -> None:
    """Forget the entry, and the invitations it led to that nobody used yet (a
    mailed link would let the address in all the same)."""
    if entry.status != "completed":
        _revoke_invitations(instance, db, entry.email_address)
    db.delete(entry)
    db.commit()


def is_rejected(db: DbSession, email_address: str) -> bool:
    """Whether the address was turned down: it cannot sign up, whoever invites it."""
    entry = _entry_for(db, email_address)
    return entry is not None and entry.status == "rejected"


def _revoke_invitations(instance: Instance, db: DbSession, address: str) -> None:
    """The address's instance invitations nobody used yet (an entry invited again
    has had more than one)."""
    for invitation in db.scalars(select(Invitation).where(
            Invitation.email_address == address, Invitation.status == "pending")):
        if is_pending(invitation):
            revoke(instance, db, invitation)


def complete_entry(instance: Instance, db: DbSession, email_address: str) -> None:
    """The address signed up: its entry, if waiting, is completed (the caller commits)."""
    entry = _entry_for(db, email_address)
    if entry is not None and entry.status in {"pending", "invited"}:
        entry.status = "completed"
        _updated(instance, db, entry)


def get_entry(db: DbSession, entry_id: str) -> WaitlistEntry:
    entry = db.get(WaitlistEntry, entry_id) if len(entry_id) <= 40 else None
    if entry is None:
        raise NotFound("resource_not_found")
    return entry


def list_entries(db: DbSession, *, query: str | None, status: str | None, order_by: str,
                 limit: int, offset: int) -> tuple[list[WaitlistEntry], int]:
    """A page of entries (by part of the address, or the id; in one status), and how
    many there are in all."""
    statement = select(WaitlistEntry).options(selectinload(WaitlistEntry.invitation))
    if status is not None:
        if status not in STATUSES:
            raise ClerkError("form_param_format_invalid", field="status")
        statement = statement.where(WaitlistEntry.status == status)
    if query and query.strip():
        statement = statement.where(or_(
            WaitlistEntry.email_address.like(contains_pattern(query), escape="\\"),
            WaitlistEntry.id == query.strip()))
    column = ORDERS.get(order_by.lstrip("+-"))
    if column is None:
        raise ClerkError("form_param_format_invalid", field="order_by")
    if column is Invitation.created_at:
        statement = statement.outerjoin(WaitlistEntry.invitation)
    order = column.desc() if order_by.startswith("-") else column.asc()
    return fetch_page(db, statement.order_by(order.nulls_last(), WaitlistEntry.id),
                      limit, offset)


def _entry_for(db: DbSession, address: str) -> WaitlistEntry | None:
    return db.scalar(select(WaitlistEntry).where(WaitlistEntry.email_address == address))


def _updated(instance: Instance, db: DbSession, entry: WaitlistEntry) -> None:
    db.flush()
    emit(instance, db, "waitlistEntry.updated", partial(waitlist_entry_json, entry))
