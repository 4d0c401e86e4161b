"""Users in and out: ``POST /v1/users`` bodies validated once (parse_new_user), the
``flask clerk import`` of JSON Lines and Clerk's export CSV (batched, idempotent,
rejected rows reported), ``flask clerk export`` (streamed), and the round trip:
every user signs in with the same password on a fresh instance."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select, text

from conftest import PASSWORD, _pg_url, build_app, fresh_schema, sign_up
from flask_clerk.cli import clerk
from flask_clerk.core import webhooks as outbox
from flask_clerk.core.instance import RequestInfo
from flask_clerk.core.models import BackupCode, EmailAddress, TotpSecret, User, WebhookMessage
from flask_clerk.core.secret_box import UnreadableSecret, open_sealed, seal
from flask_clerk.core.user_export import COLUMNS, export_rows
from flask_clerk.core.user_import import (
    BODY_KEYS,
    create_user_from_payload,
    csv_row_to_body,
    import_rows,
    parse_new_user,
)
from flask_clerk.core.users import create_user
from flask_clerk.errors import ClerkError

TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
LOCAL = RequestInfo(ip_address="127.0.0.1", user_agent="pytest")


def instance_of(app):
    return app.extensions["clerk"].instance


def bcrypt_digest(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def count(app, model) -> int:
    with instance_of(app).store.session() as db:
        return db.scalar(select(func.count()).select_from(model))


def cli(app, *args: str) -> Any:
    result = app.test_cli_runner().invoke(clerk, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def signs_in(app, email: str, password: str) -> bool:
    from flask_clerk.core.sign_in import attempt_password, start_sign_in

    instance = instance_of(app)
    with instance.store.session() as db:
        _, flow_token = start_sign_in(instance, db, LOCAL, identifier=email)
        try:
            attempt_password(instance, db, LOCAL, flow_token, password)
        except ClerkError as error:
            assert error.code == "form_password_incorrect", error.code
            return False
        return True


# --- The body ------------------------------------------------------------------------------


def test_every_field_of_the_sdk_create_user_body_is_known():
    from clerk_backend_api.models import CreateUserRequestBody

    assert set(CreateUserRequestBody.model_fields) == BODY_KEYS


def test_a_full_body_creates_the_user_with_everything_in_it(app):
    instance = instance_of(app)
    digest = bcrypt_digest("backup-1")
    body = {
        "external_id": "legacy-42", "first_name": " Ada ", "last_name": "Lovelace",
        "email_address": ["Ada@Example.com", "ada.l@example.org", "ada@example.com"],
        "email_address_identification_status": ["verified", "verified", "verified"],
        "phone_number": [], "web3_wallet": None, "username": "Ada_L",
        "password": "correct-horse-battery-9", "skip_password_checks": False,
        "skip_password_requirement": True, "totp_secret": TOTP.lower(),
        "backup_codes": ["plain-code-1", digest],
        "public_metadata": {"plan": "pro"}, "private_metadata": {"crm": 7},
        "unsafe_metadata": {}, "created_at": "2012-10-20T07:15:20.902Z",
        "legal_accepted_at": "2013-01-01T00:00:00+02:00", "skip_legal_checks": True,
        "skip_user_requirement": None, "delete_self_enabled": True,
        "create_organization_enabled": False, "create_organizations_limit": 3,
        "bypass_client_trust": False, "banned": False, "locked": False, "locale": "en-GB",
    }
    with instance.store.session() as db:
        user = create_user_from_payload(instance, db, body)
        assert user.username == "ada_l" and user.external_id == "legacy-42"
        assert user.first_name == "Ada"
        assert [e.email_address for e in user.email_addresses] == [
            "ada@example.com", "ada.l@example.org"]
        assert user.primary_address == "ada@example.com"
        assert all(e.verification_status == "verified" and e.verification_strategy == "admin"
                   for e in user.email_addresses)
        assert user.created_at.isoformat() == "2012-10-20T07:15:20.902000+00:00"
        assert user.public_metadata == {"plan": "pro"} and user.private_metadata == {"crm": 7}
        assert user.password_hasher is None and instance.hasher.verify(
            user.password_digest, "correct-horse-battery-9")
        secret = db.get(TotpSecret, user.id)
        assert secret.verified and TOTP not in secret.secret_encrypted, "sealed at rest"
        assert open_sealed(instance.settings, secret.secret_encrypted) == TOTP
        codes = db.scalars(select(BackupCode.code_digest).where(BackupCode.user_id == user.id)
                           ).all()
        assert digest in codes, "a bcrypt digest is kept as it is"
        plain = next(c for c in codes if c != digest)
        assert plain.startswith("$argon2id$") and instance.hasher.verify(plain, "plain-code-1")


def test_parse_is_cheap_hashing_waits_for_creation(app, monkeypatch):
    instance = instance_of(app)
    monkeypatch.setattr(instance.hasher, "hash", lambda _: pytest.fail("hashed in parse"))
    new = parse_new_user(instance, {"email_address": ["a@example.com"],
                                    "password": "correct-horse-battery-9",
                                    "backup_codes": ["one-code"]})
    assert new.password_digest is None and new.plain_backup_codes == ["one-code"]
    assert "correct-horse" not in repr(new), "no secret in a repr"


INVALID = [
    ({"email_address": ["a@example.com"], "favourite_colour": "blue"},
     "form_param_unknown", "favourite_colour"),
    ({"email_address": "a@example.com"}, "form_param_format_invalid", "email_address"),
    ({"email_address": ["not-an-email"]}, "form_email_invalid", "email_address"),
    ({}, "form_param_missing", "email_address"),
    ({"email_address": [], "first_name": "Ada"}, "form_param_missing", "email_address"),
    ({"email_address": ["a@example.com"], "phone_number": ["+15555550100"]},
     "form_param_unknown", "phone_number"),
    ({"email_address": ["a@example.com"], "web3_wallet": ["0xabc"]},
     "form_param_unknown", "web3_wallet"),
    ({"email_address": ["a@example.com"], "email_address_identification_status": ["reserved"]},
     "form_param_value_invalid", "email_address_identification_status"),
    ({"email_address": ["a@example.com"], "email_address_identification_status": []
      + ["verified", "verified"]}, "form_param_format_invalid",
     "email_address_identification_status"),
    ({"username": "ab"}, "form_username_invalid_length", "username"),
    ({"username": "x" * 65}, "form_username_invalid_length", "username"),
    ({"username": "ada lovelace"}, "form_username_invalid_character", "username"),
    ({"username": "ada@example"}, "form_username_invalid_character", "username"),
    ({"username": 12345}, "form_param_format_invalid", "username"),
    ({"email_address": ["a@example.com"], "first_name": "x" * 101},
     "form_param_too_long", "first_name"),
    ({"email_address": ["a@example.com"], "last_name": ["Lovelace"]},
     "form_param_format_invalid", "last_name"),
    ({"email_address": ["a@example.com"], "external_id": "x" * 256},
     "form_param_too_long", "external_id"),
    ({"email_address": ["a@example.com"], "public_metadata": ["not", "an", "object"]},
     "form_param_format_invalid", "public_metadata"),
    ({"email_address": ["a@example.com"], "private_metadata": {"blob": "x" * 9000}},
     "form_param_exceeds_allowed_size", "private_metadata"),
    ({"email_address": ["a@example.com"], "unsafe_metadata": {"n": float("nan")}},
     "form_param_format_invalid", "unsafe_metadata"),
    ({"email_address": ["a@example.com"], "created_at": "yesterday"},
     "form_param_format_invalid", "created_at"),
    ({"email_address": ["a@example.com"], "created_at": "2020-01-01T00:00:00"},
     "form_param_format_invalid", "created_at"),
    ({"email_address": ["a@example.com"], "created_at": 1700000000000},
     "form_param_format_invalid", "created_at"),
    ({"email_address": ["a@example.com"], "password": "short"},
     "form_password_length_too_short", "password"),
    ({"email_address": ["a@example.com"], "password": "password123"},
     "form_password_pwned", "password"),
    ({"email_address": ["a@example.com"], "password": "x" * 300, "skip_password_checks": True},
     "form_password_length_too_long", "password"),
    ({"email_address": ["a@example.com"], "password": "correct-horse-battery-9",
      "password_digest": "$2b$10$" + "a" * 53, "password_hasher": "bcrypt"},
     "form_param_value_invalid", "password_digest"),
    ({"email_address": ["a@example.com"], "password_digest": "$2b$10$" + "a" * 53},
     "form_param_missing", "password_hasher"),
    ({"email_address": ["a@example.com"], "password_hasher": "bcrypt"},
     "form_param_missing", "password_digest"),
    ({"email_address": ["a@example.com"], "password_digest": "not-bcrypt",
      "password_hasher": "bcrypt"}, "form_param_format_invalid", "password_digest"),
    ({"email_address": ["a@example.com"], "password_digest": "x", "password_hasher": "rot13"},
     "form_param_format_invalid", "password_hasher"),
    ({"email_address": ["a@example.com"], "skip_password_checks": "yes"},
     "form_param_format_invalid", "skip_password_checks"),
    ({"email_address": ["a@example.com"], "totp_secret": "not base32!"},
     "form_param_format_invalid", "totp_secret"),
    ({"email_address": ["a@example.com"], "totp_secret": "JBSWY3DP"},  # 5 bytes
     "form_param_format_invalid", "totp_secret"),
    ({"email_address": ["a@example.com"], "backup_codes": "abc,def"},
     "form_param_format_invalid", "backup_codes"),
    ({"email_address": ["a@example.com"], "backup_codes": ["$2b$10$truncated"]},
     "form_param_format_invalid", "backup_codes"),
    ({"email_address": ["a@example.com"], "backup_codes": [""]},
     "form_param_format_invalid", "backup_codes"),
    ({"email_address": ["a@example.com"], "backup_codes": [f"c{i}" for i in range(51)]},
     "form_param_format_invalid", "backup_codes"),
    ({"email_address": ["a@example.com"], "banned": "true"},
     "form_param_format_invalid", "banned"),
    ({"email_address": ["a@example.com"], "create_organizations_limit": -1},
     "form_param_format_invalid", "create_organizations_limit"),
    ({"email_address": ["a@example.com"], "create_organizations_limit": True},
     "form_param_format_invalid", "create_organizations_limit"),
    ({"email_address": ["a@example.com"], "locale": "x" * 36}, "form_param_too_long", "locale"),
]


def test_each_invalid_body_is_refused_with_its_code_and_nothing_is_written(app):
    instance = instance_of(app)
    with instance.store.session() as db:
        for body, code, field in INVALID:
            with pytest.raises(ClerkError) as error:
                create_user_from_payload(instance, db, body)
            assert (error.value.code, error.value.field) == (code, field), body
            assert error.value.message() != error.value.code, f"{code} has a message"
        with pytest.raises(ClerkError) as error:
            create_user_from_payload(instance, db, ["a@example.com"])  # type: ignore[arg-type]
        assert error.value.code == "request_body_invalid"
    assert count(app, User) == count(app, EmailAddress) == 0


def test_a_taken_identifier_is_refused_and_nothing_half_written(app):
    instance = instance_of(app)
    with instance.store.session() as db:
        create_user_from_payload(instance, db, {
            "email_address": ["ada@example.com"], "username": "ada_l", "external_id": "x-1"})
        for body, field in (
                ({"email_address": ["new@example.com", "ADA@example.com"]}, "email_address"),
                ({"email_address": ["new@example.com"], "username": "Ada_L"}, "username"),
                ({"email_address": ["new@example.com"], "external_id": "x-1"}, "external_id")):
            with pytest.raises(ClerkError) as error:
                create_user_from_payload(instance, db, {**body, "totp_secret": TOTP,
                                                        "backup_codes": ["abc"]})
            assert (error.value.code, error.value.field) == ("form_identifier_exists", field)
    assert (count(app, User), count(app, EmailAddress), count(app, TotpSecret),
            count(app, BackupCode)) == (1, 1, 0, 0)


def test_a_race_lost_at_the_insert_names_the_taken_field(app, monkeypatch):
    from flask_clerk.core import user_import

    instance = instance_of(app)
    with instance.store.session() as db:
        create_user_from_payload(instance, db, {"email_address": ["ada@example.com"]})
    # The check saw nothing (the other request had not committed yet); the INSERT fails.
    checks = iter([None])
    real = user_import.taken_field
    monkeypatch.setattr(user_import, "taken_field", lambda db, new: next(checks, None) or
                        real(db, new))
    with instance.store.session() as db, pytest.raises(ClerkError) as error:
        create_user_from_payload(instance, db, {"email_address": ["ada@example.com"]})
    assert (error.value.code, error.value.field) == ("form_identifier_exists", "email_address")
    assert count(app, User) == 1


def test_secret_box_seals_and_refuses_another_key(app):
    from dataclasses import replace

    settings = instance_of(app).settings
    sealed = seal(settings, TOTP)
    assert sealed != seal(settings, TOTP), "a fresh IV each time"
    assert open_sealed(settings, sealed) == TOTP
    with pytest.raises(UnreadableSecret):
        open_sealed(replace(settings, secret_key="sk_test_rotated"), sealed)
    with pytest.raises(UnreadableSecret):
        open_sealed(settings, sealed[:-4] + "AAAA")


# --- flask clerk import ---------------------------------------------------------------------


def write_jsonl(path, rows) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(row if isinstance(row, str) else json.dumps(row))
            out.write("\n")


def people(n: int, start: int = 0, digest: str | None = None) -> list[dict[str, Any]]:
    digest = digest or bcrypt_digest("imported-pass-1")
    return [{"email_address": [f"user{i}@example.com"], "first_name": f"User{i}",
             "password_digest": digest, "password_hasher": "bcrypt", "external_id": f"ext-{i}"}
            for i in range(start, start + n)]


def test_import_jsonl_batches_reports_rejects_and_is_idempotent(app, tmp_path):
    path = tmp_path / "users.jsonl"
    rows = [*people(5), "", "{not json", {"email_address": ["user0@example.com"]},
            {"email_address": ["bad"], "password": "correct-horse-battery-9"},
            {"email_address": ["new@example.com"], "password": "short-1"},
            *people(3, start=5)]
    write_jsonl(path, rows)
    result = cli(app, "import", str(path), "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert "created 8, skipped 1 (already there), rejected 3" in result.stdout
    report = tmp_path / "users.jsonl.rejected.jsonl"
    assert f"Rejected rows and why: {report}" in result.stderr
    assert stat.S_IMODE(os.stat(report).st_mode) == 0o600
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["line"], r["code"], r["field"]) for r in lines] == [
        (7, "request_body_invalid", None),
        (9, "form_email_invalid", "email_address"),
        (10, "form_password_length_too_short", "password")]
    assert lines[0]["row"] is None  # an unreadable line may hold a password: left out
    assert lines[2]["row"]["password"] == "[redacted]", "no password in the report"
    assert lines[1]["message"] == "Enter a valid email address."
    assert count(app, User) == 8
    # Again: nobody twice; the same rows are rejected again.
    report.unlink()
    again = cli(app, "import", str(path))
    assert "created 0, skipped 9 (already there), rejected 3" in again.stdout
    assert count(app, User) == 8 and len(report.read_text().splitlines()) == 3


def test_a_killed_import_completes_when_run_again(app, tmp_path):
    from flask_clerk.cli import UserFile

    path = tmp_path / "users.jsonl"
    write_jsonl(path, people(10))
    instance = instance_of(app)

    def killed(done: int) -> None:
        raise KeyboardInterrupt  # the operator's Ctrl-C, after the first batch

    with instance.store.session() as db, pytest.raises(KeyboardInterrupt):
        import_rows(instance, db, UserFile(path, "jsonl").rows(), events=True, batch_size=4,
                    on_reject=lambda *a: pytest.fail("rejected"), on_progress=killed)
    assert count(app, User) == 4, "the first batch was committed"
    result = cli(app, "import", str(path), "--batch-size", "4")
    assert "created 6, skipped 4 (already there), rejected 0" in result.stdout
    assert count(app, User) == 10 and count(app, EmailAddress) == 10
    assert not (tmp_path / "users.jsonl.rejected.jsonl").exists(), "nothing to report"


def test_rows_repeated_in_one_file_or_batch_are_created_once(app, tmp_path):
    path = tmp_path / "users.jsonl"
    write_jsonl(path, [
        {"email_address": ["a@example.com"], "external_id": "1"},
        {"email_address": ["A@example.com"]},  # same address: skipped
        {"email_address": ["b@example.com"], "external_id": "1"},  # same external_id
        {"username": "solo_user"}, {"username": "solo_user"},  # username only: skipped
        {"email_address": ["c@example.com"], "username": "solo_user"},  # taken: rejected
    ])
    for batch_size in ("100", "1"):
        result = cli(app, "import", str(path), "--batch-size", batch_size)
        assert count(app, User) == 2
    assert "created 0, skipped 5 (already there), rejected 1" in result.stdout


CLERK_CSV = """\
# Password for users with passwords: imported-pass-1
id,first_name,last_name,username,primary_email_address,primary_phone_number,\
verified_email_addresses,unverified_email_addresses,verified_phone_numbers,\
unverified_phone_numbers,totp_secret,password_digest,password_hasher,favourite_colour,\
public_metadata
user_2YDryYFVMM1W1plDDKz7Gzf4we6,Jane,Doe,,janedoe@test.com,,janedoe@test.com|jd@test.com,\
unverified@test.com,,,{totp},{digest},bcrypt,blue,"{{""plan"":""pro""}}"
user_2ZZCgLE7kJG2CRBxTZ6YUIvzS10,John,Doe,jdoe,johndoe@test.com,,johndoe@test.com,,,,,,,green,
user_3fL2M3N4O5P6Q7R8S9T0U1V2W3X,,,phoneuser1,,+12125550100,,,+12125550100,,,,,,
user_4,"Multi
Line",Name,,multi@test.com,,multi@test.com,,,,,,,,not json
"""


def test_import_clerk_csv_with_extra_columns(app, tmp_path):
    digest = bcrypt_digest("imported-pass-1")
    path = tmp_path / "clerk.csv"
    path.write_text(CLERK_CSV.format(totp=TOTP, digest=digest))
    result = cli(app, "import", str(path), "--no-webhooks")
    assert "created 2, skipped 0 (already there), rejected 2" in result.stdout, result.output
    report = [json.loads(line) for line in
              (tmp_path / "clerk.csv.rejected.jsonl").read_text().splitlines()]
    assert [(r["line"], r["code"], r["field"]) for r in report] == [
        (5, "form_param_unknown", "phone_number"),
        (6, "form_param_format_invalid", "public_metadata")]
    assert report[0]["message"] == "Phone numbers are not supported by this instance."
    instance = instance_of(app)
    with instance.store.session() as db:
        jane = db.scalars(select(User).where(User.external_id == "user_2YDryYFVMM1W1plDDKz7Gzf4we6")
                          ).one()
        assert [e.email_address for e in jane.email_addresses] == [
            "janedoe@test.com", "jd@test.com"], "unverified addresses are not imported"
        assert jane.password_hasher == "bcrypt" and jane.password_digest == digest
        assert jane.public_metadata == {"plan": "pro"}
        assert open_sealed(instance.settings, db.get(TotpSecret, jane.id).secret_encrypted) == TOTP
        john = db.scalars(select(User).where(User.username == "jdoe")).one()
        assert john.password_digest is None and john.first_name == "John"
    again = cli(app, "import", str(path), "--format", "csv")
    assert "created 0, skipped 2 (already there), rejected 2" in again.stdout


def test_import_sniffs_the_format_and_writes_the_report_where_told(app, tmp_path):
    digest = bcrypt_digest("imported-pass-1")
    csv_file, jsonl_file = tmp_path / "clerk-export", tmp_path / "bodies"
    csv_file.write_text(CLERK_CSV.format(totp=TOTP, digest=digest))
    write_jsonl(jsonl_file, [*people(2, digest=digest), {"email_address": ["x"]}])
    report = tmp_path / "why.jsonl"
    assert "created 2, skipped 0 (already there), rejected 2" in cli(
        app, "import", str(csv_file), "--report", str(report)).stdout
    assert len(report.read_text().splitlines()) == 2
    assert "created 2, skipped 0 (already there), rejected 1" in cli(
        app, "import", str(jsonl_file), "--report", str(report)).stdout
    assert [json.loads(line)["line"] for line in report.read_text().splitlines()] == [3]


def test_csv_row_to_body_maps_clerk_columns():
    body = csv_row_to_body({
        "id": "user_1", "first_name": "", "primary_email_address": "a@x.io",
        "verified_email_addresses": "b@x.io,a@x.io|c@x.io", "unverified_email_addresses": "u@x.io",
        "password_digest": "", "password_hasher": "", "banned": "true",
        "backup_codes": "c1|c2", "private_metadata": '"{\\"a\\": 1}"', "extra": "ignored"})
    assert body == {"email_address": ["a@x.io", "b@x.io", "c@x.io"], "external_id": "user_1",
                    "backup_codes": ["c1", "c2"], "skip_password_checks": True,
                    "banned": True, "private_metadata": {"a": 1}}


def test_a_file_that_is_not_clerk_csv_is_refused(app, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("email,name\na@example.com,Ada\n")
    result = app.test_cli_runner().invoke(clerk, ["import", str(path)])
    assert result.exit_code != 0 and "is not Clerk's export CSV" in result.output


def test_import_emits_user_created_unless_no_webhooks(make_app, tmp_path):
    app = make_app(CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True, CLERK_WEBHOOKS_WORKER="off")
    instance = instance_of(app)
    with instance.store.session() as db:
        outbox.add_endpoint(instance, db, "http://127.0.0.1:9/hook", event_types=["user.created"])
    path = tmp_path / "users.jsonl"
    write_jsonl(path, people(2))
    cli(app, "import", str(path), "--no-webhooks")
    assert count(app, User) == 2 and count(app, WebhookMessage) == 0
    write_jsonl(path, people(3, start=2))
    cli(app, "import", str(path))
    with instance.store.session() as db:
        messages = db.scalars(select(WebhookMessage)).all()
        users = {u.id: u for u in db.scalars(select(User).where(User.external_id.in_(
            ["ext-2", "ext-3", "ext-4"])))}
    assert len(messages) == 3 and {m.event_type for m in messages} == {"user.created"}
    data = [json.loads(m.payload)["data"] for m in messages]
    assert {d["id"] for d in data} == set(users)
    one = next(d for d in data if d["external_id"] == "ext-2")
    assert one["email_addresses"][0]["email_address"] == "user2@example.com"
    assert one["primary_email_address_id"] == one["email_addresses"][0]["id"]
    assert one["password_enabled"] is True and one["first_name"] == "User2"


# --- flask clerk export ---------------------------------------------------------------------


def test_export_csv_and_jsonl(app, tmp_path):
    instance = instance_of(app)
    digest = bcrypt_digest("imported-pass-1")
    with instance.store.session() as db:
        create_user_from_payload(instance, db, {
            "email_address": ["ada@example.com", "ada2@example.com"], "username": "ada_l",
            "password_digest": digest, "password_hasher": "bcrypt", "totp_secret": TOTP,
            "backup_codes": [digest], "public_metadata": {"plan": "pro"}, "banned": True,
            "external_id": "legacy-1", "created_at": "2012-10-20T07:15:20.902Z"})
        native = create_user(db, email_address="bob@example.com",
                             password_digest=instance.hasher.hash(PASSWORD), first_name="Bob",
                             last_name=None)
        db.add(EmailAddress(user_id=native.id, email_address="pending@example.com"))
        db.commit()
    out = tmp_path / "users.csv"
    result = cli(app, "export", "--output", str(out))
    assert "password digests and TOTP secrets" in result.stderr
    assert "2 users written" in result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    with open(out, newline="") as source:
        reader = csv.DictReader(source)
        assert tuple(reader.fieldnames) == COLUMNS
        rows = {row["primary_email_address"]: row for row in reader}
    ada, bob = rows["ada@example.com"], rows["bob@example.com"]
    assert ada["verified_email_addresses"] == "ada@example.com|ada2@example.com"
    assert (ada["password_digest"], ada["password_hasher"]) == (digest, "bcrypt")
    assert ada["totp_secret"] == TOTP and ada["backup_codes"] == digest
    assert ada["created_at"] == "2012-10-20T07:15:20.902Z" and ada["banned"] == "true"
    assert json.loads(ada["public_metadata"]) == {"plan": "pro"}
    assert ada["username"] == "ada_l" and ada["external_id"] == "legacy-1"
    assert bob["password_hasher"] == "argon2id" and bob["password_digest"].startswith("$argon2id$")
    assert bob["unverified_email_addresses"] == "pending@example.com"
    assert bob["totp_secret"] == "" and bob["username"] == ""

    result = cli(app, "export", "--format", "jsonl")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [tuple(line) for line in lines] == [COLUMNS, COLUMNS]
    ada_json = next(line for line in lines if line["username"] == "ada_l")
    assert ada_json["verified_email_addresses"] == ["ada@example.com", "ada2@example.com"]
    assert ada_json["public_metadata"] == {"plan": "pro"} and ada_json["banned"] is True


def test_export_streams_in_keyset_pages(app):
    instance = instance_of(app)
    digest = bcrypt_digest("imported-pass-1")
    with instance.store.session() as db:
        for person in people(7, digest=digest):
            create_user_from_payload(instance, db, person)
    statements: list[str] = []
    engine = instance.store.engine

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", record)
    try:
        with instance.store.session() as db:
            rows = export_rows(instance, db, batch_size=3)
            first = next(rows)
            assert len([s for s in statements if "FROM clerk_users" in s]) == 1
            rest = list(rows)
            assert len(db.identity_map) == 0, "plain rows, no ORM objects kept"
    finally:
        event.remove(engine, "before_cursor_execute", record)
    ids = [first["id"], *(row["id"] for row in rest)]
    assert ids == sorted(ids) and len(ids) == 7
    pages = [s for s in statements if "FROM clerk_users" in s]
    assert len(pages) == 4 and all("LIMIT" in s and "clerk_users.id >" in s for s in pages)


def test_export_sessions(app, client):
    sign_up(client, app)
    result = cli(app, "export", "--sessions", "--format", "jsonl")
    assert "password digests" not in result.stderr
    (session,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert session["object"] == "session" and session["status"] == "active"
    csv_out = cli(app, "export", "--sessions")
    header, row = list(csv.reader(io.StringIO(csv_out.stdout)))
    assert header[:3] == ["object", "id", "user_id"] and row[1] == session["id"]


def test_export_refuses_when_the_secret_key_changed(make_app, database_url):
    app = make_app()
    instance = instance_of(app)
    with instance.store.session() as db:
        create_user_from_payload(instance, db, {"email_address": ["a@example.com"],
                                                "totp_secret": TOTP})
    other = make_app()  # same database, another CLERK_SECRET_KEY
    result = other.test_cli_runner().invoke(clerk, ["export"])
    assert result.exit_code != 0 and "CLERK_SECRET_KEY changed" in result.output


# --- The round trip -----------------------------------------------------------------------


@pytest.fixture
def fresh_database_url(database_url, tmp_path):
    """A second, empty identity store on the same kind of database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    with fresh_schema(_pg_url()) as url:
        yield url


def django_digests(password: str) -> dict[str, str]:
    """Django's own encodings of ``password`` (cheap parameters)."""
    from django.contrib.auth.hashers import BCryptSHA256PasswordHasher, PBKDF2PasswordHasher

    class QuickBCrypt(BCryptSHA256PasswordHasher):
        rounds = 4

    return {
        "bcrypt_sha256_django": QuickBCrypt().encode(password, QuickBCrypt().salt()),
        "pbkdf2_sha256_django": PBKDF2PasswordHasher().encode(password, "seasalt42", 1000),
    }


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_round_trip_every_user_signs_in_with_the_same_password(
        make_app, fresh_database_url, tmp_path, file_format):
    source = make_app()
    instance = instance_of(source)
    passwords: dict[str, str] = {}
    with instance.store.session() as db:
        for i in range(2):  # signed up here: our argon2id
            email = f"native{i}@example.com"
            passwords[email] = f"native-password-{i}-x"
            create_user(db, email_address=email, first_name=f"N{i}", last_name=None,
                        password_digest=instance.hasher.hash(passwords[email]))
        db.commit()
        imported = [("bcrypt", bcrypt_digest("bcrypt-password-1"), "bcrypt-password-1")]
        imported += [(hasher, digest, "django-password-1")
                     for hasher, digest in django_digests("django-password-1").items()]
        for i, (hasher, digest, password) in enumerate(imported):
            email = f"imported{i}@example.com"
            passwords[email] = password
            create_user_from_payload(instance, db, {
                "email_address": [email], "password_digest": digest, "password_hasher": hasher,
                "totp_secret": TOTP, "backup_codes": [bcrypt_digest("code-1")],
                "private_metadata": {"i": i}})
        create_user_from_payload(instance, db, {"email_address": ["plain@example.com"],
                                                "password": "plain-password-9",
                                                "backup_codes": ["plain-code-7"]})
        passwords["plain@example.com"] = "plain-password-9"
    exported = tmp_path / f"users.{file_format}"
    cli(source, "export", "--format", file_format, "--output", str(exported))

    fresh = build_app(fresh_database_url)
    try:
        result = cli(fresh, "import", str(exported))
        assert f"created {len(passwords)}, skipped 0" in result.stdout, result.output
        for email, password in passwords.items():
            assert signs_in(fresh, email, password), email
            assert not signs_in(fresh, email, password + "-wrong"), email
        with instance_of(fresh).store.session() as db:
            assert db.scalars(select(User.password_hasher).where(
                User.password_hasher.is_not(None))).all() == [], "re-hashed at sign-in"
        with instance.store.session() as db:
            before = {r["primary_email_address"]: r for r in export_rows(instance, db)}
        with instance_of(fresh).store.session() as db:
            after = {r["primary_email_address"]: r for r in export_rows(instance_of(fresh), db)}
        for email, row in before.items():
            moved = after[email]
            assert moved["external_id"] == (row["external_id"] or row["id"])
            for column in ("totp_secret", "backup_codes", "private_metadata", "first_name",
                           "verified_email_addresses"):
                assert moved[column] == row[column], (email, column)
    finally:
        instance_of(fresh).store.engine.dispose()


# --- The search index (migration 0005) ---------------------------------------------------


def found(app, query: str) -> list[str]:
    from flask_clerk.core.user_search import matches

    with instance_of(app).store.session() as db:
        return sorted(db.scalars(select(User.first_name).where(matches(db, query))))


def test_a_big_batch_is_indexed_in_bulk_and_a_failed_one_keeps_the_index(migrated_app,
                                                                         tmp_path):
    from flask_clerk.core.user_import import BULK_INDEX_FROM, NewUser, create_users
    from flask_clerk.core.user_search import index_kind

    app, n = migrated_app, BULK_INDEX_FROM + 5
    engine = instance_of(app).store.engine
    assert index_kind(engine) == ("fts5" if engine.dialect.name == "sqlite" else "trgm")
    path = tmp_path / "users.jsonl"
    write_jsonl(path, [{"email_address": [f"u{i}@bulk.example.com"], "first_name": f"B{i:03d}"}
                       for i in range(n)])
    assert f"created {n}," in cli(app, "import", str(path), "--batch-size", str(n)).stdout
    assert found(app, "bulk.example") == [f"B{i:03d}" for i in range(n)]
    assert found(app, "b007") == ["B007"]
    instance = instance_of(app)
    doomed = [NewUser(email_addresses=[f"x{i}@lost.example.com"], first_name="Lost",
                      username="same_name" if i in (3, 9) else None) for i in range(n)]
    with instance.store.session() as db:
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            create_users(instance, db, doomed, events=False)
        db.rollback()
    assert found(app, "lost.example") == []
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert {"clerk_user_search_user_insert", "clerk_user_search_email_insert"} <= set(
                connection.scalars(text("SELECT name FROM sqlite_master WHERE type='trigger'")))
    with instance.store.session() as db:  # one at a time: the triggers index it
        create_user_from_payload(instance, db, {"email_address": ["late@after.example.com"],
                                                "first_name": "Late"})
    assert found(app, "after.example") == ["Late"]
