"""``/v1/organizations``: organizations, their memberships and invitations.

The secret key acts as the instance's administrator (:class:`BackendActor`), so
the same flows as the components run, with an admin's permissions.
"""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from ...core import clock
from ...core import organizations as orgs
from ...core.models import (
    Organization,
    OrganizationInvitation,
    OrganizationMembership,
    User,
)
from ...core.serializers import invitation_json, membership_json, organization_json
from ...core.store import fetch_page
from ...core.user_admin import get_user
from ...core.user_import import clean_metadata
from ...errors import ClerkError
from ...extension import db_session, request_info, state
from . import bp, json_response
from .params import Body, check_query, page, query_bool, query_list

# The column is a 32-bit integer on PostgreSQL: a larger limit is refused, not overflowed.
MAX_MEMBERSHIPS = 2**31 - 1


def _actor(organization_id: str, user_id: str | None = None) -> orgs.BackendActor:
    return orgs.BackendActor(orgs.find_organization(db_session(), organization_id), user_id)


def _counted(db: DbSession, organizations: list[Organization]) -> list[dict[str, Any]]:
    """Organizations with their member and pending invitation counts, in two queries."""
    ids = [o.id for o in organizations]
    members = dict(db.execute(
        select(OrganizationMembership.organization_id, func.count())
        .where(OrganizationMembership.organization_id.in_(ids))
        .group_by(OrganizationMembership.organization_id)).all())
    pending = dict(db.execute(
        select(OrganizationInvitation.organization_id, func.count())
        .where(OrganizationInvitation.organization_id.in_(ids),
               OrganizationInvitation.status == "pending",
               OrganizationInvitation.expires_at > clock.now())
        .group_by(OrganizationInvitation.organization_id)).all())
    return [organization_json(o, members_count=members.get(o.id, 0),
                              pending_invitations_count=pending.get(o.id, 0))
            for o in organizations]


def _one(organization: Organization) -> Response:
    return json_response(_counted(db_session(), [organization])[0])


def _admin_fields(body: Body) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "max_allowed_memberships" in body:
        limit = body.take("max_allowed_memberships", int)
        if limit is not None and not 0 <= limit <= MAX_MEMBERSHIPS:
            raise ClerkError("form_param_format_invalid", field="max_allowed_memberships")
        changes["max_allowed_memberships"] = limit or None  # 0: unlimited, as Clerk
    if (delete_enabled := body.take("admin_delete_enabled", bool)) is not None:
        changes["admin_delete_enabled"] = delete_enabled
    changes.update(_metadata_patches(body))
    return changes


def _metadata_patches(body: Body) -> dict[str, dict[str, Any]]:
    """The ``public_metadata`` and ``private_metadata`` objects a body gives."""
    taken = {kind: body.take(kind, dict) for kind in ("public_metadata", "private_metadata")}
    return {kind: clean_metadata(value, kind) for kind, value in taken.items()
            if value is not None}


@bp.get("/organizations")
def list_organizations() -> Response:
    check_query({"limit", "offset", "query", "order_by", "include_members_count",
                 "organization_id"})
    query_bool("include_members_count")  # the counts are always included
    limit, offset = page()
    db = db_session()
    found, total = orgs.search_organizations(
        db, query=request.args.get("query"), ids=query_list("organization_id"),
        order_by=request.args.get("order_by") or "-created_at", limit=limit, offset=offset)
    return json_response({"data": _counted(db, found), "total_count": total})


@bp.post("/organizations")
def create_organization() -> Response:
    body = Body.from_request()
    name = body.take("name", str, required=True)
    slug = body.take("slug", str)
    created_by = body.take("created_by", str)
    changes = _admin_fields(body)
    body.done()
    db = db_session()
    creator = get_user(db, created_by) if created_by else None
    organization = orgs.create_organization(state().instance, db, creator, name=name, slug=slug,
                                            by_admin=True, changes=changes)
    return _one(organization)


@bp.get("/organizations/<organization_id>")
def get_organization(organization_id: str) -> Response:
    check_query({"include_members_count"})
    return _one(orgs.find_organization(db_session(), organization_id))


@bp.patch("/organizations/<organization_id>")
def update_organization(organization_id: str) -> Response:
    body = Body.from_request()
    name, slug = body.take("name", str), body.take("slug", str)
    changes = _admin_fields(body)
    body.done()
    organization = orgs.change_organization(
        state().instance, db_session(), orgs.find_organization(db_session(), organization_id),
        name=name, slug=slug, changes=changes)
    return _one(organization)


@bp.patch("/organizations/<organization_id>/metadata")
def merge_organization_metadata(organization_id: str) -> Response:
    body = Body.from_request()
    patches = _metadata_patches(body)
    body.done()
    organization = orgs.find_organization(db_session(), organization_id)
    return _one(orgs.update_organization_metadata(state().instance, db_session(),
                                                  organization, patches))


@bp.delete("/organizations/<organization_id>")
def delete_organization(organization_id: str) -> Response:
    organization = orgs.find_organization(db_session(), organization_id)
    orgs.remove_organization(state().instance, db_session(), organization, by=None)
    return json_response({"object": "organization", "id": organization.id, "deleted": True,
                          "slug": organization.slug})


# --- Memberships ---------------------------------------------------------------------


def _membership_json(membership: OrganizationMembership) -> dict[str, Any]:
    role = orgs.role_of(state().instance, membership)
    return membership_json(membership, role_name=role.name,
                           permissions=list(role.custom_permissions))


def memberships_page(db: DbSession, statement: Select[Any]) -> Response:
    """A ``{data, total_count}`` page of memberships, oldest first."""
    limit, offset = page()
    found, total = fetch_page(db, statement.order_by(OrganizationMembership.created_at,
                                                     OrganizationMembership.id), limit, offset)
    return json_response({"data": [_membership_json(m) for m in found], "total_count": total})


@bp.get("/organizations/<organization_id>/memberships")
def list_memberships(organization_id: str) -> Response:
    check_query({"limit", "offset", "order_by", "role", "user_id"})
    organization = orgs.find_organization(db_session(), organization_id)
    statement = (select(OrganizationMembership)
                 .options(joinedload(OrganizationMembership.organization),
                          joinedload(OrganizationMembership.user).selectinload(
                              User.email_addresses))
                 .where(OrganizationMembership.organization_id == organization.id))
    if user_ids := query_list("user_id"):
        statement = statement.where(OrganizationMembership.user_id.in_(user_ids))
    if roles := query_list("role"):
        statement = statement.where(OrganizationMembership.role.in_(roles))
    return memberships_page(db_session(), statement)


@bp.post("/organizations/<organization_id>/memberships")
def create_membership(organization_id: str) -> Response:
    body = Body.from_request()
    user_id = body.take("user_id", str, required=True)
    role = body.take("role", str, required=True)
    metadata = _metadata_patches(body)
    body.done()
    db, instance = db_session(), state().instance
    organization = orgs.find_organization(db, organization_id)
    user = get_user(db, user_id)
    known = orgs.known_role(instance, role)
    if db.scalar(select(OrganizationMembership.id).where(
            OrganizationMembership.organization_id == organization.id,
            OrganizationMembership.user_id == user.id)) is not None:
        raise ClerkError("already_a_member_in_organization", field="user_id",
                         email=user.primary_address or user.id)
    membership = orgs.add_member(instance, db, organization, user.id, known)
    if metadata:
        membership = orgs.update_membership_metadata(instance, db, membership, metadata)
    return json_response(_membership_json(membership))


@bp.patch("/organizations/<organization_id>/memberships/<user_id>")
def update_membership(organization_id: str, user_id: str) -> Response:
    body = Body.from_request()
    role = body.take("role", str, required=True)
    body.done()
    actor = _actor(organization_id)
    membership = orgs.membership_of(db_session(), user_id, actor.organization_id)
    changed = orgs.change_role(state().instance, db_session(), actor, membership.id, role)
    return json_response(_membership_json(changed))


@bp.patch("/organizations/<organization_id>/memberships/<user_id>/metadata")
def merge_membership_metadata(organization_id: str, user_id: str) -> Response:
    body = Body.from_request()
    patches = _metadata_patches(body)
    body.done()
    actor = _actor(organization_id)
    membership = orgs.membership_of(db_session(), user_id, actor.organization_id)
    changed = orgs.update_membership_metadata(state().instance, db_session(), membership,
                                              patches)
    return json_response(_membership_json(changed))


@bp.delete("/organizations/<organization_id>/memberships/<user_id>")
def delete_membership(organization_id: str, user_id: str) -> Response:
    actor = _actor(organization_id)
    membership = orgs.membership_of(db_session(), user_id, actor.organization_id)
    gone = _membership_json(membership)
    orgs.remove_member(state().instance, db_session(), actor, membership.id)
    return json_response(gone)


# --- Invitations ---------------------------------------------------------------------


@bp.get("/organizations/<organization_id>/invitations")
def list_organization_invitations(organization_id: str) -> Response:
    check_query({"limit", "offset", "status", "order_by"})
    limit, offset = page()
    organization = orgs.find_organization(db_session(), organization_id)
    found, total = orgs.invitations_of(db_session(), organization, query_list("status"),
                                       limit=limit, offset=offset)
    return json_response({"data": [invitation_json(i) for i in found], "total_count": total})


@bp.post("/organizations/<organization_id>/invitations")
def create_organization_invitation(organization_id: str) -> Response:
    body = Body.from_request()
    email = body.take("email_address", str, required=True)
    role = body.take("role", str, required=True)
    inviter = body.take("inviter_user_id", str)
    metadata = _metadata_patches(body)
    body.done()
    if inviter is not None:
        get_user(db_session(), inviter)
    invitation = orgs.invite_member(
        state().instance, db_session(), request_info(), _actor(organization_id, inviter),
        email_address=email, role=role, **metadata)
    return json_response(invitation_json(invitation))


@bp.post("/organizations/<organization_id>/invitations/<invitation_id>/revoke")
def revoke_organization_invitation(organization_id: str, invitation_id: str) -> Response:
    body = Body.from_request()
    requester = body.take("requesting_user_id", str)
    body.done()
    actor = _actor(organization_id, requester)
    orgs.revoke_invitation(state().instance, db_session(), actor, invitation_id)
    invitation = orgs.in_organization(db_session(), OrganizationInvitation, actor,
                                      invitation_id)
    return json_response(invitation_json(invitation))
