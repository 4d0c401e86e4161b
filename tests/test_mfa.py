"""Second factors (issue 6, first part): TOTP enrolment and codes, backup codes.

The codes are computed with pyotp from the secret shown, as an authenticator app
would; the engine's clock is moved (``frozen``) instead of sleeping."""

from __future__ import annotations

import pyotp
import pytest

from flask_clerk.core import mfa
from flask_clerk.core.models import BackupCode, TotpSecret
from flask_clerk.core.user_import import create_user_from_payload
from flask_clerk.core.users import create_user
from flask_clerk.errors import ClerkError


@pytest.fixture
def setup(app, fixed):
    instance = app.extensions["clerk"].instance
    db = instance.store.session()
    user = create_user(db, email_address="ada@example.com", password_digest=None,
                       first_name="Ada", last_name=None)
    db.commit()
    yield instance, db, user
    db.close()


def code_at(secret, frozen_offset_steps=0):
    from flask_clerk.core import clock

    at = int(clock.now().timestamp()) + frozen_offset_steps * 30
    return pyotp.TOTP(secret).at(at)


def test_enrolment_shows_the_secret_once_and_activates_with_a_code(setup):
    instance, db, user = setup
    enrolment = mfa.start_totp(instance, db, user)
    assert enrolment.uri.startswith("otpauth://totp/") and "secret=" in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg") and "</svg>" in enrolment.qr_svg
    stored = db.get(TotpSecret, user.id)
    assert enrolment.secret not in stored.secret_encrypted  # sealed at rest
    assert not mfa.has_second_factor(user)
    window = {code_at(enrolment.secret, shift) for shift in (-1, 0, 1)}
    with pytest.raises(ClerkError) as wrong:
        mfa.confirm_totp(instance, db, user, next(c for c in ("000000", "111111", "222222",
                                                              "333333") if c not in window))
    assert wrong.value.code == "form_code_incorrect"
    backup = mfa.confirm_totp(instance, db, user, code_at(enrolment.secret))
    assert mfa.has_second_factor(user)
    assert len(backup) == 10 and len(set(backup)) == 10
    assert all(len(code.replace("-", "")) == 16 for code in backup)  # 64 bits of hex
    with pytest.raises(ClerkError) as again:
        mfa.start_totp(instance, db, user)
    assert again.value.code == "totp_already_enabled"


def test_a_code_is_accepted_once_within_one_step_of_drift(setup, fixed):
    instance, db, user = setup
    secret = mfa.start_totp(instance, db, user).secret
    mfa.confirm_totp(instance, db, user, code_at(secret))
    fixed.advance(60)
    assert mfa.verify_totp(instance, db, user, code_at(secret, -1))  # 30 s late: fine
    assert not mfa.verify_totp(instance, db, user, code_at(secret, -1))  # replayed
    assert not mfa.verify_totp(instance, db, user, code_at(secret, -1))
    # An earlier step than the last one used is refused too.
    assert not mfa.verify_totp(instance, db, user, code_at(secret, -2))
    assert mfa.verify_totp(instance, db, user, code_at(secret))
    assert not mfa.verify_totp(instance, db, user, code_at(secret, -3))  # too old anyway
    assert mfa.verify_totp(instance, db, user, code_at(secret, 1))  # 30 s early: fine
    assert not mfa.verify_totp(instance, db, user, code_at(secret, 3))  # too far ahead
    for bad in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert not mfa.verify_totp(instance, db, user, bad)


def test_backup_codes_are_single_use_and_a_new_set_revokes_the_old(setup):
    instance, db, user = setup
    secret = mfa.start_totp(instance, db, user).secret
    first = mfa.confirm_totp(instance, db, user, code_at(secret))
    assert all(not row.code_digest.count(code.replace("-", ""))
               for row in db.query(BackupCode) for code in first)  # stored hashed
    assert mfa.use_backup_code(instance, db, user, first[0].upper())  # any case, dashes
    assert not mfa.use_backup_code(instance, db, user, first[0])  # single use
    assert mfa.use_backup_code(instance, db, user, first[1].replace("-", ""))
    second = mfa.regenerate_backup_codes(instance, db, user)
    assert not mfa.use_backup_code(instance, db, user, first[2])  # the old set is gone
    assert mfa.use_backup_code(instance, db, user, second[0])
    assert not mfa.use_backup_code(instance, db, user, "")
    mfa.remove_totp(instance, db, user)
    assert not mfa.has_second_factor(user)
    assert not mfa.use_backup_code(instance, db, user, second[1])


def test_imported_totp_and_backup_codes_work_as_they_came(app, fixed):
    import bcrypt

    instance = app.extensions["clerk"].instance
    secret = pyotp.random_base32()
    with instance.store.session() as db:
        user = create_user_from_payload(instance, db, {
            "email_address": ["grace@example.com"], "totp_secret": secret,
            "backup_codes": ["plain-code-1",
                             bcrypt.hashpw(b"bcrypt-code-2", bcrypt.gensalt(4)).decode()]})
        assert mfa.has_second_factor(user)
        assert mfa.verify_totp(instance, db, user, code_at(secret))
        assert mfa.use_backup_code(instance, db, user, "plain-code-1")
        assert mfa.use_backup_code(instance, db, user, "bcrypt-code-2")
        assert not mfa.use_backup_code(instance, db, user, "bcrypt-code-2")


def test_the_keys_of_secrets_at_rest_rotate(app, setup, monkeypatch):
    """A new first key in CLERK_ENCRYPTION_KEYS: what the old key sealed still opens
    and matches; `flask clerk keys reseal` moves every TOTP secret under the new key."""
    import dataclasses

    from flask_clerk.core.secret_box import UnreadableSecret, open_sealed

    instance, db, user = setup
    secret = mfa.start_totp(instance, db, user).secret
    codes = mfa.confirm_totp(instance, db, user, code_at(secret))
    sealed_before = db.get(TotpSecret, user.id).secret_encrypted
    new_key = "k" * 43
    monkeypatch.setattr(instance, "config_settings", dataclasses.replace(
        instance.config_settings, encryption_keys=(new_key,)))
    instance.forget_settings()
    assert mfa.verify_totp(instance, db, user, code_at(secret, 1))
    assert mfa.use_backup_code(instance, db, user, codes[0])
    # New codes are hashed under the new key, and still match.
    fresh = mfa.regenerate_backup_codes(instance, db, user)
    assert mfa.use_backup_code(instance, db, user, fresh[0])

    from flask_clerk.cli import clerk

    result = app.test_cli_runner().invoke(clerk, ["keys", "reseal"])
    assert result.exit_code == 0 and "Resealed 1 TOTP secrets" in result.output
    db.expire_all()
    sealed_after = db.get(TotpSecret, user.id).secret_encrypted
    assert sealed_after != sealed_before
    only_new = dataclasses.replace(instance.settings, secret_key="sk_test_" + "x" * 40)
    assert open_sealed(only_new, sealed_after) == secret
    with pytest.raises(UnreadableSecret):
        open_sealed(only_new, sealed_before)  # the old seal needed the old key
