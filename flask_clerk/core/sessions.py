"""Clients and sessions: sign a user in, refresh a token, end and revoke sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ..errors import NotFound
from ..ids import new_id, new_token, token_hash
from . import clock
from .instance import Instance, RequestInfo
from .models import Client, Session, User


@dataclass(frozen=True)
class SignedIn:
    """A new session: the ``__client`` cookie value and a first session token."""

    client_token: str
    client: Client
    session: Session
    session_token: str


def create_session(
    instance: Instance, db: DbSession, user: User, request: RequestInfo,
    *, previous_client_token: str | None = None,
) -> SignedIn:
    """Sign ``user`` in on a brand-new client (a fresh token every time: no fixation).

    Sessions of the browser's previous client are ended: one browser, one session.
    The caller commits.
    """
    return start_session(instance, db, user, prepare_session(instance, user, request),
                         previous_client_token=previous_client_token)


def prepare_session(instance: Instance, user: User, request: RequestInfo) -> SignedIn:
    """The rows and first token of a new session, built but not yet written:
    :func:`start_session` adds them. The password sign-in builds them while the
    hash runs; they are dropped, unused, when the password is wrong."""
    settings, now = instance.settings, clock.now()
    client_token = new_token()
    client = Client(id=new_id("client"), token_hash=token_hash(client_token))
    session = Session(
        id=new_id("sess"),
        client_id=client.id,
        user_id=user.id,
        status="active",
        last_active_at=now,
        first_factor_verified_at=now,
        expire_at=now + timedelta(seconds=settings.session_max_lifetime),
        abandon_at=_abandon_at(instance, now),
        ip_address=request.ip_address,
        user_agent=(request.user_agent or "")[:1000] or None,
    )
    client.last_active_session_id = session.id
    token = instance.mint_token(
        user_id=user.id, session_id=session.id, first_factor_age_minutes=0, azp=request.origin
    )
    return SignedIn(client_token=client_token, client=client, session=session,
                    session_token=token)


def start_session(
    instance: Instance, db: DbSession, user: User, new: SignedIn,
    *, previous_client_token: str | None = None,
) -> SignedIn:
    """Add a prepared session (see :func:`create_session`). The caller commits."""
    if previous_client_token:
        old = db.scalars(
            select(Client).where(Client.token_hash == token_hash(previous_client_token))
        ).first()
        if old is not None:
            for session in db.scalars(
                select(Session).where(Session.client_id == old.id, Session.status == "active")
            ):
                end_session(instance, session, "replaced")
    user.last_sign_in_at = user.last_active_at = new.session.last_active_at
    user.failed_attempts = 0
    user.locked_until = None
    db.add_all([new.client, new.session])  # ids are ours already: the caller's commit flushes once
    return new


def refresh_session(
    instance: Instance, db: DbSession, client_token: str, request: RequestInfo
) -> tuple[Session, str] | None:
    """A new session token for the client's active session, or None when it has ended.

    One query finds the client's session; expiry and inactivity are enforced here,
    on the server, whatever the cookie says.
    """
    now = clock.now()
    session = db.scalars(
        select(Session)
        .join(Client, Client.last_active_session_id == Session.id)
        .where(Client.token_hash == token_hash(client_token), Session.status == "active")
    ).first()
    if session is None:
        return None
    if now >= session.expire_at:
        end_session(instance, session, "expired")
        db.commit()
        return None
    if session.abandon_at is not None and now >= session.abandon_at:
        end_session(instance, session, "abandoned")
        db.commit()
        return None
    session.last_active_at = now
    session.abandon_at = _abandon_at(instance, now)
    db.commit()
    age = int((now - session.first_factor_verified_at).total_seconds() // 60)
    token = instance.mint_token(
        user_id=session.user_id, session_id=session.id, first_factor_age_minutes=age,
        azp=request.origin,
    )
    return session, token


def end_session(instance: Instance, session: Session, status: str = "ended") -> None:
    """Stop ``session``: it cannot refresh, and its tokens die in this process at once."""
    if session.status == "active":
        session.status = status
        session.abandon_at = None
    instance.revoke_token_of(session.id)


def end_client_session(instance: Instance, db: DbSession, client_token: str) -> str | None:
    """Sign out the browser holding ``client_token``; returns the ended session's id."""
    session = db.scalars(
        select(Session)
        .join(Client, Client.last_active_session_id == Session.id)
        .where(Client.token_hash == token_hash(client_token))
    ).first()
    if session is None:
        return None
    end_session(instance, session, "ended")
    db.commit()
    return session.id


def revoke_user_sessions(
    instance: Instance, db: DbSession, user_id: str, *, keep_session_id: str | None = None
) -> int:
    """Revoke every active session of a user (password change, reset, ban, delete)."""
    sessions = db.scalars(
        select(Session).where(Session.user_id == user_id, Session.status == "active")
    ).all()
    count = 0
    for session in sessions:
        if session.id != keep_session_id:
            end_session(instance, session, "revoked")
            count += 1
    return count


def active_sessions(db: DbSession, user_id: str) -> list[Session]:
    now = clock.now()
    return [
        s
        for s in db.scalars(
            select(Session)
            .where(Session.user_id == user_id, Session.status == "active")
            .order_by(Session.last_active_at.desc())
        )
        if s.expire_at > now and (s.abandon_at is None or s.abandon_at > now)
    ]


def revoke_own_session(instance: Instance, db: DbSession, user_id: str, session_id: str) -> None:
    """A user signs out one of their devices; another user's session id is not found."""


    session = db.get(Session, session_id)
    if session is None or session.user_id != user_id or session.status != "active":
        raise NotFound("resource_not_found")
    end_session(instance, session, "revoked")
    db.commit()


def _abandon_at(instance: Instance, now: datetime) -> datetime | None:
    timeout = instance.settings.session_inactivity_timeout
    return now + timedelta(seconds=timeout) if timeout else None
