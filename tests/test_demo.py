"""The demo SaaS follows the seed's tutorial: pages, protection, the app's own users table."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from conftest import PASSWORD, post, sign_up
from flask_clerk.cli import clerk, new_instance_keys
from flask_clerk.core import webhooks as outbox
from flask_clerk.core.models import Base, Organization


@pytest.fixture
def demo(tmp_path):
    from demo_app import create_app
    from demo_app.models import User, db

    keys = new_instance_keys("127.0.0.1/__clerk")
    config = {
        "TESTING": True, "SECRET_KEY": keys["FLASK_SECRET_KEY"],
        "CLERK_PUBLISHABLE_KEY": keys["CLERK_PUBLISHABLE_KEY"],
        "CLERK_SECRET_KEY": keys["CLERK_SECRET_KEY"],
        "CLERK_DATABASE_URL": f"sqlite:///{tmp_path}/clerk.db",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/demo.db",
    }
    setup = create_app(config)
    instance = setup.extensions["clerk"].instance
    Base.metadata.create_all(instance.store.engine)
    with setup.app_context():
        db.create_all()
    with instance.store.session() as session:  # what `flask register-webhook` does
        secret = outbox.add_endpoint(instance, session, "http://127.0.0.1:5000/webhooks/clerk"
                                     ).secret
    instance.store.engine.dispose()
    app = create_app({**config, "CLERK_WEBHOOK_SIGNING_SECRET": secret})
    app.demo_user_model = User
    yield app
    app.extensions["clerk"].instance.store.engine.dispose()


def deliver_webhooks(app):
    """Run the outbox into the demo's own /webhooks/clerk (through the test client)."""
    client = app.test_client()

    def send(url, body, headers):
        response = client.post("/webhooks/clerk", data=body, headers=headers)
        return outbox.Response(response.status_code, response.get_data(as_text=True))

    return outbox.deliver_due(app.extensions["clerk"].instance, send=send)


def test_signed_out_visitor(demo):
    client = demo.test_client()
    landing = client.get("/").get_data(as_text=True)
    assert 'href="/sign-in"' in landing and 'href="/sign-up"' in landing
    assert "Sign in to Acme Projects" in client.get("/sign-in").get_data(as_text=True)
    assert "Create your account" in client.get("/sign-up").get_data(as_text=True)
    response = client.get("/dashboard", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?redirect_url=%2Fdashboard"
    response = client.get("/api/me")
    assert response.status_code == 401 and response.get_json()["errors"]


def test_sign_up_to_dashboard_and_api(demo):
    client = demo.test_client()
    response = sign_up(client, demo)
    assert response.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Welcome, Ada Lovelace" in page and "cl-userButtonTrigger" in page
    assert "Not here yet" in page, "the webhook has not been delivered yet"
    assert deliver_webhooks(demo) == 3  # email.created (the code), user.created, session.created
    assert "Kept current by the" in client.get("/dashboard").get_data(as_text=True)
    assert "--clerk-color-primary:#6366f1" in page and "DM Sans" in page
    assert client.get("/api/me").get_json() == {"email": "ada@example.com",
                                                "name": "Ada Lovelace"}
    with demo.app_context():
        from demo_app.models import db
        row = db.session.scalars(db.select(demo.demo_user_model)).one()
        assert row.clerk_id.startswith("user_") and row.email == "ada@example.com"
        assert row.name == "Ada Lovelace"
    assert "Go to dashboard" in client.get("/").get_data(as_text=True)


def _csrf(client, page="/dashboard"):
    return re.search(r'name="csrf_token" value="([^"]+)"',
                     client.get(page).get_data(as_text=True)).group(1)


def test_projects_belong_to_the_active_workspace(demo):
    ada = demo.test_client()
    sign_up(ada, demo)
    token = _csrf(ada)
    assert ada.post("/projects", data={"name": "Personal notes"}).status_code == 400, "CSRF"
    assert ada.post("/projects", data={"name": "Personal notes", "csrf_token": token}
                    ).status_code == 303
    assert "Personal notes" in ada.get("/dashboard").get_data(as_text=True)
    response = post(ada, "/__clerk/organizations", {"name": "Acme Rockets"},
                    page="/create-organization")
    assert response.headers["Location"] == "/dashboard"
    page = ada.get("/dashboard").get_data(as_text=True)
    assert "Personal notes" not in page and "No projects yet." in page
    ada.post("/projects", data={"name": "Launch pad", "csrf_token": token})
    assert "Launch pad" in ada.get("/dashboard").get_data(as_text=True)
    assert ada.get("/org/settings").status_code == 200

    # Bea joins as a member: she sees and creates projects, deletes none, and the
    # admin page refuses her.
    instance = demo.extensions["clerk"].instance
    with instance.store.session() as db:
        org_id = db.scalars(select(Organization.id)).one()
    post(ada, f"/__clerk/organizations/{org_id}/invitations",
         {"email_address": "bea@example.com", "role": "org:member"},
         page="/organization?page=members")
    ticket = re.search(r"__clerk_ticket=([\w-]+)",
                       instance.dev_mailbox.mails("bea@example.com")[0].text).group(1)
    bea = demo.test_client()
    response = post(bea, "/__clerk/sign-up",
                    {"ticket": ticket, "password": PASSWORD, "first_name": "Bea"},
                    page=f"/sign-up?__clerk_ticket={ticket}")
    assert response.headers["Location"] == "/dashboard"
    page = bea.get("/dashboard").get_data(as_text=True)
    assert "Launch pad" in page and ">Delete<" not in page
    bea_token = _csrf(bea)
    bea.post("/projects", data={"name": "Bea's board", "csrf_token": bea_token})
    assert "Bea&#39;s board" in ada.get("/dashboard").get_data(as_text=True)
    with demo.app_context():
        from demo_app.models import Project as DemoProject
        from demo_app.models import db as demo_db

        launch_pad = demo_db.session.scalars(
            demo_db.select(DemoProject).filter_by(name="Launch pad")).one().id
    denied = bea.post(f"/org/projects/{launch_pad}/delete", data={"csrf_token": bea_token},
                      headers={"Accept": "text/html"})
    assert denied.status_code == 403
    assert bea.get("/org/settings", headers={"Accept": "text/html"}).status_code == 403
    assert ada.post(f"/org/projects/{launch_pad}/delete", data={"csrf_token": token}
                    ).status_code == 303
    assert "Launch pad" not in ada.get("/dashboard").get_data(as_text=True)



def test_webhooks_keep_the_users_table_in_step(demo):
    from demo_app.models import db
    from demo_app.sync import delete_user, upsert_user

    client = demo.test_client()
    sign_up(client, demo)
    post(client, "/__clerk/user/profile", {"first_name": "Ada", "last_name": "King"},
         page="/user")
    assert deliver_webhooks(demo) == 4  # and user.updated
    page = client.get("/admin/synced-users").get_data(as_text=True)
    assert "Ada King" in page and "ada@example.com" in page
    with demo.app_context():
        row = db.session.scalars(db.select(demo.demo_user_model)).one()
        row_id, newest = row.id, row.clerk_updated_at
        # An older user.updated arriving late changes nothing.
        assert upsert_user({"id": row.clerk_id, "updated_at": newest - 1000,
                            "first_name": "Old", "email_addresses": []}) is None
        assert row.first_name == "Ada" and row.last_name == "King"
        # An update before the create (out of order) creates the row.
        upsert_user({"id": "user_early", "updated_at": 5, "first_name": "Early",
                     "email_addresses": [{"id": "idn_1", "email_address": "e@x.test"}],
                     "primary_email_address_id": "idn_1"})
        # A deletion leaves a tombstone that a late update cannot bring back.
        delete_user("user_early", 10)
        assert upsert_user({"id": "user_early", "updated_at": 7, "first_name": "Zombie",
                            "email_addresses": []}) is None
        early = db.session.scalars(db.select(demo.demo_user_model).filter_by(
            clerk_id="user_early")).one()
        assert early.deleted_at is not None and early.first_name == "Early"
    post(client, "/__clerk/user/delete", {"confirmation": "Delete account"},
         page="/user?page=security")
    deliver_webhooks(demo)
    with demo.app_context():
        db.session.expire_all()
        assert db.session.get(demo.demo_user_model, row_id).deleted_at is not None


def test_flask_clerk_sync_reconciles_the_table(demo, monkeypatch):
    from demo_app.models import db

    runner = demo.test_cli_runner()
    ada = demo.test_client()
    sign_up(ada, demo)  # no webhook delivered: the table does not know Ada yet
    sign_up(demo.test_client(), demo, email="bea@example.com", first_name="Bea")
    with demo.app_context():
        db.session.add(demo.demo_user_model(clerk_id="user_gone", email="gone@example.com"))
        db.session.commit()
    result = runner.invoke(clerk, ["sync"])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged, 1 deleted." in result.output
    post(ada, "/__clerk/user/profile", {"first_name": "Ada", "last_name": "King"}, page="/user")
    result = runner.invoke(clerk, ["sync"])
    assert "0 created, 1 updated, 1 unchanged, 0 deleted." in result.output
    assert "Ada King" in ada.get("/admin/synced-users").get_data(as_text=True)


def test_flask_clerk_sync_from_another_backend_api(demo, monkeypatch, tmp_path):
    """--api-url: a Clerk-compatible Backend API (here a stand-in serving the same
    JSON shapes, with Clerk's bare-array pages) instead of the embedded engine."""
    import threading

    from flask import Flask, abort, jsonify, request
    from werkzeug.serving import make_server

    import flask_clerk.sync

    monkeypatch.setattr(flask_clerk.sync, "PAGE", 2)
    people = [{"id": f"user_{n}", "object": "user", "first_name": f"P{n}", "last_name": None,
               "updated_at": 1000 + n, "image_url": "", "primary_email_address_id": f"idn_{n}",
               "email_addresses": [{"id": f"idn_{n}", "email_address": f"p{n}@example.com"}]}
              for n in range(5)]
    api = Flask("bapi")

    @api.get("/v1/users")
    def users():
        if request.headers.get("Authorization") != "Bearer sk_live_remote":
            abort(401)
        offset, limit = int(request.args["offset"]), int(request.args["limit"])
        return jsonify(people[offset:offset + limit])

    server = make_server("127.0.0.1", 0, api, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        runner = demo.test_cli_runner()
        refused = runner.invoke(clerk, ["sync", "--api-url", url, "--secret-key", "bad"])
        assert refused.exit_code != 0
        result = runner.invoke(clerk, ["sync", "--api-url", url, "--secret-key",
                                       "sk_live_remote"])
        assert result.exit_code == 0, result.output
        assert "5 created, 0 updated, 0 unchanged, 0 deleted." in result.output
    finally:
        server.shutdown()
        thread.join(5)
    page = demo.test_client()
    sign_up(page, demo)
    text = page.get("/admin/synced-users").get_data(as_text=True)
    assert all(f"p{n}@example.com" in text for n in range(5))
