"""A custom auth domain (``CLERK_DOMAIN``): the account pages and the dashboard on
``auth.example.test``, the app on ``app.example.test``, one session for both."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from dotenv import dotenv_values

from conftest import PASSWORD, build_app
from flask_clerk.cli import new_instance_keys
from flask_clerk.errors import ClerkConfigError
from flask_clerk.web.forms import sign_return_to

APP = "http://app.example.test"
AUTH = "http://auth.example.test"


def domain_config(**extra):
    return {
        "CLERK_DOMAIN": "auth.example.test",
        "CLERK_PUBLISHABLE_KEY": new_instance_keys("auth.example.test/__clerk")[
            "CLERK_PUBLISHABLE_KEY"],
        "CLERK_ALLOWED_REDIRECT_ORIGINS": [APP],
        **extra,
    }


@pytest.fixture
def app(make_app):
    return make_app(**domain_config())


def whoami(client, origin):
    return client.get("/whoami", base_url=origin).get_json()


def post_on(client, origin, path, data, page):
    with client.application.test_request_context():
        signed = sign_return_to(page)
    token = csrf_token_on(client, origin, page)
    return client.post(path, base_url=origin,
                       data={"csrf_token": token, "return_to": signed, **data})


def csrf_token_on(client, origin, page):
    html = client.get(page, base_url=origin).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def test_account_pages_and_the_dashboard_redirect_to_the_auth_host(app, client):
    response = client.get("/sign-in", base_url=APP)
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert (location.scheme, location.netloc, location.path) == ("http", "auth.example.test",
                                                                 "/sign-in")
    assert parse_qs(location.query)["redirect_url"] == [APP + "/"]  # back to the app
    # A relative redirect_url is made absolute: it means the app's page.
    response = client.get("/sign-up?redirect_url=/private", base_url=APP)
    assert parse_qs(urlsplit(response.location).query)["redirect_url"] == [APP + "/private"]
    # One that is not allowed is not carried over.
    response = client.get("/sign-in?redirect_url=https://evil.example/", base_url=APP)
    assert "evil" not in response.location
    for path in ("/user", "/__clerk/dashboard", "/__clerk/dashboard/users"):
        response = client.get(path, base_url=APP)
        assert response.status_code == 302, path
        assert response.location.startswith(AUTH + path), response.location
    # Posting a page's form to the wrong host is refused, not half-done.
    assert client.post("/__clerk/dashboard/settings", base_url=APP).status_code == 421
    # On the auth host they are served; the app's own pages are served anywhere.
    assert client.get("/sign-in", base_url=AUTH).status_code == 200
    assert client.get("/", base_url=APP).status_code == 200


def test_a_protected_page_sends_to_the_auth_host_and_back(app, client):
    response = client.get("/private", base_url=APP, headers={"Accept": "text/html"})
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.netloc == "auth.example.test"
    assert parse_qs(location.query)["redirect_url"] == [APP + "/private"]


def test_signing_in_on_the_auth_host_signs_in_the_app(app, client):
    create_user(client)
    response = post_on(client, AUTH, "/__clerk/sign-in", {"identifier": "ada@example.com"},
                       "/sign-in")
    assert response.status_code == 303
    response = post_on(client, AUTH, "/__clerk/sign-in/password",
                       {"password": PASSWORD, "redirect_url": APP + "/private"}, "/sign-in")
    assert response.status_code == 303
    assert response.location == APP + "/private"  # back on the app's host
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("__session", "__client"):
        assert "Domain=example.test" in cookies[name], cookies[name]
    assert whoami(client, APP)["user_id"] == whoami(client, AUTH)["user_id"] is not None
    assert client.get("/private", base_url=APP).status_code == 200
    # Any other host is not a redirect target, whatever it says.
    response = post_on(client, AUTH, "/__clerk/sign-out",
                       {"redirect_url": "http://evil.example.test/"}, "/user")
    assert response.status_code == 303 and "evil" not in response.location
    assert whoami(client, APP)["user_id"] is None


def test_the_app_hosts_user_button_signs_out_on_the_app_host(app, client):
    create_user(client)
    post_on(client, AUTH, "/__clerk/sign-in", {"identifier": "ada@example.com"}, "/sign-in")
    response = post_on(client, AUTH, "/__clerk/sign-in/password", {"password": PASSWORD},
                       "/sign-in")
    # The flow's own cookie stayed with the auth host; the session's is the parent's.
    flow = [c for c in response.headers.getlist("Set-Cookie")
            if c.startswith("__clerk_sign_in=")]
    assert flow and all("Domain=" not in c for c in flow)
    # Flask's session (the CSRF secret) is each host's own: the app's page has its
    # own token, and its form posts to /__clerk on the app's host.
    assert client.get_cookie("session", domain="example.test") is None
    html = client.get("/", base_url=APP).get_data(as_text=True)
    assert 'action="/__clerk/sign-out"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/__clerk/sign-out", base_url=APP, data={"csrf_token": token})
    assert response.status_code == 303
    assert whoami(client, AUTH)["user_id"] is None and whoami(client, APP)["user_id"] is None


def test_a_host_only_cookie_from_before_the_domain_does_not_win(app, client):
    create_user(client)
    post_on(client, AUTH, "/__clerk/sign-in", {"identifier": "ada@example.com"}, "/sign-in")
    post_on(client, AUTH, "/__clerk/sign-in/password", {"password": PASSWORD}, "/sign-in")
    shared = client.get_cookie("__client", domain="example.test").value
    # A browser whose session token ran out sends the older, host-only cookie first.
    browser = client.application.test_client(use_cookies=False)
    response = browser.get("/whoami", base_url=APP, headers={
        "Cookie": f"__client=stale-from-before; __client={shared}"})
    assert response.get_json()["user_id"] is not None
    deletions = [c for c in response.headers.getlist("Set-Cookie")
                 if c.startswith("__client=;") and "Domain=" not in c]
    assert deletions, response.headers.getlist("Set-Cookie")  # the host-only one goes


def create_user(client):
    response = client.post("/v1/users", base_url=AUTH, json={
        "email_address": ["ada@example.com"], "password": PASSWORD},
        headers={"Authorization": f"Bearer {client.application.config['CLERK_SECRET_KEY']}"})
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(("config", "message"), [
    ({"CLERK_DOMAIN": "https://auth.example.test"}, "must be a host name"),
    ({"CLERK_DOMAIN": "localhost"}, "must be a host name"),
    ({"CLERK_DOMAIN": "10.0.0.5"}, "not an IP address"),
    ({"CLERK_PUBLISHABLE_KEY": new_instance_keys("localhost/__clerk")["CLERK_PUBLISHABLE_KEY"]},
     "encodes the host 'localhost'"),
    ({"CLERK_ALLOWED_REDIRECT_ORIGINS": []}, "app's own origin"),
    ({"CLERK_COOKIE_DOMAIN": "other.test"}, "parent domain"),
])
def test_misconfigurations_are_refused_at_start(database_url, config, message):
    with pytest.raises(ClerkConfigError, match=message):
        build_app(database_url, **domain_config(**config))


def test_init_encodes_the_auth_domain_in_the_publishable_key(tmp_path):
    from test_cli import flask

    (tmp_path / ".env").write_text(
        f"CLERK_DOMAIN=auth.example.test\nCLERK_ALLOWED_REDIRECT_ORIGINS={APP}\n")
    flask(tmp_path, "clerk", "init")
    key = dotenv_values(tmp_path / ".env")["CLERK_PUBLISHABLE_KEY"]
    encoded = key.removeprefix("pk_test_")
    assert base64.b64decode(encoded + "=" * (-len(encoded) % 4)) == b"auth.example.test/__clerk$"
