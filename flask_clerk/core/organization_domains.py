"""Verified domains: people whose verified address is on an organization's domain
are invited automatically, or may ask to join, as the domain's enrollment mode says.

A domain counts only once verified: at once when the admin adding it has a
verified address on it, otherwise with a code mailed to an address there.
``manual_invitation`` does nothing; ``automatic_invitation`` lets such a user
join straight away (with the default role); ``automatic_suggestion`` lets them
ask, and a member with ``org:sys_memberships:manage`` approves or rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from ..errors import ClerkError, NotFound
from ..ids import new_id
from . import clock, emails
from .audit import security_event
from .codes import check_code, issue_code
from .instance import Instance, RequestInfo
from .models import (
    Organization,
    OrganizationDomain,
    OrganizationMembership,
    OrganizationMembershipRequest,
    User,
)
from .organizations import add_member, in_organization, require
from .roles import MANAGE_DOMAINS, MANAGE_MEMBERS, READ_DOMAINS
from .users import normalize_email
from .webhooks import mail_sent

ENROLLMENT_MODES = ("manual_invitation", "automatic_invitation", "automatic_suggestion")
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Everyone has an address there: such a domain says nothing about a company.
COMMON_PROVIDERS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com",
    "yandex.com", "yandex.ru", "mail.ru", "zoho.com", "fastmail.com", "hey.com", "qq.com",
    "163.com", "126.com", "tutanota.com", "example.com",
})


def _domain_of(address: str) -> str:
    return address.rsplit("@", 1)[1]


# --- Managing an organization's domains ----------------------------------------------------


def domains(instance: Instance, db: DbSession, actor: OrganizationMembership
            ) -> list[OrganizationDomain]:
    require(instance, actor, READ_DOMAINS)
    return list(db.scalars(select(OrganizationDomain).where(
        OrganizationDomain.organization_id == actor.organization_id
    ).order_by(OrganizationDomain.name)))


def add_domain(
    instance: Instance, db: DbSession, actor: OrganizationMembership, user: User, name: str,
    enrollment_mode: str | None = None,
) -> OrganizationDomain:
    require(instance, actor, MANAGE_DOMAINS)
    domain_name = (name or "").strip().lower().removeprefix("@").rstrip(".")
    if not domain_name:
        raise ClerkError("form_param_missing", field="name")
    if not _DOMAIN.match(domain_name):
        raise ClerkError("organization_domain_invalid", field="name")
    if domain_name in COMMON_PROVIDERS:
        raise ClerkError("organization_domain_common", field="name", domain=domain_name)
    mode = _mode(enrollment_mode or "manual_invitation")
    taken = db.scalars(select(OrganizationDomain).where(
        OrganizationDomain.name == domain_name)).all()
    if any(d.organization_id == actor.organization_id for d in taken):
        raise ClerkError("duplicate_record", field="name", key=domain_name)
    if any(d.verified for d in taken):
        raise ClerkError("organization_domain_exists", field="name", domain=domain_name)
    domain = OrganizationDomain(id=new_id("orgdmn"), organization_id=actor.organization_id,
                                name=domain_name, enrollment_mode=mode, verified=False)
    own = next((e.email_address for e in user.email_addresses
                if e.verified and _domain_of(e.email_address) == domain_name), None)
    if own is not None:  # the admin's own verified address proves the affiliation
        _verified(domain, own)
    db.add(domain)
    db.commit()
    return domain


def _verified(domain: OrganizationDomain, address: str) -> None:
    domain.verified = True
    domain.verification_strategy = "email_code"
    domain.affiliation_email_address = address


def send_domain_code(
    instance: Instance, db: DbSession, request: RequestInfo, actor: OrganizationMembership,
    domain_id: str, email_address: str,
) -> None:
    """Mail a code to an address on the domain; entering it verifies the domain."""
    require(instance, actor, MANAGE_DOMAINS)
    settings = instance.settings
    instance.rate_limiter.hit("send_code", request.ip_address or "-")
    domain = in_organization(db, OrganizationDomain, actor, domain_id)
    if domain.verified:
        raise ClerkError("organization_domain_verified", status=400, domain=domain.name)
    address = normalize_email(email_address)
    if _domain_of(address) != domain.name:
        raise ClerkError("organization_domain_mismatch", field="email_address",
                         domain=domain.name)
    instance.rate_limiter.hit("address_sends", address)
    # Per domain name too, across organizations and re-added rows.
    instance.rate_limiter.hit("address_sends", f"domain:{domain.name}")
    code = issue_code(domain, key=settings.code_key, lifetime=settings.code_lifetime,
                      resend_interval=settings.code_resend_interval, now=clock.now())
    domain.affiliation_email_address = address
    subject, text = emails.domain_code(code, domain.name, settings.code_lifetime // 60,
                                       settings.application_name)
    mail_sent(instance, db, address, subject, text)
    db.commit()
    instance.mailer.send(address, subject, text)


def verify_domain(
    instance: Instance, db: DbSession, request: RequestInfo, actor: OrganizationMembership,
    domain_id: str, code: str,
) -> None:
    require(instance, actor, MANAGE_DOMAINS)
    settings = instance.settings
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    domain = in_organization(db, OrganizationDomain, actor, domain_id)
    # Guesses are limited per domain name, whoever asks and however often the
    # domain is removed and added again (each row has its own attempt count).
    instance.rate_limiter.hit("address_guesses", f"domain:{domain.name}")
    check_code(db, domain, code, key=settings.code_key, max_attempts=settings.code_attempts,
               now=clock.now())
    if db.scalar(select(OrganizationDomain.id).where(
            OrganizationDomain.name == domain.name, OrganizationDomain.verified.is_(True),
            OrganizationDomain.id != domain.id)) is not None:
        raise ClerkError("organization_domain_exists", field="name", domain=domain.name)
    _verified(domain, domain.affiliation_email_address or "")
    db.commit()
    security_event("organization.domain_verified", organization_id=actor.organization_id,
                   domain=domain.name, by=actor.user_id)


def set_enrollment_mode(
    instance: Instance, db: DbSession, actor: OrganizationMembership, domain_id: str, mode: str
) -> None:
    require(instance, actor, MANAGE_DOMAINS)
    in_organization(db, OrganizationDomain, actor, domain_id).enrollment_mode = _mode(mode)
    db.commit()


def remove_domain(
    instance: Instance, db: DbSession, actor: OrganizationMembership, domain_id: str
) -> None:
    require(instance, actor, MANAGE_DOMAINS)
    db.delete(in_organization(db, OrganizationDomain, actor, domain_id))
    db.commit()


def _mode(value: str) -> str:
    if value not in ENROLLMENT_MODES:
        raise ClerkError("form_param_format_invalid", field="enrollment_mode")
    return value


# --- What a user is offered, and joining -----------------------------------------------


@dataclass(frozen=True)
class DomainOffer:
    """An organization the user may join (``automatic_invitation``) or ask to join
    (``automatic_suggestion``) thanks to a verified address on its domain."""

    organization: Organization
    mode: str
    requested: bool = False


def offers_for_user(db: DbSession, user: User) -> list[DomainOffer]:
    verified = {_domain_of(e.email_address) for e in user.email_addresses if e.verified}
    if not verified:
        return []
    rows = db.scalars(
        select(OrganizationDomain)
        .options(joinedload(OrganizationDomain.organization))
        .where(OrganizationDomain.name.in_(verified), OrganizationDomain.verified.is_(True),
               OrganizationDomain.enrollment_mode != "manual_invitation")
        .order_by(OrganizationDomain.created_at)
    ).all()
    if not rows:
        return []
    member_of = set(db.scalars(select(OrganizationMembership.organization_id).where(
        OrganizationMembership.user_id == user.id)))
    requested = set(db.scalars(select(OrganizationMembershipRequest.organization_id).where(
        OrganizationMembershipRequest.user_id == user.id,
        OrganizationMembershipRequest.status == "pending")))
    offers: dict[str, DomainOffer] = {}
    for domain in rows:
        org_id = domain.organization_id
        if org_id in member_of:
            continue
        mode = domain.enrollment_mode
        if org_id in offers and offers[org_id].mode == "automatic_invitation":
            continue  # an invitation beats a suggestion for the same organization
        offers[org_id] = DomainOffer(domain.organization, mode, org_id in requested)
    return list(offers.values())


def join_by_domain(instance: Instance, db: DbSession, user: User, organization_id: str) -> str:
    """Act on an offer: ``"joined"`` (automatic invitation) or ``"requested"``."""
    offer = next((o for o in offers_for_user(db, user)
                  if o.organization.id == organization_id), None)
    if offer is None:
        raise NotFound("resource_not_found")
    if offer.mode == "automatic_invitation":
        add_member(instance, db, offer.organization, user.id,
                   instance.settings.organization_default_role)
        security_event("organization.joined", organization_id=organization_id,
                       user_id=user.id, via="domain")
        return "joined"
    if not offer.requested:
        db.add(OrganizationMembershipRequest(id=new_id("orgreq"), organization_id=organization_id,
                                             user_id=user.id, status="pending"))
        db.commit()
    return "requested"


# --- Requests to join ---------------------------------------------------------------------


def membership_requests(
    instance: Instance, db: DbSession, actor: OrganizationMembership
) -> list[OrganizationMembershipRequest]:
    require(instance, actor, MANAGE_MEMBERS)  # Clerk shows requests to managers only
    return list(db.scalars(
        select(OrganizationMembershipRequest)
        .options(joinedload(OrganizationMembershipRequest.user).selectinload(User.email_addresses))
        .where(OrganizationMembershipRequest.organization_id == actor.organization_id,
               OrganizationMembershipRequest.status == "pending")
        .order_by(OrganizationMembershipRequest.created_at)
    ))


def decide_request(
    instance: Instance, db: DbSession, actor: OrganizationMembership, request_id: str,
    *, approve: bool,
) -> None:
    require(instance, actor, MANAGE_MEMBERS)
    row = in_organization(db, OrganizationMembershipRequest, actor, request_id)
    if row.status != "pending":
        raise NotFound("resource_not_found")
    if approve:
        organization = db.get(Organization, actor.organization_id)
        assert organization is not None
        row.status = "accepted"
        add_member(instance, db, organization, row.user_id,
                   instance.settings.organization_default_role)
    else:
        row.status = "rejected"
        db.commit()
    security_event("organization.request_decided", organization_id=actor.organization_id,
                   request_id=row.id, approved=str(approve), by=actor.user_id)

