"""``GET /v1/users?query=`` on a migrated store: the trigram search (FTS5 on SQLite,
pg_trgm on PostgreSQL) finds the same users as a scan, and stays current as names
and addresses change."""

from __future__ import annotations

from conftest import PASSWORD
from flask_clerk.core import user_search
from flask_clerk.core.models import EmailAddress
from flask_clerk.core.store import Store
from flask_clerk.ids import new_id


def search(client, query):
    secret = client.application.config["CLERK_SECRET_KEY"]
    response = client.get("/v1/users", query_string={"query": query, "limit": 100},
                          headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.get_json()
    return sorted(u["first_name"] for u in response.get_json())


def test_the_search_index_is_used_and_kept_current(migrated_app):
    app = migrated_app
    instance = app.extensions["clerk"].instance
    assert user_search.index_kind(instance.store.engine) in {"fts5", "trgm"}
    client = app.test_client()
    headers = {"Authorization": f"Bearer {app.config['CLERK_SECRET_KEY']}"}
    ids = {}
    for first, last, email, username in [
        ("Grace", "Hopper", "grace@navy.example.com", "amazing_grace"),
        ("Alan", "Turing", "alan@bletchley.example.org", None),
        ("Ada", "Lovelace", "ada_l@analytical.example.com", "countess"),
    ]:
        body = {"email_address": [email], "password": PASSWORD, "first_name": first,
                "last_name": last, **({"username": username} if username else {})}
        ids[first] = client.post("/v1/users", json=body, headers=headers).get_json()["id"]

    assert search(client, "hopp") == ["Grace"]
    assert search(client, "NAVY") == ["Grace"]  # any case
    assert search(client, "example") == ["Ada", "Alan", "Grace"]
    assert search(client, "ada_l") == ["Ada"]  # "_" is a character, not a wildcard
    assert search(client, "a_l") == ["Ada"]
    assert search(client, "zing_gr") == ["Grace"]  # in the username
    assert search(client, "%") == []
    assert search(client, "ce") == ["Ada", "Grace"]  # two letters: scanned
    assert search(client, ids["Alan"]) == ["Alan"]

    # Renamed, an address added and one removed, a user deleted: the index follows.
    client.patch(f"/v1/users/{ids['Alan']}", json={"last_name": "Mathison"}, headers=headers)
    assert search(client, "turing") == [] and search(client, "mathis") == ["Alan"]
    with instance.store.session() as db:
        db.add(EmailAddress(id=new_id("idn"), user_id=ids["Ada"],
                            email_address="byron@poetry.example.net",
                            verification_status="verified"))
        db.commit()
    assert search(client, "poetry") == ["Ada"]
    with instance.store.session() as db:
        for email in db.query(EmailAddress).filter_by(email_address="byron@poetry.example.net"):
            db.delete(email)
        db.commit()
    assert search(client, "poetry") == []
    client.delete(f"/v1/users/{ids['Grace']}", headers=headers)
    assert search(client, "example") == ["Ada", "Alan"]
    assert search(client, "hopper") == []


def test_without_the_index_the_same_answers(app):
    """A store made with create_all has no trigram index: the query scans."""
    assert user_search.index_kind(app.extensions["clerk"].instance.store.engine) is None
    client = app.test_client()
    headers = {"Authorization": f"Bearer {app.config['CLERK_SECRET_KEY']}"}
    client.post("/v1/users", json={"email_address": ["ada_l@example.com"], "password": PASSWORD,
                                   "first_name": "Ada"}, headers=headers)
    client.post("/v1/users", json={"email_address": ["adal@example.com"], "password": PASSWORD,
                                   "first_name": "Adal"}, headers=headers)
    assert search(client, "ada_l") == ["Ada"]
    assert search(client, "ADA") == ["Ada", "Adal"]


def test_renumbered_rowids_do_not_confuse_the_index(tmp_path):
    """SQLite may renumber the implicit rowids of tables like the users' (VACUUM "may
    change the ROWIDs" of tables without an INTEGER PRIMARY KEY): the index keys its
    documents by id, so changes made after that still find their own rows."""
    from sqlalchemy import text

    from conftest import build_app

    url = f"sqlite:///{tmp_path}/renumbered.db"
    store = Store(url)
    store.upgrade()
    store.engine.dispose()
    app = build_app(url)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {app.config['CLERK_SECRET_KEY']}"}
    ids = [client.post("/v1/users", json={"email_address": [f"u{i}@v.example.com"],
                                          "password": PASSWORD, "first_name": f"Alpha{i}"},
                       headers=headers).get_json()["id"] for i in range(3)]
    engine = app.extensions["clerk"].instance.store.engine
    with engine.begin() as connection:  # what a renumbering VACUUM would do
        connection.execute(text("UPDATE clerk_users SET rowid = rowid + 100"))
        connection.execute(text("UPDATE clerk_email_addresses SET rowid = rowid + 100"))
    client.patch(f"/v1/users/{ids[2]}", json={"first_name": "Renamed"}, headers=headers)
    client.delete(f"/v1/users/{ids[0]}", headers=headers)
    client.post("/v1/users", json={"email_address": ["new@v.example.com"],
                                   "password": PASSWORD, "first_name": "New"}, headers=headers)
    assert search(client, "alpha2") == []  # the old name is gone...
    assert search(client, "renamed") == ["Renamed"]  # ...the new one found
    assert search(client, "alpha") == ["Alpha1"]  # nobody else's row was touched
    assert search(client, "v.example") == ["Alpha1", "New", "Renamed"]
    engine.dispose()
