"""The demo SaaS follows the seed's tutorial: pages, protection, the app's own users table."""

from __future__ import annotations

import pytest

from conftest import sign_up
from flask_clerk.cli import new_instance_keys
from flask_clerk.core.models import Base


@pytest.fixture
def demo(tmp_path):
    from demo_app import create_app
    from demo_app.models import User, db

    keys = new_instance_keys("127.0.0.1/__clerk")
    app = create_app({
        "TESTING": True, "SECRET_KEY": keys["FLASK_SECRET_KEY"],
        "CLERK_PUBLISHABLE_KEY": keys["CLERK_PUBLISHABLE_KEY"],
        "CLERK_SECRET_KEY": keys["CLERK_SECRET_KEY"],
        "CLERK_DATABASE_URL": f"sqlite:///{tmp_path}/clerk.db",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/demo.db",
    })
    Base.metadata.create_all(app.extensions["clerk"].instance.store.engine)
    with app.app_context():
        db.create_all()
    app.demo_user_model = User
    yield app
    app.extensions["clerk"].instance.store.engine.dispose()


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
    assert "--clerk-color-primary:#6366f1" in page and "DM Sans" in page
    assert client.get("/api/me").get_json() == {"email": "ada@example.com",
                                                "name": "Ada Lovelace"}
    with demo.app_context():
        from demo_app.models import db
        row = db.session.scalars(db.select(demo.demo_user_model)).one()
        assert row.clerk_id.startswith("user_") and row.email == "ada@example.com"
        assert row.name == "Ada Lovelace"
    assert "Go to dashboard" in client.get("/").get_data(as_text=True)
