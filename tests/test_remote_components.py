"""Remote mode's user button and organization switcher (issue 10): rendered from the
session token and the issuer's Backend API (cached), their forms acting at the
issuer: "Sign out" ends the session there, a switch changes its organization there."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC
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


# -- found by the review -------------------------------------------------------------------


def test_a_page_left_open_past_its_token_still_signs_out_at_the_issuer(engine):
    app, browser = signed_in_app(engine)
    session_id = browser.get("/whoami", base_url=APP).get_json()["session_id"]
    cookie = next(c for c in browser._cookies.values() if c.key == "__session")
    assert cookie.expires is None  # kept for the browser's session, not the token's minute
    csrf = browser.get("/csrf", base_url=APP).get_data(as_text=True)
    verifier = app.extensions["clerk"].instance.verifier
    later = time.time() + 600
    verifier.clock = lambda: later  # ten minutes later, the token long expired
    assert browser.get("/whoami", base_url=APP).get_json()["user_id"] is None
    answer = browser.post("/__clerk/sign-out", base_url=APP, data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert session_status(engine, session_id) == "revoked"


def test_a_sign_out_that_cannot_name_its_session_says_so(engine):
    app, browser = signed_in_app(engine)
    session_id = browser.get("/whoami", base_url=APP).get_json()["session_id"]
    csrf = browser.get("/csrf", base_url=APP).get_data(as_text=True)
    browser.delete_cookie("__session", domain="app.example.test")
    answer = browser.post("/__clerk/sign-out", base_url=APP, data={"csrf_token": csrf})
    assert answer.status_code == 409 and "reload it" in answer.get_data(as_text=True)
    assert session_status(engine, session_id) == "active"


def test_a_sign_out_the_issuer_refuses_is_not_reported_as_done(engine):
    """A wrong secret key (or none: CLERK_JWT_KEY alone) cannot revoke: the user is
    told, not sent on as if signed out everywhere."""
    pem = engine["app"].extensions["clerk"].instance.signing_key().private_key.public_key()
    from cryptography.hazmat.primitives import serialization

    app, browser = signed_in_app(engine, CLERK_SECRET_KEY="sk_test_wrong", CLERK_JWT_KEY=(
        pem.public_bytes(serialization.Encoding.PEM,
                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()))
    session_id = browser.get("/whoami", base_url=APP).get_json()["session_id"]
    assert session_id
    csrf = browser.get("/csrf", base_url=APP).get_data(as_text=True)
    answer = browser.post("/__clerk/sign-out", base_url=APP, data={"csrf_token": csrf})
    assert answer.status_code == 502 and "refused" in answer.get_data(as_text=True)
    assert session_status(engine, session_id) == "active"


def test_a_switch_never_extends_a_token_nor_an_ended_session(engine):
    api, headers = engine["api"], engine["headers"]
    session_id = engine["browser"].get("/whoami").get_json()["session_id"]
    path = f"/v1/sessions/{session_id}/active_organization"
    import jwt

    soon = int(time.time()) + 7
    answer = api.post(path, headers=headers, json={"organization_id": engine["orgs"][0]["id"],
                                                   "not_after": soon})
    assert jwt.decode(answer.get_json()["jwt"], options={"verify_signature": False})[
        "exp"] <= soon
    # Past its lifetime, the session cannot be switched (and so renewed) any more.
    instance = engine["app"].extensions["clerk"].instance
    from datetime import datetime, timedelta

    from flask_clerk.core.models import Session

    with instance.store.session() as db:
        db.get(Session, session_id).expire_at = datetime.now(UTC) - timedelta(
            seconds=1)
        db.commit()
    assert api.post(path, headers=headers, json={}).status_code == 404
    assert session_status(engine, session_id) == "expired"


def test_the_app_switches_without_extending_its_token(engine):
    app, browser = signed_in_app(engine)
    import jwt

    def expiry() -> int:
        token = next(c for c in browser._cookies.values() if c.key == "__session").value
        return int(jwt.decode(token, options={"verify_signature": False})["exp"])

    before = expiry()
    time.sleep(1.1)
    form_post(browser, "/__clerk/organizations/active", organization_id=engine["orgs"][0]["id"])
    assert browser.get("/whoami", base_url=APP).get_json()["org_slug"] == "acme"
    assert expiry() <= before


def test_the_secret_key_never_follows_a_redirect():
    from flask import Flask, redirect, request

    from flask_clerk.remote import IssuerAPI, IssuerUnavailable, RemoteSettings

    seen: list[str | None] = []
    elsewhere = Flask("elsewhere")

    @elsewhere.get("/<path:anything>")
    def record(anything: str) -> str:
        seen.append(request.headers.get("Authorization"))
        return "{}"

    with serve(elsewhere) as other:
        mover = Flask("mover")

        @mover.get("/<path:anything>")
        def move(anything: str) -> Any:
            return redirect(other + "/" + anything, 307)

        with serve(mover) as url:
            settings = RemoteSettings.from_config({
                "CLERK_PUBLISHABLE_KEY": issuer_key(), "CLERK_SECRET_KEY": "sk_live_secret",
                "CLERK_API_URL": url}, debug=True)
            with pytest.raises(IssuerUnavailable):
                IssuerAPI(settings).get("/v1/users/user_1")
    assert seen == []


def issuer_key() -> str:
    from test_remote import publishable_key

    return publishable_key("auth.example.test/__clerk")


def test_while_the_issuer_cannot_be_read_the_menus_step_aside(engine):
    """No user to show: the page renders without its menus (not a 500), and the
    issuer is asked again a few seconds later, not at every render."""
    app, browser = signed_in_app(engine)
    assert "cl-userButton-root" in menu(browser)
    state = app.extensions["clerk"]
    state.instance.api._settings = state.settings.__class__(
        **{**state.settings.__dict__, "api_url": "http://127.0.0.1:9"})
    state.users._cache.clear()
    page = menu(browser)
    assert "cl-userButton-root" not in page and "cl-organizationSwitcher-root" not in page
    assert browser.get("/whoami", base_url=APP).get_json()["user_id"]  # still signed in


def test_the_issuers_pages_are_links_not_components(engine):
    app, _ = signed_in_app(engine)
    with app.test_request_context("/", base_url=APP):
        from flask import render_template_string

        with pytest.raises(RuntimeError, match="page of the issuer's.*http://localhost/user"):
            render_template_string("{{ clerk.user_profile() }}")
