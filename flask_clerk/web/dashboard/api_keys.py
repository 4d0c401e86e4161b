"""The dashboard's API keys: the publishable key, the secret key (revealed on a
click, rolled with a grace period for the old one), and the signing keys behind
the JWKS (rotated: tokens of the old key verify until they expire)."""

from __future__ import annotations

from flask import redirect, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...core import api_keys
from ...core.keys import rotate_signing_key
from ...core.models import SigningKey
from ...extension import db_session, state
from ..forms import form_state
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


@bp.post("/api-keys/reveal")
@dashboard_action("keys")
def reveal_secret_key() -> Response:
    with audited("api_key.revealed"):
        pass
    return _page(revealed=True)


@bp.post("/api-keys/roll")
@dashboard_action("keys")
def roll_secret_key() -> Response:
    """A new secret key, shown in this answer only; the old ones work for a day."""
    with audited("api_key.rolled") as entry:
        key = api_keys.roll(state().instance, db_session())
        entry.details = {"hint": key[-4:]}
    return _page(new_key=key)


@bp.post("/signing-keys/rotate")
@dashboard_action("keys")
def rotate_signing_keys() -> Response:
    with audited("signing_key.rotated") as entry:
        pair = rotate_signing_key(db_session())
        entry.target_type, entry.target_id = "signing_key", pair.kid
    state().instance.forget_signing_key()
    return redirect(url_for(".api_keys_page"), 303)
