"""The dashboard's settings: what ``flask_clerk.settings.EDITABLE`` names, stored in
the identity store over the configuration, in force everywhere within a second."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...core import instance_settings
from ...core.models import InstanceSetting
from ...errors import ClerkError
from ...extension import db_session, state
from ...settings import EDITABLE, SIGN_IN_STRATEGIES
from ..forms import form_state
from . import admin_view, audited, bp, dashboard_action, render_page

# What the page shows, in order: (field, label, kind, help).
FIELDS: list[tuple[str, str, str, str]] = [
    ("sign_in_strategies", "Sign-in methods", "strategies", ""),
    ("sign_up_mode", "Sign-up mode", "mode",
     "Restricted: only addresses with a pending invitation can sign up. Waitlist: the "
     "same, and people ask for an invitation on the waitlist page."),
    ("allowlist", "Allowlist", "list",
     "Emails or domains; when set, only these can sign up or sign in."),
    ("blocklist", "Blocklist", "list", "Emails or domains that cannot sign up."),
    ("session_max_lifetime", "Session lifetime (seconds)", "number", ""),
    ("session_inactivity_timeout", "Inactivity timeout (seconds)", "number",
     "Empty: none."),
    ("multi_session", "Multi-session", "flag",
     "Several accounts signed in on one browser, switched from the user button."),
    ("lockout_attempts", "Failed attempts before lockout", "number", ""),
    ("lockout_duration", "Lockout duration (seconds)", "number", ""),
    ("password_min_length", "Minimum password length", "number", ""),
    ("mfa_required", "Require two-step verification", "flag", ""),
    ("create_organization_enabled", "Users may create organizations", "flag", ""),
    ("create_organizations_limit", "Organizations a user may create", "number", ""),
    ("organization_max_memberships", "Members per organization", "number", "Empty: no limit."),
]
assert {f[0] for f in FIELDS} == set(EDITABLE)


def _shown(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


@bp.get("/settings")
@admin_view
def settings_page() -> Response:
    current, config = state().settings, state().instance.config_settings
    stored = {row.key: row for row in db_session().scalars(select(InstanceSetting))}
    return render_page("settings", fields=FIELDS, current=current, config=config,
                       stored=stored, shown=_shown, strategies=SIGN_IN_STRATEGIES,
                       form=form_state("dashboard.settings"))


@bp.post("/settings")
@dashboard_action("settings")
def save_settings() -> Response:
    """Every field of the form; only those that differ from what is in force are stored."""
    raw: dict[str, Any] = {}
    for name, _, kind, _ in FIELDS:
        if kind == "strategies":
            raw[name] = request.form.getlist(name)
        elif kind == "flag":
            raw[name] = name in request.form
        elif kind == "list":
            raw[name] = request.form.get(name, "")
        else:
            raw[name] = request.form.get(name, "").strip()
    changes = instance_settings.parse_changes(raw)
    current = state().settings
    changed = {k: v for k, v in changes.items() if getattr(current, k) != v}
    if changed:
        with audited("settings.changed", ("settings", "instance")) as entry:
            entry.details = {k: list(v) if isinstance(v, tuple) else v for k, v in changed.items()}
            instance_settings.save(db_session(), changed, by=g.clerk_admin.id)
        state().instance.forget_settings()
    return redirect(url_for(".settings_page"), 303)


@bp.post("/settings/<name>/reset")
@dashboard_action("settings")
def reset_setting(name: str) -> Response:
    if name not in EDITABLE:
        raise ClerkError("resource_not_found", status=404)
    with audited("settings.reset", ("settings", name)):
        instance_settings.reset(db_session(), name)
    state().instance.forget_settings()
    return redirect(url_for(".settings_page"), 303)
