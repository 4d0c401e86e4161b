"""End to end, second factors and passkeys in a real Chromium (issue 6).

Ada signs up, turns on an authenticator app from her profile (the code computed
with pyotp from the key the page shows), saves her backup codes, signs out and
back in with password and code; then she registers a passkey with Chromium's
virtual authenticator (DevTools ``WebAuthn.addVirtualAuthenticator``) and signs in
with it, no password. The demo is opened at ``localhost``: a passkey's relying
party must be a domain name, not an IP address.
"""

# ruff: noqa: F811 - the browser fixtures are imported from test_browser by name

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from test_browser import (  # noqa: F401 - fixtures
    LiveServer,
    artifacts,
    browser,
    expect,
    fill_sign_up,
    new_page,
    open_user_menu,
    serve_demo,
    sign_in,
)

from conftest import PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serve_demo(tmp_path) as live:
        live.url = live.url.replace("127.0.0.1", "localhost")
        yield live


def totp(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows (one step ahead is accepted too: a code
    already used in this step would be refused as a replay)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def add_virtual_authenticator(page: Any) -> tuple[Any, str]:
    """A platform authenticator (resident keys, user verification) in this tab."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }})
    return cdp, added["authenticatorId"]


def sign_out(page: Any, expect: Any, server: LiveServer) -> None:
    page.goto(server.url + "/dashboard")
    open_user_menu(page, expect)
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(server.url + "/")


def test_totp_enrolment_sign_in_with_a_code_then_a_passkey(
    new_page: Callable[..., Any], expect: Any, server: LiveServer, artifacts: Path
) -> None:
    page = new_page()
    email = "ada@example.com"
    fill_sign_up(page, expect, server, email)
    page.get_by_label("Enter verification code").fill(server.code_for(email))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(server.url + "/dashboard")

    # Turn on the authenticator app from the profile's security page.
    page.goto(server.url + "/user?page=security")
    page.get_by_role("button", name="+ Add two-step verification").click()
    expect(page.get_by_role("heading", name="Add authenticator application")).to_be_visible()
    qr_code = page.get_by_role("img", name="QR code to scan with your authenticator app")
    expect(qr_code).to_be_visible()
    page.screenshot(path=str(artifacts / "mfa-enrol-qr.png"), full_page=True)
    page.get_by_text("Can’t scan QR code?").click()
    secret = re.sub(r"\s", "", page.locator(".cl-totpSecret").inner_text())
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    page.get_by_label("Enter verification code").fill(totp(secret))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Your backup codes")).to_be_visible()
    codes = page.locator(".cl-backupCode").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){3}", c) for c in codes)
    page.screenshot(path=str(artifacts / "mfa-backup-codes.png"), full_page=True)
    page.get_by_role("link", name="I’ve saved them").click()
    expect(page.get_by_text("Authenticator application")).to_be_visible()
    expect(page.get_by_text("10 left")).to_be_visible()
    page.reload()
    assert not any(code in page.content() for code in codes)  # shown once

    # Out, and back in: the password, then the code.
    sign_out(page, expect, server)
    page.goto(server.url + "/sign-in")
    sign_in(page, expect, email)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    page.screenshot(path=str(artifacts / "sign-in-totp.png"))
    page.get_by_label("Enter verification code").fill(totp(secret, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(server.url + "/dashboard")

    # A passkey, registered with the virtual authenticator.
    cdp, authenticator = add_virtual_authenticator(page)
    page.goto(server.url + "/user?page=security")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator(".cl-profileSectionItem__passkeys")).to_have_count(1)
    expect(page.locator(".cl-profileSectionItem__passkeys").get_by_text("Passkey")).to_be_visible()
    page.screenshot(path=str(artifacts / "profile-security-passkey-mfa.png"), full_page=True)

    # Out, and in with the passkey alone: no password, no code. The sign-in page
    # offers it as autofill (conditional mediation), which the virtual
    # authenticator, present and verified, answers at once.
    sign_out(page, expect, server)
    page.goto(server.url + "/sign-in")
    expect(page).to_have_url(server.url + "/dashboard")
    expect(page.get_by_role("heading", name="Welcome, Ada Lovelace")).to_be_visible()

    # The buttons: as the second factor after the password, and from "Use another
    # method". Presence is off while the sign-in page loads, so autofill waits.
    for route in ("second factor", "another method"):
        sign_out(page, expect, server)
        cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                 {"authenticatorId": authenticator, "enabled": False})
        page.goto(server.url + "/sign-in")
        page.get_by_label("Email address").fill(email)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Enter your password")).to_be_visible()
        cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                 {"authenticatorId": authenticator, "enabled": True})
        if route == "second factor":
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Continue").click()
            expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
            page.get_by_role("button", name="Use a passkey").click()
        else:
            page.get_by_role("link", name="Use another method").click()
            expect(page.get_by_role("heading", name="Use another method")).to_be_visible()
            page.screenshot(path=str(artifacts / "sign-in-alternatives.png"))
            page.get_by_role("button", name="Sign in with your passkey").click()
        expect(page).to_have_url(server.url + "/dashboard")
    page.goto(server.url + "/user?page=security")
    passkey_row = page.locator(".cl-profileSectionItem__passkeys")
    expect(passkey_row.get_by_text("Last used")).to_be_visible()
