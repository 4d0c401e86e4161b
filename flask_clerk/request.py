"""The SDK half on each request: who is signed in, and who may pass.

Before every request the session token (``Authorization: Bearer`` or the
``__session`` cookie) is verified against the cached public keys, with no
database access. Only when the token is missing or expired and the browser holds
a ``__client`` cookie does one query refresh it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast
from urllib.parse import urlencode

from flask import current_app, g, jsonify, redirect, request
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from .errors import AuthenticationError
from .tokens import TokenInvalid

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
    session_claims: dict[str, Any] | None = None
    token: str | None = field(default=None, repr=False)
    org_id: str | None = None
    org_role: str | None = None
    org_slug: str | None = None
    org_permissions: tuple[str, ...] | None = None
    actor: dict[str, Any] | None = None

    @property
    def is_signed_in(self) -> bool:
        return self.user_id is not None

    def has(self, *, role: str | None = None, permission: str | None = None) -> bool:
        """Role/permission checks; they fail closed without an active organization."""
        if not self.is_signed_in or self.org_id is None:
            return False
        if role is not None and self.org_role != _org_key(role):
            return False
        return not (permission is not None and _org_key(permission) not in (
            self.org_permissions or ()
        ))

    def get_token(self) -> str | None:
        """The session token, e.g. to call another service as this user."""
        return self.token


def _org_key(key: str) -> str:
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


def load_auth(state: ClerkState) -> None:
    """Verify the session token; refresh it from ``__client`` when it is stale."""
    header = request.headers.get("Authorization")
    if header and header[:7].lower() == "bearer ":
        token = header[7:].strip()
        try:
            g._clerk_auth = _auth_from(state.instance.verifier.verify(token), token)
        except TokenInvalid:
            g._clerk_auth = SIGNED_OUT
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            g._clerk_auth = _auth_from(state.instance.verifier.verify(cookie), cookie)
            return
        except TokenInvalid:
            pass
    client_token = request.cookies.get(CLIENT_COOKIE)
    if client_token:
        refreshed = state.refresh(client_token)
        if refreshed is not None:
            claims, token = refreshed
            g._clerk_auth = _auth_from(claims, token)
            g._clerk_set_session = token
            return
        g._clerk_clear_cookies = True
    elif cookie:
        g._clerk_clear_cookies = True
    g._clerk_auth = SIGNED_OUT


def _auth_from(claims: dict[str, Any], token: str) -> Auth:
    return Auth(user_id=claims["sub"], session_id=claims["sid"], session_claims=claims,
                token=token, actor=claims.get("act"))


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
        return view(*args, **kwargs)

    return wrapper


def compile_route_patterns(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """``["/dashboard(.*)", "/api/(.*)"]`` -> one regex matched against the whole path."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns))
