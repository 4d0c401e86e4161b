"""End to end in Chromium (issue 8): a custom auth domain, with two host names that
Chromium resolves to 127.0.0.1, and multi-session accounts switched from the user
button. Screenshots land in tests/artifacts/."""

# ruff: noqa: F811 - the browser fixtures are imported from test_browser by name

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import (  # noqa: F401 - fixtures
    DESKTOP,
    MOBILE,
    TIMEOUT_MS,
    LiveServer,
    artifacts,
    browser,
    chromium,
    expect,
    new_page,
    serve_demo,
)
from test_oauth_browser import free_port

from conftest import PASSWORD
from flask_clerk.cli import new_instance_keys

pytestmark = pytest.mark.e2e


# -- a custom auth domain ------------------------------------------------------------------


def test_custom_domain_signs_in_on_the_auth_host_and_back_to_the_app(
        tmp_path: Path, expect: Any, artifacts: Path) -> None:
    port = free_port()
    auth, app = f"http://auth.example.test:{port}", f"http://app.example.test:{port}"
    config = {
        "CLERK_DOMAIN": f"auth.example.test:{port}",
        "CLERK_PUBLISHABLE_KEY": new_instance_keys(f"auth.example.test:{port}/__clerk")[
            "CLERK_PUBLISHABLE_KEY"],
        "CLERK_ALLOWED_REDIRECT_ORIGINS": (app,),
    }
    with serve_demo(tmp_path, port=port, **config) as server, chromium(
            "--host-resolver-rules=MAP *.example.test 127.0.0.1") as browser:
        create_user(server, "ada@example.com", "Ada", "Lovelace")
        context = browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()

        page.goto(app + "/dashboard")  # the app's protected page: to the auth host
        expect(page).to_have_url(f"{auth}/sign-in?redirect_url=" + "http%3A%2F%2Fapp."
                                 f"example.test%3A{port}%2Fdashboard")
        page.get_by_label("Email address").fill("ada@example.com")
        page.get_by_role("button", name="Continue", exact=True).click()
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.screenshot(path=str(artifacts / "custom-domain-sign-in.png"))
        page.get_by_role("button", name="Continue", exact=True).click()
        expect(page).to_have_url(app + "/dashboard")  # back on the app's host, signed in
        expect(page.get_by_label("Open user menu")).to_be_visible()

        cookies = {c["name"]: c for c in context.cookies()}
        for name in ("__session", "__client"):
            assert cookies[name]["domain"] == ".example.test", cookies[name]
            assert cookies[name]["httpOnly"] and cookies[name]["sameSite"] == "Lax"

        # "Manage account" is on the auth host, with the same session.
        page.get_by_label("Open user menu").click()
        page.get_by_role("menuitem", name="Manage account").click()
        expect(page).to_have_url(auth + "/user")
        expect(page.get_by_text("ada@example.com").first).to_be_visible()
        page.screenshot(path=str(artifacts / "custom-domain-profile.png"))

        # Signed out on the app's host: signed out on the auth host too.
        page.goto(app + "/dashboard")
        page.get_by_label("Open user menu").click()
        page.get_by_role("menuitem", name="Sign out").click()
        page.goto(auth + "/user")
        expect(page).to_have_url(f"{auth}/sign-in?redirect_url=http%3A%2F%2Fauth.example.test"
                                 f"%3A{port}%2Fuser")
        context.close()


def create_user(server: LiveServer, email: str, first: str, last: str) -> None:
    """Through the Backend API, as the app's servers would."""
    request = urllib.request.Request(
        server.url + "/v1/users", method="POST",
        data=json.dumps({"email_address": [email], "password": PASSWORD,
                         "first_name": first, "last_name": last}).encode(),
        headers={"Authorization": f"Bearer {server.app.config['CLERK_SECRET_KEY']}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


# -- multi-session ---------------------------------------------------------------------


@pytest.fixture
def multi(tmp_path: Path) -> Iterator[LiveServer]:
    with serve_demo(tmp_path, CLERK_MULTI_SESSION=True) as live:
        yield live


def sign_in(page: Any, expect: Any, server: LiveServer, email: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page).to_have_url(server.url + "/dashboard")


def test_multi_session_add_account_switch_and_sign_out_one(
        new_page: Callable[..., Any], expect: Any, multi: LiveServer, artifacts: Path) -> None:
    create_user(multi, "ada@example.com", "Ada", "Lovelace")
    create_user(multi, "grace@example.com", "Grace", "Hopper")
    page = new_page()
    page.goto(multi.url + "/sign-in")
    sign_in(page, expect, multi, "ada@example.com")

    page.get_by_label("Open user menu").click()
    page.get_by_role("menuitem", name="Add account").click()
    expect(page).to_have_url(multi.url + "/sign-in")
    sign_in(page, expect, multi, "grace@example.com")

    page.get_by_label("Open user menu").click()
    menu = page.locator(".cl-userButtonPopoverCard")
    expect(menu.locator(".cl-userPreview__userButton")).to_contain_text("Grace Hopper")
    switch = page.get_by_role("menuitem", name="Switch to Ada Lovelace")
    expect(switch).to_be_visible()
    expect(page.get_by_role("menuitem", name="Sign out of all accounts")).to_be_visible()
    page.wait_for_timeout(300)  # the popover's fade-in
    page.screenshot(path=str(artifacts / "multi-session-user-button.png"))
    switch.click()
    page.get_by_label("Open user menu").click()
    expect(menu.locator(".cl-userPreview__userButton")).to_contain_text("Ada Lovelace")

    # Signing out Ada leaves Grace signed in here.
    page.get_by_role("menuitem", name="Sign out", exact=True).click()
    page.goto(multi.url + "/dashboard")
    page.get_by_label("Open user menu").click()
    expect(menu.locator(".cl-userPreview__userButton")).to_contain_text("Grace Hopper")
    expect(page.get_by_role("menuitem", name="Switch to Ada Lovelace")).to_have_count(0)
    page.get_by_role("menuitem", name="Sign out", exact=True).click()
    page.goto(multi.url + "/dashboard")
    expect(page).to_have_url(multi.url + "/sign-in?redirect_url=%2Fdashboard")


def test_multi_session_user_button_dark_and_narrow(
        new_page: Callable[..., Any], expect: Any, multi: LiveServer, artifacts: Path) -> None:
    create_user(multi, "ada@example.com", "Ada", "Lovelace")
    create_user(multi, "grace@example.com", "Grace", "Hopper")
    page = new_page(viewport=MOBILE)
    for email in ("ada@example.com", "grace@example.com"):
        page.goto(multi.url + "/sign-in")
        sign_in(page, expect, multi, email)
    page.emulate_media(color_scheme="dark")
    page.get_by_label("Open user menu").click()
    expect(page.get_by_role("menuitem", name="Add account")).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "multi-session-user-button-narrow.png"))
