"""Social sign-in (issue 7) against a real OpenID Connect provider on 127.0.0.1
(tests/oidc_provider): sign-up, sign-in, linking on a verified email only, the
email code for an unverified one, errors (denied, tampered state, replay, expiry,
provider down, forged ID token), MFA afterwards, connected accounts."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from oidc_support import consent, oidc_provider
from sqlalchemy import func, select, update
from test_mfa_flows import enrol

from conftest import last_code, post, sign_out, sign_up
from flask_clerk.core import clock
from flask_clerk.core.models import ExternalAccount, OAuthFlow, User
from flask_clerk.core.oauth_providers import (
    client_secret,
    identity_from_claims,
    identity_from_discord,
    identity_from_github,
    providers_from_settings,
)

CALLBACK = "http://localhost/__clerk/oauth/{}/callback"
SECRET = "a-test-secret-of-enough-length"
ACCOUNTS = {
    "ada-1": {"email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace",
              "given_name": "Ada", "family_name": "Lovelace",
              "picture": "https://images.example.com/ada.png"},
    "ada-2": {"email": "ada@example.com", "email_verified": True, "given_name": "Ada"},
    "bob-1": {"email": "bob@example.com", "email_verified": False, "given_name": "Bob"},
    "carol-1": {"email": "carol@example.com", "email_verified": False, "given_name": "Carol"},
    "nomail-1": {"given_name": "Nomail"},
    # A provider that vouches for a non-ASCII look-alike of kim@example.com (the
    # Kelvin sign lower-cases to "k"), and for a name with a NUL in it.
    "kelvin-1": {"email": "\u212aim@example.com", "email_verified": True},
    "nul-1": {"email": "nul@example.com", "email_verified": True, "given_name": "Nu\u0000l"},
    "gh-1": {"github_id": 583231, "login": "octocat", "name": "Mona Octocat",
             "picture": "https://avatars.example.com/u/583231",
             "public_email": "public@example.com",
             "github_emails": [{"email": "public@example.com", "primary": False, "verified": False},
                               {"email": "mona@example.com", "primary": True, "verified": True}]},
}


@pytest.fixture(scope="module")
def issuer():
    clients = [{"client_id": f"clerk-{key}", "client_secret": SECRET,
                "redirect_uris": [CALLBACK.format(key)],
                "token_endpoint_auth_method": auth}
               for key, auth in (("custom_test", "client_secret_basic"),
                                 ("google", "client_secret_basic"),
                                 ("github", "client_secret_post"))]
    with oidc_provider(clients=clients, accounts=ACCOUNTS) as url:
        yield url


def providers(issuer, **more):
    return {
        "custom_test": {"issuer": issuer, "name": "Test IdP", "client_id": "clerk-custom_test",
                        "client_secret": SECRET},
        **more,
    }


@pytest.fixture
def app(make_app, issuer):
    return make_app(CLERK_OAUTH_PROVIDERS=providers(issuer))


def start(client, key="custom_test", page="/sign-in", intent="sign-in"):
    response = post(client, f"/__clerk/oauth/{key}/{intent}", {}, page=page)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def at_provider(authorize_url, key="custom_test", choice="ada-1"):
    """The browser at the provider: the user picks ``choice``; the callback URL."""
    with httpx.Client() as browser:
        back = consent(browser, authorize_url, CALLBACK.format(key), choice)
    return f"{back.path}?{back.query.decode()}"


def oauth(client, choice="ada-1", key="custom_test", page="/sign-in", intent="sign-in"):
    """The whole round trip; the callback's response."""
    return client.get(at_provider(start(client, key, page, intent), key, choice))


def db(app):
    return app.extensions["clerk"].instance.store.session()


def count(app, model):
    with db(app) as session:
        return session.scalar(select(func.count()).select_from(model))


def me(client):
    return client.get("/whoami").get_json()["user_id"]


def user_json(app, user_id):
    from flask_clerk.core.serializers import user_json as serialize

    with db(app) as session:
        return serialize(session.get(User, user_id))


# -- Sign-up and sign-in ----------------------------------------------------------------------


def test_the_buttons_are_on_the_sign_in_and_sign_up_pages(client):
    for page, intent in (("/sign-in", "sign-in"), ("/sign-up", "sign-up")):
        html = client.get(page).get_data(as_text=True)
        assert f'action="/__clerk/oauth/custom_test/{intent}"' in html
        assert "Continue with Test IdP" in html
        assert "cl-socialButtonsBlockButton__custom_test" in html
        assert html.index("cl-socialButtonsRoot") < html.index("cl-dividerRow")


def test_the_redirect_carries_state_pkce_and_a_nonce(client):
    query = dict(parse_qsl(urlsplit(start(client)).query))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    assert query["redirect_uri"] == CALLBACK.format("custom_test")
    assert query["scope"] == "openid email profile"


def test_a_sign_up_through_the_provider_creates_a_verified_user(app, client):
    response = oauth(client)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    data = user_json(app, me(client))
    assert (data["first_name"], data["last_name"]) == ("Ada", "Lovelace")
    assert data["image_url"] == "https://images.example.com/ada.png"
    assert data["password_enabled"] is False
    (email,) = data["email_addresses"]
    assert email["email_address"] == "ada@example.com"
    assert email["verification"]["status"] == "verified"
    assert email["verification"]["strategy"] == "oauth_custom_test"
    assert email["verification"]["object"] == "verification_from_oauth"
    (account,) = data["external_accounts"]
    assert account["object"] == "external_account" and account["id"].startswith("eac_")
    assert (account["provider"], account["provider_user_id"]) == ("oauth_custom_test", "ada-1")
    assert account["email_address"] == "ada@example.com" and account["email_address_verified"]
    assert account["verification"] == {"object": "verification_oauth", "status": "verified",
                                       "strategy": "oauth_custom_test", "attempts": None,
                                       "expire_at": account["created_at"]}
    assert "openid" in account["approved_scopes"].split()
    assert email["linked_to"] == [{"type": "oauth_custom_test", "id": account["identification_id"]}]
    assert count(app, OAuthFlow) == 0


def test_a_sign_in_finds_the_user_by_their_provider_account(app, client):
    oauth(client)
    user_id = me(client)
    sign_out(client)
    assert me(client) is None
    response = oauth(client)
    assert response.headers["Location"] == "/"  # CLERK_AFTER_SIGN_IN_URL
    assert me(client) == user_id and count(app, User) == 1


def test_the_redirect_url_of_the_page_is_kept(client):
    oauth(client)
    sign_out(client)
    response = client.get(at_provider(start_with_redirect(client, "/private")))
    assert response.headers["Location"] == "/private"


def start_with_redirect(client, redirect_url):
    response = post(client, "/__clerk/oauth/custom_test/sign-in", {"redirect_url": redirect_url},
                    page=f"/sign-in?redirect_url={redirect_url}")
    assert response.status_code == 303
    return response.headers["Location"]


def test_a_verified_email_links_the_provider_to_the_existing_account(app, client):
    sign_up(client, app)  # a password account for ada@example.com
    user_id = me(client)
    sign_out(client)
    response = oauth(client)
    assert response.status_code == 303
    assert me(client) == user_id and count(app, User) == 1
    (account,) = user_json(app, user_id)["external_accounts"]
    assert account["provider_user_id"] == "ada-1"
    notices = app.extensions["clerk"].instance.dev_mailbox.mails("ada@example.com")
    assert "Test IdP account connected" in notices[0].text


def test_an_unverified_email_never_takes_over_an_account(app, client):
    sign_up(client, app, email="bob@example.com")
    sign_out(client)
    response = oauth(client, choice="bob-1")
    # A sign-up needing the address's code: which only the owner's mailbox gets,
    # and it gets a notice instead (sign in, then connect the provider).
    assert response.status_code == 303 and response.headers["Location"] == "/sign-up"
    assert me(client) is None and count(app, ExternalAccount) == 0
    page = client.get("/sign-up").get_data(as_text=True)
    assert "Verify your email" in page and "bob@example.com" in page
    mail = app.extensions["clerk"].instance.dev_mailbox.mails("bob@example.com")[0]
    assert "already has an account" in mail.text and not re.search(r"\b\d{6}\b", mail.subject)
    response = post(client, "/__clerk/sign-up/verify", {"code": "000000"}, page="/sign-up")
    assert response.status_code == 422 and me(client) is None


def test_an_unverified_email_signs_up_after_its_code(app, client):
    response = oauth(client, choice="carol-1")
    assert response.headers["Location"] == "/sign-up" and count(app, User) == 0
    response = post(client, "/__clerk/sign-up/verify",
                    {"code": last_code(app, "carol@example.com")}, page="/sign-up")
    assert response.status_code == 303
    data = user_json(app, me(client))
    assert data["first_name"] == "Carol"
    assert data["email_addresses"][0]["verification"]["strategy"] == "email_code"
    (account,) = data["external_accounts"]
    assert account["provider_user_id"] == "carol-1" and account["email_address_verified"] is False
    sign_out(client)
    oauth(client, choice="carol-1")  # now it signs in directly
    assert me(client) == data["id"]


def test_a_look_alike_unicode_address_never_links_to_an_account(app, client):
    sign_up(client, app, email="kim@example.com")
    victim = me(client)
    sign_out(client)
    response = oauth(client, choice="kelvin-1")
    assert response.status_code == 422  # no usable address: refused, nothing linked
    assert me(client) is None and me(client) != victim
    assert count(app, ExternalAccount) == 0


def test_control_characters_from_the_provider_are_dropped(app, client):
    assert oauth(client, choice="nul-1").status_code == 303
    assert user_json(app, me(client))["first_name"] == "Nu l"


def test_a_provider_that_shares_no_email_is_refused(app, client):
    response = oauth(client, choice="nomail-1")
    assert response.status_code == 422
    assert "did not share an email address" in response.get_data(as_text=True)
    assert count(app, User) == 0


# -- Errors come back to the page, and nothing is half-created --------------------------------


def test_a_denied_consent_says_so_on_the_sign_in_page(app, client):
    response = oauth(client, choice="deny")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "You cancelled signing in with Test IdP." in html and "cl-signIn-start" in html
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert count(app, User) == 0 and count(app, OAuthFlow) == 0


def test_a_denied_consent_on_the_sign_up_page_shows_there(client):
    response = oauth(client, choice="deny", page="/sign-up", intent="sign-up")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "You cancelled" in html and "cl-signUp-start" in html


def test_a_tampered_state_signs_nobody_in(app, client):
    callback = at_provider(start(client))
    path, query = callback.split("?")
    params = dict(parse_qsl(query))
    params["state"] = params["state"][:-2] + "xx"
    response = client.get(f"{path}?{urlencode(params)}")
    assert response.status_code == 400
    assert "could not be verified" in response.get_data(as_text=True)
    assert me(client) is None and count(app, User) == 0


def test_a_callback_replayed_or_opened_in_another_browser_signs_nobody_in(app, client):
    callback = at_provider(start(client))
    other = app.test_client()
    assert other.get(callback).status_code == 400  # no cookie: not the browser that began
    assert count(app, User) == 0
    assert client.get(callback).status_code == 303  # the flow was left usable for its own
    user_id = me(client)
    sign_out(client)
    assert client.get(callback).status_code == 400  # used once
    assert me(client) is None and count(app, User) == 1
    assert user_id


def test_a_flow_left_too_long_expires(app, client, frozen):
    authorize = start(client)
    frozen.advance(601)
    response = client.get(at_provider(authorize))
    assert response.status_code == 400
    assert "took too long" in response.get_data(as_text=True)
    assert count(app, User) == 0


def test_a_provider_that_is_down_is_reported(make_app, issuer):
    app = make_app(CLERK_OAUTH_PROVIDERS={"custom_down": {
        "issuer": "http://127.0.0.1:9", "client_id": "x", "client_secret": "y"}})
    client = app.test_client()
    response = post(client, "/__clerk/oauth/custom_down/sign-in", {})
    assert response.status_code == 502
    assert "Down could not be reached" in response.get_data(as_text=True)
    assert count(app, OAuthFlow) == 0


def test_an_answer_naming_another_issuer_is_refused(app, client):
    callback = at_provider(start(client))
    response = client.get(callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&was="))
    assert response.status_code == 400 and count(app, User) == 0


def test_a_lured_callback_does_not_end_the_users_own_flow(app, client):
    mine = start(client)
    other = app.test_client()
    lure = at_provider(start(other))  # someone else's flow, opened in this browser
    response = client.get(lure)
    assert response.status_code == 400 and "Set-Cookie" not in response.headers
    assert client.get(at_provider(mine)).status_code == 303  # still usable


def test_a_provider_error_code_is_shown_and_logged_as_a_code_only(app, client, caplog):
    authorize = start(client)
    state = dict(parse_qsl(urlsplit(authorize).query))["state"]
    error = "server_error\nsign_in.succeeded user_id=user_admin"
    response = client.get("/__clerk/oauth/custom_test/callback?" + urlencode(
        {"state": state, "error": error}))
    assert response.status_code == 400
    assert "server_error?sign_in.succeeded" in response.get_data(as_text=True)
    assert not any("\n" in r.getMessage() for r in caplog.records)


def test_an_id_token_for_another_nonce_is_refused(app, client):
    authorize = start(client)
    with db(app) as session:  # as if an attacker's ID token were injected into the flow
        session.execute(update(OAuthFlow).values(nonce="not-the-nonce-sent"))
        session.commit()
    response = client.get(at_provider(authorize))
    assert response.status_code == 400
    assert "answer could not be verified" in response.get_data(as_text=True)
    assert count(app, User) == 0


def test_a_code_exchanged_with_the_wrong_pkce_verifier_is_refused(app, client):
    authorize = start(client)
    with db(app) as session:
        session.execute(update(OAuthFlow).values(code_verifier="x" * 64))
        session.commit()
    assert client.get(at_provider(authorize)).status_code == 400
    assert count(app, User) == 0


def test_unknown_providers_and_bad_callbacks_are_4xx(client):
    assert post(client, "/__clerk/oauth/myspace/sign-in", {}).status_code == 404
    assert client.get("/__clerk/oauth/myspace/callback?state=x&code=y").status_code == 404
    assert client.get("/__clerk/oauth/custom_test/callback").status_code == 400
    assert client.get("/__clerk/oauth/custom_test/callback?state=" + "x" * 5000).status_code == 400
    response = client.post("/__clerk/oauth/custom_test/sign-in", data={})  # no CSRF token
    assert response.status_code == 400


# -- A second factor still applies ------------------------------------------------------------


def test_a_user_with_a_second_factor_is_asked_for_it_after_the_provider(app, client, frozen):
    oauth(client)
    user_id = me(client)
    secret, _ = enrol(client)
    sign_out(client)
    frozen.advance(30)
    response = oauth(client)
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    assert me(client) is None
    assert "Two-step verification" in client.get("/sign-in").get_data(as_text=True)
    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "totp", "code": pyotp.TOTP(secret).at(clock.now())})
    assert response.status_code == 303
    assert me(client) == user_id


# -- Connected accounts in the profile ---------------------------------------------------------


def test_a_signed_in_user_connects_and_removes_an_account(app, client):
    sign_up(client, app, email="someone@example.com")  # another address than the provider's
    user_id = me(client)
    html = client.get("/user").get_data(as_text=True)
    assert "Connected accounts" in html and "Connect Test IdP" in html
    authorize = post(client, "/__clerk/user/external-accounts", {"provider": "custom_test"},
                     page="/user").headers["Location"]
    response = client.get(at_provider(authorize))
    assert response.status_code == 303 and response.headers["Location"] == "/user"
    assert me(client) == user_id
    (account,) = user_json(app, user_id)["external_accounts"]
    assert account["email_address"] == "ada@example.com"
    html = client.get("/user").get_data(as_text=True)
    assert "ada@example.com" in html and "Connect Test IdP" not in html
    # It signs in from now on.
    sign_out(client)
    oauth(client)
    assert me(client) == user_id
    response = post(client, f"/__clerk/user/external-accounts/{account['id']}/remove", {},
                    page="/user")
    assert response.status_code == 303
    assert user_json(app, user_id)["external_accounts"] == []


def test_an_account_connected_to_someone_else_cannot_be_connected(app, client):
    oauth(client)  # ada-1 belongs to the user it created
    sign_out(client)
    sign_up(client, app, email="other@example.com")
    authorize = post(client, "/__clerk/user/external-accounts", {"provider": "custom_test"},
                     page="/user").headers["Location"]
    response = client.get(at_provider(authorize))
    assert response.status_code == 422
    assert "already connected to another user" in response.get_data(as_text=True)
    assert len(user_json(app, me(client))["external_accounts"]) == 0


def test_the_last_way_to_sign_in_cannot_be_removed(make_app, issuer):
    app = make_app(CLERK_OAUTH_PROVIDERS=providers(issuer), CLERK_SIGN_IN_STRATEGIES=("password",))
    client = app.test_client()
    oauth(client)  # no password: the provider is the only way in
    (account,) = user_json(app, me(client))["external_accounts"]
    response = post(client, f"/__clerk/user/external-accounts/{account['id']}/remove", {},
                    page="/user")
    assert response.status_code == 422
    assert "Test IdP is the only way you can sign in" in response.get_data(as_text=True)
    assert len(user_json(app, me(client))["external_accounts"]) == 1


def test_connecting_needs_a_recent_verification(app, client, frozen):
    sign_up(client, app, email="someone@example.com")
    frozen.advance(11 * 60)
    client.get("/whoami")  # a refreshed token: its first factor is 11 minutes old
    response = post(client, "/__clerk/user/external-accounts", {"provider": "custom_test"},
                    page="/user")
    assert response.status_code == 403
    assert response.get_json()["errors"][0]["code"] == "session_reverification_required"
    assert count(app, OAuthFlow) == 0


# -- Presets through a stand-in, and the provider protocols ------------------------------------


def test_a_preset_stood_in_for_by_the_test_provider(make_app, issuer):
    app = make_app(CLERK_OAUTH_PROVIDERS={"google": {
        "client_id": "clerk-google", "client_secret": SECRET,
        "discovery_url": f"{issuer}/.well-known/openid-configuration"}})
    client = app.test_client()
    assert 'class="cl-socialButtonsProviderIcon' in client.get("/sign-in").get_data(as_text=True)
    oauth(client, key="google")
    (account,) = user_json(app, me(client))["external_accounts"]
    assert account["provider"] == "oauth_google"


def test_github_reads_the_verified_primary_email_from_its_api(make_app, issuer):
    app = make_app(CLERK_OAUTH_PROVIDERS={"github": {
        "client_id": "clerk-github", "client_secret": SECRET, "scopes": "openid",
        "authorize_url": f"{issuer}/auth", "token_url": f"{issuer}/token",
        "userinfo_url": f"{issuer}/github/user", "emails_url": f"{issuer}/github/user/emails"}})
    client = app.test_client()
    response = oauth(client, key="github", choice="gh-1")
    assert response.status_code == 303, response.get_data(as_text=True)
    data = user_json(app, me(client))
    assert data["email_addresses"][0]["email_address"] == "mona@example.com"
    assert (data["first_name"], data["last_name"]) == ("Mona", "Octocat")
    (account,) = data["external_accounts"]
    assert (account["provider_user_id"], account["username"]) == ("583231", "octocat")


def test_apples_form_post_callback_continues_as_a_get(make_app, issuer):
    app = make_app(CLERK_OAUTH_PROVIDERS=providers(issuer, apple={
        "client_id": "clerk-apple", "client_secret": SECRET,
        "discovery_url": f"{issuer}/.well-known/openid-configuration"}))
    client = app.test_client()
    response = client.post("/__clerk/oauth/apple/callback", data={
        "code": "c", "state": "s", "iss": "i", "user": '{"name": {}}', "x": "y"})
    assert response.status_code == 303
    assert response.headers["Location"] == ("/__clerk/oauth/apple/callback?code=c&state=s&iss=i"
                                            "&user=%7B%22name%22%3A+%7B%7D%7D")
    # Only a provider that answers by form_post: for the others it is not a route.
    assert client.post("/__clerk/oauth/custom_test/callback", data={"code": "c"}).status_code == 404
    assert client.post("/__clerk/oauth/x%0D%0ASet-Cookie:a=b/callback").status_code == 404
    deep = "[" * 3000 + "]" * 3000
    response = client.get(f"/__clerk/oauth/apple/callback?state=s&code=c&user={deep}")
    assert response.status_code == 400


def test_apples_client_secret_is_a_jwt_signed_with_the_apps_key():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    (apple,) = providers_from_settings({"apple": {
        "client_id": "com.example.web", "team_id": "TEAM123456", "key_id": "KEY1234567",
        "private_key": pem}})
    secret = client_secret(apple)
    assert client_secret(apple) == secret  # reused while fresh
    assert jwt.get_unverified_header(secret)["kid"] == "KEY1234567"
    claims = jwt.decode(secret, key.public_key(), algorithms=["ES256"],
                        audience="https://appleid.apple.com")
    assert (claims["iss"], claims["sub"]) == ("TEAM123456", "com.example.web")
    assert 0 < claims["exp"] - claims["iat"] <= 180 * 24 * 3600
    with pytest.raises(Exception, match="private_key"):
        providers_from_settings({"apple": {"client_id": "x", "team_id": "t", "key_id": "k",
                                           "private_key": "not a key"}})


def test_what_providers_say_is_checked_and_trimmed():
    github, discord, custom = providers_from_settings({
        "github": {"client_id": "a", "client_secret": "b"},
        "discord": {"client_id": "a", "client_secret": "b"},
        "custom_x": {"issuer": "https://x.test", "client_id": "a", "client_secret": "b"}})
    unverified = identity_from_github(github, {"id": 1, "login": "a"}, [
        {"email": "a@example.com", "primary": True, "verified": False}], "")
    assert unverified.email == "a@example.com" and not unverified.email_verified
    assert identity_from_github(github, {"id": 1}, [], "").email is None
    d = identity_from_discord(discord, {"id": "80351110224678912", "username": "nelly",
                                        "email": "Nelly@Example.com", "verified": True,
                                        "avatar": "8342729096ea3675442027381ff50dfe"}, "")
    assert d.email == "nelly@example.com" and d.email_verified
    assert d.image_url.startswith("https://cdn.discordapp.com/avatars/80351110224678912/")
    c = identity_from_claims(custom, {"sub": "s", "email": "x@example.com",
                                      "email_verified": "true", "picture": "javascript:alert(1)",
                                      "name": "  Grace   Brewster Hopper "}, "")
    assert c.email_verified and c.image_url is None
    assert (c.first_name, c.last_name) == ("Grace", "Brewster Hopper")
    with pytest.raises(ValueError):
        identity_from_claims(custom, {"email": "x@example.com"}, "")


# -- The Backend API, through the official SDK ------------------------------------------------


def test_external_accounts_through_the_sdk(app, client):
    from clerk_backend_api import Clerk
    from clerk_backend_api.utils import BackoffStrategy, RetryConfig

    from conftest import serve

    oauth(client)
    user_id = me(client)
    no_retry = RetryConfig("backoff", BackoffStrategy(1, 1, 1, 1), False)
    with serve(app) as live, Clerk(bearer_auth=app.config["CLERK_SECRET_KEY"],
                                   server_url=f"{live}/v1", retry_config=no_retry) as sdk:
        fetched = sdk.users.get(user_id=user_id)  # the SDK's strict models parse it
        (account,) = fetched.external_accounts
        assert (account.provider, account.provider_user_id) == ("oauth_custom_test", "ada-1")
        assert account.email_address == "ada@example.com" and account.first_name == "Ada"
        assert account.verification.status == "verified"
        assert fetched.email_addresses[0].linked_to[0].id == account.identification_id
        deleted = sdk.users.delete_external_account(user_id=user_id,
                                                    external_account_id=account.id)
        assert deleted.deleted is True
        assert sdk.users.get(user_id=user_id).external_accounts == []


def test_a_user_who_signed_up_with_a_provider_can_set_a_password(app, client):
    from conftest import PASSWORD, sign_in

    oauth(client)
    html = client.get("/user?page=security").get_data(as_text=True)
    assert "Set password" in html and 'name="current_password"' not in html
    response = post(client, "/__clerk/user/password",
                    {"new_password": PASSWORD, "confirm_password": PASSWORD},
                    page="/user?page=security")
    assert response.status_code == 303, response.get_data(as_text=True)
    user_id = me(client)
    sign_out(client)
    sign_in(client)
    assert me(client) == user_id


def test_providers_can_come_from_the_environment_as_json(monkeypatch):
    from flask_clerk.errors import ClerkConfigError
    from flask_clerk.settings import _from_env

    monkeypatch.setenv("CLERK_OAUTH_PROVIDERS",
                       '{"github": {"client_id": "a", "client_secret": "b"}}')
    (github,) = providers_from_settings(_from_env("CLERK_OAUTH_PROVIDERS", {}))
    assert (github.key, github.client_id) == ("github", "a")
    monkeypatch.setenv("CLERK_OAUTH_PROVIDERS", "github=a")
    with pytest.raises(ClerkConfigError, match="JSON object"):
        _from_env("CLERK_OAUTH_PROVIDERS", {})
