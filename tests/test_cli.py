"""`flask clerk init`, `db upgrade` and `keys rotate`, run as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy import create_engine, text

from conftest import migrations_head

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))


def flask(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "FLASK_"))}
    env.update(PYTHONPATH=str(ROOT), CLERK_DATABASE_URL=f"sqlite:///{tmp_path}/clerk.db",
               SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/demo.db")
    result = subprocess.run([FLASK, "--app", "demo_app", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
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
