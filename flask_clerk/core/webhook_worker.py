"""The worker that drains the webhook outbox: a thread of the app process in
development (``CLERK_WEBHOOKS_WORKER = "thread"``), ``flask clerk worker``
processes in production. Any number may run: deliveries are leased one by one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as DbSession

from .instance import Instance
from .webhooks import Sender, deliver_due, http_sender

logger = logging.getLogger("flask_clerk.webhooks")
POLL_SECONDS = 1.0  # when idle; a commit with new events wakes the thread at once


class WebhookWorker:
    def __init__(self, instance: Instance, *, send: Sender = http_sender,
                 poll: float = POLL_SECONDS) -> None:
        self._instance = instance
        self._send = send
        self._poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run in a daemon thread, woken by every commit that wrote events."""
        if self._thread is not None:
            return
        event.listen(self._instance.store.session_factory, "after_commit", self._committed)
        self._thread = threading.Thread(target=self.run, name="flask_clerk-webhooks",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            event.remove(self._instance.store.session_factory, "after_commit", self._committed)
            self._thread = None

    def run(self) -> None:
        """Deliver until stopped (the loop of ``flask clerk worker``)."""
        self._stop.clear()
        while not self._stop.is_set():
            try:
                sent = deliver_due(self._instance, send=self._send)
            except Exception:  # noqa: BLE001 - keep the worker alive; the next pass retries
                logger.exception("Webhook delivery pass failed")
                sent = 0
            if not sent:
                self._wake.wait(self._poll)
                self._wake.clear()

    def _committed(self, db: DbSession, *_: Any) -> None:
        if db.info.pop("clerk_webhooks_pending", False):
            self._wake.set()
