"""The UserProfile: name, email addresses, password, account deletion."""

from __future__ import annotations

from conftest import PASSWORD, last_code, post, sign_in, sign_out
from flask_clerk.core.models import EmailAddress, User


def me(client):
    return client.get("/private").get_json()


def profile_post(client, path, data, page="/user"):
    return post(client, path, data, page=page)


def test_profile_page_requires_sign_in(client):
    response = client.get("/user", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?redirect_url=%2Fuser")


def test_update_name(app, client, user):
    response = profile_post(client, "/__clerk/user/profile",
                            {"first_name": "Augusta", "last_name": "King"})
    assert response.status_code == 303
    assert me(client)["first_name"] == "Augusta"
    response = profile_post(client, "/__clerk/user/profile", {"first_name": "x" * 500,
                                                               "last_name": ""})
    assert response.status_code == 422 and "too long" in response.get_data(as_text=True)


def test_add_verify_make_primary_and_remove_email(app, client, user):
    response = profile_post(client, "/__clerk/user/email-addresses",
                            {"email_address": "ada@work.example"})
    assert response.status_code == 303
    page = client.get("/user").get_data(as_text=True)
    assert "ada@work.example" in page and "Unverified" in page
    with app.extensions["clerk"].instance.store.session() as db:
        email = db.query(EmailAddress).filter_by(email_address="ada@work.example").one()
    response = profile_post(client, f"/__clerk/user/email-addresses/{email.id}/primary", {})
    assert response.status_code == 422, "unverified addresses cannot be primary"
    response = profile_post(client, f"/__clerk/user/email-addresses/{email.id}/verify",
                            {"code": last_code(app, "ada@work.example")})
    assert response.status_code == 303
    response = profile_post(client, f"/__clerk/user/email-addresses/{email.id}/primary", {})
    assert response.status_code == 303
    with app.extensions["clerk"].instance.store.session() as db:
        user_row = db.query(User).one()
        assert user_row.primary_email_address_id == email.id
        old = db.query(EmailAddress).filter_by(email_address="ada@example.com").one()
    response = profile_post(client, f"/__clerk/user/email-addresses/{email.id}/remove", {})
    assert response.status_code == 422, "the primary address cannot be removed"
    response = profile_post(client, f"/__clerk/user/email-addresses/{old.id}/remove", {})
    assert response.status_code == 303
    notices = [m.subject for m in app.extensions["clerk"].instance.dev_mailbox.mails(
        "ada@example.com") if m.subject.startswith("Your account")]
    assert notices == ["Your account: primary email address changed to ada@work.example",
                       "Your account: email address ada@work.example added"]
    sign_out(client)
    assert sign_in(client, email="ada@work.example").status_code == 303


def test_adding_someone_elses_address_reveals_nothing(app, client, user):
    from conftest import sign_up
    other = app.test_client()
    sign_up(other, app, email="bob@example.com", first_name="Bob")
    response = profile_post(client, "/__clerk/user/email-addresses",
                            {"email_address": "bob@example.com"})
    assert response.status_code == 303, "same answer as for a free address"
    mail = app.extensions["clerk"].instance.dev_mailbox.mails("bob@example.com")[0]
    assert "already has an account" in mail.text
    with app.extensions["clerk"].instance.store.session() as db:
        pending = db.query(EmailAddress).filter_by(email_address="bob@example.com",
                                                   verification_status="unverified").one()
    response = profile_post(client, f"/__clerk/user/email-addresses/{pending.id}/verify",
                            {"code": "123456"})
    assert response.status_code == 422


def test_another_users_email_id_is_not_found(app, client, user):
    from conftest import sign_up
    other = app.test_client()
    sign_up(other, app, email="bob@example.com", first_name="Bob")
    with app.extensions["clerk"].instance.store.session() as db:
        bob_email = db.query(EmailAddress).filter_by(email_address="bob@example.com").one()
    for action in ("remove", "primary", "verify", "resend"):
        response = profile_post(client, f"/__clerk/user/email-addresses/{bob_email.id}/{action}",
                                {"code": "000000"})
        assert response.status_code == 404, action
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.get(EmailAddress, bob_email.id) is not None


def test_change_password_needs_the_current_one_and_signs_out_other_devices(app, client, user):
    laptop = app.test_client()
    sign_in(laptop)
    response = profile_post(client, "/__clerk/user/password", {
        "current_password": "not it", "new_password": "new sturdy passphrase",
        "confirm_password": "new sturdy passphrase"}, page="/user?page=security")
    assert response.status_code == 422
    assert "Your current password is incorrect." in response.get_data(as_text=True)
    response = profile_post(client, "/__clerk/user/password", {
        "current_password": PASSWORD, "new_password": "new sturdy passphrase",
        "confirm_password": "new sturdy passphrase"}, page="/user?page=security")
    assert response.status_code == 303
    assert me(client)["email"] == "ada@example.com", "this device stays signed in"
    notice = app.extensions["clerk"].instance.dev_mailbox.mails("ada@example.com")[0]
    assert notice.subject == "Your account: password changed"
    assert laptop.get("/private").status_code == 401
    sign_out(client)
    assert sign_in(client, password="new sturdy passphrase").status_code == 303


def test_delete_account_needs_confirmation(app, client, user):
    response = profile_post(client, "/__clerk/user/delete", {"confirmation": "yes"},
                            page="/user?page=security")
    assert response.status_code == 422
    response = profile_post(client, "/__clerk/user/delete", {"confirmation": "Delete account"},
                            page="/user?page=security")
    assert response.status_code == 303
    assert client.get("/private").status_code == 401
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.query(User).count() == 0 and db.query(EmailAddress).count() == 0


def test_default_profile_page_links_back_to_the_app(app, client, user):
    body = client.get("/user").get_data(as_text=True)
    assert 'class="cl-accountPageBack" href="/"' in body and "Back to Test App" in body


def test_a_wrong_code_shows_on_its_own_address_only(app, client, user):
    for address in ("one@work.example", "two@work.example"):
        profile_post(client, "/__clerk/user/email-addresses", {"email_address": address})
    with app.extensions["clerk"].instance.store.session() as db:
        first = db.query(EmailAddress).filter_by(email_address="one@work.example").one()
    response = profile_post(client, f"/__clerk/user/email-addresses/{first.id}/verify",
                            {"code": "000000", "email_id": first.id})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.count("Incorrect code.") == 1
    assert f'id="cl-code-{first.id}-error"' in body
