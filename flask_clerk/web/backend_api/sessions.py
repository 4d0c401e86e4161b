"""``/v1/sessions``, ``/v1/clients/handshake_payload`` and ``/v1/invitations``."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import request
from werkzeug.wrappers import Response

from ...core import impersonation, invitations, organizations, user_admin
from ...core.impersonation import TICKET_PATH
from ...core.instance import RequestInfo
from ...core.models import Session
from ...core.serializers import actor_token_json, instance_invitation_json, session_json
from ...core.sessions import end_session, sessions_of
from ...core.user_import import clean_metadata
from ...errors import ClerkError, NotFound
from ...extension import db_session, state
from . import bp, json_response
from .params import Body, check_query, page


@bp.get("/sessions")
def list_sessions() -> Response:
    check_query({"user_id", "client_id", "status", "limit", "offset", "paginated"})
    user_id, client_id = request.args.get("user_id"), request.args.get("client_id")
    if not user_id and not client_id:
        raise ClerkError("form_param_missing", field="user_id")
    limit, offset = page()
    found = sessions_of(db_session(), user_id=user_id, client_id=client_id,
                        status=request.args.get("status") or None, limit=limit, offset=offset)
    return json_response([session_json(s) for s in found])


def _session(session_id: str) -> Session:
    session = db_session().get(Session, session_id)
    if session is None:
        raise NotFound("resource_not_found")
    return session


@bp.get("/sessions/<session_id>")
def get_session(session_id: str) -> Response:
    return json_response(session_json(_session(session_id)))


@bp.post("/sessions/<session_id>/revoke")
def revoke_session(session_id: str) -> Response:
    Body.from_request().done()
    session = _session(session_id)
    end_session(state().instance, session, "revoked")
    db_session().commit()
    return json_response(session_json(session))


@bp.post("/sessions/<session_id>/active_organization")
def set_active_organization(session_id: str) -> Response:
    """flask_clerk's own: switch a session's active organization (None: the personal
    account) for an app in remote mode, whose organization switcher cannot reach
    this instance's cookies. (Clerk's cloud does it in the browser, ``setActive``.)
    Answers the session's new token, as Clerk's ``/sessions/{id}/tokens`` does,
    expiring no later than ``not_after`` (the token the app holds: switching never
    extends a token's life)."""
    body = Body.from_request()
    organization_id = body.take("organization_id", str)
    origin = body.take("request_origin", str)
    not_after = body.take("not_after", int)
    body.done()
    if origin is not None and not (origin.startswith(("https://", "http://"))
                                   and len(origin) <= 300 and origin.isprintable()):
        raise ClerkError("form_param_format_invalid", field="request_origin")
    session = _session(session_id)
    token = organizations.set_active_organization(
        state().instance, db_session(), session.id, session.user_id, organization_id,
        RequestInfo(origin=origin), not_after=not_after)
    return json_response({"object": "token", "jwt": token})


@bp.get("/clients/handshake_payload")
def handshake_payload() -> Response:
    """Clerk's: the directives of a handshake answer sealed in the browser's URL
    (``format=nonce``). flask_clerk adds ``token``, the signed answer itself, which
    ties it to the app's origin and to the browser that asked."""
    from ..handshake import redeem

    check_query({"nonce"})
    try:
        directives, token = redeem(request.args.get("nonce", ""))
    except ValueError:
        raise ClerkError("form_param_format_invalid", field="nonce") from None
    return json_response({"directives": directives, "token": token})


@bp.get("/invitations")
def list_invitations() -> Response:
    check_query({"limit", "offset", "status", "query", "order_by"})
    limit, offset = page()
    status = request.args.get("status") or None
    found = invitations.list_invitations(db_session(), status=status, limit=limit,
                                         offset=offset)
    return json_response([instance_invitation_json(i) for i in found])


@bp.post("/invitations")
def create_invitation() -> Response:
    body = Body.from_request()
    email = body.take("email_address", str, required=True)
    metadata = body.take("public_metadata", dict)
    notify = body.take("notify", bool)
    ignore_existing = body.take("ignore_existing", bool)
    days = body.take("expires_in_days", int)
    body.done()
    invitation = invitations.create_invitation(
        state().instance, db_session(), email_address=email,
        public_metadata=clean_metadata(metadata, "public_metadata") if metadata else None,
        notify=notify is not False, ignore_existing=bool(ignore_existing), expires_in_days=days)
    return json_response(instance_invitation_json(invitation))


@bp.post("/invitations/<invitation_id>/revoke")
def revoke_invitation(invitation_id: str) -> Response:
    Body.from_request().done()
    invitation = invitations.revoke_invitation(state().instance, db_session(), invitation_id)
    return json_response(instance_invitation_json(invitation))


# -- Actor tokens (impersonation) ----------------------------------------------------------


@bp.post("/actor_tokens")
def create_actor_token() -> Response:
    """An actor token for a user; its ``url`` signs the browser that opens it in as
    that user, acted by ``actor`` (``act`` in the session's tokens), once."""
    body = Body.from_request()
    db = db_session()
    user = user_admin.get_user(db, body.take("user_id", str, required=True))
    actor = body.take("actor", dict, required=True)
    if not isinstance(actor.get("sub"), str) or not actor["sub"] or len(json.dumps(actor)) > 4096:
        raise ClerkError("form_param_format_invalid", field="actor")
    expires_in = body.take("expires_in_seconds", int) or impersonation.ACTOR_TOKEN_LIFETIME
    duration = body.take("session_max_duration_in_seconds", int)
    body.done()
    if expires_in < 1 or (duration is not None and duration < 60):
        raise ClerkError("form_param_value_invalid",
                         field="expires_in_seconds" if expires_in < 1 else
                         "session_max_duration_in_seconds")
    token, secret = impersonation.create_actor_token(
        state().instance, db, user, actor, expires_in=expires_in, session_max_duration=duration)
    db.commit()
    url = f"{state().settings.issuer}{TICKET_PATH}?{urlencode({'ticket': secret})}"
    return json_response({**actor_token_json(token), "token": secret, "url": url})


@bp.post("/actor_tokens/<actor_token_id>/revoke")
def revoke_actor_token(actor_token_id: str) -> Response:
    return json_response(actor_token_json(
        impersonation.revoke_actor_token(db_session(), actor_token_id)))
