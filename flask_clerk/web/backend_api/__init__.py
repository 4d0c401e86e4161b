"""The Backend API under ``/v1``: Clerk's endpoints and JSON shapes, for servers.

Authenticated with ``Authorization: Bearer <CLERK_SECRET_KEY>`` (compared in
constant time), rate-limited per key (Clerk's production limit by default), with
Clerk's error envelope for every failure and ``Idempotency-Key`` replays for
POSTs. The views are thin: each reads its parameters strictly
(:mod:`.params`), calls one flow of the core, and returns a serializer's JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from typing import Any

from flask import Blueprint, Flask, g, jsonify, request
from werkzeug.wrappers import Response

from ...core import api_keys
from ...errors import AuthenticationError, ClerkError, RateLimited
from ...extension import state
from ...ids import new_id
from . import idempotency

bp = Blueprint("clerk_backend_api", __name__, url_prefix="/v1")

# Paths under /v1 that answer without the secret key (public keys only).
PUBLIC = {"/v1/jwks", "/v1/openapi.json"}
# POSTs that must be answered afresh: a password check replayed for a day would
# outlive a password change, and a backup code is good for one "verified" only.
# An actor token's secret is shown once: never kept in an idempotency record.
NOT_REPLAYED = {"clerk_backend_api.verify_password", "clerk_backend_api.verify_totp",
                "clerk_backend_api.create_actor_token"}


def error_response(error: ClerkError) -> Response:
    body = {"errors": [error.to_json(state().settings.messages)],
            "clerk_trace_id": getattr(g, "clerk_trace_id", None) or new_id("trace")}
    response = jsonify(body)
    response.status_code = error.status
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, AuthenticationError):
        response.headers["WWW-Authenticate"] = 'Bearer realm="flask_clerk backend api"'
    return response


def json_response(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@cache
def _bucket(secret_key: str) -> str:
    """The rate limit's and idempotency records' key: one per secret key (a hash, so
    that the key itself stays out of Redis)."""
    return hashlib.sha256(secret_key.encode()).hexdigest()[:16]


@bp.before_request
def authenticate() -> Response | None:
    g.clerk_trace_id = new_id("trace")
    if request.path in PUBLIC:
        return None
    if "\x00" in request.path:  # no id holds one; the database could not even look
        return error_response(ClerkError("resource_not_found", status=404))
    settings = state().settings
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not api_keys.accepts(state().instance, key.strip()):
        return error_response(AuthenticationError("authentication_invalid"))
    bucket = _bucket(settings.secret_key)
    state().instance.rate_limiter.hit("backend_api", bucket)
    if (request.method == "POST" and request.headers.get("Idempotency-Key")
            and request.endpoint not in NOT_REPLAYED):
        return idempotency.replay_or_claim(bucket)
    return None


@bp.after_request
def remember(response: Response) -> Response:
    idempotency.store(response)
    return response


@bp.teardown_request
def forget_claim(_error: BaseException | None) -> None:
    idempotency.release()


@bp.errorhandler(ClerkError)
def clerk_error(error: ClerkError) -> Response:
    return error_response(error)


@bp.route("/<path:unknown>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
def not_found(unknown: str) -> Response:
    """Any other path or method under /v1: Clerk's 404, not the application's page."""
    return error_response(ClerkError("resource_not_found", status=404))


def register(app: Flask) -> None:
    from . import openapi, organizations, sessions, users, waitlist  # noqa: F401 - routes

    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _csrf_exemption(app))


def _csrf_exemption(app: Flask) -> Callable[[], None]:
    """A server authenticates with the secret key, not a browser cookie: Flask-WTF's
    CSRFProtect, whenever the application set it up (before its first request, as
    Flask requires), must not ask it for a token. Checked once, at the first request."""
    pending = True

    def exempt() -> None:
        nonlocal pending
        if pending:
            pending = False
            csrf = app.extensions.get("csrf")
            if csrf is not None:
                csrf.exempt(bp)

    return exempt
