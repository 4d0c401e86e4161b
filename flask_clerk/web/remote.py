"""What an app in remote mode (:mod:`flask_clerk.remote`) serves itself: the
components' stylesheet and templates, and the two forms of its user button and
organization switcher, which act at the issuer through its Backend API."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Flask, current_app, redirect, request, session
from werkzeug.wrappers import Response

from ..errors import AuthenticationError, ClerkError
from ..extension import delete_cookie, set_cookie
from ..redirects import safe_redirect_url
from ..remote import (
    CLIENT_UAT_COOKIE,
    CLIENT_UAT_MAX_AGE,
    IssuerRefused,
    IssuerUnavailable,
    RemoteState,
)
from ..request import SESSION_COOKIE, auth, cancel_cookie_update, token_expiry
from ..tokens import TokenInvalid
from .forms import field, form_action

bp = Blueprint("clerk", __name__, url_prefix="/__clerk",
               template_folder="../components/templates", static_folder="../components/static")
organizations_bp = Blueprint("clerk_organizations", __name__, url_prefix="/__clerk")


def _remote() -> RemoteState:
    remote: RemoteState = current_app.extensions["clerk"]
    return remote


def register_remote_blueprints(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(organizations_bp)


@bp.post("/sign-out")
@form_action("sign_out", fallback="after_sign_out_url")
def sign_out() -> Response:
    """End the session at the issuer (every app, and the issuer's own pages, are
    signed out with it), then forget its token here. A page left open past its
    token's minute still names its session: the cookie outlives the token."""
    remote = _remote()
    token = request.cookies.get(SESSION_COOKIE)
    session_id = auth(treat_pending_as_signed_out=False).session_id or (
        remote.instance.verifier.session_id_of(token) if token else None)
    if session_id:
        try:
            remote.instance.api.post(f"/v1/sessions/{quote(session_id, safe='')}/revoke")
        except IssuerRefused as refused:
            if refused.status != 404:  # (404: it has ended already)
                raise ClerkError("issuer_refused", status=502) from None
        except IssuerUnavailable:
            raise ClerkError("issuer_unavailable", status=503) from None
    elif request.cookies.get(CLIENT_UAT_COOKIE, "0") not in {"", "0"}:
        raise ClerkError("sign_out_reload", status=409)  # signed in there, but as whom?
    response = redirect(safe_redirect_url(field("redirect_url"),
                                          fallback=remote.settings.after_sign_out_url), 303)
    delete_cookie(response, SESSION_COOKIE)
    set_cookie(response, CLIENT_UAT_COOKIE, "0", max_age=CLIENT_UAT_MAX_AGE)
    cancel_cookie_update()
    session.pop("csrf_token", None)  # a new one for whoever signs in next
    return response


@organizations_bp.post("/organizations/active")
@form_action("organization.switch", fallback="after_sign_in_url")
def switch() -> Response:
    """Make another of the user's organizations (or the personal account) the
    session's active one, at the issuer; its new token carries it here at once."""
    remote, current = _remote(), auth(treat_pending_as_signed_out=False)
    if not current.session_id:
        raise AuthenticationError("authentication_invalid")
    if remote.settings.clerk_cloud:  # (Clerk switches in the browser: no server-side call)
        raise ClerkError("organization_switch_unsupported", status=422)
    try:
        answer = remote.instance.api.post(
            f"/v1/sessions/{quote(current.session_id, safe='')}/active_organization",
            {"organization_id": field("organization_id") or None,
             "request_origin": f"{request.scheme}://{request.host}",
             "not_after": int(token_expiry(current) or 0) or None})
    except IssuerRefused as refused:
        code = refused.code if refused.code in remote.settings.messages else (
            "resource_not_found")
        raise ClerkError(code, status=min(refused.status, 422)) from None
    except IssuerUnavailable:
        raise ClerkError("issuer_unavailable", status=503) from None
    token = str(answer.get("jwt") or "")
    try:
        claims = remote.instance.verifier.verify(token)
    except TokenInvalid:
        raise ClerkError("issuer_unavailable", status=502) from None
    if claims.get("sid") != current.session_id or claims.get("sub") != current.user_id:
        raise ClerkError("issuer_unavailable", status=502)
    response = redirect(safe_redirect_url(field("redirect_url"),
                                          fallback=remote.settings.after_sign_in_url), 303)
    set_cookie(response, SESSION_COOKIE, token, max_age=None)  # (see sign_out)
    cancel_cookie_update()
    return response
