"""End to end, social sign-in in a real Chromium (issue 7): the demo's sign-in page
shows the provider's button; Ada clicks it, consents on the provider's own page
(the test OpenID provider, tests/oidc_provider), and lands on the dashboard as a
new user. Signed out, she comes back the same way and is the same user; then she
sees the account under Connected accounts in her profile."""

# ruff: noqa: F811 - the browser fixtures are imported from test_browser by name

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from oidc_support import oidc_provider
from sqlalchemy import func, select
from test_browser import (  # noqa: F401 - fixtures
    LiveServer,
    artifacts,
    browser,
    expect,
    new_page,
    open_user_menu,
    serve_demo,
)

from flask_clerk.core.models import User

pytestmark = pytest.mark.e2e

SECRET = "a-test-secret-of-enough-length"
ADA = {"email": "ada@example.com", "email_verified": True, "given_name": "Ada",
       "family_name": "Lovelace", "name": "Ada Lovelace"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """The demo with the test provider as "Test IdP": the provider must know the
    exact callback URL, so the demo's port is chosen first."""
    port = free_port()
    callback = f"http://127.0.0.1:{port}/__clerk/oauth/custom_test/callback"
    client = {"client_id": "demo", "client_secret": SECRET, "redirect_uris": [callback]}
    with oidc_provider(clients=[client], accounts={"ada-1": ADA}) as issuer, serve_demo(
            tmp_path, port=port, CLERK_OAUTH_PROVIDERS={"custom_test": {
                "issuer": issuer, "name": "Test IdP", "client_id": "demo",
                "client_secret": SECRET}}) as live:
        yield live


def sign_in_with_the_provider(page: Any, expect: Any, server: LiveServer,
                              consent: bool = True) -> None:
    page.goto(server.url + "/sign-in")
    page.get_by_role("button", name="Continue with Test IdP").click()
    if consent:  # the provider asks the first time; later it remembers the grant
        expect(page.get_by_role("heading", name="Sign in to Test IdP")).to_be_visible()
        page.get_by_role("button", name="Continue as ada@example.com").click()
    expect(page).to_have_url(server.url + "/dashboard")


def test_sign_up_and_in_with_the_provider_button(
    new_page: Callable[..., Any], expect: Any, server: LiveServer, artifacts: Path
) -> None:
    page = new_page()
    page.goto(server.url + "/sign-in")
    expect(page.locator(".cl-socialButtonsBlockButton__custom_test")).to_be_visible()
    page.screenshot(path=str(artifacts / "oauth-sign-in.png"), full_page=True)
    sign_in_with_the_provider(page, expect, server)
    me = page.evaluate("fetch('/api/me').then(r => r.json())")
    assert me == {"email": "ada@example.com", "name": "Ada Lovelace"}

    open_user_menu(page, expect)
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(server.url + "/")
    sign_in_with_the_provider(page, expect, server, consent=False)
    assert page.evaluate("fetch('/api/me').then(r => r.json())") == me
    with server.app.extensions["clerk"].instance.store.session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1  # the same user

    page.goto(server.url + "/user")
    section = page.locator(".cl-profileSection__connectedAccounts")
    expect(section.get_by_text("Test IdP")).to_be_visible()
    expect(section.get_by_text("ada@example.com")).to_be_visible()
    section.screenshot(path=str(artifacts / "oauth-connected-accounts.png"))
