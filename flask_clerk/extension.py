"""``ClerkAuth``: reads the settings once and wires the engine into a Flask app."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

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
    refreshes: ClassVar[bool] = True  # an expired __session is renewed from __client here

    @property
    def settings(self) -> Settings:
        """The settings in force (the configuration, and the dashboard's changes)."""
        return self.instance.settings

    def refresh(self, client_token: str) -> tuple[str, bool] | None:
        """A fresh session token for the browser's ``__client`` (and whether it is
        another account's than before: multi-session), or None if it has none."""
        with self.instance.store.session() as db:
            result = sessions.refresh_session(self.instance, db, client_token, request_info())
        if result is None:
            return None
        try:
            self.instance.verifier.verify(result.token)
        except TokenInvalid:  # e.g. this origin is not among CLERK_AUTHORIZED_PARTIES
            return None
        return result.token, result.switched

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

        Settings: every ``CLERK_*`` key of ``flask_clerk.settings.DEFAULTS`` (each with a
        comment there), from the app's config or the environment, read here; those of
        ``flask_clerk.settings.EDITABLE`` (sign-up mode, allow and block lists, session
        lifetimes, multi-session, lockout…) can then be changed from the dashboard.
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
        if app.config["CLERK_MODE"] not in {"embedded", "remote"}:
            raise ClerkConfigError('CLERK_MODE must be "embedded" or "remote".')
        if app.config.get("SESSION_COOKIE_SAMESITE") is None:
            # Flask's session holds the CSRF secret: keep it same-site like our cookies.
            app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        if not app.secret_key:
            raise ClerkConfigError(
                "flask_clerk needs the app's SECRET_KEY (it signs CSRF tokens and form state). "
                "`flask clerk init` writes FLASK_SECRET_KEY to .env; load it with "
                "app.config.from_prefixed_env() or set app.secret_key."
            )
        if app.config["CLERK_MODE"] == "remote":
            _init_remote(app)
            return
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
        if settings.domain:
            _use_auth_domain(app, clerk_state)
        app.before_request(_before_request_hook(clerk_state))
        app.teardown_appcontext(_close_db)
        app.jinja_env.globals["clerk"] = clerk_state.components
        app.jinja_env.globals.setdefault("auth", auth)  # {{ auth().has(role="org:admin") }}

        from .web import register_blueprints

        register_blueprints(app, settings)


def _init_remote(app: Flask) -> None:
    """Remote mode: the SDK half alone (see :mod:`flask_clerk.remote`)."""
    from .components.remote import RemoteComponents
    from .remote import RemoteInstance, RemoteSettings, RemoteState, RemoteUsers, handshake_hooks
    from .web.remote import register_remote_blueprints

    settings = RemoteSettings.from_config(app.config, debug=app.debug or app.testing)
    if not settings.secret_key:
        app.logger.warning(
            "flask_clerk (remote mode): without CLERK_SECRET_KEY, current_user, the user "
            "button and organization switcher have nothing to read, and signing out "
            "cannot end the session at the issuer.")
    if not settings.authorized_parties and not (app.debug or app.testing):
        app.logger.warning(
            "flask_clerk (remote mode): CLERK_AUTHORIZED_PARTIES is empty, so a session "
            "token the issuer minted for another of its apps is good here too. Set it to "
            "this app's origin(s), e.g. https://app.example.com.")
    instance = RemoteInstance(settings)
    instance.verifier.build = auth_from_claims
    users = RemoteUsers(instance.api)
    appearance = Appearance.parse(app.config["CLERK_APPEARANCE"])
    clerk_state = RemoteState(
        instance=instance, users=users,
        components=RemoteComponents(instance, appearance, users),
        protected=compile_route_patterns(settings.protected_routes))
    app.extensions["clerk"] = clerk_state
    app.before_request(_before_request_hook(
        clerk_state, handshake_hooks(clerk_state)))  # type: ignore[arg-type]
    app.jinja_env.globals["clerk"] = clerk_state.components
    app.jinja_env.globals.setdefault("auth", auth)
    register_remote_blueprints(app)


def _use_auth_domain(app: Flask, clerk_state: ClerkState) -> None:
    """A custom auth domain: its pages are redirected to it. (Flask's own session
    cookie, with the CSRF secret, stays each host's: every form posts to its own.)"""
    from .auth_domain import host_guard

    settings = clerk_state.settings
    own = {o for o in settings.allowed_redirect_origins if o.split("://", 1)[1] == settings.domain}
    if not set(settings.allowed_redirect_origins) - own:
        raise ClerkConfigError(
            "CLERK_DOMAIN needs the app's own origin in CLERK_ALLOWED_REDIRECT_ORIGINS "
            "(e.g. https://app.example.com), to send people back to it after signing in.")
    app.before_request(host_guard(lambda: clerk_state.settings))


def _before_request_hook(clerk_state: ClerkState, handshake: Any = None,
                         ) -> Callable[[], Response | None]:
    """Who is signed in, for every request; then the ``protect`` patterns. In remote
    mode, ``handshake`` (``(apply, needed)``, see :mod:`flask_clerk.remote`) first
    applies an issuer's answer, and asks for one for a browser with no valid token."""
    protected = clerk_state.protected
    apply, needed = handshake or (None, None)
    # Where an answer may be: the URL; and with Clerk's cloud, a cookie it set on the site.
    if getattr(clerk_state.settings, "clerk_cloud", False):
        def carries_answer(environ: dict[str, Any]) -> bool:
            return "__clerk_handshake" in environ.get("QUERY_STRING", "") or (
                "__clerk_handshake" in environ.get("HTTP_COOKIE", ""))
    else:
        def carries_answer(environ: dict[str, Any]) -> bool:
            return "__clerk_handshake" in environ.get("QUERY_STRING", "")

    def before_request() -> Response | None:
        if apply is not None and carries_answer(request.environ):
            applied = apply()  # (None: the text was there, not the parameter)
            if applied is not None:
                return applied  # type: ignore[no-any-return]
        current = load_auth(clerk_state)
        if needed is not None and current.user_id is None:
            asked = needed()
            if asked is not None:
                return asked  # type: ignore[no-any-return]
        if protected is not None and protected.fullmatch(request.path):
            # A pending session (an organization still to choose) is not signed in
            # yet; unauthenticated_response sends it to choose one.
            if current.user_id is None or current.session_status == "pending":
                return unauthenticated_response()
            private_response()
        return None

    return before_request


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None,
               path: str = "/",
               shared: bool = False) -> None:
    """Set one of the engine's cookies: HttpOnly, SameSite=Lax, Secure outside
    development. ``shared`` ones (the session's) belong to the parent domain with a
    custom auth domain, so the app's host and the auth host see the same session;
    the others (a flow in progress) stay with the host that set them."""
    settings = state().settings
    response.set_cookie(name, value, max_age=max_age, path=path,
                        domain=settings.cookie_domain if shared else None, httponly=True,
                        secure=settings.cookie_secure, samesite="Lax")


def delete_cookie(response: Response, name: str, *, path: str = "/",
                  shared: bool = False) -> None:
    settings = state().settings
    response.delete_cookie(name, path=path, domain=settings.cookie_domain if shared else None,
                           httponly=True, secure=settings.cookie_secure, samesite="Lax")


def set_session_cookies(response: Response, token: str, client_token: str | None = None) -> None:
    settings = state().settings
    _forget_host_only(response, SESSION_COOKIE, CLIENT_COOKIE)
    set_cookie(response, SESSION_COOKIE, token, max_age=settings.session_token_lifetime,
               shared=True)
    if client_token is not None:
        set_cookie(response, CLIENT_COOKIE, client_token, max_age=settings.client_lifetime,
                   shared=True)


def clear_session_cookies(response: Response) -> None:
    _forget_host_only(response, SESSION_COOKIE, CLIENT_COOKIE, IMPERSONATOR_COOKIE)
    for name in (SESSION_COOKIE, CLIENT_COOKIE, IMPERSONATOR_COOKIE):
        delete_cookie(response, name, shared=True)


def _forget_host_only(response: Response, *names: str) -> None:
    """With a custom auth domain, delete this host's own copies of the session
    cookies, left from before the domain was set: the browser would send them first."""
    if state().settings.cookie_domain:
        for name in names:
            delete_cookie(response, name)


def _close_db(_exc: BaseException | None) -> None:
    db = g.pop("_clerk_db", None)
    if db is not None:
        db.close()
