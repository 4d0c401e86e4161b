"""Passkeys (WebAuthn): registration, sign-in with and without a username, and the
checks around the ceremonies (SECURITY.md 15).

A software authenticator (:mod:`webauthn_authenticator`) signs real responses, so
py_webauthn's verification runs for real; the engine's clock is stopped and moved
(``fixed``) instead of sleeping."""

from __future__ import annotations

import hashlib
import json
import logging
import threading

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from webauthn_authenticator import Authenticator, AuthenticatorError, b64url, unb64url

from flask_clerk.core import passkeys
from flask_clerk.core.models import Passkey, WebAuthnChallenge, WebhookMessage
from flask_clerk.core.passkeys import CHALLENGE_LIFETIME, MAX_PASSKEYS, RelyingParty
from flask_clerk.core.users import create_user
from flask_clerk.errors import ClerkError, NotFound

ORIGIN = "http://localhost:5000"
RP = RelyingParty(id="localhost", name="Test App", origins=(ORIGIN,))


@pytest.fixture
def setup(app, fixed):
    instance = app.extensions["clerk"].instance
    db = instance.store.session()
    yield instance, db, new_user(db, "ada@example.com", "Ada", "Lovelace")
    db.close()


def new_user(db, email, first_name=None, last_name=None):
    user = create_user(db, email_address=email, password_digest=None, first_name=first_name,
                       last_name=last_name)
    db.commit()
    return user


def register(instance, db, user, key=None, *, binding="sess_1", name=None):
    options = passkeys.registration_options(instance, db, user, RP, binding=binding)
    credential = (key or Authenticator()).create(options, ORIGIN)
    return passkeys.register_passkey(instance, db, user, RP, binding=binding,
                                     credential=credential, name=name)


def sign_in(instance, db, key, *, binding="sia_1", user=None, origin=ORIGIN):
    options = passkeys.authentication_options(instance, db, RP, binding=binding, user=user)
    return passkeys.verify_passkey(instance, db, RP, binding=binding, user=user,
                                   credential=key.get(options, origin))


def refused(code, call, *args, **kwargs):
    with pytest.raises(ClerkError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.code
    return caught.value


def stored(app, passkey_id):
    """The row as committed (read in a session of its own)."""
    with app.extensions["clerk"].instance.store.session() as other:
        return other.get(Passkey, passkey_id)


# --- Registration and usernameless sign-in ------------------------------------------------


def test_a_registered_passkey_signs_in_without_a_username(app, setup, fixed):
    instance, db, ada = setup
    options = json.loads(passkeys.registration_options(instance, db, ada, RP, binding="s"))
    assert options["rp"] == {"id": "localhost", "name": "Test App"}
    assert unb64url(options["user"]["id"]) == ada.id.encode()
    assert options["user"]["name"] == "ada@example.com"
    assert options["user"]["displayName"] == "Ada Lovelace"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -257, -8]
    assert options["attestation"] == "none" and options["excludeCredentials"] == []
    assert len(unb64url(options["challenge"])) >= 16

    key = Authenticator(backup_eligible=True)
    passkey = passkeys.register_passkey(instance, db, ada, RP, binding="s",
                                        credential=key.create(json.dumps(options), ORIGIN))
    assert passkey.id.startswith("idn_") and passkey.user_id == ada.id
    assert passkey.name == "Passkey" and passkey.sign_count == 0
    assert passkey.credential_id == b64url(key.credentials[0].id)
    assert passkey.transports == ["hybrid", "internal"]
    assert passkey.aaguid == "00000000-0000-0000-0000-000000000000"
    assert passkey.backed_up is False and passkey.last_used_at is None

    fixed.advance(60)
    options = json.loads(passkeys.authentication_options(instance, db, RP, binding="f"))
    assert options["allowCredentials"] == [] and options["rpId"] == "localhost"
    assert options["userVerification"] == "required"
    key.backed_up = True  # synced since
    used = passkeys.verify_passkey(instance, db, RP, binding="f",
                                   credential=key.get(json.dumps(options), ORIGIN))
    assert used.id == passkey.id and used.user_id == ada.id
    row = stored(app, passkey.id)
    assert row.sign_count == 1 and row.last_used_at == fixed.at and row.backed_up is True
    assert row.sign_count_regressed_at is None


def test_challenges_are_stored_bound_to_a_hash_and_replaced_by_the_next(setup):
    instance, db, ada = setup
    key = Authenticator()
    register(instance, db, ada, key)
    first = passkeys.authentication_options(instance, db, RP, binding="flow-token")
    second = passkeys.authentication_options(instance, db, RP, binding="flow-token")
    rows = db.scalars(select(WebAuthnChallenge)).all()
    assert [(r.binding, r.purpose, r.user_id) for r in rows] == [
        (hashlib.sha256(b"flow-token").hexdigest(), "authentication", None)]
    assert rows[0].challenge == json.loads(second)["challenge"]
    # The first options' challenge is gone: their answer fails, and uses the second up.
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP,
            binding="flow-token", credential=key.get(first, ORIGIN))
    refused("passkey_challenge_expired", passkeys.verify_passkey, instance, db, RP,
            binding="flow-token", credential=key.get(second, ORIGIN))


def test_several_passkeys_get_distinct_names_up_to_the_limit(setup, fixed):
    instance, db, ada = setup
    made = []
    for _ in range(MAX_PASSKEYS - 1):
        made.append(register(instance, db, ada))
        fixed.advance(1)
    # Two registrations started at 9: the first to finish makes 10, the second is refused.
    first = passkeys.registration_options(instance, db, ada, RP, binding="a")
    second = passkeys.registration_options(instance, db, ada, RP, binding="b")
    made.append(passkeys.register_passkey(instance, db, ada, RP, binding="a",
                                          credential=Authenticator().create(first, ORIGIN)))
    error = refused("passkey_limit_reached", passkeys.register_passkey, instance, db, ada, RP,
                    binding="b", credential=Authenticator().create(second, ORIGIN))
    assert error.message() == "You can have at most 10 passkeys. Remove one first."
    refused("passkey_limit_reached", passkeys.registration_options, instance, db, ada, RP,
            binding="c")
    assert [p.name for p in made] == ["Passkey"] + [f"Passkey {n}" for n in range(2, 11)]
    assert [p.id for p in passkeys.passkeys_of(db, ada)] == [p.id for p in reversed(made)]

    passkeys.remove_passkey(instance, db, ada, made[1].id)
    assert register(instance, db, ada).name == "Passkey 2"  # the free name, room again
    assert register(instance, db, new_user(db, "bob@example.com")).name == "Passkey"


def test_a_name_given_at_registration_is_tidied_or_refused(setup):
    instance, db, ada = setup
    options = passkeys.registration_options(instance, db, ada, RP, binding="s")
    credential = Authenticator().create(options, ORIGIN)
    refused("form_param_format_invalid", passkeys.register_passkey, instance, db, ada, RP,
            binding="s", credential=credential, name="x" * 101)
    passkey = passkeys.register_passkey(instance, db, ada, RP, binding="s",
                                        credential=credential, name="  Work   laptop ")
    assert passkey.name == "Work laptop"


def test_the_exclude_list_holds_the_users_passkeys(setup):
    instance, db, ada = setup
    key = Authenticator()
    mine = {register(instance, db, ada, key).credential_id,
            register(instance, db, ada).credential_id}
    register(instance, db, new_user(db, "bob@example.com"))
    options = passkeys.registration_options(instance, db, ada, RP, binding="s")
    excluded = json.loads(options)["excludeCredentials"]
    assert {c["id"] for c in excluded} == mine
    assert all(c["type"] == "public-key" and c["transports"] == ["hybrid", "internal"]
               for c in excluded)
    with pytest.raises(AuthenticatorError) as again:  # and so the browser refuses
        key.create(options, ORIGIN)
    assert again.value.name == "InvalidStateError"


def test_a_credential_id_is_registered_once(setup):
    instance, db, ada = setup
    bob = new_user(db, "bob@example.com")
    taken = register(instance, db, ada)
    for user in (bob, ada):  # someone else's, or the user's own past the exclude list
        options = passkeys.registration_options(instance, db, user, RP, binding="s")
        credential = Authenticator().create(options, ORIGIN,
                                            credential_id=unb64url(taken.credential_id))
        refused("passkey_already_registered", passkeys.register_passkey, instance, db, user,
                RP, binding="s", credential=credential)
    assert [p.user_id for p in db.scalars(select(Passkey))] == [ada.id]


# --- Challenges: single use, expiring, bound -----------------------------------------------


def test_a_registration_response_is_used_once(setup):
    instance, db, ada = setup
    options = passkeys.registration_options(instance, db, ada, RP, binding="s")
    credential = Authenticator().create(options, ORIGIN)
    passkeys.register_passkey(instance, db, ada, RP, binding="s", credential=credential)
    refused("passkey_challenge_expired", passkeys.register_passkey, instance, db, ada, RP,
            binding="s", credential=credential)
    passkeys.registration_options(instance, db, ada, RP, binding="s")  # a new challenge
    refused("passkey_invalid", passkeys.register_passkey, instance, db, ada, RP,
            binding="s", credential=credential)
    assert len(passkeys.passkeys_of(db, ada)) == 1


def test_an_assertion_is_used_once(app, setup):
    instance, db, ada = setup
    key = Authenticator()
    passkey = register(instance, db, ada, key)
    options = passkeys.authentication_options(instance, db, RP, binding="f")
    assertion = key.get(options, ORIGIN)
    passkeys.verify_passkey(instance, db, RP, binding="f", credential=assertion)
    refused("passkey_challenge_expired", passkeys.verify_passkey, instance, db, RP,
            binding="f", credential=assertion)
    passkeys.authentication_options(instance, db, RP, binding="f")
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP, binding="f",
            credential=assertion)
    assert stored(app, passkey.id).sign_count_regressed_at is None  # not a clone: a replay


def test_a_failed_attempt_uses_the_challenge_up(setup):
    instance, db, ada = setup
    key = Authenticator()
    register(instance, db, ada, key)
    options = passkeys.authentication_options(instance, db, RP, binding="f")
    assertion = key.get(options, ORIGIN)
    guess = json.loads(assertion)
    guess["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP, binding="f",
            credential=json.dumps(guess))
    db.rollback()  # as the request's teardown would: the challenge stays used
    refused("passkey_challenge_expired", passkeys.verify_passkey, instance, db, RP,
            binding="f", credential=assertion)


def test_two_requests_racing_with_one_assertion_cannot_both_pass(setup):
    instance, db, ada = setup
    key = Authenticator(counting=False)  # the counter cannot tell the two apart
    passkey = register(instance, db, ada, key)
    for round_ in range(5):
        binding = f"race-{round_}"
        assertion = key.get(passkeys.authentication_options(instance, db, RP, binding=binding),
                            ORIGIN)
        start, results = threading.Barrier(2), []

        def attempt(binding=binding, assertion=assertion, start=start, results=results):
            with instance.store.session() as own:
                start.wait()
                try:
                    results.append(passkeys.verify_passkey(
                        instance, own, RP, binding=binding, credential=assertion).id)
                except ClerkError as error:
                    results.append(error.code)

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == sorted([passkey.id, "passkey_challenge_expired"])


def test_an_expired_challenge_is_refused(setup, fixed):
    instance, db, ada = setup
    key = Authenticator()
    options = passkeys.registration_options(instance, db, ada, RP, binding="s")
    fixed.advance(CHALLENGE_LIFETIME)
    refused("passkey_challenge_expired", passkeys.register_passkey, instance, db, ada, RP,
            binding="s", credential=key.create(options, ORIGIN))
    options = passkeys.registration_options(instance, db, ada, RP, binding="s")
    fixed.advance(CHALLENGE_LIFETIME - 1)
    register_ok = passkeys.register_passkey(instance, db, ada, RP, binding="s",
                                            credential=key.create(options, ORIGIN))

    options = passkeys.authentication_options(instance, db, RP, binding="f")
    fixed.advance(CHALLENGE_LIFETIME)
    refused("passkey_challenge_expired", passkeys.verify_passkey, instance, db, RP,
            binding="f", credential=key.get(options, ORIGIN))
    options = passkeys.authentication_options(instance, db, RP, binding="f")
    fixed.advance(CHALLENGE_LIFETIME - 1)
    assert passkeys.verify_passkey(instance, db, RP, binding="f",
                                   credential=key.get(options, ORIGIN)).id == register_ok.id


def test_a_challenge_answers_only_for_its_binding_and_user(setup):
    instance, db, ada = setup
    bob = new_user(db, "bob@example.com")
    key = Authenticator()
    options = passkeys.registration_options(instance, db, ada, RP, binding="ada-session")
    credential = key.create(options, ORIGIN)
    for user, binding in ((ada, "another-session"), (bob, "ada-session")):
        refused("passkey_challenge_expired", passkeys.register_passkey, instance, db, user,
                RP, binding=binding, credential=credential)
    passkeys.register_passkey(instance, db, ada, RP, binding="ada-session",
                              credential=credential)  # those did not use it up

    options = passkeys.authentication_options(instance, db, RP, binding="flow-a")
    assertion = key.get(options, ORIGIN)
    refused("passkey_challenge_expired", passkeys.verify_passkey, instance, db, RP,
            binding="flow-b", credential=assertion)
    assert passkeys.verify_passkey(instance, db, RP, binding="flow-a",
                                   credential=assertion).user_id == ada.id


def test_expired_challenges_are_purged(setup, fixed):
    instance, db, ada = setup
    passkeys.registration_options(instance, db, ada, RP, binding="old")
    fixed.advance(CHALLENGE_LIFETIME)
    passkeys.authentication_options(instance, db, RP, binding="new")
    fixed.advance(1)
    passkeys.purge_expired_challenges(db)
    assert [c.binding for c in db.scalars(select(WebAuthnChallenge))] == [
        hashlib.sha256(b"new").hexdigest()]


# --- Origin, RP ID, user, counter -----------------------------------------------------------


def test_a_wrong_origin_or_rp_id_is_refused(setup):
    instance, db, ada = setup
    key = Authenticator()
    for origin, rp_id in (("https://evil.example", None), ("http://localhost:5001", None),
                          (ORIGIN, "evil.example")):
        options = passkeys.registration_options(instance, db, ada, RP, binding="s")
        refused("passkey_invalid", passkeys.register_passkey, instance, db, ada, RP,
                binding="s", credential=key.create(options, origin, rp_id))
    assert passkeys.passkeys_of(db, ada) == []
    register(instance, db, ada, key)

    for origin in ("https://evil.example", "http://localhost:5001", "http://localhost"):
        refused("passkey_invalid", sign_in, instance, db, key, origin=origin)
    # A server expecting another RP ID refuses an assertion made for this one.
    other = RelyingParty(id="example.com", name="Test App", origins=(ORIGIN,))
    options = passkeys.authentication_options(instance, db, other, binding="f")
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, other, binding="f",
            credential=key.get(options, ORIGIN, rp_id="localhost"))
    assert sign_in(instance, db, key).user_id == ada.id


def test_a_user_bound_request_takes_only_that_users_passkey(setup):
    instance, db, ada = setup
    bob = new_user(db, "bob@example.com")
    ada_key, bob_key = Authenticator(), Authenticator()
    ada_passkey = register(instance, db, ada, ada_key)
    register(instance, db, bob, bob_key, binding="bob-session")

    options = passkeys.authentication_options(instance, db, RP, binding="f", user=ada)
    assert [c["id"] for c in json.loads(options)["allowCredentials"]] == [
        ada_passkey.credential_id]
    anyone = json.dumps({**json.loads(options), "allowCredentials": []})
    refused("passkey_not_found", passkeys.verify_passkey, instance, db, RP, binding="f",
            user=ada, credential=bob_key.get(anyone, ORIGIN))
    # The challenge remembers whom it was asked for, even if the caller forgets.
    options = passkeys.authentication_options(instance, db, RP, binding="f", user=ada)
    anyone = json.dumps({**json.loads(options), "allowCredentials": []})
    refused("passkey_not_found", passkeys.verify_passkey, instance, db, RP, binding="f",
            credential=bob_key.get(anyone, ORIGIN))
    assert sign_in(instance, db, ada_key, user=ada).id == ada_passkey.id


def test_an_unknown_or_removed_passkey_is_not_found(setup):
    instance, db, ada = setup
    key = Authenticator()
    refused("passkey_not_found", sign_in, instance, db, _unregistered(key, ada))
    passkey = register(instance, db, ada, key)
    passkeys.remove_passkey(instance, db, ada, passkey.id)
    refused("passkey_not_found", sign_in, instance, db, key)


def _unregistered(key, user):
    """``key`` holding a credential for ``user`` that the server never saw."""
    options = json.dumps({"rp": {"id": "localhost"}, "user": {"id": b64url(user.id.encode())},
                          "challenge": b64url(b"x" * 32), "pubKeyCredParams": [{"alg": -7}]})
    key.create(options, ORIGIN)
    return key


def test_a_user_handle_of_someone_else_is_refused(setup):
    instance, db, ada = setup
    bob = new_user(db, "bob@example.com")
    key = Authenticator()
    register(instance, db, ada, key)
    options = passkeys.authentication_options(instance, db, RP, binding="f")
    assertion = json.loads(key.get(options, ORIGIN))
    assertion["response"]["userHandle"] = b64url(bob.id.encode())  # not covered by the signature
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP, binding="f",
            credential=json.dumps(assertion))


def test_a_sign_count_going_back_is_flagged_and_refused(app, setup, fixed, caplog):
    caplog.set_level(logging.INFO, logger="flask_clerk.security")
    instance, db, ada = setup
    key = Authenticator()
    passkey = register(instance, db, ada, key)
    sign_in(instance, db, key)
    sign_in(instance, db, key)
    assert stored(app, passkey.id).sign_count == 2

    key.set_counter(passkey.credential_id, 1)  # a clone: its next count is 2, not past 2
    fixed.advance(10)
    refused("passkey_sign_count_regressed", sign_in, instance, db, key)
    row = stored(app, passkey.id)
    assert row.sign_count_regressed_at == fixed.at and row.sign_count == 2
    events = [r for r in caplog.records if r.clerk_event == "passkey.sign_count_regressed"]
    assert len(events) == 1 and events[0].clerk_fields["passkey_id"] == passkey.id
    assert sign_in(instance, db, key).id == passkey.id  # the counter moved past again: 3


def test_an_unsigned_response_cannot_flag_a_passkey(app, setup):
    instance, db, ada = setup
    key = Authenticator()
    passkey = register(instance, db, ada, key)
    sign_in(instance, db, key)
    key.set_counter(passkey.credential_id, 0)
    options = passkeys.authentication_options(instance, db, RP, binding="f")
    assertion = json.loads(key.get(options, ORIGIN))
    signature = bytearray(unb64url(assertion["response"]["signature"]))
    signature[-1] ^= 1
    assertion["response"]["signature"] = b64url(bytes(signature))
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP, binding="f",
            credential=json.dumps(assertion))
    assert stored(app, passkey.id).sign_count_regressed_at is None


def test_an_authenticator_without_a_counter_is_not_a_clone(app, setup):
    instance, db, ada = setup
    key = Authenticator(counting=False)  # synced passkeys always say 0
    passkey = register(instance, db, ada, key)
    for _ in range(3):
        assert sign_in(instance, db, key).id == passkey.id
    row = stored(app, passkey.id)
    assert row.sign_count == 0 and row.sign_count_regressed_at is None


# --- Managing one's passkeys ----------------------------------------------------------------


def test_rename_tidies_the_name_and_refuses_bad_ones(setup):
    instance, db, ada = setup
    passkey = register(instance, db, ada)
    renamed = passkeys.rename_passkey(instance, db, ada, passkey.id, "  Work \t YubiKey ")
    assert renamed.name == "Work YubiKey"
    for bad in ("", "   ", "x" * 101, "a\x00b", "\u200b", "bell\x07"):
        error = refused("form_param_format_invalid", passkeys.rename_passkey, instance, db,
                        ada, passkey.id, bad)
        assert error.field == "name"
    assert passkeys.rename_passkey(instance, db, ada, passkey.id, "é" * 100).name == "é" * 100


def test_another_users_passkey_is_not_found(setup):
    instance, db, ada = setup
    bob = new_user(db, "bob@example.com")
    passkey = register(instance, db, ada)
    for passkey_id in (passkey.id, "idn_unknown"):
        with pytest.raises(NotFound):
            passkeys.rename_passkey(instance, db, bob, passkey_id, "Mine now")
        with pytest.raises(NotFound):
            passkeys.remove_passkey(instance, db, bob, passkey_id)
    assert [p.name for p in passkeys.passkeys_of(db, ada)] == ["Passkey"]


def test_remove_logs_and_tells_the_owner(app, setup, caplog):
    caplog.set_level(logging.INFO, logger="flask_clerk.security")
    instance, db, ada = setup
    passkey = register(instance, db, ada, name="Phone")
    passkeys.remove_passkey(instance, db, ada, passkey.id)
    assert passkeys.passkeys_of(db, ada) == []
    assert stored(app, passkey.id) is None
    assert [(r.clerk_event, r.clerk_fields["passkey_id"]) for r in caplog.records
            if r.clerk_event.startswith("passkey.")] == [
        ("passkey.registered", passkey.id), ("passkey.removed", passkey.id)]
    subjects = [m.subject for m in instance.dev_mailbox.mails("ada@example.com")]
    assert subjects == ["Your account: passkey “Phone” removed",  # newest first
                        "Your account: passkey “Phone” added"]


def test_changes_are_announced_as_user_updated(make_app, fixed):
    from flask_clerk.core.webhooks import add_endpoint

    app = make_app(CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True)
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        add_endpoint(instance, db, "http://127.0.0.1:9/hook", event_types=["user.updated"])
        ada = new_user(db, "ada@example.com")
        passkey = register(instance, db, ada)
        passkeys.rename_passkey(instance, db, ada, passkey.id, "Laptop")
        passkeys.remove_passkey(instance, db, ada, passkey.id)
        messages = db.scalars(select(WebhookMessage)).all()
    assert [m.event_type for m in messages] == ["user.updated"] * 3
    assert {json.loads(m.payload)["data"]["id"] for m in messages} == {ada.id}


# --- Malformed responses --------------------------------------------------------------------


def _malformed(valid):
    """Variations of a valid response that are not one (JSON text)."""
    def changed(path, value):
        data = json.loads(valid)
        *parents, last = path
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
        return json.dumps(data)

    yield from ("", "null", "[]", "{}", "not json", '{"id": 1}', "[" * 50_000,
                " " * (passkeys.MAX_CREDENTIAL_LENGTH + 1), '"' + "a" * 70_000 + '"')
    yield changed(["type"], "password")
    yield changed(["rawId"], "!!!not base64!!!")
    yield changed(["rawId"], b64url(b"other"))  # id and rawId disagree
    yield changed(["response"], "a string")
    yield changed(["authenticatorAttachment"], "telepathy")
    for field in ("clientDataJSON", "authenticatorData", "signature", "attestationObject",
                  "userHandle"):
        for value in (None, 7, "%%%", b64url(b"\x00" * 40), b64url(b"{}"), "a"):
            yield changed(["response", field], value)
    yield changed(["response", "clientDataJSON"], b64url(json.dumps(
        {"type": "webauthn.get", "challenge": 5, "origin": ORIGIN}).encode()))
    yield changed(["response", "attestationObject"], b64url(cbor2.dumps(
        {"fmt": "none", "attStmt": {}, "authData": b"\x00" * 37})))
    yield changed(["response", "attestationObject"], b64url(cbor2.dumps(
        {"fmt": "packed", "attStmt": {"sig": 1}, "authData": "text"})))


def test_malformed_responses_are_refused_as_invalid(setup):
    instance, db, ada = setup
    key = Authenticator()
    options = passkeys.registration_options(instance, db, ada, RP, binding="s")
    valid_registration = key.create(options, ORIGIN)
    for bad in _malformed(valid_registration):
        passkeys.registration_options(instance, db, ada, RP, binding="s")
        error = refused("passkey_invalid", passkeys.register_passkey, instance, db, ada, RP,
                        binding="s", credential=bad)
        assert error.status == 422
    assert passkeys.passkeys_of(db, ada) == []

    register(instance, db, ada, key)
    options = passkeys.authentication_options(instance, db, RP, binding="f")
    valid_assertion = key.get(options, ORIGIN)
    for bad in _malformed(valid_assertion):
        passkeys.authentication_options(instance, db, RP, binding="f")
        refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP, binding="f",
                credential=bad)
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP, binding="none",
            credential="{}")  # malformed says so even with no challenge outstanding


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@FUZZ
@given(text=st.text(max_size=3000))
def test_arbitrary_text_is_an_invalid_assertion(setup, text):
    instance, db, _ = setup
    passkeys.authentication_options(instance, db, RP, binding="f")
    refused("passkey_invalid", passkeys.verify_passkey, instance, db, RP, binding="f",
            credential=text)


@pytest.fixture
def ada_key(setup):
    """An authenticator with a passkey of Ada's (registered once for all examples)."""
    instance, db, ada = setup
    key = Authenticator(counting=False)
    register(instance, db, ada, key)
    return key


@FUZZ
@given(path=st.sampled_from([("id",), ("rawId",), ("type",), ("response",),
                             ("authenticatorAttachment",), ("response", "clientDataJSON"),
                             ("response", "authenticatorData"), ("response", "signature"),
                             ("response", "userHandle")]),
       value=JSON_VALUES | st.binary(max_size=300).map(b64url)
       | JSON_VALUES.map(lambda v: b64url(json.dumps(v).encode())))
def test_a_changed_assertion_gives_a_clerk_error_or_the_passkey(setup, ada_key, path, value):
    instance, db, ada = setup
    options = passkeys.authentication_options(instance, db, RP, binding="f")
    assertion = json.loads(ada_key.get(options, ORIGIN))
    target = assertion
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    try:
        passkey = passkeys.verify_passkey(instance, db, RP, binding="f",
                                          credential=json.dumps(assertion))
    except ClerkError as error:
        assert error.code in {"passkey_invalid", "passkey_not_found"}
    else:
        assert passkey.user_id == ada.id


@FUZZ
@given(att_stmt=JSON_VALUES, fmt=st.sampled_from(["none", "packed", "fido-u2f", "tpm", "x"]),
       auth_data=st.binary(max_size=300))
def test_an_arbitrary_attestation_object_is_invalid(setup, att_stmt, fmt, auth_data):
    instance, db, ada = setup
    options = passkeys.registration_options(instance, db, ada, RP, binding="s")
    credential = json.loads(Authenticator().create(options, ORIGIN))
    credential["response"]["attestationObject"] = b64url(cbor2.dumps(
        {"fmt": fmt, "attStmt": att_stmt, "authData": auth_data}))
    refused("passkey_invalid", passkeys.register_passkey, instance, db, ada, RP, binding="s",
            credential=json.dumps(credential))


def test_a_passkey_that_only_proves_presence_is_refused(setup):
    """User verification is required: a passkey is both factors only when the
    authenticator checked the user (PIN, biometrics), not for a bare touch."""
    instance, db, ada = setup
    with pytest.raises(ClerkError) as refused:
        register(instance, db, ada, Authenticator(user_verifying=False))
    assert refused.value.code == "passkey_invalid"
    key = Authenticator()
    register(instance, db, ada, key)
    key.user_verifying = False
    with pytest.raises(ClerkError) as refused:
        sign_in(instance, db, key)
    assert refused.value.code == "passkey_invalid"
