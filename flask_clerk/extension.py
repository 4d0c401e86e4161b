"""``ClerkAuth``: reads the settings once and wires the engine into a Flask app."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, request
from sqlalchemy.orm import Session as DbSession
from werkzeug.wrappers import Response

from .components import Components
from .components.appearance import Appearance
from .core import sessions
from .core.instance import Instance, RequestInfo
from .core.models import User
from .core.serializers import user_json
from .errors import ClerkConfigError
from .request import (
    CLIENT_COOKIE,
    IMPERSONATOR_COOKIE,
    SESSION_COOKIE,
    auth,
    auth_from_claims,
    compile_route_patterns,
    load_auth,
    private_response,
    unauthenticated_response,
)
from .settings import DEFAULTS, Settings, apply_defaults
from .tokens import TokenInvalid
from .user import ClerkUser

# ClerkAuth(app, protect=[...], appearance={...}): keyword -> config key.
_OPTION_KEYS = {"protect": "CLERK_PROTECTED_ROUTES"}


@dataclass
class ClerkState:
    """Per-app state in ``app.extensions["clerk"]``."""

    instance: Instance
    appearance: Appearance
    components: Components
    protected: re.Pattern[str] | None
    webhook_worker: Any = None  # a WebhookWorker thread (development), else None
    oauth_clients: Any = None  # web.oauth.OAuthClients, made at the first use

    @property
    def settings(self) -> Settings:
        """The settings in force (the configuration, and the dashboard's changes)."""
        return self.instance.settings

    def refresh(self, client_token: str) -> str | None:
        """A fresh session token for the browser's ``__client``, or None if it has none."""
        with self.instance.store.session() as db:
            result = sessions.refresh_session(self.instance, db, client_token, request_info())
        if result is None:
            return None
        token = result[1]
        try:
            self.instance.verifier.verify(token)
        except TokenInvalid:  # e.g. this origin is not among CLERK_AUTHORIZED_PARTIES
            return None
        return token

    def load_user(self, user_id: str) -> ClerkUser | None:
        user = db_session().get(User, user_id)
        return ClerkUser(user_json(user)) if user is not None else None


def request_info() -> RequestInfo:
    return RequestInfo(
        ip_address=request.remote_addr,
        user_agent=request.user_agent.string or None,
        origin=f"{request.scheme}://{request.host}",
    )


def db_session() -> DbSession:
    """The identity store session of the current request (closed at teardown)."""
    if "_clerk_db" not in g:
        g._clerk_db = state().instance.store.session()
    return g._clerk_db  # type: ignore[no-any-return]


def state() -> ClerkState:
    from flask import current_app

    return current_app.extensions["clerk"]  # type: ignore[no-any-return]


class ClerkAuth:
    """Authentication and user management for a Flask app.

    ``ClerkAuth(app)`` or, in a factory, ``clerk = ClerkAuth(); clerk.init_app(app)``.
    Keyword options override ``CLERK_*`` settings: ``protect=["/dashboard(.*)"]`` is
    ``CLERK_PROTECTED_ROUTES``, ``appearance={...}`` is ``CLERK_APPEARANCE``, and any
    other ``name=value`` is ``CLERK_<NAME>``.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **options: Any) -> None:
        """Register the extension on ``app``.

        Settings (all ``CLERK_*``, read once here; see ``flask_clerk.settings.DEFAULTS``):
        ``PUBLISHABLE_KEY``, ``SECRET_KEY``, ``DATABASE_URL``, ``APPLICATION_NAME``,
        ``SIGN_IN_URL``, ``SIGN_UP_URL``, ``USER_PROFILE_URL``, ``AFTER_SIGN_IN_URL``,
        ``AFTER_SIGN_UP_URL``, ``AFTER_SIGN_OUT_URL``, ``ACCOUNT_PAGES``,
        ``ALLOWED_REDIRECT_ORIGINS``, ``PROTECTED_ROUTES``, ``AUTHORIZED_PARTIES``,
        ``SESSION_TOKEN_LIFETIME``, ``SESSION_MAX_LIFETIME``, ``SESSION_INACTIVITY_TIMEOUT``,
        ``CLIENT_LIFETIME``, ``CLOCK_SKEW``, ``TOKEN_CACHE_SIZE``, ``COOKIE_SECURE``,
        ``SIGN_UP_NAME``, ``PASSWORD_MIN_LENGTH``, ``PASSWORD_MAX_LENGTH``,
        ``PASSWORD_HASH_TIME_COST``, ``PASSWORD_HASH_MEMORY_COST``,
        ``PASSWORD_HASH_PARALLELISM``, ``CODE_LIFETIME``, ``CODE_ATTEMPTS``,
        ``CODE_RESEND_INTERVAL``, ``LOCKOUT_ATTEMPTS``, ``LOCKOUT_DURATION``,
        ``RATELIMIT_ENABLED``, ``RATE_LIMITS``, ``REDIS_URL``, ``SMTP_URL``,
        ``MAIL_SENDER``, ``DEV_MAILBOX``, ``APPEARANCE``, ``MESSAGES``.
        """
        if "clerk" in app.extensions:
            raise RuntimeError("ClerkAuth is already registered on this app.")
        for name, value in {**self._options, **options}.items():
            key = _OPTION_KEYS.get(name, f"CLERK_{name.upper()}")
            if key not in DEFAULTS:
                names = [k[6:].lower() for k in DEFAULTS] + list(_OPTION_KEYS)
                close = difflib.get_close_matches(name, names)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(f"ClerkAuth got an unknown option {name!r}.{hint}")
            app.config[key] = value
        apply_defaults(app.config)
        if app.config.get("SESSION_COOKIE_SAMESITE") is None:
            # Flask's session holds the CSRF secret: keep it same-site like our cookies.
            app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        if not app.secret_key:
            raise ClerkConfigError(
                "flask_clerk needs the app's SECRET_KEY (it signs CSRF tokens and form state). "
                "`flask clerk init` writes FLASK_SECRET_KEY to .env; load it with "
                "app.config.from_prefixed_env() or set app.secret_key."
            )
        settings = Settings.from_config(
            app.config, instance_path=app.instance_path, debug=app.debug or app.testing,
            debug_server=app.debug and not app.testing,
        )
        if settings.development and not (app.debug or app.testing):
            app.logger.warning(
                "flask_clerk runs a development instance (sk_test_ keys) without debug: "
                "fine on a laptop, not in production. Create live keys for production."
            )
        appearance = Appearance.parse(app.config["CLERK_APPEARANCE"])
        instance = Instance.create(settings)
        clerk_state = ClerkState(
            instance=instance,
            appearance=appearance,
            components=Components(instance, appearance),
            protected=compile_route_patterns(settings.protected_routes),
        )
        app.extensions["clerk"] = clerk_state
        if settings.webhooks_worker == "thread":
            from .core.webhook_worker import WebhookWorker

            clerk_state.webhook_worker = WebhookWorker(instance)
            clerk_state.webhook_worker.start()
        instance.verifier.build = auth_from_claims
        app.before_request(_before_request_hook(clerk_state))
        app.teardown_appcontext(_close_db)
        app.jinja_env.globals["clerk"] = clerk_state.components
        app.jinja_env.globals.setdefault("auth", auth)  # {{ auth().has(role="org:admin") }}

        from .web import register_blueprints

        register_blueprints(app, settings)


def _before_request_hook(clerk_state: ClerkState) -> Callable[[], Response | None]:
    """Who is signed in, for every request; then the ``protect`` patterns."""
    protected = clerk_state.protected

    def before_request() -> Response | None:
        current = load_auth(clerk_state)
        if protected is not None and protected.fullmatch(request.path):
            # A pending session (an organization still to choose) is not signed in
            # yet; unauthenticated_response sends it to choose one.
            if current.user_id is None or current.session_status == "pending":
                return unauthenticated_response()
            private_response()
        return None

    return before_request


def set_session_cookies(response: Response, token: str, client_token: str | None = None) -> None:
    settings = state().settings
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_token_lifetime,
                        httponly=True, secure=settings.cookie_secure, samesite="Lax")
    if client_token is not None:
        response.set_cookie(CLIENT_COOKIE, client_token, max_age=settings.client_lifetime,
                            httponly=True, secure=settings.cookie_secure, samesite="Lax")


def clear_session_cookies(response: Response) -> None:
    settings = state().settings
    for name in (SESSION_COOKIE, CLIENT_COOKIE, IMPERSONATOR_COOKIE):
        response.delete_cookie(name, httponly=True, secure=settings.cookie_secure,
                               samesite="Lax")


def _close_db(_exc: BaseException | None) -> None:
    db = g.pop("_clerk_db", None)
    if db is not None:
        db.close()
