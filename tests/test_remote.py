"""Remote mode (issue 10, first part): an app that trusts a separate issuer verifies
its session tokens with the issuer's keys (a PEM, networkless, or the Backend API's
JWKS over real HTTP), reads ``current_user`` from the Backend API, and sends people
to the issuer's sign-in page. A token shaped like Clerk cloud's verifies too, the
same as the official SDK verifies it."""

from __future__ import annotations

import base64
import html
import re
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import jwt
import pytest
from clerk_backend_api.security import authenticate_request
from clerk_backend_api.security.types import AuthenticateRequestOptions
from cryptography.hazmat.primitives import serialization
from flask import Flask, jsonify, render_template_string

from conftest import serve, sign_up
from flask_clerk import ClerkAuth, auth, current_user, login_required
from flask_clerk.errors import ClerkConfigError
from flask_clerk.remote import nonce_digest
from flask_clerk.tokens import generate_key_pair

CLOUD_HOST = "clean-otter-42.clerk.accounts.dev"


def publishable_key(host: str) -> str:
    return "pk_test_" + base64.b64encode(f"{host}$".encode()).decode().rstrip("=")


def remote_app(**config: Any) -> Flask:
    """An app of the company's, trusting the issuer: no identity store of its own."""
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="app's own", **config)
    ClerkAuth(app, mode="remote")

    @app.get("/whoami")
    def whoami() -> Any:
        a = auth()
        return jsonify(user_id=a.user_id, session_id=a.session_id, org_slug=a.org_slug,
                       admin=a.has(role="org:admin"))

    @app.get("/private")
    @login_required
    def private() -> Any:
        assert current_user is not None
        return jsonify(first_name=current_user.first_name)

    @app.get("/page")
    def page() -> str:
        return render_template_string("{{ clerk.sign_in() }}")

    @app.get("/csrf")
    def csrf() -> str:
        from flask_wtf.csrf import generate_csrf

        return generate_csrf()  # type: ignore[no-any-return]

    @app.get("/menu")
    def menu() -> str:
        return render_template_string(
            "{{ clerk.user_button() }}{{ clerk.organization_switcher() }}")

    return app


# -- a token shaped like Clerk cloud's, verified with CLERK_JWT_KEY --------------------


@pytest.fixture
def cloud() -> dict[str, Any]:
    pair = generate_key_pair()
    private = pair.private_key
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token(**overrides: Any) -> str:
        now = int(time.time())
        claims = {  # Clerk's v2 session token, organization claims included
            "azp": "http://localhost:3000", "exp": now + 60, "fva": [0, -1], "iat": now,
            "iss": f"https://{CLERK_HOST}", "jti": "6e0c5a3b1c0d6e5f4a3b", "nbf": now - 10,
            "o": {"fpm": "3", "id": "org_2x0ClerkOrg", "per": "read,manage", "rol": "admin",
                  "slg": "acme"},
            "sid": "sess_2x0ClerkSession", "sts": "active", "sub": "user_2x0ClerkUser", "v": 2,
            **overrides,
        }
        return jwt.encode(claims, private, algorithm="RS256",
                          headers={"kid": "ins_2x0ClerkInstance", "typ": "JWT"})

    return {"pem": pem, "token": token, "private": private}


CLERK_HOST = CLOUD_HOST


def cloud_app(cloud: dict[str, Any], **config: Any) -> Flask:
    return remote_app(CLERK_PUBLISHABLE_KEY=publishable_key(CLOUD_HOST),
                      CLERK_JWT_KEY=cloud["pem"], **config)


def test_a_clerk_cloud_token_verifies_with_the_pem_key(cloud):
    app = cloud_app(cloud)
    token = cloud["token"]()
    answer = app.test_client().get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert answer.get_json() == {"user_id": "user_2x0ClerkUser",
                                 "session_id": "sess_2x0ClerkSession", "org_slug": "acme",
                                 "admin": True}
    # The official SDK, given the same key, agrees.
    state = authenticate_request(
        httpx.Request("GET", "http://localhost:3000/", headers={
            "Authorization": f"Bearer {token}"}),
        AuthenticateRequestOptions(jwt_key=cloud["pem"],
                                   authorized_parties=["http://localhost:3000"]))
    assert state.is_signed_in and state.payload["sub"] == "user_2x0ClerkUser"


@pytest.mark.parametrize("overrides", [
    {"exp": int(time.time()) - 60},  # expired (beyond the 5 s leeway)
    {"iss": "https://someone-else.clerk.accounts.dev"},
    {"sub": 42},
])
def test_bad_clerk_cloud_tokens_sign_nobody_in(cloud, overrides):
    app = cloud_app(cloud)
    token = cloud["token"](**overrides)
    answer = app.test_client().get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.get_json()["user_id"] is None


def test_another_key_and_other_parties_are_refused(cloud):
    other = cloud_app({**cloud, "pem": cloud_key_pem()})
    token = cloud["token"]()
    headers = {"Authorization": f"Bearer {token}"}
    assert other.test_client().get("/whoami", headers=headers).get_json()["user_id"] is None
    strict = cloud_app(cloud, CLERK_AUTHORIZED_PARTIES=("https://app.example.com",))
    assert strict.test_client().get("/whoami", headers=headers).get_json()["user_id"] is None
    # A cookie works like the header; a protected API answers 401 without one.
    client = cloud_app(cloud).test_client()
    assert client.get("/private").status_code == 401


def cloud_key_pem() -> str:
    return generate_key_pair().private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# -- another flask_clerk instance: its JWKS and users over real HTTP --------------------


@pytest.fixture
def issuer(app, client):
    """The identity instance (the engine), served over HTTP, with Ada signed in."""
    sign_up(client, app)
    with serve(app) as url:
        yield {"app": app, "client": client, "url": url}


def issuer_app(issuer: dict[str, Any], **config: Any) -> Flask:
    return remote_app(**{"CLERK_PUBLISHABLE_KEY": issuer["app"].config["CLERK_PUBLISHABLE_KEY"],
                         "CLERK_SECRET_KEY": issuer["app"].config["CLERK_SECRET_KEY"],
                         "CLERK_API_URL": issuer["url"], **config})


def test_an_issuers_session_verifies_through_its_jwks(issuer):
    app = issuer_app(issuer)
    token = issuer["client"].get_cookie("__session").value
    client = app.test_client()
    client.set_cookie("__session", token)
    whoami = client.get("/whoami").get_json()
    assert whoami["user_id"] == issuer["client"].get("/whoami").get_json()["user_id"]
    # current_user from the issuer's Backend API.
    assert client.get("/private").get_json() == {"first_name": "Ada"}


def test_a_protected_page_sends_to_the_issuers_sign_in_and_back(issuer):
    app = issuer_app(issuer)
    answer = app.test_client().get("/private", headers={"Accept": "text/html"})
    assert answer.status_code == 302
    # The issuer's sign-in, then its handshake, which brings the session back here.
    location = urlsplit(answer.location)
    assert location.netloc == "localhost" and location.path == "/sign-in"
    back = urlsplit(parse_qs(location.query)["redirect_url"][0])
    assert back.path == "/__clerk/v1/client/handshake"
    query = parse_qs(back.query)
    assert query["redirect_url"] == ["http://localhost/private"]
    # The browser's nonce, in a cookie of the app's, for the answer to match; the
    # issuer (and the page) see only its digest.
    cookie = next(c for c in answer.headers.getlist("Set-Cookie")
                  if c.startswith("__clerk_handshake_state="))
    nonce = cookie.split(";", 1)[0].split("=", 1)[1]
    assert query["nonce"] == [nonce_digest(nonce)] and nonce not in answer.location
    assert "HttpOnly" in cookie
    page = app.test_client().get("/page")
    href = re.search(r'href="([^"]+)"', page.get_data(as_text=True)).group(1)
    link = urlsplit(html.unescape(href))
    assert (link.netloc, link.path) == ("localhost", "/sign-in")
    back = parse_qs(urlsplit(parse_qs(link.query)["redirect_url"][0]).query)
    assert back["redirect_url"] == ["http://localhost/page"]
    held = page.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    assert back["nonce"] == [nonce_digest(held)] and held not in page.get_data(as_text=True)


def test_an_unreachable_issuer_signs_nobody_in_and_answers(issuer):
    app = issuer_app(issuer, CLERK_API_URL="http://127.0.0.1:9")
    client = app.test_client()
    client.set_cookie("__session", issuer["client"].get_cookie("__session").value)
    answer = client.get("/whoami")
    assert answer.status_code == 200 and answer.get_json()["user_id"] is None


@pytest.mark.parametrize(("config", "message"), [
    ({"CLERK_DATABASE_URL": "sqlite://"}, "belong to the identity instance"),
    ({"CLERK_SECRET_KEY": None, "CLERK_JWT_KEY": None}, "verifies sessions with the issuer"),
    ({"CLERK_JWT_KEY": "not a key"}, "not a PEM public key"),
    ({"CLERK_PUBLISHABLE_KEY": "nope"}, "CLERK_PUBLISHABLE_KEY"),
])
def test_remote_misconfigurations_are_refused_at_start(config, message):
    base = {"CLERK_PUBLISHABLE_KEY": publishable_key(CLOUD_HOST), "CLERK_SECRET_KEY": "sk_x"}
    with pytest.raises(ClerkConfigError, match=message):
        remote_app(**{**base, **config})


# -- the handshake: the issuer's session, brought to an app on another site -------------

APP = "http://app.example.test"


@pytest.fixture
def engine(make_app):
    """An issuer whose apps include APP; Ada signed in on its own client."""
    app = make_app(CLERK_ALLOWED_REDIRECT_ORIGINS=(APP,))
    browser = app.test_client()
    sign_up(browser, app)
    with serve(app) as url:
        yield {"app": app, "browser": browser, "url": url}


NONCE = "n0nce-of-this-browser-1234"  # the app's cookie…
SENT = nonce_digest(NONCE)  # …and what it sends the issuer, to sign into its answer


def handshake(engine, page="/whoami", app_browser=None):
    """The browser at the issuer's handshake, for APP's ``page``: where it is sent.
    (The app gave ``app_browser`` its nonce, as its redirect there would have.)"""
    if app_browser is not None:
        app_browser.set_cookie("__clerk_handshake_state", NONCE, domain="app.example.test")
    answer = engine["browser"].get("/__clerk/v1/client/handshake?redirect_url="
                                   + quote(APP + page, safe="") + f"&nonce={SENT}")
    assert answer.status_code == 307, answer.get_data(as_text=True)
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    return answer.location


def test_the_handshake_brings_the_issuers_session_to_the_app(engine):
    app = issuer_app(engine)
    browser = app.test_client()
    location = handshake(engine, app_browser=browser)
    assert location.startswith(APP + "/whoami?__clerk_handshake=")
    answer = browser.get(location)
    assert answer.status_code == 307 and answer.location == APP + "/whoami"  # the URL cleaned
    cookies = {c.split("=", 1)[0] for c in answer.headers.getlist("Set-Cookie")}
    assert {"__session", "__client_uat"} <= cookies
    whoami = browser.get("/whoami", base_url=APP).get_json()
    assert whoami["user_id"] == engine["browser"].get("/whoami").get_json()["user_id"]


def test_an_answer_lured_into_another_browser_signs_nobody_in(engine):
    """Login CSRF: Ada's handshake answer, opened by another browser (a link from her),
    would sign that browser in as Ada; without that browser's nonce it does not."""
    app = issuer_app(engine)
    location = handshake(engine, app_browser=app.test_client())
    victim = app.test_client()
    victim.set_cookie("__clerk_handshake_state", "the-victims-own-nonce-5678",
                      domain="app.example.test")
    victim.get(location)
    assert victim.get("/whoami", base_url=APP).get_json()["user_id"] is None
    no_nonce = app.test_client()
    no_nonce.get(location)
    assert no_nonce.get("/whoami", base_url=APP).get_json()["user_id"] is None
    # The issuer asks for one at all.
    answer = engine["browser"].get("/__clerk/v1/client/handshake?redirect_url="
                                   + quote(APP + "/", safe=""))
    assert answer.status_code == 400


def test_a_handshake_for_another_origin_or_signed_by_another_key_signs_nobody_in(
        engine, cloud):
    elsewhere = issuer_app(engine).test_client()
    location = handshake(engine, app_browser=elsewhere)
    elsewhere.set_cookie("__clerk_handshake_state", NONCE, domain="other.example.test")
    elsewhere.get(location.replace(APP, "http://other.example.test"))
    assert elsewhere.get("/whoami", base_url="http://other.example.test").get_json()[
        "user_id"] is None
    from flask_clerk.tokens import mint_handshake_token

    forged = mint_handshake_token(
        key=generate_key_pair(), issuer=engine["app"].extensions["clerk"].settings.issuer,
        audience=APP, directives=["__session=forged; Path=/; Max-Age=60"], nonce=SENT)
    browser = issuer_app(engine).test_client()
    browser.set_cookie("__clerk_handshake_state", NONCE, domain="app.example.test")
    answer = browser.get(f"{APP}/whoami?__clerk_handshake={forged}")
    assert answer.status_code == 307
    assert browser.get("/whoami", base_url=APP).get_json()["user_id"] is None


def test_the_issuer_refuses_to_hand_a_session_to_an_origin_it_does_not_serve(engine):
    answer = engine["browser"].get("/__clerk/v1/client/handshake?redirect_url="
                                   + quote("https://evil.example/", safe=""))
    assert answer.status_code == 400 and "__clerk_handshake" not in (answer.location or "")


def test_a_stale_token_asks_the_issuer_and_a_revoked_session_signs_the_app_out(engine):
    app = issuer_app(engine)
    browser = app.test_client()
    browser.get(handshake(engine, app_browser=browser))
    # Signed in at the issuer but no valid token here: a page asks the issuer…
    browser.delete_cookie("__session", domain="app.example.test")
    answer = browser.get("/whoami", base_url=APP, headers={"Accept": "text/html"})
    assert answer.status_code == 307
    assert answer.location.startswith(engine["app"].extensions["clerk"].settings.issuer
                                       + "/v1/client/handshake?redirect_url=")
    # …an API call does not (no redirect for fetches).
    assert browser.get("/private", base_url=APP).status_code == 401
    # Revoked at the issuer: its handshake now says "signed out", and the app forgets.
    session_id = engine["browser"].get("/whoami").get_json()["session_id"]
    instance = engine["app"].extensions["clerk"].instance
    with instance.store.session() as db:
        from flask_clerk.core import sessions
        from flask_clerk.core.models import Session

        sessions.end_session(instance, db.get(Session, session_id), "revoked")
        db.commit()
    browser.get(handshake(engine, app_browser=browser))
    assert browser.get_cookie("__client_uat", domain="app.example.test").value == "0"
    answer = browser.get("/whoami", base_url=APP, headers={"Accept": "text/html"})
    assert answer.status_code == 200 and answer.get_json()["user_id"] is None


def test_handshakes_stop_after_three_in_a_row(engine):
    browser = issuer_app(engine).test_client()
    browser.set_cookie("__client_uat", "1700000000", domain="app.example.test")
    statuses = []
    for _ in range(4):
        statuses.append(browser.get("/whoami", base_url=APP,
                                    headers={"Accept": "text/html"}).status_code)
    assert statuses == [307, 307, 307, 200]  # then signed out, not a loop


# -- found by the review -------------------------------------------------------------------


def test_a_query_that_mentions_the_handshake_does_not_skip_protection(cloud):
    app = cloud_app(cloud, CLERK_PROTECTED_ROUTES=("/whoami",))
    client = app.test_client()
    for query in ("", "?x=__clerk_handshake", "?__clerk_handshake_x=1"):
        assert client.get("/whoami" + query).status_code == 401, query


def test_a_refused_answer_does_not_restart_the_count_and_odd_input_is_no_500(engine):
    browser = issuer_app(engine).test_client()
    browser.set_cookie("__client_uat", "1700000000", domain="app.example.test")
    browser.set_cookie("__clerk_redirect_count", "2", domain="app.example.test")
    answer = browser.get(f"{APP}/whoami?__clerk_handshake=garbage")
    assert answer.status_code == 307
    assert browser.get_cookie("__clerk_redirect_count", domain="app.example.test").value == "2"
    for count in ("\u00b2", "-1", "9" * 40):
        browser.set_cookie("__clerk_redirect_count", count, domain="app.example.test")
        assert browser.get("/whoami", base_url=APP, headers={
            "Accept": "text/html"}).status_code in {200, 307}
    browser.set_cookie("__clerk_handshake_state", "\u00e9" * 20, domain="app.example.test")
    location = handshake(engine)  # (the nonce the issuer signed is another)
    assert browser.get(location).status_code == 307
    refused = engine["browser"].get("/__clerk/v1/client/handshake?redirect_url="
                                    + quote(APP + "/", safe="") + "&nonce=" + "%C3%A9" * 20)
    assert refused.status_code == 400


def test_the_answer_never_lands_in_a_fragment(engine):
    answer = engine["browser"].get("/__clerk/v1/client/handshake?redirect_url="
                                   + quote(APP + "/page?a=1#secret", safe="")
                                   + f"&nonce={NONCE}")
    location = urlsplit(answer.location)
    assert location.fragment == "" and location.path == "/page"
    assert set(parse_qs(location.query)) == {"a", "__clerk_handshake"}


def test_only_clerks_own_frontend_api_sends_the_secret_key_to_api_clerk_com():
    from flask_clerk.remote import RemoteSettings

    def api_url(host: str) -> str:
        return RemoteSettings.from_config({"CLERK_PUBLISHABLE_KEY": publishable_key(host),
                                           "CLERK_SECRET_KEY": "sk_x"}, debug=True).api_url

    assert api_url("clerk.example.com") == "https://api.clerk.com"
    assert api_url(CLOUD_HOST) == "https://api.clerk.com"
    assert api_url("clerk.example.com/__clerk") == "https://clerk.example.com"


def test_a_second_session_cookie_is_tried_when_the_first_does_not_verify(cloud):
    client = cloud_app(cloud).test_client(use_cookies=False)
    answer = client.get("/whoami", headers={
        "Cookie": f"__session=stale.from.elsewhere; __session={cloud['token']()}"})
    assert answer.get_json()["user_id"] == "user_2x0ClerkUser"


def test_keys_outlive_an_issuer_outage_and_an_outage_is_not_asked_every_request():
    from flask_clerk.remote import IssuerUnavailable
    from flask_clerk.tokens import TokenVerifier

    pair = generate_key_pair()
    calls = []

    def load():
        calls.append(1)
        if len(calls) > 1:
            raise IssuerUnavailable("down")
        return [pair.public_jwk, {"kty": "EC", "kid": "ec"}, {"kty": "RSA"}, "junk"]

    verifier = TokenVerifier(load, issuer="https://issuer.example")
    token = jwt.encode({"sub": "u", "sid": "s", "iat": int(time.time()),
                        "nbf": int(time.time()), "exp": int(time.time()) + 60,
                        "iss": "https://issuer.example"}, pair.private_key, algorithm="RS256",
                       headers={"kid": pair.kid})
    assert verifier.verify(token)["sub"] == "u"  # the odd keys skipped, not a 500
    verifier._keys_loaded_at -= 120  # a minute later the issuer is down…
    fresh = jwt.encode({"sub": "u", "sid": "s2", "iat": int(time.time()),
                        "nbf": int(time.time()), "exp": int(time.time()) + 60,
                        "iss": "https://issuer.example"}, pair.private_key, algorithm="RS256",
                       headers={"kid": pair.kid})
    assert verifier.verify(fresh)["sid"] == "s2"  # …and the keys held still verify
    other = generate_key_pair()
    for _ in range(3):  # an unknown kid does not ask the dead issuer again at once
        with pytest.raises(Exception):
            verifier.verify(jwt.encode({"sub": "u"}, other.private_key, algorithm="RS256",
                                       headers={"kid": other.kid}))
    assert len(calls) == 2


# -- Clerk's production form of the answer: a nonce, redeemed through the Backend API ----


def test_the_app_asks_for_the_nonce_form_and_its_url_holds_no_token(engine):
    app = issuer_app(engine)
    browser = app.test_client()
    browser.set_cookie("__client_uat", "1700000000", domain="app.example.test")
    asked = urlsplit(browser.get("/whoami", base_url=APP,
                                 headers={"Accept": "text/html"}).location)
    query = parse_qs(asked.query)
    assert query["format"] == ["nonce"]
    answer = engine["browser"].get(f"{asked.path.removeprefix('/__clerk')}?{asked.query}"
                                   .replace("/v1/", "/__clerk/v1/", 1))
    location = urlsplit(answer.location)
    carried = parse_qs(location.query)
    assert set(carried) == {"__clerk_handshake_nonce"}
    assert not re.search(r"eyJ[\w-]*\.", answer.location)  # no JWT (a session's) in the URL
    applied = browser.get(answer.location)
    assert applied.status_code == 307 and applied.location == APP + "/whoami"
    whoami = browser.get("/whoami", base_url=APP).get_json()
    assert whoami["user_id"] == engine["browser"].get("/whoami").get_json()["user_id"]


def nonce_answer(engine: dict[str, Any]) -> str:
    answer = engine["browser"].get("/__clerk/v1/client/handshake?format=nonce&redirect_url="
                                   + quote(APP + "/whoami", safe="") + f"&nonce={SENT}")
    return parse_qs(urlsplit(answer.location).query)["__clerk_handshake_nonce"][0]


def test_a_nonce_is_bound_to_the_browser_and_the_issuer_and_expires(engine, monkeypatch):
    app = issuer_app(engine)
    sealed = nonce_answer(engine)
    for cookie in (None, "the-victims-own-nonce-5678"):  # lured into another browser
        victim = app.test_client()
        if cookie:
            victim.set_cookie("__clerk_handshake_state", cookie, domain="app.example.test")
        victim.get(f"{APP}/whoami?__clerk_handshake_nonce={quote(sealed)}")
        assert victim.get("/whoami", base_url=APP).get_json()["user_id"] is None
    browser = app.test_client()
    browser.set_cookie("__clerk_handshake_state", NONCE, domain="app.example.test")
    for forged in (sealed[:-4] + "AAAA", "x", "\u00e9" * 10):  # not sealed by the issuer
        browser.set_cookie("__clerk_handshake_state", NONCE, domain="app.example.test")
        browser.get(f"{APP}/whoami?__clerk_handshake_nonce={quote(forged)}")
        assert browser.get("/whoami", base_url=APP).get_json()["user_id"] is None
    # Only the secret key redeems it, and only for a minute.
    api = engine["app"].test_client()
    path = f"/v1/clients/handshake_payload?nonce={quote(sealed)}"
    assert api.get(path).status_code == 401
    headers = {"Authorization": f"Bearer {engine['app'].config['CLERK_SECRET_KEY']}"}
    payload = api.get(path, headers=headers).get_json()
    assert payload["directives"][0].startswith("__session=ey") and payload["token"]
    import cryptography.fernet

    later = time.time() + 120
    monkeypatch.setattr(cryptography.fernet.time, "time", lambda: later)
    assert api.get(path, headers=headers).status_code == 422
    monkeypatch.undo()
    assert len(sealed) < 500  # (which session, for whom: not the token itself)
    browser.set_cookie("__clerk_handshake_state", NONCE, domain="app.example.test")
    browser.get(f"{APP}/whoami?__clerk_handshake_nonce={quote(sealed)}")
    assert browser.get("/whoami", base_url=APP).get_json()["user_id"] is not None


@pytest.fixture
def clerk_cloud(cloud):
    """Clerk's cloud, where nobody can reach it from here: its Backend API's
    ``handshake_payload``, answering as Clerk's documents it (directives only)."""
    api = Flask("clerk-cloud")
    issued = {"nonce": "nonce_2x0ClerkHandshake", "token": cloud["token"]()}

    @api.get("/v1/clients/handshake_payload")
    def payload() -> Any:
        from flask import request

        if request.headers.get("Authorization") != "Bearer sk_test_cloud":
            return jsonify(errors=[{"code": "authentication_invalid"}]), 401
        if request.args.get("nonce") != issued["nonce"]:
            return jsonify(errors=[{"code": "resource_not_found"}]), 404
        return jsonify(directives=[f"__session={issued['token']}; Path=/; Max-Age=60",
                                   f"__client_uat={int(time.time())}; Path=/; Max-Age=31536000"])

    with serve(api) as url:
        yield {**issued, "app": cloud_app(cloud, CLERK_SECRET_KEY="sk_test_cloud",
                                          CLERK_API_URL=url,
                                          CLERK_AUTHORIZED_PARTIES=("http://localhost:3000",))}


def test_clerk_clouds_answer_set_as_a_cookie_on_the_site_is_taken(clerk_cloud):
    browser = clerk_cloud["app"].test_client()
    browser.set_cookie("__clerk_handshake_nonce", clerk_cloud["nonce"])
    answer = browser.get("/whoami?a=1")
    assert answer.status_code == 307 and answer.location == "http://localhost/whoami?a=1"
    assert browser.get_cookie("__clerk_handshake_nonce") is None  # used once
    assert browser.get("/whoami").get_json()["user_id"] == "user_2x0ClerkUser"


def test_clerk_clouds_unbound_answers_in_the_url_are_refused(clerk_cloud, cloud):
    """A development instance's answer in the URL is not tied to this browser: a
    link could sign a visitor in as whoever made it."""
    for query in (f"__clerk_handshake_nonce={clerk_cloud['nonce']}",
                  "__clerk_handshake=" + jwt.encode(
                      {"handshake": [f"__session={clerk_cloud['token']}; Path=/"]},
                      cloud["private"], algorithm="RS256")):
        browser = clerk_cloud["app"].test_client()
        assert browser.get("/whoami?" + query).status_code == 307
        assert browser.get("/whoami").get_json()["user_id"] is None, query


def test_clerk_clouds_pages_are_its_account_portal():
    from flask_clerk.remote import RemoteSettings

    def pages(host: str, **config: str) -> tuple[str, str]:
        settings = RemoteSettings.from_config({
            "CLERK_PUBLISHABLE_KEY": publishable_key(host), "CLERK_SECRET_KEY": "sk_x",
            **config}, debug=True)
        return settings.sign_in_url, settings.user_profile_url

    assert pages(CLOUD_HOST) == ("https://clean-otter-42.accounts.dev/sign-in",
                                 "https://clean-otter-42.accounts.dev/user")
    assert pages("clerk.example.com") == ("https://accounts.example.com/sign-in",
                                          "https://accounts.example.com/user")
    assert pages("clerk.example.com", CLERK_SIGN_IN_URL="https://example.com/login")[0] == (
        "https://example.com/login")
    # A flask_clerk issuer serves its own pages.
    assert pages("auth.example.com/__clerk")[0] == "https://auth.example.com/sign-in"


def test_with_clerks_cloud_the_switcher_says_where_to_switch(clerk_cloud):
    browser = clerk_cloud["app"].test_client()
    browser.set_cookie("__session", clerk_cloud["token"])
    csrf = browser.get("/csrf").get_data(as_text=True)
    answer = browser.post("/__clerk/organizations/active",
                          data={"csrf_token": csrf, "organization_id": "org_2"})
    assert answer.status_code == 422
    assert "sign-in service" in answer.get_data(as_text=True)
    assert browser.get("/whoami").get_json()["org_slug"] == "acme"  # unchanged
