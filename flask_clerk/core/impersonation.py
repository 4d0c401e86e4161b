"""Impersonation: an administrator signs in as a user to see what they see.

Clerk's model: an *actor token* (``act_…``) names the user and the actor; used
once, before it expires, it starts a session whose tokens carry
``act: {"sub": <administrator>, "sid": <their session>, "iss": <dashboard>}``.
The session is short (``CLERK_IMPERSONATION_MAX_DURATION``, 30 minutes), has no
tasks, and does not count as the user signing in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..ids import new_token, token_hash
from . import clock
from .audit import security_event
from .instance import Instance, RequestInfo
from .models import ActorToken, User
from .sessions import SignedIn, prepare_session, start_session

ACTOR_TOKEN_LIFETIME = 3600  # s, Clerk's default expires_in_seconds
TICKET_PATH = "/v1/tickets/accept"  # under the frontend API: where an actor token's url goes


def create_actor_token(
    instance: Instance, db: DbSession, user: User, actor: dict[str, Any], *,
    expires_in: int = ACTOR_TOKEN_LIFETIME, session_max_duration: int | None = None,
) -> tuple[ActorToken, str]:
    """An actor token for ``user`` and its secret (shown once). The caller commits."""
    if not isinstance(actor.get("sub"), str) or not actor["sub"]:
        raise ClerkError("form_param_missing", field="actor")
    if user.banned:
        raise ClerkError("user_banned", status=403)
    secret = new_token()
    now = clock.now()
    token = ActorToken(
        token_hash=token_hash(secret), user_id=user.id, actor=dict(actor), status="pending",
        expires_at=now + timedelta(seconds=max(1, min(expires_in, 30 * 24 * 3600))),
        session_max_duration=max(60, min(session_max_duration
                                         or instance.settings.impersonation_max_duration,
                                         instance.settings.session_max_lifetime)),
        created_at=now, updated_at=now,
    )
    db.add(token)
    db.flush()
    return token, secret


def accept_actor_token(instance: Instance, db: DbSession, request: RequestInfo,
                       secret: str) -> SignedIn:
    """Use an actor token (once): a new session as its user, acted by its actor."""
    token = db.scalars(select(ActorToken).where(
        ActorToken.token_hash == token_hash(secret or ""))).first()
    if token is None or token.status != "pending" or token.expires_at <= clock.now():
        raise ClerkError("actor_token_invalid", status=400)
    user = db.get(User, token.user_id)
    if user is None or user.banned:
        raise ClerkError("user_banned", status=403)
    token.status = "accepted"
    signed_in = start_session(instance, db, user, prepare_session(
        instance, user, request, actor=dict(token.actor),
        lifetime=token.session_max_duration))
    db.commit()
    security_event("impersonation.started", user_id=user.id, actor=str(token.actor.get("sub")),
                   session_id=signed_in.session.id, ip=request.ip_address)
    return signed_in


def revoke_actor_token(db: DbSession, token_id: str) -> ActorToken:
    token = db.get(ActorToken, token_id) if isinstance(token_id, str) else None
    if token is None:
        raise ClerkError("resource_not_found", status=404)
    if token.status == "pending":
        token.status = "revoked"
        db.commit()
    return token
