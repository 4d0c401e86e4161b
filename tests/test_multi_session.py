"""Multi-session (``CLERK_MULTI_SESSION``): several accounts signed in on one browser,
switched from the user button; signing out one leaves the others."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from conftest import csrf_token, post, sign_in, sign_out, sign_up
from flask_clerk.core import sessions
from flask_clerk.core.models import Client, Session


@pytest.fixture
def app(make_app):
    return make_app(CLERK_MULTI_SESSION=True)


def whoami(client) -> dict:
    return client.get("/whoami").get_json()


def two_accounts(app, client) -> tuple[str, str]:
    """Ada, then Bob signed up on the same browser: the sessions' ids."""
    sign_up(client, app)
    ada = whoami(client)["session_id"]
    sign_up(client, app, email="bob@example.com", first_name="Bob", last_name="Byron")
    bob = whoami(client)["session_id"]
    return ada, bob


def switch_targets(html: str) -> list[str]:
    forms = re.findall(r'<form method="post" action="/__clerk/sessions/switch">(.*?)</form>',
                       html, re.S)
    return [re.search(r'name="session_id" value="([^"]+)"', f).group(1) for f in forms]


def sign_out_one(client, session_id):
    """The user button's "Sign out": the active account only."""
    return post(client, "/__clerk/sign-out", {"session_id": session_id}, page="/")


def store(app):
    return app.extensions["clerk"].instance.store.session()


def test_a_second_account_joins_the_browser_and_the_first_stays(app, client):
    sign_up(client, app)
    ada = whoami(client)["session_id"]
    before = client.get_cookie("__client").value
    # Signed in, the sign-in page still shows its form: it is how an account is added.
    page = client.get("/sign-in")
    assert page.status_code == 200 and 'name="identifier"' in page.get_data(as_text=True)
    sign_up(client, app, email="bob@example.com", first_name="Bob", last_name="Byron")
    bob = whoami(client)["session_id"]
    assert bob != ada
    with store(app) as db:
        rows = {s.id: s for s in db.scalars(select(Session))}
        assert rows[ada].status == rows[bob].status == "active"
        assert rows[ada].client_id == rows[bob].client_id
        client_row = db.get(Client, rows[bob].client_id)
        assert client_row.last_active_session_id == bob
    # The client's token was renewed at the sign-in: the old cookie signs nobody in.
    assert client.get_cookie("__client").value != before
    stale = app.test_client()
    stale.set_cookie("__client", before)
    assert whoami(stale)["user_id"] is None


def test_the_user_button_lists_the_other_accounts_and_switches(app, client):
    ada, bob = two_accounts(app, client)
    html = client.get("/").get_data(as_text=True)
    assert "cl-userButtonPopoverActions__multiSession" in html
    assert "singleSession" not in html
    assert switch_targets(html) == [ada]  # the others only, not the active one
    assert "ada@example.com" in html and "Add account" in html
    assert "Sign out of all accounts" in html
    response = post(client, "/__clerk/sessions/switch", {"session_id": ada}, page="/")
    assert response.status_code == 303
    assert whoami(client)["session_id"] == ada
    assert switch_targets(client.get("/").get_data(as_text=True)) == [bob]


def test_only_this_browsers_live_sessions_can_be_switched_to(app, client):
    ada, bob = two_accounts(app, client)
    other = app.test_client()
    sign_up(other, app, email="eve@example.com", first_name="Eve", last_name="Evans")
    eve = whoami(other)["session_id"]
    for target in (eve, "sess_unknown", ""):
        response = post(client, "/__clerk/sessions/switch", {"session_id": target}, page="/")
        assert response.status_code == 404, target
        assert "no longer signed in on this browser" in response.get_data(as_text=True)
        assert whoami(client)["session_id"] == bob
    with store(app) as db:  # Ada's session ended elsewhere (her devices page, say)
        sessions.revoke_own_session(app.extensions["clerk"].instance, db,
                                    db.get(Session, ada).user_id, ada)
    assert post(client, "/__clerk/sessions/switch", {"session_id": ada},
                page="/").status_code == 404
    assert whoami(client)["session_id"] == bob


def test_signing_out_one_account_leaves_the_other_active(app, client):
    ada, bob = two_accounts(app, client)
    html = client.get("/").get_data(as_text=True)
    assert f'name="session_id" value="{bob}"' in html.split("Sign out</span>")[0]
    response = sign_out_one(client, bob)
    assert response.status_code == 303
    assert whoami(client)["session_id"] == ada  # at once: the cookie was set with the answer
    with store(app) as db:
        assert db.get(Session, bob).status == "ended"
        assert db.get(Session, ada).status == "active"
    sign_out_one(client, ada)
    assert whoami(client)["user_id"] is None


def test_signing_out_an_account_that_is_not_active_keeps_the_active_one(app, client):
    ada, bob = two_accounts(app, client)  # (a tab still showing Ada's page)
    assert sign_out_one(client, ada).status_code == 303
    assert whoami(client)["session_id"] == bob
    with store(app) as db:
        assert db.get(Session, ada).status == "ended"
    # Another browser's session id signs nothing out there.
    other = app.test_client()
    sign_up(other, app, email="eve@example.com", first_name="Eve", last_name="Evans")
    eve = whoami(other)["session_id"]
    sign_out_one(client, eve)
    assert whoami(other)["session_id"] == eve


def test_sign_out_without_an_account_named_signs_out_all(app, client):
    """Clerk's ``signOut()``: an app's own sign-out form signs every account out."""
    ada, bob = two_accounts(app, client)
    response = sign_out(client)
    assert response.status_code == 303
    assert whoami(client)["user_id"] is None
    with store(app) as db:
        assert {db.get(Session, ada).status, db.get(Session, bob).status} == {"ended"}


def test_the_same_account_signed_in_again_replaces_its_own_session(app, client):
    ada, bob = two_accounts(app, client)
    sign_in(client)  # Ada again
    again = whoami(client)["session_id"]
    assert again not in (ada, bob)
    with store(app) as db:
        assert db.get(Session, ada).status == "replaced"
        assert db.get(Session, bob).status == "active"
        live = sessions.client_sessions(db, client.get_cookie("__client").value)
        assert [s.id for s in live] == [again, bob]


def test_when_the_active_session_ends_elsewhere_the_next_account_takes_over(
        app, client, frozen):
    ada, bob = two_accounts(app, client)
    token_of_bobs_page = csrf_token(client, "/")
    instance = app.extensions["clerk"].instance
    with store(app) as db:
        sessions.revoke_user_sessions(instance, db, db.get(Session, bob).user_id)
        db.commit()
    frozen.advance(61 + 5)  # Bob's token has run out: the refresh finds Ada
    # A form still on Bob's page does not run as Ada: that request is nobody's, and
    # its CSRF token is over.
    response = client.post("/__clerk/sign-out", data={"csrf_token": token_of_bobs_page})
    assert response.status_code == 400
    with store(app) as db:
        assert db.get(Session, ada).status == "active"
    assert whoami(client)["session_id"] == ada  # and now Ada is the browser's account


def test_a_page_load_after_the_active_session_ended_shows_the_next_account(
        app, client, frozen):
    ada, bob = two_accounts(app, client)
    with store(app) as db:
        sessions.revoke_own_session(app.extensions["clerk"].instance, db,
                                    db.get(Session, bob).user_id, bob)
    frozen.advance(61 + 5)
    assert whoami(client)["session_id"] == ada


def test_turned_off_sign_out_ends_every_account_on_the_browser(app, client):
    ada, bob = two_accounts(app, client)
    instance = app.extensions["clerk"].instance
    from flask_clerk.core import instance_settings

    with store(app) as db:
        instance_settings.save(db, {"multi_session": False}, by=None)
        db.commit()
    instance.forget_settings()
    html = client.get("/").get_data(as_text=True)
    assert "singleSession" in html and "Add account" not in html
    assert client.get("/sign-in").status_code == 302  # signed in: nothing to add
    switched = post(client, "/__clerk/sessions/switch", {"session_id": ada}, page="/")
    assert switched.status_code == 404 and whoami(client)["session_id"] == bob
    sign_out_one(client, bob)  # (a form rendered before): every account all the same
    assert whoami(client)["user_id"] is None
    with store(app) as db:
        assert {db.get(Session, ada).status, db.get(Session, bob).status} == {"ended"}


def test_single_session_instances_replace_the_browsers_session(make_app):
    app = make_app()
    client = app.test_client()
    sign_up(client, app)
    ada = whoami(client)["session_id"]
    assert "Add account" not in client.get("/").get_data(as_text=True)
    sign_up(client, app, email="bob@example.com")  # a signed-in browser: not shown, but posted
    with store(app) as db:
        assert db.get(Session, ada).status == "replaced"


def test_a_client_renewed_by_another_sign_in_meanwhile_is_not_joined(app, client):
    """Two tabs signing in at once with the same ``__client``: the one that comes
    second keeps a client of its own rather than overwrite the first one's token."""
    from flask_clerk.core.instance import RequestInfo
    from flask_clerk.core.models import User
    from flask_clerk.ids import token_hash

    sign_up(client, app)
    browser_token = client.get_cookie("__client").value
    instance = app.extensions["clerk"].instance
    with store(app) as db, store(app) as other_tab:
        old = db.scalars(select(Client).where(Client.token_hash == token_hash(browser_token))
                         ).one()
        other_tab.get(Client, old.id).token_hash = token_hash("renewed-by-the-other-tab")
        other_tab.commit()
        user = db.scalars(select(User)).one()
        prepared = sessions.prepare_session(instance, user, RequestInfo(None, None, None))
        result = sessions._join_client(db, old, prepared)
        assert result.client is prepared.client and result.session.client_id != old.id
        db.rollback()
        assert db.get(Client, old.id).token_hash == token_hash("renewed-by-the-other-tab")
