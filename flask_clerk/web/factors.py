"""Second factors in the browser: the profile's two-step verification section, the
``setup-mfa`` session task, and step-up reverification (``/reverify``).

Thin adapters over :mod:`flask_clerk.core.mfa` and
:mod:`flask_clerk.core.reverification`. Backup codes are shown once, in the
response to the POST that made them (:func:`~.forms.show_once`), and kept nowhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec
from urllib.parse import urlencode

from flask import redirect, request
from werkzeug.wrappers import Response

from ..core import mfa
from ..core.reverification import (
    LEVELS,
    Requirement,
    reverification_passkey_options,
    reverify_email_code,
    reverify_passkey,
    reverify_password,
    reverify_second_factor,
    send_reverification_code,
)
from ..core.sessions import reissue_token
from ..extension import db_session, request_info, state
from ..redirects import safe_redirect_url
from ..request import auth
from ..tokens import own_token_claims
from .forms import back, field, form_action, form_state, return_to, show_once
from .views import (
    account_reverification,
    bp,
    profile_action,
    reissued,
    session_row,
    user_row,
    with_token,
)

P = ParamSpec("P")

# -- The profile's "Two-step verification" section -----------------------------------


@bp.post("/user/totp")
@profile_action("mfa")
@account_reverification
def profile_totp_start() -> Response:
    mfa.start_totp(state().instance, db_session(), user_row(), session=session_row())
    return back(state().settings.user_profile_url)


@bp.post("/user/totp/verify")
@profile_action("mfa")
def profile_totp_verify() -> Response:
    return _confirmed("profile.mfa", state().settings.user_profile_url)


@bp.post("/user/totp/cancel")
@profile_action("mfa")
def profile_totp_cancel() -> Response:
    mfa.cancel_enrolment(db_session(), user_row())
    return back(state().settings.user_profile_url)


@bp.post("/user/totp/remove")
@profile_action("mfa")
@account_reverification
def profile_totp_remove() -> Response:
    mfa.remove_totp(state().instance, db_session(), user_row())
    return reissued(back(state().settings.user_profile_url))


@bp.post("/user/backup-codes")
@profile_action("mfa")
@account_reverification
def profile_backup_codes() -> Response:
    codes = mfa.regenerate_backup_codes(state().instance, db_session(), user_row())
    return show_once(return_to(state().settings.user_profile_url), "profile.mfa",
                     {"backup_codes": codes})


def mfa_context() -> dict[str, Any]:
    """The section's state for the signed-in user."""
    user, db = user_row(), db_session()
    form = form_state("profile.mfa")
    return {
        "enabled": mfa.has_second_factor(user),
        "enrolment": mfa.pending_enrolment(state().instance, db, user, session=session_row()),
        "backup_codes_left": mfa.unused_backup_codes(db, user),
        "shown_codes": (form.get("shown") or {}).get("backup_codes"),
        "form": form,
    }


def _confirmed(form: str, fallback: str) -> Response:
    """Activate the authenticator app; show the backup codes; the session's token
    now counts a second factor (and loses a ``setup-mfa`` task)."""
    codes = mfa.confirm_totp(state().instance, db_session(), user_row(), field("code"),
                             session=session_row())
    return reissued(show_once(return_to(fallback), form, {"backup_codes": codes}))


# -- The setup-mfa session task (CLERK_MFA_REQUIRED, or an organization's rule) ------


def _task_action() -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    return form_action("task.setup_mfa", fallback="setup_mfa_url")


@bp.post("/setup-mfa/start")
@_task_action()
@account_reverification
def setup_mfa_start() -> Response:
    mfa.start_totp(state().instance, db_session(), user_row(), session=session_row())
    return back(state().settings.setup_mfa_url)


@bp.post("/setup-mfa/verify")
@_task_action()
def setup_mfa_verify() -> Response:
    return _confirmed("task.setup_mfa", state().settings.setup_mfa_url)


def setup_mfa_context() -> dict[str, Any]:
    user = user_row()
    form = form_state("task.setup_mfa")
    return {
        "enabled": mfa.has_second_factor(user),
        "enrolment": mfa.pending_enrolment(state().instance, db_session(), user,
                                           session=session_row()),
        "shown_codes": (form.get("shown") or {}).get("backup_codes"),
        "form": form,
    }


# -- Reverification ------------------------------------------------------------------


def _requirement(source: Any) -> Requirement:
    """The requirement a reverify page or form names (level, max_age); a bad one
    is the default (10 minutes, second factor): never weaker than asked."""
    level = source.get("level") if source.get("level") in LEVELS else "second_factor"
    try:
        return Requirement(int(source.get("max_age", 10)), level)
    except (TypeError, ValueError):
        return Requirement()


def _destination() -> str:
    settings = state().settings
    return safe_redirect_url(field("redirect_url") or request.args.get("redirect_url"),
                             fallback=settings.after_sign_in_url,
                             allowed_origins=settings.allowed_redirect_origins)


def _reverify_action() -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    return form_action("reverify", keep=("strategy",), fallback="reverify_url")


@bp.post("/reverify/password")
@_reverify_action()
def reverify_with_password() -> Response:
    reverify_password(state().instance, db_session(), request_info(), session_row(),
                      user_row(), field("password"))
    return _reverified()


@bp.post("/reverify/second-factor")
@_reverify_action()
def reverify_with_second_factor() -> Response:
    reverify_second_factor(state().instance, db_session(), request_info(), session_row(),
                           user_row(), field("strategy"), field("code"))
    return _reverified()


@bp.post("/reverify/email-code/send")
@_reverify_action()
def reverify_send_email_code() -> Response:
    send_reverification_code(state().instance, db_session(), request_info(), session_row(),
                             user_row())
    return back(state().settings.reverify_url)


@bp.post("/reverify/email-code")
@_reverify_action()
def reverify_with_email_code() -> Response:
    reverify_email_code(state().instance, db_session(), request_info(), session_row(),
                        user_row(), field("code"))
    return _reverified()


@bp.post("/reverify/passkey/options")
def reverify_passkey_options() -> Response:
    from .passkeys import json_options, options_endpoint, required_relying_party

    return options_endpoint(lambda: json_options(reverification_passkey_options(
        state().instance, db_session(), session_row(), user_row(), required_relying_party())))


@bp.post("/reverify/passkey")
@_reverify_action()
def reverify_with_passkey() -> Response:
    from .passkeys import required_relying_party

    reverify_passkey(state().instance, db_session(), request_info(), session_row(), user_row(),
                     required_relying_party(), field("credential"))
    return _reverified()


def _reverified() -> Response:
    """Back where the action was when the requirement holds now, else to the
    reverify page for the other factor."""
    token = reissue_token(state().instance, db_session(), session_row(), request_info())
    if _requirement(request.form).satisfied_by(own_token_claims(token).get("fva")):
        return with_token(redirect(_destination(), 303), token)
    return with_token(back(state().settings.reverify_url), token)


def reverify_context() -> dict[str, Any]:
    """Which factor the reverify page asks for now, from the token's ``fva``: the
    first (password, or a mailed code; a passkey does for both), then the second."""
    from ..core.passkeys import passkeys_of
    from .passkeys import relying_party

    user, session = user_row(), session_row()
    requirement = _requirement(request.args)
    claims = auth(treat_pending_as_signed_out=False).session_claims or {}
    first, second = requirement.stale_factors(claims.get("fva"))
    step = "first_factor" if first else "second_factor" if second else "done"
    form = form_state("reverify")
    factor = form["values"].get("strategy") or request.args.get("factor")
    method = request.args.get("method")
    if step == "first_factor":
        code_sent = session.code_hash is not None and session.code_sent_at is not None
        if method not in {"password", "email_code", "alternatives"}:
            method = "password" if user.password_digest and not code_sent else "email_code"
    return {
        "step": step,
        "method": method,
        "code_sent": step == "first_factor" and session.code_hash is not None,
        "requirement": requirement,
        "has_password": bool(user.password_digest),
        "email": user.primary_address,
        "passkeys": relying_party() is not None and bool(passkeys_of(db_session(), user)),
        "factor": factor if factor in mfa.SECOND_FACTORS else "totp",
        "links": {"password": _here(method="password"), "email_code": _here(method="email_code"),
                  "totp": _here(factor="totp"), "backup_code": _here(factor="backup_code")},
        "form": form,
    }


def _here(**change: str) -> str:
    """This page with another method or factor chosen (the rest of its query kept)."""
    args = {k: v for k, v in request.args.items() if k not in {"method", "factor"}}
    return f"{request.path}?{urlencode({**args, **change})}"
