"""The dashboard's API keys: the publishable key, the secret key (revealed on a
click, rolled with a grace period for the old one), and the signing keys behind
the JWKS (rotated: tokens of the old key verify until they expire)."""

from __future__ import annotations

from datetime import timedelta

from flask import g, redirect, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...core import api_keys
from ...core.keys import rotate_signing_key
from ...core.models import SigningKey
from ...errors import ClerkError
from ...extension import db_session, state
from ..forms import field, form_state
from . import admin_view, audited, bp, dashboard_action, render_page


def _page(*, revealed: bool = False, new_key: str | None = None) -> Response:
    db = db_session()
    response = render_page(
        "api_keys", settings=state().settings, revealed=revealed, new_key=new_key,
        rolled=api_keys.rolled_keys(db),
        signing_keys=list(db.scalars(select(SigningKey).order_by(SigningKey.created_at.desc()))),
        form=form_state("dashboard.keys"))
    if revealed or new_key:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api-keys")
@admin_view
def api_keys_page() -> Response:
    return _page()


def _with_second_factor() -> None:
    """The secret key opens the Backend API (and CLERK_SECRET_KEY the instance's
    derived secrets): only for an administrator who has a second factor."""
    if g.clerk_admin.mfa_enabled_at is None:
        raise ClerkError("dashboard_needs_mfa", status=403)


@bp.post("/api-keys/reveal")
@dashboard_action("keys")
def reveal_secret_key() -> Response:
    _with_second_factor()
    with audited("api_key.revealed"):
        pass
    return _page(revealed=True)


@bp.post("/api-keys/roll")
@dashboard_action("keys")
def roll_secret_key() -> Response:
    """A new secret key, shown in this answer only; the old ones work for a day, or
    stop now ("leaked")."""
    _with_second_factor()
    leaked = field("leaked") == "on"
    with audited("api_key.rolled") as entry:
        key = api_keys.roll(state().instance, db_session(),
                            grace=timedelta(0) if leaked else api_keys.GRACE_PERIOD)
        entry.details = {"hint": key[-4:], "old_keys_end_now": leaked}
    return _page(new_key=key)


@bp.post("/signing-keys/rotate")
@dashboard_action("keys")
def rotate_signing_keys() -> Response:
    with audited("signing_key.rotated") as entry:
        pair = rotate_signing_key(db_session())
        entry.target_type, entry.target_id = "signing_key", pair.kid
    state().instance.forget_signing_key()
    return redirect(url_for(".api_keys_page"), 303)
