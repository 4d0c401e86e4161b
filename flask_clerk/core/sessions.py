"""Clients and sessions: sign a user in, refresh a token, end and revoke sessions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload, object_session

from ..errors import ClerkError, NotFound
from ..ids import new_id, new_token, token_hash
from ..settings import Settings, identifier_allowed
from ..tokens import OrganizationClaims
from . import clock
from .analytics import record_new_day
from .instance import Instance, RequestInfo
from .models import Client, Organization, OrganizationMembership, Session, User
from .serializers import session_json
from .webhooks import emit


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
    active: tuple[OrganizationMembership, Organization] | None = None,
) -> SignedIn:
    """Sign ``user`` in on a brand-new client (a fresh token every time: no fixation),
    in the organization of ``active`` (the user's membership in it) when given.

    Sessions of the browser's previous client are ended (one browser, one session),
    unless the instance is multi-session: then they stay, beside the new one,
    except the same user's. The caller commits.
    """
    return start_session(instance, db, user, prepare_session(instance, user, request, active),
                         previous_client_token=previous_client_token)


def prepare_session(instance: Instance, user: User, request: RequestInfo,
                    active: tuple[OrganizationMembership, Organization] | None = None,
                    *, first_factor_at: datetime | None = None,
                    second_factor_at: datetime | None = None,
                    actor: dict[str, Any] | None = None, lifetime: int | None = None,
                    ) -> SignedIn:
    """The rows and first token of a new session, built but not yet written:
    :func:`start_session` adds them. The password sign-in builds them while the
    hash runs; they are dropped, unused, when the password is wrong.

    The factors were verified now, unless their times are given (a sign-in whose
    second factor came after the first)."""
    settings, now = instance.settings, clock.now()
    client_token = new_token()
    client = Client(id=new_id("client"), token_hash=token_hash(client_token), created_at=now,
                    updated_at=now)
    session = Session(
        id=new_id("sess"),
        client_id=client.id,
        user_id=user.id,
        status="active",
        last_active_at=now,
        first_factor_verified_at=first_factor_at or now,
        second_factor_verified_at=second_factor_at,
        expire_at=now + timedelta(seconds=lifetime or settings.session_max_lifetime),
        actor=actor,
        abandon_at=_abandon_at(instance, now),
        ip_address=request.ip_address,
        user_agent=(request.user_agent or "")[:1000] or None,
        created_at=now,
        updated_at=now,
    )
    client.last_active_session_id = session.id
    membership, organization = active or (None, None)
    session.last_active_organization_id = organization.id if organization else None
    token = session_token(instance, session, membership, organization, request,
                          has_mfa=user.mfa_enabled_at is not None)
    return SignedIn(client_token=client_token, client=client, session=session,
                    session_token=token)


def start_session(
    instance: Instance, db: DbSession, user: User, new: SignedIn,
    *, previous_client_token: str | None = None,
) -> SignedIn:
    """Add a prepared session (see :func:`create_session`). The caller commits.

    With an allowlist, only a user whose address is on it gets a session, however
    they proved who they are."""
    settings = instance.settings
    if settings.allowlist and new.session.actor is None and not identifier_allowed(
            settings, user.primary_address or "", signing_up=False):
        raise ClerkError("identifier_not_allowed", status=403)
    old = db.scalars(
        select(Client).where(Client.token_hash == token_hash(previous_client_token))
    ).first() if previous_client_token else None
    if old is not None:
        signed_in = db.scalars(
            select(Session).where(Session.client_id == old.id, Session.status == "active")
        ).all()
        keep = settings.multi_session and new.session.actor is None and not any(
            s.actor for s in signed_in)
        for session in signed_in:
            if not keep or session.user_id == user.id:
                end_session(instance, session, "replaced")
        if keep:
            new = _join_client(db, old, new)
    if new.session.actor is None:  # an impersonation is not the user signing in
        now = new.session.last_active_at
        record_new_day(db, user.id, user.last_active_at, now)
        user.last_sign_in_at = user.last_active_at = now
        user.failed_attempts = 0
        user.locked_until = None
    db.add_all([new.client, new.session])  # ids are ours already: the caller's commit flushes once
    emit(instance, db, "session.created", lambda: session_json(new.session))
    return new


def _join_client(db: DbSession, client: Client, new: SignedIn) -> SignedIn:
    """Multi-session: ``new`` joins the browser's client beside its other accounts'
    sessions, and becomes the active one. The client's token is the new one all
    the same (the old cookie signs nobody in: no fixation). When another sign-in
    renewed the token meanwhile (a second tab), ``new`` keeps a client of its own."""
    joined = db.execute(  # type: ignore[attr-defined]  # a CursorResult
        update(Client).where(Client.id == client.id, Client.token_hash == client.token_hash)
        .values(token_hash=new.client.token_hash, last_active_session_id=new.session.id,
                updated_at=new.session.created_at)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not joined:
        return new
    new.session.client_id = client.id
    return replace(new, client=client)


@dataclass(frozen=True)
class Refreshed:
    """A new token for the browser's active session; ``switched``: that is another
    account than before, the previous one's session having ended (multi-session)."""

    session: Session
    token: str
    switched: bool = False


def refresh_session(
    instance: Instance, db: DbSession, client_token: str, request: RequestInfo
) -> Refreshed | None:
    """A new session token for the client's active session, or None when it has ended.

    One query finds the client's session with its active organization and the
    user's membership in it; expiry and inactivity are enforced here, on the
    server, whatever the cookie says. With multi-session, when the active account's
    session has ended, the browser's next account signed in takes its place.
    """
    refreshed = _refresh_active(instance, db, request, client_token=client_token)
    if refreshed is not None:
        return Refreshed(*refreshed)
    if instance.settings.multi_session and _activate_next(db, client_token):
        refreshed = _refresh_active(instance, db, request, client_token=client_token)
        return Refreshed(*refreshed, switched=True) if refreshed else None
    return None


def refresh_session_by_id(instance: Instance, db: DbSession, session_id: str,
                          request: RequestInfo) -> str | None:
    """A new token for session ``session_id`` (a handshake answer redeemed by an
    app's server, away from the browser), or None when it has ended."""
    refreshed = _refresh_active(instance, db, request, session_id=session_id)
    return refreshed[1] if refreshed else None


def _activate_next(db: DbSession, client_token: str) -> bool:
    remaining = client_sessions(db, client_token)
    if remaining:
        remaining[0].client.last_active_session_id = remaining[0].id
        db.commit()
    return bool(remaining)


def _refresh_active(
    instance: Instance, db: DbSession, request: RequestInfo, *,
    client_token: str | None = None, session_id: str | None = None,
) -> tuple[Session, str] | None:
    """The client's active session (or session ``session_id``), used now: its new
    token, or None when it has ended."""
    now = clock.now()
    query = (_with_organization(select(Session)).add_columns(User.mfa_enabled_at)
             .join(User, User.id == Session.user_id).where(Session.status == "active"))
    if client_token is not None:
        query = query.join(Client, Client.last_active_session_id == Session.id).where(
            Client.token_hash == token_hash(client_token))
    else:
        query = query.where(Session.id == session_id)
    row = db.execute(query).first()
    if row is None:
        return None
    session, membership, organization, mfa_enabled_at = row
    if not still_live(instance, db, session, now):
        return None
    _touch(instance, db, session, membership, now)
    db.commit()
    return session, session_token(instance, session, membership, organization, request,
                                  has_mfa=mfa_enabled_at is not None)


def _touch(instance: Instance, db: DbSession, session: Session,
           membership: OrganizationMembership | None, now: datetime) -> None:
    """``session`` used now (a refresh, a switch): its day of activity, its inactivity
    clock, and its organization dropped if the user is no longer in it."""
    if session.actor is None:
        record_new_day(db, session.user_id, session.last_active_at, now)
    session.last_active_at = now
    session.abandon_at = _abandon_at(instance, now)
    if membership is None:
        session.last_active_organization_id = None  # removed from it since, or it is gone


def _ended_by_time(instance: Instance, session: Session, now: datetime) -> bool:
    """End ``session`` if it is past its lifetime or its inactivity timeout."""
    if now >= session.expire_at:
        end_session(instance, session, "expired")
        return True
    if session.abandon_at is not None and now >= session.abandon_at:
        end_session(instance, session, "abandoned")
        return True
    return False


def client_sessions(db: DbSession, client_token: str) -> list[Session]:
    """The accounts signed in on the browser holding ``client_token`` (multi-session),
    with their users, most recently active first."""
    now = clock.now()
    return [
        s for s in db.scalars(
            select(Session).join(Client, Client.id == Session.client_id)
            .where(Client.token_hash == token_hash(client_token), Session.status == "active")
            .options(joinedload(Session.user))
            .order_by(Session.last_active_at.desc(), Session.id)
        )
        if s.expire_at > now and (s.abandon_at is None or s.abandon_at > now)
    ]


def switch_session(instance: Instance, db: DbSession, client_token: str, session_id: str,
                   request: RequestInfo) -> str:
    """Make another account signed in on this browser the active one; its new
    session token. Only a live session of this very client can be switched to."""
    now = clock.now()
    row = db.execute(
        _with_organization(select(Session)).add_columns(Client)
        .join(Client, Client.id == Session.client_id)
        .where(Client.token_hash == token_hash(client_token), Session.id == session_id,
               Session.status == "active")
    ).first()
    if row is None or not instance.settings.multi_session or _ended_by_time(
            instance, row[0], now):
        db.commit()
        raise NotFound("session_not_found")
    session, membership, organization, client = row
    client.last_active_session_id = session.id
    _touch(instance, db, session, membership, now)
    db.commit()
    return session_token(instance, session, membership, organization, request,
                         has_mfa=session.user.mfa_enabled_at is not None)


def reissue_token(instance: Instance, db: DbSession, session: Session,
                  request: RequestInfo, *, not_after: float | None = None) -> str:
    """A new token for ``session`` after something its claims carry changed (its
    organization, a factor just verified, a task done), to set at once rather
    than at the next refresh. ``not_after``: the token it replaces expires then, and
    so does this one (a token alone never renews itself: refreshing is
    ``__client``'s)."""
    membership, organization = active_organization(db, session)
    return session_token(instance, session, membership, organization, request,
                         has_mfa=session.user.mfa_enabled_at is not None, not_after=not_after)


def still_live(instance: Instance, db: DbSession, session: Session,
               now: datetime | None = None) -> bool:
    """Whether ``session`` may be used now: active, within its lifetime and
    inactivity timeout, and (an impersonation) its administrator still allowed.
    Ends it otherwise (committed)."""
    if session.status != "active":
        return False
    if _ended_by_time(instance, session, now or clock.now()) or (
            session.actor and not _actor_still_allowed(instance, db, session.actor)):
        if session.status == "active":
            # The administrator was banned, deleted or demoted: their impersonation ends.
            end_session(instance, session, "revoked")
        db.commit()
        return False
    return True


def active_organization(
    db: DbSession, session: Session
) -> tuple[OrganizationMembership | None, Organization | None]:
    """The session's active organization and the user's membership in it (one query)."""
    if session.last_active_organization_id is None:
        return None, None
    row = db.execute(
        select(OrganizationMembership, Organization)
        .join(Organization, Organization.id == OrganizationMembership.organization_id)
        .where(OrganizationMembership.organization_id == session.last_active_organization_id,
               OrganizationMembership.user_id == session.user_id)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


# ``fva`` for a user who has a second factor that this session never verified
# (it was set up on another device): older than any reverification allows.
NEVER_VERIFIED_MINUTES = 1_000_000


def session_token(
    instance: Instance, session: Session, membership: OrganizationMembership | None,
    organization: Organization | None, request: RequestInfo, *, has_mfa: bool,
    not_after: float | None = None,
) -> str:
    """A token for ``session``, with its active organization's claims when it has one.

    ``has_mfa``: the user has a second factor (``fva``'s second item, and the
    ``setup-mfa`` task when MFA is required of them)."""
    claims = None
    if membership is not None and organization is not None:
        role = instance.roles().get(membership.role)
        claims = OrganizationClaims(
            id=organization.id, slug=organization.slug, role=membership.role,
            permissions=role.custom_permissions if role is not None else (),
        )
    settings, now = instance.settings, clock.now()
    # An impersonation has no tasks: the administrator acts as the user is.
    task = None if session.actor else session_task(settings, has_mfa=has_mfa,
                                                   organization=organization)
    second_age = -1
    if has_mfa:
        verified = session.second_factor_verified_at
        second_age = (NEVER_VERIFIED_MINUTES if verified is None
                      else int((now - verified).total_seconds() // 60))
    first_age = int((now - session.first_factor_verified_at).total_seconds() // 60)
    if session.actor:  # an impersonation never counts as the user verifying (fva)
        first_age, second_age = NEVER_VERIFIED_MINUTES, (NEVER_VERIFIED_MINUTES if has_mfa
                                                         else -1)
    return instance.mint_token(
        user_id=session.user_id, session_id=session.id,
        factor_ages=(first_age, second_age),
        azp=request.origin, organization=claims, status="pending" if task else None,
        actor=session.actor, not_after=not_after,
    )


def _actor_still_allowed(instance: Instance, db: DbSession, actor: dict[str, Any]) -> bool:
    """An impersonation lasts while its administrator may: still there, not banned
    or locked, still an administrator, their own session still active. (An actor
    token of the Backend API may name an actor who is no user here.)"""
    from .admins import dashboard_issuer, is_admin  # admins imports users, which imports us

    from_dashboard = actor.get("iss") == dashboard_issuer(instance.settings)
    admin = db.get(User, str(actor.get("sub")))
    if admin is None:
        return not from_dashboard
    if admin.banned or admin.is_locked(clock.now()):
        return False
    own = db.get(Session, str(actor["sid"])) if actor.get("sid") else None
    if actor.get("sid") and (own is None or own.status != "active"):
        return False
    return not from_dashboard or is_admin(db, instance.settings, admin)


def session_task(settings: Settings, *, has_mfa: bool,
                 organization: Organization | None) -> str | None:
    """The task a session must finish before it counts as signed in (Clerk's session
    tasks; the token says ``sts: pending``): choose an organization when membership
    is required, then set up a second factor when the instance or that organization
    requires one."""
    if (settings.organizations and settings.organization_membership == "required"
            and organization is None):
        return "choose-organization"
    if not has_mfa and (settings.mfa_required
                        or (organization is not None and organization.mfa_required)):
        return "setup-mfa"
    return None


def _with_organization(query: Select[tuple[Session]]) -> Select[Any]:
    return query.add_columns(OrganizationMembership, Organization).outerjoin(
        OrganizationMembership,
        and_(OrganizationMembership.organization_id == Session.last_active_organization_id,
             OrganizationMembership.user_id == Session.user_id),
    ).outerjoin(Organization, Organization.id == OrganizationMembership.organization_id)


def end_session(instance: Instance, session: Session, status: str = "ended") -> None:
    """Stop ``session``: it cannot refresh, and its tokens die in this process at once."""
    if session.status == "active":
        session.status = status
        session.abandon_at = None
        db = object_session(session)
        if db is not None:
            kind = status if status in {"revoked", "removed"} else "ended"
            emit(instance, db, f"session.{kind}", lambda: session_json(session))
    instance.revoke_token_of(session.id)


def end_client_session(instance: Instance, db: DbSession, client_token: str,
                       *, session_id: str | None = None) -> Session | None:
    """Sign out the browser holding ``client_token``: every account on it, or with
    multi-session only the session ``session_id`` (one of this browser's). Returns
    the browser's active session afterwards: with multi-session, when the active
    account signed out, the most recently active one left."""
    client = db.scalars(select(Client).where(Client.token_hash == token_hash(client_token))
                        ).first()
    if client is None:
        return None
    one = session_id if instance.settings.multi_session else None
    for session in db.scalars(select(Session).where(
            Session.client_id == client.id, Session.status == "active")):
        if one is None or session.id == one:
            end_session(instance, session, "ended")
    db.flush()
    remaining = client_sessions(db, client_token) if one else []
    active = next((s for s in remaining if s.id == client.last_active_session_id),
                  remaining[0] if remaining else None)
    client.last_active_session_id = active.id if active else None
    db.commit()
    return active


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


SESSION_STATUSES = frozenset({"active", "revoked", "ended", "expired", "removed", "abandoned",
                              "replaced", "pending"})


def sessions_of(db: DbSession, *, user_id: str | None, client_id: str | None,
                status: str | None, limit: int, offset: int) -> list[Session]:
    """A user's or a client's sessions, newest first; "expired" is an active one past
    its time (Clerk's Backend API statuses)."""
    statement = select(Session)
    if user_id:
        statement = statement.where(Session.user_id == user_id)
    if client_id:
        statement = statement.where(Session.client_id == client_id)
    if status:
        if status not in SESSION_STATUSES:
            raise ClerkError("form_param_format_invalid", field="status")
        now = clock.now()
        if status == "expired":
            statement = statement.where(Session.status == "active", Session.expire_at <= now)
        elif status == "active":
            statement = statement.where(Session.status == "active", Session.expire_at > now)
        else:
            statement = statement.where(Session.status == status)
    return list(db.scalars(statement.order_by(Session.created_at.desc(), Session.id)
                           .limit(limit).offset(offset)))


def _abandon_at(instance: Instance, now: datetime) -> datetime | None:
    timeout = instance.settings.session_inactivity_timeout
    return now + timedelta(seconds=timeout) if timeout else None
