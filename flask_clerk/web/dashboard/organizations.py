"""The dashboard's organizations: the list, one organization (members, invitations,
roles changed, members removed, deletion), and the roles and their permissions.
Only with ``CLERK_ORGANIZATIONS``."""

from __future__ import annotations

from flask import abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from ...core import organizations as orgs
from ...core.models import Organization
from ...core.organization_roles import add_role, remove_role
from ...errors import ClerkError
from ...extension import db_session, state
from ..forms import field, form_state
from . import PAGE_SIZE, admin_view, audited, bp, dashboard_action, page_number, render_page


def _enabled() -> None:
    if not state().settings.organizations:
        abort(404)


def _actor(organization_id: str) -> orgs.BackendActor:
    return orgs.BackendActor(orgs.find_organization(db_session(), organization_id),
                             g.clerk_admin.id)


@bp.get("/organizations")
@admin_view
def organizations() -> Response:
    _enabled()
    query = request.args.get("query", "").strip()[:200]
    number = page_number()
    found, total = orgs.search_organizations(
        db_session(), query=query or None, ids=[], order_by="-created_at",
        limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    roles = sorted(state().instance.roles().values(), key=lambda r: r.key)
    return render_page("organizations", organizations=found, total=total, page=number,
                       pages=max(1, -(-total // PAGE_SIZE)), query=query, roles=roles,
                       form=form_state("dashboard.role"))


@bp.get("/organizations/<organization_id>")
@admin_view
def organization(organization_id: str) -> Response:
    _enabled()
    actor = _actor(organization_id)
    instance, db = state().instance, db_session()
    roles = sorted(instance.roles().values(), key=lambda r: r.key)
    return render_page("organization", organization=actor.organization,
                       members=orgs.members(instance, db, actor),
                       invitations=orgs.pending_invitations(instance, db, actor), roles=roles,
                       form=form_state("dashboard.member", "dashboard.organization"))


def _back(organization: Organization) -> Response:
    return redirect(url_for(".organization", organization_id=organization.id), 303)


@bp.post("/organizations/<organization_id>/members/<membership_id>/role")
@dashboard_action("member")
def change_member_role(organization_id: str, membership_id: str) -> Response:
    _enabled()
    actor = _actor(organization_id)
    with audited("organization.member_role_changed", actor.organization,
                  membership_id=membership_id, role=field("role")[:64]):
        orgs.change_role(state().instance, db_session(), actor, membership_id, field("role"))
    return _back(actor.organization)


@bp.post("/organizations/<organization_id>/members/<membership_id>/remove")
@dashboard_action("member")
def remove_member(organization_id: str, membership_id: str) -> Response:
    _enabled()
    actor = _actor(organization_id)
    with audited("organization.member_removed", actor.organization,
                  membership_id=membership_id):
        orgs.remove_member(state().instance, db_session(), actor, membership_id)
    return _back(actor.organization)


@bp.post("/organizations/<organization_id>/invitations/<invitation_id>/revoke")
@dashboard_action("member")
def revoke_invitation(organization_id: str, invitation_id: str) -> Response:
    _enabled()
    actor = _actor(organization_id)
    with audited("organization.invitation_revoked", actor.organization,
                  invitation_id=invitation_id):
        orgs.revoke_invitation(state().instance, db_session(), actor, invitation_id)
    return _back(actor.organization)


@bp.post("/organizations/<organization_id>/delete")
@dashboard_action("organization")
def delete_organization(organization_id: str) -> Response:
    _enabled()
    organization = _actor(organization_id).organization
    if field("confirmation").strip() != organization.slug:
        raise ClerkError("form_confirmation_mismatch", field="confirmation",
                         expected=organization.slug)
    with audited("organization.deleted", organization, name=organization.name):
        orgs.remove_organization(state().instance, db_session(), organization, by=None)
    return redirect(url_for(".organizations"), 303)


@bp.post("/roles")
@dashboard_action("role", keep=("key", "name", "permissions"))
def create_role() -> Response:
    _enabled()
    permissions = [p for p in field("permissions").replace(",", " ").split() if p]
    with audited("role.created") as entry:
        role = add_role(state().instance, db_session(), field("key"), name=field("name") or None,
                        permissions=permissions)
        entry.target_type, entry.target_id = "role", role.key
        entry.details = {"permissions": list(role.permissions)}
    return redirect(url_for(".organizations"), 303)


@bp.post("/roles/<path:key>/remove")
@dashboard_action("role")
def delete_role(key: str) -> Response:
    _enabled()
    with audited("role.removed", ("role", key[:64])):
        remove_role(state().instance, db_session(), key)
    return redirect(url_for(".organizations"), 303)
