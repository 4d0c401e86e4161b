"""The official ``clerk-backend-api`` SDK, unchanged, against our ``/v1`` over HTTP.

Its strict pydantic models refuse a missing key or an unknown enum value, so
every call here also checks that our JSON has Clerk's exact shape.
"""

from __future__ import annotations

import pytest
from clerk_backend_api import Clerk, models
from clerk_backend_api.security.types import VerifyTokenOptions
from clerk_backend_api.security.verifytoken import verify_token
from clerk_backend_api.utils import BackoffStrategy, RetryConfig

from conftest import PASSWORD, serve, sign_in, sign_up


@pytest.fixture
def live(app):
    with serve(app) as base_url:
        yield base_url


@pytest.fixture
def sdk(app, live):
    secret = app.config["CLERK_SECRET_KEY"]
    # No retries: a 5xx must fail the test, not be retried for an hour.
    no_retry = RetryConfig("backoff", BackoffStrategy(1, 1, 1, 1), False)
    with Clerk(bearer_auth=secret, server_url=f"{live}/v1", retry_config=no_retry) as clerk:
        yield clerk


def test_users_through_the_sdk(sdk):
    created = sdk.users.create(email_address=["grace@example.com"], password=PASSWORD,
                               first_name="Grace", last_name="Hopper", external_id="ext-1",
                               public_metadata={"plan": "pro"})
    assert created.id.startswith("user_")
    assert created.email_addresses[0].email_address == "grace@example.com"
    assert created.password_enabled and created.public_metadata == {"plan": "pro"}

    sdk.users.create(email_address=["alan@example.com"], password=PASSWORD, first_name="Alan")
    listed = sdk.users.list(request={"order_by": "+created_at"})
    assert [u.first_name for u in listed] == ["Grace", "Alan"]
    assert [u.id for u in sdk.users.list(request={"query": "hopp"})] == [created.id]
    assert [u.id for u in sdk.users.list(request={"email_address": ["grace@example.com"]})] == [
        created.id]
    assert [u.id for u in sdk.users.list(request={"external_id": ["ext-1"]})] == [created.id]
    assert sdk.users.count().total_count == 2

    assert sdk.users.get(user_id=created.id).external_id == "ext-1"
    updated = sdk.users.update(user_id=created.id, first_name="Amazing Grace",
                               username="grace_h")
    assert (updated.first_name, updated.username) == ("Amazing Grace", "grace_h")

    banned = sdk.users.ban(user_id=created.id)
    assert banned.banned is True
    assert sdk.users.unban(user_id=created.id).banned is False
    assert sdk.users.lock(user_id=created.id).locked is True
    assert sdk.users.unlock(user_id=created.id).locked is False

    merged = sdk.users.update_metadata(user_id=created.id, public_metadata={"seats": 3},
                                       private_metadata={"stripe": "cus_1"})
    assert merged.public_metadata == {"plan": "pro", "seats": 3}
    assert merged.private_metadata == {"stripe": "cus_1"}
    assert sdk.users.verify_password(user_id=created.id, password=PASSWORD).verified is True

    deleted = sdk.users.delete(user_id=created.id)
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(models.ClerkErrors) as missing:
        sdk.users.get(user_id=created.id)
    assert missing.value.data.errors[0].code == "resource_not_found"


def test_errors_arrive_as_clerk_errors(sdk):
    sdk.users.create(email_address=["grace@example.com"], password=PASSWORD)
    with pytest.raises(models.ClerkErrors) as taken:
        sdk.users.create(email_address=["Grace@Example.com"], password=PASSWORD)
    assert taken.value.data.errors[0].code == "form_identifier_exists"
    with pytest.raises(models.ClerkErrors) as invalid:
        sdk.users.create(email_address=["not-an-email"], password=PASSWORD)
    assert invalid.value.data.errors[0].code == "form_email_invalid"
    # Clerk's spec declares this endpoint's 422 without a schema: the SDK's generic error.
    with pytest.raises(models.SDKError) as wrong:
        sdk.users.verify_password(user_id=sdk.users.list()[0].id, password="wrong password")
    assert wrong.value.status_code == 422 and "form_password_incorrect" in wrong.value.body


def test_organizations_and_memberships_through_the_sdk(sdk):
    owner = sdk.users.create(email_address=["owner@example.com"], password=PASSWORD)
    member = sdk.users.create(email_address=["member@example.com"], password=PASSWORD)
    organization = sdk.organizations.create(request={
        "name": "Acme Inc", "created_by": owner.id, "public_metadata": {"tier": "gold"}})
    assert organization.slug == "acme-inc" and organization.members_count == 1
    sdk.organizations.create(request={"name": "Globex"})

    listed = sdk.organizations.list(query="acme")
    assert listed.total_count == 1 and listed.data[0].id == organization.id
    assert sdk.organizations.list().total_count == 2

    added = sdk.organization_memberships.create(organization_id=organization.id,
                                                user_id=member.id, role="org:member",
                                                public_metadata={"team": "red"})
    assert added.role == "org:member" and added.public_user_data.user_id == member.id
    assert added.public_metadata == {"team": "red"}
    memberships = sdk.organization_memberships.list(organization_id=organization.id)
    assert memberships.total_count == 2
    assert {m.public_user_data.identifier for m in memberships.data} == {
        "owner@example.com", "member@example.com"}
    promoted = sdk.organization_memberships.update(organization_id=organization.id,
                                                   user_id=member.id, role="org:admin")
    assert promoted.role == "org:admin"
    of_user = sdk.users.get_organization_memberships(user_id=member.id)
    assert [m.organization.id for m in of_user.data] == [organization.id]


def test_sessions_through_the_sdk_and_a_token_verified_against_our_jwks(app, client, sdk, live):
    sign_up(client, app)
    user = sdk.users.list(request={"email_address": ["ada@example.com"]})[0]
    sessions = sdk.sessions.list(user_id=user.id, status="active")
    assert len(sessions) == 1 and sessions[0].status == "active"

    token = client.get_cookie("__session").value
    claims = verify_token(token, VerifyTokenOptions(
        secret_key=app.config["CLERK_SECRET_KEY"], api_url=live))
    assert claims["sub"] == user.id and claims["sid"] == sessions[0].id

    revoked = sdk.sessions.revoke(session_id=sessions[0].id)
    assert revoked.status == "revoked"
    assert sdk.sessions.list(user_id=user.id, status="active") == []
    assert client.get("/whoami").get_json()["user_id"] is None
    sign_in(client)
    assert len(sdk.sessions.list(user_id=user.id)) == 2


def test_second_factors_and_passkeys_through_the_sdk(app, sdk):
    import pyotp
    from test_passkeys import register

    from flask_clerk.core import clock, mfa
    from flask_clerk.core.models import BackupCode, Passkey, User

    created = sdk.users.create(email_address=["grace@example.com"], password=PASSWORD)
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        user = db.get(User, created.id)
        secret = mfa.start_totp(instance, db, user).secret
        codes = mfa.confirm_totp(instance, db, user, pyotp.TOTP(secret).at(clock.now()))
        passkey_id = register(instance, db, user).id
    fetched = sdk.users.get(user_id=created.id)
    assert fetched.two_factor_enabled is True
    assert [(p.id, p.name) for p in fetched.passkeys] == [(passkey_id, "Passkey")]

    # Codes are single use: the one that enrolled is spent; the next step's works.
    next_code = pyotp.TOTP(secret).at(clock.now().timestamp() + 30)
    verified = sdk.users.verify_totp(user_id=created.id, code=next_code)
    assert verified.verified is True and verified.code_type == models.CodeType.TOTP
    assert sdk.users.verify_totp(user_id=created.id, code=codes[0]).code_type == (
        models.CodeType.BACKUP_CODE)
    with pytest.raises(models.SDKError) as refused:  # a 422 Clerk's spec gives no schema
        sdk.users.verify_totp(user_id=created.id, code=codes[0])
    assert refused.value.status_code == 422 and "form_code_incorrect" in refused.value.body

    assert sdk.users.delete_backup_codes(user_id=created.id).user_id == created.id
    assert sdk.users.delete_passkey(user_id=created.id,
                                    passkey_identification_id=passkey_id).deleted is True
    assert sdk.users.disable_mfa(user_id=created.id).user_id == created.id
    after = sdk.users.get(user_id=created.id)
    assert after.two_factor_enabled is False and after.mfa_disabled_at
    with instance.store.session() as db:
        assert db.query(BackupCode).count() == 0 and db.query(Passkey).count() == 0
