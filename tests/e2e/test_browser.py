"""End to end: the demo app served for real, driven by a real (headless) Chromium.

A user signs up (reading the code from the dev mailbox, or from an SMTP test
server), lands on the dashboard, sees the UserButton, signs out, signs back in and
calls ``/api/me``; the same with JavaScript off; a signed-out visit to a protected
page goes to sign in and back. Screenshots land in ``tests/artifacts/`` (ignored by
git); they are for looking at, nothing asserts on pixels.

Chromium is Debian's (``/usr/bin/chromium``): when it is missing or will not start,
the tests skip, or fail under ``CLERK_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from conftest import PASSWORD, service_missing
from conftest import sign_up as sign_up_with_client
from flask_clerk.cli import new_instance_keys

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 375, "height": 740}
TIMEOUT_MS = 10_000
CODE = re.compile(r"\b(\d{6})\b")


# -- the browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module (each test opens its own context: fresh cookies)."""
    with chromium() as launched:
        yield launched


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """Debian's Chromium under Playwright, with ``extra_args`` on its command line."""
    if not os.path.exists(CHROMIUM):
        service_missing(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - it is a dev dependency
        service_missing(f"playwright is not installed: {exc}")
    try:
        playwright = sync_playwright().start()
    except Exception as exc:  # noqa: BLE001 - the driver itself would not start
        service_missing(f"Playwright's driver failed to start: {exc}")
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=[*CHROMIUM_ARGS, *extra_args], timeout=30_000)
    except Exception as exc:  # noqa: BLE001 - any launch failure means "no browser"
        playwright.stop()
        service_missing(f"Chromium at {CHROMIUM} failed to launch: {exc}")
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


@pytest.fixture(scope="module")
def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=TIMEOUT_MS)
    return playwright_expect


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(viewport=..., javascript=...)``: a page in a fresh context (no cookies)."""
    contexts: list[Any] = []

    def open_page(*, viewport: dict[str, int] = DESKTOP, javascript: bool = True) -> Any:
        context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


# -- the demo app, served for real -----------------------------------------------------


@dataclass
class LiveServer:
    app: Flask
    url: str

    def mails(self, to: str) -> list[dict[str, str]]:
        """The dev mailbox, as a developer's script would read it (newest first)."""
        query = urllib.parse.urlencode({"format": "json", "to": to})
        with urllib.request.urlopen(f"{self.url}/__clerk/dev/mail?{query}", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def code_for(self, email: str) -> str:
        mails = self.mails(email)
        assert mails, f"no mail to {email} in the dev mailbox"
        match = CODE.search(mails[0]["text"])
        assert match, mails[0]["text"]
        return match.group(1)


@contextmanager
def serve_demo(tmp_path: Path, port: int = 0, **config: Any) -> Iterator[LiveServer]:
    """The demo app on a free port of 127.0.0.1 (or ``port``), in a thread, with
    fresh databases."""
    if str(REPO) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not add it
        sys.path.insert(0, str(REPO))
    from demo_app import create_app
    from demo_app.models import db
    from flask_clerk.core.models import Base

    keys = new_instance_keys("127.0.0.1/__clerk")
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": keys["FLASK_SECRET_KEY"],
        "CLERK_PUBLISHABLE_KEY": keys["CLERK_PUBLISHABLE_KEY"],
        "CLERK_SECRET_KEY": keys["CLERK_SECRET_KEY"],
        "CLERK_DATABASE_URL": f"sqlite:///{tmp_path}/clerk.db",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/demo.db",
        "CLERK_COOKIE_SECURE": False,
        **config,
    })
    engine = app.extensions["clerk"].instance.store.engine
    Base.metadata.create_all(engine)
    with app.app_context():
        db.create_all()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        engine.dispose()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    with serve_demo(tmp_path) as server:
        yield server


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# -- what a user does -------------------------------------------------------------------


def fill_sign_up(page: Any, expect: Any, server: LiveServer, email: str,
                 first_name: str = "Ada", last_name: str = "Lovelace") -> None:
    page.goto(server.url + "/sign-up")
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill(last_name)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()


def enter_code(page: Any, expect: Any, server: LiveServer, code: str) -> None:
    page.get_by_label("Enter verification code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(server.url + "/dashboard")


def sign_in(page: Any, expect: Any, email: str, password: str = PASSWORD) -> None:
    """From a sign-in page: the email step, then the password step."""
    expect(page.get_by_role("heading", name="Sign in to Acme Projects")).to_be_visible()
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Enter your password")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Continue").click()


def open_user_menu(page: Any, expect: Any) -> None:
    sign_out_item = page.get_by_role("menuitem", name="Sign out")
    expect(sign_out_item).to_be_hidden()
    page.get_by_label("Open user menu").click()
    expect(sign_out_item).to_be_visible()
    expect(page.get_by_role("menuitem", name="Manage account")).to_be_visible()


def sign_out_with_user_button(page: Any, expect: Any, server: LiveServer) -> None:
    open_user_menu(page, expect)
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(server.url + "/")
    expect(page.get_by_label("Open user menu")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign up").first).to_be_visible()


def fetch_me(page: Any) -> list[Any]:
    """``/api/me`` the way the page's own JavaScript would call it (session cookie)."""
    return page.evaluate(  # type: ignore[no-any-return]
        "async () => { const r = await fetch('/api/me', {headers: {Accept: 'application/json'}});"
        " return [r.status, await r.json()]; }"
    )


def session_cookies(page: Any) -> set[str]:
    return {c["name"] for c in page.context.cookies() if c["value"]}


# -- the tests ------------------------------------------------------------------------


def test_sign_up_dashboard_sign_out_sign_in_and_api_me(
    new_page: Callable[..., Any], expect: Any, live_server: LiveServer, artifacts: Path
) -> None:
    page = new_page()
    email = "ada@example.com"

    # Sign up; the code comes from the dev mailbox, opened in another tab.
    fill_sign_up(page, expect, live_server, email)
    mailbox = page.context.new_page()
    mailbox.goto(live_server.url + "/__clerk/dev/mail")
    expect(mailbox.get_by_role("heading", name="Dev mailbox")).to_be_visible()
    expect(mailbox.get_by_text(f"to {email}")).to_be_visible()
    match = CODE.search(mailbox.locator(".cl-devMail pre").first.inner_text())
    assert match, "no code in the newest dev mail"
    mailbox.close()
    enter_code(page, expect, live_server, match.group(1))

    # The dashboard, with the UserButton.
    expect(page.get_by_role("heading", name="Welcome, Ada Lovelace")).to_be_visible()
    expect(page.get_by_label("Open user menu")).to_be_visible()
    assert {"__session", "__client"} <= session_cookies(page)
    open_user_menu(page, expect)
    expect(page.get_by_role("menu").get_by_text(email)).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-user-button-open.png"))

    # Manage account -> the profile page.
    page.get_by_role("menuitem", name="Manage account").click()
    expect(page).to_have_url(live_server.url + "/user")
    expect(page.get_by_text(email).first).to_be_visible()
    page.screenshot(path=str(artifacts / "user-profile.png"), full_page=True)
    assert fetch_me(page) == [200, {"email": email, "name": "Ada Lovelace"}]

    # Sign out from the UserButton.
    page.goto(live_server.url + "/dashboard")
    sign_out_with_user_button(page, expect, live_server)
    assert not {"__session", "__client"} & session_cookies(page)
    status, body = fetch_me(page)
    assert status == 401 and body["errors"], body

    # Sign back in from the landing page's link.
    page.get_by_role("link", name="Sign in").first.click()
    expect(page).to_have_url(live_server.url + "/sign-in")
    sign_in(page, expect, email)
    expect(page).to_have_url(live_server.url + "/dashboard")
    expect(page.get_by_role("heading", name="Welcome, Ada Lovelace")).to_be_visible()

    # /api/me: navigated to, and fetched by the page.
    response = page.goto(live_server.url + "/api/me")
    assert response is not None and response.status == 200
    assert response.json() == {"email": email, "name": "Ada Lovelace"}
    assert fetch_me(page) == [200, {"email": email, "name": "Ada Lovelace"}]


def test_sign_in_and_sign_up_cards_render(
    new_page: Callable[..., Any], expect: Any, live_server: LiveServer, artifacts: Path
) -> None:
    page = new_page()
    page.goto(live_server.url + "/sign-in")
    card = page.locator(".cl-cardBox")
    expect(card.get_by_role("heading", name="Sign in to Acme Projects")).to_be_visible()
    expect(card.get_by_text("Welcome back! Please sign in to continue")).to_be_visible()
    expect(card.get_by_label("Email address")).to_be_focused()
    expect(card.get_by_role("button", name="Continue")).to_be_visible()
    expect(card.get_by_role("link", name="Sign up")).to_have_attribute("href", "/sign-up")
    expect(card.get_by_text("Development mode")).to_be_visible()
    card.screenshot(path=str(artifacts / "sign-in-card.png"))
    page.screenshot(path=str(artifacts / "sign-in-page.png"))

    page.goto(live_server.url + "/sign-up")
    card = page.locator(".cl-cardBox")
    expect(card.get_by_role("heading", name="Create your account")).to_be_visible()
    for label in ("First name", "Last name", "Email address", "Password"):
        expect(card.get_by_label(label)).to_be_visible()
    expect(card.get_by_role("link", name="Terms of Service")).to_be_visible()
    card.screenshot(path=str(artifacts / "sign-up-card.png"))

    mobile = new_page(viewport=MOBILE)
    mobile.goto(live_server.url + "/sign-in")
    card = mobile.locator(".cl-cardBox")
    expect(card.get_by_role("heading", name="Sign in to Acme Projects")).to_be_visible()
    box = card.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= MOBILE["width"], box
    no_horizontal_scroll = mobile.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth")
    assert no_horizontal_scroll, "the sign-in page scrolls sideways at 375px"
    mobile.screenshot(path=str(artifacts / "sign-in-mobile.png"), full_page=True)


def test_without_javascript_sign_up_sign_in_and_user_button_sign_out(
    new_page: Callable[..., Any], expect: Any, live_server: LiveServer
) -> None:
    page = new_page(javascript=False)
    email = "grace@example.com"
    fill_sign_up(page, expect, live_server, email, first_name="Grace", last_name="Hopper")
    enter_code(page, expect, live_server, live_server.code_for(email))
    expect(page.get_by_role("heading", name="Welcome, Grace Hopper")).to_be_visible()
    sign_out_with_user_button(page, expect, live_server)

    page.goto(live_server.url + "/sign-in")
    sign_in(page, expect, email)
    expect(page).to_have_url(live_server.url + "/dashboard")
    expect(page.get_by_role("heading", name="Welcome, Grace Hopper")).to_be_visible()
    # The UserButton is a plain <details>: it opens, and its Sign out form posts, with no JS.
    sign_out_with_user_button(page, expect, live_server)
    assert not {"__session", "__client"} & session_cookies(page)
    page.goto(live_server.url + "/dashboard")
    expect(page).to_have_url(re.compile(r"/sign-in\?redirect_url=%2Fdashboard$"))


def test_signed_out_visit_to_dashboard_signs_in_and_comes_back(
    new_page: Callable[..., Any], expect: Any, tmp_path: Path
) -> None:
    # After sign-in the demo goes to /dashboard anyway; send it home instead, so that
    # landing on /dashboard shows the redirect_url was followed.
    with serve_demo(tmp_path, CLERK_AFTER_SIGN_IN_URL="/") as server:
        sign_up_with_client(server.app.test_client(), server.app, email="ada@example.com",
                            first_name="Ada", last_name="Lovelace")
        page = new_page()
        page.goto(server.url + "/dashboard")
        expect(page).to_have_url(server.url + "/sign-in?redirect_url=%2Fdashboard")
        # The card keeps the way back, also on its "Sign up" link.
        card = page.locator(".cl-cardBox")
        href = card.get_by_role("link", name="Sign up").get_attribute("href")
        assert href is not None
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(href).query) == {
            "redirect_url": ["/dashboard"]}, href
        sign_in(page, expect, "ada@example.com")
        expect(page).to_have_url(server.url + "/dashboard")
        expect(page.get_by_role("heading", name="Welcome, Ada Lovelace")).to_be_visible()


# -- the same sign-up, with the code read from an SMTP test server --------------------------


@dataclass
class SmtpTestServer:
    url: str
    messages: list[Message] = field(default_factory=list)

    def code_for(self, email: str) -> str:
        # Delivery runs on the app's mail thread: wait for it, boundedly.
        deadline = time.monotonic() + 10
        while not any(m["To"] == email for m in self.messages) and time.monotonic() < deadline:
            time.sleep(0.05)
        mails = [m for m in self.messages if m["To"] == email]
        assert mails, f"the SMTP server got no mail to {email}"
        body = mails[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        match = CODE.search(body.decode())
        assert match, body
        return match.group(1)


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """An in-process SMTP server (aiosmtpd) keeping the messages it receives."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:  # pragma: no cover - it is a dev dependency
        service_missing(f"aiosmtpd is not installed: {exc}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = SmtpTestServer(url=f"smtp://127.0.0.1:{port}?timeout=5")

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            smtp.messages.append(message_from_bytes(envelope.content))
            return "250 Message accepted for delivery"

    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield smtp
    finally:
        controller.stop()


def test_sign_up_with_the_code_from_an_smtp_server(
    new_page: Callable[..., Any], expect: Any, tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    with serve_demo(tmp_path, CLERK_SMTP_URL=smtp_server.url, CLERK_DEV_MAILBOX=False,
                    CLERK_MAIL_SENDER="Acme Projects <no-reply@acme.test>") as server:
        page = new_page()
        email = "katherine@example.com"
        fill_sign_up(page, expect, server, email, first_name="Katherine", last_name="Johnson")
        enter_code(page, expect, server, smtp_server.code_for(email))
        expect(page.get_by_role("heading", name="Welcome, Katherine Johnson")).to_be_visible()
        # No dev mailbox on this instance: its URL is not there at all.
        response = page.goto(server.url + "/__clerk/dev/mail")
        assert response is not None and response.status == 404


def test_organization_invite_promote_switch_and_admin_page(
    new_page: Callable[..., Any], expect: Any, live_server: LiveServer, artifacts: Path
) -> None:
    """Ada creates an organization and a project, invites Bea by email; Bea signs up
    from the invitation and sees the organization's projects but not its admin page;
    Ada promotes her; Bea switches organization and now reaches it."""
    ada = new_page()
    fill_sign_up(ada, expect, live_server, "ada@example.com")
    enter_code(ada, expect, live_server, live_server.code_for("ada@example.com"))
    expect(ada.get_by_text("You're in your personal workspace.")).to_be_visible()

    # Create an organization from the switcher; it becomes the active one.
    ada.get_by_label("Personal account: switch organization").click()
    ada.get_by_role("menuitem", name="Create organization").click()
    expect(ada).to_have_url(live_server.url + "/create-organization")
    ada.get_by_label("Name").fill("Acme Rockets")
    ada.get_by_role("button", name="Create organization").click()
    expect(ada).to_have_url(live_server.url + "/dashboard")
    expect(ada.get_by_text("You're working in acme-rockets as an admin.")).to_be_visible()
    ada.get_by_label("New project name").fill("Launch pad")
    ada.get_by_role("button", name="Create project").click()
    expect(ada.get_by_text("Launch pad")).to_be_visible()
    ada.get_by_label("Acme Rockets: switch organization").click()
    ada.screenshot(path=str(artifacts / "organization-switcher-open.png"))

    # Invite Bea from the organization's members page.
    ada.goto(live_server.url + "/organization?page=members")
    ada.locator(".cl-membersPageInviteButton").click()
    ada.locator("#cl-invite-email").fill("bea@example.com")
    ada.get_by_role("button", name="Send invitation").click()
    ada.goto(live_server.url + "/organization?page=members&tab=invitations")
    expect(ada.get_by_text("bea@example.com")).to_be_visible()  # the pending invitation
    mails = live_server.mails("bea@example.com")
    link = re.search(r"http://\S+__clerk_ticket=[\w-]+", mails[0]["text"])
    assert link, mails[0]["text"]

    # Bea opens the link, signs up, and lands in the organization as a member.
    bea = new_page()
    bea.goto(link.group(0).replace("http://127.0.0.1/", live_server.url + "/"))
    expect(bea.get_by_role("heading", name="Join Acme Rockets")).to_be_visible()
    expect(bea.get_by_label("Email address")).to_have_value("bea@example.com")
    bea.get_by_label("First name").fill("Bea")
    bea.get_by_label("Last name").fill("Baker")
    bea.get_by_label("Password").fill(PASSWORD)
    bea.get_by_role("button", name="Continue").click()
    expect(bea).to_have_url(live_server.url + "/dashboard")
    expect(bea.get_by_text("You're working in acme-rockets as a member.")).to_be_visible()
    expect(bea.get_by_text("Launch pad")).to_be_visible()
    expect(bea.get_by_role("button", name="Delete")).to_have_count(0)

    # A member is refused the admin page, with a way back.
    response = bea.goto(live_server.url + "/org/settings")
    assert response is not None and response.status == 403
    expect(bea.get_by_role("heading", name="You don’t have access to this page")).to_be_visible()
    bea.screenshot(path=str(artifacts / "organization-no-access.png"))
    bea.get_by_role("link", name="Go back home").click()
    expect(bea).to_have_url(live_server.url + "/dashboard")

    # Ada promotes Bea to admin.
    ada.goto(live_server.url + "/organization?page=members")
    ada.get_by_label("Role of Bea Baker").select_option("org:admin")
    ada.locator(".cl-roleForm").get_by_role("button", name="Save").click()
    expect(ada.get_by_label("Role of Bea Baker")).to_have_value("org:admin")
    ada.screenshot(path=str(artifacts / "organization-members.png"), full_page=True)

    # Bea switches to her personal workspace and back: her new token has the new role.
    bea.goto(live_server.url + "/dashboard")
    bea.get_by_label("Acme Rockets: switch organization").click()
    bea.get_by_role("menuitem", name="Personal account").click()
    expect(bea.get_by_text("You're in your personal workspace.")).to_be_visible()
    expect(bea.get_by_text("Launch pad")).to_have_count(0)
    bea.get_by_label("Personal account: switch organization").click()
    bea.get_by_role("menuitem", name="Acme Rockets").click()
    expect(bea.get_by_text("You're working in acme-rockets as an admin.")).to_be_visible()
    expect(bea.get_by_text("Launch pad")).to_be_visible()
    response = bea.goto(live_server.url + "/org/settings")
    assert response is not None and response.status == 200
    expect(bea.get_by_role("heading", name="Organization settings")).to_be_visible()


def test_signing_up_fills_the_demos_users_table_by_webhook(
    new_page: Callable[..., Any], expect: Any, tmp_path: Path
) -> None:
    """What `make demo` sets up: the engine's worker thread delivers user.created to
    the demo's /webhooks/clerk (Svix-signed, over HTTP), whose handler fills the
    demo's own table within moments."""
    from flask_clerk.core import webhooks as outbox

    secret = outbox.new_secret()
    with serve_demo(tmp_path, CLERK_WEBHOOK_SIGNING_SECRET=secret,
                    CLERK_WEBHOOKS_WORKER="thread") as server:
        instance = server.app.extensions["clerk"].instance
        with instance.store.session() as db:
            endpoint = outbox.add_endpoint(instance, db, server.url + "/webhooks/clerk")
            endpoint.secret = secret  # the receiver was configured with it
            db.commit()
        page = new_page()
        fill_sign_up(page, expect, server, "grace@example.com", "Grace", "Hopper")
        enter_code(page, expect, server, server.code_for("grace@example.com"))
        page.goto(server.url + "/admin/synced-users")
        synced = page.locator(".project-name", has_text="Grace Hopper")
        for _ in range(50):  # the worker delivers in the background
            if synced.count():
                break
            page.wait_for_timeout(100)
            page.reload()
        expect(synced).to_be_visible()
        expect(page.locator(".project-meta", has_text="grace@example.com")).to_be_visible()
        server.app.extensions["clerk"].webhook_worker.stop()
