"""``Idempotency-Key`` on Backend API POSTs: the first response, replayed for 24 h.

A retried POST (a timeout, a crashed worker) then creates nothing twice. The key
is scoped to the secret key, method and path; reusing it with another body is an
error, and a retry while the first request still runs gets a 409. A 5xx is not
remembered, so the retry runs again.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ...core import clock
from ...core.models import IdempotencyRecord
from ...errors import ClerkError
from ...extension import state

LIFETIME = timedelta(hours=24)
# A claim whose request never answered (its process died) is given up after this.
ABANDONED = timedelta(minutes=5)
KEY_MAX = 255


def _hash(*parts: str | bytes) -> str:
    """HMAC-SHA256 under a key derived from the secret key: a body may hold a
    password, and a plain hash of it would be a fast way to guess that password."""
    key = ("flask_clerk.idempotency:" + state().settings.secret_key).encode()
    digest = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def replay_or_claim(bucket: str) -> Response | None:
    """The stored response for this key, or None after claiming the key for this request."""
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > KEY_MAX:
        raise ClerkError("form_param_format_invalid", field="Idempotency-Key", status=400)
    key_hash = _hash(bucket, request.method, request.path, key)
    request_hash = _hash(request.get_data(cache=True))
    now = clock.now()
    with state().instance.store.session() as db:
        db.execute(delete(IdempotencyRecord).where(
            (IdempotencyRecord.created_at < now - LIFETIME)
            | (IdempotencyRecord.status_code.is_(None)
               & (IdempotencyRecord.created_at < now - ABANDONED))))
        record = db.scalars(select(IdempotencyRecord)
                            .where(IdempotencyRecord.key_hash == key_hash)).first()
        if record is None:
            db.add(IdempotencyRecord(key_hash=key_hash, request_hash=request_hash,
                                     created_at=now))
            try:
                db.commit()
            except IntegrityError:  # the same key, at the same moment
                raise ClerkError("idempotency_request_in_progress", status=409) from None
            g.clerk_idempotency_key = key_hash
            return None
        db.commit()
    if record.request_hash != request_hash:
        raise ClerkError("idempotency_key_reused", status=422)
    if record.status_code is None:
        raise ClerkError("idempotency_request_in_progress", status=409)
    response = Response(record.body or "", status=record.status_code,
                        mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def store(response: Response) -> None:
    """Remember the response of a claimed key (forget the claim after a 5xx)."""
    key_hash = g.pop("clerk_idempotency_key", None)
    if key_hash is None:
        return
    with state().instance.store.session() as db:
        record = db.get(IdempotencyRecord, key_hash)
        if record is None:
            return
        if response.status_code >= 500:
            db.delete(record)
        else:
            record.status_code = response.status_code
            record.body = response.get_data(as_text=True)
        db.commit()


def release() -> None:
    """After an unhandled error (no response to remember): let a retry run again."""
    key_hash = g.pop("clerk_idempotency_key", None)
    if key_hash is None:
        return
    with state().instance.store.session() as db:
        db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.key_hash == key_hash))
        db.commit()
