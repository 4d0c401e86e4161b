"""Outgoing mail: SMTP in production; console plus a dev mailbox in development."""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from . import clock

logger = logging.getLogger("flask_clerk.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    sent_at: datetime = field(default_factory=clock.now)


class DevMailbox:
    """The last mails a development instance sent, for ``/__clerk/dev/mail``."""

    def __init__(self, size: int = 100) -> None:
        self._mails: deque[Mail] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, mail: Mail) -> None:
        with self._lock:
            self._mails.appendleft(mail)

    def mails(self, to: str | None = None) -> list[Mail]:
        with self._lock:
            return [m for m in self._mails if to is None or m.to == to.lower()]


class Mailer:
    """Sends the instance's mails. SMTP delivery happens on a background thread:
    a flow answers as fast whether or not it sent a mail (a reset for an unknown
    address sends none), so response times tell nothing about accounts."""

    def __init__(self, *, sender: str, smtp_url: str | None, dev_mailbox: DevMailbox | None):
        self.sender = sender
        self.smtp_url = smtp_url
        self.dev_mailbox = dev_mailbox
        self._executor = (
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="flask_clerk-mail")
            if smtp_url else None
        )
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, text: str) -> None:
        mail = Mail(to=to.lower(), subject=subject, text=text)
        if self.dev_mailbox is not None:
            self.dev_mailbox.add(mail)
            # Development only: the console is the newcomer's inbox. Production
            # instances refuse to start with the dev mailbox on.
            print(f"\n[flask_clerk dev mail] To: {to}\nSubject: {subject}\n\n{text}\n",
                  file=sys.stderr)
        if self._executor is not None:
            future = self._executor.submit(self._send_smtp, mail)
            with self._lock:
                self._pending.add(future)
            future.add_done_callback(self._delivered)

    def wait(self, timeout: float = 30) -> None:
        """Block until the mails sent so far have been handed to the SMTP server."""
        with self._lock:
            pending = list(self._pending)
        futures_wait(pending, timeout=timeout)

    def _delivered(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)
        error = future.exception()
        if error is not None:
            # The mail's text holds a code: only the failure's kind is logged.
            logger.error("mail delivery failed: %s: %s", type(error).__name__, error)

    def _send_smtp(self, mail: Mail) -> None:
        url = urlsplit(self.smtp_url or "")
        options = {k: v[-1] for k, v in parse_qs(url.query).items()}
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        host, timeout = url.hostname or "localhost", float(options.get("timeout", 10))
        smtp: smtplib.SMTP
        if url.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(host, url.port or 465, timeout=timeout,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, url.port or 25, timeout=timeout)
        with smtp:
            if options.get("starttls") in {"1", "true", "yes"}:
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(message, to_addrs=[mail.to])
