"""Shared plumbing of the multi-step flows: the flow token that binds a browser
to its sign-in or sign-up in progress."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..ids import token_hash
from . import clock
from .models import SignIn, SignUp

FLOW_LIFETIME = 3600  # a sign-in or sign-up left alone for an hour starts over

F = TypeVar("F", SignIn, SignUp)


def find_flow(db: DbSession, model: type[F], flow_token: str | None) -> F | None:
    if not flow_token:
        return None
    flow = db.scalars(select(model).where(model.flow_token_hash == token_hash(flow_token))).first()
    if flow is None or flow.expire_at <= clock.now():
        return None
    return flow


def require_flow(db: DbSession, model: type[F], flow_token: str | None) -> F:
    flow = find_flow(db, model, flow_token)
    if flow is None:
        raise ClerkError("sign_in_expired" if model is SignIn else "sign_up_expired", status=400)
    return flow


def purge_expired_flows(db: DbSession, model: type[F]) -> None:
    """Forget flows nobody finished, so the table stays as small as the traffic."""
    db.execute(delete(model).where(model.expire_at <= clock.now()))
