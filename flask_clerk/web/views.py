"""The frontend API's form endpoints (``/__clerk/...``): thin adapters over the flows.

Each view reads the form, calls one flow, sets cookies and redirects; errors are
shown in place by :func:`~flask_clerk.web.forms.form_action`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
    after_this_request,
    make_response,
    redirect,
    render_template,
    request,
    session,
)
from werkzeug.wrappers import Response

from ..components import SIGN_IN_FLOW_COOKIE, SIGN_UP_FLOW_COOKIE
from ..core import sessions, sign_in, sign_up, users
from ..core.flows import FLOW_LIFETIME, find_flow
from ..core.mfa import SECOND_FACTORS
from ..core.models import Session, SignIn, SignUp, User
from ..core.serializers import user_json
from ..core.sessions import SignedIn
from ..errors import AuthenticationError, ClerkError, NotFound
from ..extension import (
    clear_session_cookies,
    db_session,
    delete_cookie,
    request_info,
    set_cookie,
    set_session_cookies,
    state,
)
from ..redirects import safe_redirect_url
from ..request import (
    CLIENT_COOKIE,
    auth,
    cancel_cookie_update,
    reverification_required,
    task_url,
    token_expiry,
)
from ..tokens import own_token_claims
from ..user import ClerkUser
from .devices import describe_device
from .forms import back, field, form_action, form_state, return_to
from .pages import no_framing

P = ParamSpec("P")

bp = Blueprint(
    "clerk", __name__, url_prefix="/__clerk",
    template_folder="../components/templates", static_folder="../components/static",
)


@bp.after_request
def _no_framing(response: Response) -> Response:
    return no_framing(response)


@bp.before_request
def _load_signing_key() -> None:
    # Flows mint tokens inside their own write transaction; with SQLite a first-ever
    # key created then, from a second connection, would wait on that transaction.
    state().instance.signing_key()


def _flow_token(cookie: str) -> str | None:
    return request.cookies.get(cookie)


def set_flow(response: Response, cookie: str, token: str) -> None:
    set_cookie(response, cookie, token, max_age=FLOW_LIFETIME)


def _clear_flow(response: Response, cookie: str) -> None:
    delete_cookie(response, cookie)


def _signed_in(signed_in: SignedIn, destination: str, flow_cookie: str,
               redirect_url: str | None = None) -> Response:
    settings = state().settings
    target = safe_redirect_url(field("redirect_url") if redirect_url is None else redirect_url,
                               fallback=destination,
                               allowed_origins=settings.allowed_redirect_origins)
    claims = own_token_claims(signed_in.session_token)
    if claims.get("sts") == "pending":
        # A task first (choose an organization, set up a second factor), then there.
        target = task_url(claims, target)
    response = redirect(target, 303)
    _clear_flow(response, flow_cookie)
    return identity_changed(response, signed_in.session_token, signed_in.client_token)


def identity_changed(response: Response, session_token: str | None = None,
                     client_token: str | None = None) -> Response:
    """``response`` for a browser that is someone else now (or, without tokens,
    nobody): its session cookies, which win over any refresh of this request, and
    a new CSRF token for the new identity."""
    if session_token:
        set_session_cookies(response, session_token, client_token)
    else:
        clear_session_cookies(response)
    cancel_cookie_update()
    session.pop("csrf_token", None)
    return response


# -- Sign in ------------------------------------------------------------------------


@bp.post("/sign-in")
@form_action("sign_in.start", keep=("identifier",))
def sign_in_start() -> Response:
    _, token = sign_in.start_sign_in(state().instance, db_session(), request_info(),
                                     identifier=field("identifier"))
    response = back(state().settings.sign_in_url)
    set_flow(response, SIGN_IN_FLOW_COOKIE, token)
    return response


def sign_in_outcome(outcome: sign_in.Outcome) -> Response:
    """Signed in, or on to the flow's next step (the second factor)."""
    if isinstance(outcome, SignedIn):
        return _signed_in(outcome, state().settings.after_sign_in_url, SIGN_IN_FLOW_COOKIE)
    return back(state().settings.sign_in_url)


@bp.post("/sign-in/password")
@form_action("sign_in.password")
def sign_in_password() -> Response:
    return sign_in_outcome(sign_in.attempt_password(
        state().instance, db_session(), request_info(), _flow_token(SIGN_IN_FLOW_COOKIE),
        field("password"), previous_client_token=request.cookies.get(CLIENT_COOKIE),
    ))


@bp.post("/sign-in/strategy")
@form_action("sign_in.start")
def sign_in_strategy() -> Response:
    """Choose (or resend) the first factor: password, a mailed code or link."""
    sign_in.prepare_first_factor(state().instance, db_session(), request_info(),
                                 _flow_token(SIGN_IN_FLOW_COOKIE), field("strategy"))
    # Back to the page, without the "Use another method" list that chose.
    page = urlsplit(return_to(state().settings.sign_in_url))
    query = urlencode([(k, v) for k, v in parse_qsl(page.query) if k != "method"])
    return redirect(urlunsplit(page._replace(query=query)), 303)


@bp.post("/sign-in/email-code")
@form_action("sign_in.email_code")
def sign_in_email_code() -> Response:
    return sign_in_outcome(sign_in.attempt_email_code(
        state().instance, db_session(), request_info(), _flow_token(SIGN_IN_FLOW_COOKIE),
        field("code"), previous_client_token=request.cookies.get(CLIENT_COOKIE),
    ))


@bp.get(sign_in.LINK_PATH)
def sign_in_email_link() -> Response:
    """The mailed link. Opened in another browser (or by a mail scanner) it only
    explains itself; the link stays usable where it was asked for."""
    try:
        outcome = sign_in.attempt_email_link(
            state().instance, db_session(), request_info(), request.args.get("token", ""),
            _flow_token(SIGN_IN_FLOW_COOKIE),
            previous_client_token=request.cookies.get(CLIENT_COOKIE))
    except ClerkError as error:
        response = make_response(render_template(
            "clerk/card_page.html", component="email_link_status", title="Sign-in link",
            message=error.message(state().settings.messages),
            application_name=state().settings.application_name), error.status)
        response.headers["Cache-Control"] = "no-store"
        return _no_referrer(response)
    if isinstance(outcome, SignedIn):
        return _signed_in(outcome, state().settings.after_sign_in_url, SIGN_IN_FLOW_COOKIE)
    return redirect(state().settings.sign_in_url, 303)


@bp.post("/sign-in/second-factor")
@form_action("sign_in.second_factor", keep=("strategy",))
def sign_in_second_factor() -> Response:
    return sign_in_outcome(sign_in.attempt_second_factor(
        state().instance, db_session(), request_info(), _flow_token(SIGN_IN_FLOW_COOKIE),
        field("strategy"), field("code"), previous_client_token=request.cookies.get(CLIENT_COOKIE),
    ))


@bp.post("/sign-in/forgot-password")
@form_action("sign_in.reset_code")
def sign_in_forgot_password() -> Response:
    sign_in.start_password_reset(state().instance, db_session(), request_info(),
                                 _flow_token(SIGN_IN_FLOW_COOKIE))
    return back(state().settings.sign_in_url)


@bp.post("/sign-in/reset-code")
@form_action("sign_in.reset_code")
def sign_in_reset_code() -> Response:
    sign_in.verify_reset_code(state().instance, db_session(), request_info(),
                              _flow_token(SIGN_IN_FLOW_COOKIE), field("code"))
    return back(state().settings.sign_in_url)


@bp.post("/sign-in/new-password")
@form_action("sign_in.new_password")
def sign_in_new_password() -> Response:
    return sign_in_outcome(sign_in.reset_password(
        state().instance, db_session(), request_info(), _flow_token(SIGN_IN_FLOW_COOKIE),
        field("password"), field("confirm_password"),
        previous_client_token=request.cookies.get(CLIENT_COOKIE),
    ))


@bp.post("/sign-in/restart")
@form_action("sign_in.start")
def sign_in_restart() -> Response:
    sign_in.cancel_sign_in(db_session(), _flow_token(SIGN_IN_FLOW_COOKIE))
    response = back(state().settings.sign_in_url)
    _clear_flow(response, SIGN_IN_FLOW_COOKIE)
    return response


def sign_in_step() -> dict[str, Any]:
    """The sign-in component's state: which card, and the flow's identifier."""
    from ..core.passkeys import passkeys_of
    from .passkeys import relying_party

    if auth().is_signed_in and not state().settings.multi_session:  # else: add an account
        return {"name": "signed_in", "form": form_state()}
    flow = find_flow(db_session(), SignIn, _flow_token(SIGN_IN_FLOW_COOKIE))
    strategies = state().settings.sign_in_strategies
    status = flow.status if flow else None
    if status == "needs_first_factor" and flow is not None:
        # The chosen first factor; "Use another method" lists the others.
        status = flow.strategy or ("password" if "password" in strategies else "alternatives")
        if request.args.get("method") == "alternatives":
            status = "alternatives"
    name = {
        None: "start",
        "password": "password",
        "email_code": "email_code",
        "email_link": "email_link",
        "alternatives": "alternatives",
        "needs_reset_code": "reset_code",
        "needs_new_password": "new_password",
        "needs_second_factor": "second_factor",
    }.get(status, "start")
    form = form_state(f"sign_in.{name}")
    factor = None
    if name == "second_factor":
        # The authenticator app, or a backup code ("Use another method").
        factor = form["values"].get("strategy") or request.args.get("factor")
        factor = factor if factor in SECOND_FACTORS else "totp"
    return {
        "name": name,
        "identifier": flow.identifier if flow else None,
        "factor": factor,
        "strategies": strategies,
        "passkeys": "passkey" in strategies and relying_party() is not None,
        "user_has_passkeys": bool(flow and flow.user and name == "second_factor"
                                  and passkeys_of(db_session(), flow.user)),
        "form": form,
    }


# -- Sign up ------------------------------------------------------------------------


@bp.post("/sign-up")
@form_action("sign_up.start", keep=("email_address", "first_name", "last_name"),
             fallback="sign_up_url")
def sign_up_start() -> Response:
    settings = state().settings
    if settings.organizations and field("ticket"):
        from ..core.organizations import sign_up_with_invitation

        signed_in = sign_up_with_invitation(
            state().instance, db_session(), request_info(), field("ticket"),
            password=field("password"), first_name=field("first_name"),
            last_name=field("last_name"), previous_client_token=request.cookies.get(CLIENT_COOKIE),
        )
        return _signed_in(signed_in, settings.after_sign_up_url, SIGN_UP_FLOW_COOKIE)
    _, token = sign_up.start_sign_up(
        state().instance, db_session(), request_info(), email_address=field("email_address"),
        password=field("password"), first_name=field("first_name"),
        last_name=field("last_name"),
    )
    response = back(state().settings.sign_up_url)
    set_flow(response, SIGN_UP_FLOW_COOKIE, token)
    return response


@bp.post("/sign-up/verify")
@form_action("sign_up.verify", fallback="sign_up_url")
def sign_up_verify() -> Response:
    signed_in = sign_up.verify_sign_up(
        state().instance, db_session(), request_info(), _flow_token(SIGN_UP_FLOW_COOKIE),
        field("code"), previous_client_token=request.cookies.get(CLIENT_COOKIE),
    )
    return _signed_in(signed_in, state().settings.after_sign_up_url, SIGN_UP_FLOW_COOKIE)


@bp.post("/sign-up/resend")
@form_action("sign_up.verify", fallback="sign_up_url")
def sign_up_resend() -> Response:
    sign_up.resend_sign_up_code(state().instance, db_session(), request_info(),
                                _flow_token(SIGN_UP_FLOW_COOKIE))
    return back(state().settings.sign_up_url)


@bp.post("/sign-up/restart")
@form_action("sign_up.start", fallback="sign_up_url")
def sign_up_restart() -> Response:
    response = back(state().settings.sign_up_url)
    _clear_flow(response, SIGN_UP_FLOW_COOKIE)
    return response


def _no_referrer(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def sign_up_step() -> dict[str, Any]:
    if auth().is_signed_in and not state().settings.multi_session:  # else: add an account
        return {"name": "signed_in", "form": form_state()}
    flow = find_flow(db_session(), SignUp, _flow_token(SIGN_UP_FLOW_COOKIE))
    name = "verify" if flow is not None else "start"
    invitation = None
    if state().settings.organizations and name == "start":
        from ..core.organizations import find_invitation

        invitation = find_invitation(db_session(), request.args.get("__clerk_ticket"))
        if invitation is not None:  # the ticket is in this page's URL: keep it here
            after_this_request(_no_referrer)
    return {
        "name": name,
        "email_address": flow.email_address if flow else None,
        "invitation": invitation,
        "ticket": request.args.get("__clerk_ticket") if invitation else None,
        "form": form_state(f"sign_up.{name}"),
    }


# -- Sign out -----------------------------------------------------------------------


@bp.post("/sign-out")
@form_action("sign_out")
def sign_out() -> Response:
    """Sign out every account on this browser, or with multi-session the one
    ``session_id`` names (the user button's "Sign out"): then another account
    signed in here becomes active."""
    client_token = request.cookies.get(CLIENT_COOKIE)
    next_active = sessions.end_client_session(
        state().instance, db_session(), client_token,
        session_id=field("session_id") or None) if client_token else None
    settings = state().settings
    target = safe_redirect_url(field("redirect_url"), fallback=settings.after_sign_out_url,
                               allowed_origins=settings.allowed_redirect_origins)
    if next_active is not None:
        token = sessions.reissue_token(state().instance, db_session(), next_active,
                                       request_info())
        return identity_changed(redirect(target, 303), token)
    return _signed_out(target)


def user_button_context() -> dict[str, Any]:
    """The user button's accounts: with multi-session, the others signed in on this
    browser (never while impersonating: that browser is the administrator's)."""
    current = auth(treat_pending_as_signed_out=False)
    client_token = request.cookies.get(CLIENT_COOKIE)
    if not (state().settings.multi_session and current.is_signed_in and client_token) or (
            current.actor):
        return {"multi_session": False, "other_sessions": [], "form": form_state()}
    others = [{"id": s.id, "user": ClerkUser(user_json(s.user))}
              for s in sessions.client_sessions(db_session(), client_token)
              if s.id != current.session_id]
    return {"multi_session": True, "other_sessions": others, "session_id": current.session_id,
            "form": form_state("user_button.switch_session", "sign_out")}


@bp.post("/sessions/switch")
@form_action("user_button.switch_session")
def switch_session() -> Response:
    """Make another account signed in on this browser the active one (multi-session)."""
    client_token = request.cookies.get(CLIENT_COOKIE)
    if not client_token:
        raise NotFound("session_not_found")
    token = sessions.switch_session(state().instance, db_session(), client_token,
                                    field("session_id"), request_info())
    settings = state().settings
    return identity_changed(redirect(safe_redirect_url(
        field("redirect_url"), fallback=settings.after_sign_in_url,
        allowed_origins=settings.allowed_redirect_origins), 303), token)


def _signed_out(target: str) -> Response:
    return identity_changed(redirect(target, 303))


# -- Profile (the signed-in user's own account) ---------------------------------------


def _me_or_none() -> User | None:
    user_id = auth(treat_pending_as_signed_out=False).user_id
    return db_session().get(User, user_id) if user_id else None


def user_row() -> User:
    """The signed-in user's row; 401 when nobody is signed in."""
    user = _me_or_none()
    if user is None:
        raise AuthenticationError("authentication_invalid")
    return user


def session_row() -> Session:
    """The signed-in browser's session row (pending or not); 401 without one."""
    session_id = auth(treat_pending_as_signed_out=False).session_id
    session = db_session().get(Session, session_id) if session_id else None
    if session is None or session.status != "active":
        raise AuthenticationError("authentication_invalid")
    return session


def reissued(response: Response) -> Response:
    """``response`` with a new token for the browser's session, whose claims just
    changed (its organization, a factor, a task done): now, not at the next refresh."""
    session_id = auth(treat_pending_as_signed_out=False).session_id
    session = db_session().get(Session, session_id) if session_id else None
    if session is None:
        return response
    db_session().refresh(session)
    return with_token(response, sessions.reissue_token(
        state().instance, db_session(), session, request_info(),
        not_after=token_expiry(auth(treat_pending_as_signed_out=False))))


def with_token(response: Response, token: str) -> Response:
    """Set a reissued session token on ``response`` (its claims changed)."""
    set_session_cookies(response, token)
    cancel_cookie_update()  # the new token wins over any refresh of this request
    return response


# The profile's sensitive actions (email, password, MFA, deletion): Clerk's "strict"
# (10 minutes, second factor). A pending session may use its own profile.
account_reverification = reverification_required(allow_pending=True)


def _profile_back() -> Response:
    return back(state().settings.user_profile_url)


def profile_action(
    form: str, keep: tuple[str, ...] = ()
) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    return form_action(f"profile.{form}", keep=keep, fallback="user_profile_url")


@bp.post("/user/profile")
@profile_action("profile", keep=("first_name", "last_name"))
def profile_update() -> Response:
    users.update_profile(state().instance, db_session(), user_row(),
                         first_name=field("first_name"), last_name=field("last_name"))
    return _profile_back()


@bp.post("/user/email-addresses")
@profile_action("add_email", keep=("email_address",))
@account_reverification
def profile_add_email() -> Response:
    users.add_email_address(state().instance, db_session(), request_info(), user_row(),
                            field("email_address"))
    return _profile_back()


@bp.post("/user/email-addresses/<email_id>/verify")
@profile_action("verify_email", keep=("email_id",))
def profile_verify_email(email_id: str) -> Response:
    users.verify_email_address(state().instance, db_session(), request_info(), user_row(), email_id,
                               field("code"))
    return _profile_back()


@bp.post("/user/email-addresses/<email_id>/resend")
@profile_action("verify_email", keep=("email_id",))
def profile_resend_email_code(email_id: str) -> Response:
    users.resend_email_code(state().instance, db_session(), request_info(), user_row(), email_id)
    return _profile_back()


@bp.post("/user/email-addresses/<email_id>/primary")
@profile_action("email")
@account_reverification
def profile_primary_email(email_id: str) -> Response:
    users.set_primary_email(state().instance, db_session(), user_row(), email_id)
    return _profile_back()


@bp.post("/user/email-addresses/<email_id>/remove")
@profile_action("email")
@account_reverification
def profile_remove_email(email_id: str) -> Response:
    users.remove_email_address(state().instance, db_session(), user_row(), email_id)
    return _profile_back()


@bp.post("/user/password")
@profile_action("password")
@account_reverification
def profile_password() -> Response:
    users.change_password(
        state().instance, db_session(), user_row(), current_password=field("current_password"),
        new_password=field("new_password"), confirm_password=field("confirm_password"),
        current_session_id=auth(treat_pending_as_signed_out=False).session_id,
    )
    return _profile_back()


@bp.post("/user/sessions/<session_id>/revoke")
@profile_action("sessions")
def profile_revoke_session(session_id: str) -> Response:
    sessions.revoke_own_session(state().instance, db_session(), user_row().id, session_id)
    return _profile_back()


@bp.post("/user/delete")
@profile_action("delete")
@account_reverification
def profile_delete() -> Response:
    users.delete_user(state().instance, db_session(), user_row(),
                      confirmation=field("confirmation"))
    return _signed_out(state().settings.after_sign_out_url)


def profile_context(props: dict[str, Any]) -> dict[str, Any]:
    """What the UserProfile component shows: the user's row, emails and devices."""
    user = _me_or_none()
    if user is None:
        return {"profile_user": None, "page": "account", "form": form_state()}
    page = request.args.get("page", props.get("page", "account"))
    devices = [
        {"session": s, "device": describe_device(s.user_agent),
         "current": s.id == auth().session_id}
        for s in sessions.active_sessions(db_session(), user.id)
    ]
    page = page if page in {"account", "security"} else "account"
    from .factors import mfa_context
    from .oauth import connected_accounts_context
    from .passkeys import passkeys_context

    return {
        "profile_user": user,
        "page": page,
        "devices": devices,
        "mfa": mfa_context() if page == "security" else None,
        "passkeys": passkeys_context() if page == "security" else None,
        "connected": (connected_accounts_context() if page == "account" and (
            state().settings.oauth_providers or user.external_accounts) else None),
        "form": form_state(
            "profile.profile", "profile.add_email", "profile.verify_email", "profile.email",
            "profile.password", "profile.sessions", "profile.delete", "profile.mfa",
            "profile.passkeys", "profile.connected_accounts",
        ),
        "delete_confirmation": users.DELETE_CONFIRMATION,
    }
