"""The organization components' form endpoints (``/__clerk/organizations/...``) and
invitation links: thin adapters over :mod:`flask_clerk.core.organizations`.

Registered only when ``CLERK_ORGANIZATIONS`` is on. Every route that names an
organization first finds the signed-in user's membership in it (a non-member
gets a 404, whatever the id) and passes that membership to the flow, which
checks the role's permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

from flask import Blueprint, redirect, request
from werkzeug.wrappers import Response

from ..core import organization_domains as domains
from ..core import organizations as orgs
from ..core.models import OrganizationMembership
from ..core.roles import (
    DELETE_ORGANIZATION,
    MANAGE_DOMAINS,
    MANAGE_MEMBERS,
    MANAGE_PROFILE,
    READ_DOMAINS,
    READ_MEMBERS,
)
from ..errors import AuthenticationError, NotFound
from ..extension import db_session, request_info, state
from ..redirects import safe_redirect_url
from ..request import auth, token_expiry
from .forms import back, field, form_action, form_state
from .pages import no_framing
from .views import account_reverification, reissued, user_row, with_token

TICKET_PARAM = "__clerk_ticket"
P = ParamSpec("P")

bp = Blueprint("clerk_organizations", __name__, url_prefix="/__clerk")


@bp.after_request
def _no_framing(response: Response) -> Response:
    return no_framing(response)


def _activate(organization_id: str | None) -> str:
    """Make ``organization_id`` (None: the personal account) the session's active
    one; its new token, which expires when the current one does."""
    current = auth(treat_pending_as_signed_out=False)
    return orgs.set_active_organization(
        state().instance, db_session(), current.session_id or "", _user_id(),
        organization_id, request_info(), not_after=token_expiry(current))


def _user_id() -> str:
    user_id = auth(treat_pending_as_signed_out=False).user_id
    if user_id is None:
        raise AuthenticationError("authentication_invalid")
    return user_id


def _membership(organization_id: str, *, leaving: bool = False) -> OrganizationMembership:
    """The signed-in user's membership, to act in the organization with. Where the
    organization requires a second factor, a member without one may only leave."""
    membership = orgs.membership_of(db_session(), _user_id(), organization_id)
    if (not leaving and membership.organization.mfa_required
            and membership.user.mfa_enabled_at is None):
        raise orgs.Forbidden("organization_mfa_required")
    return membership


def _action(
    form: str, keep: tuple[str, ...] = ()
) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    return form_action(f"organization.{form}", keep=keep, fallback="organization_profile_url")


def _redirect_field(fallback: str) -> str:
    return safe_redirect_url(field("redirect_url"), fallback=fallback,
                             allowed_origins=state().settings.allowed_redirect_origins)


# -- Create and switch ------------------------------------------------------------------


@bp.post("/organizations")
@form_action("organization.create", keep=("name", "slug"), fallback="create_organization_url")
def create() -> Response:
    instance = state().instance
    organization = orgs.create_organization(
        instance, db_session(), user_row(), name=field("name"), slug=field("slug"),
    )
    token = _activate(organization.id)
    target = _redirect_field(state().settings.after_create_organization_url)
    return with_token(redirect(target, 303), token)


@bp.post("/organizations/active")
@form_action("organization.switch", fallback="after_sign_in_url")
def switch() -> Response:
    token = _activate(field("organization_id") or None)
    target = field("redirect_url")
    response = redirect(_redirect_field("/"), 303) if target else back("/")
    return with_token(response, token)


# -- The organization's profile ---------------------------------------------------------


@bp.post("/organizations/<organization_id>/profile")
@_action("profile", keep=("name", "slug", "image_url"))
def update_profile(organization_id: str) -> Response:
    orgs.update_organization(
        state().instance, db_session(), _membership(organization_id), name=field("name"),
        slug=field("slug"), image_url=field("image_url"),
    )
    return reissued(back(state().settings.organization_profile_url))


@bp.post("/organizations/<organization_id>/mfa")
@_action("mfa")
@account_reverification
def require_mfa(organization_id: str) -> Response:
    orgs.require_mfa(state().instance, db_session(), _membership(organization_id),
                     required=field("required") == "1")
    return reissued(back(state().settings.organization_profile_url))


@bp.post("/organizations/<organization_id>/delete")
@_action("delete")
def delete(organization_id: str) -> Response:
    orgs.delete_organization(state().instance, db_session(), _membership(organization_id),
                             confirmation=field("confirmation"))
    return reissued(redirect(state().settings.after_leave_organization_url, 303))


@bp.post("/organizations/<organization_id>/leave")
@_action("leave")
def leave(organization_id: str) -> Response:
    orgs.leave_organization(state().instance, db_session(),
                            _membership(organization_id, leaving=True))
    return reissued(redirect(state().settings.after_leave_organization_url, 303))


# -- Members and invitations -----------------------------------------------------------


@bp.post("/organizations/<organization_id>/invitations")
@_action("invite", keep=("email_address", "role"))
def invite(organization_id: str) -> Response:
    orgs.invite_member(state().instance, db_session(), request_info(),
                       _membership(organization_id), email_address=field("email_address"),
                       role=field("role") or None)
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/invitations/<invitation_id>/revoke")
@_action("members")
def revoke_invitation(organization_id: str, invitation_id: str) -> Response:
    orgs.revoke_invitation(state().instance, db_session(), _membership(organization_id),
                           invitation_id)
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/memberships/<membership_id>/role")
@_action("members")
def change_role(organization_id: str, membership_id: str) -> Response:
    orgs.change_role(state().instance, db_session(), _membership(organization_id),
                     membership_id, field("role"))
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/memberships/<membership_id>/remove")
@_action("members")
def remove_member(organization_id: str, membership_id: str) -> Response:
    orgs.remove_member(state().instance, db_session(), _membership(organization_id),
                       membership_id)
    return back(state().settings.organization_profile_url)


# -- Verified domains and requests to join ---------------------------------------------


@bp.post("/organizations/<organization_id>/domains")
@_action("domains", keep=("name", "enrollment_mode"))
def add_domain(organization_id: str) -> Response:
    domains.add_domain(state().instance, db_session(), _membership(organization_id), user_row(),
                       field("name"), field("enrollment_mode") or None)
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/domains/<domain_id>/send-code")
@_action("domains", keep=("email_address", "domain_id"))
def send_domain_code(organization_id: str, domain_id: str) -> Response:
    domains.send_domain_code(state().instance, db_session(), request_info(),
                             _membership(organization_id), domain_id, field("email_address"))
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/domains/<domain_id>/verify")
@_action("domains", keep=("domain_id",))
def verify_domain(organization_id: str, domain_id: str) -> Response:
    domains.verify_domain(state().instance, db_session(), request_info(),
                          _membership(organization_id), domain_id, field("code"))
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/domains/<domain_id>/mode")
@_action("domains")
def domain_mode(organization_id: str, domain_id: str) -> Response:
    domains.set_enrollment_mode(state().instance, db_session(), _membership(organization_id),
                                domain_id, field("enrollment_mode"))
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/domains/<domain_id>/remove")
@_action("domains")
def remove_domain(organization_id: str, domain_id: str) -> Response:
    domains.remove_domain(state().instance, db_session(), _membership(organization_id),
                          domain_id)
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/requests/<request_id>/<decision>")
@_action("members")
def decide_request(organization_id: str, request_id: str, decision: str) -> Response:
    if decision not in {"approve", "reject"}:
        raise NotFound("resource_not_found")
    domains.decide_request(state().instance, db_session(), _membership(organization_id),
                           request_id, approve=decision == "approve")
    return back(state().settings.organization_profile_url)


@bp.post("/organizations/<organization_id>/join")
@form_action("organization.switch", fallback="choose_organization_url")
def join(organization_id: str) -> Response:
    """Join (automatic invitation) or ask to join (suggestion) through a domain."""
    instance = state().instance
    outcome = domains.join_by_domain(instance, db_session(), user_row(), organization_id)
    if outcome == "requested":
        return back(state().settings.choose_organization_url)
    return _joined(organization_id)


# -- Invitation links -----------------------------------------------------------------


@bp.get("/invitations/accept")
def invitation_link() -> Response:
    """The link in the invitation mail. Signed out: sign up (or sign in) first,
    carrying the ticket; signed in: the page with the "Join" button."""
    settings = state().settings
    ticket = request.args.get(TICKET_PARAM, "")
    if not auth(treat_pending_as_signed_out=False).is_signed_in:
        from urllib.parse import urlencode

        return redirect(f"{settings.sign_up_url}?{urlencode({TICKET_PARAM: ticket})}")
    from .pages import account_page_response

    return account_page_response("accept_invitation")


@bp.post("/invitations/accept")
@form_action("organization.accept", fallback="after_sign_in_url")
def accept_invitation() -> Response:
    instance = state().instance
    membership = orgs.accept_invitation(instance, db_session(), user_row(),
                                        field("ticket"))
    return _joined(membership.organization_id)


@bp.post("/invitations/<invitation_id>/accept")
@form_action("organization.switch", fallback="choose_organization_url")
def accept_user_invitation(invitation_id: str) -> Response:
    """"Join" in the switcher or the list: an invitation to one of the user's
    verified addresses, accepted without the mailed link."""
    instance = state().instance
    membership = orgs.accept_user_invitation(instance, db_session(), user_row(), invitation_id)
    return _joined(membership.organization_id)


def _joined(organization_id: str) -> Response:
    """Make the organization just joined the active one and go on."""
    token = _activate(organization_id)
    return with_token(redirect(_redirect_field(state().settings.after_sign_in_url), 303),
                       token)


# -- What the components show -----------------------------------------------------------


def switcher_context() -> dict[str, Any]:
    """The OrganizationSwitcher / OrganizationList: the user's organizations, the
    active one, and invitations waiting for the user's verified addresses."""
    current = auth(treat_pending_as_signed_out=False)
    if not current.is_signed_in:
        return {"memberships": [], "active": None, "role_names": {}, "invitations": [],
                "offers": [], "form": form_state()}
    assert current.user_id is not None
    memberships = orgs.user_memberships(db_session(), current.user_id)
    active = next((m for m in memberships if m.organization_id == current.org_id), None)
    return {
        "memberships": memberships,
        "active": active,
        "role_names": _role_names(),
        "invitations": orgs.invitations_for_user(db_session(), user_row()),
        "offers": domains.offers_for_user(db_session(), user_row()),
        "form": form_state("organization.switch", "organization.create"),
    }


def profile_context(props: dict[str, Any]) -> dict[str, Any]:
    """The OrganizationProfile: the active organization (or ``organization_id``)."""
    current = auth(treat_pending_as_signed_out=False)
    organization_id = props.get("organization_id") or current.org_id
    if not current.is_signed_in or not organization_id:
        return {"membership": None, "form": form_state()}
    instance = state().instance
    try:
        membership = orgs.membership_of(db_session(), _user_id(), organization_id)
    except NotFound:  # removed a moment ago: the token still names it for a minute
        return {"membership": None, "form": form_state()}
    role = orgs.role_of(instance, membership)
    can = {name: role.can(permission) for name, permission in (
        ("manage_profile", MANAGE_PROFILE), ("delete", DELETE_ORGANIZATION),
        ("read_members", READ_MEMBERS), ("manage_members", MANAGE_MEMBERS),
        ("read_domains", READ_DOMAINS), ("manage_domains", MANAGE_DOMAINS))}
    page = request.args.get("page", props.get("page", "general"))
    return {
        "membership": membership,
        "organization": membership.organization,
        "can": can,
        "page": page if page in {"general", "members"} else "general",
        "members": orgs.members(instance, db_session(), membership) if can["read_members"]
        else [],
        "invitations": orgs.pending_invitations(instance, db_session(), membership)
        if can["read_members"] else [],
        "requests": domains.membership_requests(instance, db_session(), membership)
        if can["manage_members"] else [],
        "domains": domains.domains(instance, db_session(), membership)
        if can["read_domains"] else [],
        "enrollment_modes": domains.ENROLLMENT_MODES,
        "roles": sorted(instance.roles().values(), key=lambda r: (r.key != "org:admin", r.name)),
        "form": form_state(
            "organization.profile", "organization.delete", "organization.leave", "organization.mfa",
            "organization.invite", "organization.members", "organization.domains",
        ),
    }


def _role_names() -> dict[str, str]:
    return {key: role.name for key, role in state().instance.roles().items()}


def invitation_context() -> dict[str, Any]:
    ticket = request.args.get(TICKET_PARAM, "")
    return {
        "invitation": orgs.find_invitation(db_session(), ticket),
        "ticket": ticket,
        "role_names": _role_names(),
        "form": form_state("organization.accept"),
    }
