"""The dashboard (``CLERK_DASHBOARD_URL``, default ``/__clerk/dashboard``): where a
team runs its instance. Server-rendered with the components' appearance, usable
without JavaScript.

Every route is for instance administrators only (:func:`admin_view`), who must
have verified recently (Clerk's ``strict``: 10 minutes, with their second factor
if they have one). Every action is written to the audit log with the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Flask, g, make_response, render_template, request
from werkzeug.wrappers import Response

from ...core import admins
from ...core.models import AuditEntry, Organization, User
from ...errors import ClerkError
from ...extension import db_session, request_info, state
from ...request import (
    auth,
    forbidden_response,
    private_response,
    reverification_required,
    unauthenticated_response,
)
from ...settings import Settings
from ..forms import form_action
from ..pages import no_framing

P = ParamSpec("P")
R = TypeVar("R")

bp = Blueprint("clerk_dashboard", __name__)

PAGE_SIZE = 25


def register(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp, url_prefix=settings.dashboard_url)


@bp.before_request
def _refuse_nul() -> Response | None:
    """No id, name, address or filter holds a NUL: refuse it before a database must."""
    values = [request.path, *request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values):
        return _error_page(ClerkError("form_param_format_invalid", status=400))
    return None


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
def audited(action: str, target: User | Organization | tuple[str, str] | None = None,
            **details: Any) -> Iterator[AuditEntry]:
    """Record ``action`` on ``target`` with the change made in the block, in its
    transaction (the block may name the target later, on the entry it gets)."""
    db = db_session()
    kind, target_id = (target if isinstance(target, tuple) else
                       ("user" if isinstance(target, User) else "organization", target.id)
                       if target is not None else (None, None))
    entry = admins.record(db, g.clerk_admin, action, request_info(), target_type=kind,
                          target_id=target_id, **details)
    try:
        yield entry
    except BaseException:
        db.rollback()
        raise
    db.commit()


def render_page(template: str, **context: Any) -> Response:
    response = make_response(render_template(
        f"clerk/dashboard/{template}.html", admin=g.clerk_admin, section=template,
        application_name=state().settings.application_name,
        **state().components.template_context({}), **context))
    return no_framing(response)


def page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


from . import (  # noqa: E402, F401 - the pages
    analytics,
    api_keys,
    audit,
    instance_settings,
    organizations,
    users,
    waitlist,
    webhooks,
)
