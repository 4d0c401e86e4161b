"""Sessions: the hot path runs no SQL, refresh runs one query, lifetimes are enforced."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from conftest import post, sign_in, sign_out, sign_up


@contextmanager
def count_sql(app):
    statements: list[str] = []
    engine = app.extensions["clerk"].instance.store.engine

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def whoami(client):
    return client.get("/whoami").get_json()


def test_valid_session_token_runs_no_sql(app, client, user):
    assert whoami(client)["user_id"]  # warm: keys loaded, token verified once
    with count_sql(app) as statements:
        for _ in range(3):
            assert whoami(client)["user_id"]
    assert statements == []


def test_expired_token_refreshes_with_one_query(app, client, user, frozen, settled_settings):
    assert whoami(client)["user_id"]  # warm: public keys loaded once per process
    old = client.get_cookie("__session").value
    frozen.advance(61 + 5)
    with count_sql(app) as statements:
        response = client.get("/whoami")
    assert response.get_json()["user_id"]
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements
    new = client.get_cookie("__session").value
    assert new != old
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("__session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert len(new) < 4096


def test_sign_in_issues_a_new_client_token(app, client, user):
    first = client.get_cookie("__client").value
    sign_out(client)
    sign_in(client)
    second = client.get_cookie("__client").value
    assert first != second
    # The old client token cannot bring a session back.
    stale = app.test_client()
    stale.set_cookie("__client", first)
    assert whoami(stale)["user_id"] is None


def test_sign_in_replaces_the_previous_session_of_the_browser(app, client, user):
    before = whoami(client)["session_id"]
    sign_in(client)
    after = whoami(client)["session_id"]
    assert after != before
    from flask_clerk.core.models import Session
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.get(Session, before).status == "replaced"


def test_signed_out_session_cannot_refresh(app, client, user, frozen):
    client_token = client.get_cookie("__client").value
    session_token = client.get_cookie("__session").value
    sign_out(client)
    thief = app.test_client()
    thief.set_cookie("__client", client_token)
    thief.set_cookie("__session", session_token)
    assert whoami(thief)["user_id"] is None, "revoked at once on this instance"
    frozen.advance(120)
    assert whoami(thief)["user_id"] is None


def test_session_max_lifetime(make_app, frozen):
    app = make_app(CLERK_SESSION_MAX_LIFETIME=3600)
    client = app.test_client()
    sign_up(client, app)
    frozen.advance(3000)
    assert whoami(client)["user_id"]
    frozen.advance(700)
    assert whoami(client)["user_id"] is None
    from flask_clerk.core.models import Session
    with app.extensions["clerk"].instance.store.session() as db:
        assert db.query(Session).one().status == "expired"


def test_inactivity_timeout(make_app, frozen):
    app = make_app(CLERK_SESSION_INACTIVITY_TIMEOUT=600)
    client = app.test_client()
    sign_up(client, app)
    for _ in range(3):  # activity keeps it alive past the timeout in total
        frozen.advance(400)
        assert whoami(client)["user_id"]
    frozen.advance(601)
    assert whoami(client)["user_id"] is None


def test_cookies_are_secure_outside_development(make_app):
    app = make_app(TESTING=False, CLERK_DEV_MAILBOX=True)
    assert app.extensions["clerk"].settings.cookie_secure
    client = app.test_client()
    post(client, "/__clerk/sign-up", {"email_address": "s@example.com",
                                      "password": "quiet-harbor-lantern-42"}, page="/sign-up")
    from conftest import last_code
    response = post(client, "/__clerk/sign-up/verify", {"code": last_code(app, "s@example.com")},
                    page="/sign-up")
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("__session", "__client"):
        assert "Secure" in cookies[name] and "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name] and "Domain" not in cookies[name]


def test_users_see_and_revoke_their_own_sessions(app, client, user):
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
    sign_in(phone)
    page = client.get("/user?page=security").get_data(as_text=True)
    assert "iOS 17" in page and "Mobile Safari 17" in page and "This device" in page
    phone_session = whoami(phone)["session_id"]
    response = post(client, f"/__clerk/user/sessions/{phone_session}/revoke", {},
                    page="/user?page=security")
    assert response.status_code == 303
    assert whoami(phone)["user_id"] is None
    # Someone else's session id is not found, and nothing happens to it.
    other = app.test_client()
    sign_up(other, app, email="eve@example.com")
    eve_session = whoami(other)["session_id"]
    response = post(client, f"/__clerk/user/sessions/{eve_session}/revoke", {},
                    page="/user?page=security")
    assert response.status_code == 404
    assert whoami(other)["user_id"]


@pytest.mark.parametrize("header", [
    "", "__session=abc.def.ghi", "a=1; __session=tok", "a=1;__session=tok; b=2",
    "x__session=no; __session=yes", "__sessionx=no", "a=1; __session=first; __session=second",
    "__session=", "a=b", "a=1;  __session=spaced", "__client=c; __session=s; __client_uat=0",
])
def test_the_quick_session_cookie_reading_agrees_with_werkzeug(header):
    """The hot path reads ``__session`` without parsing the whole header: it finds what
    Werkzeug's parser finds, or leaves the header to it."""
    from werkzeug.sansio.http import parse_cookie

    from flask_clerk.request import session_cookie

    quick = session_cookie(header)
    assert quick is not None
    assert quick == (parse_cookie(header).get("__session") or "")


def test_a_quoted_cookie_header_is_left_to_werkzeug():
    from flask_clerk.request import session_cookie

    assert session_cookie('a="x __session=evil"; __session=real') is None
