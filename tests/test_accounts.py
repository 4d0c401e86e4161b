"""Sign-up, sign-in, sign-out and password reset through the components' forms."""

from __future__ import annotations

import threading

from conftest import PASSWORD, last_code, post, sign_in, sign_out
from flask_clerk.core.models import SignUp, User


def whoami(client):
    return client.get("/whoami").get_json()


def test_sign_up_verifies_email_then_signs_in(app, client):
    response = post(client, "/__clerk/sign-up", {
        "email_address": "Ada@Example.com", "password": PASSWORD, "first_name": "Ada",
        "last_name": "",
    }, page="/sign-up")
    assert response.status_code == 303
    page = client.get("/sign-up").get_data(as_text=True)
    assert "Verify your email" in page and "ada@example.com" in page
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.query(User).count() == 0, "no user before the email is verified"
    response = post(client, "/__clerk/sign-up/verify", {"code": last_code(app, "ada@example.com")},
                    page="/sign-up")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    me = whoami(client)
    assert me["user_id"].startswith("user_") and me["session_id"].startswith("sess_")
    assert me["org_id"] is None and me["org_role"] is None and me["org_slug"] is None
    assert client.get("/private").get_json() == {"email": "ada@example.com", "first_name": "Ada"}


def test_wrong_code_is_refused_in_place_and_attempts_are_limited(app, client):
    post(client, "/__clerk/sign-up", {"email_address": "bo@example.com", "password": PASSWORD},
         page="/sign-up")
    code = last_code(app, "bo@example.com")
    wrong = "000000" if code != "000000" else "111111"
    response = post(client, "/__clerk/sign-up/verify", {"code": wrong}, page="/sign-up")
    assert response.status_code == 422
    assert "Incorrect code." in response.get_data(as_text=True)
    for _ in range(4):
        response = post(client, "/__clerk/sign-up/verify", {"code": wrong}, page="/sign-up")
    response = post(client, "/__clerk/sign-up/verify", {"code": code}, page="/sign-up")
    assert response.status_code == 422, "the right code no longer works after the limit"
    assert "Too many incorrect attempts" in response.get_data(as_text=True)
    # A new code does not bring new guesses: the limit is per flow.
    with app.extensions["clerk"].instance.store.session() as db:
        db.query(SignUp).one().code_sent_at = None  # skip the 30 s resend wait
        db.commit()
    assert post(client, "/__clerk/sign-up/resend", {}, page="/sign-up").status_code == 303
    response = post(client, "/__clerk/sign-up/verify", {"code": last_code(app, "bo@example.com")},
                    page="/sign-up")
    assert "Too many incorrect attempts" in response.get_data(as_text=True)
    assert whoami(client)["user_id"] is None


def test_code_is_single_use_and_bound_to_its_flow(app, client):
    post(client, "/__clerk/sign-up", {"email_address": "cy@example.com", "password": PASSWORD},
         page="/sign-up")
    code = last_code(app, "cy@example.com")
    other = app.test_client()
    post(other, "/__clerk/sign-up", {"email_address": "cy2@example.com", "password": PASSWORD},
         page="/sign-up")
    response = post(other, "/__clerk/sign-up/verify", {"code": code}, page="/sign-up")
    assert response.status_code == 422, "a code from another flow is refused"
    response = post(client, "/__clerk/sign-up/verify", {"code": code}, page="/sign-up")
    assert response.status_code == 303


def test_sign_up_with_existing_email_looks_like_success(app, client, user):
    sign_out(client)
    stranger = app.test_client()
    response = post(stranger, "/__clerk/sign-up", {
        "email_address": user["email"], "password": "another fine passphrase"}, page="/sign-up")
    assert response.status_code == 303
    assert "Verify your email" in stranger.get("/sign-up").get_data(as_text=True)
    mail = app.extensions["clerk"].instance.dev_mailbox.mails(user["email"])[0]
    assert "already has an account" in mail.text
    assert not any(ch.isdigit() for ch in mail.subject), "the owner gets a notice, not a code"
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.query(SignUp).one().email_taken
    for guess in ("123456", "654321"):
        response = post(stranger, "/__clerk/sign-up/verify", {"code": guess}, page="/sign-up")
        assert response.status_code == 422 and "Incorrect code." in response.get_data(as_text=True)


def test_sign_in_and_sign_out(app, client, user):
    sign_out(client)
    assert whoami(client)["user_id"] is None
    response = sign_in(client)
    assert response.status_code == 303
    assert whoami(client)["user_id"].startswith("user_")
    response = sign_out(client)
    assert response.status_code == 303
    assert whoami(client)["user_id"] is None


def test_sign_in_goes_back_to_a_safe_redirect_url(app, client, user):
    sign_out(client)
    post(client, "/__clerk/sign-in", {"identifier": user["email"]})
    response = post(client, "/__clerk/sign-in/password",
                    {"password": PASSWORD, "redirect_url": "/private?x=1"})
    assert response.headers["Location"] == "/private?x=1"
    sign_out(client)
    post(client, "/__clerk/sign-in", {"identifier": user["email"]})
    response = post(client, "/__clerk/sign-in/password",
                    {"password": PASSWORD, "redirect_url": "//evil.example"})
    assert response.headers["Location"] == "/"


def test_unknown_email_and_wrong_password_answer_alike(app, client, user, hash_calls):
    sign_out(client)
    calls = hash_calls

    def attempt(identifier):
        browser = app.test_client()
        post(browser, "/__clerk/sign-in", {"identifier": identifier})
        calls.clear()
        response = post(browser, "/__clerk/sign-in/password", {"password": "not the password"})
        return response, len(calls)

    wrong, wrong_calls = attempt(user["email"])
    unknown, unknown_calls = attempt("nobody@example.com")
    assert wrong.status_code == unknown.status_code == 422
    def strip(r):
        return r.get_data(as_text=True).replace(user["email"], "X").replace(
            "nobody@example.com", "X")
    import re
    token = re.compile(r'value="[^"]{40,}"')
    assert token.sub("", strip(wrong)) == token.sub("", strip(unknown))
    assert sorted(c.split("=")[0] for c in wrong.headers.getlist("Set-Cookie")) == sorted(
        c.split("=")[0] for c in unknown.headers.getlist("Set-Cookie"))
    assert wrong_calls == unknown_calls == 1, "the hasher runs once for an unknown user too"


def test_the_attempt_is_counted_beside_the_hash(app, client, user, hash_calls, monkeypatch):
    """The password sign-in counts its attempt and builds its session on a worker
    thread while the request's own thread runs the hash (core/overlap.py)."""
    from flask_clerk.core import sign_in as flow

    counted, claiming = [], threading.Event()
    claim, verify = flow.claim_attempt, app.extensions["clerk"].instance.hasher.verify

    def counting_claim(*args, **kwargs):
        counted.append(threading.get_ident())
        claiming.set()
        return claim(*args, **kwargs)

    def verify_once_claiming(*args):
        claiming.wait(5)  # in turn, the claim would come first and on this thread
        return verify(*args)

    monkeypatch.setattr(flow, "claim_attempt", counting_claim)
    monkeypatch.setattr(app.extensions["clerk"].instance.hasher, "verify", verify_once_claiming)
    sign_out(client)
    hash_calls.clear()
    assert sign_in(client).status_code == 303
    assert hash_calls == [threading.get_ident()]
    assert len(counted) == 1 and counted[0] != threading.get_ident()
    assert whoami(client)["user_id"].startswith("user_")


def test_forgot_password_resets_and_signs_out_other_sessions(app, client, user):
    laptop = app.test_client()
    sign_in(laptop)
    assert whoami(laptop)["user_id"]
    browser = app.test_client()
    post(browser, "/__clerk/sign-in", {"identifier": user["email"]})
    assert post(browser, "/__clerk/sign-in/forgot-password", {}).status_code == 303
    assert "Reset password" in browser.get("/sign-in").get_data(as_text=True)
    code = last_code(app, user["email"])
    assert post(browser, "/__clerk/sign-in/reset-code", {"code": code}).status_code == 303
    assert "Set new password" in browser.get("/sign-in").get_data(as_text=True)
    response = post(browser, "/__clerk/sign-in/new-password",
                    {"password": "brand new passphrase 9", "confirm_password": "nope"})
    assert response.status_code == 422 and "Passwords don" in response.get_data(as_text=True)
    response = post(browser, "/__clerk/sign-in/new-password", {
        "password": "brand new passphrase 9", "confirm_password": "brand new passphrase 9"})
    assert response.status_code == 303
    assert whoami(browser)["user_id"]
    # Other sessions are gone: their tokens die at once on this instance, and cannot refresh.
    assert whoami(laptop)["user_id"] is None
    assert whoami(client)["user_id"] is None
    sign_out(browser)
    assert sign_in(browser, password=PASSWORD).status_code == 422
    assert sign_in(browser, password="brand new passphrase 9").status_code == 303


def test_forgot_password_for_unknown_email_looks_the_same(app, client):
    browser = app.test_client()
    post(browser, "/__clerk/sign-in", {"identifier": "ghost@example.com"})
    assert post(browser, "/__clerk/sign-in/forgot-password", {}).status_code == 303
    assert "Reset password" in browser.get("/sign-in").get_data(as_text=True)
    assert app.extensions["clerk"].instance.dev_mailbox.mails("ghost@example.com") == []
    response = post(browser, "/__clerk/sign-in/reset-code", {"code": "123456"})
    assert response.status_code == 422 and "Incorrect code." in response.get_data(as_text=True)


def test_abandoned_flows_expire_and_are_purged(app, client, frozen):
    from flask_clerk.core.models import SignIn
    post(client, "/__clerk/sign-in", {"identifier": "late@example.com"})
    assert "Enter your password" in client.get("/sign-in").get_data(as_text=True)
    frozen.advance(3601)
    assert "Enter your password" not in client.get("/sign-in").get_data(as_text=True)
    assert post(client, "/__clerk/sign-in/password", {"password": PASSWORD}).status_code == 400
    post(app.test_client(), "/__clerk/sign-in", {"identifier": "next@example.com"})
    with app.extensions["clerk"].instance.store.session() as db:
        assert [s.identifier for s in db.query(SignIn)] == ["next@example.com"]
