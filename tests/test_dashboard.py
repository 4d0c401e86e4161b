"""The dashboard (issue 8, first part): administrators only, every route; users
listed, searched, opened and acted on; the audit log; impersonation with Clerk's
``act`` claim, its banner, its short session and "Stop"."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import jwt
import pytest

from conftest import PASSWORD, csrf_token, post, sign_in, sign_out, sign_up
from flask_clerk.cli import clerk as clerk_cli
from flask_clerk.core import admins
from flask_clerk.core.models import AuditEntry, Session, User

DASH = "/__clerk/dashboard"
HTML = {"Accept": "text/html"}


@pytest.fixture
def app(make_app):
    return make_app(CLERK_DASHBOARD_ADMINS=("admin@example.com",))


@pytest.fixture
def admin(app, client):
    """The administrator, signed in on ``client``; their user id."""
    sign_up(client, app, email="admin@example.com", first_name="Grace", last_name="Hopper")
    return client.get("/whoami").get_json()["user_id"]


@pytest.fixture
def ada(app):
    """Another user, signed in on her own browser: (client, user id)."""
    browser = app.test_client()
    sign_up(browser, app, email="ada@example.com")
    return browser, browser.get("/whoami").get_json()["user_id"]


def db(app):
    return app.extensions["clerk"].instance.store.session()


def act(client, path, data=None, page=None):
    """A dashboard form, posted as its page would."""
    return post(client, f"{DASH}{path}", data or {}, page=page or f"{DASH}/users")


def entries(app, **filters):
    with db(app) as session:
        return [(e.action, e.target_id) for e in
                admins.audit_entries(session, admins.AuditFilters(**filters), limit=100)]


def dashboard_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("clerk_dashboard.")]


# -- Access -------------------------------------------------------------------------------


def test_every_dashboard_route_refuses_anyone_but_an_administrator(app, client, ada):
    browser, _ = ada
    rules = dashboard_rules(app)
    assert len(rules) >= 14
    token = csrf_token(browser)
    signed_out = app.test_client()
    for rule in rules:
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" else None
            response = browser.open(path, method=method, data=data, headers=HTML)
            assert response.status_code == 403, (rule.rule, method, response.status_code)
            assert "Only this instance’s administrators" in response.get_data(as_text=True) or \
                "administrators" in response.get_data(as_text=True)
            response = signed_out.open(path, method=method, headers=HTML)
            assert response.status_code in (302, 303), (rule.rule, method)
            assert "/sign-in" in response.headers["Location"]
    with db(app) as session:
        assert session.query(AuditEntry).count() == 0


def test_administrators_by_setting_by_user_id_and_by_cli(make_app):
    app = make_app()
    client = app.test_client()
    sign_up(client, app, email="grace@example.com")
    user_id = client.get("/whoami").get_json()["user_id"]
    assert client.get(f"{DASH}/users", headers=HTML).status_code == 403
    runner = app.test_cli_runner()
    result = runner.invoke(clerk_cli, ["admins", "add", "grace@example.com"])
    assert result.exit_code == 0, result.output
    assert client.get(f"{DASH}/users", headers=HTML).status_code == 200
    assert "grace@example.com" in runner.invoke(clerk_cli, ["admins", "list"]).output
    assert runner.invoke(clerk_cli, ["admins", "remove", "grace@example.com"]).exit_code == 0
    assert client.get(f"{DASH}/users", headers=HTML).status_code == 403
    result = runner.invoke(clerk_cli, ["admins", "add", "nobody@example.com"])
    assert result.exit_code != 0 and "no user" in result.output.lower()
    by_id = make_app(CLERK_DATABASE_URL=app.config["CLERK_DATABASE_URL"],
                     CLERK_DASHBOARD_ADMINS=(user_id,))
    other = by_id.test_client()
    sign_in(other, "grace@example.com")
    assert other.get(f"{DASH}/users", headers=HTML).status_code == 200


def test_the_dashboard_asks_an_administrator_to_verify_again(app, client, admin, frozen):
    frozen.advance(11 * 60)
    client.delete_cookie("__session")
    response = client.get(f"{DASH}/users", headers=HTML)
    assert response.status_code in (302, 303) and "/reverify" in response.headers["Location"]
    post(client, "/__clerk/reverify/password", {"password": PASSWORD}, page="/reverify")
    assert client.get(f"{DASH}/users", headers=HTML).status_code == 200


# -- Users ----------------------------------------------------------------------------------


def listed(client, query=""):
    page = client.get(f"{DASH}/users{query}").get_data(as_text=True)
    return re.findall(r'class="cl-dashboardMuted">([^<]+)</span></a>', page)


def test_users_are_listed_searched_and_sorted(app, client, admin, ada):
    assert listed(client) == ["ada@example.com", "admin@example.com"]  # newest first
    assert listed(client, "?query=ada") == ["ada@example.com"]
    assert listed(client, "?order_by=%2Bcreated_at") == ["admin@example.com", "ada@example.com"]
    assert listed(client, "?order_by=nonsense&page=x") == ["ada@example.com", "admin@example.com"]
    assert listed(client, "?page=2") == []


def test_a_users_page_shows_their_account(app, client, admin, ada):
    _, ada_id = ada
    page = client.get(f"{DASH}/users/{ada_id}").get_data(as_text=True)
    assert "ada@example.com" in page and ada_id in page and "Active sessions" in page
    assert client.get(f"{DASH}/users/user_nope").status_code == 404


def test_ban_lock_revoke_and_their_audit_entries(app, client, admin, ada):
    browser, ada_id = ada
    page = f"{DASH}/users/{ada_id}"
    assert act(client, f"/users/{ada_id}/ban", page=page).status_code == 303
    assert browser.get("/whoami").get_json()["user_id"] is None  # banned: signed out
    assert act(client, f"/users/{ada_id}/unban", page=page).status_code == 303
    assert act(client, f"/users/{ada_id}/lock", page=page).status_code == 303
    assert "Locked" in client.get(page).get_data(as_text=True)
    assert act(client, f"/users/{ada_id}/unlock", page=page).status_code == 303
    sign_in(browser)
    assert act(client, f"/users/{ada_id}/revoke-sessions", page=page).status_code == 303
    assert browser.get("/whoami").get_json()["user_id"] is None
    assert entries(app, target_id=ada_id) == [
        ("user.sessions_revoked", ada_id), ("user.unlocked", ada_id), ("user.locked", ada_id),
        ("user.unbanned", ada_id), ("user.banned", ada_id)]
    with db(app) as session:
        entry = session.query(AuditEntry).filter_by(action="user.banned").one()
        assert entry.actor_id == admin and entry.actor_email == "admin@example.com"
        assert entry.ip_address == "127.0.0.1"


def test_set_a_password_and_metadata(app, client, admin, ada):
    browser, ada_id = ada
    page = f"{DASH}/users/{ada_id}"
    response = act(client, f"/users/{ada_id}/password", {"password": "short"}, page=page)
    assert response.status_code == 422 and "8 or more characters" in response.get_data(as_text=True)
    new = "another-long-passphrase-7"
    assert act(client, f"/users/{ada_id}/password", {"password": new}, page=page).status_code == 303
    assert browser.get("/whoami").get_json()["user_id"] is None  # other sessions signed out
    sign_in(browser, password=new)
    assert browser.get("/whoami").get_json()["user_id"] == ada_id
    metadata = {"public_metadata": '{"plan": "pro"}', "private_metadata": "{}",
                "unsafe_metadata": "{}"}
    assert act(client, f"/users/{ada_id}/metadata", metadata, page=page).status_code == 303
    bad = act(client, f"/users/{ada_id}/metadata", {**metadata, "private_metadata": "[1, 2"},
              page=page)
    assert bad.status_code == 422 and "[1, 2" in bad.get_data(as_text=True)
    with db(app) as session:
        user = session.get(User, ada_id)
        assert user.public_metadata == {"plan": "pro"} and user.private_metadata == {}
    assert [a for a, _ in entries(app, target_id=ada_id)] == [
        "user.metadata_updated", "user.password_set"]


def test_reset_mfa_create_and_delete(app, client, admin, ada):
    from test_mfa_flows import enrol

    browser, ada_id = ada
    enrol(browser)
    page = f"{DASH}/users/{ada_id}"
    assert "Reset two-step verification" in client.get(page).get_data(as_text=True)
    assert act(client, f"/users/{ada_id}/reset-mfa", page=page).status_code == 303
    with db(app) as session:
        assert session.get(User, ada_id).mfa_enabled_at is None
    response = act(client, "/users", {"email_address": "new@example.com", "first_name": "New"})
    assert response.status_code == 303
    new_id = response.headers["Location"].rsplit("/", 1)[1]
    assert act(client, "/users", {"email_address": "new@example.com"}).status_code == 422
    response = act(client, f"/users/{new_id}/delete", {"confirmation": "nope"},
                   page=f"{DASH}/users/{new_id}")
    assert response.status_code == 422
    response = act(client, f"/users/{new_id}/delete", {"confirmation": new_id},
                   page=f"{DASH}/users/{new_id}")
    assert response.status_code == 303
    with db(app) as session:
        assert session.get(User, new_id) is None
    assert ("user.created", new_id) in entries(app) and ("user.deleted", new_id) in entries(app)


def test_the_audit_log_filters_and_exports_json_lines(app, client, admin, ada):
    _, ada_id = ada
    act(client, f"/users/{ada_id}/lock")
    act(client, f"/users/{ada_id}/unlock")
    page = client.get(f"{DASH}/audit?action=user.locked").get_data(as_text=True)
    assert "user.locked" in page and "user.unlocked" not in page
    assert "user.unlocked" in client.get(f"{DASH}/audit?action=user.").get_data(as_text=True)
    assert "user.locked" not in client.get(
        f"{DASH}/audit?actor=someone@example.com").get_data(as_text=True)
    assert client.get(f"{DASH}/audit?since=bad&until=2020-13-45").status_code == 200
    response = client.get(f"{DASH}/audit.jsonl?target={ada_id}")
    assert response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [e["action"] for e in lines] == ["user.unlocked", "user.locked"]
    assert lines[0]["actor"] == {"user_id": admin, "email_address": "admin@example.com"}
    assert lines[0]["target"] == {"type": "user", "id": ada_id}


# -- Impersonation ------------------------------------------------------------------------


def claims(client):
    return jwt.decode(client.get_cookie("__session").value, options={"verify_signature": False})


def test_impersonation_signs_in_as_the_user_with_the_act_claim(app, client, admin, ada, frozen):
    _, ada_id = ada
    admin_sid = client.get("/whoami").get_json()["session_id"]
    with db(app) as session:
        last_sign_in = session.get(User, ada_id).last_sign_in_at
    response = act(client, f"/users/{ada_id}/impersonate", page=f"{DASH}/users/{ada_id}")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/whoami").get_json()["user_id"] == ada_id
    act_claim = claims(client)["act"]
    assert act_claim == {"sub": admin, "sid": admin_sid, "iss": f"http://localhost{DASH}"}
    home = client.get("/").get_data(as_text=True)
    assert "cl-impersonationFab" in home and "Stop impersonating" in home
    assert "admin@example.com" in home
    assert client.get(f"{DASH}/users", headers=HTML).status_code == 403  # not while acting
    with db(app) as session:
        assert session.get(User, ada_id).last_sign_in_at == last_sign_in  # not her sign-in
        impersonation = session.query(Session).filter(Session.actor.isnot(None)).one()
        assert impersonation.user_id == ada_id
        assert (impersonation.expire_at - impersonation.created_at).total_seconds() == 1800

    response = post(client, "/__clerk/impersonation/stop", {}, page="/")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{DASH}/users/{ada_id}"
    assert client.get("/whoami").get_json()["user_id"] == admin
    assert "act" not in claims(client)
    assert [a for a, _ in entries(app, target_id=ada_id)] == [
        "user.impersonation_ended", "user.impersonated"]
    with db(app) as session:
        assert session.get(Session, impersonation.id).status == "ended"


def test_an_impersonation_ends_after_thirty_minutes(app, client, admin, ada, frozen):
    _, ada_id = ada
    act(client, f"/users/{ada_id}/impersonate", page=f"{DASH}/users/{ada_id}")
    frozen.advance(29 * 60)
    client.delete_cookie("__session")
    assert client.get("/whoami").get_json()["user_id"] == ada_id
    frozen.advance(2 * 60)
    client.delete_cookie("__session")
    assert client.get("/whoami").get_json()["user_id"] is None


def test_stop_without_an_impersonation_is_refused(app, client, admin):
    response = post(client, "/__clerk/impersonation/stop", {}, page="/")
    assert response.status_code == 400
    sign_out(client)


# -- Actor tokens through the Backend API (the official SDK) ---------------------------------


def test_actor_tokens_through_the_sdk(app, ada):
    from clerk_backend_api import Clerk, models
    from clerk_backend_api.utils import BackoffStrategy, RetryConfig

    from conftest import serve

    _, ada_id = ada
    no_retry = RetryConfig("backoff", BackoffStrategy(1, 1, 1, 1), False)
    with serve(app) as live, Clerk(bearer_auth=app.config["CLERK_SECRET_KEY"],
                                   server_url=f"{live}/v1", retry_config=no_retry) as sdk:
        token = sdk.actor_tokens.create(request={
            "user_id": ada_id, "actor": {"sub": "user_support"}, "expires_in_seconds": 600})
        assert token.status == models.ActorTokenStatus.PENDING and token.user_id == ada_id
        assert token.url.startswith("http://localhost/__clerk/v1/tickets/accept?ticket=")
        revoked = sdk.actor_tokens.create(request={"user_id": ada_id, "actor": {"sub": "x"}})
        assert sdk.actor_tokens.revoke(actor_token_id=revoked.id).status.value == "revoked"
        import httpx

        refused = httpx.post(f"{live}/v1/actor_tokens", json={"user_id": ada_id, "actor": {}},
                             headers={"Authorization": f"Bearer {app.config['CLERK_SECRET_KEY']}"})
        assert refused.status_code == 422 and refused.json()["errors"][0]["meta"] == {
            "param_name": "actor"}
    browser = app.test_client()
    path = token.url.removeprefix("http://localhost")
    response = browser.get(path)
    assert response.status_code == 303
    assert browser.get("/whoami").get_json()["user_id"] == ada_id
    assert claims(browser)["act"] == {"sub": "user_support"}
    assert app.test_client().get(path).status_code == 400  # used once
    assert app.test_client().get(revoked.url.removeprefix("http://localhost")).status_code == 400


# -- Organizations and roles -----------------------------------------------------------------


def test_organizations_members_roles_invitations_and_deletion(make_app):
    from test_organizations import create_org, invite, join_by_sign_up, org

    app = make_app(CLERK_ORGANIZATIONS=True, CLERK_DASHBOARD_ADMINS=("admin@example.com",))
    admin_browser, ada_browser = app.test_client(), app.test_client()
    sign_up(admin_browser, app, email="admin@example.com")
    sign_up(ada_browser, app)
    create_org(ada_browser, "Acme Inc", "acme")
    acme = org(app, "acme")
    join_by_sign_up(app, invite(ada_browser, app, acme, "bea@example.com"))
    invite(ada_browser, app, acme, "cy@example.com")
    assert "Acme Inc" in admin_browser.get(f"{DASH}/organizations").get_data(as_text=True)
    assert "Acme Inc" not in admin_browser.get(
        f"{DASH}/organizations?query=zzz").get_data(as_text=True)
    page = f"{DASH}/organizations/{acme.id}"
    html = admin_browser.get(page).get_data(as_text=True)
    assert "bea@example.com" in html and "cy@example.com" in html
    with db(app) as session:
        from flask_clerk.core.models import OrganizationInvitation, OrganizationMembership

        bea = session.query(OrganizationMembership).filter_by(role="org:member").one()
        ada_membership = session.query(OrganizationMembership).filter_by(role="org:admin").one()
        invitation = session.query(OrganizationInvitation).filter_by(status="pending").one()
    # The last admin stays: demoting Ada is refused, shown on the page.
    response = act(admin_browser, f"/organizations/{acme.id}/members/{ada_membership.id}/role",
                   {"role": "org:member"}, page=page)
    assert response.status_code in (400, 403, 409, 422)
    assert act(admin_browser, f"/organizations/{acme.id}/members/{bea.id}/role",
               {"role": "org:admin"}, page=page).status_code == 303
    assert act(admin_browser, f"/organizations/{acme.id}/members/{bea.id}/remove",
               page=page).status_code == 303
    assert act(admin_browser, f"/organizations/{acme.id}/invitations/{invitation.id}/revoke",
               page=page).status_code == 303
    assert act(admin_browser, f"/organizations/{acme.id}/delete", {"confirmation": "nope"},
               page=page).status_code == 422
    assert act(admin_browser, f"/organizations/{acme.id}/delete", {"confirmation": "acme"},
               page=page).status_code == 303
    assert admin_browser.get(page).status_code == 404
    assert [a for a, _ in entries(app, target_id=acme.id)] == [
        "organization.deleted", "organization.invitation_revoked",
        "organization.member_removed", "organization.member_role_changed"]
    # Roles: added with permissions, listed, removed.
    roles_page = f"{DASH}/organizations"
    assert act(admin_browser, "/roles", {"key": "org:editor", "name": "Editor",
                                         "permissions": "org:projects:manage"},
               page=roles_page).status_code == 303
    assert "org:projects:manage" in admin_browser.get(roles_page).get_data(as_text=True)
    assert act(admin_browser, "/roles", {"key": "bad key"}, page=roles_page).status_code == 422
    assert act(admin_browser, "/roles/org:editor/remove", page=roles_page).status_code == 303
    assert ("role.created", "org:editor") in entries(app)
    assert ("role.removed", "org:editor") in entries(app)


def test_the_organizations_pages_are_absent_without_organizations(client, admin):
    assert client.get(f"{DASH}/organizations", headers=HTML).status_code == 404


# -- Webhooks -------------------------------------------------------------------------------


def test_webhook_endpoints_messages_and_replays(make_app):
    app = make_app(CLERK_DASHBOARD_ADMINS=("admin@example.com",),
                   CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True)
    client = app.test_client()
    sign_up(client, app, email="admin@example.com")
    page = f"{DASH}/webhooks"
    assert act(client, "/webhooks", {"url": "not a url"}, page=page).status_code == 422
    response = act(client, "/webhooks", {"url": "http://127.0.0.1:9/hook",
                                         "events": "user.created, user.updated"}, page=page)
    assert response.status_code == 303
    endpoint_id = response.headers["Location"].rsplit("/", 1)[1]
    endpoint_page = f"{DASH}/webhooks/{endpoint_id}"
    html = client.get(endpoint_page).get_data(as_text=True)
    assert "user.created user.updated" in html and "whsec_" in html
    with db(app) as session:
        from flask_clerk.core.models import WebhookEndpoint

        secret = session.get(WebhookEndpoint, endpoint_id).secret
    assert secret not in html  # masked until revealed
    revealed = act(client, f"/webhooks/{endpoint_id}/reveal", page=endpoint_page)
    assert revealed.status_code == 200 and secret in revealed.get_data(as_text=True)
    assert revealed.headers["Cache-Control"] == "no-store"
    assert act(client, f"/webhooks/{endpoint_id}/rotate", page=endpoint_page).status_code == 303
    with db(app) as session:
        rotated = session.get(WebhookEndpoint, endpoint_id)
        assert rotated.secret != secret and rotated.previous_secret == secret
    sign_up(app.test_client(), app, email="grace@example.com")  # a user.created message
    from flask_clerk.core import webhooks

    def refuse(url, body, headers):
        raise OSError("connection refused")

    for _ in range(20):  # every attempt fails until it gives up
        with db(app) as session:
            session.execute(update_due())
            session.commit()
        webhooks.deliver_due(app.extensions["clerk"].instance, send=refuse)
    html = client.get(page).get_data(as_text=True)
    assert "user.created" in html and "failed" in html
    html = client.get(endpoint_page).get_data(as_text=True)
    assert "connection refused" in html
    assert act(client, "/webhooks/replay", {"endpoint_id": endpoint_id},
               page=endpoint_page).status_code == 303
    with db(app) as session:
        from flask_clerk.core.models import WebhookDelivery

        assert {d.status for d in session.query(WebhookDelivery)} == {"pending"}
    assert act(client, f"/webhooks/{endpoint_id}/disable", page=endpoint_page).status_code == 303
    assert "Disabled" in client.get(endpoint_page).get_data(as_text=True)
    assert act(client, f"/webhooks/{endpoint_id}", {"url": "http://127.0.0.1:9/other",
                                                    "events": ""},
               page=endpoint_page).status_code == 303
    assert act(client, f"/webhooks/{endpoint_id}/delete", page=endpoint_page).status_code == 303
    assert client.get(endpoint_page).status_code == 404
    actions = [a for a, _ in entries(app, target_id=endpoint_id)]
    assert actions == ["webhook.endpoint_removed", "webhook.endpoint_updated",
                       "webhook.endpoint_disabled", "webhook.replayed", "webhook.secret_rotated",
                       "webhook.secret_revealed", "webhook.endpoint_created"]


def update_due():
    from sqlalchemy import update

    from flask_clerk.core import clock
    from flask_clerk.core.models import WebhookDelivery

    return update(WebhookDelivery).where(WebhookDelivery.status == "pending").values(
        next_attempt_at=clock.now(), lease_until=None)


# -- What the security review found (each would pass before its fix) ---------------------------


def impersonate(client, ada_id):
    response = act(client, f"/users/{ada_id}/impersonate", page=f"{DASH}/users/{ada_id}")
    assert response.status_code == 303, response.get_data(as_text=True)


def test_an_impersonation_ends_with_its_administrators_rights(app, client, admin, ada, frozen):
    _, ada_id = ada
    impersonate(client, ada_id)
    with db(app) as session:
        session.get(User, admin).banned = True
        session.commit()
    frozen.advance(61)
    client.delete_cookie("__session")
    assert client.get("/whoami").get_json()["user_id"] is None


def test_an_impersonation_ends_with_the_administrators_own_session(app, client, admin, ada,
                                                                    frozen):
    from flask_clerk.core.sessions import revoke_user_sessions

    _, ada_id = ada
    impersonate(client, ada_id)
    with db(app) as session:
        revoke_user_sessions(app.extensions["clerk"].instance, session, admin)
        session.commit()
    client.delete_cookie("__session")
    assert client.get("/whoami").get_json()["user_id"] is None


def test_impersonating_is_never_verifying_as_the_user(app, client, admin, ada):
    _, ada_id = ada
    impersonate(client, ada_id)
    assert claims(client)["fva"][0] >= 1_000_000
    response = post(client, "/__clerk/user/delete", {"confirmation": "Delete account"},
                    page="/user?page=security")
    assert response.status_code == 403
    response = post(client, "/__clerk/reverify/password", {"password": PASSWORD},
                    page="/reverify")
    assert response.status_code == 403
    assert "cannot verify as the user" in response.get_data(as_text=True)
    with db(app) as session:
        assert session.get(User, ada_id) is not None


def test_administrators_and_oneself_are_not_impersonated_nor_banned_here(make_app):
    app = make_app(CLERK_DASHBOARD_ADMINS=("admin@example.com", "second@example.com"))
    client = app.test_client()
    sign_up(app.test_client(), app, email="second@example.com")
    sign_up(client, app, email="admin@example.com")
    me = client.get("/whoami").get_json()["user_id"]
    with db(app) as session:
        second = session.query(User).filter(User.id != me).one().id
    assert act(client, f"/users/{second}/impersonate").status_code == 403
    assert act(client, f"/users/{me}/impersonate").status_code == 403
    assert act(client, f"/users/{me}/ban").status_code == 403
    assert act(client, f"/users/{me}/delete", {"confirmation": me}).status_code == 403
    for action, data in [("password", {"password": "a-takeover-passphrase"}), ("reset-mfa", {}),
                         ("ban", {}), ("lock", {}), ("revoke-sessions", {}),
                         ("delete", {"confirmation": second})]:
        response = act(client, f"/users/{second}/{action}", data)
        assert response.status_code == 403, action  # not on another administrator
    assert client.get("/whoami").get_json()["user_id"] == me


def test_odd_input_is_a_4xx(app, client, admin):
    assert client.get(f"{DASH}/analytics?until=0001-01-01").status_code == 200
    assert client.get(f"{DASH}/webhooks/{'e' * 300}").status_code == 404
    assert act(client, "/webhooks/replay", {"endpoint_id": "e" * 300}).status_code == 404
    assert client.get(f"{DASH}/users?query=a%00b").status_code == 400
    assert client.get(f"{DASH}/users/user_%00").status_code == 400
    assert client.get(f"{DASH}/audit?since=0001-01-01&until=9999-12-31").status_code == 200
    assert act(client, "/users", {"email_address": "x@example.com",
                                  "first_name": "a\x00b"}).status_code == 400
    deep = "[" * 5000 + "]" * 5000
    response = act(client, f"/users/{admin}/metadata", {"public_metadata": deep},
                   page=f"{DASH}/users/{admin}")
    assert response.status_code == 422


def test_signing_out_while_impersonating_forgets_the_way_back(app, client, admin, ada):
    _, ada_id = ada
    impersonate(client, ada_id)
    assert client.get_cookie("__clerk_impersonator") is not None
    sign_out(client)
    assert client.get_cookie("__clerk_impersonator") is None


def test_stop_restores_only_the_administrators_own_session(app, client, admin, ada):
    browser, ada_id = ada
    impersonate(client, ada_id)
    # A planted "way back" (someone else's client token) is not restored.
    client.set_cookie("__clerk_impersonator", browser.get_cookie("__client").value)
    response = post(client, "/__clerk/impersonation/stop", {}, page="/")
    assert response.status_code == 303
    assert client.get("/whoami").get_json()["user_id"] is None


# -- Analytics --------------------------------------------------------------------------------


def test_activity_is_recorded_at_sign_in_and_once_a_day_after(app, client, admin, ada, frozen):
    from flask_clerk.core import clock
    from flask_clerk.core.models import UserActivity

    browser, ada_id = ada
    today = clock.now().date()
    created = act(client, "/users", {"email_address": "new@example.com"})
    new_id = created.headers["Location"].rsplit("/", 1)[1]
    impersonate(client, new_id)  # the administrator acting as her: not her activity
    client.delete_cookie("__session")
    assert client.get("/whoami").get_json()["user_id"] == new_id
    frozen.advance(24 * 3600)
    for _ in range(3):  # three refreshes on the next day: one row
        browser.delete_cookie("__session")
        assert browser.get("/whoami").get_json()["user_id"] == ada_id
    with db(app) as session:
        rows = sorted((r.user_id == ada_id, r.day) for r in session.query(UserActivity))
    tomorrow = today + timedelta(days=1)
    assert rows == [(False, today), (True, today), (True, tomorrow)]


def test_daily_and_monthly_active_users_for_a_date_range(app, client, admin):
    from flask_clerk.core.analytics import record_activity
    from flask_clerk.core.models import UserActivity

    with db(app) as session:
        session.query(UserActivity).delete()
        for user_id, day in [("user_a", date(2026, 9, 28)), ("user_a", date(2026, 9, 30)),
                             ("user_b", date(2026, 9, 30)), ("user_a", date(2026, 10, 1)),
                             ("user_c", date(2026, 10, 2)), ("user_c", date(2026, 10, 2))]:
            record_activity(session, user_id,
                            datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
        session.commit()
    data = client.get(f"{DASH}/analytics.json?since=2026-09-29&until=2026-10-02").get_json()
    assert [(d["date"], d["active_users"]) for d in data["days"]] == [
        ("2026-09-29", 0), ("2026-09-30", 2), ("2026-10-01", 1), ("2026-10-02", 1)]
    assert data["monthly_active_users"] == [{"month": "2026-09", "count": 2},
                                            {"month": "2026-10", "count": 2}]
    page = client.get(f"{DASH}/analytics?since=2026-09-29&until=2026-10-02")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "2026-09-30: 2" in html
    assert "October 2026" in html
    # Sign-ups come from the users' creation days.
    recent = client.get(f"{DASH}/analytics.json").get_json()
    assert sum(d["sign_ups"] for d in recent["days"]) == 1 == recent["days"][-1]["sign_ups"]
    assert client.get(f"{DASH}/analytics?since=nonsense&until=9999-99-99").status_code == 200


# -- API keys ----------------------------------------------------------------------------------


def test_the_secret_key_is_revealed_rolled_and_the_old_one_retires(app, client, admin, frozen):
    import httpx
    from test_mfa_flows import enrol

    from conftest import serve

    old = app.config["CLERK_SECRET_KEY"]
    page = f"{DASH}/api-keys"
    html = client.get(page).get_data(as_text=True)
    assert app.config["CLERK_PUBLISHABLE_KEY"] in html and old not in html
    # The secret key opens everything: only for an administrator with a second factor.
    assert act(client, "/api-keys/reveal", page=page).status_code == 403
    assert act(client, "/api-keys/roll", page=page).status_code == 403
    secret, _ = enrol(client)
    revealed = act(client, "/api-keys/reveal", page=page)
    assert old in revealed.get_data(as_text=True)
    assert revealed.headers["Cache-Control"] == "no-store"
    rolled = act(client, "/api-keys/roll", page=page)
    new = re.search(r"(sk_test_[\w-]{40,})", rolled.get_data(as_text=True)).group(1)
    assert new != old and new not in client.get(page).get_data(as_text=True)

    def status(key):
        return httpx.get(f"{live}/v1/users/count", headers={"Authorization": f"Bearer {key}"},
                         timeout=10).status_code

    with serve(app) as live:
        assert status(new) == 200 and status(old) == 200  # the grace period
        frozen.advance(24 * 3600 + 1)
        assert status(new) == 200 and status(old) == 401
        assert status("sk_test_nope") == 401
    client.delete_cookie("__session")
    post(client, "/__clerk/reverify/password", {"password": PASSWORD}, page="/reverify")
    from test_mfa_flows import totp_now

    post(client, "/__clerk/reverify/second-factor", {"strategy": "totp", "code": totp_now(
        secret)}, page="/reverify")
    leaked = act(client, "/api-keys/roll", {"leaked": "on"}, page=page)
    assert leaked.status_code == 200, leaked.get_data(as_text=True)
    newest = re.search(r"(sk_test_[\w-]{40,})", leaked.get_data(as_text=True)).group(1)
    with serve(app) as live:
        assert status(newest) == 200 and status(new) == 401  # a leak ends the old at once
    assert [a for a, _ in entries(app, action="api_key.")] == [
        "api_key.rolled", "api_key.rolled", "api_key.revealed"]


def test_signing_keys_rotate_and_old_tokens_still_verify(app, client, admin):
    from flask_clerk.core.models import SigningKey

    token = client.get_cookie("__session").value
    page = f"{DASH}/api-keys"
    assert act(client, "/signing-keys/rotate", page=page).status_code == 303
    with db(app) as session:
        assert session.query(SigningKey).filter(SigningKey.retired_at.is_(None)).count() == 1
        assert session.query(SigningKey).count() == 2
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert len(keys) == 2
    assert jwt.get_unverified_header(token)["kid"] in {k["kid"] for k in keys}
    assert ("signing_key.rotated", keys[0]["kid"]) in entries(app) or \
        ("signing_key.rotated", keys[1]["kid"]) in entries(app)


def test_users_come_in_pages(app, client, admin, ada, monkeypatch):
    from flask_clerk.web.dashboard import users as users_page

    monkeypatch.setattr(users_page, "PAGE_SIZE", 1)
    first = client.get(f"{DASH}/users?query=example").get_data(as_text=True)
    assert "Page 1 of 2" in first and "page=2" in first and "query=example" in first
    assert listed(client, "?query=example&page=2") == ["admin@example.com"]


# -- Settings, in force without a restart ------------------------------------------------------


def settings_form(**changes):
    """The settings form as the page posts it, with ``changes`` over the defaults."""
    form = {"sign_in_strategies": ["password", "email_code", "passkey"], "sign_up_mode": "public",
            "allowlist": "", "blocklist": "", "session_max_lifetime": "604800",
            "session_inactivity_timeout": "", "lockout_attempts": "10",
            "lockout_duration": "3600", "password_min_length": "8",
            "create_organizations_limit": "100", "organization_max_memberships": "",
            "create_organization_enabled": "on"}
    form.update(changes)
    return form


def post_settings(client, **changes):
    from flask_clerk.web.forms import sign_return_to

    with client.application.test_request_context():
        page = sign_return_to(f"{DASH}/settings")
    data = {"csrf_token": csrf_token(client, f"{DASH}/settings"), "return_to": page,
            **settings_form(**changes)}
    return client.post(f"{DASH}/settings", data=data)


def test_settings_take_effect_at_once_and_reset(app, client, admin):
    assert client.get(f"{DASH}/settings").status_code == 200
    response = post_settings(client, password_min_length="12",
                             sign_in_strategies=["password", "email_link"])
    assert response.status_code == 303, response.get_data(as_text=True)
    assert app.extensions["clerk"].settings.password_min_length == 12
    stranger = app.test_client()
    html = stranger.get("/sign-up").get_data(as_text=True)
    assert "At least 12 characters" in html
    response = post(stranger, "/__clerk/sign-up", {"email_address": "zed@example.com",
                                                   "password": "eleven-char"}, page="/sign-up")
    assert response.status_code == 422 and "12 or more characters" in response.get_data(
        as_text=True)
    assert app.extensions["clerk"].instance.settings.sign_in_strategies == (
        "password", "email_link")
    assert ("settings.changed", "instance") in entries(app)
    bad = post_settings(client, lockout_attempts="0", blocklist="not a domain!")
    assert bad.status_code == 422
    assert app.extensions["clerk"].settings.lockout_attempts == 10
    response = act(client, "/settings/password_min_length/reset", page=f"{DASH}/settings")
    assert response.status_code == 303
    assert app.extensions["clerk"].settings.password_min_length == 8


def test_another_process_sees_a_change_within_a_second(app, client, admin, monkeypatch):
    from flask_clerk.core import instance as instance_module

    other = type(app.extensions["clerk"].instance).create(
        app.extensions["clerk"].instance.config_settings)
    assert other.settings.sign_up_mode == "public"
    post_settings(client, sign_up_mode="restricted")
    monkeypatch.setattr(instance_module, "SETTINGS_RELOAD", 0.0)
    assert other.settings.sign_up_mode == "restricted"
    other.store.engine.dispose()


def test_restricted_sign_up_is_by_invitation_only(app, client, admin):
    from flask_clerk.core.invitations import create_invitation

    post_settings(client, sign_up_mode="restricted")
    stranger = app.test_client()
    response = post(stranger, "/__clerk/sign-up", {"email_address": "zed@example.com",
                                                   "password": PASSWORD}, page="/sign-up")
    assert response.status_code == 403 and "by invitation only" in response.get_data(
        as_text=True)
    with db(app) as session:
        create_invitation(app.extensions["clerk"].instance, session,
                          email_address="zed@example.com", notify=False)
        session.commit()
    sign_up(stranger, app, email="zed@example.com")
    assert stranger.get("/whoami").get_json()["user_id"]


def test_allow_and_block_lists(app, client, admin, ada):
    browser, _ = ada
    post_settings(client, blocklist="spam.example", allowlist="")
    stranger = app.test_client()
    response = post(stranger, "/__clerk/sign-up", {"email_address": "x@mail.spam.example",
                                                   "password": PASSWORD}, page="/sign-up")
    assert response.status_code == 403 and "cannot be used here" in response.get_data(
        as_text=True)
    # An allowlist without Ada's domain: she can no longer sign in; the admin's stays.
    post_settings(client, allowlist="admin@example.com\nother.example")
    sign_out(browser)
    # Refused at the identifier, before any password: a right one would show otherwise.
    for identifier in ("ada@example.com", "nobody@example.com"):
        response = post(browser, "/__clerk/sign-in", {"identifier": identifier})
        assert response.status_code == 403 and "cannot be used here" in response.get_data(
            as_text=True)
        assert "__clerk_sign_in=" not in response.headers.get("Set-Cookie", "")
    assert browser.get("/whoami").get_json()["user_id"] is None
    # Without an identifier typed (a passkey, a provider): refused as the session starts.
    from flask_clerk.core.instance import RequestInfo
    from flask_clerk.core.sessions import create_session
    from flask_clerk.errors import ClerkError

    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        row = db.get(User, ada[1])
        with pytest.raises(ClerkError, match="identifier_not_allowed"):
            create_session(instance, db, row, RequestInfo())
    post_settings(client, allowlist="example.com")  # a domain lets its addresses in
    sign_in(browser)
    assert browser.get("/whoami").get_json()["user_id"]
