"""Organizations: roles, permissions, the active organization in the token,
invitations, decorators, limits, membership-required mode, and isolation."""

from __future__ import annotations

import re

import pytest
from flask import jsonify, render_template_string
from sqlalchemy import event, select

from conftest import PASSWORD, post, sign_in, sign_out, sign_up
from flask_clerk import auth, org_required, org_role_required, permission_required
from flask_clerk.core.models import (
    EmailAddress,
    Organization,
    OrganizationInvitation,
    OrganizationMembership,
    User,
)
from flask_clerk.request import Auth
from flask_clerk.tokens import OrganizationClaims, decode_organization, encode_organization

ROLES = {
    "org:admin": {"permissions": ["org:projects:manage", "org:projects:delete"]},
    "org:member": {"permissions": ["org:projects:manage"]},
    "org:viewer": {"name": "Viewer", "permissions": ["org:projects:read"]},
}


def make_org_app(make_app, **config):
    app = make_app(CLERK_ORGANIZATIONS=True, CLERK_ORGANIZATION_ROLES=ROLES, **config)

    @app.get("/admin")
    @org_role_required("org:admin")
    def admin_page():
        return "admin area"

    @app.get("/api/projects/delete")
    @permission_required("org:projects:delete")
    def delete_projects():
        return jsonify(deleted=True)

    @app.get("/workspace")
    @org_required
    def workspace():
        return f"workspace of {auth().org_slug}"

    @app.get("/protected-block")
    def protected_block():
        return render_template_string(
            '{% call clerk.protect(role="admin", fallback="<not for you>") %}'
            "secret admin block{% endcall %}"
            '{% if auth().has(permission="org:projects:delete") %} and auth().has{% endif %}')

    return app


@pytest.fixture
def org_app(make_app):
    return make_org_app(make_app)


@pytest.fixture
def ada(org_app):
    """Ada, signed up and signed in, admin of Acme (active)."""
    browser = org_app.test_client()
    sign_up(browser, org_app)
    create_org(browser, "Acme Inc", "acme")
    return browser


def whoami(client):
    return client.get("/whoami").get_json()


def create_org(client, name, slug=""):
    response = post(client, "/__clerk/organizations", {"name": name, "slug": slug},
                    page="/create-organization")
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def org(app, slug):
    with app.extensions["clerk"].instance.store.session() as db:
        return db.scalars(select(Organization).where(Organization.slug == slug)).one()


def invite(client, app, organization, email, role="org:member"):
    response = post(client, f"/__clerk/organizations/{organization.id}/invitations",
                    {"email_address": email, "role": role}, page="/organization")
    assert response.status_code == 303, response.get_data(as_text=True)
    mails = app.extensions["clerk"].instance.dev_mailbox.mails(email)
    return re.search(r"__clerk_ticket=([\w-]+)", mails[0].text).group(1)


def join_by_sign_up(app, ticket, password=PASSWORD, first_name="Bea"):
    browser = app.test_client()
    page = f"/sign-up?__clerk_ticket={ticket}"
    assert b"Join " in browser.get(page).data
    response = post(browser, "/__clerk/sign-up", {
        "ticket": ticket, "password": password, "first_name": first_name, "last_name": "B",
        "email_address": "ignored@example.com",
    }, page=page)
    return browser, response


def membership(app, email, organization):
    with app.extensions["clerk"].instance.store.session() as db:
        return db.scalars(
            select(OrganizationMembership)
            .join(EmailAddress, EmailAddress.user_id == OrganizationMembership.user_id)
            .where(EmailAddress.email_address == email,
                   OrganizationMembership.organization_id == organization.id)).first()


# -- Claims and has() -----------------------------------------------------------------


def test_claims_match_clerks_documented_example():
    claims = {"o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read",
                    "fpm": "3,2"}, "fea": "o:dashboard,o:teams"}
    decoded = decode_organization(claims)
    assert decoded == OrganizationClaims(
        "org_1", "acme", "org:admin",
        ("org:dashboard:manage", "org:dashboard:read", "org:teams:read"))
    assert encode_organization(decoded) == claims


def test_system_permissions_never_enter_the_token():
    encoded = encode_organization(OrganizationClaims(
        "org_1", "acme", "org:admin", ("org:sys_memberships:manage", "org:projects:read")))
    assert encoded == {"o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "read",
                             "fpm": "1"}, "fea": "o:projects"}
    bare = encode_organization(OrganizationClaims("org_1", "acme", "org:member"))
    assert bare == {"o": {"id": "org_1", "slg": "acme", "rol": "member"}}
    assert decode_organization(bare).permissions == ()


def test_has_follows_clerks_rules():
    member = Auth(user_id="user_1", session_id="sess_1", org_id="org_1", org_role="org:admin",
                  org_permissions=("org:projects:read",))
    assert member.has(role="org:admin") and member.has(role="admin")
    assert member.has(permission="projects:read") and member.has(permission="org:projects:read")
    assert member.has(role="admin", permission="org:projects:read")
    assert not member.has(role="admin", permission="org:projects:delete")
    assert not member.has(role="org:member")
    assert not member.has(), "asking nothing fails closed"
    personal = Auth(user_id="user_1", session_id="sess_1")
    assert not personal.has(role="org:admin") and not personal.has(permission="org:x:y")
    assert not Auth().has(role="org:admin")


# -- Create, switch, token --------------------------------------------------------------


def test_creator_is_admin_and_the_token_carries_the_organization(org_app, ada):
    me = whoami(ada)
    acme = org(org_app, "acme")
    assert me["org_id"] == acme.id and me["org_slug"] == "acme" and me["org_role"] == "org:admin"
    claims = auth_claims(ada)
    assert claims["o"] == {"id": acme.id, "slg": "acme", "rol": "admin",
                           "per": "delete,manage", "fpm": "3"}
    assert claims["fea"] == "o:projects"


def auth_claims(client):
    import jwt

    return jwt.decode(client.get_cookie("__session").value, options={"verify_signature": False})


def test_switching_reissues_the_token_at_once(org_app, ada):
    acme = org(org_app, "acme")
    create_org(ada, "Globex")
    assert whoami(ada)["org_slug"] == "globex"
    response = post(ada, "/__clerk/organizations/active", {"organization_id": ""}, page="/")
    assert response.status_code == 303
    assert whoami(ada)["org_id"] is None
    post(ada, "/__clerk/organizations/active", {"organization_id": acme.id}, page="/")
    assert whoami(ada)["org_id"] == acme.id


def test_switching_to_an_organization_of_others_is_refused(org_app, ada):
    other = org_app.test_client()
    sign_up(other, org_app, email="eve@example.com")
    create_org(other, "Evil Corp", "evil")
    acme = org(org_app, "acme")
    response = post(other, "/__clerk/organizations/active", {"organization_id": acme.id},
                    page="/")
    assert response.status_code == 404
    assert whoami(other)["org_slug"] == "evil"


def test_refresh_keeps_the_organization_and_sees_role_changes(org_app, ada, frozen,
                                                             settled_settings):
    acme = org(org_app, "acme")
    ticket = invite(ada, org_app, acme, "bea@example.com")
    bea, _ = join_by_sign_up(org_app, ticket)
    bea_membership = membership(org_app, "bea@example.com", acme)
    assert whoami(bea)["org_role"] == "org:member"
    post(ada, f"/__clerk/organizations/{acme.id}/memberships/{bea_membership.id}/role",
         {"role": "org:admin"}, page="/organization")
    frozen.advance(70)  # Bea's token expires (60 s + 5 s skew); the refresh reads the new role
    queries = count_queries(org_app, lambda: whoami(bea))
    assert whoami(bea)["org_role"] == "org:admin"
    assert queries == 2, "the refresh reads session and membership in one query, then commits"


def count_queries(app, action):
    engine = app.extensions["clerk"].instance.store.engine
    seen = []

    def before(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(seen)


def test_a_removed_member_loses_the_organization_at_the_next_refresh(org_app, ada, frozen):
    acme = org(org_app, "acme")
    bea, _ = join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com"))
    post(ada, f"/__clerk/organizations/{acme.id}/memberships/"
              f"{membership(org_app, 'bea@example.com', acme).id}/remove", {},
         page="/organization")
    frozen.advance(70)
    assert whoami(bea)["org_id"] is None


def test_permission_checks_need_no_query(org_app, ada):
    ada.get("/api/projects/delete")  # warm the verified-token cache
    assert count_queries(org_app, lambda: ada.get("/api/projects/delete")) == 0


# -- Decorators and the protect block ---------------------------------------------------


def test_role_and_permission_decorators(org_app, ada):
    assert ada.get("/admin").get_data(as_text=True) == "admin area"
    assert ada.get("/api/projects/delete").get_json() == {"deleted": True}
    acme = org(org_app, "acme")
    bea, _ = join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com"))
    page = bea.get("/admin", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "have access" in page.get_data(as_text=True) and 'href="/"' in page.get_data(
        as_text=True)
    api = bea.get("/api/projects/delete", headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.get_json()["errors"][0]["code"] == "authorization_invalid"
    signed_out = org_app.test_client()
    assert signed_out.get("/admin", headers={"Accept": "text/html"}).status_code == 302
    assert signed_out.get("/api/projects/delete").status_code == 401


def test_org_required_sends_a_personal_account_to_choose(org_app, ada):
    assert ada.get("/workspace").get_data(as_text=True) == "workspace of acme"
    post(ada, "/__clerk/organizations/active", {"organization_id": ""}, page="/")
    response = ada.get("/workspace", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/choose-organization?redirect_url=%2Fworkspace"
    api = ada.get("/workspace", headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.get_json()["errors"][0]["code"] == "organization_required"


def test_protect_block_in_templates(org_app, ada):
    assert ada.get("/protected-block").get_data(as_text=True) == (
        "secret admin block and auth().has")
    post(ada, "/__clerk/organizations/active", {"organization_id": ""}, page="/")
    assert ada.get("/protected-block").get_data(as_text=True) == "&lt;not for you&gt;"


# -- Invitations ----------------------------------------------------------------------


def test_invited_user_signs_up_from_the_link(org_app, ada):
    acme = org(org_app, "acme")
    ticket = invite(ada, org_app, acme, "Bea@Example.com", role="org:viewer")
    mail = org_app.extensions["clerk"].instance.dev_mailbox.mails("bea@example.com")[0]
    assert "Ada Lovelace invited you to join Acme Inc" in mail.subject
    assert f"http://localhost/__clerk/invitations/accept?__clerk_ticket={ticket}" in mail.text
    link = org_app.test_client().get(f"/__clerk/invitations/accept?__clerk_ticket={ticket}")
    assert link.headers["Location"] == f"/sign-up?__clerk_ticket={ticket}"
    bea, response = join_by_sign_up(org_app, ticket)
    assert response.status_code == 303
    me = whoami(bea)
    assert me["org_id"] == acme.id and me["org_role"] == "org:viewer"
    with org_app.extensions["clerk"].instance.store.session() as db:
        email = db.scalars(select(EmailAddress).where(
            EmailAddress.email_address == "bea@example.com")).one()
        assert email.verification_status == "verified"
        assert email.verification_strategy == "ticket"
        invitation = db.scalars(select(OrganizationInvitation)).one()
        assert invitation.status == "accepted"
    _, again = join_by_sign_up_status(org_app, ticket)
    assert again.status_code == 400, "an invitation works once"


def test_signed_in_user_accepts_with_the_matching_address(org_app, ada):
    acme = org(org_app, "acme")
    bea = org_app.test_client()
    sign_up(bea, org_app, email="bea@example.com", first_name="Bea")
    ticket = invite(ada, org_app, acme, "bea@example.com")
    page = bea.get(f"/__clerk/invitations/accept?__clerk_ticket={ticket}")
    assert page.status_code == 200 and "Acme Inc" in page.get_data(as_text=True)
    wrong = org_app.test_client()
    sign_up(wrong, org_app, email="carl@example.com", first_name="Carl")
    refused = post(wrong, "/__clerk/invitations/accept", {"ticket": ticket}, page="/")
    assert refused.status_code == 403
    response = post(bea, "/__clerk/invitations/accept", {"ticket": ticket}, page="/")
    assert response.status_code == 303
    assert whoami(bea)["org_id"] == acme.id
    assert whoami(wrong)["org_id"] is None


def test_an_invitation_to_a_verified_address_is_accepted_without_the_link(org_app, ada):
    acme = org(org_app, "acme")
    bea = org_app.test_client()
    sign_up(bea, org_app, email="bea@example.com", first_name="Bea")
    carl = org_app.test_client()
    sign_up(carl, org_app, email="carl@example.com", first_name="Carl")
    invite(ada, org_app, acme, "bea@example.com", role="org:viewer")
    with org_app.extensions["clerk"].instance.store.session() as db:
        invitation_id = db.scalars(select(OrganizationInvitation.id)).one()
    choose = bea.get("/choose-organization").get_data(as_text=True)
    assert "Acme Inc" in choose and "Invited as Viewer" in choose
    assert f"/__clerk/invitations/{invitation_id}/accept" in choose, "a Join button"
    path = f"/__clerk/invitations/{invitation_id}/accept"
    assert post(carl, path, {}, page="/choose-organization").status_code == 404
    assert whoami(carl)["org_id"] is None
    assert post(bea, path, {}, page="/choose-organization").status_code == 303
    assert whoami(bea)["org_id"] == acme.id and whoami(bea)["org_role"] == "org:viewer"
    assert post(bea, path, {}, page="/choose-organization").status_code == 404, "used once"


def test_revoked_and_expired_invitations_do_not_work(org_app, ada, frozen):
    acme = org(org_app, "acme")
    ticket = invite(ada, org_app, acme, "bea@example.com")
    with org_app.extensions["clerk"].instance.store.session() as db:
        invitation_id = db.scalars(select(OrganizationInvitation.id)).one()
    post(ada, f"/__clerk/organizations/{acme.id}/invitations/{invitation_id}/revoke", {},
         page="/organization")
    _, response = join_by_sign_up_status(org_app, ticket)
    assert response.status_code == 400
    late = invite(ada, org_app, acme, "carl@example.com")
    frozen.advance(31 * 24 * 3600)
    _, response = join_by_sign_up_status(org_app, late)
    assert response.status_code == 400


def join_by_sign_up_status(app, ticket):
    browser = app.test_client()
    page = f"/sign-up?__clerk_ticket={ticket}"
    return browser, post(browser, "/__clerk/sign-up", {"ticket": ticket, "password": PASSWORD},
                         page=page)


def test_invitation_errors(org_app, ada):
    acme = org(org_app, "acme")
    invite(ada, org_app, acme, "bea@example.com")
    for data, status, code_text in (
        ({"email_address": "bea@example.com", "role": "org:member"}, 422, "already been invited"),
        ({"email_address": "ada@example.com", "role": "org:member"}, 422, "already a member"),
        ({"email_address": "not-an-email", "role": "org:member"}, 422, "valid email"),
        ({"email_address": "carl@example.com", "role": "org:owner"}, 422, "valid value"),
    ):
        response = post(ada, f"/__clerk/organizations/{acme.id}/invitations", data,
                        page="/organization?page=members")
        assert response.status_code == status, (data, response.status_code)
        assert code_text in response.get_data(as_text=True)


def test_an_address_with_an_account_must_sign_in_to_accept(org_app, ada):
    acme = org(org_app, "acme")
    bea = org_app.test_client()
    sign_up(bea, org_app, email="bea@example.com")
    ticket = invite(ada, org_app, acme, "bea@example.com")
    _, response = join_by_sign_up_status(org_app, ticket)
    assert response.status_code == 422
    assert "already in use" in response.get_data(as_text=True)


# -- Roles and the last admin -----------------------------------------------------------


def test_members_cannot_manage_and_the_last_admin_stays(org_app, ada):
    acme = org(org_app, "acme")
    bea, _ = join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com"))
    ada_membership = membership(org_app, "ada@example.com", acme)
    bea_membership = membership(org_app, "bea@example.com", acme)
    base = f"/__clerk/organizations/{acme.id}"
    for path, data in (
        (f"{base}/memberships/{ada_membership.id}/role", {"role": "org:member"}),
        (f"{base}/memberships/{ada_membership.id}/remove", {}),
        (f"{base}/invitations", {"email_address": "x@example.com"}),
        (f"{base}/profile", {"name": "Pwned", "slug": "pwned"}),
        (f"{base}/delete", {"confirmation": "Acme Inc"}),
    ):
        assert post(bea, path, data, page="/organization").status_code == 403, path
    for path, data in (
        (f"{base}/memberships/{ada_membership.id}/role", {"role": "org:member"}),
        (f"{base}/memberships/{ada_membership.id}/remove", {}),
        (f"{base}/leave", {}),
    ):
        response = post(ada, path, data, page="/organization")
        assert response.status_code == 422, path
        assert "at least one admin" in response.get_data(as_text=True)
    # With a second admin, the first may step down.
    post(ada, f"{base}/memberships/{bea_membership.id}/role", {"role": "admin"},
         page="/organization")
    assert membership(org_app, "bea@example.com", acme).role == "org:admin"
    assert post(ada, f"{base}/leave", {}, page="/organization").status_code == 303
    assert membership(org_app, "ada@example.com", acme) is None
    assert whoami(ada)["org_id"] is None, "leaving the active organization reissues the token"


def test_custom_roles_from_settings_and_bad_role_settings(make_app):
    from flask_clerk.errors import ClerkConfigError

    with pytest.raises(ClerkConfigError, match="system permission"):
        make_app(CLERK_ORGANIZATIONS=True, CLERK_ORGANIZATION_ROLES={
            "org:editor": {"permissions": ["org:sys_memberships:manage"]}})
    with pytest.raises(ClerkConfigError, match="not a permission"):
        make_app(CLERK_ORGANIZATIONS=True, CLERK_ORGANIZATION_ROLES={
            "org:editor": {"permissions": ["projects"]}})
    with pytest.raises(ClerkConfigError, match="CLERK_ORGANIZATION_DEFAULT_ROLE"):
        make_app(CLERK_ORGANIZATIONS=True, CLERK_ORGANIZATION_DEFAULT_ROLE="org:ghost")
    app = make_app(CLERK_ORGANIZATIONS=True, CLERK_ORGANIZATION_DEFAULT_ROLE="basic_member")
    assert app.extensions["clerk"].settings.organization_default_role == "org:member"


# -- The organization's profile ----------------------------------------------------------


def test_profile_update_validates_and_slugs_are_unique(org_app, ada):
    acme = org(org_app, "acme")
    other = org_app.test_client()
    sign_up(other, org_app, email="eve@example.com")
    create_org(other, "Evil Corp", "evil")
    path = f"/__clerk/organizations/{acme.id}/profile"
    for data, text in (
        ({"name": "Acme", "slug": "evil"}, "already taken"),
        ({"name": "Acme", "slug": "Not A Slug!"}, "lower-case letters"),
        ({"name": "", "slug": "acme"}, "Enter a value"),
        ({"name": "Acme", "slug": "acme", "image_url": "javascript:alert(1)"}, "web address"),
    ):
        response = post(ada, path, data, page="/organization")
        assert response.status_code == 422, data
        assert text in response.get_data(as_text=True), data
    response = post(ada, path, {"name": "Acme Corporation", "slug": "acme-corp",
                                "image_url": "https://example.com/logo.png"},
                    page="/organization")
    assert response.status_code == 303
    assert whoami(ada)["org_slug"] == "acme-corp", "the token follows the new slug at once"


def test_derived_slugs_stay_unique(org_app, ada):
    create_org(ada, "Acme Inc")  # the name of an organization whose slug is "acme"
    create_org(ada, "Acme Inc")
    with org_app.extensions["clerk"].instance.store.session() as db:
        slugs = sorted(db.scalars(select(Organization.slug)))
    assert slugs[0] == "acme" and slugs[1].startswith("acme-inc") and len(set(slugs)) == 3


def test_deleting_needs_the_name_and_clears_the_active_organization(org_app, ada):
    acme = org(org_app, "acme")
    path = f"/__clerk/organizations/{acme.id}/delete"
    assert post(ada, path, {"confirmation": "acme"}, page="/organization").status_code == 422
    assert post(ada, path, {"confirmation": "Acme Inc"}, page="/organization").status_code == 303
    assert whoami(ada)["org_id"] is None
    with org_app.extensions["clerk"].instance.store.session() as db:
        assert db.scalars(select(Organization)).first() is None
        assert db.scalars(select(OrganizationMembership)).first() is None


# -- Limits -------------------------------------------------------------------------------


def test_creation_limits(make_app):
    app = make_org_app(make_app, CLERK_CREATE_ORGANIZATIONS_LIMIT=1)
    browser = app.test_client()
    sign_up(browser, app)
    create_org(browser, "One")
    response = post(browser, "/__clerk/organizations", {"name": "Two"},
                    page="/create-organization")
    assert response.status_code == 403 and "limit of 1" in response.get_data(as_text=True)
    closed = make_org_app(make_app, CLERK_CREATE_ORGANIZATION_ENABLED=False)
    browser = closed.test_client()
    sign_up(browser, closed, email="bea@example.com")
    response = post(browser, "/__clerk/organizations", {"name": "Two"},
                    page="/create-organization")
    assert response.status_code == 403


def test_member_limit_counts_pending_invitations(make_app):
    app = make_org_app(make_app, CLERK_ORGANIZATION_MAX_MEMBERSHIPS=2)
    ada_browser = app.test_client()
    sign_up(ada_browser, app)
    create_org(ada_browser, "Acme Inc", "acme")
    acme = org(app, "acme")
    invite(ada_browser, app, acme, "bea@example.com")
    response = post(ada_browser, f"/__clerk/organizations/{acme.id}/invitations",
                    {"email_address": "carl@example.com"}, page="/organization")
    assert response.status_code == 403
    assert "its limit is 2" in response.get_data(as_text=True)


# -- Membership required -------------------------------------------------------------------


def test_membership_required_makes_new_sessions_pending(make_app):
    app = make_org_app(make_app, CLERK_ORGANIZATION_MEMBERSHIP="required")
    browser = app.test_client()
    sign_up(browser, app)
    assert auth_claims(browser)["sts"] == "pending"
    assert whoami(browser)["user_id"] is None, "pending counts as signed out for the app"
    response = browser.get("/private", headers={"Accept": "text/html"})
    assert response.headers["Location"] == "/choose-organization?redirect_url=%2Fprivate"
    assert browser.get("/choose-organization").status_code == 200
    response = post(browser, "/__clerk/organizations/active", {"organization_id": ""},
                    page="/create-organization")
    assert response.status_code == 422, "no personal account in this mode"
    create_org(browser, "Acme Inc", "acme")
    assert "sts" not in auth_claims(browser)
    assert whoami(browser)["org_slug"] == "acme"
    sign_out(browser)
    response = sign_in(browser)
    assert response.headers["Location"] == "/choose-organization?redirect_url=%2F"


# -- Isolation --------------------------------------------------------------------------------


def test_no_route_reaches_another_organization(org_app, ada):
    """Eve, admin of her own organization, tries every organization route on Acme's
    ids, and Acme's member and invitation ids through her own organization."""
    from flask_clerk.core.models import OrganizationMembershipRequest

    acme = org(org_app, "acme")
    invite(ada, org_app, acme, "bea@example.com")
    ada_membership = membership(org_app, "ada@example.com", acme)
    assert add_domain(ada, acme, "acme.test").status_code == 303
    domain_id = domain_row(org_app, "acme.test").id
    with org_app.extensions["clerk"].instance.store.session() as db:
        invitation_id = db.scalars(select(OrganizationInvitation.id)).one()
        request = OrganizationMembershipRequest(id="orgreq_x", organization_id=acme.id,
                                                user_id=ada_membership.user_id)
        db.add(request)
        db.commit()
    eve = org_app.test_client()
    sign_up(eve, org_app, email="eve@example.com")
    create_org(eve, "Evil Corp", "evil")
    evil = org(org_app, "evil")
    for organization_id in (acme.id, evil.id):
        base = f"/__clerk/organizations/{organization_id}"
        for path, data in (
            (f"{base}/memberships/{ada_membership.id}/role", {"role": "org:member"}),
            (f"{base}/memberships/{ada_membership.id}/remove", {}),
            (f"{base}/invitations/{invitation_id}/revoke", {}),
            (f"{base}/domains/{domain_id}/mode", {"enrollment_mode": "automatic_invitation"}),
            (f"{base}/domains/{domain_id}/send-code", {"email_address": "eve@acme.test"}),
            (f"{base}/domains/{domain_id}/verify", {"code": "123456"}),
            (f"{base}/domains/{domain_id}/remove", {}),
            (f"{base}/requests/orgreq_x/approve", {}),
            (f"{base}/requests/orgreq_x/reject", {}),
            *([(f"{base}/profile", {"name": "Pwned", "slug": "pwned"}),
               (f"{base}/invitations", {"email_address": "eve2@example.com"}),
               (f"{base}/domains", {"name": "evil.test"}),
               (f"{base}/join", {}),
               (f"{base}/leave", {}),
               (f"{base}/delete", {"confirmation": "Acme Inc"})]
              if organization_id == acme.id else []),
        ):
            response = post(eve, path, data, page="/organization")
            assert response.status_code == 404, (path, response.status_code)
    assert eve.get(f"/organization?organization_id={acme.id}").status_code in {200, 302}
    assert "Acme" not in eve.get("/organization").get_data(as_text=True)
    acme_now = org(org_app, "acme")
    assert (acme_now.name, acme_now.slug) == ("Acme Inc", "acme")
    assert membership(org_app, "ada@example.com", acme).role == "org:admin"
    with org_app.extensions["clerk"].instance.store.session() as db:
        assert db.get(OrganizationInvitation, invitation_id).status == "pending"
        assert db.get(OrganizationMembershipRequest, "orgreq_x").status == "pending"
        assert db.scalars(select(User)).all()
    assert domain_row(org_app, "acme.test").enrollment_mode == "automatic_invitation"


def test_every_organization_route_refuses_missing_or_bad_csrf(org_app, ada):
    acme = org(org_app, "acme")
    before = whoami(ada)
    rules = [r for r in org_app.url_map.iter_rules()
             if r.endpoint.startswith("clerk_organizations.")]
    posts = [r for r in rules if "POST" in r.methods]
    assert len(posts) == 19
    for rule in posts:
        path = re.sub(r"<organization_id>", acme.id, rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        for token in (None, "forged-token"):
            data = {"return_to": "/", "name": "Pwned", "slug": "pwned", "confirmation": "Acme Inc",
                    "organization_id": "", "email_address": "x@example.com"}
            if token:
                data["csrf_token"] = token
            assert ada.post(path, data=data).status_code == 400, rule.rule
    assert whoami(ada) == before
    assert org(org_app, "acme").name == "Acme Inc"
    gets = {r.endpoint for r in rules if "GET" in r.methods}
    assert gets == {"clerk_organizations.invitation_link"}, "no GET changes state"


def test_a_stored_role_reaches_the_token(org_app, ada):
    from flask_clerk.core.organization_roles import add_role

    instance = org_app.extensions["clerk"].instance
    with instance.store.session() as db:
        add_role(instance, db, "org:auditor", name="Auditor",
                 permissions=["org:reports:read", "org:reports:export"])
    acme = org(org_app, "acme")
    bea, _ = join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com",
                                             role="org:auditor"))
    claims = auth_claims(bea)
    assert claims["o"]["rol"] == "auditor"
    assert decode_organization(claims).permissions == ("org:reports:export",
                                                       "org:reports:read")


def test_an_organization_may_have_its_own_member_limit(org_app, ada):
    acme = org(org_app, "acme")
    with org_app.extensions["clerk"].instance.store.session() as db:
        db.get(Organization, acme.id).max_allowed_memberships = 1
        db.commit()
    response = post(ada, f"/__clerk/organizations/{acme.id}/invitations",
                    {"email_address": "bea@example.com"}, page="/organization?page=members")
    assert response.status_code == 403
    assert "its limit is 1" in response.get_data(as_text=True)


# -- Verified domains ------------------------------------------------------------------------


def domain_row(app, name):
    from flask_clerk.core.models import OrganizationDomain

    with app.extensions["clerk"].instance.store.session() as db:
        return db.scalars(select(OrganizationDomain).where(
            OrganizationDomain.name == name)).one()


def add_domain(client, organization, name, mode="automatic_invitation"):
    return post(client, f"/__clerk/organizations/{organization.id}/domains",
                {"name": name, "enrollment_mode": mode}, page="/organization")


def test_domains_verify_and_invite_automatically(org_app, ada):
    acme = org(org_app, "acme")
    base = f"/__clerk/organizations/{acme.id}/domains"
    for name, status in (("gmail.com", 422), ("not a domain", 422), ("", 422)):
        assert add_domain(ada, acme, name).status_code == status, name
    assert add_domain(ada, acme, "acme.test").status_code == 303
    domain = domain_row(org_app, "acme.test")
    assert not domain.verified, "Ada has no address on acme.test"
    # An address elsewhere cannot verify it; one on the domain gets a code.
    wrong = post(ada, f"{base}/{domain.id}/send-code", {"email_address": "ada@example.com"},
                 page="/organization")
    assert wrong.status_code == 422
    assert post(ada, f"{base}/{domain.id}/send-code", {"email_address": "it@acme.test"},
                page="/organization").status_code == 303
    mail = org_app.extensions["clerk"].instance.dev_mailbox.mails("it@acme.test")[0]
    code = re.search(r"\b(\d{6})\b", mail.text).group(1)
    assert post(ada, f"{base}/{domain.id}/verify", {"code": "000000" if code != "000000"
                                                    else "111111"},
                page="/organization").status_code == 422
    assert post(ada, f"{base}/{domain.id}/verify", {"code": code},
                page="/organization").status_code == 303
    assert domain_row(org_app, "acme.test").verified
    # Bea signs up with an address on the domain: she may join at once.
    bea = org_app.test_client()
    sign_up(bea, org_app, email="bea@acme.test", first_name="Bea")
    assert "Acme Inc" in bea.get("/choose-organization").get_data(as_text=True)
    response = post(bea, f"/__clerk/organizations/{acme.id}/join", {},
                    page="/choose-organization")
    assert response.status_code == 303
    assert whoami(bea)["org_id"] == acme.id and whoami(bea)["org_role"] == "org:member"
    # Someone on another domain gets no such offer.
    carl = org_app.test_client()
    sign_up(carl, org_app, email="carl@elsewhere.test", first_name="Carl")
    assert post(carl, f"/__clerk/organizations/{acme.id}/join", {},
                page="/choose-organization").status_code == 404


def test_domain_suggestions_make_requests_that_admins_decide(org_app, ada):
    acme = org(org_app, "acme")
    bea = org_app.test_client()
    sign_up(bea, org_app, email="bea@globex.test", first_name="Bea")
    create_org(bea, "Globex", "globex")
    globex = org(org_app, "globex")
    assert add_domain(bea, globex, "globex.test", "automatic_suggestion").status_code == 303
    assert domain_row(org_app, "globex.test").verified, "Bea's own address verifies it"
    assert add_domain(ada, acme, "globex.test").status_code == 422, "verified elsewhere"
    carl = org_app.test_client()
    sign_up(carl, org_app, email="carl@globex.test", first_name="Carl")
    join = f"/__clerk/organizations/{globex.id}/join"
    assert post(carl, join, {}, page="/choose-organization").status_code == 303
    assert whoami(carl)["org_id"] is None, "a suggestion makes a request, not a member"
    assert post(carl, join, {}, page="/choose-organization").status_code == 303  # idempotent
    from flask_clerk.core.models import OrganizationMembershipRequest

    with org_app.extensions["clerk"].instance.store.session() as db:
        requests = db.scalars(select(OrganizationMembershipRequest)).all()
    assert len(requests) == 1 and requests[0].status == "pending"
    request_path = f"/__clerk/organizations/{globex.id}/requests/{requests[0].id}"
    # Acme's admin cannot decide Globex's requests, even through her own organization.
    for organization_id in (acme.id, globex.id):
        path = f"/__clerk/organizations/{organization_id}/requests/{requests[0].id}/approve"
        assert post(ada, path, {}, page="/organization").status_code == 404
    assert post(bea, f"{request_path}/approve", {}, page="/organization").status_code == 303
    assert membership(org_app, "carl@globex.test", globex).role == "org:member"
    assert post(bea, f"{request_path}/reject", {}, page="/organization").status_code == 404


def test_domain_settings_need_the_domain_permission(org_app, ada):
    acme = org(org_app, "acme")
    bea, _ = join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com"))
    assert add_domain(bea, acme, "acme.test").status_code == 403
    assert add_domain(ada, acme, "acme.test").status_code == 303
    domain = domain_row(org_app, "acme.test")
    base = f"/__clerk/organizations/{acme.id}/domains/{domain.id}"
    for path, data in ((f"{base}/mode", {"enrollment_mode": "automatic_suggestion"}),
                       (f"{base}/remove", {})):
        assert post(bea, path, data, page="/organization").status_code == 403
    assert post(ada, f"{base}/mode", {"enrollment_mode": "bogus"},
                page="/organization").status_code == 422
    assert post(ada, f"{base}/mode", {"enrollment_mode": "automatic_suggestion"},
                page="/organization").status_code == 303
    assert domain_row(org_app, "acme.test").enrollment_mode == "automatic_suggestion"
    assert post(ada, f"{base}/remove", {}, page="/organization").status_code == 303



# -- Found in review ---------------------------------------------------------------------


def test_protect_patterns_send_a_pending_session_to_choose(make_app):
    app = make_org_app(make_app, CLERK_ORGANIZATION_MEMBERSHIP="required",
                       CLERK_PROTECTED_ROUTES=("/whoami",))
    browser = app.test_client()
    sign_up(browser, app)
    response = browser.get("/whoami", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/choose-organization?redirect_url=%2Fwhoami"
    assert browser.get("/whoami", headers={"Accept": "application/json"}).status_code == 401


def test_a_pending_session_changing_its_password_stays_signed_in(make_app):
    app = make_org_app(make_app, CLERK_ORGANIZATION_MEMBERSHIP="required")
    browser = app.test_client()
    sign_up(browser, app)
    response = post(browser, "/__clerk/user/password", {
        "current_password": PASSWORD, "new_password": "a brand new passphrase 7",
        "confirm_password": "a brand new passphrase 7"}, page="/create-organization")
    assert response.status_code == 303
    create_org(browser, "Acme Inc", "acme")
    assert whoami(browser)["org_slug"] == "acme"


def test_the_only_admin_cannot_delete_their_account_and_strand_members(org_app, ada):
    acme = org(org_app, "acme")
    create_org(ada, "Solo Ltd", "solo")
    join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com"))
    response = post(ada, "/__clerk/user/delete", {"confirmation": "Delete account"},
                    page="/user?page=security")
    assert response.status_code == 422
    assert "only admin of Acme Inc" in response.get_data(as_text=True)
    bea_membership = membership(org_app, "bea@example.com", acme)
    post(ada, f"/__clerk/organizations/{acme.id}/memberships/{bea_membership.id}/role",
         {"role": "org:admin"}, page="/organization?page=members")
    response = post(ada, "/__clerk/user/delete", {"confirmation": "Delete account"},
                    page="/user?page=security")
    assert response.status_code == 303
    with org_app.extensions["clerk"].instance.store.session() as db:
        slugs = set(db.scalars(select(Organization.slug)))
    assert slugs == {"acme"}, "the organization Ada was alone in went with her"


def test_two_admins_demoting_each_other_at_once_leave_one(org_app, ada, monkeypatch):
    """The race, replayed: the first check saw two admins (the other one's
    demotion not yet committed); the count after the change still stops it."""
    from flask_clerk.core import organizations as flows

    acme = org(org_app, "acme")
    join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com", role="org:admin"))
    ada_membership = membership(org_app, "ada@example.com", acme)
    bea_membership = membership(org_app, "bea@example.com", acme)
    with org_app.extensions["clerk"].instance.store.session() as db:
        db.get(OrganizationMembership, bea_membership.id).role = "org:member"  # Bea stepped down
        db.commit()
    real = flows._admins

    def stale_then_real(db, organization_id, *, lock=False):
        return [ada_membership.id, bea_membership.id] if lock else real(db, organization_id)

    monkeypatch.setattr(flows, "_admins", stale_then_real)
    response = post(ada, f"/__clerk/organizations/{acme.id}/memberships/{ada_membership.id}"
                         "/role", {"role": "org:member"}, page="/organization?page=members")
    assert response.status_code == 422
    assert membership(org_app, "ada@example.com", acme).role == "org:admin"


def test_bad_urls_and_stale_memberships_do_not_break_pages(org_app, ada):
    acme = org(org_app, "acme")
    response = post(ada, f"/__clerk/organizations/{acme.id}/profile",
                    {"name": "Acme", "slug": "acme", "image_url": "https://["},
                    page="/organization")
    assert response.status_code == 422
    assert ada.get("/choose-organization?redirect_url=http://[").status_code == 200
    bea, _ = join_by_sign_up(org_app, invite(ada, org_app, acme, "bea@example.com"))
    post(ada, f"/__clerk/organizations/{acme.id}/memberships/"
              f"{membership(org_app, 'bea@example.com', acme).id}/remove", {},
         page="/organization?page=members")
    response = bea.get("/organization")  # her token still names Acme for a minute
    assert response.status_code == 302 and response.headers["Location"] == "/choose-organization"


def test_a_verified_domain_takes_no_more_codes(org_app, make_app):
    bea = org_app.test_client()
    sign_up(bea, org_app, email="bea@globex.test", first_name="Bea")
    create_org(bea, "Globex", "globex")
    globex = org(org_app, "globex")
    assert add_domain(bea, globex, "globex.test").status_code == 303
    domain = domain_row(org_app, "globex.test")
    response = post(bea, f"/__clerk/organizations/{globex.id}/domains/{domain.id}/send-code",
                    {"email_address": "it@globex.test"}, page="/organization")
    assert response.status_code == 400
    assert domain_row(org_app, "globex.test").affiliation_email_address == "bea@globex.test"


def test_invitation_pages_send_no_referrer(org_app, ada):
    ticket = invite(ada, org_app, org(org_app, "acme"), "bea@example.com")
    page = org_app.test_client().get(f"/sign-up?__clerk_ticket={ticket}")
    assert page.headers["Referrer-Policy"] == "no-referrer"
