"""Fixtures: a fresh app per test on SQLite, and on PostgreSQL too when configured.

Services (PostgreSQL, Redis, Chromium) skip with a reason when absent, and fail
instead under ``CLERK_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, render_template_string
from sqlalchemy import create_engine, text

from flask_clerk import ClerkAuth, auth, current_user, login_required
from flask_clerk.cli import new_instance_keys
from flask_clerk.core.models import Base
from flask_clerk.settings import RATE_LIMITS

REQUIRE_SERVICES = os.environ.get("CLERK_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("CLERK_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CLERK_TEST_REDIS_URL")
PASSWORD = "quiet-harbor-lantern-42"


def service_missing(reason: str) -> None:
    """Skip (laptop) or fail (CI) a test whose service is not there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def _pg_url() -> str:
    if not PG_URL:
        service_missing("CLERK_TEST_DATABASE_URL is not set")
    url = PG_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        service_missing(f"PostgreSQL at {PG_URL} unreachable: {exc}")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """The identity store's URL: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/clerk.db"
        return
    with fresh_schema(_pg_url()) as url:
        yield url


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A new, empty schema in the PostgreSQL database at ``url`` (dropped after)."""
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def build_app(database_url: str, **config: Any) -> Flask:
    """A minimal app using flask_clerk the way the README shows."""
    app = Flask(__name__)
    keys = new_instance_keys("localhost/__clerk")
    app.config.update(
        TESTING=True,
        SECRET_KEY=keys["FLASK_SECRET_KEY"],
        CLERK_PUBLISHABLE_KEY=keys["CLERK_PUBLISHABLE_KEY"],
        CLERK_SECRET_KEY=keys["CLERK_SECRET_KEY"],
        CLERK_DATABASE_URL=database_url,
        CLERK_APPLICATION_NAME="Test App",
        # Limits stay on, but high: tests that hammer a flow on purpose lower them.
        CLERK_RATE_LIMITS={k: "1000/minute" for k in RATE_LIMITS},
    )
    app.config.update(config)
    ClerkAuth(app)
    Base.metadata.create_all(app.extensions["clerk"].instance.store.engine)

    @app.get("/")
    def home() -> str:
        return render_template_string("{{ clerk.user_button() }}home")

    @app.get("/whoami")
    def whoami() -> Any:
        a = auth()
        return jsonify(user_id=a.user_id, session_id=a.session_id, org_id=a.org_id,
                       org_role=a.org_role, org_slug=a.org_slug)

    @app.get("/private")
    @login_required
    def private() -> Any:
        assert current_user is not None
        return jsonify(email=current_user.email_addresses[0].email_address,
                       first_name=current_user.first_name)

    return app


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def factory(**config: Any) -> Flask:
        app = build_app(database_url, **config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["clerk"].instance.store.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def migrated_app(database_url: str, make_app: Callable[..., Flask]) -> Flask:
    """An app on a store built by the library's migrations (not ``create_all``): with
    what only migrations make, such as the user search's trigram index."""
    from flask_clerk.core.store import Store

    store = Store(database_url)
    store.upgrade()
    store.engine.dispose()
    return make_app()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


# -- helpers used by many tests -----------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: Any, page: str = "/sign-in") -> str:
    """The session's CSRF token, read from a page (signed-in users: their profile)."""
    match = CSRF.search(client.get(page).get_data(as_text=True)) or CSRF.search(
        client.get("/user").get_data(as_text=True))
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def post(client: Any, path: str, data: dict[str, str], page: str = "/sign-in") -> Any:
    """Submit a component's form as the browser would from ``page``."""
    from flask_clerk.web.forms import sign_return_to

    with client.application.test_request_context():
        signed_page = sign_return_to(page)
    return client.post(path, data={"csrf_token": csrf_token(client, page),
                                   "return_to": signed_page, **data})


def last_code(app: Flask, email: str) -> str:
    mails = app.extensions["clerk"].instance.dev_mailbox.mails(email)
    assert mails, f"no mail to {email}"
    match = re.search(r"\b(\d{6})\b", mails[0].text)
    assert match, mails[0].text
    return match.group(1)


def sign_up(client: Any, app: Flask, email: str = "ada@example.com", password: str = PASSWORD,
            first_name: str = "Ada", last_name: str = "Lovelace") -> Any:
    response = post(client, "/__clerk/sign-up", {
        "email_address": email, "password": password,
        "first_name": first_name, "last_name": last_name,
    }, page="/sign-up")
    assert response.status_code == 303, response.get_data(as_text=True)
    response = post(client, "/__clerk/sign-up/verify", {"code": last_code(app, email)},
                    page="/sign-up")
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def sign_in(client: Any, email: str = "ada@example.com", password: str = PASSWORD) -> Any:
    response = post(client, "/__clerk/sign-in", {"identifier": email})
    assert response.status_code == 303, response.get_data(as_text=True)
    return post(client, "/__clerk/sign-in/password", {"password": password})


def sign_out(client: Any) -> Any:
    return post(client, "/__clerk/sign-out", {})


@pytest.fixture
def frozen(monkeypatch):
    """Move the engine's clock instead of sleeping: ``frozen.advance(seconds)``."""
    from datetime import timedelta

    from flask_clerk.core import clock

    class Clock:
        offset = timedelta()

        def advance(self, seconds):
            self.offset += timedelta(seconds=seconds)

    state = Clock()
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + state.offset)
    monkeypatch.setattr(clock, "timestamp", lambda: clock.now().timestamp())
    return state


@pytest.fixture
def fixed(monkeypatch):
    """The engine's clock stopped 5 s into a TOTP step (no step boundary can pass
    between computing a code and checking it); ``fixed.advance(seconds)`` moves it."""
    from datetime import UTC, datetime, timedelta

    from flask_clerk.core import clock

    class Fixed:
        at = datetime.fromtimestamp((int(clock.now().timestamp()) // 30) * 30 + 5, UTC)

        def advance(self, seconds):
            self.at += timedelta(seconds=seconds)

    state = Fixed()
    monkeypatch.setattr(clock, "now", lambda: state.at)
    return state


@pytest.fixture
def settled_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's settings re-read once, not once a second: a test that counts a
    request's queries counts the request's own (the re-read is its own, amortised
    cost: at most one query a second per process)."""
    from flask_clerk.core import instance

    monkeypatch.setattr(instance, "SETTINGS_RELOAD", 3600.0)


@pytest.fixture
def user(app: Flask, client: Any) -> dict[str, str]:
    """A signed-up (and so signed-in) user on ``client``."""
    sign_up(client, app)
    return {"email": "ada@example.com", "password": PASSWORD}


@pytest.fixture
def hash_calls(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread idents of every argon2 verify the instance runs, in order."""
    hasher = app.extensions["clerk"].instance.hasher
    calls: list[int] = []

    class CountingArgon2:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def verify(self, *args: Any) -> Any:
            calls.append(threading.get_ident())
            return self.inner.verify(*args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(hasher, "_argon2", CountingArgon2(hasher._argon2))
    return calls


def migrations_head() -> str:
    """The newest revision of the identity store's migrations."""
    from alembic.script import ScriptDirectory

    from flask_clerk.core.store import _alembic_config

    return str(ScriptDirectory.from_config(_alembic_config(None)).get_current_head())


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[str]:
    """``app`` over real HTTP on a free loopback port; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
