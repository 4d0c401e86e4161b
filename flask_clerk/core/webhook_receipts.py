"""Which inbound webhook messages this app has taken on (by ``svix-id``), so that a
redelivery runs no handler twice.

A message is *claimed* (a row inserted) before its handlers run and *finished*
once they succeeded; a failure *releases* the claim, so the sender's retry runs
them again. A redelivery of a finished message is a duplicate; one arriving while
the first is still running is told to come back later; a claim older than
``STALE_CLAIM`` (the process died mid-handler) is taken over.
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from . import clock
from .models import WebhookReceipt
from .store import Store

STALE_CLAIM = timedelta(minutes=10)


class Claim(Enum):
    NEW = "new"  # run the handlers
    DUPLICATE = "duplicate"  # processed before: acknowledge
    IN_PROGRESS = "in_progress"  # another request runs it now: ask for a retry


class WebhookReceipts:
    def __init__(self, store: Store) -> None:
        self._store = store

    def claim(self, svix_id: str) -> Claim:
        now = clock.now()
        with self._store.session() as db:
            db.add(WebhookReceipt(svix_id=svix_id, claimed_at=now))
            try:
                db.commit()
                return Claim.NEW
            except IntegrityError:
                db.rollback()
            row = db.get(WebhookReceipt, svix_id)
            if row is None:  # released meanwhile: try again once
                return self.claim(svix_id)
            if row.processed_at is not None:
                return Claim.DUPLICATE
            taken = db.execute(  # type: ignore[attr-defined]  # a CursorResult
                update(WebhookReceipt)
                .where(WebhookReceipt.svix_id == svix_id, WebhookReceipt.processed_at.is_(None),
                       WebhookReceipt.claimed_at <= now - STALE_CLAIM)
                .values(claimed_at=now)
            ).rowcount
            db.commit()
            return Claim.NEW if taken else Claim.IN_PROGRESS

    def finish(self, svix_id: str) -> None:
        with self._store.session() as db:
            db.execute(update(WebhookReceipt).where(WebhookReceipt.svix_id == svix_id)
                       .values(processed_at=clock.now()))
            db.commit()

    def release(self, svix_id: str) -> None:
        with self._store.session() as db:
            db.execute(delete(WebhookReceipt).where(WebhookReceipt.svix_id == svix_id,
                                                    WebhookReceipt.processed_at.is_(None)))
            db.commit()
