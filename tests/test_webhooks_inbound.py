"""The inbound webhook blueprint: verified with the real ``svix`` library, each
message handled once, errors surfaced so the sender retries."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from svix.webhooks import Webhook

from flask_clerk import ClerkWebhooks
from flask_clerk.errors import ClerkConfigError

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def receiver(make_app):
    app = make_app(CLERK_WEBHOOK_SIGNING_SECRET=SECRET)
    webhooks = ClerkWebhooks(app, url="/webhooks/clerk")
    seen: list[tuple[str, str]] = []
    state = {"fail": False}

    @webhooks.on("user.created", "user.updated")
    def on_user(event):
        if state["fail"]:
            raise RuntimeError("the app's database is down")
        seen.append((event["type"], event["data"]["id"]))

    @webhooks.on("*")
    def on_anything(event):
        seen.append(("*", event["type"]))

    app.seen, app.fail = seen, state
    return app


def event(kind="user.created", user_id="user_1"):
    return json.dumps({"data": {"id": user_id, "object": "user"}, "object": "event",
                       "type": kind, "timestamp": int(time.time() * 1000),
                       "instance_id": "ins_1"})


def deliver(app, body, msg_id="msg_1", *, secret=SECRET, at=None, tamper=False):
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body)
    headers = {"svix-id": msg_id, "svix-timestamp": str(int(at.timestamp())),
               "svix-signature": signature, "Content-Type": "application/json"}
    return app.test_client().post("/webhooks/clerk", data=body + (" " if tamper else ""),
                                  headers=headers)


def test_verified_events_reach_their_handlers(receiver):
    response = deliver(receiver, event())
    assert response.status_code == 200 and response.get_json() == {"received": True,
                                                                     "handled": 2}
    assert receiver.seen == [("user.created", "user_1"), ("*", "user.created")]
    assert deliver(receiver, event("session.created"), "msg_2").get_json()["handled"] == 1


@pytest.mark.parametrize("case", ["tampered", "wrong secret", "six minutes old", "unsigned",
                                  "future"])
def test_bad_deliveries_are_refused_without_running_handlers(receiver, case):
    body = event()
    if case == "tampered":
        response = deliver(receiver, body, tamper=True)
    elif case == "wrong secret":
        other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        response = deliver(receiver, body, secret=other)
    elif case == "six minutes old":
        response = deliver(receiver, body, at=datetime.now(UTC) - timedelta(minutes=6))
    elif case == "future":
        response = deliver(receiver, body, at=datetime.now(UTC) + timedelta(minutes=6))
    else:
        response = receiver.test_client().post("/webhooks/clerk", data=body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "webhook_signature_invalid"
    assert receiver.seen == []


def test_a_redelivery_runs_no_handler_twice(receiver):
    assert deliver(receiver, event()).status_code == 200
    again = deliver(receiver, event())
    assert again.status_code == 200 and again.get_json() == {"received": True,
                                                             "duplicate": True}
    assert receiver.seen == [("user.created", "user_1"), ("*", "user.created")]


def test_a_failing_handler_asks_for_a_retry_which_then_runs(receiver):
    receiver.fail["fail"] = True
    response = deliver(receiver, event())
    assert response.status_code == 500
    assert response.get_json()["errors"][0]["code"] == "webhook_handler_failed"
    receiver.fail["fail"] = False
    assert deliver(receiver, event()).status_code == 200
    assert ("user.created", "user_1") in receiver.seen


def test_a_message_still_running_elsewhere_is_asked_to_come_back(receiver, frozen):
    from flask_clerk.core.webhook_receipts import Claim, WebhookReceipts

    receipts = WebhookReceipts(receiver.extensions["clerk"].instance.store)
    assert receipts.claim("msg_busy") is Claim.NEW  # another worker took it
    response = deliver(receiver, event(), "msg_busy")
    assert response.status_code == 409 and response.headers["Retry-After"] == "30"
    assert receiver.seen == []
    frozen.advance(11 * 60)  # that worker died mid-handler: the claim is stale
    assert deliver(receiver, event(), "msg_busy").status_code == 200
    assert receiver.seen


def test_signed_garbage_is_refused(receiver):
    assert deliver(receiver, "not json").status_code == 400
    assert deliver(receiver, json.dumps([1, 2]), "msg_3").status_code == 400


def test_the_receiver_needs_its_secret_and_is_exempt_from_csrf(make_app, caplog):
    ClerkWebhooks(unsigned := make_app())
    assert "set CLERK_WEBHOOK_SIGNING_SECRET" in caplog.text
    assert unsigned.test_client().post("/webhooks/clerk", data=event()).status_code in {
        404, 405}, "no receiver without a secret"
    from flask_wtf import CSRFProtect

    app = make_app(CLERK_WEBHOOK_SECRET=SECRET)
    CSRFProtect(app)
    webhooks = ClerkWebhooks(app)
    handled = []
    webhooks.on("user.deleted")(handled.append)
    assert deliver(app, event("user.deleted")).status_code == 200
    assert handled and handled[0]["type"] == "user.deleted"



def test_the_receiver_needs_clerkauth_first():
    from flask import Flask

    with pytest.raises(ClerkConfigError, match="ClerkAuth"):
        ClerkWebhooks(Flask("no_clerk"))
