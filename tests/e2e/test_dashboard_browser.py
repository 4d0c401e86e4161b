"""End to end, the dashboard in a real Chromium (issue 8): an administrator opens
the users list, a user's page, impersonates her (the banner shows on the app's
pages, the app sees her), stops, and is back on the dashboard as themself.
Screenshots of each page land in tests/artifacts/."""

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

from conftest import PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    admins = ("admin@example.com", "admin-narrow@example.com")
    with serve_demo(tmp_path, CLERK_DASHBOARD_ADMINS=admins) as live:
        yield live


def sign_up(page: Any, expect: Any, server: LiveServer, email: str, first: str,
            last: str) -> None:
    page.goto(server.url + "/sign-up")
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_label("Enter verification code").fill(server.code_for(email))
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page).to_have_url(server.url + "/dashboard")


def test_users_a_user_impersonate_banner_and_stop(
    browser: Any, new_page: Callable[..., Any], expect: Any, server: LiveServer,
    artifacts: Path,
) -> None:
    ada = browser.new_context().new_page()  # her own browser
    sign_up(ada, expect, server, "ada@example.com", "Ada", "Lovelace")
    ada.close()
    page = new_page()
    sign_up(page, expect, server, "admin@example.com", "Grace", "Hopper")

    page.goto(server.url + "/__clerk/dashboard")
    expect(page).to_have_url(server.url + "/__clerk/dashboard/users")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-users.png"), full_page=True)
    page.get_by_role("searchbox", name="Search users").fill("lovelace")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("admin@example.com", exact=True)).to_have_count(1)  # the header
    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-user.png"), full_page=True)

    page.get_by_role("button", name="Impersonate").click()
    expect(page).to_have_url(server.url + "/dashboard")  # the app's after-sign-in page
    banner = page.locator(".cl-impersonationFab")
    expect(banner).to_contain_text("Signed in as Ada Lovelace by admin@example.com")
    expect(page.get_by_role("heading", name="Welcome, Ada Lovelace")).to_be_visible()
    assert page.evaluate("fetch('/api/me').then(r => r.json())")["email"] == "ada@example.com"
    box = banner.bounding_box()
    assert box and box["y"] > 700  # floats at the bottom of the window, not in the header
    page.screenshot(path=str(artifacts / "impersonation-banner.png"))

    banner.get_by_role("button", name="Stop impersonating").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    assert "/__clerk/dashboard/users/user_" in page.url
    expect(page.locator(".cl-impersonationFab")).to_have_count(0)
    page.goto(server.url + "/__clerk/dashboard/audit")
    expect(page.get_by_text("user.impersonated")).to_be_visible()
    expect(page.get_by_text("user.impersonation_ended")).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-audit.png"), full_page=True)
    assert page.evaluate("fetch('/api/me').then(r => r.json())")["email"] == "admin@example.com"


PAGES = ("Users", "Organizations", "Waitlist", "Webhooks", "Settings", "API keys",
         "Analytics", "Audit log")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_dashboard_page_light_dark_and_narrow(
    new_page: Callable[..., Any], expect: Any, server: LiveServer, artifacts: Path,
    theme: str,
) -> None:
    """Each page of the navigation, reached by its link, shows its heading; a
    screenshot of each in both themes, and of each on a narrow screen."""
    import dataclasses

    from test_browser import MOBILE

    components = server.app.extensions["clerk"].components
    components.appearance = dataclasses.replace(components.appearance, theme=theme)
    for viewport, suffix in ((None, ""), (MOBILE, "-narrow")):
        page = new_page(viewport=viewport) if viewport else new_page()
        email = f"admin{suffix}@example.com"
        sign_up(page, expect, server, email, "Grace", "Hopper")
        page.goto(server.url + "/__clerk/dashboard")
        for name in PAGES:
            page.get_by_role("navigation", name="Dashboard").get_by_role(
                "link", name=name, exact=True).click()
            expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
            slug = name.lower().replace(" ", "-")
            page.screenshot(path=str(artifacts / f"dashboard-{slug}-{theme}{suffix}.png"),
                            full_page=True)
