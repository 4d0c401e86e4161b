"""CSRF, redirects, rate limits, lockout and bad input (SECURITY.md 3, 4, 22, 23)."""

from __future__ import annotations

import re

import pytest

from conftest import PASSWORD, REDIS_URL, csrf_token, post, service_missing, sign_in, sign_out
from flask_clerk.core import clock
from flask_clerk.core.models import SignIn, SignUp, User
from flask_clerk.redirects import safe_redirect_url


def _engine_rules(app):
    return [r for r in app.url_map.iter_rules()
            if r.endpoint.startswith(("clerk.", "clerk_public."))]


def test_every_state_changing_route_refuses_missing_or_bad_csrf(app, client, user):
    # The OAuth callback takes Apple's cross-site form_post, which cannot carry a
    # CSRF token: it changes nothing, only turns into a GET (test_oauth), which is
    # bound to the browser by the flow's cookie like the mailed link below.
    posts = [r for r in _engine_rules(app) if "POST" in r.methods
             and r.endpoint != "clerk.oauth_callback"]
    assert len(posts) >= 15
    before = client.get("/whoami").get_json()
    for rule in posts:
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for token in (None, "forged-token"):
            data = {"return_to": "/", "identifier": "a@example.com", "password": PASSWORD}
            if token:
                data["csrf_token"] = token
            response = client.post(path, data=data)
            assert response.status_code == 400, (rule.rule, response.status_code)
    assert client.get("/whoami").get_json() == before, "no state changed, still signed in"
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.query(SignIn).count() == 0 and db.query(SignUp).count() == 0


def test_no_get_route_changes_state(app):
    gets = {r.endpoint for r in _engine_rules(app) if "GET" in r.methods}
    # Exceptions, by design: the mailed sign-in link and the OAuth callback are
    # GETs. They change state only with the flow cookie of the browser that started
    # the flow (see test_passwordless and test_oauth), so no other page, mail
    # scanner or site can use them. An actor token's url (Clerk's ticket) is a GET
    # too: a single-use secret only the Backend API's key holder can make. Clerk's
    # handshake (remote mode's apps) is a GET by design: it refreshes the browser's
    # own session as any page load does, and changes nothing else.
    assert gets == {"clerk.static", "clerk_public.jwks_endpoint", "clerk_public.dev_mailbox",
                    "clerk_public.account_page", "clerk.sign_in_email_link",
                    "clerk.oauth_callback", "clerk.accept_ticket", "clerk.client_handshake"}


def test_csrf_error_is_shown_in_place(client):
    response = client.post("/__clerk/sign-in", data={"return_to": "/sign-in",
                                                     "identifier": "a@example.com"})
    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)


@pytest.mark.parametrize("evil", [
    "//evil.com", "/\\evil.com", "\\\\evil.com", "https:evil.com", "javascript:alert(1)",
    "%2F%2Fevil.com", "/%2F%2Fevil.com", "/%5Cevil.com", "/%252F%252Fevil.com",
    "/\t/evil.com", "/\n/evil.com", "\t//evil.com", "https://evil.com/", "http://evil.com",
    "evil.com", "data:text/html,hi", "JAVASCRIPT:alert(1)", "/" + "a" * 3000,
    "http://[", "https://[::1", "//[",
])
def test_redirect_url_refuses_other_origins(evil):
    assert safe_redirect_url(evil, fallback="/home") == "/home"


@pytest.mark.parametrize("good", ["/", "/dashboard", "/a/b?c=d&e=%20#frag", "/x/../y"])
def test_redirect_url_keeps_own_paths(good):
    assert safe_redirect_url(good, fallback="/home") == good


def test_redirect_url_allowlisted_origin():
    allowed = ("https://app.example.com",)
    assert safe_redirect_url("https://app.example.com/x", fallback="/",
                             allowed_origins=allowed) == "https://app.example.com/x"
    assert safe_redirect_url("https://app.example.com.evil.com/x", fallback="/",
                             allowed_origins=allowed) == "/"


def test_protected_page_redirects_with_a_safe_redirect_url(make_app):
    app = make_app(CLERK_PROTECTED_ROUTES=("/private(.*)",))
    response = app.test_client().get("/private?tab=1", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?redirect_url=%2Fprivate%3Ftab%3D1"


def _rate_limited_app(make_app, **extra):
    return make_app(CLERK_RATE_LIMITS={"sign_in": "3/minute"}, **extra)


def _hit_sign_in_limit(app):
    client = app.test_client()
    token = csrf_token(client)
    statuses = []
    for _ in range(4):
        response = client.post("/__clerk/sign-in", data={
            "csrf_token": token, "return_to": "/sign-in", "identifier": "a@example.com"})
        statuses.append(response.status_code)
    return statuses, response


def test_sign_in_is_rate_limited_with_retry_after(make_app):
    statuses, response = _hit_sign_in_limit(_rate_limited_app(make_app))
    assert statuses == [303, 303, 303, 429]
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Too many requests" in response.get_data(as_text=True)


def test_rate_limits_can_live_in_redis(make_app):
    if not REDIS_URL:
        service_missing("CLERK_TEST_REDIS_URL is not set")
    import redis
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
    except redis.RedisError as exc:
        service_missing(f"Redis at {REDIS_URL} unreachable: {exc}")
    app = _rate_limited_app(make_app, CLERK_REDIS_URL=REDIS_URL)
    statuses, _ = _hit_sign_in_limit(app)
    assert statuses == [303, 303, 303, 429]
    # A second process (another app on the same Redis) sees the same counter.
    other = _rate_limited_app(make_app, CLERK_REDIS_URL=REDIS_URL)
    statuses, _ = _hit_sign_in_limit(other)
    assert statuses == [429, 429, 429, 429]
    redis.Redis.from_url(REDIS_URL).flushdb()


def test_lockout_after_ten_failures_for_an_hour(app, client, user, frozen):
    sign_out(client)
    for _ in range(10):
        assert sign_in(client, password="wrong password here").status_code == 422
    response = sign_in(client)  # the right password, too late
    assert response.status_code == 403
    assert "Your account is locked" in response.get_data(as_text=True)
    frozen.advance(61 * 60)
    assert sign_in(client).status_code == 303


def test_a_locked_account_still_waits_for_one_hash(app, client, user, hash_calls):
    """Refused whatever the password, a locked account still answers only once the
    hash is done: no faster than any other attempt."""
    sign_out(client)
    for _ in range(10):
        sign_in(client, password="wrong password here")
    hash_calls.clear()
    assert sign_in(client).status_code == 403
    assert len(hash_calls) == 1


def test_success_resets_the_failure_counter(app, client, user):
    sign_out(client)
    for _ in range(9):
        sign_in(client, password="wrong password here")
    assert sign_in(client).status_code == 303
    sign_out(client)
    for _ in range(9):
        sign_in(client, password="wrong password here")
    assert sign_in(client).status_code == 303


def test_password_reset_lifts_the_lockout(app, client, user):
    from conftest import last_code
    sign_out(client)
    for _ in range(10):
        sign_in(client, password="wrong password here")
    post(client, "/__clerk/sign-in", {"identifier": user["email"]})
    post(client, "/__clerk/sign-in/forgot-password", {})
    post(client, "/__clerk/sign-in/reset-code", {"code": last_code(app, user["email"])})
    response = post(client, "/__clerk/sign-in/new-password", {
        "password": "a fresh start for ada", "confirm_password": "a fresh start for ada"})
    assert response.status_code == 303
    sign_out(client)
    assert sign_in(client, password="a fresh start for ada").status_code == 303


def test_wrong_reset_codes_count_toward_the_lockout(app, client, user):
    sign_out(client)
    with app.extensions["clerk"].instance.store.session() as db:
        before = db.query(User).one().failed_attempts
    post(client, "/__clerk/sign-in", {"identifier": user["email"]})
    post(client, "/__clerk/sign-in/forgot-password", {})
    post(client, "/__clerk/sign-in/reset-code", {"code": "000001"})
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.query(User).one().failed_attempts == before + 1


@pytest.mark.parametrize("field, value, message", [
    ("password", "x" * 1_000_000, "at most 256 characters"),
    ("password", "short", "8 or more characters"),
    ("email_address", "a" * 1_000_000 + "@example.com", "valid email address"),
    ("email_address", "not-an-email", "valid email address"),
    ("email_address", "", "Enter a value."),
    ("first_name", "n" * 5000, "too long"),
])
def test_bad_sign_up_input_is_refused_in_place(app, client, field, value, message):
    data = {"email_address": "new@example.com", "password": PASSWORD, "first_name": "Ok"}
    data[field] = value
    response = post(client, "/__clerk/sign-up", data, page="/sign-up")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body
    assert 'aria-invalid="true"' in body, "the message sits next to the field"
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.query(SignUp).count() == 0 and db.query(User).count() == 0


def test_huge_password_at_sign_in_is_refused_without_hashing(app, client, user, monkeypatch):
    sign_out(client)
    post(client, "/__clerk/sign-in", {"identifier": user["email"]})
    hasher = app.extensions["clerk"].instance.hasher
    monkeypatch.setattr(hasher, "verify", lambda *a: pytest.fail("hashed a huge password"))
    response = post(client, "/__clerk/sign-in/password", {"password": "p" * 1_000_000})
    assert response.status_code == 422


def test_flow_steps_out_of_order_are_refused(app, client):
    response = post(client, "/__clerk/sign-in/password", {"password": PASSWORD})
    assert response.status_code == 400
    assert "This sign-in has expired" in response.get_data(as_text=True)
    response = post(client, "/__clerk/sign-in/new-password",
                    {"password": PASSWORD, "confirm_password": PASSWORD})
    assert response.status_code == 400


def test_dev_mailbox_is_only_for_development_and_loopback(app, make_app):
    client = app.test_client()
    assert client.get("/__clerk/dev/mail").status_code == 200
    remote = client.get("/__clerk/dev/mail", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 404
    rebound = client.get("/__clerk/dev/mail", headers={"Host": "attacker.example"})
    assert rebound.status_code == 404, "DNS rebinding: a foreign Host name"
    proxied = client.get("/__clerk/dev/mail", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 404, "a proxy in front: not this machine's browser"
    served = make_app(TESTING=False)  # development keys, but not debugging
    assert served.extensions["clerk"].instance.dev_mailbox is None
    quiet = make_app(CLERK_DEV_MAILBOX=False)
    assert quiet.test_client().get("/__clerk/dev/mail").status_code == 404


def test_security_events_are_logged_without_secrets(app, client, caplog):
    import logging

    from conftest import last_code, sign_up
    caplog.set_level(logging.INFO, logger="flask_clerk.security")
    sign_up(client, app)
    code = last_code(app, "ada@example.com")
    sign_out(client)
    sign_in(client, password="a wrong password guess")
    sign_in(client)
    events = [r.clerk_event for r in caplog.records]
    assert events == ["user.created", "sign_in.failed", "sign_in.succeeded"]
    text = caplog.text + str(client.get_cookie("__session").value)
    session_token = client.get_cookie("__session").value
    for secret in (PASSWORD, "a wrong password guess", code, session_token,
                   client.get_cookie("__client").value, app.config["CLERK_SECRET_KEY"]):
        assert secret not in caplog.text
    assert "user_" in text


def test_parallel_wrong_passwords_still_lock_the_account(app, client, user):
    """Guesses racing each other each get their own count (an atomic UPDATE)."""
    from concurrent.futures import ThreadPoolExecutor
    sign_out(client)
    browsers = []
    for _ in range(16):
        browser = app.test_client()
        post(browser, "/__clerk/sign-in", {"identifier": user["email"]})
        token = csrf_token(browser)
        browsers.append((browser, token))

    def guess(pair):
        browser, token = pair
        return browser.post("/__clerk/sign-in/password", data={
            "csrf_token": token, "return_to": "/sign-in", "password": "wrong password here"
        }).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(guess, browsers))
    assert statuses.count(422) <= 10, statuses
    assert set(statuses) <= {422, 403}
    with app.extensions["clerk"].instance.store.session() as db:
        row = db.query(User).one()
        assert row.failed_attempts >= 10 and row.locked_until is not None
    assert sign_in(client).status_code == 403


def test_unknown_identifiers_lock_like_real_accounts(app, client, user):
    sign_out(client)
    real = [sign_in(app.test_client(), password="wrong password here").status_code
            for _ in range(11)]
    ghost = [sign_in(app.test_client(), email="ghost@example.com",
                     password="wrong password here").status_code for _ in range(11)]
    assert real == ghost == [422] * 10 + [403]


def test_code_guesses_are_limited_per_address_across_flows(make_app):
    app = make_app(CLERK_RATE_LIMITS={"address_guesses": "8/hour"})
    statuses = []
    for _ in range(3):  # fresh flows do not bring fresh guesses for the same address
        browser = app.test_client()
        post(browser, "/__clerk/sign-up", {"email_address": "target@example.com",
                                           "password": PASSWORD}, page="/sign-up")
        for _ in range(3):
            statuses.append(post(browser, "/__clerk/sign-up/verify", {"code": "999999"},
                                 page="/sign-up").status_code)
    assert statuses[:8] == [422] * 8 and statuses[8] == 429


def test_rotated_keys_reach_other_processes_and_retire(make_app, frozen, monkeypatch):
    """`flask clerk keys rotate` runs in another process: this one follows within a
    minute, and the retired key stops verifying once its tokens have expired."""
    import jwt as pyjwt

    from conftest import sign_up
    from flask_clerk import tokens
    from flask_clerk.core import instance as instance_module
    from flask_clerk.core.keys import rotate_signing_key
    app = make_app()
    client = app.test_client()
    sign_up(client, app)
    instance = app.extensions["clerk"].instance
    old_key = instance.signing_key()
    other = make_app(CLERK_DATABASE_URL=app.config["CLERK_DATABASE_URL"])
    with other.extensions["clerk"].instance.store.session() as db:
        new_key = rotate_signing_key(db)
    monkeypatch.setattr(tokens, "KEY_RELOAD_INTERVAL", -1.0)
    monkeypatch.setattr(instance_module, "KEY_RELOAD_INTERVAL", -1.0)
    assert instance.signing_key().kid == new_key.kid
    frozen.advance(120)  # the old key's last tokens have expired
    forged = tokens.mint_session_token(
        key=old_key, issuer=instance.settings.issuer, user_id="user_victim",
        session_id="sess_x", lifetime=60, azp=None, factor_ages=(0, -1),
        now=frozen_now())
    api = app.test_client()
    assert api.get("/whoami", headers={"Authorization": f"Bearer {forged}"}).get_json()[
        "user_id"] is None
    assert client.get("/whoami").get_json()["user_id"], "refreshed with the new key"
    header = pyjwt.get_unverified_header(client.get_cookie("__session").value)
    assert header["kid"] == new_key.kid


def frozen_now():
    return clock.now().timestamp()


def test_forged_return_to_cannot_render_other_routes(app, client):
    """The failed form is rendered back only on a page that showed a component."""
    for forged in ("/whoami", "/private"):
        response = client.post("/__clerk/sign-in", data={"return_to": forged,
                                                         "identifier": "a@example.com"})
        assert response.status_code == 400
        body = response.get_data(as_text=True)
        assert "Sign in to Test App" in body and "user_id" not in body
    # The signature comes from the page itself, so the real page comes back.
    page = client.get("/sign-up").get_data(as_text=True)
    signed = re.search(r'name="return_to" value="([^"]+)"', page).group(1)
    assert signed != "/sign-up"
    response = client.post("/__clerk/sign-in", data={"return_to": signed,
                                                     "identifier": "a@example.com"})
    assert "Create your account" in response.get_data(as_text=True)


def test_engine_pages_refuse_framing(app, client):
    for response in (client.get("/sign-in"), post(client, "/__clerk/sign-in",
                                                  {"identifier": "x@example.com"})):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_csrf_token_changes_at_sign_in(app, client, user):
    from conftest import sign_up  # noqa: F401 - the `user` fixture signed up already
    before = csrf_token(client, "/user")
    sign_out(client)
    sign_in(client)
    assert csrf_token(client, "/user") != before


@pytest.mark.parametrize("address", ["victim,eve@evil.example", "a<b>@evil.example",
                                     '"a b"@example.com', "a..b@example.com", ".a@example.com"])
def test_addresses_that_could_smuggle_recipients_are_refused(app, client, address):
    response = post(client, "/__clerk/sign-up", {"email_address": address, "password": PASSWORD},
                    page="/sign-up")
    assert response.status_code == 422


def test_session_claims_are_read_only(app, client, user):
    from flask_clerk import auth

    with app.test_request_context(headers={"Authorization":
                                           f"Bearer {client.get_cookie('__session').value}"}):
        app.preprocess_request()
        claims = auth().session_claims
        assert claims["sub"].startswith("user_")
        with pytest.raises(TypeError):
            claims["exp"] = 2**40
