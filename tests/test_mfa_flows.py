"""Second factors in the flows (issue 6): sign-in's second step, a password reset
for a user with MFA, lockout counting, ``fva``, step-up reverification, the
profile's two-step verification section and the ``setup-mfa`` task.

Codes come from pyotp and the secret the profile page shows, as an authenticator
app would compute them; time moves with the ``frozen`` clock, never by sleeping.
"""

from __future__ import annotations

import re

import jwt
import pyotp
import pytest
from flask import jsonify

from conftest import PASSWORD, last_code, post, sign_in, sign_out, sign_up
from flask_clerk import auth, reverification_required
from flask_clerk.core import clock
from flask_clerk.core.models import Session, User

SECRET = re.compile(r'class="cl-totpSecret">([A-Z2-7 ]+)</code>')
CODES = re.compile(r'<li class="cl-backupCode"><code>([0-9a-f-]+)</code></li>')


def claims(client):
    return jwt.decode(client.get_cookie("__session").value, options={"verify_signature": False})


def totp_now(secret):
    return pyotp.TOTP(secret).at(clock.now())


def enrol(client):
    """Turn on the authenticator app from the profile; (secret, backup codes)."""
    response = post(client, "/__clerk/user/totp", {}, page="/user?page=security")
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get("/user?page=security").get_data(as_text=True)
    secret = SECRET.search(page).group(1).replace(" ", "")
    response = post(client, "/__clerk/user/totp/verify", {"code": totp_now(secret)},
                    page="/user?page=security")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    codes = CODES.findall(response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


@pytest.fixture
def mfa_user(app, client, frozen):
    """Ada, signed up, with the authenticator app on; signed out again."""
    sign_up(client, app)
    secret, codes = enrol(client)
    sign_out(client)
    frozen.advance(30)  # the enrolment's code is used: the next one is another step's
    return {"secret": secret, "codes": codes}


def user_row(app, email="ada@example.com"):
    from flask_clerk.core.models import EmailAddress

    with app.extensions["clerk"].instance.store.session() as db:
        return db.query(User).join(EmailAddress, EmailAddress.user_id == User.id).filter(
            EmailAddress.email_address == email).one()


# -- Sign-in ------------------------------------------------------------------------------


def test_the_password_alone_does_not_sign_in_a_user_with_a_second_factor(app, client, mfa_user):
    response = sign_in(client)
    assert response.status_code == 303
    assert client.get_cookie("__session") is None and client.get_cookie("__client") is None
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Two-step verification" in page and "cl-signIn-totp2Fa" in page
    assert client.get("/whoami").get_json()["user_id"] is None

    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "totp", "code": "000000"})
    assert response.status_code == 422 and "Incorrect code" in response.get_data(as_text=True)
    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "totp", "code": totp_now(mfa_user["secret"])})
    assert response.status_code == 303
    assert client.get("/whoami").get_json()["user_id"] == user_row(app).id
    first, second = claims(client)["fva"]
    assert first == 0 and second == 0


def test_a_totp_code_signs_in_once(app, client, mfa_user):
    code = totp_now(mfa_user["secret"])
    sign_in(client)
    assert post(client, "/__clerk/sign-in/second-factor",
                {"strategy": "totp", "code": code}).status_code == 303
    sign_out(client)
    sign_in(client)
    response = post(client, "/__clerk/sign-in/second-factor", {"strategy": "totp", "code": code})
    assert response.status_code == 422  # replayed within its step: refused
    assert client.get("/whoami").get_json()["user_id"] is None


def test_a_backup_code_signs_in_once(app, client, mfa_user):
    code = mfa_user["codes"][3]
    sign_in(client)
    page = client.get("/sign-in?factor=backup_code").get_data(as_text=True)
    assert "Enter a backup code" in page
    assert post(client, "/__clerk/sign-in/second-factor",
                {"strategy": "backup_code", "code": code.upper()}).status_code == 303
    sign_out(client)
    sign_in(client)
    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "backup_code", "code": code})
    assert response.status_code == 422
    assert "Enter a backup code" in response.get_data(as_text=True)  # stays on that card


def test_second_factor_guesses_count_toward_the_lockout(app, client, mfa_user, frozen):
    limit = app.extensions["clerk"].settings.lockout_attempts  # 10
    sign_in(client)
    for _ in range(limit // 2):
        post(client, "/__clerk/sign-in/second-factor", {"strategy": "totp", "code": "000000"})
    # The right password again un-counts only itself: the guesses stay counted.
    post(client, "/__clerk/sign-in/restart", {})
    sign_in(client)
    assert user_row(app).failed_attempts == limit // 2
    for _ in range(limit - limit // 2):
        post(client, "/__clerk/sign-in/second-factor", {"strategy": "totp", "code": "000000"})
    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "totp", "code": totp_now(mfa_user["secret"])})
    assert response.status_code == 403 and "locked" in response.get_data(as_text=True)
    assert client.get("/whoami").get_json()["user_id"] is None
    # The lockout ends; the right code then signs in and clears the count.
    frozen.advance(3601)
    sign_in(client)
    assert post(client, "/__clerk/sign-in/second-factor", {
        "strategy": "totp", "code": totp_now(mfa_user["secret"])}).status_code == 303
    assert user_row(app).failed_attempts == 0


def test_the_second_step_needs_the_first(app, client, mfa_user):
    post(client, "/__clerk/sign-in", {"identifier": "ada@example.com"})
    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "totp", "code": totp_now(mfa_user["secret"])})
    assert response.status_code == 400  # still at the password: no skipping it
    assert client.get("/whoami").get_json()["user_id"] is None


def test_a_password_reset_asks_for_the_second_factor_before_the_new_password(
        app, client, mfa_user):
    """A mailbox alone cannot change the password or sign Ada out anywhere."""
    elsewhere = app.test_client()
    sign_in(elsewhere)
    post(elsewhere, "/__clerk/sign-in/second-factor",
         {"strategy": "backup_code", "code": mfa_user["codes"][0]})
    post(client, "/__clerk/sign-in", {"identifier": "ada@example.com"})
    post(client, "/__clerk/sign-in/forgot-password", {})
    response = post(client, "/__clerk/sign-in/reset-code",
                    {"code": last_code(app, "ada@example.com")})
    assert response.status_code == 303
    assert "Two-step verification" in client.get("/sign-in").get_data(as_text=True)
    new_password = "another long passphrase 12"
    response = post(client, "/__clerk/sign-in/new-password",
                    {"password": new_password, "confirm_password": new_password})
    assert response.status_code == 400  # not before the second factor
    assert elsewhere.get("/whoami").get_json()["user_id"] is not None  # nothing ended
    assert post(client, "/__clerk/sign-in/second-factor", {
        "strategy": "totp", "code": totp_now(mfa_user["secret"])}).status_code == 303
    assert client.get_cookie("__session") is None
    assert "Set new password" in client.get("/sign-in").get_data(as_text=True)
    response = post(client, "/__clerk/sign-in/new-password",
                    {"password": new_password, "confirm_password": new_password})
    assert response.status_code == 303
    assert client.get("/whoami").get_json()["user_id"] == user_row(app).id
    assert claims(client)["fva"] == [0, 0]
    elsewhere.delete_cookie("__session")
    assert elsewhere.get("/whoami").get_json()["user_id"] is None  # signed out by the reset
    sign_out(client)
    assert sign_in(client, password=new_password).status_code == 303  # the new one holds


def test_fva_is_minus_one_for_the_second_factor_without_one(app, client, user, frozen):
    assert claims(client)["fva"] == [0, -1]
    frozen.advance(5 * 60)
    client.delete_cookie("__session")
    client.get("/whoami")  # refreshed from __client
    assert claims(client)["fva"] == [5, -1]


# -- Reverification -----------------------------------------------------------------------


@pytest.fixture
def guarded(app):
    @app.post("/api/transfer")
    @reverification_required
    def transfer():
        return jsonify(ok=True, user_id=auth().user_id)

    @app.get("/danger")
    @reverification_required(preset="strict_mfa")
    def danger():
        return "danger zone"

    @app.get("/lax")
    @reverification_required(max_age_minutes=60, level="first_factor")
    def lax():
        return "lax"

    return app


def expire_token(client, frozen, minutes):
    frozen.advance(minutes * 60)
    client.delete_cookie("__session")


def test_an_api_gets_clerks_reverification_error(guarded, client, user, frozen):
    assert client.post("/api/transfer").get_json() == {
        "ok": True, "user_id": claims(client)["sub"]}
    expire_token(client, frozen, 11)
    response = client.post("/api/transfer")
    assert response.status_code == 403
    body = response.get_json()
    assert body["errors"][0]["code"] == "session_reverification_required"
    assert body["clerk_error"] == {"type": "forbidden", "reason": "reverification-error",
                                   "metadata": {"reverification": {
                                       "level": "second_factor", "afterMinutes": 10}}}
    assert client.get("/lax").status_code == 200  # an hour, first factor: still fine


def test_a_page_sends_the_user_to_verify_and_back(guarded, client, user, frozen):
    expire_token(client, frozen, 11)
    response = client.get("/danger", headers={"Sec-Fetch-Dest": "document"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/reverify?") and "level=multi_factor" in location
    page = client.get(location).get_data(as_text=True)
    assert "Verification required" in page and "Enter your current password" in page
    response = post(client, "/__clerk/reverify/password", {
        "password": "wrong password 1234", "level": "multi_factor", "max_age": "10",
        "redirect_url": "/danger"}, page=location)
    assert response.status_code == 422
    response = post(client, "/__clerk/reverify/password", {
        "password": PASSWORD, "level": "multi_factor", "max_age": "10",
        "redirect_url": "/danger"}, page=location)
    assert response.status_code == 303 and response.headers["Location"] == "/danger"
    assert claims(client)["fva"] == [0, -1]
    assert client.get("/danger").get_data(as_text=True) == "danger zone"


def test_a_wrong_reverification_password_counts_toward_the_lockout(guarded, app, client, user,
                                                                   frozen):
    expire_token(client, frozen, 11)
    for _ in range(3):
        post(client, "/__clerk/reverify/password", {"password": "not it at all 123"},
             page="/reverify")
    assert user_row(app).failed_attempts == 3


def test_a_user_with_mfa_reverifies_with_the_second_factor(guarded, app, client, mfa_user,
                                                           frozen):
    sign_in(client)
    post(client, "/__clerk/sign-in/second-factor",
         {"strategy": "totp", "code": totp_now(mfa_user["secret"])})
    expire_token(client, frozen, 11)
    assert client.post("/api/transfer").status_code == 403
    page = client.get("/reverify?level=second_factor&max_age=10").get_data(as_text=True)
    assert "authenticator app" in page and "cl-userVerification-totp2Fa" in page
    # The password alone is not what "second_factor" asks of this user.
    post(client, "/__clerk/reverify/password", {"password": PASSWORD}, page="/reverify")
    assert client.post("/api/transfer").status_code == 403
    response = post(client, "/__clerk/reverify/second-factor", {
        "strategy": "totp", "code": totp_now(mfa_user["secret"]),
        "level": "second_factor", "max_age": "10", "redirect_url": "/api-done"},
        page="/reverify?level=second_factor&max_age=10")
    assert response.status_code == 303 and response.headers["Location"] == "/api-done"
    assert claims(client)["fva"][1] == 0
    assert client.post("/api/transfer").status_code == 200


def test_fva_of_a_session_that_never_verified_a_second_factor(guarded, app, client, frozen):
    """Ada turns on MFA in one browser: her other browser's session never passed
    the second factor, so it reverifies with it before a guarded action."""
    sign_up(client, app)
    other = app.test_client()
    sign_in(other)
    secret, _ = enrol(client)
    frozen.advance(61)
    other.delete_cookie("__session")
    assert other.post("/api/transfer").status_code == 403
    fva = claims(other)["fva"]
    assert fva[0] == 1 and fva[1] > 10_000
    frozen.advance(30)
    post(other, "/__clerk/reverify/second-factor",
         {"strategy": "totp", "code": totp_now(secret)}, page="/reverify")
    assert other.post("/api/transfer").status_code == 200


def test_the_profiles_sensitive_actions_ask_to_verify_again(app, client, user, frozen):
    expire_token(client, frozen, 11)
    response = client.post("/__clerk/user/delete", headers={"Sec-Fetch-Dest": "document"},
                           data={"confirmation": "Delete account"})
    assert response.status_code in (302, 303, 400)  # no CSRF token: refused either way
    response = post(client, "/__clerk/user/delete", {"confirmation": "Delete account"},
                    page="/user?page=security")
    assert response.status_code == 403
    assert response.get_json()["errors"][0]["code"] == "session_reverification_required"
    assert user_row(app) is not None
    for path, data in [("/__clerk/user/password", {"current_password": PASSWORD,
                                                   "new_password": "x" * 20,
                                                   "confirm_password": "x" * 20}),
                       ("/__clerk/user/email-addresses", {"email_address": "b@example.com"}),
                       ("/__clerk/user/totp", {})]:
        response = post(client, path, data, page="/user?page=security")
        assert response.status_code == 403, path


# -- The profile's two-step verification section ------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_key(app, client, user):
    page = client.get("/user?page=security").get_data(as_text=True)
    assert "Two-step verification" in page and "Add two-step verification" in page
    post(client, "/__clerk/user/totp", {}, page="/user?page=security")
    page = client.get("/user?page=security").get_data(as_text=True)
    assert "<svg" in page and "cl-qrCodeContainer" in page and SECRET.search(page)
    # A wrong code keeps the enrolment open, with the error by the field.
    response = post(client, "/__clerk/user/totp/verify", {"code": "123456"},
                    page="/user?page=security")
    assert response.status_code == 422 and "Incorrect code" in response.get_data(as_text=True)
    assert SECRET.search(response.get_data(as_text=True))
    # Cancelling forgets it.
    post(client, "/__clerk/user/totp/cancel", {}, page="/user?page=security")
    assert not SECRET.search(client.get("/user?page=security").get_data(as_text=True))


def test_backup_codes_are_shown_once(app, client, user, frozen):
    secret, codes = enrol(client)
    page = client.get("/user?page=security").get_data(as_text=True)
    assert not CODES.search(page) and "10 left" in page and "Authenticator application" in page
    assert not any(code in page for code in codes)
    response = post(client, "/__clerk/user/backup-codes", {}, page="/user?page=security")
    fresh = CODES.findall(response.get_data(as_text=True))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    user = user_row(app)
    from flask_clerk.core import mfa

    with app.extensions["clerk"].instance.store.session() as db:
        instance = app.extensions["clerk"].instance
        assert not mfa.use_backup_code(instance, db, user, codes[0])  # the old set is gone
        assert mfa.use_backup_code(instance, db, user, fresh[0])


def test_turning_mfa_off_needs_a_recent_second_factor(app, client, user, frozen):
    secret, _ = enrol(client)
    api = app.extensions["clerk"].settings.secret_key
    user_id = user_row(app).id
    body = client.get(f"/v1/users/{user_id}", headers={"Authorization": f"Bearer {api}"}).get_json()
    assert body["two_factor_enabled"] and body["totp_enabled"] and body["mfa_enabled_at"]
    expire_token(client, frozen, 11)
    assert post(client, "/__clerk/user/totp/remove", {},
                page="/user?page=security").status_code == 403
    post(client, "/__clerk/reverify/second-factor",
         {"strategy": "totp", "code": totp_now(secret)}, page="/reverify")
    assert post(client, "/__clerk/user/totp/remove", {},
                page="/user?page=security").status_code == 303
    assert claims(client)["fva"][1] == -1
    body = client.get(f"/v1/users/{user_id}", headers={"Authorization": f"Bearer {api}"}).get_json()
    assert not body["two_factor_enabled"] and body["mfa_disabled_at"]
    sign_out(client)
    sign_in(client)
    assert client.get("/whoami").get_json()["user_id"] == user_id  # the password is enough again


# -- The setup-mfa task -------------------------------------------------------------------


def test_mfa_required_sends_new_users_to_set_it_up(make_app, frozen):
    app = make_app(CLERK_MFA_REQUIRED=True)
    client = app.test_client()
    response = sign_up(client, app)
    assert response.headers["Location"].startswith("/setup-mfa?redirect_url=")
    assert claims(client)["sts"] == "pending"
    assert client.get("/whoami").get_json()["user_id"] is None  # pending: not signed in yet
    response = client.get("/private", headers={"Sec-Fetch-Dest": "document"})
    assert response.headers["Location"].startswith("/setup-mfa?")
    response = client.get("/user", headers={"Sec-Fetch-Dest": "document"})
    assert response.headers["Location"].startswith("/setup-mfa?")  # the task comes first
    assert "Set up two-step verification" in client.get("/setup-mfa").get_data(as_text=True)
    set_up_in_task(client)
    assert client.get("/private").status_code == 200


def set_up_in_task(client):
    post(client, "/__clerk/setup-mfa/start", {}, page="/setup-mfa")
    page = client.get("/setup-mfa").get_data(as_text=True)
    secret = SECRET.search(page).group(1).replace(" ", "")
    response = post(client, "/__clerk/setup-mfa/verify", {"code": totp_now(secret)},
                    page="/setup-mfa?redirect_url=/private")
    assert response.status_code == 200 and len(CODES.findall(response.get_data(as_text=True))) == 10
    assert 'href="/private"' in response.get_data(as_text=True)  # "Continue" goes back there
    assert "sts" not in claims(client) and claims(client)["fva"][1] == 0


def test_an_organization_can_require_mfa_of_its_members(make_app, frozen):
    from flask_clerk.core.models import Organization

    app = make_app(CLERK_ORGANIZATIONS=True)
    client = app.test_client()
    sign_up(client, app)
    response = post(client, "/__clerk/organizations", {"name": "Acme", "slug": "acme"},
                    page="/create-organization")
    assert response.status_code == 303
    assert claims(client).get("sts") is None
    with app.extensions["clerk"].instance.store.session() as db:
        db.query(Organization).filter_by(slug="acme").one().mfa_required = True
        db.commit()
    client.delete_cookie("__session")
    client.get("/whoami")
    assert claims(client)["sts"] == "pending"
    response = client.get("/private", headers={"Sec-Fetch-Dest": "document"})
    assert response.headers["Location"].startswith("/setup-mfa?")
    set_up_in_task(client)


def test_a_session_row_records_both_factor_times(app, client, mfa_user):
    sign_in(client)
    post(client, "/__clerk/sign-in/second-factor",
         {"strategy": "totp", "code": totp_now(mfa_user["secret"])})
    with app.extensions["clerk"].instance.store.session() as db:
        session = db.get(Session, claims(client)["sid"])
        assert session.first_factor_verified_at and session.second_factor_verified_at
        assert session.second_factor_verified_at >= session.first_factor_verified_at


def test_an_admin_requires_mfa_from_the_organization_profile(make_app, frozen):
    app = make_app(CLERK_ORGANIZATIONS=True)
    client = app.test_client()
    sign_up(client, app)
    post(client, "/__clerk/organizations", {"name": "Acme", "slug": "acme"},
         page="/create-organization")
    org_id = claims(client)["o"]["id"]
    page = client.get("/organization").get_data(as_text=True)
    assert "Require two-step verification" in page
    response = post(client, f"/__clerk/organizations/{org_id}/mfa", {"required": "1"},
                    page="/organization")
    assert response.status_code == 422
    assert "your own account first" in response.get_data(as_text=True)
    enrol(client)
    frozen.advance(30)
    response = post(client, f"/__clerk/organizations/{org_id}/mfa", {"required": "1"},
                    page="/organization")
    assert response.status_code == 303
    assert "Members must set up two-step verification" in client.get(
        "/organization").get_data(as_text=True)
    assert "sts" not in claims(client)  # the admin has a second factor
    response = post(client, f"/__clerk/organizations/{org_id}/mfa", {"required": ""},
                    page="/organization")
    assert response.status_code == 303
    from flask_clerk.core.models import Organization

    with app.extensions["clerk"].instance.store.session() as db:
        assert not db.get(Organization, org_id).mfa_required


def test_an_imported_authenticator_app_is_asked_for_at_sign_in(app, client, frozen):
    from flask_clerk.core.user_import import create_user_from_payload

    secret = pyotp.random_base32()
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        create_user_from_payload(instance, db, {
            "email_address": ["grace@example.com"], "password": PASSWORD, "totp_secret": secret})
    sign_in(client, "grace@example.com")
    assert client.get_cookie("__session") is None
    assert "Two-step verification" in client.get("/sign-in").get_data(as_text=True)
    assert post(client, "/__clerk/sign-in/second-factor",
                {"strategy": "totp", "code": totp_now(secret)}).status_code == 303
    assert claims(client)["fva"] == [0, 0]


# -- Passkeys and mailed codes, over HTTP ---------------------------------------------------


def passkey_options(client, path, page):
    from conftest import csrf_token

    response = client.post(path, data={"csrf_token": csrf_token(client, page)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def test_a_passkey_added_in_the_profile_signs_in_and_reverifies(guarded, app, client, frozen):
    from webauthn_authenticator import Authenticator

    origin = "http://localhost"  # the test client's host: development takes the request's
    key = Authenticator()
    sign_up(client, app)
    options = passkey_options(client, "/__clerk/user/passkeys/options", "/user?page=security")
    response = post(client, "/__clerk/user/passkeys",
                    {"credential": key.create(options, origin), "name": "Work laptop"},
                    page="/user?page=security")
    assert response.status_code == 303
    page = client.get("/user?page=security").get_data(as_text=True)
    assert "Work laptop" in page and "Created" in page

    # Usernameless sign-in: the options start a new flow (its cookie), the answer ends it.
    sign_out(client)
    options = passkey_options(client, "/__clerk/sign-in/passkey/options", "/sign-in")
    assert client.get_cookie("__clerk_sign_in") is not None
    response = post(client, "/__clerk/sign-in/passkey", {"credential": key.get(options, origin)})
    assert response.status_code == 303
    assert client.get("/whoami").get_json()["user_id"] == user_row(app).id
    # A replay of the same answer is refused (the challenge was used up).
    sign_out(client)
    passkey_options(client, "/__clerk/sign-in/passkey/options", "/sign-in")
    stale = key.get(options, origin)
    assert post(client, "/__clerk/sign-in/passkey", {"credential": stale}).status_code == 422
    options = passkey_options(client, "/__clerk/sign-in/passkey/options", "/sign-in")
    post(client, "/__clerk/sign-in/passkey", {"credential": key.get(options, origin)})

    # Reverification with the passkey.
    expire_token(client, frozen, 11)
    assert client.post("/api/transfer").status_code == 403
    page = client.get("/reverify?level=second_factor&max_age=10").get_data(as_text=True)
    assert "Use your passkey" in page
    options = passkey_options(client, "/__clerk/reverify/passkey/options", "/reverify")
    response = post(client, "/__clerk/reverify/passkey", {
        "credential": key.get(options, origin), "level": "second_factor", "max_age": "10",
        "redirect_url": "/done"}, page="/reverify")
    assert response.status_code == 303 and response.headers["Location"] == "/done"
    assert client.post("/api/transfer").status_code == 200

    # Removing it asks for a recent verification too.
    expire_token(client, frozen, 11)
    passkey_id = re.search(r"/__clerk/user/passkeys/(idn_\w+)/remove", client.get(
        "/user?page=security").get_data(as_text=True)).group(1)
    assert post(client, f"/__clerk/user/passkeys/{passkey_id}/remove", {},
                page="/user?page=security").status_code == 403
    page = client.get("/user?page=security").get_data(as_text=True)
    assert "/__clerk/user/verify" in page  # "Add a passkey" leads through verification


def test_a_passwordless_user_reverifies_with_a_mailed_code(make_app, frozen):
    app = make_app(CLERK_SIGN_IN_STRATEGIES=("email_code",))

    @app.post("/api/wire")
    @reverification_required
    def wire():
        return jsonify(ok=True)

    client = app.test_client()
    sign_up(client, app)
    assert user_row(app).password_digest is None
    expire_token(client, frozen, 11)
    assert client.post("/api/wire").status_code == 403
    page = client.get("/reverify").get_data(as_text=True)
    assert "We’ll email you a code" in page and "Password" not in page
    post(client, "/__clerk/reverify/email-code/send", {}, page="/reverify")
    assert "Enter the code sent to ada@example.com" in client.get("/reverify").get_data(
        as_text=True)
    assert post(client, "/__clerk/reverify/email-code", {"code": "000000"},
                page="/reverify").status_code == 422
    assert user_row(app).failed_attempts == 1
    response = post(client, "/__clerk/reverify/email-code", {
        "code": last_code(app, "ada@example.com"), "redirect_url": "/after"}, page="/reverify")
    assert response.status_code == 303 and response.headers["Location"] == "/after"
    assert client.post("/api/wire").status_code == 200
    assert user_row(app).failed_attempts == 1  # the right code un-counts only itself


# -- From the security review ---------------------------------------------------------------


def test_an_enrolment_belongs_to_the_session_that_started_it(guarded, app, client, frozen):
    """An abandoned enrolment cannot be finished from another (stale) session to pass
    for a fresh second factor; and it expires."""
    sign_up(client, app)
    thief = app.test_client()
    sign_in(thief)
    post(client, "/__clerk/user/totp", {}, page="/user?page=security")
    page = client.get("/user?page=security").get_data(as_text=True)
    secret = SECRET.search(page).group(1).replace(" ", "")
    assert not SECRET.search(thief.get("/user?page=security").get_data(as_text=True))
    response = post(thief, "/__clerk/user/totp/verify", {"code": totp_now(secret)},
                    page="/user?page=security")
    assert response.status_code == 422 and "Start setting up" in response.get_data(as_text=True)
    expire_token(thief, frozen, 11)
    assert thief.post("/api/transfer").status_code == 403
    # Ten minutes on, the owner's own enrolment is gone too: start again.
    assert not SECRET.search(client.get("/user?page=security").get_data(as_text=True))
    assert post(client, "/__clerk/user/totp/verify", {"code": totp_now(secret)},
                page="/user?page=security").status_code == 422


def test_removing_the_app_forgets_every_sessions_second_factor_time(guarded, app, client,
                                                                    frozen):
    sign_up(client, app)
    secret, _ = enrol(client)
    frozen.advance(30)
    other = app.test_client()
    sign_in(other)
    post(other, "/__clerk/sign-in/second-factor", {"strategy": "totp", "code": totp_now(secret)})
    post(client, "/__clerk/user/totp/remove", {}, page="/user?page=security")
    enrol(client)  # a new app: the other session never verified it
    other.delete_cookie("__session")
    other.get("/whoami")  # a fresh token from __client
    assert claims(other)["fva"][1] > 10_000
    assert other.post("/api/transfer").status_code == 403


def test_organization_routes_refuse_members_without_the_required_second_factor(
        make_app, frozen):
    from flask_clerk.core.models import Organization

    app = make_app(CLERK_ORGANIZATIONS=True)
    admin = app.test_client()
    sign_up(admin, app)
    post(admin, "/__clerk/organizations", {"name": "Acme", "slug": "acme"},
         page="/create-organization")
    org_id = claims(admin)["o"]["id"]
    with app.extensions["clerk"].instance.store.session() as db:
        db.get(Organization, org_id).mfa_required = True
        db.commit()
    for path, data in [(f"/__clerk/organizations/{org_id}/invitations",
                        {"email_address": "bob@example.com", "role": "org:member"}),
                       (f"/__clerk/organizations/{org_id}/mfa", {"required": ""})]:
        response = post(admin, path, data, page="/create-organization")
        assert response.status_code == 403, path
        assert "requires two-step verification" in response.get_data(as_text=True)
    assert not app.extensions["clerk"].instance.dev_mailbox.mails("bob@example.com")
    # Leaving stays possible.
    response = post(admin, f"/__clerk/organizations/{org_id}/leave", {},
                    page="/create-organization")
    assert response.status_code != 403


def test_turning_the_organization_rule_off_asks_to_verify_again(make_app, frozen):
    app = make_app(CLERK_ORGANIZATIONS=True)
    client = app.test_client()
    sign_up(client, app)
    post(client, "/__clerk/organizations", {"name": "Acme", "slug": "acme"},
         page="/create-organization")
    org_id = claims(client)["o"]["id"]
    enrol(client)
    frozen.advance(30)
    assert post(client, f"/__clerk/organizations/{org_id}/mfa", {"required": "1"},
                page="/organization").status_code == 303
    expire_token(client, frozen, 11)
    assert post(client, f"/__clerk/organizations/{org_id}/mfa", {"required": ""},
                page="/organization").status_code == 403


def test_a_pending_session_past_ten_minutes_verifies_then_sets_up(make_app, frozen):
    app = make_app(CLERK_MFA_REQUIRED=True)
    client = app.test_client()
    sign_up(client, app)
    expire_token(client, frozen, 11)
    client.get("/whoami")
    response = post(client, "/__clerk/setup-mfa/start", {}, page="/setup-mfa")
    assert response.status_code == 403  # JSON client: Clerk's reverification error
    page = client.get("/reverify?level=second_factor&max_age=10&redirect_url=/setup-mfa")
    assert page.status_code == 200 and "Enter your current password" in page.get_data(
        as_text=True)
    response = post(client, "/__clerk/reverify/password", {
        "password": PASSWORD, "level": "second_factor", "max_age": "10",
        "redirect_url": "/setup-mfa"}, page="/reverify")
    assert response.headers["Location"] == "/setup-mfa"
    set_up_in_task(client)


def test_every_mailed_reverification_code_gets_its_own_guesses(make_app, frozen):
    app = make_app(CLERK_SIGN_IN_STRATEGIES=("email_code",), CLERK_LOCKOUT_ATTEMPTS=50)
    client = app.test_client()
    sign_up(client, app)
    expire_token(client, frozen, 11)
    post(client, "/__clerk/reverify/email-code/send", {}, page="/reverify")
    for _ in range(app.extensions["clerk"].settings.code_attempts):
        post(client, "/__clerk/reverify/email-code", {"code": "000000"}, page="/reverify")
    frozen.advance(31)
    post(client, "/__clerk/reverify/email-code/send", {}, page="/reverify")
    response = post(client, "/__clerk/reverify/email-code",
                    {"code": last_code(app, "ada@example.com")}, page="/reverify")
    assert response.status_code == 303


def test_verify_totp_is_never_replayed_by_an_idempotency_key(app, client, frozen):
    sign_up(client, app)
    _, codes = enrol(client)
    secret_key = app.extensions["clerk"].settings.secret_key
    headers = {"Authorization": f"Bearer {secret_key}", "Idempotency-Key": "same-key"}
    path = f"/v1/users/{user_row(app).id}/verify_totp"
    assert client.post(path, json={"code": codes[0]}, headers=headers).status_code == 200
    again = client.post(path, json={"code": codes[0]}, headers=headers)
    assert again.status_code == 422 and "Idempotent-Replayed" not in again.headers


def test_reset_code_guesses_do_not_tell_real_addresses_from_unknown_ones(app, frozen):
    sign_up(app.test_client(), app)
    allowed = app.extensions["clerk"].settings.code_attempts
    limit = app.extensions["clerk"].settings.lockout_attempts

    def answer_after_guessing(email):
        client = app.test_client()
        for _ in range(-(-limit // allowed)):
            post(client, "/__clerk/sign-in/restart", {})
            post(client, "/__clerk/sign-in", {"identifier": email})
            post(client, "/__clerk/sign-in/forgot-password", {})
            for _ in range(allowed):
                post(client, "/__clerk/sign-in/reset-code", {"code": "000000"})
            frozen.advance(31)
        post(client, "/__clerk/sign-in/restart", {})
        post(client, "/__clerk/sign-in", {"identifier": email})
        return post(client, "/__clerk/sign-in/password", {"password": "not the password 1"})

    known, unknown = answer_after_guessing("ada@example.com"), answer_after_guessing(
        "nobody@example.com")
    assert known.status_code == unknown.status_code == 403
    assert "locked" in known.get_data(as_text=True) and "locked" in unknown.get_data(
        as_text=True)
