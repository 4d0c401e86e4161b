"""The dashboard's users: the list, a user's page, the actions on them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import g, redirect, request, url_for
from werkzeug.wrappers import Response

from ...core import admins, mfa, sessions, user_admin
from ...core.impersonation import accept_actor_token, create_actor_token
from ...core.models import OrganizationMembership, User
from ...core.serializers import user_json
from ...core.user_import import clean_metadata, create_user_from_payload
from ...core.users import remove_user
from ...errors import ClerkError
from ...extension import db_session, request_info, set_cookie, state
from ...request import CLIENT_COOKIE, IMPERSONATOR_COOKIE, auth
from ...user import ClerkUser
from ..forms import field, form_state
from ..views import identity_changed
from . import (
    PAGE_SIZE,
    admin_view,
    audited,
    bp,
    dashboard_action,
    page_number,
    render_page,
)

USER_ORDERS = {"-created_at": "Newest", "+created_at": "Oldest",
               "-last_sign_in_at": "Last signed in", "+first_name": "First name",
               "+last_name": "Last name"}


# -- Users -------------------------------------------------------------------------------


@bp.get("/")
@admin_view
def home() -> Response:
    return redirect(url_for(".users"))


@bp.get("/users")
@admin_view
def users() -> Response:
    query = request.args.get("query", "").strip()[:200]
    order = request.args.get("order_by", "-created_at")
    order = order if order in USER_ORDERS else "-created_at"
    page = page_number()
    filters = user_admin.UserFilters(query=query or None)
    db = db_session()
    rows = user_admin.list_users(db, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                 order_by=order)
    total = user_admin.count_users(db, filters)
    return render_page("users", users=rows, total=total, page=page,
                       pages=max(1, -(-total // PAGE_SIZE)), query=query, order=order,
                       orders=USER_ORDERS, now=datetime.now().astimezone(),
                       form=form_state("dashboard.create_user"))


@bp.post("/users")
@dashboard_action("create_user", keep=("email_address", "first_name", "last_name"))
def create_user() -> Response:
    payload: dict[str, Any] = {"email_address": [field("email_address")]}
    for name in ("password", "first_name", "last_name"):
        if field(name):
            payload[name] = field(name)
    with audited("user.created") as entry:
        user = create_user_from_payload(state().instance, db_session(), payload)
        entry.target_type, entry.target_id = "user", user.id
    return redirect(url_for(".user", user_id=user.id), 303)


@bp.get("/users/<user_id>")
@admin_view
def user(user_id: str) -> Response:
    db = db_session()
    row = user_admin.get_user(db, user_id)
    memberships = db.query(OrganizationMembership).filter_by(user_id=row.id).all()
    data = user_json(row)
    metadata = {k: json.dumps(getattr(row, k) or {}, indent=2, sort_keys=True)
                for k in user_admin.METADATA_KINDS}
    recent = admins.audit_entries(db, admins.AuditFilters(target_id=row.id), limit=10)
    return render_page("user", user=row, data=data, memberships=memberships,
                       sessions=sessions.active_sessions(db, row.id), metadata=metadata,
                       user_preview=ClerkUser(data), entries=recent,
                       form=form_state(*(f"dashboard.{f}" for f in USER_FORMS)))


USER_FORMS = ("status", "password", "metadata", "delete", "impersonate")


def _user() -> User:
    return user_admin.get_user(db_session(), str(request.view_args["user_id"]))  # type: ignore[index]


def _other_user() -> User:
    """The user acted on, who must be neither the administrator acting nor another
    administrator: banning, locking, signing out, re-passwording, resetting the MFA
    of, or deleting one's peers (or oneself) here could hand over or shut the
    dashboard; administrators manage their own accounts from their profile."""
    row = _user()
    if row.id == g.clerk_admin.id or admins.is_admin(db_session(), state().settings, row):
        raise ClerkError("dashboard_not_on_administrators", status=403)
    return row


def _back_to_user() -> Response:
    return redirect(url_for(".user", user_id=request.view_args["user_id"]), 303)  # type: ignore[index]


@bp.post("/users/<user_id>/ban")
@dashboard_action("status")
def ban(user_id: str) -> Response:
    with audited("user.banned", row := _other_user()):
        user_admin.set_banned(state().instance, db_session(), row, True)
    return _back_to_user()


@bp.post("/users/<user_id>/unban")
@dashboard_action("status")
def unban(user_id: str) -> Response:
    with audited("user.unbanned", row := _user()):
        user_admin.set_banned(state().instance, db_session(), row, False)
    return _back_to_user()


@bp.post("/users/<user_id>/lock")
@dashboard_action("status")
def lock(user_id: str) -> Response:
    with audited("user.locked", row := _other_user()):
        user_admin.set_locked(state().instance, db_session(), row, True)
    return _back_to_user()


@bp.post("/users/<user_id>/unlock")
@dashboard_action("status")
def unlock(user_id: str) -> Response:
    with audited("user.unlocked", row := _user()):
        user_admin.set_locked(state().instance, db_session(), row, False)
    return _back_to_user()


@bp.post("/users/<user_id>/revoke-sessions")
@dashboard_action("status")
def revoke_sessions(user_id: str) -> Response:
    with audited("user.sessions_revoked", row := _other_user()):
        sessions.revoke_user_sessions(state().instance, db_session(), row.id)
    return _back_to_user()


@bp.post("/users/<user_id>/reset-mfa")
@dashboard_action("status")
def reset_mfa(user_id: str) -> Response:
    with audited("user.mfa_reset", row := _other_user()):
        mfa.remove_totp(state().instance, db_session(), row)
    return _back_to_user()


@bp.post("/users/<user_id>/password")
@dashboard_action("password")
def set_password(user_id: str) -> Response:
    changes = user_admin.UserChanges(password=field("password"),
                                     sign_out_of_other_sessions=True)
    if not changes.password:
        raise ClerkError("form_param_missing", field="password")
    with audited("user.password_set", row := _other_user()):
        user_admin.update_user(state().instance, db_session(), row, changes)
    return _back_to_user()


@bp.post("/users/<user_id>/metadata")
@dashboard_action("metadata", keep=user_admin.METADATA_KINDS)
def set_metadata(user_id: str) -> Response:
    changes = user_admin.UserChanges()
    for kind in user_admin.METADATA_KINDS:
        if kind not in request.form:
            continue  # not in this form: left as it is
        try:
            value = json.loads(field(kind) or "{}")
        except (ValueError, RecursionError):
            raise ClerkError("form_param_format_invalid", field=kind) from None
        if not isinstance(value, dict):
            raise ClerkError("form_param_format_invalid", field=kind)
        changes.values[kind] = clean_metadata(value, kind)
    with audited("user.metadata_updated", row := _user()):
        user_admin.update_user(state().instance, db_session(), row, changes)
    return _back_to_user()


@bp.post("/users/<user_id>/delete")
@dashboard_action("delete")
def delete(user_id: str) -> Response:
    row = _other_user()
    if field("confirmation") != row.id:
        raise ClerkError("form_confirmation_mismatch", field="confirmation", expected=row.id)
    with audited("user.deleted", row, email=row.primary_address):
        remove_user(state().instance, db_session(), row)
    return redirect(url_for(".users"), 303)


@bp.post("/users/<user_id>/impersonate")
@dashboard_action("impersonate")
def impersonate(user_id: str) -> Response:
    """Sign this browser in as the user, for ``CLERK_IMPERSONATION_MAX_DURATION``;
    the administrator's own session waits, to come back to with "Stop"."""
    settings, db = state().settings, db_session()
    row = _user()
    if row.id == g.clerk_admin.id or admins.is_admin(db, settings, row):
        # Acting as another administrator would act with their powers, and log as them.
        raise ClerkError("dashboard_not_on_administrators", status=403)
    actor = {"sub": g.clerk_admin.id, "sid": auth().session_id,
             "iss": admins.dashboard_issuer(settings)}
    with audited("user.impersonated", row) as entry:
        token, secret = create_actor_token(state().instance, db, row, actor)
        entry.details = {"actor_token_id": token.id}
    signed_in = accept_actor_token(state().instance, db, request_info(), secret)
    response = redirect(settings.after_sign_in_url, 303)
    admin_client = request.cookies.get(CLIENT_COOKIE)
    if admin_client:
        set_cookie(response, IMPERSONATOR_COOKIE, admin_client,
                   max_age=settings.impersonation_max_duration, shared=True)
    return identity_changed(response, signed_in.session_token, signed_in.client_token)


