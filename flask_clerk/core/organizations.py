"""Organizations: create and manage them, their members and roles; the active one.

Every flow that acts inside an organization takes the acting user's membership
(found with :func:`membership_of`, which refuses non-members with a 404) and
checks the system permission it needs on the server, from the membership's role:
system permissions are never read from a token. Targets (a membership, an
invitation) are looked up *within* the actor's organization, so an id from
another organization is simply not found.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload, selectinload

from ..errors import ClerkError, NotFound
from ..ids import new_id, new_token, token_hash
from . import clock, emails
from .audit import security_event
from .instance import Instance, RequestInfo
from .invitations import accept_invitations, status_condition
from .metadata import merge_into
from .models import (
    EmailAddress,
    Organization,
    OrganizationDomain,
    OrganizationInvitation,
    OrganizationMembership,
    OrganizationMembershipRequest,
    Session,
    User,
)
from .roles import (
    ADMIN,
    DELETE_ORGANIZATION,
    MANAGE_MEMBERS,
    MANAGE_PROFILE,
    READ_MEMBERS,
    Role,
    role_key,
)
from .serializers import invitation_json, membership_json, organization_json, user_json
from .sessions import SignedIn, create_session, reissue_token, still_live
from .sign_up import check_sign_up_allowed
from .store import fetch_page
from .user_search import contains_pattern
from .users import (
    clean_name,
    create_user,
    find_user_by_email,
    new_password_digest,
    normalize_email,
    password_context,
)
from .webhooks import deleted, emit, mail_sent

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 100


class Forbidden(ClerkError):
    status = 403


class Actor(Protocol):
    """Who acts in an organization: a member (their membership), or the instance's
    administrator (:class:`BackendActor`)."""

    @property
    def organization(self) -> Organization: ...
    @property
    def organization_id(self) -> str: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class BackendActor:
    """The secret key's holder (Backend API, CLI) acting in an organization: an
    admin's permissions, on behalf of ``user_id`` when the request names one."""

    organization: Organization
    user_id: str | None = None
    role: str = ADMIN

    @property
    def organization_id(self) -> str:
        return self.organization.id


# --- Lookups -----------------------------------------------------------------------


def user_memberships(db: DbSession, user_id: str) -> list[OrganizationMembership]:
    """The user's memberships with their organizations, by organization name."""
    return list(db.scalars(
        select(OrganizationMembership)
        .join(Organization, Organization.id == OrganizationMembership.organization_id)
        .options(joinedload(OrganizationMembership.organization))
        .where(OrganizationMembership.user_id == user_id)
        .order_by(func.lower(Organization.name), Organization.id)
    ))


def all_organizations(db: DbSession) -> list[tuple[Organization, int]]:
    """Every organization with its member count, by slug."""
    count = (select(func.count()).select_from(OrganizationMembership)
             .where(OrganizationMembership.organization_id == Organization.id)
             .correlate(Organization).scalar_subquery())
    return [(o, n) for o, n in db.execute(select(Organization, count).order_by(Organization.slug))]


def membership_of(db: DbSession, user_id: str, organization_id: str) -> OrganizationMembership:
    """The user's membership in the organization; not a member: not found (404)."""
    membership = db.scalars(
        select(OrganizationMembership)
        .options(joinedload(OrganizationMembership.organization))
        .where(OrganizationMembership.user_id == user_id,
               OrganizationMembership.organization_id == organization_id)
    ).first()
    if membership is None:
        raise NotFound("resource_not_found")
    return membership


def role_of(instance: Instance, membership: Actor) -> Role:
    """The membership's role (a role removed since keeps its key and no permissions)."""
    return instance.roles().get(membership.role) or Role(membership.role, membership.role, ())


def require(instance: Instance, membership: Actor, permission: str) -> None:
    if not role_of(instance, membership).can(permission):
        raise Forbidden("authorization_invalid")


def members(
    instance: Instance, db: DbSession, actor: Actor
) -> list[OrganizationMembership]:
    """The organization's members with their users, oldest first."""
    require(instance, actor, READ_MEMBERS)
    return list(db.scalars(
        select(OrganizationMembership)
        .options(joinedload(OrganizationMembership.user).selectinload(User.email_addresses))
        .where(OrganizationMembership.organization_id == actor.organization_id)
        .order_by(OrganizationMembership.created_at, OrganizationMembership.id)
    ))


def pending_invitations(
    instance: Instance, db: DbSession, actor: Actor
) -> list[OrganizationInvitation]:
    require(instance, actor, READ_MEMBERS)
    return list(db.scalars(
        select(OrganizationInvitation)
        .where(OrganizationInvitation.organization_id == actor.organization_id,
               OrganizationInvitation.status == "pending",
               OrganizationInvitation.expires_at > clock.now())
        .order_by(OrganizationInvitation.created_at)
    ))


# --- The organization itself -------------------------------------------------------


def create_organization(
    instance: Instance, db: DbSession, user: User | None, *, name: str | None,
    slug: str | None = None, by_admin: bool = False,
    changes: Mapping[str, Any] | None = None,
) -> Organization:
    """A new organization with ``user`` as its first member (the creator role).

    A user creating one is held to the instance's creation settings; the
    administrator (``by_admin``: Backend API, CLI) is not, and may create one with
    no member yet and with ``changes`` (see :func:`change_organization`) applied.
    """
    settings = instance.settings
    if user is not None and not by_admin:
        if not settings.create_organization_enabled:
            raise Forbidden("organization_creation_disabled")
        created = db.scalar(select(func.count()).select_from(Organization)
                            .where(Organization.created_by == user.id)) or 0
        if created >= settings.create_organizations_limit:
            raise Forbidden("organization_limit_reached",
                            limit=settings.create_organizations_limit)
    clean = clean_name(name, "name", required=True)
    assert clean is not None
    given = (slug or "").strip()
    organization = Organization(
        id=new_id("org"), name=clean, slug=clean_slug(given) if given else _slugify(clean),
        created_by=user.id if user else None, public_metadata={}, private_metadata={},
        admin_delete_enabled=True,
    )
    for key, value in (changes or {}).items():
        setattr(organization, key, value)
    db.add(organization)
    creator = None
    if user is not None:
        creator = _new_membership(organization.id, user.id, settings.organization_creator_role)
        db.add(creator)
    if not given:
        while _slug_taken(db, organization.slug):
            organization.slug = f"{_slugify(clean)[:SLUG_MAX - 7]}-{secrets.token_hex(3)}"

    def events() -> None:
        emit(instance, db, "organization.created", lambda: organization_json(
            organization, members_count=1 if creator else 0, pending_invitations_count=0))
        if creator is not None:
            _membership_event(instance, db, "organizationMembership.created", creator)

    _commit_slug(db, events)
    security_event("organization.created", organization_id=organization.id,
                   user_id=user.id if user else None)
    return organization


def update_organization(
    instance: Instance, db: DbSession, actor: Actor, *, name: str | None,
    slug: str | None, image_url: str | None,
) -> None:
    require(instance, actor, MANAGE_PROFILE)
    organization = actor.organization
    clean = clean_name(name, "name", required=True)
    assert clean is not None
    organization.name = clean
    organization.slug = clean_slug(slug)
    organization.image_url = _clean_image_url(image_url)
    _commit_slug(db, lambda: emit(instance, db, "organization.updated",
                                  organization_json(organization)))


def require_mfa(instance: Instance, db: DbSession, actor: Actor, *, required: bool) -> None:
    """Make members set up a second factor before they work in the organization
    (their sessions in it get the ``setup-mfa`` task), or stop. An admin who has
    none yet sets one up first: the rule must not lock its maker out."""
    require(instance, actor, MANAGE_PROFILE)
    me = db.get(User, actor.user_id) if actor.user_id else None
    if required and me is not None and me.mfa_enabled_at is None:
        raise ClerkError("organization_mfa_needs_your_own")
    organization = actor.organization
    organization.mfa_required = required
    db.flush()
    emit(instance, db, "organization.updated", organization_json(organization))
    db.commit()


def delete_organization(
    instance: Instance, db: DbSession, actor: Actor, *, confirmation: str
) -> None:
    """Delete it with everything in it; the admin types its name to confirm."""
    require(instance, actor, DELETE_ORGANIZATION)
    organization = actor.organization
    if not organization.admin_delete_enabled:
        raise Forbidden("organization_delete_disabled")
    if confirmation.strip() != organization.name:
        raise ClerkError("form_confirmation_mismatch", field="confirmation",
                         expected=organization.name)
    remove_organization(instance, db, organization, by=actor.user_id)


def remove_organization(instance: Instance, db: DbSession, organization: Organization, *,
                        by: str | None) -> None:
    """Delete the organization with its memberships, invitations and domains."""
    emit(instance, db, "organization.deleted", deleted("organization", organization.id))
    db.delete(organization)
    db.commit()
    security_event("organization.deleted", organization_id=organization.id, user_id=by)


# Organization fields the administrator may set, beyond name and slug.
ADMIN_FIELDS = ("max_allowed_memberships", "admin_delete_enabled", "public_metadata",
                "private_metadata")


def change_organization(instance: Instance, db: DbSession, organization: Organization, *,
                        name: str | None = None, slug: str | None = None,
                        changes: Mapping[str, Any] | None = None) -> Organization:
    """The administrator's edit (Backend API): the given fields only."""
    if name is not None:
        organization.name = clean_name(name, "name", required=True) or organization.name
    if slug is not None:
        organization.slug = clean_slug(slug)
    for key, value in (changes or {}).items():
        assert key in ADMIN_FIELDS
        setattr(organization, key, value)
    _commit_slug(db, lambda: emit(instance, db, "organization.updated",
                                  lambda: organization_json(organization)))
    return organization


def update_organization_metadata(instance: Instance, db: DbSession,
                                 organization: Organization,
                                 patches: Mapping[str, Mapping[str, Any]]) -> Organization:
    """Merge public/private metadata into an organization (the administrator's)."""
    merge_into(organization, patches)
    db.flush()
    emit(instance, db, "organization.updated", lambda: organization_json(organization))
    db.commit()
    return organization


ORDERS: dict[str, Any] = {"created_at": Organization.created_at, "name": Organization.name}


def search_organizations(db: DbSession, *, query: str | None, ids: list[str], order_by: str,
                         limit: int, offset: int) -> tuple[list[Organization], int]:
    """A page of organizations whose name or slug contains ``query`` (or whose id is
    it), and how many there are in all."""
    statement = select(Organization)
    if query and query.strip():
        pattern = contains_pattern(query)
        statement = statement.where(or_(
            func.lower(Organization.name).like(pattern, escape="\\"),
            Organization.slug.like(pattern, escape="\\"), Organization.id == query.strip()))
    if ids:
        statement = statement.where(Organization.id.in_(ids))
    column = ORDERS.get(order_by.lstrip("+-"))
    if column is None:
        raise ClerkError("form_param_format_invalid", field="order_by")
    descending = order_by.startswith("-")
    return fetch_page(db, statement.order_by(column.desc() if descending else column.asc(),
                                             Organization.id), limit, offset)


def invitations_of(db: DbSession, organization: Organization, statuses: list[str], *,
                   limit: int, offset: int) -> tuple[list[OrganizationInvitation], int]:
    """A page of the organization's invitations in any of ``statuses`` (all when none)."""
    statement = select(OrganizationInvitation).where(
        OrganizationInvitation.organization_id == organization.id)
    if statuses:
        statement = statement.where(or_(*(status_condition(OrganizationInvitation, status)
                                          for status in statuses)))
    return fetch_page(db, statement.order_by(OrganizationInvitation.created_at.desc(),
                                             OrganizationInvitation.id), limit, offset)


def find_organization(db: DbSession, id_or_slug: str) -> Organization:
    organization = db.scalars(select(Organization).where(
        (Organization.id == id_or_slug) | (Organization.slug == id_or_slug))).first()
    if organization is None:
        raise NotFound("resource_not_found")
    return organization


def set_max_memberships(db: DbSession, slug_or_id: str, limit: int | None) -> Organization:
    """An organization's own member limit (None: the instance's setting)."""
    organization = find_organization(db, slug_or_id)
    if limit is not None and limit < 1:
        raise ClerkError("form_param_format_invalid", field="max_allowed_memberships")
    organization.max_allowed_memberships = limit
    db.commit()
    return organization


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:SLUG_MAX].strip("-")
    return slug or f"org-{secrets.token_hex(3)}"


def clean_slug(value: str | None) -> str:
    slug = (value or "").strip().lower()
    if not slug:
        raise ClerkError("form_param_missing", field="slug")
    if len(slug) > SLUG_MAX:
        raise ClerkError("form_param_too_long", field="slug")
    if not _SLUG.match(slug):
        raise ClerkError("form_param_format_invalid", field="slug")
    return slug


def _slug_taken(db: DbSession, slug: str) -> bool:
    with db.no_autoflush:
        return db.scalar(select(Organization.id).where(Organization.slug == slug)) is not None


def _commit_slug(db: DbSession, events: Callable[[], object]) -> None:
    """Commit a new or changed slug with its events; a taken one is a form error."""
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise ClerkError("form_identifier_exists", field="slug") from None
    events()
    db.commit()


def _membership_event(instance: Instance, db: DbSession, event_type: str,
                      membership: OrganizationMembership) -> None:
    db.flush()
    db.refresh(membership)  # its user and organization, as they are now
    role = instance.roles().get(membership.role)
    emit(instance, db, event_type, membership_json(
        membership, role_name=role.name if role else None,
        permissions=list(role.custom_permissions) if role else []))


def _clean_image_url(value: str | None) -> str | None:
    url = (value or "").strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ClerkError("form_param_format_invalid", field="image_url") from None
    if len(url) > 2048 or parts.scheme not in {"https", "http"} or not parts.netloc:
        raise ClerkError("form_param_format_invalid", field="image_url")
    return url


# --- The active organization of a session ------------------------------------------


def set_active_organization(
    instance: Instance, db: DbSession, session_id: str, user_id: str,
    organization_id: str | None, request: RequestInfo, *, not_after: float | None = None,
) -> str:
    """Switch the session to ``organization_id`` (None: the personal account) and
    return its new token, which carries the organization at once (and expires no
    later than ``not_after``, the one it replaces)."""
    session = db.get(Session, session_id)
    if session is None or session.user_id != user_id or not still_live(instance, db, session):
        raise NotFound("resource_not_found")
    if organization_id:
        membership_of(db, user_id, organization_id)
    elif instance.settings.organization_membership == "required":
        raise ClerkError("organization_required")
    session.last_active_organization_id = organization_id or None
    session.last_active_at = clock.now()
    db.commit()
    return reissue_token(instance, db, session, request, not_after=not_after)


# --- Members -------------------------------------------------------------------------


R = TypeVar("R", OrganizationMembership, OrganizationInvitation, OrganizationDomain,
              OrganizationMembershipRequest)


def in_organization(db: DbSession, model: type[R], actor: Actor, row_id: str) -> R:
    """The row ``row_id`` of the actor's own organization; another organization's is
    not found, exactly like one that does not exist."""
    row = db.get(model, row_id)
    if row is None or row.organization_id != actor.organization_id:
        raise NotFound("resource_not_found")
    return row


def _admins(db: DbSession, organization_id: str, *, lock: bool = False) -> list[str]:
    query = select(OrganizationMembership.id).where(
        OrganizationMembership.organization_id == organization_id,
        OrganizationMembership.role == ADMIN).order_by(OrganizationMembership.id)
    return list(db.scalars(query.with_for_update() if lock else query))


def _keep_an_admin(db: DbSession, target: OrganizationMembership, change: Callable[[], object],
                   event: Callable[[], object]) -> None:
    """Apply ``change`` (a demotion or removal of ``target``) and commit, unless it
    would leave the organization without an admin.

    Two admins demoting each other at once must not both succeed: the admin rows
    are locked first (PostgreSQL), and the count is taken again after the change,
    inside the write transaction (SQLite serialises writers there).
    """
    if target.role == ADMIN and not [
        i for i in _admins(db, target.organization_id, lock=True) if i != target.id
    ]:
        db.rollback()
        raise ClerkError("organization_minimum_permissions_needed")
    organization_id = target.organization_id
    change()
    db.flush()
    if not _admins(db, organization_id):
        db.rollback()
        raise ClerkError("organization_minimum_permissions_needed")
    event()
    db.commit()


def change_role(
    instance: Instance, db: DbSession, actor: Actor, membership_id: str,
    role: str,
) -> OrganizationMembership:
    require(instance, actor, MANAGE_MEMBERS)
    target = in_organization(db, OrganizationMembership, actor, membership_id)
    new_role = known_role(instance, role)
    if new_role != target.role:
        _keep_an_admin(db, target, lambda: setattr(target, "role", new_role),
                       partial(_membership_event, instance, db,
                               "organizationMembership.updated", target))
        security_event("organization.role_changed", organization_id=actor.organization_id,
                       membership_id=target.id, role=new_role, by=actor.user_id)
    return target


def remove_member(
    instance: Instance, db: DbSession, actor: Actor, membership_id: str
) -> None:
    require(instance, actor, MANAGE_MEMBERS)
    target = in_organization(db, OrganizationMembership, actor, membership_id)
    _keep_an_admin(db, target, lambda: db.delete(target), lambda: emit(
        instance, db, "organizationMembership.deleted",
        deleted("organization_membership", target.id)))
    security_event("organization.member_removed", organization_id=actor.organization_id,
                   user_id=target.user_id, by=actor.user_id)


def update_membership_metadata(instance: Instance, db: DbSession,
                               membership: OrganizationMembership,
                               patches: Mapping[str, Mapping[str, Any]]
                               ) -> OrganizationMembership:
    """Merge public/private metadata into a membership (the administrator's)."""
    merge_into(membership, patches)
    _membership_event(instance, db, "organizationMembership.updated", membership)
    db.commit()
    return membership


def leave_organization(instance: Instance, db: DbSession, actor: OrganizationMembership
                       ) -> None:
    _keep_an_admin(db, actor, lambda: db.delete(actor), lambda: emit(
        instance, db, "organizationMembership.deleted",
        deleted("organization_membership", actor.id)))


def release_organizations(db: DbSession, user: User) -> None:
    """Before ``user`` is deleted: refuse while they are the only admin of an
    organization that has other members; delete the organizations where they are
    alone (nobody could ever reach them again). The caller commits."""
    orphaned, stranded = [], []
    for membership in user_memberships(db, user.id):
        members = db.scalar(select(func.count()).select_from(OrganizationMembership).where(
            OrganizationMembership.organization_id == membership.organization_id)) or 0
        if members == 1:
            orphaned.append(membership.organization)
        elif membership.role == ADMIN and _admins(db, membership.organization_id) == [
                membership.id]:
            stranded.append(membership.organization.name)
    if stranded:
        raise ClerkError("user_last_admin", field="confirmation",
                         organizations=", ".join(stranded))
    for organization in orphaned:
        db.delete(organization)


def known_role(instance: Instance, value: str) -> str:
    key = role_key(value)
    if key not in instance.roles():
        raise ClerkError("form_param_format_invalid", field="role")
    return key


def _check_room(instance: Instance, db: DbSession, organization: Organization,
                *, invitations: bool) -> None:
    """Refuse when members (and, for a new invitation, pending invitations) fill it."""
    limit = organization.max_allowed_memberships or instance.settings.organization_max_memberships
    if not limit:
        return
    taken = db.scalar(select(func.count()).select_from(OrganizationMembership).where(
        OrganizationMembership.organization_id == organization.id)) or 0
    if invitations:
        taken += db.scalar(select(func.count()).select_from(OrganizationInvitation).where(
            OrganizationInvitation.organization_id == organization.id,
            OrganizationInvitation.status == "pending",
            OrganizationInvitation.expires_at > clock.now())) or 0
    if taken >= limit:
        raise Forbidden("organization_membership_quota_exceeded", limit=limit)


# --- Invitations ---------------------------------------------------------------------


def invite_member(
    instance: Instance, db: DbSession, request: RequestInfo, actor: Actor, *,
    email_address: str, role: str | None, public_metadata: Mapping[str, Any] | None = None,
    private_metadata: Mapping[str, Any] | None = None,
) -> OrganizationInvitation:
    """Mail a single-use link that adds ``email_address`` to the organization."""
    require(instance, actor, MANAGE_MEMBERS)
    if not isinstance(actor, BackendActor):  # the Backend API has its per-key limit
        instance.rate_limiter.hit("invite", request.ip_address or "-")
    settings, organization = instance.settings, actor.organization
    address = normalize_email(email_address)
    new_role = known_role(instance, role or settings.organization_default_role)
    if db.scalar(
        select(OrganizationMembership.id)
        .join(EmailAddress, EmailAddress.user_id == OrganizationMembership.user_id)
        .where(OrganizationMembership.organization_id == organization.id,
               EmailAddress.email_address == address,
               EmailAddress.verification_status == "verified")
    ) is not None:
        raise ClerkError("already_a_member_in_organization", field="email_address",
                         email=address)
    now = clock.now()
    pending = db.scalars(select(OrganizationInvitation).where(
        OrganizationInvitation.organization_id == organization.id,
        OrganizationInvitation.email_address == address,
        OrganizationInvitation.status == "pending")).all()
    if any(p.expires_at > now for p in pending):
        raise ClerkError("duplicate_invitation", field="email_address", email=address)
    _check_room(instance, db, organization, invitations=True)
    instance.rate_limiter.hit("address_sends", address)
    ticket = new_token()
    invitation = OrganizationInvitation(
        id=new_id("orginv"), organization_id=organization.id, email_address=address,
        role=new_role, status="pending", inviter_id=actor.user_id,
        token_hash=token_hash(ticket),
        expires_at=now + timedelta(seconds=settings.organization_invitation_lifetime),
        public_metadata=dict(public_metadata or {}),
        private_metadata=dict(private_metadata or {}),
    )
    db.add(invitation)
    db.flush()
    emit(instance, db, "organizationInvitation.created", invitation_json(invitation))
    inviter = db.get(User, actor.user_id) if actor.user_id else None
    subject, text = emails.organization_invitation(
        organization.name, _display_name(inviter), invitation_url(instance, ticket),
        settings.organization_invitation_lifetime // 86400, settings.application_name,
    )
    mail_sent(instance, db, address, subject, text)
    db.commit()
    instance.mailer.send(address, subject, text)
    security_event("organization.invited", organization_id=organization.id,
                   invitation_id=invitation.id, by=actor.user_id)
    return invitation


def invitation_url(instance: Instance, ticket: str) -> str:
    """The link in the mail, on the instance's own configured origin (never a Host
    header): ``<frontend API>/invitations/accept?__clerk_ticket=…``."""
    return f"{instance.settings.issuer}/invitations/accept?__clerk_ticket={ticket}"


def _display_name(user: User | None) -> str | None:
    if user is None:
        return None
    name = " ".join(n for n in (user.first_name, user.last_name) if n)
    return name or user.primary_address


def revoke_invitation(
    instance: Instance, db: DbSession, actor: Actor, invitation_id: str
) -> None:
    require(instance, actor, MANAGE_MEMBERS)
    invitation = in_organization(db, OrganizationInvitation, actor, invitation_id)
    if invitation.status == "pending":
        invitation.status = "revoked"
        db.flush()
        emit(instance, db, "organizationInvitation.revoked", invitation_json(invitation))
        db.commit()


def invitations_for_user(db: DbSession, user: User) -> list[OrganizationInvitation]:
    """Pending invitations sent to any of the user's verified addresses."""
    verified = [e.email_address for e in user.email_addresses if e.verified]
    if not verified:
        return []
    return list(db.scalars(
        select(OrganizationInvitation)
        .options(selectinload(OrganizationInvitation.organization))
        .where(OrganizationInvitation.email_address.in_(verified),
               OrganizationInvitation.status == "pending",
               OrganizationInvitation.expires_at > clock.now())
        .order_by(OrganizationInvitation.created_at)
    ))


def find_invitation(db: DbSession, ticket: str | None) -> OrganizationInvitation | None:
    """The pending, unexpired invitation a link's ticket names, or None."""
    if not ticket or len(ticket) > 200:
        return None
    invitation = db.scalars(
        select(OrganizationInvitation)
        .options(selectinload(OrganizationInvitation.organization))
        .where(OrganizationInvitation.token_hash == token_hash(ticket))
    ).first()
    if invitation is None or invitation.status != "pending" or (
        invitation.expires_at <= clock.now()
    ):
        return None
    return invitation


def accept_invitation(
    instance: Instance, db: DbSession, user: User, ticket: str | None
) -> OrganizationMembership:
    """Join the organization of the invitation sent to one of ``user``'s verified
    addresses. Single use: the invitation is then accepted."""
    invitation = find_invitation(db, ticket)
    if invitation is None:
        raise ClerkError("invitation_invalid", status=400)
    return _accept(instance, db, user, invitation)


def accept_user_invitation(
    instance: Instance, db: DbSession, user: User, invitation_id: str
) -> OrganizationMembership:
    """Accept, without the link, an invitation sent to one of ``user``'s verified
    addresses (the verified address proves what the link would): the switcher's
    "Join" button. Anyone else's invitation is not found."""
    invitation = next((i for i in invitations_for_user(db, user) if i.id == invitation_id),
                      None)
    if invitation is None:
        raise NotFound("resource_not_found")
    return _accept(instance, db, user, invitation)


def _accept(instance: Instance, db: DbSession, user: User, invitation: OrganizationInvitation
            ) -> OrganizationMembership:
    verified = {e.email_address for e in user.email_addresses if e.verified}
    if invitation.email_address not in verified:
        raise Forbidden("invitation_email_mismatch", email=invitation.email_address)
    invitation.status = "accepted"
    db.flush()
    emit(instance, db, "organizationInvitation.accepted", invitation_json(invitation))
    membership = add_member(instance, db, invitation.organization, user.id, invitation.role)
    security_event("organization.joined", organization_id=invitation.organization_id,
                   user_id=user.id, invitation_id=invitation.id)
    return membership


def add_member(
    instance: Instance, db: DbSession, organization: Organization, user_id: str, role: str
) -> OrganizationMembership:
    """Add the user (if there is room) and commit with whatever else is pending; a
    user who is a member already keeps their membership and role."""
    existing = db.scalars(select(OrganizationMembership).where(
        OrganizationMembership.organization_id == organization.id,
        OrganizationMembership.user_id == user_id)).first()
    if existing is not None:
        db.commit()
        return existing
    _check_room(instance, db, organization, invitations=False)
    membership = _new_membership(organization.id, user_id, role)
    db.add(membership)
    try:
        _membership_event(instance, db, "organizationMembership.created", membership)
        db.commit()
    except IntegrityError:  # added twice at once: the other request won
        db.rollback()
        return membership_of(db, user_id, organization.id)
    return membership


def _new_membership(organization_id: str, user_id: str, role: str) -> OrganizationMembership:
    return OrganizationMembership(id=new_id("orgmem"), organization_id=organization_id,
                                  user_id=user_id, role=role, public_metadata={},
                                  private_metadata={})


def sign_up_with_invitation(
    instance: Instance, db: DbSession, request: RequestInfo, ticket: str | None, *,
    password: str, first_name: str | None = None, last_name: str | None = None,
    previous_client_token: str | None = None,
) -> SignedIn:
    """Create an account from an invitation link and sign it in, in the organization.

    The invitation was mailed to its address, so the link stands in for the email
    code (Clerk's ``ticket`` strategy): the address is verified at once. An
    address that already has an account must sign in and accept instead.
    """
    settings = instance.settings
    instance.rate_limiter.hit("sign_up", request.ip_address or "-")
    invitation = find_invitation(db, ticket)
    if invitation is None:
        raise ClerkError("invitation_invalid", status=400)
    address = invitation.email_address
    check_sign_up_allowed(instance, db, address)  # the block list, a rejected waitlist entry
    name_mode = settings.sign_up_name
    first = last = None
    if name_mode != "off":
        first = clean_name(first_name, "first_name", required=name_mode == "required")
        last = clean_name(last_name, "last_name", required=name_mode == "required")
    digest = new_password_digest(instance, password,
                                 password_context(instance, address, first, last))
    if find_user_by_email(db, address) is not None:
        raise ClerkError("form_identifier_exists", field="email_address")
    _check_room(instance, db, invitation.organization, invitations=False)
    user = create_user(db, email_address=address, password_digest=digest,
                       first_name=first, last_name=last, email_strategy="ticket")
    membership = _new_membership(invitation.organization_id, user.id, invitation.role)
    db.add(membership)
    invitation.status = "accepted"
    try:
        db.flush()
    except IntegrityError:  # the address was verified by another account meanwhile
        db.rollback()
        raise ClerkError("form_identifier_exists", field="email_address") from None
    emit(instance, db, "user.created", user_json(user), request)
    emit(instance, db, "organizationInvitation.accepted", invitation_json(invitation))
    accept_invitations(instance, db, address)  # the instance's, and a waitlist entry
    _membership_event(instance, db, "organizationMembership.created", membership)
    signed_in = create_session(instance, db, user, request,
                               previous_client_token=previous_client_token,
                               active=(membership, invitation.organization))
    try:
        db.commit()
    except IntegrityError:  # the address was verified by another account meanwhile
        db.rollback()
        raise ClerkError("form_identifier_exists", field="email_address") from None
    security_event("user.created", user_id=user.id, session_id=signed_in.session.id,
                   ip=request.ip_address, invitation_id=invitation.id)
    return signed_in
