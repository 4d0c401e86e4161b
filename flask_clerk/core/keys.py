"""Signing keys in the identity store: create, load, rotate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ..tokens import KeyPair, generate_key_pair
from . import clock
from .models import SigningKey


def ensure_signing_key(db: DbSession) -> KeyPair:
    """The active key pair, created on first use (``flask clerk init`` does it early)."""
    row = db.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at)
    ).first()
    if row is None:
        pair = generate_key_pair()
        row = SigningKey(kid=pair.kid, private_key_pem=pair.private_key_pem,
                         public_jwk=pair.public_jwk)
        db.add(row)
        db.commit()
    return KeyPair(kid=row.kid, private_key_pem=row.private_key_pem, public_jwk=row.public_jwk)


def public_jwks(db: DbSession, *, token_lifetime: int, skew: int) -> list[dict[str, Any]]:
    """Public keys that may still have live tokens: the active one and recently retired ones."""
    cutoff = clock.now() - timedelta(seconds=token_lifetime + skew)
    rows = db.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())).all()
    return [dict(r.public_jwk) for r in rows if r.retired_at is None or r.retired_at > cutoff]


def rotate_signing_key(db: DbSession) -> KeyPair:
    """Retire the active key(s) and create a new one; old tokens verify until they expire."""
    now = clock.now()
    for row in db.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
    pair = generate_key_pair()
    db.add(SigningKey(kid=pair.kid, private_key_pem=pair.private_key_pem,
                      public_jwk=pair.public_jwk))
    db.commit()
    return pair
