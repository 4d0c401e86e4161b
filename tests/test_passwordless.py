"""Passwordless sign-in (issue 6): a mailed code or a mailed link as the first
factor, what ``CLERK_SIGN_IN_STRATEGIES`` turns on, and how both meet the lockout,
the second factor and a ban.

Everything goes over HTTP with the test client, as a browser would: the code and
the link are read from the development mailbox; a second browser (or a mail
scanner) is a second test client; time moves with the ``frozen`` clock.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp
import pytest

from conftest import PASSWORD, csrf_token, post, sign_out, sign_up
from flask_clerk.core import clock, mfa
from flask_clerk.core.models import EmailAddress, SignIn, User
from flask_clerk.errors import ClerkConfigError
from flask_clerk.web.forms import sign_return_to

ADA = "ada@example.com"
NOBODY = "nobody@example.com"
WITH_LINKS = ("password", "email_code", "email_link")
LINK = re.compile(r"(\S+/sign-in/verify-link\?token=\S+)")
CSRF_VALUE = re.compile(r'name="csrf_token" value="[^"]+"')


# -- Helpers --------------------------------------------------------------------------------


def mails(app, email=ADA):
    return app.extensions["clerk"].instance.dev_mailbox.mails(email)


def sign_in_code(app, email=ADA):
    """The code of the newest mail to ``email``, which must be a sign-in code."""
    mail = mails(app, email)[0]
    match = re.fullmatch(r"(\d{6}) is your sign-in code", mail.subject)
    assert match, mail.subject
    assert f"    {match.group(1)}\n" in mail.text and "sign in to Test App" in mail.text
    return match.group(1)


def sign_in_link(app, email=ADA):
    mail = mails(app, email)[0]
    assert mail.subject == "Your sign-in link for Test App", mail.subject
    return LINK.search(mail.text).group(1)


def wrong_code(code):
    """A well-formed code that is not ``code``."""
    return "000000" if code != "000000" else "111111"


def start(client, email=ADA):
    response = post(client, "/__clerk/sign-in", {"identifier": email})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def choose(client, strategy):
    return post(client, "/__clerk/sign-in/strategy", {"strategy": strategy})


def enter_code(client, code):
    return post(client, "/__clerk/sign-in/email-code", {"code": code})


def open_link(client, url):
    """Follow a mailed link in ``client``: the issuer's URL, served by this app."""
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def signed_in_as(client):
    return client.get("/whoami").get_json()["user_id"]


def user_row(app, email=ADA):
    with app.extensions["clerk"].instance.store.session() as db:
        return db.query(User).join(EmailAddress, EmailAddress.user_id == User.id).filter(
            EmailAddress.email_address == email).one()


def update_user(app, email=ADA, **values):
    user_id = user_row(app, email).id
    with app.extensions["clerk"].instance.store.session() as db:
        db.query(User).filter_by(id=user_id).update(values)
        db.commit()


def sign_in_rows(app):
    with app.extensions["clerk"].instance.store.session() as db:
        return db.query(SignIn).all()


def text(response):
    return response.get_data(as_text=True)


def signed_up(app, email=ADA):
    """A user, signed up in a browser of their own that is then closed."""
    client = app.test_client()
    sign_up(client, app, email=email)
    sign_out(client)
    return user_row(app, email)


@pytest.fixture
def ada(app):
    return signed_up(app)


@pytest.fixture
def link_app(make_app):
    app = make_app(CLERK_SIGN_IN_STRATEGIES=WITH_LINKS)
    signed_up(app)
    return app


def ask_for_link(app, client):
    start(client)
    response = choose(client, "email_link")
    assert response.status_code == 303, text(response)
    return sign_in_link(app)


# -- Email code -----------------------------------------------------------------------------


def test_a_mailed_code_signs_in_once_chosen(app, client, ada):
    sent = len(mails(app))
    start(client)
    page = text(client.get("/sign-in"))
    assert "Enter your password" in page and "Use another method" in page
    assert len(mails(app)) == sent  # nothing is mailed before the code is chosen

    response = choose(client, "email_code")
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    page = text(client.get("/sign-in"))
    assert "Check your email" in page and 'action="/__clerk/sign-in/email-code"' in page
    assert ADA in page

    response = enter_code(client, sign_in_code(app))
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get_cookie("__session") is not None
    assert client.get_cookie("__clerk_sign_in") is None
    assert signed_in_as(client) == ada.id
    assert sign_in_rows(app) == []


def test_an_unknown_address_gets_no_mail_but_the_same_answers(app, ada):
    def walk(email):
        client = app.test_client()
        answers = [start(client, email), choose(client, "email_code")]
        page = text(client.get("/sign-in"))
        real = sign_in_code(app) if email == ADA else "000000"
        answers.append(enter_code(client, wrong_code(real)))
        return client, answers, page

    known, known_answers, known_page = walk(ADA)
    unknown, unknown_answers, unknown_page = walk(NOBODY)
    assert [(r.status_code, r.headers.get("Location")) for r in known_answers] == \
        [(r.status_code, r.headers.get("Location")) for r in unknown_answers] == \
        [(303, "/sign-in"), (303, "/sign-in"), (422, None)]

    def same(page, email):
        return CSRF_VALUE.sub("", page.replace(email, "EMAIL"))

    assert same(known_page, ADA) == same(unknown_page, NOBODY)
    assert same(text(known_answers[-1]), ADA) == same(text(unknown_answers[-1]), NOBODY)
    assert "Incorrect code." in text(unknown_answers[-1])
    assert mails(app, NOBODY) == []
    assert "sign-in code" in mails(app, ADA)[0].subject


def test_a_wrong_code_is_refused_and_counted(app, client, ada):
    start(client)
    choose(client, "email_code")
    response = enter_code(client, wrong_code(sign_in_code(app)))
    assert response.status_code == 422 and "Incorrect code." in text(response)
    assert client.get_cookie("__session") is None and signed_in_as(client) is None
    [flow] = sign_in_rows(app)
    assert flow.code_attempts == 1
    assert user_row(app).failed_attempts == 1
    # The right code still works, and clears the account's count.
    assert enter_code(client, sign_in_code(app)).status_code == 303
    assert signed_in_as(client) == ada.id
    assert user_row(app).failed_attempts == 0


def test_past_the_allowed_guesses_even_the_right_code_is_refused(app, client, ada):
    allowed = app.extensions["clerk"].settings.code_attempts  # CLERK_CODE_ATTEMPTS: 5
    start(client)
    choose(client, "email_code")
    code = sign_in_code(app)
    for _ in range(allowed):
        assert enter_code(client, wrong_code(code)).status_code == 422
    response = enter_code(client, code)
    assert response.status_code == 422
    assert "Too many incorrect attempts" in text(response)
    assert signed_in_as(client) is None and client.get_cookie("__session") is None


def test_a_code_is_single_use_and_bound_to_its_flow(app, client, ada):
    start(client)
    choose(client, "email_code")
    code = sign_in_code(app)
    flow_cookie = client.get_cookie("__clerk_sign_in").value
    assert enter_code(client, code).status_code == 303
    sign_out(client)
    # The same browser, its old flow cookie put back: that flow is over.
    client.set_cookie("__clerk_sign_in", flow_cookie)
    response = enter_code(client, code)
    assert response.status_code == 400 and "This sign-in has expired" in text(response)
    assert signed_in_as(client) is None
    # A new flow: the old code does not open it either.
    start(client)
    choose(client, "email_code")
    if sign_in_code(app) == code:
        pytest.skip("the new code happens to be the old one (one in a million)")
    response = enter_code(client, code)
    assert response.status_code == 422 and "Incorrect code." in text(response)
    assert signed_in_as(client) is None


def test_an_expired_code_is_refused(app, client, ada, frozen):
    start(client)
    choose(client, "email_code")
    code = sign_in_code(app)
    frozen.advance(app.extensions["clerk"].settings.code_lifetime + 1)
    response = enter_code(client, code)
    assert response.status_code == 422 and "This code has expired" in text(response)
    assert signed_in_as(client) is None


def test_a_resend_waits_its_interval_then_replaces_the_code(app, client, ada, frozen):
    start(client)
    choose(client, "email_code")
    first = sign_in_code(app)
    sent = len(mails(app))
    response = choose(client, "email_code")  # "Resend", at once
    assert response.status_code == 429 and "Check your email" in text(response)
    assert re.search(r"Wait \d+ seconds before requesting a new code", text(response))
    assert len(mails(app)) == sent
    frozen.advance(app.extensions["clerk"].settings.code_resend_interval + 1)
    assert choose(client, "email_code").status_code == 303
    assert len(mails(app)) == sent + 1
    second = sign_in_code(app)
    if first != second:
        assert enter_code(client, first).status_code == 422  # replaced
    assert enter_code(client, second).status_code == 303
    assert signed_in_as(client) == user_row(app).id


# -- Email code and the account lockout -----------------------------------------------------


def test_code_guesses_lock_the_account(make_app, frozen):
    app = make_app(CLERK_LOCKOUT_ATTEMPTS=3)
    ada = signed_up(app)
    client = app.test_client()
    start(client)
    choose(client, "email_code")
    code = sign_in_code(app)
    for _ in range(3):
        assert enter_code(client, wrong_code(code)).status_code == 422
    row = user_row(app)
    assert row.failed_attempts == 3 and row.locked_until is not None
    response = enter_code(client, code)  # the right code, on a locked account
    assert response.status_code == 403 and "Your account is locked" in text(response)
    assert signed_in_as(client) is None
    # An hour later the lockout is over: a new code signs in and clears the count.
    frozen.advance(app.extensions["clerk"].settings.lockout_duration + 1)
    post(client, "/__clerk/sign-in/restart", {})
    start(client)
    choose(client, "email_code")
    assert enter_code(client, sign_in_code(app)).status_code == 303
    assert signed_in_as(client) == ada.id
    assert user_row(app).failed_attempts == 0


def test_the_lockout_does_not_tell_a_real_address_from_an_unknown_one(app, ada):
    """Two flows of wrong codes, then one more guess: both addresses answer alike
    (the password step keeps a phantom lockout for unknown identifiers)."""
    allowed = app.extensions["clerk"].settings.code_attempts
    limit = app.extensions["clerk"].settings.lockout_attempts

    def last_answer(email):
        client = app.test_client()
        for _ in range(-(-limit // allowed)):  # enough flows to reach the limit
            post(client, "/__clerk/sign-in/restart", {})
            start(client, email)
            choose(client, "email_code")
            for _ in range(allowed):
                enter_code(client, "000000")
        post(client, "/__clerk/sign-in/restart", {})
        start(client, email)
        choose(client, "email_code")
        return enter_code(client, "000000")

    known, unknown = last_answer(ADA), last_answer(NOBODY)
    assert user_row(app).locked_until is not None  # the real account is locked
    assert (known.status_code, "locked" in text(known)) == \
        (unknown.status_code, "locked" in text(unknown))


# -- Email link -----------------------------------------------------------------------------


def test_the_link_is_built_from_the_issuer_not_the_request_host(link_app):
    client = link_app.test_client()
    issuer = link_app.extensions["clerk"].settings.issuer
    start(client)
    # The browser's cookies, sent to the same app under a forged Host.
    for name in ("session", "__clerk_sign_in"):
        client.set_cookie(name, client.get_cookie(name).value, domain="evil.example")
    with link_app.test_request_context():
        return_to = sign_return_to("/sign-in")
    response = client.post("/__clerk/sign-in/strategy", headers={"Host": "evil.example"}, data={
        "csrf_token": csrf_token(client), "return_to": return_to, "strategy": "email_link"})
    assert response.status_code == 303, text(response)
    mail = mails(link_app)[0]
    url = sign_in_link(link_app)
    assert url.startswith(f"{issuer}/sign-in/verify-link?token=")
    assert "evil.example" not in mail.text
    token = url.split("token=", 1)[1]
    assert len(token) >= 22  # at least 128 bits, URL-safe
    page = text(client.get("/sign-in"))
    assert "Check your email" in page and "Use the verification link" in page


def test_the_link_signs_in_the_browser_that_asked_for_it_once(link_app):
    client = link_app.test_client()
    url = ask_for_link(link_app, client)
    response = open_link(client, url)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get_cookie("__session") is not None
    assert signed_in_as(client) == user_row(link_app).id
    assert sign_in_rows(link_app) == []

    sign_out(client)
    again = open_link(client, url)
    assert again.status_code == 400 and "This sign-in link is not valid" in text(again)
    assert signed_in_as(client) is None


def test_a_link_opened_in_another_browser_signs_nobody_in_and_stays_usable(link_app):
    client = link_app.test_client()
    url = ask_for_link(link_app, client)
    for other in (link_app.test_client(), link_app.test_client()):  # a scanner, twice
        response = open_link(other, url)
        assert response.status_code == 400
        assert "must be opened in the browser where you started" in text(response)
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert other.get_cookie("__session") is None and signed_in_as(other) is None
    # The browser that asked still gets in with it.
    assert open_link(client, url).status_code == 303
    assert signed_in_as(client) == user_row(link_app).id


def test_an_expired_link_is_refused(link_app, frozen):
    client = link_app.test_client()
    url = ask_for_link(link_app, client)
    frozen.advance(590)  # ten minutes: not yet expired, only in the wrong browser
    assert "must be opened in the browser" in text(open_link(link_app.test_client(), url))
    frozen.advance(11)
    response = open_link(client, url)
    assert response.status_code == 400 and "This sign-in link has expired" in text(response)
    assert client.get_cookie("__session") is None and signed_in_as(client) is None


@pytest.mark.parametrize("query", ["", "?token=", "?token=garbage", "?token=" + "A" * 500,
                                   "?token=%00%ff", "?token=%E2%9C%93&token=x"])
def test_a_malformed_link_gets_a_400_page(link_app, query):
    client = link_app.test_client()
    ask_for_link(link_app, client)  # a flow in this browser changes nothing
    response = client.get(f"/__clerk/sign-in/verify-link{query}")
    assert response.status_code == 400
    assert "This sign-in link is not valid" in text(response)
    assert "Back to sign in" in text(response)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert signed_in_as(client) is None


def test_a_new_link_or_a_code_replaces_the_link(link_app, frozen):
    client = link_app.test_client()
    first = ask_for_link(link_app, client)
    frozen.advance(31)
    assert choose(client, "email_link").status_code == 303
    second = sign_in_link(link_app)
    assert second != first
    assert open_link(client, first).status_code == 400
    frozen.advance(31)
    assert choose(client, "email_code").status_code == 303  # "Use another method"
    assert open_link(client, second).status_code == 400
    assert enter_code(client, sign_in_code(link_app)).status_code == 303


# -- With a second factor -------------------------------------------------------------------


def enrol_totp(app, email=ADA):
    """Turn the authenticator app on through the engine; returns its secret."""
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        user = db.get(User, user_row(app, email).id)
        secret = mfa.start_totp(instance, db, user).secret
        mfa.confirm_totp(instance, db, user, pyotp.TOTP(secret).at(clock.now()))
    return secret


def assert_asked_for_the_second_factor(client, response):
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    assert client.get_cookie("__session") is None and client.get_cookie("__client") is None
    assert signed_in_as(client) is None
    page = text(client.get("/sign-in"))
    assert "Two-step verification" in page and "cl-signIn-totp2Fa" in page


def pass_totp(app, client, secret):
    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "totp", "code": "000000"})
    assert response.status_code == 422  # (000000 is right once in a million steps)
    response = post(client, "/__clerk/sign-in/second-factor",
                    {"strategy": "totp", "code": pyotp.TOTP(secret).at(clock.now())})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert signed_in_as(client) == user_row(app).id


def test_an_email_code_is_only_the_first_factor_with_mfa(app, client, ada, frozen):
    secret = enrol_totp(app)
    frozen.advance(30)  # the enrolment's code is spent
    start(client)
    choose(client, "email_code")
    assert_asked_for_the_second_factor(client, enter_code(client, sign_in_code(app)))
    pass_totp(app, client, secret)


def test_an_email_link_is_only_the_first_factor_with_mfa(link_app, frozen):
    secret = enrol_totp(link_app)
    frozen.advance(30)
    client = link_app.test_client()
    url = ask_for_link(link_app, client)
    assert_asked_for_the_second_factor(client, open_link(client, url))
    pass_totp(link_app, client, secret)


def test_a_link_does_not_take_second_factor_failures_off_the_count(link_app, frozen):
    enrol_totp(link_app)
    frozen.advance(30)
    client = link_app.test_client()
    open_link(client, ask_for_link(link_app, client))
    for _ in range(3):
        post(client, "/__clerk/sign-in/second-factor", {"strategy": "totp", "code": "000000"})
    assert user_row(link_app).failed_attempts == 3
    post(client, "/__clerk/sign-in/restart", {})
    frozen.advance(31)
    open_link(client, ask_for_link(link_app, client))  # the first factor again
    assert "Two-step verification" in text(client.get("/sign-in"))
    assert user_row(link_app).failed_attempts == 3  # as after a right password or code


# -- What CLERK_SIGN_IN_STRATEGIES turns on -------------------------------------------------


def test_without_passwords_sign_up_sets_none_and_sign_in_mails_a_code_at_once(make_app):
    app = make_app(CLERK_SIGN_IN_STRATEGIES=("email_code",))
    client = app.test_client()
    page = text(client.get("/sign-up"))
    assert 'name="email_address"' in page and 'name="password"' not in page
    response = post(client, "/__clerk/sign-up", {
        "email_address": ADA, "first_name": "Ada", "last_name": "Lovelace"}, page="/sign-up")
    assert response.status_code == 303, text(response)
    code = re.search(r"\b(\d{6})\b", mails(app)[0].text).group(1)
    assert post(client, "/__clerk/sign-up/verify", {"code": code},
                page="/sign-up").status_code == 303
    ada = user_row(app)
    assert ada.password_digest is None and ada.password_last_updated_at is None
    sign_out(client)

    sent = len(mails(app))
    start(client)
    assert len(mails(app)) == sent + 1  # mailed with the identifier, nothing to choose
    page = text(client.get("/sign-in"))
    assert "Check your email" in page and 'name="password"' not in page
    assert "Use another method" not in page  # there is no other
    response = choose(client, "password")
    assert response.status_code == 422 and "Check your email" in text(response)
    assert [flow.strategy for flow in sign_in_rows(app)] == ["email_code"]
    response = post(client, "/__clerk/sign-in/email-code", {"code": sign_in_code(app)})
    assert response.status_code == 303
    assert signed_in_as(client) == ada.id


def test_a_refused_method_says_why(make_app):
    app = make_app(CLERK_SIGN_IN_STRATEGIES=("email_code",))
    signed_up(app)
    client = app.test_client()
    start(client)
    response = choose(client, "password")
    assert response.status_code == 422
    assert "This verification method is not available" in text(response)


def test_without_passwords_an_old_password_no_longer_signs_in(make_app):
    with_passwords = make_app()
    ada = signed_up(with_passwords)  # Ada set a password while passwords were on
    app = make_app(CLERK_SIGN_IN_STRATEGIES=("email_code",))  # the same store
    client = app.test_client()
    start(client)
    response = post(client, "/__clerk/sign-in/password", {"password": PASSWORD})
    assert response.status_code == 422
    assert "This verification method is not available" in text(response)
    assert signed_in_as(client) != ada.id


def test_the_password_card_offers_the_code_but_not_the_link_by_default(app, client, ada):
    sent = len(mails(app))
    start(client)
    page = text(client.get("/sign-in"))
    assert 'href="/sign-in?method=alternatives"' in page
    page = text(client.get("/sign-in?method=alternatives"))
    assert "Use another method" in page
    assert f"Email code to <strong>{ADA}</strong>" in page
    assert "Sign in with your password" in page
    assert "Email link to" not in page
    assert choose(client, "email_link").status_code == 422  # off: nothing mailed
    assert len(mails(app)) == sent


def test_with_links_on_the_alternatives_list_both_mailed_methods(link_app):
    client = link_app.test_client()
    start(client)
    page = text(client.get("/sign-in?method=alternatives"))
    assert f"Email code to <strong>{ADA}</strong>" in page
    assert f"Email link to <strong>{ADA}</strong>" in page
    assert page.count('name="strategy"') == 3


@pytest.mark.parametrize("strategies", [("password", "sms_code"), ("magic",), ()])
def test_an_unknown_strategy_is_a_configuration_error(make_app, strategies):
    with pytest.raises(ClerkConfigError, match="CLERK_SIGN_IN_STRATEGIES"):
        make_app(CLERK_SIGN_IN_STRATEGIES=strategies)


# -- A banned user --------------------------------------------------------------------------


def test_a_banned_user_is_refused_with_the_right_code(app, client, ada):
    update_user(app, banned=True)
    start(client)
    choose(client, "email_code")
    response = enter_code(client, sign_in_code(app))
    assert response.status_code == 403
    assert "This account has been suspended." in text(response)
    assert client.get_cookie("__session") is None and client.get_cookie("__client") is None
    assert signed_in_as(client) is None


def test_a_banned_user_is_refused_with_the_link(link_app):
    update_user(link_app, banned=True)
    client = link_app.test_client()
    response = open_link(client, ask_for_link(link_app, client))
    assert response.status_code == 403
    assert "This account has been suspended." in text(response)
    assert client.get_cookie("__session") is None and signed_in_as(client) is None
