"""The ``waitlist`` sign-up mode (issue 8): people join on the waitlist page (once
per address, revealing nothing), sign-up is by invitation only, an administrator
invites or rejects them from the dashboard or the Backend API, and their sign-up
through the invitation completes the entry."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from clerk_backend_api import Clerk, models
from clerk_backend_api.utils import BackoffStrategy, RetryConfig
from sqlalchemy import select

from conftest import PASSWORD, csrf_token, last_code, post, serve, sign_in, sign_up
from flask_clerk.core import waitlist
from flask_clerk.core import webhooks as outbox
from flask_clerk.core.models import AuditEntry, Invitation, WaitlistEntry, WebhookMessage

DASH = "/__clerk/dashboard"
HTML = {"Accept": "text/html"}


@pytest.fixture
def app(make_app):
    return make_app(CLERK_SIGN_UP_MODE="waitlist", CLERK_DASHBOARD_ADMINS=("admin@example.com",),
                    CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True)


@pytest.fixture
def admin(app, client):
    """The administrator (made through the Backend API: sign-ups wait), signed in."""
    response = client.post("/v1/users", headers=api_auth(app), json={
        "email_address": ["admin@example.com"], "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    sign_in(client, "admin@example.com")
    return client


def api_auth(app):
    return {"Authorization": f"Bearer {app.config['CLERK_SECRET_KEY']}"}


def db(app):
    return app.extensions["clerk"].instance.store.session()


def entries(app):
    with db(app) as session:
        return [(e.email_address, e.status) for e in
                session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.created_at))]


def mails(app, to):
    return [m.subject for m in app.extensions["clerk"].instance.dev_mailbox.mails(to)]


def join(client, email):
    return post(client, "/__clerk/waitlist", {"email_address": email}, page="/waitlist")


def post_from(client, path, data, page):
    """A form posted from ``page`` (which may show no form: the token comes from sign-in)."""
    from flask_clerk.web.forms import sign_return_to

    with client.application.test_request_context():
        signed_page = sign_return_to(page)
    return client.post(path, data={"csrf_token": csrf_token(client), "return_to": signed_page,
                                   **data})


def act(client, path):
    return post(client, f"{DASH}{path}", {}, page=f"{DASH}/waitlist")


# -- Joining ------------------------------------------------------------------------------


def test_the_waitlist_page_works_without_javascript(app, client):
    html = client.get("/waitlist").get_data(as_text=True)
    assert "Join the waitlist" in html
    assert "Enter your email address and we’ll let you know when your spot is ready" in html
    for key in ("cl-cardBox", "cl-headerTitle", "cl-formFieldInput__emailAddress",
                "cl-formButtonPrimary", "cl-footerAction__waitlist"):
        assert key in html, key
    assert 'method="post" action="/__clerk/waitlist"' in html and "<script" not in html
    assert "Already have access?" in html and 'href="/sign-in"' in html

    response = join(client, "ada@example.com")
    assert response.status_code == 303 and response.headers["Location"] == "/waitlist"
    thanks = client.get("/waitlist").get_data(as_text=True)
    assert "Thanks for joining the waitlist!" in thanks
    assert "We’ll be in touch when your spot is ready" in thanks
    # Shown once: the page comes back to the form.
    assert "Thanks for joining" not in client.get("/waitlist").get_data(as_text=True)
    assert entries(app) == [("ada@example.com", "pending")]
    assert mails(app, "ada@example.com") == ["You’re on the waitlist"]


def test_joining_twice_makes_one_entry_and_answers_alike(app, client):
    first = join(client, "ada@example.com")
    again = join(app.test_client(), "  ADA@Example.com ")
    assert (first.status_code, first.headers["Location"]) == (
        again.status_code, again.headers["Location"])
    assert [c.split("=")[0] for c in first.headers.getlist("Set-Cookie")] == [
        c.split("=")[0] for c in again.headers.getlist("Set-Cookie")]
    assert first.get_data() == again.get_data()
    assert entries(app) == [("ada@example.com", "pending")]
    assert mails(app, "ada@example.com") == ["You’re on the waitlist"]  # one confirmation


def test_an_address_with_an_account_gets_a_notice_not_an_entry(app, client):
    app.test_client().post("/v1/users", headers=api_auth(app),
                           json={"email_address": ["grace@example.com"]})
    response = join(client, "grace@example.com")
    assert response.status_code == 303 and response.headers["Location"] == "/waitlist"
    assert entries(app) == []
    assert mails(app, "grace@example.com") == ["Someone tried to sign up with your email address"]


@pytest.mark.parametrize(("email", "status", "message"), [
    ("", 422, "Enter a value."),
    ("not-an-email", 422, "Enter a valid email address."),
    ("a" * 70 + "@example.com", 422, "Enter a valid email address."),
    ("x" * 400, 422, "Enter a valid email address."),
    ("zed@spam.example", 403, "This email address cannot be used here."),
])
def test_bad_or_blocked_addresses_are_refused_in_place(make_app, email, status, message):
    app = make_app(CLERK_SIGN_UP_MODE="waitlist", CLERK_BLOCKLIST=("spam.example",))
    client = app.test_client()
    response = join(client, email)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html and "Join the waitlist" in html  # the page, with the error
    assert 'aria-invalid="true"' in html
    assert entries(app) == []


def test_joining_needs_the_csrf_token_and_is_rate_limited(make_app):
    app = make_app(CLERK_SIGN_UP_MODE="waitlist", CLERK_RATE_LIMITS={"sign_up": "2/minute"})
    client = app.test_client()
    response = client.post("/__clerk/waitlist", data={"email_address": "ada@example.com"})
    assert response.status_code == 400 and entries(app) == []
    # Per client address: other browsers on it count too.
    assert join(app.test_client(), "a@example.com").status_code == 303
    assert join(app.test_client(), "b@example.com").status_code == 303
    limited = join(app.test_client(), "c@example.com")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert [e for e, _ in entries(app)] == ["a@example.com", "b@example.com"]


def test_outside_waitlist_mode_the_waitlist_takes_no_one(make_app):
    app = make_app()
    client = app.test_client()
    html = client.get("/waitlist").get_data(as_text=True)
    assert "Sign-ups are open" in html and 'href="/sign-up"' in html
    assert 'action="/__clerk/waitlist"' not in html
    response = post(client, "/__clerk/waitlist", {"email_address": "ada@example.com"},
                    page="/sign-up")
    assert response.status_code == 403 and entries(app) == []
    assert "Want early access?" not in client.get("/sign-in").get_data(as_text=True)


# -- Signing up while the waitlist is on ---------------------------------------------------


def test_sign_up_leads_to_the_waitlist_and_refuses_the_uninvited(app, client):
    html = client.get("/sign-up").get_data(as_text=True)
    assert "Access restricted" in html and 'href="/waitlist"' in html
    assert "Join waitlist" in html and 'action="/__clerk/sign-up"' not in html
    response = post_from(client, "/__clerk/sign-up", {"email_address": "zed@example.com",
                                                      "password": PASSWORD}, page="/sign-up")
    assert response.status_code == 403
    refused = response.get_data(as_text=True)
    assert "by invitation only" in refused and "Access restricted" in refused
    assert mails(app, "zed@example.com") == []
    sign_in_page = client.get("/sign-in").get_data(as_text=True)
    assert "Want early access?" in sign_in_page and "Join waitlist" in sign_in_page
    assert "cl-footerAction__waitlist" in sign_in_page and "Don’t have an account?" not in (
        sign_in_page)
    # A made-up ticket does not open the form.
    assert "Access restricted" in client.get("/sign-up?__clerk_ticket=nope").get_data(
        as_text=True)


def test_invited_from_the_dashboard_then_signed_up_completes_the_entry(app, admin):
    instance = app.extensions["clerk"].instance
    with db(app) as session:
        outbox.add_endpoint(instance, session, "http://127.0.0.1:9/hook",
                            event_types=["waitlistEntry.created", "waitlistEntry.updated"])
    ada = app.test_client()
    join(ada, "ada@example.com")
    listing = admin.get(f"{DASH}/waitlist", headers=HTML).get_data(as_text=True)
    assert "ada@example.com" in listing and "Pending" in listing
    (entry_id,) = re.findall(r"/waitlist/(wle_\w+)/invite", listing)

    response = act(admin, f"/waitlist/{entry_id}/invite")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert entries(app) == [("ada@example.com", "invited")]
    invitation_mail = app.extensions["clerk"].instance.dev_mailbox.mails("ada@example.com")[0]
    assert invitation_mail.subject == "You're invited to Test App"
    link = re.search(r"(https?://\S+__clerk_ticket=\S+)", invitation_mail.text).group(1)
    page = urlsplit(link).path + "?" + urlsplit(link).query
    assert page.startswith("/sign-up?")

    form = ada.get(page).get_data(as_text=True)
    assert "Create your account" in form and "Access restricted" not in form
    response = post(ada, "/__clerk/sign-up", {"email_address": "ada@example.com",
                                              "password": PASSWORD}, page=page)
    assert response.status_code == 303, response.get_data(as_text=True)
    response = post(ada, "/__clerk/sign-up/verify",
                    {"code": last_code(app, "ada@example.com")}, page=page)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert ada.get("/whoami").get_json()["user_id"]
    assert entries(app) == [("ada@example.com", "completed")]
    with db(app) as session:
        assert session.scalars(select(Invitation.status)).all() == ["accepted"]
        audit = session.scalars(select(AuditEntry)).all()
        assert [(a.action, a.target_type, a.target_id) for a in audit] == [
            ("waitlist_entry.invited", "waitlist_entry", entry_id)]
        events = [(m.event_type, m.payload) for m in session.scalars(
            select(WebhookMessage).order_by(WebhookMessage.created_at))]
    assert [(kind, re.search(r'"status":"(\w+)"', payload).group(1)) for kind, payload
            in events] == [("waitlistEntry.created", "pending"),
                           ("waitlistEntry.updated", "invited"),
                           ("waitlistEntry.updated", "completed")]
    assert all('"object":"waitlist_entry"' in payload for _, payload in events)
    completed = admin.get(f"{DASH}/waitlist?status=completed", headers=HTML).get_data(
        as_text=True)
    assert "ada@example.com" in completed and f"/waitlist/{entry_id}/invite" not in completed


def test_reject_revokes_the_invitation_and_delete_forgets(app, admin):
    join(app.test_client(), "ada@example.com")
    join(app.test_client(), "bob@example.com")
    with db(app) as session:
        ids = dict(session.execute(select(WaitlistEntry.email_address, WaitlistEntry.id)).all())
    assert act(admin, f"/waitlist/{ids['ada@example.com']}/invite").status_code == 303
    assert act(admin, f"/waitlist/{ids['ada@example.com']}/reject").status_code == 303
    assert act(admin, f"/waitlist/{ids['bob@example.com']}/reject").status_code == 303
    assert sorted(entries(app)) == [("ada@example.com", "rejected"),
                                    ("bob@example.com", "rejected")]
    with db(app) as session:
        assert session.scalars(select(Invitation.status)).all() == ["revoked"]
    refused = post_from(app.test_client(), "/__clerk/sign-up", {
        "email_address": "ada@example.com", "password": PASSWORD}, page="/sign-up")
    assert refused.status_code == 403
    # Joining again changes nothing and tells nothing.
    assert join(app.test_client(), "ada@example.com").status_code == 303
    assert ("ada@example.com", "rejected") in entries(app)

    rejected = admin.get(f"{DASH}/waitlist?status=rejected&query=bob", headers=HTML)
    html = rejected.get_data(as_text=True)
    assert "bob@example.com" in html and "ada@example.com" not in html
    assert act(admin, f"/waitlist/{ids['bob@example.com']}/delete").status_code == 303
    assert entries(app) == [("ada@example.com", "rejected")]
    assert act(admin, f"/waitlist/{ids['bob@example.com']}/delete").status_code == 404
    with db(app) as session:
        actions = sorted(a.action for a in session.scalars(select(AuditEntry)))
    assert actions == ["waitlist_entry.deleted", "waitlist_entry.invited",
                       "waitlist_entry.rejected", "waitlist_entry.rejected"]


def invited_sign_up(app, admin, email):
    """``email`` joins, is invited, and starts signing up through the mailed link: the
    browser, and the page its code is to be entered on."""
    browser = app.test_client()
    join(browser, email)
    with db(app) as session:
        entry_id = session.scalars(select(WaitlistEntry.id).where(
            WaitlistEntry.email_address == email)).one()
    assert act(admin, f"/waitlist/{entry_id}/invite").status_code == 303
    mail = app.extensions["clerk"].instance.dev_mailbox.mails(email)[0]
    link = urlsplit(re.search(r"(https?://\S+__clerk_ticket=\S+)", mail.text).group(1))
    page = f"{link.path}?{link.query}"
    response = post(browser, "/__clerk/sign-up", {"email_address": email,
                                                  "password": PASSWORD}, page=page)
    assert response.status_code == 303, response.get_data(as_text=True)
    return browser, page, entry_id


def test_rejected_while_the_code_is_on_its_way_stops_the_sign_up(app, admin):
    browser, page, entry_id = invited_sign_up(app, admin, "ada@example.com")
    assert act(admin, f"/waitlist/{entry_id}/reject").status_code == 303
    response = post(browser, "/__clerk/sign-up/verify",
                    {"code": last_code(app, "ada@example.com")}, page=page)
    assert response.status_code == 403, response.get_data(as_text=True)
    assert browser.get("/whoami").get_json()["user_id"] is None
    assert entries(app) == [("ada@example.com", "rejected")]


def test_deleting_an_invited_entry_revokes_its_invitation(app, admin):
    browser, page, entry_id = invited_sign_up(app, admin, "ada@example.com")
    assert act(admin, f"/waitlist/{entry_id}/delete").status_code == 303
    with db(app) as session:
        assert session.scalars(select(Invitation.status)).all() == ["revoked"]
    response = post(browser, "/__clerk/sign-up/verify",
                    {"code": last_code(app, "ada@example.com")}, page=page)
    assert response.status_code == 403


def test_an_organization_invitation_does_not_let_a_rejected_address_in(make_app):
    from test_organizations import create_org, invite, org

    app = make_app(CLERK_SIGN_UP_MODE="waitlist", CLERK_DASHBOARD_ADMINS=("admin@example.com",),
                   CLERK_ORGANIZATIONS=True)
    admin = app.test_client()
    admin.post("/v1/users", headers=api_auth(app), json={
        "email_address": ["admin@example.com"], "password": PASSWORD})
    sign_in(admin, "admin@example.com")
    join(app.test_client(), "eve@example.com")
    join(app.test_client(), "zoe@example.com")
    with db(app) as session:
        ids = dict(session.execute(select(WaitlistEntry.email_address, WaitlistEntry.id)).all())
    assert act(admin, f"/waitlist/{ids['eve@example.com']}/reject").status_code == 303
    # A member of the app (here the administrator, as any member could) invites both
    # to their organization.
    create_org(admin, "Acme Inc", "acme")
    acme = org(app, "acme")
    for email, expected in (("eve@example.com", 403), ("zoe@example.com", 303)):
        ticket = invite(admin, app, acme, email)
        page = f"/sign-up?__clerk_ticket={ticket}"
        response = post(app.test_client(), "/__clerk/sign-up",
                        {"ticket": ticket, "password": PASSWORD}, page=page)
        assert response.status_code == expected, (email, response.get_data(as_text=True))
    # The one let in by the organization's invitation completes her waitlist entry.
    assert sorted(entries(app)) == [("eve@example.com", "rejected"),
                                    ("zoe@example.com", "completed")]


def test_a_second_invitation_is_refused_in_place(app, admin):
    join(app.test_client(), "ada@example.com")
    with db(app) as session:
        entry = session.scalars(select(WaitlistEntry)).one()
        waitlist.invite_entry(app.extensions["clerk"].instance, session, entry)
        entry_id = entry.id
    response = act(admin, f"/waitlist/{entry_id}/invite")
    assert response.status_code == 422
    assert "has already been invited" in response.get_data(as_text=True)
    with db(app) as session:
        assert session.query(Invitation).count() == 1
        assert session.query(AuditEntry).count() == 0  # a refused action leaves no entry


def test_the_dashboard_waitlist_is_for_administrators_only(app, admin):
    join(app.test_client(), "ada@example.com")
    with db(app) as session:
        entry_id = session.scalars(select(WaitlistEntry.id)).one()
    stranger = app.test_client()
    stranger.post("/v1/users", headers=api_auth(app),
                  json={"email_address": ["eve@example.com"], "password": PASSWORD})
    sign_in(stranger, "eve@example.com")
    assert stranger.get(f"{DASH}/waitlist", headers=HTML).status_code == 403
    for action in ("invite", "reject", "delete"):
        response = stranger.post(f"{DASH}/waitlist/{entry_id}/{action}", headers=HTML,
                                 data={"csrf_token": csrf_token(stranger)})
        assert response.status_code == 403, action
    assert entries(app) == [("ada@example.com", "pending")]
    # The administrator's page has a pager of PAGE_SIZE rows.
    instance = app.extensions["clerk"].instance
    with db(app) as session:
        for n in range(25):
            waitlist.add_entry(instance, session, email_address=f"p{n}@example.com",
                               notify=False)
    html = admin.get(f"{DASH}/waitlist", headers=HTML).get_data(as_text=True)
    assert "Page 1 of 2" in html and html.count("/reject") == 25


def test_the_settings_page_offers_the_waitlist(make_app):
    app = make_app(CLERK_DASHBOARD_ADMINS=("admin@example.com",))
    client = app.test_client()
    sign_up(client, app, email="admin@example.com")
    html = client.get(f"{DASH}/settings", headers=HTML).get_data(as_text=True)
    assert '<option value="waitlist"' in html
    from test_dashboard import post_settings

    assert post_settings(client, sign_up_mode="waitlist").status_code == 303
    assert app.extensions["clerk"].settings.sign_up_mode == "waitlist"
    assert "Access restricted" in app.test_client().get("/sign-up").get_data(as_text=True)


# -- The Backend API, through the official SDK ------------------------------------------------


@pytest.fixture
def sdk(app):
    no_retry = RetryConfig("backoff", BackoffStrategy(1, 1, 1, 1), False)
    with serve(app) as base_url, Clerk(bearer_auth=app.config["CLERK_SECRET_KEY"],
                                       server_url=f"{base_url}/v1",
                                       retry_config=no_retry) as clerk:
        yield clerk


def test_waitlist_entries_through_the_sdk(app, sdk):
    created = sdk.waitlist_entries.create(request={"email_address": "Ada@Example.com",
                                                   "notify": False})
    assert created.id.startswith("wle_") and created.status == "pending"
    assert created.email_address == "ada@example.com" and created.invitation is None
    again = sdk.waitlist_entries.create(request={"email_address": "ada@example.com"})
    assert again.id == created.id
    assert mails(app, "ada@example.com") == []  # notify: false, and then already on the list
    sdk.waitlist_entries.create(request={"email_address": "bob@example.com"})
    assert mails(app, "bob@example.com") == ["You’re on the waitlist"]

    listed = sdk.waitlist_entries.list(order_by="+created_at")
    assert listed.total_count == 2
    assert [e.email_address for e in listed.data] == ["ada@example.com", "bob@example.com"]
    assert [e.id for e in sdk.waitlist_entries.list(query="ada").data] == [
        created.id]

    invited = sdk.waitlist_entries.invite(waitlist_entry_id=created.id)
    assert invited.status == "invited" and invited.invitation.status == "pending"
    assert invited.invitation.email_address == "ada@example.com"
    with pytest.raises(models.ClerkErrors) as duplicate:
        sdk.waitlist_entries.invite(waitlist_entry_id=created.id)
    assert duplicate.value.data.errors[0].code == "duplicate_invitation"
    resent = sdk.waitlist_entries.invite(waitlist_entry_id=created.id, ignore_existing=True)
    assert resent.invitation.id != invited.invitation.id
    pending = sdk.waitlist_entries.list(status="pending")
    assert [e.email_address for e in pending.data] == ["bob@example.com"]

    rejected = sdk.waitlist_entries.reject(waitlist_entry_id=created.id)
    assert rejected.status == "rejected" and rejected.invitation.status == "revoked"
    with db(app) as session:  # the first invitation too: no way in is left
        assert session.scalars(select(Invitation.status)).all() == ["revoked", "revoked"]
    deleted = sdk.waitlist_entries.delete(waitlist_entry_id=created.id)
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(models.ClerkErrors) as missing:
        sdk.waitlist_entries.reject(waitlist_entry_id=created.id)
    assert missing.value.data.errors[0].code == "resource_not_found"
    assert sdk.waitlist_entries.list().total_count == 1


def test_the_backend_api_refuses_bad_input(app, client):
    auth = api_auth(app)
    for query in ("status=waiting", "order_by=name", "limit=0", "colour=red",
                  "query=" + "a" * 201):
        response = client.get(f"/v1/waitlist_entries?{query}", headers=auth)
        assert response.status_code == 422, query
    for body in ({}, {"email_address": "nope"}, {"email_address": "a@example.com", "x": 1},
                 {"email_address": "a@example.com", "notify": "yes"}):
        response = client.post("/v1/waitlist_entries", headers=auth, json=body)
        assert response.status_code == 422, body
    assert client.post("/v1/waitlist_entries/wle_missing/invite", headers=auth,
                       json={}).status_code == 404
    assert client.delete("/v1/waitlist_entries/" + "w" * 300, headers=auth).status_code == 404
    assert client.get("/v1/waitlist_entries").status_code == 401
    assert entries(app) == []
