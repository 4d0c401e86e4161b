"""Social sign-in over HTTP, on Authlib's Flask client: the provider buttons, the
callback, and the profile's connected accounts. The rules are in ``core/oauth.py``.

Every redirect carries ``state``, PKCE (S256) and, for OpenID Connect, a
``nonce``; the ID token is verified against the provider's keys, issuer, our
client id and that nonce. The redirect URI is exact: the frontend API's
``/oauth/<provider>/callback`` (in development, on the host the page was opened at).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import redirect, request, url_for
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from ..components import SIGN_IN_FLOW_COOKIE, SIGN_UP_FLOW_COOKIE
from ..core import oauth
from ..core.audit import security_event
from ..core.external_accounts import remove_external_account
from ..core.models import OAuthFlow
from ..core.oauth_providers import (
    IdentityInvalid,
    OAuthProvider,
    ProviderIdentity,
    client_secret,
    identity_from_claims,
    identity_from_discord,
    identity_from_github,
    scopes_text,
)
from ..errors import ClerkError
from ..extension import db_session, delete_cookie, request_info, set_cookie, state
from ..redirects import safe_redirect_url
from ..request import CLIENT_COOKIE, auth
from .forms import field, form_action, render_back, return_to
from .views import (
    _signed_in,
    account_reverification,
    bp,
    profile_action,
    session_row,
    set_flow,
    user_row,
)

OAUTH_COOKIE = "__clerk_oauth"
TIMEOUT = 10  # s, for each call to a provider


class ProviderClient(FlaskOAuth2App):  # type: ignore[misc]
    """Authlib's Flask OAuth 2 client for one provider (the secret asked for each
    time: Apple's is a short-lived JWT)."""

    OAUTH_APP_CONFIG = None

    def __init__(self, provider: OAuthProvider) -> None:
        self.provider = provider
        super().__init__(
            FlaskIntegration(provider.key), provider.key, client_id=provider.client_id,
            server_metadata_url=provider.discovery_url, authorize_url=provider.authorize_url,
            access_token_url=provider.token_url,
            client_kwargs={"scope": " ".join(provider.scopes), "code_challenge_method": "S256",
                           "token_endpoint_auth_method": provider.token_auth,
                           "default_timeout": TIMEOUT},
        )

    @property  # type: ignore[override]
    def client_secret(self) -> str:
        return client_secret(self.provider)

    @client_secret.setter
    def client_secret(self, _: Any) -> None:
        pass  # set by Authlib's constructor; ours comes from the provider


@dataclass
class OAuthClients:
    """The configured providers' clients, made once per app (each caches its
    provider's discovery document and keys)."""

    clients: dict[str, ProviderClient]

    @classmethod
    def for_providers(cls, providers: tuple[OAuthProvider, ...]) -> OAuthClients:
        return cls({p.key: ProviderClient(p) for p in providers})

    def get(self, key: str) -> ProviderClient:
        client = self.clients.get(key)
        if client is None:
            raise ClerkError("oauth_provider_unknown", status=404)
        return client


def clients() -> OAuthClients:
    clerk = state()
    if clerk.oauth_clients is None:
        clerk.oauth_clients = OAuthClients.for_providers(clerk.settings.oauth_providers)
    return clerk.oauth_clients  # type: ignore[no-any-return]


# -- Starting: the provider buttons (sign-in, sign-up) and "Connect account" ---------


@bp.post("/oauth/<provider>/sign-in")
@form_action("sign_in.start")
def oauth_sign_in(provider: str) -> Response:
    return _authorize(provider, "sign_in", state().settings.sign_in_url)


@bp.post("/oauth/<provider>/sign-up")
@form_action("sign_up.start", fallback="sign_up_url")
def oauth_sign_up(provider: str) -> Response:
    return _authorize(provider, "sign_up", state().settings.sign_up_url)


@bp.post("/user/external-accounts")
@profile_action("connected_accounts")
@account_reverification
def profile_connect_account() -> Response:
    user_row()
    return _authorize(field("provider"), "connect", state().settings.user_profile_url)


@bp.post("/user/external-accounts/<account_id>/remove")
@profile_action("connected_accounts")
@account_reverification
def profile_remove_account(account_id: str) -> Response:
    remove_external_account(state().instance, db_session(), user_row(), account_id)
    return redirect(return_to(state().settings.user_profile_url), 303)


def _authorize(key: str, intent: str, fallback: str) -> Response:
    client = clients().get(key)
    provider = client.provider
    redirect_uri = _redirect_uri(provider)
    extra = {"response_mode": provider.response_mode} if provider.response_mode else {}
    try:
        authorization = client.create_authorization_url(redirect_uri, **extra)
    except (requests.RequestException, ValueError, AuthlibBaseError) as error:
        security_event("oauth.provider_unavailable", provider=key, error=type(error).__name__)
        raise ClerkError("oauth_provider_unavailable", status=502, provider=provider.name) from None
    settings = state().settings
    browser_token = oauth.begin_flow(
        state().instance, db_session(), request_info(), provider,
        oauth.Authorization(url=authorization["url"], state=authorization["state"],
                            code_verifier=authorization["code_verifier"],
                            nonce=authorization.get("nonce")),
        intent=intent, redirect_uri=redirect_uri, return_to=return_to(fallback),
        redirect_url=safe_redirect_url(field("redirect_url"), fallback="",
                                       allowed_origins=settings.allowed_redirect_origins),
        session=session_row() if intent == "connect" else None,
    )
    response = redirect(authorization["url"], 303)
    set_cookie(response, OAUTH_COOKIE, browser_token, max_age=oauth.OAUTH_FLOW_LIFETIME,
               path=_cookie_path())
    return response


def _redirect_uri(provider: OAuthProvider) -> str:
    """The exact callback URL registered at the provider. Production: from the
    frontend API URL, never the Host header. Development: the host the page was
    opened at (localhost or 127.0.0.1, each registered at the provider as needed)."""
    settings = state().settings
    if settings.development:
        return url_for("clerk.oauth_callback", provider=provider.key, _external=True)
    return f"{settings.issuer}/oauth/{provider.key}/callback"


def _cookie_path() -> str:
    return url_for("clerk.oauth_callback", provider="x").rsplit("/", 2)[0]


# -- The callback ----------------------------------------------------------------------

CALLBACK_PARAMS = ("code", "state", "iss", "error", "error_description", "user")


@bp.route("/oauth/<provider>/callback", methods=["GET", "POST"])
def oauth_callback(provider: str) -> Response:
    if request.method == "POST":
        # Apple answers with a cross-site POST (form_post), which carries no
        # SameSite=Lax cookie: continue as a GET of our own, which does.
        client = clients().clients.get(provider)
        if client is None or client.provider.response_mode != "form_post":
            return Response("Not found.", status=404, mimetype="text/plain")
        params = {k: request.form[k][:4096] for k in CALLBACK_PARAMS if request.form.get(k)}
        callback = url_for("clerk.oauth_callback", provider=provider)
        return redirect(f"{callback}?{urlencode(params)}", 303)
    flow = oauth.peek_flow(db_session(), request.args.get("state"))
    try:
        response = _callback(provider, flow)
    except ClerkError as error:
        response = _report(flow, error)
    if flow is not None and oauth.owns_flow(flow, request.cookies.get(OAUTH_COOKIE)):
        # Only the browser's own flow ends its cookie: a lured callback link with
        # someone else's state leaves the flow in progress alone.
        delete_cookie(response, OAUTH_COOKIE, path=_cookie_path())
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL holds the code
    response.headers["Cache-Control"] = "no-store"
    return response


def _callback(key: str, found: OAuthFlow | None) -> Response:
    client = clients().get(key)
    provider = client.provider
    db, settings = db_session(), state().settings
    flow = oauth.take_flow(db, provider, found, request.cookies.get(OAUTH_COOKIE))
    error = request.args.get("error")
    if error:
        error = re.sub(r"[^A-Za-z0-9_.-]", "?", error[:60])  # a code, not text to log or show
        security_event("oauth.provider_error", provider=key, error=error)
        if error == "access_denied":
            raise ClerkError("oauth_access_denied", status=400, provider=provider.name)
        raise ClerkError("oauth_provider_error", status=400, provider=provider.name, error=error)
    identity = _identity(client, flow)
    if flow.intent == "connect":
        oauth.connect_with_identity(state().instance, db, provider, flow,
                                    auth(treat_pending_as_signed_out=False).session_id,
                                    identity)
        return redirect(flow.return_to, 303)
    outcome = oauth.sign_in_with_identity(
        state().instance, db, request_info(), provider, identity,
        previous_client_token=request.cookies.get(CLIENT_COOKIE))
    if isinstance(outcome, oauth.SignedInWith):
        after = settings.after_sign_up_url if outcome.created else settings.after_sign_in_url
        return _signed_in(outcome.signed_in, after, SIGN_IN_FLOW_COOKIE,
                          redirect_url=flow.redirect_url or "")
    page = settings.sign_in_url if outcome.component == "sign_in" else settings.sign_up_url
    query = f"?{urlencode({'redirect_url': flow.redirect_url})}" if flow.redirect_url else ""
    response = redirect(page + query, 303)
    cookie = SIGN_IN_FLOW_COOKIE if outcome.component == "sign_in" else SIGN_UP_FLOW_COOKIE
    set_flow(response, cookie, outcome.flow_token)
    return response


def _identity(client: ProviderClient, flow: OAuthFlow) -> ProviderIdentity:
    """Exchange the code (with the PKCE verifier) and read who the user is."""
    provider = client.provider
    code = request.args.get("code")
    if not code or len(code) > 2048:
        raise ClerkError("oauth_callback_invalid", status=400, provider=provider.name)
    try:
        if provider.openid:
            _check_issuer(client)
        token = client.fetch_access_token(redirect_uri=flow.redirect_uri, code=code,
                                          code_verifier=flow.code_verifier)
        scopes = scopes_text(token.get("scope") or " ".join(provider.scopes))
        if provider.openid:  # OpenID Connect: the ID token says who
            if "id_token" not in token or flow.nonce is None:
                raise IdentityInvalid("no ID token")
            claims = dict(client.parse_id_token(token, nonce=flow.nonce,
                                                claims_options=_issuer_options(client)))
            audience = claims.get("aud")
            if client.client_id not in (audience if isinstance(audience, list) else [audience]):
                raise IdentityInvalid("an ID token for another client")
            userinfo_url = client.load_server_metadata().get("userinfo_endpoint")
            if not claims.get("email") and userinfo_url:
                info = client.get(userinfo_url, token=token).json()
                if isinstance(info, dict) and info.get("sub") == claims.get("sub"):
                    claims = {**info, **claims}
            claims.update(_apple_name(provider))
            return identity_from_claims(provider, claims, scopes)
        user = _json(client, provider.userinfo_url, token)
        if provider.key == "github":
            emails = _json(client, provider.emails_url, token) if provider.emails_url else []
            return identity_from_github(provider, user, emails if isinstance(emails, list)
                                        else [], scopes)
        if provider.key == "discord":
            return identity_from_discord(provider, user, scopes)
        return identity_from_claims(provider, user, scopes)
    except ClerkError:
        raise
    except requests.RequestException as error:
        security_event("oauth.provider_unavailable", provider=provider.key,
                       error=type(error).__name__)
        raise ClerkError("oauth_provider_unavailable", status=502,
                         provider=provider.name) from None
    except (AuthlibBaseError, JoseError, IdentityInvalid, ValueError, KeyError,
            TypeError) as error:
        # A refused code (used already, expired), a forged or mismatched ID token,
        # an answer without a user id.
        security_event("oauth.token_refused", provider=provider.key, error=type(error).__name__,
                       detail=str(error)[:200])
        raise ClerkError("oauth_token_invalid", status=400, provider=provider.name) from None


def _check_issuer(client: ProviderClient) -> None:
    """The discovery document is the configured issuer's; the answer came from it
    (RFC 9207 ``iss``, required when the provider says it sends one); and an
    unsigned ID token is never acceptable, whatever the document lists."""
    metadata = client.load_server_metadata()
    issuer = str(metadata.get("issuer") or "")
    configured = client.provider.issuer
    if configured and issuer.rstrip("/") != configured.rstrip("/"):
        raise IdentityInvalid("the discovery document names another issuer")
    answered = request.args.get("iss")
    if answered != issuer and (answered is not None
                               or metadata.get("authorization_response_iss_parameter_supported")):
        raise IdentityInvalid("an answer from another issuer (mix-up)")
    algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [
        a for a in algorithms if isinstance(a, str) and a.lower() != "none"] or ["RS256"]


def _json(client: ProviderClient, url: str | None, token: dict[str, Any]) -> Any:
    if not url:
        raise IdentityInvalid("no user endpoint")
    response = client.get(url, token=token, headers={"Accept": "application/json"})
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, (dict, list)):
        raise IdentityInvalid("not JSON")
    return data


def _issuer_options(client: ProviderClient) -> dict[str, Any] | None:
    """Microsoft's common endpoint names its issuer with a ``{tenantid}`` that each
    ID token fills in with its own ``tid``; everyone else's is one fixed URL."""
    issuer = str(client.load_server_metadata().get("issuer") or "")
    if "{tenantid}" not in issuer:
        return None
    return {"iss": {"essential": True, "validate": lambda claims, value: value == issuer.replace(
        "{tenantid}", str(claims.get("tid") or "-"))}}


def _apple_name(provider: OAuthProvider) -> dict[str, str]:
    """Apple sends the user's name once, beside the code (never in the ID token)."""
    user = request.args.get("user", "")
    if provider.response_mode != "form_post" or not user or len(user) > 4096:
        return {}
    try:
        name = json.loads(user).get("name") or {}
        return {k: str(name[v]) for k, v in (("given_name", "firstName"),
                                              ("family_name", "lastName")) if name.get(v)}
    except (ValueError, AttributeError, TypeError, RecursionError):
        return {}


def _report(flow: OAuthFlow | None, error: ClerkError) -> Response:
    """Show ``error`` on the page the button was on (the sign-in page if unknown)."""
    settings = state().settings
    intent = flow.intent if flow is not None else "sign_in"
    page = flow.return_to if flow is not None else settings.sign_in_url
    form = {"sign_in": "sign_in.start", "sign_up": "sign_up.start",
            "connect": "profile.connected_accounts"}[intent]
    response = render_back(page, form, error, {})
    if intent != "connect" and response.mimetype == "text/plain":
        # The page would not show (a signed-in user, say): go to the sign-in page.
        response = render_back(settings.sign_in_url, "sign_in.start", error, {})
    return response


def connected_accounts_context() -> dict[str, Any]:
    """The profile's "Connected accounts": the user's, and the providers to add."""
    user = user_row()
    providers = state().settings.oauth_providers  # (accounts of a provider since removed show)
    names = {p.strategy: p for p in providers}
    accounts = [{"account": a, "provider": names.get(a.provider)} for a in user.external_accounts]
    connected = {a.provider for a in user.external_accounts}
    return {"accounts": accounts,
            "available": [p for p in providers if p.strategy not in connected]}

