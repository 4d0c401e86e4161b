"""`flask clerk init`, `db upgrade` and `keys rotate`, run as a user would run them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy import create_engine, text

from conftest import migrations_head

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))


def flask(tmp_path, *args):
    result = flask_result(tmp_path, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_init_writes_keys_migrates_and_makes_a_signing_key(tmp_path):
    out = flask(tmp_path, "clerk", "init")
    values = dotenv_values(tmp_path / ".env")
    assert values["CLERK_PUBLISHABLE_KEY"].startswith("pk_test_")
    assert values["CLERK_SECRET_KEY"].startswith("sk_test_")
    assert len(values["FLASK_SECRET_KEY"]) >= 32
    assert "signing key ins_" in out
    engine = create_engine(f"sqlite:///{tmp_path}/clerk.db")
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from clerk_signing_keys")).scalar() == 1
        assert connection.execute(text("select version_num from clerk_alembic_version")
                                  ).scalar() == migrations_head()
    # Idempotent: a second run keeps the keys and the signing key.
    out = flask(tmp_path, "clerk", "init")
    assert "already set, kept" in out
    assert dotenv_values(tmp_path / ".env") == values
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from clerk_signing_keys")).scalar() == 1
    assert f"revision {migrations_head()}" in flask(tmp_path, "clerk", "db", "upgrade")
    out = flask(tmp_path, "clerk", "keys", "rotate")
    assert out.startswith("New signing key ins_")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "select retired_at is null from clerk_signing_keys")).scalars().all()
    assert sorted(rows) == [0, 1]
    engine.dispose()


def test_key_rotation_keeps_old_tokens_valid_until_they_expire(app, client, user, frozen):
    from flask_clerk.core.keys import rotate_signing_key

    instance = app.extensions["clerk"].instance
    old_token = client.get_cookie("__session").value
    with instance.store.session() as db:
        rotate_signing_key(db)
    instance.forget_signing_key()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {old_token}"}
    assert api.get("/whoami", headers=headers).get_json()["user_id"], "old key still verifies"
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert len(keys) == 2
    frozen.advance(120)
    assert len(client.get("/.well-known/jwks.json").get_json()["keys"]) == 1, "old key gone"


def test_roles_commands(tmp_path):
    flask(tmp_path, "clerk", "init")
    out = flask(tmp_path, "clerk", "roles", "add", "editor", "--name", "Editor",
                "--permission", "projects:manage", "--permission", "org:projects:read")
    assert "Added org:editor (Editor): org:projects:manage, org:projects:read." in out
    listing = flask(tmp_path, "clerk", "roles", "list")
    assert "org:editor  Editor: org:projects:manage, org:projects:read" in listing
    assert "org:admin  Admin: org:sys_profile:manage" in listing
    assert "org:projects:delete" in listing, "the demo's CLERK_ORGANIZATION_ROLES show too"
    for args, message in (
        (("add", "org:editor"), "org:editor exists already"),
        (("add", "org:admin"), "org:admin exists already"),
        (("add", "org:boss", "--permission", "org:sys_profile:manage"), "system permission"),
        (("add", "org:boss", "--permission", "projects"), "not a permission"),
        (("remove", "org:admin"), "built in or set in CLERK_ORGANIZATION_ROLES"),
        (("remove", "org:nobody"), "Not found"),
    ):
        result = flask_result(tmp_path, "clerk", "roles", *args)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
    # A role that someone holds stays until they get another one.
    engine = create_engine(f"sqlite:///{tmp_path}/clerk.db")
    with engine.begin() as connection:
        connection.execute(text(
            "insert into clerk_users (id, public_metadata, private_metadata, unsafe_metadata, "
            "banned, failed_attempts, created_at, updated_at) values ('user_1', '{}', '{}', "
            "'{}', 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        connection.execute(text(
            "insert into clerk_organizations (id, name, slug, admin_delete_enabled, "
            "public_metadata, private_metadata, created_at, updated_at) values ('org_1', 'O', "
            "'o', 1, '{}', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        connection.execute(text(
            "insert into clerk_organization_memberships (id, organization_id, user_id, role, "
            "public_metadata, private_metadata, created_at, updated_at) values ('orgmem_1', "
            "'org_1', 'user_1', 'org:editor', '{}', '{}', '2026-01-01 00:00:00', "
            "'2026-01-01 00:00:00')"))
    result = flask_result(tmp_path, "clerk", "roles", "remove", "org:editor")
    assert result.returncode != 0 and "held by 1 members or invitations" in result.stderr
    with engine.begin() as connection:
        connection.execute(text("delete from clerk_organization_memberships"))
    engine.dispose()
    assert "Removed org:editor." in flask(tmp_path, "clerk", "roles", "remove", "org:editor")
    assert "org:editor" not in flask(tmp_path, "clerk", "roles", "list")


def test_organizations_commands(tmp_path):
    flask(tmp_path, "clerk", "init")
    engine = create_engine(f"sqlite:///{tmp_path}/clerk.db")
    with engine.begin() as connection:
        connection.execute(text(
            "insert into clerk_organizations (id, name, slug, admin_delete_enabled, "
            "public_metadata, private_metadata, created_at, updated_at) values ('org_1', "
            "'Acme Inc', 'acme', 1, '{}', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    engine.dispose()
    assert "acme  Acme Inc  0 members  (limit: none)  org_1" in flask(
        tmp_path, "clerk", "organizations", "list")
    assert "acme: member limit 5." in flask(tmp_path, "clerk", "organizations", "set-limit",
                                             "acme", "5")
    assert "(limit: 5)" in flask(tmp_path, "clerk", "organizations", "list")
    for args, message in ((("ghost", "5"), "No organization 'ghost'"),
                          (("acme", "0"), "positive number"), (("acme", "x"), "positive")):
        result = flask_result(tmp_path, "clerk", "organizations", "set-limit", *args)
        assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "member limit default" in flask(tmp_path, "clerk", "organizations", "set-limit",
                                           "org_1", "default")


def flask_result(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "FLASK_"))}
    env.update(PYTHONPATH=str(ROOT), CLERK_DATABASE_URL=f"sqlite:///{tmp_path}/clerk.db",
               SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/demo.db")
    return subprocess.run([FLASK, "--app", "demo_app", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_webhooks_commands(tmp_path):
    flask(tmp_path, "clerk", "init")
    refused = flask_result(tmp_path, "clerk", "webhooks", "add", "ftp://example.com/hook")
    assert refused.returncode != 0 and "Enter an http(s) URL" in refused.stderr
    # The demo allows endpoints on this machine (its own receiver is one).
    out = flask(tmp_path, "clerk", "webhooks", "add", "http://127.0.0.1:9/hook",
                "--event", "user.created")
    endpoint_id = re.search(r"(ep_\w+)", out).group(1)
    secret = re.search(r"signing secret: (whsec_\S+)", out).group(1)
    assert "[user.created]  enabled" in out
    assert endpoint_id in flask(tmp_path, "clerk", "webhooks", "list")
    out = flask(tmp_path, "clerk", "webhooks", "update", endpoint_id, "--all-events",
                "--disable")
    assert "[every event]  disabled (by hand)" in out
    rotated = flask(tmp_path, "clerk", "webhooks", "rotate-secret", endpoint_id)
    assert "whsec_" in rotated and secret not in rotated
    assert "0 deliveries queued again." in flask(tmp_path, "clerk", "webhooks", "replay")
    assert flask(tmp_path, "clerk", "webhooks", "messages", "--failed") == ""
    assert f"Removed {endpoint_id}." in flask(tmp_path, "clerk", "webhooks", "remove",
                                              endpoint_id)
    missing = flask_result(tmp_path, "clerk", "webhooks", "remove", endpoint_id)
    assert missing.returncode != 0 and "Not found" in missing.stderr
