"""Elements (issue 9): unstyled blocks over the prebuilt components' flows. They
write no style of flask_clerk's own, and they are the same flow: the same step, the
same errors with their Clerk codes, values kept, rate limits and redirects."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string

from conftest import PASSWORD, post, sign_out, sign_up

PAGE = """{% import "clerk/elements.html" as el with context %}
<main>{% call el.sign_in_root(class_="root", hooks=hooks, redirect_url="/private") %}
  {% call el.step("start", class_="step", data_testid="start") %}
    {{ el.global_error(class_="oops") }}
    {% call el.field("identifier", class_="field") %}
      {{ el.label("Email", class_="label") }}{{ el.input(class_="input", placeholder="you@x.com") }}
      {{ el.field_error(class_="error") }}
    {% endcall %}
    {{ el.action("Continue", class_="button") }}
  {% endcall %}
  {% call el.step("verifications", class_="step") %}
    {% call el.strategy("password") %}
      <h1>Password for {{ el.identifier() }}</h1>
      {% call el.field("password") %}
        {{ el.label("Password") }}{{ el.input() }}{{ el.field_error(class_="error") }}
      {% endcall %}
      {{ el.action("Sign in") }}{{ el.action("Forgot?", navigate="forgot_password") }}
      {{ el.action("Other ways", navigate="choose_strategy") }}
    {% endcall %}
    {% call el.strategy("email_code") %}
      <h1>Code sent</h1>{{ el.action("Resend", resend=True) }}
    {% endcall %}
  {% endcall %}
{% endcall %}</main>"""


@pytest.fixture
def app(make_app):
    app = make_app()

    @app.get("/custom")
    def custom() -> str:
        from flask import request

        return render_template_string(PAGE, hooks=request.args.get("hooks") == "1")

    return app


def page(client, hooks=False):
    return client.get("/custom" + ("?hooks=1" if hooks else "")).get_data(as_text=True)


def test_elements_write_no_style_of_their_own(app, client):
    html = page(client)
    assert 'data-step="start"' in html and 'name="identifier"' in html
    assert "cl-" not in html  # no classes (or ids) of the prebuilt components
    assert "style" not in html.lower()  # no style attribute, <style> or stylesheet
    assert ".css" not in html and "<svg" not in html
    # Only the page's own classes and attributes, on the right elements.
    assert re.search(r'<form method="post" action="/__clerk/sign-in" novalidate'
                     r' data-step="start" class="step" data-testid="start">', html)
    assert '<label for="el-sign_in-identifier" class="label">Email</label>' in html
    assert re.search(r'<input id="el-sign_in-identifier" name="identifier" type="email"'
                     r' autocomplete="username webauthn" required class="input"'
                     r' placeholder="you@x.com">', html)
    assert '<button type="submit" class="button">Continue</button>' in html
    assert 'name="csrf_token"' in html and 'name="return_to"' in html
    assert '<input type="hidden" name="redirect_url" value="/private">' in html


def test_the_cl_hooks_only_when_asked(app, client):
    html = page(client, hooks=True)
    for hook in ('class="cl-rootBox root"', 'class="cl-form step"',
                 'class="cl-formField cl-formField__identifier field"',
                 'class="cl-formFieldLabel label"', 'class="cl-formFieldInput input"',
                 'class="cl-formButtonPrimary button"'):
        assert hook in html, hook
    assert "style" not in html.lower()


def test_one_flow_the_elements_page_and_the_prebuilt_card(app, client):
    sign_up(client, app)
    sign_out(client)
    # A bad address: the field's error with its code, the value kept, a 4xx.
    response = post(client, "/__clerk/sign-in", {"identifier": "not an email"}, page="/custom")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-field="identifier" data-invalid' in html
    assert re.search(r'<p id="el-sign_in-identifier-error" role="alert" '
                     r'data-code="form_email_invalid" class="error">', html)
    assert 'value="not an email"' in html and 'aria-invalid="true"' in html
    # Started here, the flow is the prebuilt card's too: it shows the password step.
    response = post(client, "/__clerk/sign-in", {"identifier": "ada@example.com"},
                    page="/custom")
    assert response.status_code == 303 and response.location == "/custom"
    assert "Enter your password" in client.get("/sign-in").get_data(as_text=True)
    html = page(client)
    assert 'data-step="verifications"' in html and "Password for <span>ada@example.com" in html
    # Secondary actions post forms of their own, after the step's: Enter submits the step.
    step_form, after = html.split("</form>", 1)
    assert '<button type="submit" form="el-sign_in-forgot-password">Forgot?</button>' in step_form
    assert ('<form id="el-sign_in-forgot-password" method="post" '
            'action="/__clerk/sign-in/forgot-password" hidden>') in after
    assert '<form id="el-sign_in-resend"' not in html  # (only the strategy shown has one)
    # Links keep where to go afterwards.
    assert 'href="/custom?method=alternatives&amp;redirect_url=%2Fprivate"' in html
    # A wrong password: its error and code on this page; the right one: signed in,
    # sent where the root said.
    response = post(client, "/__clerk/sign-in/password", {"password": "wrong password"},
                    page="/custom")
    assert response.status_code == 422
    assert 'data-code="form_password_incorrect"' in response.get_data(as_text=True)
    response = post(client, "/__clerk/sign-in/password",
                    {"password": PASSWORD, "redirect_url": "/private"}, page="/custom")
    assert response.status_code == 303 and response.location == "/private"
    assert client.get("/whoami").get_json()["user_id"]


def test_rate_limits_show_on_the_elements_page(make_app):
    app = make_app(CLERK_RATE_LIMITS={"sign_in": "2/minute"})

    @app.get("/custom")
    def custom() -> str:
        return render_template_string(PAGE, hooks=False)

    client = app.test_client()
    for _ in range(2):
        post(client, "/__clerk/sign-in", {"identifier": "ada@example.com"}, page="/custom")
        post(client, "/__clerk/sign-in/restart", {}, page="/custom")
    response = post(client, "/__clerk/sign-in", {"identifier": "ada@example.com"},
                    page="/custom")
    assert response.status_code == 429 and response.headers["Retry-After"]
    html = response.get_data(as_text=True)
    assert re.search(r'<div role="alert" data-code="too_many_requests" class="oops">', html)


def test_connection_and_passkey_buttons_post_from_the_step(make_app):
    """A provider's button and the passkey button are the prebuilt's, in the page's
    markup: the provider's posts the step's form (its CSRF token) to the provider's
    begin route; the passkey's hidden form follows the step's form, never inside it."""
    app = make_app(
        CLERK_SIGN_IN_STRATEGIES=("password", "passkey"),
        CLERK_OAUTH_PROVIDERS={"github": {"client_id": "id", "client_secret": "secret"}})

    @app.get("/custom")
    def custom() -> str:
        return render_template_string("""{% import "clerk/elements.html" as el with context %}
{% call el.sign_in_root() %}{% call el.step("start") %}
{{ el.connection("github", class_="gh") }}{{ el.connection("google") }}
{{ el.passkey("Passkey", class_="pk") }}
{% endcall %}{% endcall %}""")

    html = app.test_client().get("/custom", base_url="http://localhost").get_data(as_text=True)
    assert '<button type="submit" form="el-sign_in-oauth-github" class="gh">' in html
    assert ('<form id="el-sign_in-oauth-github" method="post" '
            'action="/__clerk/oauth/github/sign-in" hidden>') in html.split("</form>", 1)[1]
    assert "google" not in html  # not configured: nothing
    assert 'data-clerk-passkey="authenticate"' in html and 'class="pk"' in html
    step_form, after = html.split("</form>", 1)
    assert 'id="el-sign_in-passkey"' in after and 'name="credential"' in after
    assert "data-clerk-passkey-conditional" in after  # autofill, as the prebuilt offers
    assert "cl-" not in html


@pytest.mark.parametrize(("snippet", "message"), [
    ('{% call el.step("verify") %}{% endcall %}', "sign_in has no step 'verify'"),
    ('{% call el.strategy("sms") %}{% endcall %}', "no strategy 'sms'"),
    ('{{ el.action("Back", navigate="previous") }}', "no navigation 'previous'"),
    ('{{ el.action("Go", **{"x onmouseover": "alert(1)"}) }}', "is not an attribute name"),
])
def test_mistakes_in_an_elements_page_are_errors_not_silence(app, snippet, message):
    template = ('{% import "clerk/elements.html" as el with context %}'
                '{% call el.sign_in_root() %}' + snippet + '{% endcall %}')
    with app.test_request_context("/"), pytest.raises(ValueError, match=message):
        render_template_string(template)


def test_a_sign_up_from_an_invitation_keeps_its_address(make_app):
    app = make_app(CLERK_ORGANIZATIONS=True,
                   CLERK_OAUTH_PROVIDERS={"github": {"client_id": "i", "client_secret": "s"}})
    from test_organizations import create_org, invite, org

    @app.get("/custom-sign-up")
    def custom() -> str:
        return render_template_string("""{% import "clerk/elements.html" as el with context %}
{% call el.sign_up_root() %}{% call el.step("start") %}
{% call el.field("email_address") %}{{ el.input() }}{% endcall %}{{ el.connection("github") }}
{% endcall %}{% endcall %}""")

    ada = app.test_client()
    sign_up(ada, app)
    create_org(ada, "Acme Inc", "acme")
    ticket = invite(ada, app, org(app, "acme"), "bea@example.com")
    html = app.test_client().get(f"/custom-sign-up?__clerk_ticket={ticket}").get_data(
        as_text=True)
    assert re.search(r'name="email_address" type="email" value="bea@example.com"[^>]* readonly',
                     html)
    assert f'name="ticket" value="{ticket}"' in html
    assert "oauth" not in html  # a provider's sign-up would not carry the invitation
