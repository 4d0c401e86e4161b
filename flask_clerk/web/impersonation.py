"""The end of an impersonation ("Stop" in the banner every component shows while
an administrator acts as a user): the impersonation session ends, the
administrator's own session comes back, and the audit log says so."""

from __future__ import annotations

from typing import Any

from flask import make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..core import admins, sessions
from ..core.impersonation import TICKET_PATH, accept_actor_token
from ..core.models import User
from ..errors import ClerkError
from ..extension import (
    db_session,
    delete_cookie,
    request_info,
    state,
)
from ..request import (
    CLIENT_COOKIE,
    IMPERSONATOR_COOKIE,
    auth,
    forbidden_response,
)
from ..tokens import own_token_claims
from .forms import form_action
from .views import bp, identity_changed


@bp.get(TICKET_PATH)
def accept_ticket() -> Response:
    """An actor token's url (the Backend API's ``POST /v1/actor_tokens``): this
    browser signs in as the user, acted by the token's actor. Single use."""
    settings = state().settings
    try:
        signed_in = accept_actor_token(state().instance, db_session(), request_info(),
                                       request.args.get("ticket", "")[:200])
    except ClerkError as error:
        return forbidden_response(error.code) if error.status == 403 else make_response(
            render_template("clerk/card_page.html", component="email_link_status",
                            title="Impersonation", message=error.message(settings.messages),
                            application_name=settings.application_name), error.status)
    response = redirect(settings.after_sign_in_url, 303)
    response.headers["Referrer-Policy"] = "no-referrer"  # the ticket is in this URL
    return identity_changed(response, signed_in.session_token, signed_in.client_token)


@bp.post("/impersonation/stop")
@form_action("impersonation", fallback="after_sign_in_url")
def stop_impersonation() -> Response:
    current = auth(treat_pending_as_signed_out=False)
    if not current.actor:
        raise ClerkError("not_impersonating", status=400)
    db, settings = db_session(), state().settings
    user_id = current.user_id
    client_token = request.cookies.get(CLIENT_COOKIE)
    if client_token:
        sessions.end_client_session(state().instance, db, client_token)
    admin = db.get(User, str(current.actor.get("sub")))
    if admin is not None:
        admins.record(db, admin, "user.impersonation_ended", request_info(),
                      target_type="user", target_id=user_id)
        db.commit()
    # Back to the administrator's own session, if it is still there.
    admin_client = request.cookies.get(IMPERSONATOR_COOKIE)
    refreshed = state().refresh(admin_client) if admin_client else None
    token = refreshed[0] if refreshed else None
    if token and own_token_claims(token).get("sid") != current.actor.get("sid"):
        token = None  # not the administrator's session that began this: nobody's to restore
    target = (url_for("clerk_dashboard.user", user_id=user_id) if token and user_id
              else settings.after_sign_out_url)
    response = redirect(target, 303)
    if token and admin_client:  # (signing out clears the way back with the rest)
        delete_cookie(response, IMPERSONATOR_COOKIE, shared=True)
        return identity_changed(response, token, admin_client)
    return identity_changed(response)


def impersonation_banner_context() -> dict[str, Any] | None:
    """Who is acting as whom, for the banner; None when nobody is."""
    current = auth(treat_pending_as_signed_out=False)
    if not current.actor or not current.user_id:
        return None
    db = db_session()
    user, admin = db.get(User, current.user_id), db.get(User, str(current.actor.get("sub")))
    name = " ".join(p for p in (user.first_name, user.last_name) if p) if user else ""
    return {
        "user": name or (user.primary_address if user is not None else None) or current.user_id,
        "actor": (admin.primary_address if admin is not None else None)
        or str(current.actor.get("sub")),
    }
