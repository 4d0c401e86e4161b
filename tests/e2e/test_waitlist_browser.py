"""End to end in Chromium (issue 8): the waitlist page in ``waitlist`` mode, light,
dark and narrow, with JavaScript off; the sign-up page leading to it; an
administrator inviting from the dashboard's waitlist. Screenshots land in
tests/artifacts/."""

# ruff: noqa: F811 - the browser fixtures are imported from test_browser by name

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import (  # noqa: F401 - fixtures
    LiveServer,
    artifacts,
    browser,
    expect,
    new_page,
    serve_demo,
)

from conftest import PASSWORD, build_app, serve
from flask_clerk.core import waitlist

pytestmark = pytest.mark.e2e

NARROW = {"width": 390, "height": 844}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serve_demo(tmp_path, CLERK_SIGN_UP_MODE="waitlist",
                    CLERK_DASHBOARD_ADMINS=("admin@example.com",)) as live:
        yield live


def join(page: Any, expect: Any, email: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_role("heading", name="Thanks for joining the waitlist!")).to_be_visible()


def test_the_waitlist_page_light_narrow_and_without_javascript(
        new_page: Callable[..., Any], expect: Any, server: LiveServer, artifacts: Path) -> None:
    page = new_page(javascript=False)
    page.goto(server.url + "/sign-up")
    expect(page.get_by_role("heading", name="Access restricted")).to_be_visible()
    page.screenshot(path=str(artifacts / "sign-up-waitlist-mode.png"))
    page.get_by_role("link", name="Join waitlist").click()
    expect(page).to_have_url(server.url + "/waitlist")
    expect(page.get_by_role("heading", name="Join the waitlist")).to_be_visible()
    page.screenshot(path=str(artifacts / "waitlist.png"))
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    page.screenshot(path=str(artifacts / "waitlist-error.png"))
    join(page, expect, "ada@example.com")
    page.screenshot(path=str(artifacts / "waitlist-joined.png"))
    assert server.mails("ada@example.com")[0]["subject"] == "You’re on the waitlist"

    narrow = new_page(viewport=NARROW)
    narrow.goto(server.url + "/waitlist")
    card = narrow.locator(".cl-cardBox")
    expect(card.get_by_role("heading", name="Join the waitlist")).to_be_visible()
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"], box
    narrow.screenshot(path=str(artifacts / "waitlist-narrow.png"))
    narrow.goto(server.url + "/sign-in")
    expect(narrow.locator(".cl-footerAction__waitlist")).to_contain_text("Want early access?")


def test_the_waitlist_page_dark(new_page: Callable[..., Any], expect: Any, tmp_path: Path,
                                artifacts: Path) -> None:
    # The minimal app (the demo sets its own appearance): Clerk's dark theme.
    app = build_app(f"sqlite:///{tmp_path}/clerk.db", CLERK_SIGN_UP_MODE="waitlist",
                    CLERK_APPEARANCE={"theme": "dark"}, CLERK_COOKIE_SECURE=False)
    try:
        with serve(app) as url:
            page = new_page()
            page.goto(url + "/waitlist")
            expect(page.get_by_role("heading", name="Join the waitlist")).to_be_visible()
            assert "cl-theme-dark" in (page.locator(".cl-rootBox").get_attribute("class") or "")
            page.screenshot(path=str(artifacts / "waitlist-dark.png"))
            join(page, expect, "ada@example.com")
            page.screenshot(path=str(artifacts / "waitlist-joined-dark.png"))
    finally:
        app.extensions["clerk"].instance.store.engine.dispose()


def test_the_dashboard_waitlist_invites(
        new_page: Callable[..., Any], expect: Any, server: LiveServer, artifacts: Path) -> None:
    secret = server.app.config["CLERK_SECRET_KEY"]
    created = server.app.test_client().post(
        "/v1/users", headers={"Authorization": f"Bearer {secret}"},
        json={"email_address": ["admin@example.com"], "password": PASSWORD,
              "first_name": "Grace", "last_name": "Hopper"})
    assert created.status_code == 200, created.get_json()
    instance = server.app.extensions["clerk"].instance
    with instance.store.session() as db:
        for email in ("ada@example.com", "alan@example.com", "linus@example.com"):
            waitlist.add_entry(instance, db, email_address=email, notify=False)
        waitlist.reject_entry(instance, db, waitlist.list_entries(
            db, query="linus", status=None, order_by="-created_at", limit=1, offset=0)[0][0])

    page = new_page()
    page.goto(server.url + "/sign-in")
    page.get_by_label("Email address").fill("admin@example.com")
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page).to_have_url(server.url + "/dashboard")

    page.goto(server.url + "/__clerk/dashboard/waitlist")
    expect(page.get_by_role("heading", name="Waitlist")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="ada@example.com")
    row.get_by_role("button", name="Invite").click()
    expect(row.get_by_text("Invited")).to_be_visible()
    assert server.mails("ada@example.com")[0]["subject"].startswith("You're invited")
    page.screenshot(path=str(artifacts / "dashboard-waitlist.png"), full_page=True)
    page.get_by_label("Status").select_option("pending")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text="alan@example.com")).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="ada@example.com")).to_have_count(0)
