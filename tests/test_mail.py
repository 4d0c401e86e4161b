"""Mail through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from conftest import PASSWORD, post


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd's readiness check needs a real one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def test_sign_up_code_arrives_by_smtp(make_app, smtp_server):
    controller, inbox = smtp_server
    app = make_app(CLERK_SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
                   CLERK_DEV_MAILBOX=False, CLERK_MAIL_SENDER="Acme <auth@acme.example>")
    assert app.extensions["clerk"].instance.dev_mailbox is None
    client = app.test_client()
    response = post(client, "/__clerk/sign-up", {"email_address": "ada@example.com",
                                                 "password": PASSWORD}, page="/sign-up")
    assert response.status_code == 303
    app.extensions["clerk"].instance.mailer.wait()
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["ada@example.com"]
    assert message["From"] == "Acme <auth@acme.example>"
    code = re.search(r"\b(\d{6})\b", message.get_payload(decode=True).decode()).group(1)
    assert code in message["Subject"]
    response = post(client, "/__clerk/sign-up/verify", {"code": code}, page="/sign-up")
    assert response.status_code == 303
    assert client.get("/whoami").get_json()["user_id"]


def test_mail_settings_in_flask_mail_style(make_app, smtp_server):
    controller, inbox = smtp_server
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, CLERK_DEV_MAILBOX=False)
    assert app.extensions["clerk"].settings.smtp_url == f"smtp://127.0.0.1:{controller.port}"
    post(app.test_client(), "/__clerk/sign-up", {"email_address": "b@example.com",
                                                 "password": PASSWORD}, page="/sign-up")
    app.extensions["clerk"].instance.mailer.wait()
    assert inbox.messages[0][0] == ["b@example.com"]
