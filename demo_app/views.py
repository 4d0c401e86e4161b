"""The demo's pages: the seed's tutorial, step by step."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from werkzeug.wrappers import Response

from flask_clerk import auth, current_user, login_required

from .models import User, db

bp = Blueprint("demo", __name__)


@bp.get("/")
def landing() -> str:
    return render_template("landing.html")


@bp.get("/sign-in")
def sign_in() -> str:
    # The seed's pattern: the app owns the page, the component does the rest.
    return render_template("sign_in.html")


@bp.get("/sign-up")
def sign_up() -> str:
    return render_template("sign_up.html")


@bp.get("/dashboard")
@login_required  # also covered by protect=["/dashboard(.*)"]; either is enough
def dashboard() -> str:
    account = _sync_account()
    return render_template("dashboard.html", account=account, auth=auth())


@bp.get("/api/me")
def api_me() -> Response:
    # /api/(.*) is protected by the extension: signed-out callers get 401 JSON.
    assert current_user is not None
    primary = current_user.primary_email_address
    return jsonify({"email": primary.email_address if primary else None,
                    "name": current_user.full_name})


@bp.get("/terms")
@bp.get("/privacy")
def legal() -> str:
    return render_template("legal.html")


def _sync_account() -> User:
    """Keep the demo's own users row current (the webhooks issue will do this too)."""
    assert current_user is not None
    account = db.session.scalar(db.select(User).filter_by(clerk_id=current_user.id))
    if account is None:
        account = User(clerk_id=current_user.id)
        db.session.add(account)
    primary = current_user.primary_email_address
    account.email = primary.email_address if primary else None
    account.name = current_user.full_name
    db.session.commit()
    return account
