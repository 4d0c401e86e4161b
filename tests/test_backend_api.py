"""The Backend API's own rules: the secret key, Clerk's errors and envelopes, strict
parameters, the rate limit, idempotency, and what each action does to users."""

from __future__ import annotations

import pytest
from flask_wtf import CSRFProtect

from conftest import PASSWORD, last_code, post, sign_in, sign_up


def api(client, method, path, json=None, headers=None, key=None):
    secret = key if key is not None else client.application.config["CLERK_SECRET_KEY"]
    return client.open(path, method=method, json=json,
                       headers={"Authorization": f"Bearer {secret}", **(headers or {})})


def new_user(client, email="grace@example.com", **fields):
    response = api(client, "POST", "/v1/users",
                   {"email_address": [email], "password": PASSWORD, **fields})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def error_code(response):
    body = response.get_json()
    assert set(body) == {"errors", "clerk_trace_id"}
    error = body["errors"][0]
    assert {"code", "message", "long_message", "meta"} <= set(error)
    return error["code"]


def test_the_secret_key_is_required(client):
    for headers in ({}, {"Authorization": "Bearer sk_test_wrong"},
                    {"Authorization": "Basic abc"}):
        response = client.get("/v1/users", headers=headers)
        assert response.status_code == 401
        assert error_code(response) == "authentication_invalid"
    assert api(client, "GET", "/v1/users").status_code == 200
    # The public keys stay public.
    assert client.get("/v1/jwks").status_code == 200


def test_unknown_paths_answer_in_clerk_format(client):
    response = api(client, "GET", "/v1/no-such-thing")
    assert response.status_code == 404 and error_code(response) == "resource_not_found"
    assert api(client, "GET", "/v1/users/user_missing").status_code == 404


def test_envelopes_match_clerks(client):
    user = new_user(client)
    assert isinstance(api(client, "GET", "/v1/users").get_json(), list)
    assert isinstance(api(client, "GET", f"/v1/sessions?user_id={user['id']}").get_json(), list)
    assert isinstance(api(client, "GET", "/v1/invitations").get_json(), list)
    organizations = api(client, "GET", "/v1/organizations").get_json()
    assert organizations == {"data": [], "total_count": 0}
    memberships = api(client, "GET", f"/v1/users/{user['id']}/organization_memberships")
    assert memberships.get_json() == {"data": [], "total_count": 0}
    # Every required key is present even when null; times are unix milliseconds.
    assert user["username"] is None and user["last_sign_in_at"] is None
    assert user["created_at"] > 1_600_000_000_000


@pytest.mark.parametrize("body, code, field", [
    ({"email_address": ["a@example.com"], "password": PASSWORD, "nickname": "x"},
     "form_param_unknown", "nickname"),
    ({"email_address": "a@example.com", "password": PASSWORD}, "form_param_format_invalid",
     "email_address"),
    ({"email_address": ["not an email"], "password": PASSWORD}, "form_email_invalid",
     "email_address"),
    ({"email_address": ["a@example.com"], "password": 12345678}, "form_param_format_invalid",
     "password"),
    ({"email_address": ["a@example.com"], "password": "short"},
     "form_password_length_too_short", "password"),
    ({"email_address": ["a@example.com"], "password_digest": "$2b$nope",
      "password_hasher": "bcrypt"}, "form_param_format_invalid", "password_digest"),
    ({"email_address": ["a@example.com"], "password_digest": "abc",
      "password_hasher": "rot13"}, "form_param_format_invalid", "password_hasher"),
])
def test_bad_input_is_a_422_naming_the_parameter(client, body, code, field):
    response = api(client, "POST", "/v1/users", body)
    assert response.status_code == 422
    assert error_code(response) == code
    assert response.get_json()["errors"][0]["meta"]["param_name"] == field
    assert api(client, "GET", "/v1/users").get_json() == []  # nothing half-written


def test_malformed_bodies_and_queries(client):
    secret = client.application.config["CLERK_SECRET_KEY"]
    response = client.post("/v1/users", data="{not json", headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "request_body_invalid"
    assert error_code(api(client, "POST", "/v1/users", [1, 2])) == "request_body_invalid"
    for query in ("limit=0", "limit=501", "limit=x", "offset=-1", "order_by=password",
                  "banned=maybe", "colour=red"):
        response = api(client, "GET", f"/v1/users?{query}")
        assert response.status_code == 422, query
    assert api(client, "GET", "/v1/sessions").status_code == 422  # user_id or client_id
    # NUL characters fit in neither SQLite statements nor PostgreSQL text: a 4xx.
    assert error_code(api(client, "POST", "/v1/users", {
        "email_address": ["a@example.com"], "password": PASSWORD, "first_name": "A\u0000"})
    ) == "form_param_format_invalid"
    assert api(client, "GET", "/v1/users/user_a%00b").status_code == 404
    assert api(client, "GET", "/v1/users?query=a%00b").status_code == 422


def test_duplicate_identifiers_are_refused(client):
    first = new_user(client, username="grace", external_id="legacy-1")
    for fields in ({"email_address": ["GRACE@example.com"]},
                   {"email_address": ["other@example.com"], "username": "grace"},
                   {"email_address": ["other@example.com"], "external_id": "legacy-1"}):
        response = api(client, "POST", "/v1/users", {"password": PASSWORD, **fields})
        assert response.status_code == 422 and error_code(response) == "form_identifier_exists"
    other = new_user(client, "alan@example.com")
    response = api(client, "PATCH", f"/v1/users/{other['id']}", {"username": "grace"})
    assert error_code(response) == "form_identifier_exists"
    assert len(api(client, "GET", "/v1/users").get_json()) == 2
    assert api(client, "GET", f"/v1/users/{first['id']}").get_json()["username"] == "grace"


def test_the_rate_limit_is_per_secret_key_with_retry_after(make_app):
    app = make_app(CLERK_RATE_LIMITS={"backend_api": "3/10 seconds"})
    client = app.test_client()
    for _ in range(3):
        assert api(client, "GET", "/v1/users").status_code == 200
    limited = api(client, "GET", "/v1/users")
    assert limited.status_code == 429 and error_code(limited) == "too_many_requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 10


def test_an_idempotency_key_replays_the_first_response(client):
    body = {"email_address": ["grace@example.com"], "password": PASSWORD}
    first = api(client, "POST", "/v1/users", body, headers={"Idempotency-Key": "k1"})
    again = api(client, "POST", "/v1/users", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api(client, "GET", "/v1/users").get_json()) == 1
    # The same key with another body is a mistake, not a replay.
    other = api(client, "POST", "/v1/users", {**body, "first_name": "G"},
                headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422 and error_code(other) == "idempotency_key_reused"
    # An error is replayed too (it is the first response)...
    taken = api(client, "POST", "/v1/users", body, headers={"Idempotency-Key": "k2"})
    assert error_code(taken) == "form_identifier_exists"
    assert api(client, "POST", "/v1/users", body,
               headers={"Idempotency-Key": "k2"}).headers["Idempotent-Replayed"] == "true"


def test_idempotency_records_expire_after_a_day(client, frozen):
    body = {"email_address": ["grace@example.com"], "password": PASSWORD}
    api(client, "POST", "/v1/users", body, headers={"Idempotency-Key": "k"})
    frozen.advance(24 * 3600 + 1)
    late = api(client, "POST", "/v1/users", body, headers={"Idempotency-Key": "k"})
    assert "Idempotent-Replayed" not in late.headers
    assert error_code(late) == "form_identifier_exists"  # it ran again


def test_csrf_protection_of_the_app_does_not_block_the_api(make_app):
    app = make_app()
    CSRFProtect(app)  # set up after ClerkAuth, as the demo does
    app.add_url_rule("/form", "form", lambda: "ok", methods=["POST"])
    client = app.test_client()
    assert api(client, "POST", "/v1/users",
               {"email_address": ["grace@example.com"], "password": PASSWORD}).status_code == 200
    # ...while the application's own forms stay protected.
    assert client.post("/form").status_code == 400


def test_ban_revokes_sessions_and_refuses_sign_in(app, client):
    sign_up(client, app)
    user_id = client.get("/whoami").get_json()["user_id"]
    admin = app.test_client()
    assert api(admin, "POST", f"/v1/users/{user_id}/ban").get_json()["banned"] is True
    sessions = api(admin, "GET", f"/v1/sessions?user_id={user_id}").get_json()
    assert [s["status"] for s in sessions] == ["revoked"]
    assert client.get("/whoami").get_json()["user_id"] is None
    refused = sign_in(client)
    assert "suspended" in refused.get_data(as_text=True)
    api(admin, "POST", f"/v1/users/{user_id}/unban")
    assert sign_in(client).status_code == 303


def test_lock_refuses_sign_in_until_unlocked(app, client):
    sign_up(client, app)
    user_id = client.get("/whoami").get_json()["user_id"]
    post(client, "/__clerk/sign-out", {})
    sign_in(client)
    admin = app.test_client()
    locked = api(admin, "POST", f"/v1/users/{user_id}/lock").get_json()
    assert locked["locked"] is True and locked["lockout_expires_in_seconds"] > 0
    assert client.get("/whoami").get_json()["user_id"] is None  # its sessions revoked
    assert "locked" in sign_in(client).get_data(as_text=True)
    assert api(admin, "POST", f"/v1/users/{user_id}/unlock").get_json()["locked"] is False
    assert sign_in(client).status_code == 303


def test_metadata_merges_deeply_and_null_removes(client):
    user = new_user(client, public_metadata={"plan": "pro", "limits": {"seats": 3, "apps": 1}})
    merged = api(client, "PATCH", f"/v1/users/{user['id']}/metadata", {
        "public_metadata": {"limits": {"seats": 5, "apps": None}, "plan": None, "beta": True}})
    assert merged.get_json()["public_metadata"] == {"limits": {"seats": 5}, "beta": True}
    assert api(client, "PATCH", f"/v1/users/{user['id']}/metadata",
               {"public_metadata": []}).status_code == 422


def test_patching_a_password_can_sign_out_every_session(app, client):
    sign_up(client, app)
    user_id = client.get("/whoami").get_json()["user_id"]
    admin = app.test_client()
    response = api(admin, "PATCH", f"/v1/users/{user_id}",
                   {"password": "a-whole-new-password-9", "sign_out_of_other_sessions": True})
    assert response.status_code == 200
    assert client.get("/whoami").get_json()["user_id"] is None
    assert sign_in(client, password="a-whole-new-password-9").status_code == 303


def test_deleting_a_user_answers_a_deleted_object(client):
    user = new_user(client, external_id="legacy-7")
    response = api(client, "DELETE", f"/v1/users/{user['id']}")
    assert response.get_json() == {"object": "user", "id": user["id"], "deleted": True,
                                   "external_id": "legacy-7"}
    assert api(client, "DELETE", f"/v1/users/{user['id']}").status_code == 404


def test_organizations_by_id_or_slug_update_and_delete(client):
    owner = new_user(client)
    organization = api(client, "POST", "/v1/organizations",
                       {"name": "Acme", "created_by": owner["id"],
                        "max_allowed_memberships": 5}).get_json()
    assert api(client, "GET", "/v1/organizations/acme").get_json()["id"] == organization["id"]
    updated = api(client, "PATCH", f"/v1/organizations/{organization['id']}",
                  {"name": "Acme Corp", "slug": "acme-corp", "admin_delete_enabled": False})
    assert updated.get_json()["slug"] == "acme-corp"
    assert updated.get_json()["max_allowed_memberships"] == 5
    taken = api(client, "POST", "/v1/organizations", {"name": "Other", "slug": "acme-corp"})
    assert error_code(taken) == "form_identifier_exists"
    merged = api(client, "PATCH", f"/v1/organizations/{organization['id']}/metadata",
                 {"private_metadata": {"crm": "42"}})
    assert merged.get_json()["private_metadata"] == {"crm": "42"}
    # The last admin stays, whoever asks.
    demote = api(client, "PATCH",
                 f"/v1/organizations/{organization['id']}/memberships/{owner['id']}",
                 {"role": "org:member"})
    assert error_code(demote) == "organization_minimum_permissions_needed"
    deleted = api(client, "DELETE", f"/v1/organizations/{organization['id']}")
    assert deleted.get_json()["deleted"] is True
    assert api(client, "GET", "/v1/organizations/acme-corp").status_code == 404


def test_organization_invitations_list_create_revoke(app, client):
    owner = new_user(client)
    org_id = api(client, "POST", "/v1/organizations",
                 {"name": "Acme", "created_by": owner["id"]}).get_json()["id"]
    invitation = api(client, "POST", f"/v1/organizations/{org_id}/invitations",
                     {"email_address": "new@example.com", "role": "org:member",
                      "inviter_user_id": owner["id"], "public_metadata": {"src": "api"}})
    assert invitation.status_code == 200, invitation.get_json()
    body = invitation.get_json()
    assert body["status"] == "pending" and body["public_metadata"] == {"src": "api"}
    assert app.extensions["clerk"].instance.dev_mailbox.mails("new@example.com")
    listed = api(client, "GET", f"/v1/organizations/{org_id}/invitations?status=pending")
    assert listed.get_json()["total_count"] == 1
    revoked = api(client, "POST",
                  f"/v1/organizations/{org_id}/invitations/{body['id']}/revoke")
    assert revoked.get_json()["status"] == "revoked"
    assert api(client, "GET", f"/v1/organizations/{org_id}/invitations?status=pending"
               ).get_json()["total_count"] == 0


def test_instance_invitations_are_accepted_by_signing_up(app, client):
    admin = app.test_client()
    created = api(admin, "POST", "/v1/invitations",
                  {"email_address": "ada@example.com", "public_metadata": {"beta": True}})
    assert created.status_code == 200, created.get_json()
    invitation = created.get_json()
    assert invitation["id"].startswith("inv_") and invitation["status"] == "pending"
    mail = app.extensions["clerk"].instance.dev_mailbox.mails("ada@example.com")[0]
    assert "/sign-up?__clerk_ticket=" in mail.text
    again = api(admin, "POST", "/v1/invitations", {"email_address": "ada@example.com"})
    assert error_code(again) == "duplicate_invitation"

    sign_up(client, app)
    listed = api(admin, "GET", "/v1/invitations?status=accepted").get_json()
    assert [i["id"] for i in listed] == [invitation["id"]]
    refused = api(admin, "POST", f"/v1/invitations/{invitation['id']}/revoke")
    assert refused.status_code == 400

    other = api(admin, "POST", "/v1/invitations",
                {"email_address": "bob@example.com", "notify": False}).get_json()
    assert not app.extensions["clerk"].instance.dev_mailbox.mails("bob@example.com")
    revoked = api(admin, "POST", f"/v1/invitations/{other['id']}/revoke").get_json()
    assert revoked["status"] == "revoked" and revoked["revoked"] is True


def test_users_list_filters_order_and_pagination(client):
    ids = [new_user(client, f"user{i}@example.com", first_name=f"N{i}")["id"] for i in range(5)]
    page = api(client, "GET", "/v1/users?order_by=+created_at&limit=2&offset=1").get_json()
    assert [u["id"] for u in page] == ids[1:3]
    assert [u["id"] for u in api(client, "GET",
                                 f"/v1/users?user_id={ids[0]}&user_id={ids[4]}"
                                 "&order_by=+created_at").get_json()] == [ids[0], ids[4]]
    assert api(client, "GET", "/v1/users/count?query=user3").get_json() == {
        "object": "total_count", "total_count": 1}
    # LIKE wildcards in a query are literal.
    assert api(client, "GET", "/v1/users/count?query=%25").get_json()["total_count"] == 0
    assert api(client, "GET", "/v1/users?query=USER2%40EXAMPLE").get_json()[0]["id"] == ids[2]


def test_verify_password_counts_towards_the_lockout(make_app):
    app = make_app(CLERK_LOCKOUT_ATTEMPTS=2)
    client = app.test_client()
    user = new_user(client)
    for _ in range(2):
        assert api(client, "POST", f"/v1/users/{user['id']}/verify_password",
                   {"password": "wrong-wrong-wrong"}).status_code == 422
    locked = api(client, "POST", f"/v1/users/{user['id']}/verify_password",
                 {"password": PASSWORD})
    assert locked.status_code == 403 and error_code(locked) == "user_locked"


def test_sign_up_code_still_required_for_an_invited_address(app, client):
    """The invitation link does not stand in for the email code (yet): the address
    is proven by the sign-up's own code."""
    api(app.test_client(), "POST", "/v1/invitations", {"email_address": "ada@example.com"})
    post(client, "/__clerk/sign-up", {"email_address": "ada@example.com",
                                      "password": PASSWORD, "first_name": "Ada",
                                      "last_name": "L"}, page="/sign-up")
    assert last_code(app, "ada@example.com")


def test_a_password_check_is_never_replayed(client):
    user = new_user(client)
    headers = {"Idempotency-Key": "same"}
    path = f"/v1/users/{user['id']}/verify_password"
    assert api(client, "POST", path, {"password": PASSWORD}, headers).status_code == 200
    api(client, "PATCH", f"/v1/users/{user['id']}", {"password": "another-password-77"})
    again = api(client, "POST", path, {"password": PASSWORD}, headers)
    assert again.status_code == 422 and "Idempotent-Replayed" not in again.headers


def test_idempotency_keeps_no_plain_hash_of_a_body(app, client):
    """A body may hold a password: what is stored to recognise it is keyed."""
    import hashlib
    import json

    from flask_clerk.core.models import IdempotencyRecord

    raw = json.dumps({"email_address": ["grace@example.com"], "password": PASSWORD}).encode()
    client.post("/v1/users", data=raw, headers={
        "Authorization": f"Bearer {app.config['CLERK_SECRET_KEY']}", "Idempotency-Key": "k",
        "Content-Type": "application/json"})
    with app.extensions["clerk"].instance.store.session() as db:
        stored = db.query(IdempotencyRecord).one().request_hash
    assert stored not in {hashlib.sha256(raw).hexdigest(),
                          hashlib.sha256(raw + b"\0").hexdigest()}


def test_an_abandoned_claim_is_given_up(app, client, frozen):
    from flask_clerk.core import clock
    from flask_clerk.core.models import IdempotencyRecord

    with app.extensions["clerk"].instance.store.session() as db:
        body = {"email_address": ["grace@example.com"], "password": PASSWORD}
        api(client, "POST", "/v1/users", body, headers={"Idempotency-Key": "k"})
        record = db.query(IdempotencyRecord).one()
        record.status_code, record.body = None, None  # as if its process had died
        db.commit()
    body = {"email_address": ["grace@example.com"], "password": PASSWORD}
    assert api(client, "POST", "/v1/users", body,
               headers={"Idempotency-Key": "k"}).status_code == 409
    frozen.advance(6 * 60)
    assert error_code(api(client, "POST", "/v1/users", body,
                          headers={"Idempotency-Key": "k"})) == "form_identifier_exists"
    assert clock.now()  # the clock moved, the claim was given up and the request ran


@pytest.mark.parametrize("body, code", [
    ({"password": ""}, "form_param_missing"),
    ({"password": "x" * 300, "skip_password_checks": True}, "form_password_length_too_long"),
])
def test_a_patched_password_is_bounded_even_unchecked(client, body, code):
    user = new_user(client)
    response = api(client, "PATCH", f"/v1/users/{user['id']}", body)
    assert response.status_code == 422 and error_code(response) == code
    assert api(client, "POST", f"/v1/users/{user['id']}/verify_password",
               {"password": PASSWORD}).status_code == 200


def test_backup_code_digests_keep_within_work_bounds(client):
    import bcrypt

    costly = "$2b$31$" + bcrypt.gensalt(4).decode()[7:] + "a" * 31
    response = api(client, "POST", "/v1/users", {
        "email_address": ["a@example.com"], "password": PASSWORD, "backup_codes": [costly]})
    assert response.status_code == 422 and error_code(response) == "form_param_format_invalid"
