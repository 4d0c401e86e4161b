"""End to end (issue 10): two processes on two sites. The identity instance (the
demo, on auth.localhost) and a company's app in remote mode (tests/remote_app, a
process of its own, on app.localhost). Chromium clicks the app's sign-in, signs in
on the instance, comes back signed in through the handshake, calls a protected API,
and is signed out of the app by a revocation at the instance within the token's
lifetime."""

# ruff: noqa: F811 - the browser fixtures are imported from test_browser by name

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_accounts_browser import create_user
from test_browser import (  # noqa: F401 - fixtures
    DESKTOP,
    REPO,
    TIMEOUT_MS,
    LiveServer,
    artifacts,
    chromium,
    expect,
    serve_demo,
)
from test_oauth_browser import free_port

from conftest import PASSWORD
from flask_clerk.cli import new_instance_keys

pytestmark = pytest.mark.e2e

TOKEN_LIFETIME = 5  # seconds: a revocation reaches the app within this


@contextmanager
def remote_app_process(port: int, instance: LiveServer) -> Iterator[str]:
    """tests/remote_app in a process of its own, trusting ``instance``."""
    config = instance.app.config
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "FLASK_"))},
           "PYTHONPATH": str(REPO), "APP_SECRET_KEY": "the app's own secret",
           "CLERK_PUBLISHABLE_KEY": config["CLERK_PUBLISHABLE_KEY"],
           "CLERK_SECRET_KEY": config["CLERK_SECRET_KEY"], "CLERK_API_URL": instance.url}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app:create_app", "run", "--host",
         "127.0.0.1", "--port", str(port)],
        cwd=REPO / "tests" / "remote_app", env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"the remote-mode app did not start:\n{output}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def revoke(instance: LiveServer, session_id: str) -> None:
    """Through the instance's Backend API, as an administrator's script would."""
    request = urllib.request.Request(
        f"{instance.url}/v1/sessions/{session_id}/revoke", method="POST", data=b"",
        headers={"Authorization": f"Bearer {instance.app.config['CLERK_SECRET_KEY']}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["status"] == "revoked"


def create_organization(instance: LiveServer, name: str, slug: str, email: str) -> None:
    """Through the instance's Backend API, with ``email``'s user as its admin."""
    secret = instance.app.config["CLERK_SECRET_KEY"]

    def call(path: str, body: dict[str, object] | None = None) -> object:
        request = urllib.request.Request(
            instance.url + path, method="GET" if body is None else "POST",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    user = call("/v1/users?email_address=" + email)[0]  # type: ignore[index]
    call("/v1/organizations", {"name": name, "slug": slug, "created_by": user["id"]})


@contextmanager
def two_sites(tmp_path: Path) -> Iterator[tuple[LiveServer, str, str, object]]:
    """The instance on auth.localhost, the app on app.localhost, and Chromium;
    Ada has an account with two organizations."""
    auth_port, app_port = free_port(), free_port()
    auth, app = f"http://auth.localhost:{auth_port}", f"http://app.localhost:{app_port}"
    config = {
        "CLERK_PUBLISHABLE_KEY": new_instance_keys(f"auth.localhost:{auth_port}/__clerk")[
            "CLERK_PUBLISHABLE_KEY"],
        "CLERK_ALLOWED_REDIRECT_ORIGINS": (app,),
        "CLERK_SESSION_TOKEN_LIFETIME": TOKEN_LIFETIME,
    }
    with serve_demo(tmp_path, port=auth_port, **config) as instance, \
            remote_app_process(app_port, instance), \
            chromium("--host-resolver-rules=MAP *.localhost 127.0.0.1") as browser:
        create_user(instance, "ada@example.com", "Ada", "Lovelace")
        for name, slug in (("Acme", "acme"), ("Globex", "globex")):
            create_organization(instance, name, slug, "ada@example.com")
        yield instance, auth, app, browser


def sign_in_through_the_app(page: object, auth: str, app: str, expect: Any) -> None:
    page.goto(app + "/")  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name="The app")).to_be_visible()  # type: ignore[attr-defined]
    page.get_by_role("link", name="Sign in").click()  # type: ignore[attr-defined]
    assert page.url.startswith(auth + "/sign-in?redirect_url=")  # type: ignore[attr-defined]
    page.get_by_label("Email address").fill("ada@example.com")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Continue", exact=True).click()  # type: ignore[attr-defined]
    page.get_by_label("Password", exact=True).fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Continue", exact=True).click()  # type: ignore[attr-defined]
    # Back on the app, signed in (the handshake's nonce in the URL is gone).
    expect(page).to_have_url(app + "/")  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name="Welcome, Ada")).to_be_visible()  # type: ignore[attr-defined]


def test_sign_in_on_the_instance_back_to_the_app_then_revoked(
        tmp_path: Path, expect: object, artifacts: Path) -> None:
    with two_sites(tmp_path) as (instance, auth, app, browser):
        context = browser.new_context(viewport=DESKTOP)  # type: ignore[attr-defined]
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        sign_in_through_the_app(page, auth, app, expect)
        assert page.evaluate("fetch('/api/me').then(r => r.json())") == {
            "email": "ada@example.com"}
        cookies = {c["name"]: c for c in context.cookies(app)}
        assert cookies["__session"]["domain"] == "app.localhost"  # the app's own cookie
        assert "__client" not in cookies  # the instance's stays with the instance

        # The organization switcher, from the token and the instance's Backend API.
        switcher = page.locator(".cl-organizationSwitcher-root")
        expect(switcher.locator("summary")).to_contain_text("Personal account")  # type: ignore[attr-defined]
        switcher.locator("summary").click()
        page.screenshot(path=str(artifacts / "remote-app-organization-switcher.png"),
                        animations="disabled")
        switcher.get_by_role("menuitem", name="Globex").click()
        expect(page.locator("#org")).to_have_text("globex")  # type: ignore[attr-defined]
        expect(switcher.locator("summary")).to_contain_text("Globex")  # type: ignore[attr-defined]
        page.locator(".cl-userButtonTrigger").click()
        expect(page.get_by_text("ada@example.com")).to_be_visible()  # type: ignore[attr-defined]
        page.screenshot(path=str(artifacts / "remote-app-user-button.png"), animations="disabled")

        # Revoked at the instance: signed out of the app within the token's lifetime.
        session_id = next(c["value"] for c in context.cookies(auth) if c["name"] == "__session")
        import jwt

        revoke(instance, jwt.decode(session_id, options={"verify_signature": False})["sid"])
        time.sleep(TOKEN_LIFETIME + 6)  # (the verifier's 5 s leeway included)
        page.goto(app + "/dashboard")
        expect(page).to_have_url(re.compile(  # type: ignore[attr-defined]
            re.escape(f"{auth}/sign-in?redirect_url=%2F__clerk%2Fv1%2Fclient%2Fhandshake"
                      f"%3Fredirect_url%3Dhttp%253A%252F%252Fapp.localhost%253A"
                      f"{app.rsplit(':', 1)[1]}%252Fdashboard%26format%3Dnonce%26nonce%3D")
            + "[A-Za-z0-9_-]+"))
        context.close()


@pytest.mark.parametrize(("theme", "viewport"), [("dark", DESKTOP),
                                                 ("light", {"width": 375, "height": 740})])
def test_the_apps_sign_out_signs_out_at_the_instance(
        tmp_path: Path, expect: object, artifacts: Path, theme: str,
        viewport: dict[str, int]) -> None:
    with two_sites(tmp_path) as (instance, auth, app, browser):
        context = browser.new_context(viewport=viewport)  # type: ignore[attr-defined]
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        sign_in_through_the_app(page, auth, app, expect)
        page.goto(f"{app}/?theme={theme}")
        page.locator(".cl-userButtonTrigger").click()
        sign_out = page.get_by_role("menuitem", name="Sign out")
        expect(sign_out).to_be_visible()  # type: ignore[attr-defined]
        page.screenshot(path=str(artifacts / f"remote-app-user-button-{theme}"
                                  f"{'-narrow' if viewport['width'] < 500 else ''}.png"),
                        animations="disabled")
        sign_out.click()
        expect(page.get_by_role("heading", name="The app")).to_be_visible()  # type: ignore[attr-defined]
        # Signed out at the instance too: its own pages ask to sign in again.
        page.goto(auth + "/user")
        expect(page).to_have_url(re.compile(re.escape(auth + "/sign-in")))  # type: ignore[attr-defined]
        context.close()
