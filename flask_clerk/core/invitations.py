"""Invitations to sign up to the application (Clerk's instance-level ``inv_``).

An invitation mails a link to the sign-up page. Whoever then signs up with the
invited address, by that link or not, accepts it (their address is verified by
the sign-up's own email code). The Backend API creates, lists and revokes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode, urljoin

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError, NotFound
from ..ids import new_id, new_token, token_hash
from . import clock
from .instance import Instance
from .models import Invitation, OrganizationInvitation
from .serializers import instance_invitation_json
from .users import find_user_by_email, normalize_email
from .webhooks import emit, mail_sent

DEFAULT_DAYS = 30


def create_invitation(
    instance: Instance, db: DbSession, *, email_address: str,
    public_metadata: Mapping[str, Any] | None = None, notify: bool = True,
    ignore_existing: bool = False, expires_in_days: int | None = None,
    before_commit: Callable[[Invitation], None] | None = None,
) -> Invitation:
    """Invite ``email_address`` to sign up, mailing them the link unless not
    ``notify``; ``before_commit`` makes the caller's own change in the same commit."""
    address = normalize_email(email_address)
    if find_user_by_email(db, address) is not None:
        raise ClerkError("form_identifier_exists", field="email_address")
    now = clock.now()
    pending = [i for i in db.scalars(select(Invitation).where(
        Invitation.email_address == address, Invitation.status == "pending"))
        if i.expires_at > now]
    if pending and not ignore_existing:
        raise ClerkError("duplicate_invitation", field="email_address", email=address)
    days = DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= 365:
        raise ClerkError("form_param_format_invalid", field="expires_in_days")
    ticket = new_token()
    invitation = Invitation(
        id=new_id("inv"), email_address=address, status="pending",
        token_hash=token_hash(ticket), expires_at=now + timedelta(days=days),
        public_metadata=dict(public_metadata or {}), created_at=now, updated_at=now,
    )
    db.add(invitation)
    db.flush()
    emit(instance, db, "invitation.created", lambda: instance_invitation_json(invitation))
    subject = text = ""
    if notify:
        settings = instance.settings
        url = urljoin(settings.issuer, settings.sign_up_url) + "?" + urlencode(
            {"__clerk_ticket": ticket})
        app = settings.application_name or "our application"
        subject = f"You're invited to {app}"
        text = (f"You have been invited to create an account on {app}.\n\nSign up here:\n\n"
                f"    {url}\n\nThe invitation expires in {days} days. If you were not "
                "expecting it, you can ignore this email.")
        mail_sent(instance, db, address, subject, text)
    if before_commit is not None:
        before_commit(invitation)
    db.commit()
    if notify:
        instance.mailer.send(address, subject, text)
    return invitation


STATUSES = frozenset({"pending", "accepted", "revoked", "expired"})


def status_condition(model: type[Invitation] | type[OrganizationInvitation], status: str
                     ) -> ColumnElement[bool]:
    """Rows of ``model`` in ``status``: "expired" is a pending one past its time."""
    if status not in STATUSES:
        raise ClerkError("form_param_format_invalid", field="status")
    if status in {"pending", "expired"}:
        now = clock.now()
        return and_(model.status == "pending",
                    model.expires_at > now if status == "pending" else model.expires_at <= now)
    return model.status == status


def list_invitations(db: DbSession, *, status: str | None, limit: int, offset: int
                     ) -> list[Invitation]:
    statement = select(Invitation)
    if status is not None:
        statement = statement.where(status_condition(Invitation, status))
    return list(db.scalars(statement.order_by(Invitation.created_at.desc(), Invitation.id)
                           .limit(limit).offset(offset)))


def revoke_invitation(instance: Instance, db: DbSession, invitation_id: str) -> Invitation:
    invitation = db.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound("resource_not_found")
    revoke(instance, db, invitation)
    db.commit()
    return invitation


def revoke(instance: Instance, db: DbSession, invitation: Invitation) -> None:
    """Revoke a pending invitation (the caller commits)."""
    if not is_pending(invitation):
        raise ClerkError("invitation_not_pending", status=400)
    invitation.status = "revoked"
    db.flush()
    emit(instance, db, "invitation.revoked", lambda: instance_invitation_json(invitation))


def is_pending(invitation: Invitation) -> bool:
    """Pending and not yet expired: it still lets its address sign up."""
    return invitation.status == "pending" and invitation.expires_at > clock.now()


def find_pending_invitation(db: DbSession, ticket: str | None) -> Invitation | None:
    """The pending invitation whose mailed link carries ``ticket`` (else None)."""
    if not ticket or len(ticket) > 200:
        return None
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == token_hash(ticket)))
    return invitation if invitation is not None and is_pending(invitation) else None


def is_invited(db: DbSession, email_address: str) -> bool:
    """Whether a pending, unexpired invitation (to the application or to an
    organization) names this address."""
    now = clock.now()
    return any(db.scalars(select(model.id).where(
        model.email_address == email_address, model.status == "pending",
        model.expires_at > now).limit(1)).first() for model in (Invitation, OrganizationInvitation))


def accept_invitations(instance: Instance, db: DbSession, email_address: str) -> None:
    """A user signed up with ``email_address``: its pending invitations are accepted,
    and its waitlist entry completed (the caller commits)."""
    from .waitlist import complete_entry  # the waitlist invites through this module

    now = clock.now()
    for invitation in db.scalars(select(Invitation).where(
            Invitation.email_address == email_address, Invitation.status == "pending")):
        if invitation.expires_at > now:
            invitation.status = "accepted"
            db.flush()
            emit(instance, db, "invitation.accepted",
                 partial(instance_invitation_json, invitation))
    complete_entry(instance, db, email_address)
