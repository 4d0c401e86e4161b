"""The SDK half on each request: who is signed in, and who may pass.

Before every request the session token (``Authorization: Bearer`` or the
``__session`` cookie) is verified against the cached public keys, with no
database access. Only when the token is missing or expired and the browser holds
a ``__client`` cookie does one query refresh it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast, overload
from urllib.parse import urlencode

from flask import (
    after_this_request,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from flask import session as flask_session
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from .auth_domain import absolute_here, auth_host_url
from .errors import AuthenticationError, ClerkError
from .tokens import TokenInvalid, decode_organization

if TYPE_CHECKING:
    from .core.reverification import Requirement
    from .extension import ClerkState
    from .user import ClerkUser

SESSION_COOKIE = "__session"
CLIENT_COOKIE = "__client"
# While impersonating: the administrator's own __client, to go back to with "Stop".
IMPERSONATOR_COOKIE = "__clerk_impersonator"


@dataclass(frozen=True)
class Auth:
    """What ``auth()`` returns: Clerk's Auth object for this request."""

    user_id: str | None = None
    session_id: str | None = None
    session_claims: Mapping[str, Any] | None = None
    token: str | None = field(default=None, repr=False)
    org_id: str | None = None
    org_role: str | None = None
    org_slug: str | None = None
    org_permissions: tuple[str, ...] | None = None
    actor: dict[str, Any] | None = None
    # "active", or "pending" while the session has a task to finish (choose an
    # organization when membership is required); None when signed out.
    session_status: str | None = None

    @property
    def is_signed_in(self) -> bool:
        return self.user_id is not None

    def has(self, *, role: str | None = None, permission: str | None = None) -> bool:
        """Clerk's ``has()``: ``has(role="org:admin")``, ``has(permission="org:x:y")``.

        The ``org:`` prefix may be left out. Both given must both hold. Everything
        fails closed: signed out, no active organization, or nothing asked.
        """
        if not self.is_signed_in or self.org_id is None or (role is None and permission is None):
            return False
        if role is not None and self.org_role != org_key(role):
            return False
        return permission is None or org_key(permission) in (self.org_permissions or ())

    def get_token(self) -> str | None:
        """The session token, e.g. to call another service as this user."""
        return self.token


def org_key(key: str) -> str:
    """Clerk's normalisation: ``"admin"`` -> ``"org:admin"`` (and the old role names)."""
    key = {"admin": "org:admin", "basic_member": "org:member"}.get(key, key)
    return key if key.startswith("org:") else f"org:{key}"


SIGNED_OUT = Auth()
PENDING = Auth(session_status="pending")  # what auth() shows of a pending session


def _state() -> ClerkState:
    return cast("ClerkState", current_app.extensions["clerk"])


def auth(*, treat_pending_as_signed_out: bool = True) -> Auth:
    """The current request's :class:`Auth` (signed out when nobody is).

    A session with a task still to do (``session_status == "pending"``: choose an
    organization when membership is required) counts as signed out, as in Clerk,
    unless ``treat_pending_as_signed_out=False``.
    """
    try:
        current = cast(Auth, g._clerk_auth)
    except AttributeError:
        # Outside ClerkAuth's before_request (an error handler, say): load now.
        current = load_auth(_state())
    if current.session_status == "pending" and treat_pending_as_signed_out:
        return PENDING
    return current


def _current_user() -> ClerkUser | None:
    if "_clerk_user" not in g:
        user_id = auth().user_id
        g._clerk_user = _state().load_user(user_id) if user_id else None
    return cast("ClerkUser | None", g._clerk_user)


def session_user() -> ClerkUser | None:
    """The session's user even while the session is pending (for the components)."""
    current = auth(treat_pending_as_signed_out=False)
    if current is auth():
        return _current_user()
    if "_clerk_session_user" not in g:
        g._clerk_session_user = _state().load_user(current.user_id) if current.user_id else None
    return cast("ClerkUser | None", g._clerk_session_user)


current_user: ClerkUser | None = cast("ClerkUser | None", LocalProxy(_current_user))


_SESSION_PREFIX = SESSION_COOKIE + "="


def session_cookie(header: str) -> str | None:
    """The first ``__session`` value of a Cookie header, read without parsing the
    whole header (the hot path's largest cost): ``""`` when there is none, None
    when the header holds a quoted value (then Werkzeug's parser decides)."""
    if '"' in header:
        return None
    at = header.find(_SESSION_PREFIX)
    while at != -1:
        if at == 0 or header[at - 1] in "; ":
            start = at + len(_SESSION_PREFIX)
            end = header.find(";", start)
            return header[start:] if end == -1 else header[start:end]
        at = header.find(_SESSION_PREFIX, at + 1)
    return ""


def load_auth(state: ClerkState) -> Auth:
    """Verify the session token; refresh it from ``__client`` when it is stale.

    The hot path (a valid cookie or bearer token) resolves each request proxy once
    and does dictionary lookups only: the verifier caches verified tokens together
    with their ``Auth``.
    """
    ctx_g = g._get_current_object()  # type: ignore[attr-defined]
    req = request._get_current_object()  # type: ignore[attr-defined]
    verifier = state.instance.verifier
    header = req.environ.get("HTTP_AUTHORIZATION")
    if header and header[:7].lower() == "bearer ":
        try:
            ctx_g._clerk_auth = verifier.authenticate(header[7:].strip())
        except TokenInvalid:
            ctx_g._clerk_auth = SIGNED_OUT
        return ctx_g._clerk_auth  # type: ignore[no-any-return]
    cookie = session_cookie(req.environ.get("HTTP_COOKIE", ""))
    if cookie is None:  # (a header the quick reading leaves to Werkzeug's parser)
        cookie = req.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            ctx_g._clerk_auth = verifier.authenticate(cookie)
            return ctx_g._clerk_auth  # type: ignore[no-any-return]
        except TokenInvalid:
            # Another __session may follow (a parent domain's, or a host's own left
            # from before a custom domain): the first that verifies.
            for other in req.cookies.getlist(SESSION_COOKIE)[1:]:
                try:
                    ctx_g._clerk_auth = verifier.authenticate(other)
                    return ctx_g._clerk_auth  # type: ignore[no-any-return]
                except TokenInvalid:
                    continue
    # The last one: a host-only cookie left from before a custom auth domain comes
    # first (older), and is deleted with the answer.
    cookies = req.cookies
    client_token = (cookies.getlist(CLIENT_COOKIE) or [None])[-1]
    update: tuple[str, str | None] | None = None
    ctx_g._clerk_auth = SIGNED_OUT
    if client_token and state.refreshes:
        refreshed = state.refresh(client_token)
        if refreshed is not None:
            token, switched = refreshed
            if switched:
                # The active account's session ended and the browser's next account
                # took over: new CSRF tokens, and a request that may change
                # something (sent from the old account's page) is nobody's.
                flask_session.pop("csrf_token", None)
            if not switched or req.method in {"GET", "HEAD"}:
                ctx_g._clerk_auth = verifier.authenticate(token)
            update = ("set", token)
        else:
            update = ("clear", None)
    elif cookie and state.refreshes:  # (remote mode: the issuer's handshake replaces it)
        update = ("clear", None)
    if update is not None:
        ctx_g._clerk_cookie_update = update
        after_this_request(_apply_cookie_update)
    return ctx_g._clerk_auth  # type: ignore[no-any-return]


def token_expiry(current: Auth) -> float | None:
    """When ``current``'s session token expires (unix seconds): a token reissued in
    its place expires no later (a token alone never renews itself)."""
    exp = (current.session_claims or {}).get("exp")
    return float(exp) if isinstance(exp, int | float) else None


def auth_from_claims(claims: dict[str, Any], token: str) -> Auth:
    # Read-only view of a copy: the verifier's cached claims stay out of the app's reach.
    org = decode_organization(claims)
    return Auth(
        user_id=claims["sub"], session_id=claims["sid"],
        session_claims=MappingProxyType(dict(claims)), token=token, actor=claims.get("act"),
        org_id=org.id if org else None, org_slug=org.slug if org else None,
        org_role=org.role if org else None, org_permissions=org.permissions if org else None,
        session_status=claims.get("sts") or "active",
    )


def cancel_cookie_update() -> None:
    """A view that sets or clears the session cookies itself overrides the refresh."""
    g._clerk_cookie_update = None


def _apply_cookie_update(response: Response) -> Response:
    from .extension import clear_session_cookies, set_session_cookies

    update = g.get("_clerk_cookie_update")
    if update is not None:
        action, token = update
        if action == "set" and token:
            set_session_cookies(response, token)
        else:
            clear_session_cookies(response)
    return response


def wants_html() -> bool:
    """A browser navigating (redirect to sign in) rather than an API client (401 JSON)."""
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return True
    return "text/html" in request.accept_mimetypes.values() and not request.headers.get(
        "Authorization"
    )


def unauthenticated_response() -> Response:
    state = _state()
    if wants_html():
        target = request.full_path if request.query_string else request.path
        # A pending session is signed in but has a task to do first.
        current = auth(treat_pending_as_signed_out=False)
        if current.session_status == "pending":
            return redirect(task_url(current.session_claims or {}, target),
                            303 if request.method != "GET" else 302)
        settings = state.settings
        if settings.domain or not settings.sign_in_url.startswith("/"):
            target = absolute_here(target)  # the sign-in page is on another host: come back
        if settings.remote:  # …through the issuer's handshake, which brings the session
            from .remote import via_handshake

            target = via_handshake(settings, target)  # type: ignore[arg-type]
        url = auth_host_url(settings, settings.sign_in_url + "?" + urlencode(
            {"redirect_url": target}))
        return redirect(url, 303 if request.method != "GET" else 302)
    error = AuthenticationError("authentication_invalid")
    response = jsonify({"errors": [error.to_json(state.settings.messages)]})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="flask_clerk"'
    return response


def task_url(claims: Mapping[str, Any], redirect_url: str) -> str:
    """The page of a pending session's task, and back to ``redirect_url`` after it:
    choose an organization (when one is required and the token ``claims`` have
    none), else set up a second factor (:func:`flask_clerk.core.sessions.session_task`)."""
    settings = _state().settings
    choose = (settings.organizations and settings.organization_membership == "required"
              and decode_organization(claims) is None)
    page = settings.choose_organization_url if choose else settings.setup_mfa_url
    return page + "?" + urlencode({"redirect_url": redirect_url})


P = ParamSpec("P")
R = TypeVar("R")


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Only signed-in users: pages redirect to sign-in and back, APIs get 401 JSON."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if not auth().is_signed_in:
            return unauthenticated_response()
        private_response()
        return view(*args, **kwargs)

    return wrapper


def org_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Only signed-in users with an active organization; a page without one sends
    the user to choose one (and back), an API gets 403 JSON."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        current = auth()
        if not current.is_signed_in:
            return unauthenticated_response()
        if current.org_id is None:
            if wants_html():
                target = request.full_path if request.query_string else request.path
                url = _state().settings.choose_organization_url + "?" + urlencode(
                    {"redirect_url": target})
                return redirect(url, 303 if request.method != "GET" else 302)
            return forbidden_response("organization_required")
        private_response()
        return view(*args, **kwargs)

    return wrapper


def org_role_required(role: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """``@org_role_required("org:admin")``: that role in the active organization."""
    return _requires(lambda current: current.has(role=role))


def permission_required(permission: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """``@permission_required("org:projects:delete")``, read from the session token
    (no query). System permissions (``org:sys_*``) are never in the token."""
    return _requires(lambda current: current.has(permission=permission))


def _requires(
    check: Callable[[Auth], bool],
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            current = auth()
            if not current.is_signed_in:
                return unauthenticated_response()
            private_response()
            if not check(current):
                return forbidden_response()
            return view(*args, **kwargs)

        return wrapper

    return decorate


@overload
def reverification_required(view: Callable[P, R], /) -> Callable[P, R | Response]: ...


@overload
def reverification_required(
    *, max_age_minutes: int = 10, level: str = "second_factor", preset: str | None = None,
    allow_pending: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]: ...


def reverification_required(
    view: Callable[P, R] | None = None, /, *, max_age_minutes: int = 10,
    level: str = "second_factor", preset: str | None = None, allow_pending: bool = False,
) -> Any:
    """Ask the user to confirm it's them again before a sensitive action.

    ``@reverification_required`` (10 minutes, ``second_factor``),
    ``@reverification_required(max_age_minutes=60, level="first_factor")`` or
    ``@reverification_required(preset="strict_mfa")`` (Clerk's presets: strict_mfa,
    strict, moderate, lax). The token's ``fva`` claim decides, with no query. A page
    sends the user to verify and back; an API gets 403 with Clerk's
    ``session_reverification_required`` error and the ``reverification`` metadata
    its clients read. ``allow_pending`` lets a session with a task still to do
    through (the account's own pages do).
    """
    from .core.reverification import Requirement

    requirement = (Requirement.preset(preset) if preset
                   else Requirement(max_age_minutes, level))

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            current = auth(treat_pending_as_signed_out=not allow_pending)
            if not current.is_signed_in:
                return unauthenticated_response()
            private_response()
            if not requirement.satisfied_by((current.session_claims or {}).get("fva")):
                return reverification_response(requirement)
            return view(*args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def reverification_response(requirement: Requirement) -> Response:
    state = _state()
    if wants_html():
        url = state.settings.reverify_url + "?" + urlencode({
            "redirect_url": _page_before(), "level": requirement.level,
            "max_age": requirement.max_age_minutes})
        return redirect(url, 303 if request.method != "GET" else 302)
    error = ClerkError("session_reverification_required", status=403)
    response = jsonify({
        "errors": [error.to_json(state.settings.messages)],
        "clerk_error": {"type": "forbidden", "reason": "reverification-error",
                        "metadata": {"reverification": requirement.to_json()}},
    })
    response.status_code = 403
    return response


def _page_before() -> str:
    """Where to come back to after verifying: this page, or for a form post the page
    the form was on (a component's signed ``return_to``, else the referrer)."""
    from .redirects import safe_redirect_url

    if request.method == "GET":
        return request.full_path if request.query_string else request.path
    settings = _state().settings
    if "return_to" in request.form:
        from .web.forms import return_to

        return return_to(settings.after_sign_in_url)
    referrer = request.referrer or ""
    same_origin = referrer.startswith(request.host_url)
    return safe_redirect_url(referrer[len(request.host_url) - 1:] if same_origin else None,
                             fallback=settings.after_sign_in_url)


def forbidden_response(code: str = "authorization_invalid") -> Response:
    """403: a page with a way back for browsers, Clerk's error JSON for APIs."""
    state = _state()
    error = ClerkError(code, status=403)
    if wants_html():
        response = make_response(render_template(
            "clerk/card_page.html", component="no_access", title="No access",
            message=error.message(state.settings.messages),
            application_name=state.settings.application_name))
    else:
        response = jsonify({"errors": [error.to_json(state.settings.messages)]})
    response.status_code = 403
    return response


def private_response() -> None:
    """Keep a signed-in user's page out of shared and back-forward caches."""
    after_this_request(_no_store)


def _no_store(response: Response) -> Response:
    headers = response.headers  # plain header access: the parsed properties cost more
    if "Cache-Control" not in headers:
        headers["Cache-Control"] = "private, no-store"
    vary = headers.get("Vary")
    if not vary:
        headers["Vary"] = "Cookie"
    elif "cookie" not in vary.lower():
        headers["Vary"] = f"{vary}, Cookie"
    return response


def compile_route_patterns(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """``["/dashboard(.*)", "/api/(.*)"]`` -> one regex matched against the whole path."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns))
