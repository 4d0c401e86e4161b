"""The dashboard (``CLERK_DASHBOARD_URL``, default ``/__clerk/dashboard``): where a
team runs its instance. Server-rendered with the components' appearance, usable
without JavaScript.

Every route is for instance administrators only (:func:`admin_view`), who must
have verified recently (Clerk's ``strict``: 10 minutes, with their second factor
if they have one). Every action is written to the audit log with the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from ..core import admins, mfa, sessions, user_admin
from ..core.impersonation import accept_actor_token, create_actor_token
from ..core.models import AuditEntry, OrganizationMembership, User
from ..core.serializers import user_json
from ..core.user_import import clean_metadata, create_user_from_payload
from ..core.users import remove_user
from ..errors import ClerkError
from ..extension import db_session, request_info, set_session_cookies, state
from ..request import (
    CLIENT_COOKIE,
    auth,
    cancel_cookie_update,
    forbidden_response,
    private_response,
    reverification_required,
    unauthenticated_response,
)
from ..settings import Settings
from ..user import ClerkUser
from .forms import field, form_action, form_state
from .pages import no_framing

P = ParamSpec("P")
R = TypeVar("R")

bp = Blueprint("clerk_dashboard", __name__)

IMPERSONATOR_COOKIE = "__clerk_impersonator"  # the administrator's own __client, to go back
PAGE_SIZE = 25
USER_ORDERS = {"-created_at": "Newest", "+created_at": "Oldest",
               "-last_sign_in_at": "Last signed in", "+first_name": "First name",
               "+last_name": "Last name"}


def register(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp, url_prefix=settings.dashboard_url)


@bp.errorhandler(ClerkError)
def _error_page(error: ClerkError) -> Response:
    """A page's error (an unknown user id: 404) as a card with a way back."""
    settings = state().settings
    response = make_response(render_template(
        "clerk/card_page.html", component="no_access", title="Not found",
        message=error.message(settings.messages),
        application_name=settings.application_name), error.status)
    return no_framing(response)


def admin_view(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Administrators only (403 for anyone else, sign-in for nobody), recently
    verified, never while impersonating; ``g.clerk_admin`` is their row."""
    verified = reverification_required(preset="strict")(view)

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        current = auth()
        if not current.is_signed_in:
            return unauthenticated_response()
        if current.actor:
            return forbidden_response("dashboard_while_impersonating")
        user = db_session().get(User, current.user_id)
        if user is None or not admins.is_admin(db_session(), state().settings, user):
            return forbidden_response("dashboard_admins_only")
        g.clerk_admin = user
        private_response()
        return verified(*args, **kwargs)

    return wrapper


def dashboard_action(form: str, keep: tuple[str, ...] = ()
                     ) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """A dashboard form's POST: administrators only, CSRF, errors shown in place."""
    def decorate(view: Callable[P, Response]) -> Callable[P, Response]:
        checked = form_action(f"dashboard.{form}", keep=keep, fallback="dashboard_url")(view)
        return admin_view(checked)  # type: ignore[return-value]
    return decorate


@contextmanager
def audited(action: str, user: User | None = None, **details: Any) -> Iterator[AuditEntry]:
    """Record ``action`` with the change made in the block, in its transaction."""
    db = db_session()
    entry = admins.record(db, g.clerk_admin, action, request_info(),
                          target_type="user" if user else None,
                          target_id=user.id if user else None, **details)
    try:
        yield entry
    except BaseException:
        db.rollback()
        raise
    db.commit()


def _page(template: str, **context: Any) -> Response:
    response = make_response(render_template(
        f"clerk/dashboard/{template}.html", admin=g.clerk_admin, section=template,
        application_name=state().settings.application_name,
        **state().components.template_context({}), **context))
    return no_framing(response)


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
    page = _page_number()
    filters = user_admin.UserFilters(query=query or None)
    db = db_session()
    rows = user_admin.list_users(db, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                 order_by=order)
    total = user_admin.count_users(db, filters)
    return _page("users", users=rows, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
                 query=query, order=order, orders=USER_ORDERS, now=datetime.now().astimezone(),
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
    return _page("user", user=row, data=data, memberships=memberships,
                 sessions=sessions.active_sessions(db, row.id),
                 metadata={k: json.dumps(getattr(row, k) or {}, indent=2, sort_keys=True)
                           for k in user_admin.METADATA_KINDS}, user_preview=ClerkUser(data),
                 entries=admins.audit_entries(db, admins.AuditFilters(target_id=row.id), limit=10),
                 form=form_state(*(f"dashboard.{f}" for f in USER_FORMS)))


USER_FORMS = ("status", "password", "metadata", "delete", "impersonate")


def _user() -> User:
    return user_admin.get_user(db_session(), str(request.view_args["user_id"]))  # type: ignore[index]


def _back_to_user() -> Response:
    return redirect(url_for(".user", user_id=request.view_args["user_id"]), 303)  # type: ignore[index]


@bp.post("/users/<user_id>/ban")
@dashboard_action("status")
def ban(user_id: str) -> Response:
    with audited("user.banned", row := _user()):
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
    with audited("user.locked", row := _user()):
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
    with audited("user.sessions_revoked", row := _user()):
        sessions.revoke_user_sessions(state().instance, db_session(), row.id)
    return _back_to_user()


@bp.post("/users/<user_id>/reset-mfa")
@dashboard_action("status")
def reset_mfa(user_id: str) -> Response:
    with audited("user.mfa_reset", row := _user()):
        mfa.remove_totp(state().instance, db_session(), row)
    return _back_to_user()


@bp.post("/users/<user_id>/password")
@dashboard_action("password")
def set_password(user_id: str) -> Response:
    changes = user_admin.UserChanges(password=field("password"),
                                     sign_out_of_other_sessions=True)
    if not changes.password:
        raise ClerkError("form_param_missing", field="password")
    with audited("user.password_set", row := _user()):
        user_admin.update_user(state().instance, db_session(), row, changes)
    return _back_to_user()


@bp.post("/users/<user_id>/metadata")
@dashboard_action("metadata", keep=user_admin.METADATA_KINDS)
def set_metadata(user_id: str) -> Response:
    changes = user_admin.UserChanges()
    for kind in user_admin.METADATA_KINDS:
        try:
            value = json.loads(field(kind) or "{}")
        except ValueError:
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
    row = _user()
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
    actor = {"sub": g.clerk_admin.id, "sid": auth().session_id,
             "iss": url_for(".home", _external=True).rstrip("/")}
    with audited("user.impersonated", row):
        token, secret = create_actor_token(state().instance, db, row, actor)
    signed_in = accept_actor_token(state().instance, db, request_info(), secret)
    response = redirect(settings.after_sign_in_url, 303)
    admin_client = request.cookies.get(CLIENT_COOKIE)
    if admin_client:
        response.set_cookie(IMPERSONATOR_COOKIE, admin_client,
                            max_age=settings.impersonation_max_duration, httponly=True,
                            secure=settings.cookie_secure, samesite="Lax")
    set_session_cookies(response, signed_in.session_token, signed_in.client_token)
    cancel_cookie_update()
    session.pop("csrf_token", None)  # another identity: another CSRF token
    return response


# -- The audit log ------------------------------------------------------------------------


def _audit_filters() -> admins.AuditFilters:
    def day(name: str, shift: int = 0) -> datetime | None:
        try:
            value = datetime.strptime(request.args.get(name, ""), "%Y-%m-%d")
        except ValueError:
            return None
        return (value + timedelta(days=shift)).astimezone()

    return admins.AuditFilters(
        actor=request.args.get("actor", "").strip()[:320] or None,
        action=request.args.get("action", "").strip()[:64] or None,
        target_id=request.args.get("target", "").strip()[:64] or None,
        since=day("since"), until=day("until", 1))


@bp.get("/audit")
@admin_view
def audit() -> Response:
    page = _page_number()
    entries = admins.audit_entries(db_session(), _audit_filters(), limit=PAGE_SIZE + 1,
                                   offset=(page - 1) * PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page"}
    export = url_for(".audit_export") + ("?" + urlencode(args) if args else "")
    return _page("audit", entries=entries[:PAGE_SIZE], page=page, more=len(entries) > PAGE_SIZE,
                 args=args, export=export)


@bp.get("/audit.jsonl")
@admin_view
def audit_export() -> Response:
    filters, store = _audit_filters(), state().instance.store

    def lines() -> Iterator[str]:
        with store.session() as db:  # its own: the request's is gone while this streams
            yield from admins.audit_jsonl(db, filters)

    response = Response(lines(), mimetype="application/x-ndjson")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.jsonl"'
    return response


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1
