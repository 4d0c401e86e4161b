"""The engine's outbox: events written with their change, delivered Svix-signed
(the real ``svix`` verifier accepts them), retried on Svix's schedule, leased."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from conftest import build_app, sign_up
from flask_clerk import ClerkWebhooks
from flask_clerk.core import webhooks as outbox
from flask_clerk.core.models import (
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from flask_clerk.errors import ClerkError


@pytest.fixture
def engine_app(make_app):
    return make_app(CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True)


def add_endpoint(app, url="http://127.0.0.1:9/hook", **kwargs):
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        endpoint = outbox.add_endpoint(instance, db, url, **kwargs)
        db.expunge(endpoint)
        return endpoint


def rows(app, model):
    with app.extensions["clerk"].instance.store.session() as db:
        return db.scalars(select(model)).all()


class Recorder:
    """A sender that records what it would POST and answers as told."""

    def __init__(self, *answers):
        self.answers = list(answers) or [outbox.Response(200, "ok")]
        self.sent = []

    def __call__(self, url, body, headers):
        self.sent.append((url, json.loads(body), headers))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def deliver(app, send):
    return outbox.deliver_due(app.extensions["clerk"].instance, send=send)


def test_private_urls_are_refused_unless_allowed(make_app):
    app = make_app()
    instance = app.extensions["clerk"].instance
    with instance.store.session() as db:
        for url, code in (("http://127.0.0.1:5000/hook", "webhook_url_private"),
                          ("http://10.1.2.3/hook", "webhook_url_private"),
                          ("http://169.254.169.254/latest", "webhook_url_private"),
                          ("http://localhost/hook", "webhook_url_private"),
                          ("ftp://example.com/x", "webhook_url_invalid"),
                          ("http://[/", "webhook_url_invalid"), ("", "webhook_url_invalid")):
            with pytest.raises(ClerkError) as error:
                outbox.add_endpoint(instance, db, url)
            assert error.value.code == code, url
    assert add_endpoint(make_app(CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True)).secret.startswith(
        "whsec_")


@contextmanager
def live_receiver(app, tmp_path, event_types=()):
    """A ClerkWebhooks receiver (svix's verifier) served over real HTTP, subscribed
    to ``app``'s outbox; yields the list of events it handled."""
    endpoint = add_endpoint(app, "http://127.0.0.1:1/placeholder", event_types=event_types)
    receiver = build_app(f"sqlite:///{tmp_path}/receiver.db",
                         CLERK_WEBHOOK_SIGNING_SECRET=endpoint.secret)
    received = []
    ClerkWebhooks(receiver).on("*")(received.append)
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        instance = app.extensions["clerk"].instance
        with instance.store.session() as db:
            outbox.update_endpoint(instance, db, endpoint.id,
                                   url=f"http://127.0.0.1:{server.server_port}/webhooks/clerk")
        yield received
    finally:
        server.shutdown()
        thread.join(5)
        receiver.extensions["clerk"].instance.store.engine.dispose()


def test_sign_up_delivers_events_the_svix_verifier_accepts(engine_app, tmp_path):
    """A real receiver (ClerkWebhooks, i.e. svix's verifier) over real HTTP."""
    with live_receiver(engine_app, tmp_path) as received:
        sign_up(engine_app.test_client(), engine_app)
        assert outbox.deliver_due(engine_app.extensions["clerk"].instance) == 3
    # Sent side by side, they may arrive in either order (as with Svix).
    assert sorted(e["type"] for e in received) == ["email.created", "session.created",
                                                   "user.created"]
    user_event = next(e for e in received if e["type"] == "user.created")
    assert user_event["object"] == "event" and user_event["instance_id"].startswith("ins_")
    assert user_event["data"]["email_addresses"][0]["email_address"] == "ada@example.com"
    assert user_event["event_attributes"]["http_request"]["client_ip"] == "127.0.0.1"
    assert {d.status for d in rows(engine_app, WebhookDelivery)} == {"succeeded"}
    assert [a.status_code for a in rows(engine_app, WebhookAttempt)] == [200, 200, 200]


def test_a_change_that_fails_leaves_no_event(engine_app, monkeypatch):
    from flask_clerk.core import sign_up as flows

    add_endpoint(engine_app)

    def broken(*args, **kwargs):
        raise RuntimeError("crash after the user and its event were added")

    monkeypatch.setattr(flows, "create_session", broken)
    with pytest.raises(RuntimeError):
        sign_up(engine_app.test_client(), engine_app)
    assert rows(engine_app, User) == []
    assert [m.event_type for m in rows(engine_app, WebhookMessage)] == ["email.created"], (
        "the code's mail was sent; nothing of the failed step remains")


def test_only_the_event_types_an_endpoint_asked_for(engine_app):
    add_endpoint(engine_app, event_types=["user.created"])
    sign_up(engine_app.test_client(), engine_app)
    assert [m.event_type for m in rows(engine_app, WebhookMessage)] == ["user.created"]


def test_retries_follow_svixs_schedule_and_keep_the_id(engine_app, frozen):
    add_endpoint(engine_app, event_types=["user.created"])
    sign_up(engine_app.test_client(), engine_app)
    failing = Recorder(outbox.Response(500, "down"))
    waits = []
    for expected in outbox.RETRY_SCHEDULE[1:]:
        assert deliver(engine_app, failing) == 1
        delivery = rows(engine_app, WebhookDelivery)[0]
        wait = (delivery.next_attempt_at - frozen_now()).total_seconds()
        waits.append(wait)
        assert expected <= wait <= expected * 1.1 + 1
        assert deliver(engine_app, failing) == 0, "not due yet"
        frozen.advance(wait + 1)
    assert deliver(engine_app, failing) == 1
    delivery = rows(engine_app, WebhookDelivery)[0]
    assert delivery.status == "failed" and delivery.attempts == len(outbox.RETRY_SCHEDULE)
    assert len({h["svix-id"] for _, _, h in failing.sent}) == 1
    assert len({h["svix-timestamp"] for _, _, h in failing.sent}) == len(failing.sent)
    instance = engine_app.extensions["clerk"].instance
    with instance.store.session() as db:
        [(failed, last)] = outbox.recent_deliveries(db, failed_only=True)
        assert failed.message.event_type == "user.created" and last.status_code == 500
        assert outbox.replay(db) == 1
    assert deliver(engine_app, Recorder()) == 1
    assert rows(engine_app, WebhookDelivery)[0].status == "succeeded"


def frozen_now():
    from flask_clerk.core import clock

    return clock.now()


def test_gone_disables_and_retry_after_is_honoured(engine_app, frozen):
    add_endpoint(engine_app, event_types=["user.created"])
    sign_up(engine_app.test_client(), engine_app)
    deliver(engine_app, Recorder(outbox.Response(503, "busy", retry_after=600)))
    delivery = rows(engine_app, WebhookDelivery)[0]
    assert (delivery.next_attempt_at - frozen_now()).total_seconds() >= 599
    frozen.advance(601)
    deliver(engine_app, Recorder(outbox.Response(410, "gone")))
    endpoint = rows(engine_app, WebhookEndpoint)[0]
    assert not endpoint.enabled and endpoint.disabled_reason == "410 Gone"
    assert rows(engine_app, WebhookDelivery)[0].status == "failed"


def test_a_lease_keeps_other_workers_off_until_it_expires(engine_app, frozen):
    """A worker killed mid-delivery: its lease runs out and the same message goes
    again with the same svix-id."""
    add_endpoint(engine_app, event_types=["user.created"])
    sign_up(engine_app.test_client(), engine_app)
    instance = engine_app.extensions["clerk"].instance
    assert outbox._lease(instance, 10)  # the first worker took it, then died
    assert deliver(engine_app, Recorder()) == 0
    frozen.advance(instance.settings.webhooks_lease + 1)
    second = Recorder()
    assert deliver(engine_app, second) == 1
    assert second.sent[0][2]["svix-id"] == rows(engine_app, WebhookMessage)[0].id


def test_both_secrets_sign_during_a_rotation(engine_app, frozen):
    from svix.webhooks import Webhook

    old = add_endpoint(engine_app, event_types=["user.created"])
    instance = engine_app.extensions["clerk"].instance
    with instance.store.session() as db:
        new_secret = outbox.rotate_secret(db, old.id).secret
    sign_up(engine_app.test_client(), engine_app)
    recorder = Recorder()
    deliver(engine_app, recorder)
    _, body, headers = recorder.sent[0]
    payload = json.dumps(body, separators=(",", ":"))
    for secret in (old.secret, new_secret):
        Webhook(secret).verify(payload, headers)  # raises if not signed with it
    assert len(headers["svix-signature"].split(" ")) == 2
    frozen.advance(timedelta(hours=25).total_seconds())
    sign_up(engine_app.test_client(), engine_app, email="bea@example.com")
    deliver(engine_app, recorder)
    assert len(recorder.sent[-1][2]["svix-signature"].split(" ")) == 1


def test_the_development_worker_thread_delivers_within_moments(make_app, tmp_path):
    import time

    app = make_app(CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True, CLERK_WEBHOOKS_WORKER="thread")
    worker = app.extensions["clerk"].webhook_worker
    assert worker is not None
    try:
        with live_receiver(app, tmp_path, ["user.created"]) as received:
            sign_up(app.test_client(), app)
            deadline = time.monotonic() + 10
            while not received and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        worker.stop()
    assert [e["data"]["id"] for e in received] == [rows(app, User)[0].id]


def test_the_worker_is_off_unless_debugging(make_app):
    assert make_app().extensions["clerk"].webhook_worker is None
    from flask_clerk.errors import ClerkConfigError

    with pytest.raises(ClerkConfigError, match="flask clerk worker"):
        make_app(CLERK_WEBHOOKS_WORKER="process")


def test_organization_events(make_app):
    from test_organizations import ROLES, create_org, invite, join_by_sign_up, membership, org

    from conftest import post

    app = make_app(CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True, CLERK_ORGANIZATIONS=True,
                   CLERK_ORGANIZATION_ROLES=ROLES)
    ada = app.test_client()
    sign_up(ada, app)
    add_endpoint(app)
    create_org(ada, "Acme Inc", "acme")
    acme = org(app, "acme")
    join_by_sign_up(app, invite(ada, app, acme, "bea@example.com"))
    bea = membership(app, "bea@example.com", acme)
    base = f"/__clerk/organizations/{acme.id}"
    post(ada, f"{base}/memberships/{bea.id}/role", {"role": "org:viewer"},
         page="/organization?page=members")
    invite(ada, app, acme, "carl@example.com")
    with app.extensions["clerk"].instance.store.session() as db:
        from flask_clerk.core.models import OrganizationInvitation

        pending = db.scalars(select(OrganizationInvitation.id).where(
            OrganizationInvitation.status == "pending")).one()
    post(ada, f"{base}/invitations/{pending}/revoke", {}, page="/organization?page=members")
    post(ada, f"{base}/memberships/{bea.id}/remove", {}, page="/organization?page=members")
    post(ada, f"{base}/profile", {"name": "Acme Corp", "slug": "acme"}, page="/organization")
    post(ada, f"{base}/delete", {"confirmation": "Acme Corp"}, page="/organization")
    messages = sorted((m for m in rows(app, WebhookMessage) if m.event_type != "email.created"),
                      key=lambda m: m.created_at)
    kinds = [m.event_type for m in messages if not m.event_type.startswith("session.")]
    assert kinds == [
        "organization.created", "organizationMembership.created",
        "organizationInvitation.created",
        "user.created", "organizationInvitation.accepted", "organizationMembership.created",
        "organizationMembership.updated", "organizationInvitation.created",
        "organizationInvitation.revoked", "organizationMembership.deleted",
        "organization.updated", "organization.deleted",
    ]
    data = {m.event_type: json.loads(m.payload)["data"] for m in messages}
    joined = json.loads(messages[5].payload)["data"]
    assert joined["object"] == "organization_membership" and joined["role"] == "org:member"
    assert joined["public_user_data"]["identifier"] == "bea@example.com"
    assert joined["organization"]["slug"] == "acme"
    assert data["organizationMembership.updated"]["role"] == "org:viewer"
    assert data["organizationMembership.updated"]["permissions"] == ["org:projects:read"]
    assert data["organizationInvitation.revoked"]["status"] == "revoked"
    assert data["organizationInvitation.created"]["url"] is None, "the ticket stays private"
    assert data["organization.updated"]["name"] == "Acme Corp"
    assert data["organization.deleted"] == {"object": "organization", "id": acme.id,
                                            "deleted": True}
    assert data["organizationMembership.deleted"] == {
        "object": "organization_membership", "id": bea.id, "deleted": True}


def test_user_and_session_events(engine_app):
    from conftest import PASSWORD, post, sign_in, sign_out

    add_endpoint(engine_app)
    ada = engine_app.test_client()
    sign_up(ada, engine_app)
    laptop = engine_app.test_client()
    sign_in(laptop)
    post(ada, "/__clerk/user/profile", {"first_name": "Ada", "last_name": "King"}, page="/user")
    post(ada, "/__clerk/user/password", {"current_password": PASSWORD,
                                         "new_password": "another long passphrase 9",
                                         "confirm_password": "another long passphrase 9"},
         page="/user?page=security")
    sign_out(ada)
    sign_in(ada, password="another long passphrase 9")
    post(ada, "/__clerk/user/delete", {"confirmation": "Delete account"},
         page="/user?page=security")
    messages = sorted((m for m in rows(engine_app, WebhookMessage)
                       if m.event_type != "email.created"), key=lambda m: m.created_at)
    assert [m.event_type for m in messages] == [
        "user.created", "session.created",          # sign-up
        "session.created",                          # the laptop signs in
        "user.updated",                             # new name
        "session.revoked", "user.updated",          # new password: the laptop is signed out
        "session.ended",                            # sign-out
        "session.created",                          # sign-in again
        "session.removed", "user.deleted",          # account deleted
    ]
    data = [json.loads(m.payload)["data"] for m in messages]
    assert data[3]["last_name"] == "King"
    assert data[4]["object"] == "session" and data[4]["status"] == "revoked"
    assert data[-1]["deleted"] is True and data[-1]["object"] == "user"


# -- Reliability ------------------------------------------------------------------------------


def receiver_sender(engine_app, tmp_path, *, down=lambda: False):
    """A sender that posts into a real ClerkWebhooks receiver (another app, its own
    database) through its test client; while ``down()`` it answers 503 unseen."""
    endpoint = rows(engine_app, WebhookEndpoint)[0]
    receiver = build_app(f"sqlite:///{tmp_path}/receiver.db",
                         CLERK_WEBHOOK_SIGNING_SECRET=endpoint.secret)
    handled = []
    ClerkWebhooks(receiver).on("*")(handled.append)
    client = receiver.test_client()

    def send(url, body, headers):
        if down():
            return outbox.Response(503, "down")
        response = client.post("/webhooks/clerk", data=body, headers=headers)
        return outbox.Response(response.status_code, response.get_data(as_text=True))

    return send, handled, receiver


def test_receiver_down_then_up_gets_everything_once(engine_app, tmp_path, frozen,
                                                     monkeypatch):
    import standardwebhooks.webhooks as verifier

    class FrozenDatetime(verifier.datetime):  # the receiver's clock follows the engine's
        @classmethod
        def now(cls, tz=None):
            return frozen_now().astimezone(tz)

    monkeypatch.setattr(verifier, "datetime", FrozenDatetime)
    add_endpoint(engine_app, event_types=["user.created"])
    for n in range(5):
        sign_up(engine_app.test_client(), engine_app, email=f"user{n}@example.com")
    state = {"down": True}
    send, handled, receiver = receiver_sender(engine_app, tmp_path, down=lambda: state["down"])
    for wait in outbox.RETRY_SCHEDULE[1:4]:  # three failed rounds: now, after 5 s, 5 min
        assert deliver(engine_app, send) == 5
        assert deliver(engine_app, send) == 0, "nothing is due before its time"
        frozen.advance(wait * 1.1 + 1)
    state["down"] = False
    assert deliver(engine_app, send) == 5
    assert sorted(e["data"]["email_addresses"][0]["email_address"] for e in handled) == [
        f"user{n}@example.com" for n in range(5)]
    # A response lost on the way back: the same message again is acknowledged, not rerun.
    message = rows(engine_app, WebhookMessage)[0]
    endpoint = rows(engine_app, WebhookEndpoint)[0]
    again = send(endpoint.url, message.payload.encode(),
                 outbox.sign(message, endpoint, frozen_now()))
    assert again.status == 200 and json.loads(again.body)["duplicate"] is True
    assert len(handled) == 5
    attempts = rows(engine_app, WebhookAttempt)
    assert sorted(a.status_code for a in attempts) == [200] * 5 + [503] * 15
    receiver.extensions["clerk"].instance.store.engine.dispose()


def test_two_hundred_concurrent_sign_ups_deliver_two_hundred_events(make_app, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from conftest import PASSWORD
    from flask_clerk.core.instance import RequestInfo
    from flask_clerk.core.sign_up import start_sign_up, verify_sign_up

    app = make_app(CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True, CLERK_PASSWORD_HASH_TIME_COST=1,
                   CLERK_PASSWORD_HASH_MEMORY_COST=1024)
    add_endpoint(app, event_types=["user.created"])
    instance = app.extensions["clerk"].instance
    instance.signing_key()  # as `flask clerk init` makes it

    def create(n):
        email = f"user{n}@example.com"
        with instance.store.session() as db:
            _, token = start_sign_up(instance, db, RequestInfo(), email_address=email,
                                     password=PASSWORD)
            code = next(w for w in instance.dev_mailbox.mails(email)[0].text.split()
                        if w.isdigit() and len(w) == 6)
            verify_sign_up(instance, db, RequestInfo(), token, code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(200)))
    send, handled, receiver = receiver_sender(app, tmp_path)
    with ThreadPoolExecutor(max_workers=3) as workers:  # three workers race for the outbox
        while sum(workers.map(lambda _: outbox.deliver_due(instance, send=send), range(3))):
            pass
    assert len(handled) == 200
    assert len({e["data"]["id"] for e in handled}) == 200
    assert {d.status for d in rows(app, WebhookDelivery)} == {"succeeded"}
    assert len(rows(app, WebhookAttempt)) == 200, "no delivery was attempted twice"
    receiver.extensions["clerk"].instance.store.engine.dispose()


def test_a_worker_killed_mid_delivery_loses_nothing(tmp_path):
    """`flask clerk worker` is SIGKILLed while the receiver holds its request: after
    the lease runs out the same message (same svix-id) is delivered again."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from dotenv import dotenv_values
    from flask import Flask, request

    root = Path(__file__).resolve().parents[1]
    flask = str(Path(sys.executable).with_name("flask"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "FLASK_"))}
    env.update(PYTHONPATH=str(root), CLERK_DATABASE_URL=f"sqlite:///{tmp_path}/clerk.db",
               SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/demo.db",
               CLERK_WEBHOOKS_LEASE="2")
    subprocess.run([flask, "--app", "demo_app", "clerk", "init"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=120)
    keys = dotenv_values(tmp_path / ".env")

    arrivals, first_arrived, release = [], threading.Event(), threading.Event()
    receiver = Flask("receiver")

    @receiver.post("/hook")
    def hook():
        arrivals.append(request.headers["svix-id"])
        if len(arrivals) == 1:
            first_arrived.set()
            release.wait(20)  # hold the first attempt until its worker is dead
        return "ok"

    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app = build_app(f"sqlite:///{tmp_path}/clerk.db", CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS=True,
                    CLERK_WEBHOOKS_LEASE=2, CLERK_PUBLISHABLE_KEY=keys["CLERK_PUBLISHABLE_KEY"],
                    CLERK_SECRET_KEY=keys["CLERK_SECRET_KEY"])
    instance = app.extensions["clerk"].instance
    add_endpoint(app, f"http://127.0.0.1:{server.server_port}/hook")
    with instance.store.session() as db:
        message = outbox.emit(instance, db, "user.updated", {"object": "user", "id": "user_1"})
        message_id = message.id
        db.commit()
    worker = subprocess.Popen([flask, "--app", "demo_app", "clerk", "worker"], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert first_arrived.wait(60), "the worker never sent the message"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        release.set()
    assert rows(app, WebhookAttempt) == [], "the killed worker recorded nothing"
    assert rows(app, WebhookDelivery)[0].status == "pending"
    assert outbox.deliver_due(instance) == 0, "still leased"
    time.sleep(2.2)
    assert outbox.deliver_due(instance) == 1
    server.shutdown()
    thread.join(5)
    assert arrivals == [message_id, message_id]
    assert rows(app, WebhookDelivery)[0].status == "succeeded"



def test_the_mails_the_instance_sends_are_events(engine_app):
    from conftest import PASSWORD, post

    add_endpoint(engine_app, event_types=["email.created"])
    ada = engine_app.test_client()
    sign_up(ada, engine_app)
    post(ada, "/__clerk/user/password", {"current_password": PASSWORD,
                                         "new_password": "another long passphrase 9",
                                         "confirm_password": "another long passphrase 9"},
         page="/user?page=security")
    mails = sorted((json.loads(m.payload)["data"] for m in rows(engine_app, WebhookMessage)),
                   key=lambda d: d["subject"])
    assert [(m["to_email_address"], m["object"]) for m in mails] == [
        ("ada@example.com", "email"), ("ada@example.com", "email")]
    code_mail, notice = sorted(mails, key=lambda d: "code" not in d["subject"])
    assert code_mail["subject"].endswith("is your verification code")
    assert code_mail["body_plain"] and code_mail["status"] == "queued"
    assert notice["subject"] == "Your account: password changed"
    user_id = rows(engine_app, User)[0].id
    assert notice["user_id"] == user_id and code_mail["user_id"] is None


def test_an_endpoint_failing_for_five_days_is_disabled(engine_app, frozen):
    add_endpoint(engine_app, event_types=["user.created"])
    failing = Recorder(outbox.Response(500, "down"))
    for n in range(4):  # a new failing message now and then, for five days
        sign_up(engine_app.test_client(), engine_app, email=f"u{n}@example.com")
        deliver(engine_app, failing)
        frozen.advance(36 * 3600)
    sign_up(engine_app.test_client(), engine_app, email="last@example.com")
    deliver(engine_app, failing)
    endpoint = rows(engine_app, WebhookEndpoint)[0]
    assert not endpoint.enabled and endpoint.disabled_reason == "failing for 5 days"
    newest = max(rows(engine_app, WebhookDelivery), key=lambda d: d.created_at)
    assert newest.status == "failed", "a disabled endpoint's delivery fails at once"


def test_an_endpoint_added_by_another_process_gets_events_within_a_second(engine_app):
    import time

    instance = engine_app.extensions["clerk"].instance
    assert instance.webhook_endpoints() == []  # loaded (and cached) before the change
    with instance.store.session() as db:  # as `flask clerk webhooks add` in another process
        db.add(WebhookEndpoint(id="ep_other", url="http://127.0.0.1:9/hook",
                               secret=outbox.new_secret(), event_types=[], enabled=True))
        db.commit()
    time.sleep(1.1)
    with instance.store.session() as db:
        assert outbox.emit(instance, db, "user.updated", {"id": "user_1"}) is not None
