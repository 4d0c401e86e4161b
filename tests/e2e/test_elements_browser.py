"""End to end in Chromium (issue 9): the demo's Elements pages (/sign-up/custom,
/sign-in/custom), built from flask_clerk's unstyled blocks in the demo's own design,
through every step: sign-up and its code, a wrong password and its field error, the
password, the other methods and the mailed code, a forgotten password. Screenshots
of the Elements pages and of the prebuilt card beside them land in tests/artifacts/."""

# ruff: noqa: F811 - the browser fixtures are imported from test_browser by name

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import (  # noqa: F401 - fixtures
    MOBILE,
    LiveServer,
    artifacts,
    browser,
    expect,
    live_server,
    new_page,
)

from conftest import PASSWORD

pytestmark = pytest.mark.e2e


def sign_up(page: Any, expect: Any, server: LiveServer, email: str) -> None:
    page.goto(server.url + "/sign-up/custom")
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    page.get_by_label("Code").fill("000000" if server.code_for(email) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    error = page.locator('[data-field="code"] [role="alert"]')
    expect(error).to_be_visible()  # a wrong code: the field's error, in place
    assert error.get_attribute("data-code")
    page.get_by_label("Code").fill(server.code_for(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(server.url + "/dashboard")


def test_sign_up_and_sign_in_through_the_elements_pages(
    new_page: Callable[..., Any], expect: Any, live_server: LiveServer, artifacts: Path,
) -> None:
    page = new_page()
    page.goto(live_server.url + "/sign-up/custom")
    page.screenshot(path=str(artifacts / "elements-sign-up.png"))
    sign_up(page, expect, live_server, "ada@example.com")
    page.context.clear_cookies()

    # Sign in: a wrong password shows the field's error, with its Clerk code.
    page.goto(live_server.url + "/sign-in/custom")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=str(artifacts / "elements-sign-in.png"))
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_role("heading", name="Your password")).to_be_visible()
    expect(page.get_by_text("ada@example.com")).to_be_visible()
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    error = page.locator('[data-field="password"] [role="alert"]')
    expect(error).to_contain_text("Password is incorrect")
    assert error.get_attribute("data-code") == "form_password_incorrect"
    assert page.locator('[data-field="password"]').get_attribute("data-invalid") is not None
    page.screenshot(path=str(artifacts / "elements-sign-in-error.png"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # the step's own button, not "not you?"
    expect(page).to_have_url(live_server.url + "/dashboard")
    expect(page.get_by_role("heading", name="Welcome, Ada Lovelace")).to_be_visible()


@pytest.fixture
def quick_resend(tmp_path: Path) -> Iterator[LiveServer]:
    """The demo, with codes that may be sent again at once (not after 30 s)."""
    from test_browser import serve_demo

    with serve_demo(tmp_path, CLERK_CODE_RESEND_INTERVAL=0) as live:
        yield live


def test_the_other_methods_the_email_code_and_a_forgotten_password(
    new_page: Callable[..., Any], expect: Any, quick_resend: LiveServer, artifacts: Path,
) -> None:
    live_server = quick_resend
    page = new_page()
    sign_up(page, expect, live_server, "ada@example.com")
    page.context.clear_cookies()

    page.goto(live_server.url + "/sign-in/custom")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("link", name="Email me a code instead").click()
    expect(page.get_by_role("heading", name="Another way in")).to_be_visible()
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    first = live_server.code_for("ada@example.com")
    page.get_by_role("button", name="Send another").click()  # resend: a new code
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert live_server.code_for("ada@example.com") != first
    page.get_by_label("Code").fill(live_server.code_for("ada@example.com"))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(live_server.url + "/dashboard")
    page.context.clear_cookies()

    # Forgot it: a code, then a new password, and signed in.
    page.goto(live_server.url + "/sign-in/custom")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("button", name="Forgot it?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    first = live_server.code_for("ada@example.com")
    page.get_by_role("button", name="Send another").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    expect(page.locator('[role="alert"]')).to_have_count(0)
    assert live_server.mails("ada@example.com")[0]["subject"].endswith("password reset code")
    assert live_server.code_for("ada@example.com") != first
    page.get_by_label("Code").fill(live_server.code_for("ada@example.com"))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="A new password")).to_be_visible()
    page.get_by_label("New password").fill("a brand new passphrase 42")
    page.get_by_label("Again").fill("a brand new passphrase 42")
    page.get_by_role("button", name="Save and sign in").click()
    expect(page).to_have_url(live_server.url + "/dashboard")


def test_screenshots_prebuilt_beside_elements(
    new_page: Callable[..., Any], expect: Any, live_server: LiveServer, artifacts: Path,
) -> None:
    page = new_page()
    page.goto(live_server.url + "/sign-in")
    expect(page.get_by_role("heading", name="Sign in to Acme Projects")).to_be_visible()
    page.screenshot(path=str(artifacts / "prebuilt-sign-in.png"))
    narrow = new_page(viewport=MOBILE)
    narrow.goto(live_server.url + "/sign-in/custom")
    expect(narrow.get_by_role("heading", name="Sign in")).to_be_visible()
    narrow.screenshot(path=str(artifacts / "elements-sign-in-narrow.png"))


def test_the_second_factor_steps_an_authenticator_code_and_a_backup_code(
    new_page: Callable[..., Any], expect: Any, live_server: LiveServer,
) -> None:
    """A user with an authenticator app: the Elements page asks for its code (the
    ``totp`` strategy of ``verifications``), or one of the backup codes."""
    import time

    import pyotp
    from test_accounts_browser import create_user

    from flask_clerk.core.mfa import confirm_totp, start_totp
    from flask_clerk.core.models import User

    create_user(live_server, "ada@example.com", "Ada", "Lovelace")
    instance = live_server.app.extensions["clerk"].instance
    with live_server.app.app_context(), instance.store.session() as db:
        user = db.query(User).one()
        secret = start_totp(instance, db, user).secret
        backup_codes = confirm_totp(instance, db, user, pyotp.TOTP(secret).now())

    def password_step(page: Any) -> None:
        page.goto(live_server.url + "/sign-in/custom")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_role("button", name="Continue", exact=True).click()
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()

    page = new_page()
    password_step(page)
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator('[data-field="code"] [role="alert"]')).to_be_visible()
    # (the code used at enrolment is spent: the next one)
    page.get_by_label("Code from your authenticator app").fill(
        pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(live_server.url + "/dashboard")

    page = new_page()
    password_step(page)
    page.get_by_role("link", name="Use a backup code").click()
    expect(page.get_by_role("heading", name="Backup code")).to_be_visible()
    page.get_by_label("One of your backup codes").fill(backup_codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(live_server.url + "/dashboard")


def test_a_mailed_link_and_a_passkey_from_the_elements_page(
    new_page: Callable[..., Any], expect: Any, tmp_path: Path,
) -> None:
    """The ``email_link`` strategy (the link opened in the same browser), and the
    passkey button, with Chromium's virtual authenticator. At ``localhost``: a
    passkey's relying party is a host name."""
    import re
    from urllib.parse import urlsplit

    from test_browser import serve_demo
    from test_mfa_browser import add_virtual_authenticator

    with serve_demo(tmp_path) as server:
        server.url = server.url.replace("127.0.0.1", "localhost")
        page = new_page()
        sign_up(page, expect, server, "ada@example.com")
        cdp, authenticator = add_virtual_authenticator(page)
        page.goto(server.url + "/user?page=security")
        page.get_by_role("button", name="Add a passkey").click()
        expect(page.get_by_text("Passkey", exact=True).first).to_be_visible()
        page.context.clear_cookies()

        # The address field offers the passkey as autofill (as the prebuilt card
        # does), which the virtual authenticator, present, answers at once.
        page.goto(server.url + "/sign-in/custom")
        expect(page).to_have_url(server.url + "/dashboard")
        page.context.clear_cookies()

        presence = {"authenticatorId": authenticator, "enabled": False}
        cdp.send("WebAuthn.setAutomaticPresenceSimulation", presence)  # (no autofill now)
        page.goto(server.url + "/sign-in/custom")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_role("button", name="Continue", exact=True).click()
        page.get_by_role("link", name="Email me a code instead").click()
        page.get_by_role("button", name="Email me a link").click()
        expect(page.get_by_text("Open the link we sent to")).to_be_visible()
        mail = server.mails("ada@example.com")[0]["text"]
        link = urlsplit(re.search(r"https?://\S+", mail).group(0))
        page.goto(f"{server.url}{link.path}?{link.query}")  # (the mail names the key's host)
        expect(page).to_have_url(server.url + "/dashboard")
        page.context.clear_cookies()

        # The button, as the second factor after the password (an authenticator app
        # too): the authenticator is away while the start page loads, so no autofill.
        import pyotp

        from flask_clerk.core.mfa import confirm_totp, start_totp
        from flask_clerk.core.models import User

        instance = server.app.extensions["clerk"].instance
        with server.app.app_context(), instance.store.session() as db:
            user = db.query(User).one()
            confirm_totp(instance, db, user,
                         pyotp.TOTP(start_totp(instance, db, user).secret).now())
        page.goto(server.url + "/sign-in/custom")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_role("button", name="Continue", exact=True).click()
        cdp.send("WebAuthn.setAutomaticPresenceSimulation", {**presence, "enabled": True})
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")
        expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
        page.get_by_role("button", name="Use a passkey").click()
        expect(page).to_have_url(server.url + "/dashboard")
