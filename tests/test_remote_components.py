"""Remote mode's user button and organization switcher (issue 10): rendered from the
session token and the issuer's Backend API (cached), their forms acting at the
issuer: "Sign out" ends the session there, a switch changes its organization there."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from test_remote import APP, handshake, issuer_app

from conftest import CSRF, serve, sign_up

BEARER = "Authorization"


@pytest.fixture
def engine(make_app):
    """An issuer with organizations, serving APP; Ada signed in on its own client,
    and in two organizations."""
    app = make_app(CLERK_ALLOWED_REDIRECT_ORIGINS=(APP,), CLERK_ORGANIZATIONS=True)
    browser = app.test_client()
    sign_up(browser, app)
    user_id = browser.get("/whoami").get_json()["user_id"]
    api = app.test_client()
    headers = {BEARER: f"Bearer {app.config['CLERK_SECRET_KEY']}"}
    orgs = [api.post("/v1/organizations", headers=headers, json={
        "name": name, "slug": slug, "created_by": user_id}).get_json()
        for name, slug in (("Acme", "acme"), ("Globex", "globex"))]
    with serve(app) as url:
        yield {"app": app, "browser": browser, "url": url, "user_id": user_id,
               "orgs": orgs, "api": api, "headers": headers}


def signed_in_app(engine: dict[str, Any], **config: Any) -> tuple[Any, Any]:
    app = issuer_app(engine, **config)
    browser = app.test_client()
    browser.get(handshake(engine, page="/menu", app_browser=browser))
    return app, browser


def menu(browser: Any) -> str:
    answer = browser.get("/menu", base_url=APP)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def form_post(browser: Any, action: str, **fields: str) -> Any:
    token = CSRF.search(menu(browser)).group(1)
    return browser.post(action, base_url=APP, data={"csrf_token": token, **fields})


def session_status(engine: dict[str, Any], session_id: str) -> str:
    answer = engine["api"].get(f"/v1/sessions/{session_id}", headers=engine["headers"])
    return str(answer.get_json()["status"])


def test_the_user_button_shows_the_issuers_user_and_links_to_its_profile(engine):
    _, browser = signed_in_app(engine)
    page = menu(browser)
    assert "Ada Lovelace" in page and "ada@example.com" in page
    manage = re.search(r'cl-userButtonPopoverActionButton__manageAccount[^"]*"[^>]*href="([^"]+)"',
                       page)
    link = urlsplit(html.unescape(manage.group(1)))
    assert (link.netloc, link.path) == ("localhost", "/user")  # the issuer's profile
    back = urlsplit(parse_qs(link.query)["redirect_url"][0])
    assert back.path == "/__clerk/v1/client/handshake"  # back here through the handshake
    assert parse_qs(back.query)["redirect_url"] == [APP + "/menu"]
    assert 'action="/__clerk/sign-out"' in page
    # The stylesheet is this app's own.
    assert browser.get("/__clerk/static/clerk.css", base_url=APP).status_code == 200


def test_the_issuer_is_not_asked_at_every_render(engine, monkeypatch):
    from flask_clerk.remote import IssuerAPI

    calls: list[str] = []
    real_get = IssuerAPI.get
    monkeypatch.setattr(IssuerAPI, "get", lambda self, path: calls.append(path) or real_get(
        self, path))
    _, browser = signed_in_app(engine)
    for _ in range(3):
        assert "Acme" in menu(browser)
    user_reads = [c for c in calls if c.startswith("/v1/users/")]
    assert len(user_reads) == 2  # the user once, the memberships once


def test_sign_out_ends_the_session_at_the_issuer(engine):
    _, browser = signed_in_app(engine)
    session_id = browser.get("/whoami", base_url=APP).get_json()["session_id"]
    assert session_status(engine, session_id) == "active"
    answer = form_post(browser, "/__clerk/sign-out")
    assert answer.status_code == 303 and answer.location == "/"
    assert session_status(engine, session_id) == "revoked"
    assert browser.get("/whoami", base_url=APP).get_json()["user_id"] is None
    assert browser.get_cookie("__client_uat", domain="app.example.test").value == "0"
    # The issuer's own pages are signed out too, at their next refresh.
    engine["browser"].delete_cookie("__session")
    assert engine["browser"].get("/whoami").get_json()["user_id"] is None


def test_sign_out_needs_the_forms_csrf_token(engine):
    _, browser = signed_in_app(engine)
    session_id = browser.get("/whoami", base_url=APP).get_json()["session_id"]
    answer = browser.post("/__clerk/sign-out", base_url=APP, data={})
    assert answer.status_code == 400
    assert session_status(engine, session_id) == "active"
    assert browser.get("/whoami", base_url=APP).get_json()["user_id"] is not None


def test_an_unreachable_issuer_leaves_the_user_signed_in_and_says_so(engine):
    app, browser = signed_in_app(engine)
    menu(browser)  # (the user is cached)
    app.extensions["clerk"].instance.api._settings = app.extensions["clerk"].settings.__class__(
        **{**app.extensions["clerk"].settings.__dict__, "api_url": "http://127.0.0.1:9"})
    answer = form_post(browser, "/__clerk/sign-out", return_to="")
    assert answer.status_code == 503
    assert "could not be reached" in answer.get_data(as_text=True)
    assert browser.get("/whoami", base_url=APP).get_json()["user_id"] is not None


def test_the_switcher_lists_the_organizations_and_switches_at_the_issuer(engine):
    _, browser = signed_in_app(engine)
    page = menu(browser)
    assert "Personal account" in page and "Acme" in page and "Globex" in page
    acme, globex = engine["orgs"]
    answer = form_post(browser, "/__clerk/organizations/active", organization_id=globex["id"])
    assert answer.status_code == 303, answer.get_data(as_text=True)
    whoami = browser.get("/whoami", base_url=APP).get_json()
    assert whoami["org_slug"] == "globex" and whoami["admin"] is True
    # The issuer's session switched too: its next tokens carry Globex.
    engine["browser"].delete_cookie("__session")
    assert engine["browser"].get("/whoami").get_json()["org_slug"] == "globex"
    trigger = re.search(r'<summary class="cl-organizationSwitcherTrigger[^"]*" '
                        r'aria-label="([^"]+)"', menu(browser)).group(1)
    assert trigger.startswith("Globex")
    # Back to the personal account.
    form_post(browser, "/__clerk/organizations/active", organization_id="")
    assert browser.get("/whoami", base_url=APP).get_json()["org_slug"] is None


def test_an_organization_the_user_is_not_in_is_refused(engine):
    _, browser = signed_in_app(engine)
    other = engine["api"].post("/v1/organizations", headers=engine["headers"], json={
        "name": "Initech"}).get_json()
    for organization_id in (other["id"], "org_missing", "x" * 300):
        answer = form_post(browser, "/__clerk/organizations/active",
                           organization_id=organization_id, return_to="")
        assert 400 <= answer.status_code < 500, organization_id
        assert browser.get("/whoami", base_url=APP).get_json()["org_slug"] is None


def test_the_backend_api_switches_a_session_and_checks_its_input(engine):
    api, headers = engine["api"], engine["headers"]
    session_id = engine["browser"].get("/whoami").get_json()["session_id"]
    path = f"/v1/sessions/{session_id}/active_organization"
    acme = engine["orgs"][0]
    answer = api.post(path, headers=headers, json={"organization_id": acme["id"],
                                                   "request_origin": APP})
    assert answer.status_code == 200 and answer.get_json()["object"] == "token"
    import jwt

    claims = jwt.decode(answer.get_json()["jwt"], options={"verify_signature": False})
    assert claims["o"]["slg"] == "acme" and claims["azp"] == APP and claims["sid"] == session_id
    for body, status in (({"organization_id": 5}, 422), ({"request_origin": "javascript:x"}, 422),
                         ({"unknown": 1}, 422)):
        assert api.post(path, headers=headers, json=body).status_code == status, body
    assert api.post("/v1/sessions/sess_missing/active_organization", headers=headers,
                    json={}).status_code == 404
    assert api.post(path, json={}).status_code == 401  # (the secret key, always)


def test_flask_clerk_sync_reads_the_issuer_in_remote_mode(engine):
    """The app's own users table, filled from the issuer's Backend API (the same
    functions the webhooks use)."""
    from flask_clerk import ClerkWebhooks
    from flask_clerk.cli import clerk

    app = issuer_app(engine)
    rows: dict[str, str] = {"user_gone": "gone@example.com"}
    ClerkWebhooks(app).sync_users(
        upsert=lambda user: rows.__setitem__(user["id"], user["first_name"]) or "created",
        delete=lambda user_id, at: rows.pop(user_id), known_ids=lambda: list(rows))
    result = app.test_cli_runner().invoke(clerk, ["sync"])
    assert result.exit_code == 0, result.output
    assert "1 created, 0 updated, 0 unchanged, 1 deleted." in result.output
    assert rows == {engine["user_id"]: "Ada"}
