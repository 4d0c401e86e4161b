"""Passkeys in the browser: sign in with one, manage them in the profile.

The ceremony's options are JSON for ``clerk-passkeys.js``; its result comes back
as a form post (``credential``), handled like every other form. The relying
party is the configured one (``CLERK_PASSKEY_RP_ID``, ``CLERK_PASSKEY_ORIGINS``),
else the frontend API's host; in development the request's own host, so that
``localhost`` works on any port. An IP address cannot be a relying party: there
the components offer no passkeys.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import jsonify, request
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from ..components import SIGN_IN_FLOW_COOKIE
from ..core import passkeys, sign_in
from ..core.passkeys import RelyingParty
from ..errors import ClerkError, RateLimited
from ..extension import db_session, request_info, state
from ..request import CLIENT_COOKIE
from .forms import back, field, form_action
from .views import (
    account_reverification,
    bp,
    profile_action,
    session_row,
    set_flow,
    sign_in_outcome,
    user_row,
)


def relying_party() -> RelyingParty | None:
    """This request's relying party, or None where passkeys cannot work (an IP)."""
    settings = state().settings
    issuer = urlsplit(settings.issuer)
    if settings.passkey_rp_id:
        rp_id = settings.passkey_rp_id
    elif settings.development:
        rp_id = urlsplit(request.host_url).hostname or ""
    else:
        rp_id = issuer.hostname or ""
    try:
        ipaddress.ip_address(rp_id)
        return None
    except ValueError:
        pass
    if settings.passkey_origins:
        origins = settings.passkey_origins
    elif settings.development and not settings.passkey_rp_id:
        origins = (request.host_url.rstrip("/"),)
    else:
        origins = (f"{issuer.scheme}://{issuer.netloc}",)
    return RelyingParty(id=rp_id, name=settings.application_name or rp_id, origins=origins)


def required_relying_party() -> RelyingParty:
    rp = relying_party()
    if rp is None:
        raise ClerkError("passkey_unavailable")
    return rp


def options_endpoint(make: Callable[[], Response]) -> Response:
    """A JSON options endpoint: the form's CSRF token, errors in Clerk's shape."""
    messages = state().settings.messages
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        error = ClerkError("csrf_invalid", status=400)
        return _json_error(error, messages)
    try:
        return make()
    except RateLimited as error:
        response = _json_error(error, messages)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except ClerkError as error:
        return _json_error(error, messages)


def _json_error(error: ClerkError, messages: Any) -> Response:
    response = jsonify({"errors": [error.to_json(messages)]})
    response.status_code = error.status
    response.headers["Cache-Control"] = "no-store"
    return response


def json_options(options: str) -> Response:
    response = Response(options, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


# -- Sign in ----------------------------------------------------------------------------


@bp.post("/sign-in/passkey/options")
def sign_in_passkey_options() -> Response:
    def make() -> Response:
        options, new_flow = sign_in.passkey_options(
            state().instance, db_session(), request_info(),
            request.cookies.get(SIGN_IN_FLOW_COOKIE), required_relying_party())
        response = json_options(options)
        if new_flow is not None:
            set_flow(response, SIGN_IN_FLOW_COOKIE, new_flow)
        return response

    return options_endpoint(make)


@bp.post("/sign-in/passkey")
@form_action("sign_in.passkey")
def sign_in_passkey() -> Response:
    return sign_in_outcome(sign_in.attempt_passkey(
        state().instance, db_session(), request_info(), request.cookies.get(SIGN_IN_FLOW_COOKIE),
        required_relying_party(), field("credential"),
        previous_client_token=request.cookies.get(CLIENT_COOKIE)))


# -- The profile's "Passkeys" section ------------------------------------------------------


@bp.post("/user/passkeys/options")
def profile_passkey_options() -> Response:
    def make() -> Response:
        # Adding a passkey is a sensitive change: the profile offers the button
        # only after a recent verification (see passkeys_context); checked here too.
        if not passkeys_context()["verified"]:
            raise ClerkError("session_reverification_required", status=403)
        return json_options(passkeys.registration_options(
            state().instance, db_session(), user_row(), required_relying_party(),
            binding=session_row().id))

    return options_endpoint(make)


@bp.post("/user/passkeys")
@profile_action("passkeys", keep=("name",))
def profile_passkey_add() -> Response:
    passkeys.register_passkey(state().instance, db_session(), user_row(),
                              required_relying_party(),
                              binding=session_row().id, credential=field("credential"),
                              name=field("name") or None)
    return back(state().settings.user_profile_url)


@bp.post("/user/passkeys/<passkey_id>/rename")
@profile_action("passkeys", keep=("name",))
def profile_passkey_rename(passkey_id: str) -> Response:
    passkeys.rename_passkey(state().instance, db_session(), user_row(), passkey_id,
                            field("name"))
    return back(state().settings.user_profile_url)


@bp.post("/user/passkeys/<passkey_id>/remove")
@profile_action("passkeys", keep=("name",))
@account_reverification
def profile_passkey_remove(passkey_id: str) -> Response:
    passkeys.remove_passkey(state().instance, db_session(), user_row(), passkey_id)
    return back(state().settings.user_profile_url)


@bp.post("/user/verify")
@profile_action("passkeys", keep=("name",))
@account_reverification
def profile_verify() -> Response:
    """Verify first (a button that leads through /reverify), then come back."""
    return back(state().settings.user_profile_url)


def passkeys_context() -> dict[str, Any]:
    from ..core.reverification import Requirement
    from ..request import auth

    claims = auth(treat_pending_as_signed_out=False).session_claims or {}
    return {
        "available": relying_party() is not None,
        "list": passkeys.passkeys_of(db_session(), user_row()),
        "limit": passkeys.MAX_PASSKEYS,
        "verified": Requirement().satisfied_by(claims.get("fva")),
    }
