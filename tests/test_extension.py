"""ClerkAuth wiring: factory use, settings, protect patterns, account pages, appearance."""

from __future__ import annotations

import pytest
from flask import Flask, render_template_string

from conftest import build_app, sign_up
from flask_clerk import ClerkAuth, ClerkConfigError
from flask_clerk.cli import new_instance_keys


def bare_app(tmp_path, **config):
    keys = new_instance_keys("localhost/__clerk")
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="s", CLERK_PUBLISHABLE_KEY=keys[
        "CLERK_PUBLISHABLE_KEY"], CLERK_SECRET_KEY=keys["CLERK_SECRET_KEY"],
        CLERK_DATABASE_URL=f"sqlite:///{tmp_path}/c.db")
    app.config.update(config)
    return app


def test_factory_pattern_and_single_registration(tmp_path):
    clerk = ClerkAuth()
    app = bare_app(tmp_path)
    clerk.init_app(app)
    assert "clerk" in app.extensions
    with pytest.raises(RuntimeError, match="already registered"):
        clerk.init_app(app)


def test_unknown_option_is_reported(tmp_path):
    with pytest.raises(TypeError, match="did you mean 'protect'|Did you mean 'protect'"):
        ClerkAuth(bare_app(tmp_path), protekt=["/x"])


def test_missing_keys_and_secret_key_are_explained(tmp_path):
    app = bare_app(tmp_path, CLERK_SECRET_KEY=None)
    with pytest.raises(ClerkConfigError, match="flask clerk init"):
        ClerkAuth(app)
    app = bare_app(tmp_path, SECRET_KEY=None)
    with pytest.raises(ClerkConfigError, match="SECRET_KEY"):
        ClerkAuth(app)


def test_live_keys_need_real_mail(tmp_path):
    app = bare_app(tmp_path, CLERK_SECRET_KEY="sk_live_x", CLERK_PUBLISHABLE_KEY=(
        "pk_live_" + new_instance_keys("a.example/__clerk")["CLERK_PUBLISHABLE_KEY"][8:]))
    with pytest.raises(ClerkConfigError, match="CLERK_SMTP_URL"):
        ClerkAuth(app)


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CLERK_SIGN_IN_URL", "/login")
    monkeypatch.setenv("CLERK_PROTECTED_ROUTES", "/admin(.*), /reports(.*)")
    app = bare_app(tmp_path)
    ClerkAuth(app)
    settings = app.extensions["clerk"].settings
    assert settings.sign_in_url == "/login"
    assert settings.protected_routes == ("/admin(.*)", "/reports(.*)")


def test_protect_patterns(tmp_path, database_url):
    app = build_app(database_url, CLERK_PROTECTED_ROUTES=("/dashboard(.*)", "/api/(.*)"))

    @app.get("/dashboard/stats")
    def stats():
        return "stats"

    @app.get("/api/items")
    def items():
        return {"items": []}

    @app.get("/public")
    def public():
        return "hi"

    client = app.test_client()
    assert client.get("/public").status_code == 200
    page = client.get("/dashboard/stats", headers={"Accept": "text/html,*/*"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/sign-in")
    api = client.get("/api/items")
    assert api.status_code == 401 and api.get_json()["errors"][0]["code"] == (
        "authentication_invalid")
    sign_up(client, app)
    assert client.get("/dashboard/stats").status_code == 200
    assert client.get("/api/items").get_json() == {"items": []}


def test_account_pages_move_and_yield_to_the_apps_own(database_url):
    app = build_app(database_url, CLERK_SIGN_IN_URL="/login", CLERK_SIGN_UP_URL="/join")
    client = app.test_client()
    assert "Sign in to Test App" in client.get("/login").get_data(as_text=True)
    assert "Create your account" in client.get("/join").get_data(as_text=True)
    assert client.get("/sign-in").status_code == 404
    assert client.get("/private", headers={"Accept": "text/html"}).headers[
        "Location"].startswith("/login?")

    # Registered after ClerkAuth, the app's own view still wins over the default page.
    app = build_app(database_url, CLERK_SIGN_UP_URL="/join")

    @app.get("/join")
    def own_join():
        return render_template_string("<h1>Our own page</h1>{{ clerk.sign_up() }}")

    body = app.test_client().get("/join").get_data(as_text=True)
    assert "Our own page" in body and "Create your account" in body


def test_after_sign_up_url(database_url):
    app = build_app(database_url, CLERK_AFTER_SIGN_UP_URL="/welcome")
    client = app.test_client()
    assert sign_up(client, app).headers["Location"] == "/welcome"


APPEARANCE = {
    "theme": "dark",
    "variables": {"colorPrimary": "#6366f1", "colorText": "#111", "borderRadius": "8px",
                  "fontFamily": '"DM Sans", system-ui, sans-serif', "spacingUnit": "1.1rem",
                  "fontWeight": {"bold": 800}},
    "elements": {"formButtonPrimary": "btn btn-primary", "card": "shadow-xl",
                 "formFieldInput__identifier": "id-input"},
    "options": {"logoImageUrl": "/static/logo.svg", "termsPageUrl": "/terms"},
}


def test_appearance_becomes_css_variables_and_classes(database_url):
    app = build_app(database_url, CLERK_APPEARANCE=APPEARANCE)
    body = app.test_client().get("/sign-in").get_data(as_text=True)
    assert "--clerk-color-primary:#6366f1" in body
    assert "--clerk-color-foreground:#111" in body, "deprecated alias colorText"
    assert "--clerk-spacing:1.1rem" in body and "--clerk-font-weight-bold:800" in body
    assert "cl-theme-dark" in body
    assert 'class="cl-formButtonPrimary cl-button btn btn-primary"' in body
    assert "cl-card shadow-xl" in body
    assert "cl-formFieldInput__identifier cl-input__identifier id-input" in body
    assert 'src="/static/logo.svg"' in body
    assert "/__clerk/static/clerk.css" in body


def test_base_theme_and_layout_aliases(database_url):
    app = build_app(database_url, CLERK_APPEARANCE={"baseTheme": "dark",
                                                    "layout": {"termsPageUrl": "/t"}})
    body = app.test_client().get("/sign-up").get_data(as_text=True)
    assert "cl-theme-dark" in body and 'href="/t"' in body


@pytest.mark.parametrize("appearance, message", [
    ({"variabels": {}}, "unknown key 'variabels'. Did you mean 'variables'"),
    ({"variables": {"colorPrimry": "red"}}, "Did you mean 'colorPrimary'"),
    ({"variables": {"colorPrimary": "red;}body{display:none"}}, "not a plain CSS value"),
    ({"elements": {"formButtonPrimery": "x"}}, "Did you mean 'formButtonPrimary'"),
    ({"elements": {"card": {"color": "red"}}}, "string of class names"),
    ({"elements": {"card": '"><script>'}}, "string of class names"),
    ({"options": {"socialButtonsPlacement": "left"}}, "one of"),
    ({"options": {"logoLinkUrl": "javascript:alert(1)"}}, "http(s) URL"),
    ({"theme": "neon"}, "theme must be one of"),
])
def test_bad_appearance_is_reported_at_start_up(database_url, appearance, message):
    with pytest.raises(ClerkConfigError) as error:
        build_app(database_url, CLERK_APPEARANCE=appearance)
    assert message in str(error.value)


def test_component_appearance_prop_overrides(database_url):
    app = build_app(database_url)

    @app.get("/custom")
    def custom():
        return render_template_string(
            "{{ clerk.sign_in(appearance={'variables': {'colorPrimary': '#ff0000'}}) }}")

    assert "--clerk-color-primary:#ff0000" in app.test_client().get("/custom").get_data(
        as_text=True)


def test_user_button_renders_for_signed_in_users_only(app, client):
    assert "cl-userButtonTrigger" not in client.get("/").get_data(as_text=True)
    sign_up(client, app)
    body = client.get("/").get_data(as_text=True)
    assert "<details" in body and "cl-userButtonTrigger" in body
    assert "Manage account" in body and "Sign out" in body and "ada@example.com" in body
    assert body.count("clerk.css") == 1


def test_current_user_has_clerks_fields(app, client):
    from flask_clerk import current_user

    @app.get("/fields")
    def fields():
        return {
            "id": current_user.id, "first_name": current_user.first_name,
            "email0": current_user.email_addresses[0].email_address,
            "primary": current_user.primary_email_address.email_address,
            "public_metadata": current_user.public_metadata,
            "verified": current_user.email_addresses[0].verification.status,
        }

    sign_up(client, app)
    data = client.get("/fields").get_json()
    assert data["id"].startswith("user_") and data["first_name"] == "Ada"
    assert data["email0"] == data["primary"] == "ada@example.com"
    assert data["public_metadata"] == {} and data["verified"] == "verified"


def test_signed_in_pages_are_not_cached(make_app):
    app = make_app(CLERK_PROTECTED_ROUTES=("/whoami",))
    client = app.test_client()
    sign_up(client, app)
    for path in ("/private", "/whoami", "/user"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-store", path
        assert "Cookie" in response.headers["Vary"]
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
