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
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast
from urllib.parse import urlencode

from flask import after_this_request, current_app, g, jsonify, redirect, request
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from .errors import AuthenticationError
from .tokens import TokenInvalid, decode_organization

if TYPE_CHECKING:
    from .extension import ClerkState
    from .user import ClerkUser

SESSION_COOKIE = "__session"
CLIENT_COOKIE = "__client"


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


def _state() -> ClerkState:
    return cast("ClerkState", current_app.extensions["clerk"])


def auth() -> Auth:
    """The current request's :class:`Auth` (signed out when nobody is)."""
    try:
        return cast(Auth, g._clerk_auth)
    except AttributeError:
        # Outside ClerkAuth's before_request (an error handler, say): load now.
        load_auth(_state())
        return cast(Auth, g._clerk_auth)


def _current_user() -> ClerkUser | None:
    if "_clerk_user" not in g:
        user_id = auth().user_id
        g._clerk_user = _state().load_user(user_id) if user_id else None
    return cast("ClerkUser | None", g._clerk_user)


current_user: ClerkUser | None = cast("ClerkUser | None", LocalProxy(_current_user))


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
    cookies = req.cookies
    cookie = cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            ctx_g._clerk_auth = verifier.authenticate(cookie)
            return ctx_g._clerk_auth  # type: ignore[no-any-return]
        except TokenInvalid:
            pass
    client_token = cookies.get(CLIENT_COOKIE)
    update: tuple[str, str | None] | None = None
    ctx_g._clerk_auth = SIGNED_OUT
    if client_token:
        token = state.refresh(client_token)
        if token is not None:
            ctx_g._clerk_auth = verifier.authenticate(token)
            update = ("set", token)
        else:
            update = ("clear", None)
    elif cookie:
        update = ("clear", None)
    if update is not None:
        ctx_g._clerk_cookie_update = update
        after_this_request(_apply_cookie_update)
    return ctx_g._clerk_auth  # type: ignore[no-any-return]


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
        url = state.settings.sign_in_url + "?" + urlencode({"redirect_url": target})
        return redirect(url, 303 if request.method != "GET" else 302)
    error = AuthenticationError("authentication_invalid")
    response = jsonify({"errors": [error.to_json(state.settings.messages)]})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="flask_clerk"'
    return response


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


def private_response() -> None:
    """Keep a signed-in user's page out of shared and back-forward caches."""
    after_this_request(_no_store)


def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "private, no-store")
    response.vary.add("Cookie")
    return response


def compile_route_patterns(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """``["/dashboard(.*)", "/api/(.*)"]`` -> one regex matched against the whole path."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns))
