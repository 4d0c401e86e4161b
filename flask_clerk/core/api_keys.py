"""Backend API secret keys, rolled from the dashboard.

``CLERK_SECRET_KEY`` is the first. Rolling makes a new key (shown once, stored as
a hash) and gives every key still valid a grace period (a day by default) before
the Backend API refuses it, so servers can switch without downtime. The instance's
own secrets (code hashes, the encryption key) stay derived from
``CLERK_SECRET_KEY``: rolling changes who may call the Backend API, nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from . import clock
from .instance import Instance
from .models import ApiKey

GRACE_PERIOD = timedelta(days=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def accepts(instance: Instance, key: str) -> bool:
    """Whether ``key`` may call the Backend API now (compared in constant time)."""
    if not key:
        return False
    rows, now = instance.api_keys(), clock.now()
    digest = _hash(key)
    configured = _hash(instance.settings.secret_key)
    valid = [h for h, expires in rows if expires is None or expires > now]
    if not any(h == configured for h, _ in rows):
        valid.append(configured)  # never rolled: the configured key
    found = False
    for candidate in valid:
        found |= hmac.compare_digest(candidate, digest)
    return found


def roll(instance: Instance, db: DbSession, *, grace: timedelta = GRACE_PERIOD) -> str:
    """A new secret key; every key valid now stays valid for ``grace`` more."""
    now = clock.now()
    configured = _hash(instance.settings.secret_key)
    if db.scalar(select(ApiKey).where(ApiKey.key_hash == configured)) is None:
        db.add(ApiKey(key_hash=configured, hint=instance.settings.secret_key[-4:],
                      created_at=now, expires_at=None))
        db.flush()
    for row in db.scalars(select(ApiKey)):
        if row.expires_at is None or row.expires_at > now + grace:
            row.expires_at = now + grace
    prefix = "sk_test_" if instance.settings.development else "sk_live_"
    key = prefix + secrets.token_urlsafe(36)
    db.add(ApiKey(key_hash=_hash(key), hint=key[-4:], created_at=now, expires_at=None))
    db.commit()
    instance.forget_api_keys()
    return key


def rolled_keys(db: DbSession) -> list[ApiKey]:
    """The rolled keys, newest first (empty before the first roll)."""
    return list(db.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))
