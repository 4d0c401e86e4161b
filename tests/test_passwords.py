"""Password rules and hashing (SECURITY.md 6-8, 10)."""

from __future__ import annotations

import pytest

from conftest import PASSWORD, post, sign_in, sign_out
from flask_clerk.core.models import User
from flask_clerk.core.passwords import PasswordHasher, check_password, common_passwords
from flask_clerk.errors import ClerkError


def rules(password, **context):
    check_password(password, min_length=8, max_length=256, context=context)


def test_the_bundled_list_is_large():
    assert len(common_passwords()) >= 10_000
    assert "password1" in common_passwords()


@pytest.mark.parametrize("password, code", [
    ("", "form_param_missing"),
    ("seven77", "form_password_length_too_short"),
    ("x" * 257, "form_password_length_too_long"),
    ("password1", "form_password_pwned"),
    ("Password1", "form_password_pwned"),
    ("qwertyuiop", "form_password_pwned"),
])
def test_refused_passwords_say_why(password, code):
    with pytest.raises(ClerkError) as error:
        rules(password)
    assert error.value.code == code
    assert error.value.message()


def test_length_is_counted_in_characters_and_64_are_allowed():
    rules("ééééééé" + "é")  # 8 characters, 16 bytes
    with pytest.raises(ClerkError):
        rules("éééé")
    rules("a" * 64)
    rules("correct horse battery staple 🐎")


def test_no_composition_rules():
    rules("all lowercase words here")
    rules("12345678901234567890a")


def test_context_words_are_refused():
    with pytest.raises(ClerkError) as error:
        rules("alicesmith1", **{"email address": "alice.smith@example.com"})
    assert error.value.code == "form_password_context"
    assert "email address" in error.value.message()
    with pytest.raises(ClerkError):
        rules("AcmeProjects!", **{"application name": "Acme Projects"})
    rules("alice went down the long rabbit hole", **{"email address": "alice@example.com"})


def test_argon2id_with_explicit_parameters(app, client, user):
    with app.extensions["clerk"].instance.store.session() as db:
        digest = db.query(User).one().password_digest
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_hash_parameters_upgrade_on_next_sign_in(app, client, user):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    store = app.extensions["clerk"].instance.store
    with store.session() as db:
        db.query(User).one().password_digest = weak.hash(PASSWORD)
        db.commit()
    sign_out(client)
    assert sign_in(client).status_code == 303
    with store.session() as db:
        assert db.query(User).one().password_digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_sign_up_shows_why_a_password_was_refused(client):
    response = post(client, "/__clerk/sign-up", {"email_address": "x@example.com",
                                                 "password": "iloveyou"}, page="/sign-up")
    assert response.status_code == 422
    assert "most commonly used" in response.get_data(as_text=True)
