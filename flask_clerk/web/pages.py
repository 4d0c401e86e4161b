"""Default account pages (``/sign-in``, ``/sign-up``, ``/user``), JWKS and the dev mailbox."""

from __future__ import annotations

import ipaddress
import re

from flask import Blueprint, abort, jsonify, make_response, redirect, render_template, request
from sqlalchemy import select
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from ..core.keys import public_jwks
from ..core.models import OrganizationMembership
from ..extension import db_session, state
from ..redirects import safe_redirect_url
from ..request import Auth, auth, private_response, unauthenticated_response
from ..settings import Settings
from ..tokens import jwks

public = Blueprint("clerk_public", __name__)


def no_framing(response: Response) -> Response:
    """Account pages and form answers are never shown inside another site's frame."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    # Flow tokens ride in some URLs (an invitation's ticket): never send them on.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _account_pages(settings: Settings) -> dict[str, str]:
    """Path -> component of each default account page."""
    pages = {settings.sign_in_url: "sign_in", settings.sign_up_url: "sign_up",
             settings.waitlist_url: "waitlist",
             settings.user_profile_url: "user_profile",
             settings.setup_mfa_url: "task_setup_mfa", settings.reverify_url: "user_verification"}
    if settings.organizations:
        pages.update({settings.organization_profile_url: "organization_profile",
                      settings.create_organization_url: "create_organization",
                      settings.choose_organization_url: "organization_list"})
    return pages


def account_page_converter(settings: Settings) -> type[BaseConverter]:
    """A converter matching exactly the configured account page paths.

    A rule with a converter ranks below any static rule, so an app that defines
    its own ``/sign-in`` view keeps it, whenever it registers it.
    """
    paths = list(_account_pages(settings))
    pattern = "|".join(re.escape(p.strip("/")) for p in paths if p.startswith("/"))

    class AccountPage(BaseConverter):
        regex = f"(?:{pattern})"
        part_isolating = "/" not in pattern

    return AccountPage


def account_page(page: str) -> Response:
    settings = state().settings
    component = _account_pages(settings)["/" + page]
    if component in {"sign_in", "sign_up", "waitlist"}:
        if auth().is_signed_in and not settings.multi_session:  # else: add an account
            destination = settings.after_sign_in_url if component == "sign_in" else (
                settings.after_sign_up_url)
            return redirect(safe_redirect_url(
                request.args.get("redirect_url"), fallback=destination,
                allowed_origins=settings.allowed_redirect_origins))
        return account_page_response(component)
    # The rest need a session; a pending session's tasks (choose or create an
    # organization, set up a second factor) are what it may do.
    current = auth(treat_pending_as_signed_out=component in {
        "user_profile", "organization_profile"})
    if not current.is_signed_in:
        return unauthenticated_response()
    if component == "organization_profile" and not _member_of_active(current):
        return redirect(settings.choose_organization_url)
    return account_page_response(component)


def _member_of_active(current: Auth) -> bool:
    """Still a member of the token's organization (removed ones keep the claim for
    up to a minute)?"""
    if current.org_id is None or current.user_id is None:
        return False
    return db_session().scalar(select(OrganizationMembership.id).where(
        OrganizationMembership.organization_id == current.org_id,
        OrganizationMembership.user_id == current.user_id)) is not None


def account_page_response(component: str) -> Response:
    """A default account page: one component on a quiet background."""
    private_response()
    response = make_response(render_template(
        "clerk/account_page.html", component=component,
        application_name=state().settings.application_name))
    return no_framing(response)


@public.get("/.well-known/jwks.json")
@public.get("/v1/jwks")
def jwks_endpoint() -> Response:
    settings = state().settings
    keys = public_jwks(db_session(), token_lifetime=settings.session_token_lifetime,
                       skew=settings.clock_skew)
    response = jsonify(jwks(keys))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@public.get("/__clerk/dev/mail")
def dev_mailbox() -> Response | str:
    """Development instances only, and only to this machine: the mails sent."""
    mailbox = state().instance.dev_mailbox
    if mailbox is None or not _from_this_machine():
        abort(404)
    mails = mailbox.mails(request.args.get("to"))
    if request.args.get("format") == "json" or not _wants_html():
        return jsonify([
            {"to": m.to, "subject": m.subject, "text": m.text, "sent_at": m.sent_at.isoformat()}
            for m in mails
        ])
    return render_template("clerk/dev_mail.html", mails=mails)


def _wants_html() -> bool:
    return "text/html" in request.accept_mimetypes.values()


_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip")


def _from_this_machine() -> bool:
    """A browser on this machine, talking to this server directly: loopback peer,
    loopback Host (no DNS rebinding) and no proxy in between."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return (
        loopback
        and host.lower() in _LOOPBACK_HOSTS
        and not any(name in request.headers for name in _PROXY_HEADERS)
    )
