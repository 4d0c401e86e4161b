"""A custom auth domain (``CLERK_DOMAIN = "auth.example.com"``).

The account pages (the paths of ``CLERK_SIGN_IN_URL``, ``CLERK_USER_PROFILE_URL``…,
whichever view serves them) and the dashboard live on the auth host: asked for on
another host (``app.example.com``), a GET is redirected there, carrying an
absolute ``redirect_url`` back to where the browser came from; any other method
gets a 421. The session cookies belong to the parent domain (``example.com``), so
both hosts see the same session, and the ``/__clerk`` form endpoints answer the
components on either host (each host keeps its own Flask session, so its own CSRF
tokens). Flows in progress keep their cookies on the host they began on. Only the
auth host and ``CLERK_ALLOWED_REDIRECT_ORIGINS`` are redirect targets.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from flask import redirect, request
from werkzeug.wrappers import Response

from .redirects import safe_redirect_url
from .settings import Settings


def _hostname(host: str) -> str:
    return (urlsplit("//" + host).hostname or "").lower()


def on_auth_host(settings: Settings) -> bool:
    """Whether this request came to the auth host (always, without a custom domain)."""
    return not settings.domain or _hostname(request.host) == _hostname(settings.domain)


def auth_host_url(settings: Settings, path: str) -> str:
    """``path`` (with its query) on the auth host: absolute when this request is on
    another host (https unless development), as it is."""
    if on_auth_host(settings) or not path.startswith("/"):
        return path
    scheme = "https" if settings.cookie_secure else request.scheme
    return f"{scheme}://{settings.domain}{path}"


def absolute_here(path: str) -> str:
    """A path of this host as an absolute URL: the way back from the auth host."""
    return request.host_url.rstrip("/") + path if path.startswith("/") else path


def _lives_on_auth_host(settings: Settings, path: str) -> bool:
    pages = {settings.sign_in_url, settings.sign_up_url, settings.user_profile_url,
             settings.setup_mfa_url, settings.reverify_url, settings.waitlist_url}
    if settings.organizations:
        pages |= {settings.organization_profile_url, settings.create_organization_url,
                  settings.choose_organization_url}
    dashboard = settings.dashboard_url.rstrip("/")
    pages = {urlsplit(page).path for page in pages}  # (an absolute one: its path)
    return path in pages or path == dashboard or path.startswith(dashboard + "/")


def host_guard(settings_of: Callable[[], Settings]) -> Callable[[], Response | None]:
    """The ``before_request`` hook of an app with a custom auth domain."""

    def guard() -> Response | None:
        settings = settings_of()
        if on_auth_host(settings) or not _lives_on_auth_host(settings, request.path):
            return None
        if request.method not in {"GET", "HEAD"}:
            return Response(f"This page is served on {settings.domain}.", status=421,
                            mimetype="text/plain")
        args = request.args.to_dict(flat=False)
        back = safe_redirect_url(request.args.get("redirect_url"), fallback="",
                                 allowed_origins=settings.allowed_redirect_origins)
        default_back = {settings.sign_in_url: settings.after_sign_in_url,
                        settings.sign_up_url: settings.after_sign_up_url}.get(request.path)
        if back or default_back:
            args["redirect_url"] = [absolute_here(back or default_back or "")]
        query = urlencode(args, doseq=True)
        return redirect(auth_host_url(settings, request.path + (f"?{query}" if query else "")))

    return guard
