"""Remote mode (``ClerkAuth(app, mode="remote")``): the SDK half alone, for an app
that trusts a separate issuer (another flask_clerk instance, or Clerk's cloud).

No identity store and no account pages here: session tokens are verified with the
issuer's public keys (``CLERK_JWT_KEY``, a PEM, networkless; else the Backend API's
``/v1/jwks``, fetched with the secret key and re-read on an unknown ``kid`` at most
once a minute), through the same verifier, cache and ``auth()`` as embedded mode.
``current_user`` comes from the Backend API (``GET /v1/users/{id}``), cached for a
short while. Signing in happens on the issuer's pages (``CLERK_SIGN_IN_URL``,
absolute); the issuer's handshake (:mod:`flask_clerk.web.handshake`) brings the
session back to this app, on any site, and renews it when its token runs out.

The user button and organization switcher render from the token and the Backend
API (:mod:`flask_clerk.components.remote`); their forms act at the issuer
(:mod:`flask_clerk.web.remote`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .errors import MESSAGES, ClerkConfigError
from .settings import DEFAULTS, frontend_api_from_publishable_key
from .tokens import ANY_KID, TokenInvalid, TokenVerifier
from .user import ClerkObject, ClerkUser

CLERK_CLOUD_API = "https://api.clerk.com"
USER_CACHE_SECONDS = 30.0
OUTAGE_CACHE_SECONDS = 3.0  # an issuer that did not answer is asked again this soon
# The issuer's pages (an app in remote mode has none): these settings name them there.
ISSUER_PAGES = ("sign_in_url", "sign_up_url", "choose_organization_url", "setup_mfa_url",
                "reverify_url", "user_profile_url", "organization_profile_url",
                "create_organization_url")
# Settings that belong to the engine: an app in remote mode has none of them.
ENGINE_ONLY = ("CLERK_DATABASE_URL", "CLERK_DASHBOARD_ADMINS", "CLERK_SMTP_URL",
               "CLERK_OAUTH_PROVIDERS", "CLERK_DOMAIN")


@dataclass(frozen=True)
class RemoteSettings:
    """What an app in remote mode is configured with."""

    publishable_key: str
    secret_key: str = field(repr=False)
    issuer: str  # the frontend API URL: the tokens' ``iss``
    api_url: str  # the Backend API's origin
    jwt_key: str | None
    sign_in_url: str
    sign_up_url: str
    after_sign_in_url: str
    authorized_parties: tuple[str, ...]
    protected_routes: tuple[str, ...]
    clock_skew: int
    token_cache_size: int
    cookie_secure: bool
    allowed_redirect_origins: tuple[str, ...] = ()
    choose_organization_url: str = ""
    setup_mfa_url: str = ""
    reverify_url: str = ""
    user_profile_url: str = ""
    organization_profile_url: str = ""
    create_organization_url: str = ""
    after_sign_out_url: str = "/"
    application_name: str | None = None
    messages: Mapping[str, str] = field(default_factory=dict)
    # The organization switcher's: as the issuer is configured.
    organizations: bool = True
    organization_membership: str = "optional"
    create_organization_enabled: bool = True
    multi_session: bool = False
    clerk_cloud: bool = False  # the issuer is Clerk's cloud, not a flask_clerk instance
    domain: str | None = None  # (no custom auth domain: the issuer has the pages)
    cookie_domain: str | None = None
    remote: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, debug: bool) -> RemoteSettings:
        def get(key: str) -> Any:
            return config.get(key, DEFAULTS.get(key))

        publishable_key = get("CLERK_PUBLISHABLE_KEY") or ""
        secret_key = get("CLERK_SECRET_KEY") or ""
        if not publishable_key.startswith(("pk_test_", "pk_live_")):
            raise ClerkConfigError("Remote mode needs the issuer's CLERK_PUBLISHABLE_KEY "
                                   "(pk_test_… or pk_live_…).")
        engine_only = [k for k in ENGINE_ONLY if config.get(k)]
        if engine_only:
            raise ClerkConfigError(
                f"{', '.join(engine_only)} belong to the identity instance, not to an app "
                "in remote mode: set them where the engine runs.")
        issuer = (get("CLERK_FRONTEND_API_URL") or frontend_api_from_publishable_key(
            publishable_key)).rstrip("/")
        host = urlsplit(issuer).netloc
        # Clerk's frontend API has no path; a flask_clerk instance's is /__clerk. (A
        # self-hosted issuer must not send its secret key to api.clerk.com.)
        clerk_cloud = urlsplit(issuer).path in {"", "/"}
        api_url = (get("CLERK_API_URL") or (
            CLERK_CLOUD_API if clerk_cloud else f"{urlsplit(issuer).scheme}://{host}")).rstrip("/")
        if urlsplit(api_url).scheme not in {"http", "https"}:
            raise ClerkConfigError(f"CLERK_API_URL must be an http(s) URL, not {api_url!r}.")
        jwt_key = get("CLERK_JWT_KEY") or None
        if not jwt_key and not secret_key:
            raise ClerkConfigError(
                "Remote mode verifies sessions with the issuer's keys: set CLERK_JWT_KEY "
                "(its PEM public key) or CLERK_SECRET_KEY (to read its /v1/jwks).")
        origin = f"{urlsplit(issuer).scheme}://{host}"
        pages = account_portal(host) if clerk_cloud else origin

        def page(key: str) -> str:
            value = str(get(key))  # a path: the issuer's page (the app has none of its own)
            return pages + value if value.startswith("/") else value

        cookie_secure = get("CLERK_COOKIE_SECURE")

        def listed(key: str) -> tuple[str, ...]:
            return tuple(get(key) or ())  # (from the environment: apply_defaults split it)

        issuer_pages: dict[str, Any] = {n: page(f"CLERK_{n.upper()}") for n in ISSUER_PAGES}
        return cls(
            publishable_key=publishable_key, secret_key=secret_key, issuer=issuer,
            api_url=api_url, jwt_key=jwt_key, clerk_cloud=clerk_cloud,
            **issuer_pages,
            after_sign_in_url=get("CLERK_AFTER_SIGN_IN_URL"),
            authorized_parties=listed("CLERK_AUTHORIZED_PARTIES"),
            protected_routes=listed("CLERK_PROTECTED_ROUTES"),
            clock_skew=int(get("CLERK_CLOCK_SKEW")),
            token_cache_size=int(get("CLERK_TOKEN_CACHE_SIZE")),
            cookie_secure=(not debug) if cookie_secure is None else bool(cookie_secure),
            allowed_redirect_origins=tuple(dict.fromkeys((origin, pages))),
            after_sign_out_url=get("CLERK_AFTER_SIGN_OUT_URL"),
            organization_membership=get("CLERK_ORGANIZATION_MEMBERSHIP"),
            create_organization_enabled=bool(get("CLERK_CREATE_ORGANIZATION_ENABLED")),
            application_name=get("CLERK_APPLICATION_NAME"),
            messages={**MESSAGES, **(get("CLERK_MESSAGES") or {})},
        )


def account_portal(frontend_api_host: str) -> str:
    """Where Clerk's cloud serves an instance's pages (its Account Portal): next to
    the frontend API, ``clerk.example.com`` → ``accounts.example.com``, and
    ``x.clerk.accounts.dev`` → ``x.accounts.dev`` for a development instance."""
    if frontend_api_host.endswith(".clerk.accounts.dev"):
        return "https://" + frontend_api_host.removesuffix(".clerk.accounts.dev") + ".accounts.dev"
    return "https://accounts." + frontend_api_host.removeprefix("clerk.")


def key_loader(settings: RemoteSettings) -> Any:
    """The verifier's ``load_keys``: the PEM key alone, or the issuer's JWKS."""
    if settings.jwt_key:
        try:
            public = serialization.load_pem_public_key(settings.jwt_key.encode())
        except ValueError as exc:
            raise ClerkConfigError(f"CLERK_JWT_KEY is not a PEM public key: {exc}") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise ClerkConfigError("CLERK_JWT_KEY must be an RSA public key (RS256).")
        jwk = json.loads(RSAAlgorithm.to_jwk(public))
        return lambda: [{**jwk, "kid": ANY_KID}]

    def fetch() -> list[dict[str, Any]]:
        return list(IssuerAPI(settings).get("/v1/jwks").get("keys") or [])

    return fetch


class IssuerAPI:
    """The issuer's Backend API, server to server, with the secret key."""

    def __init__(self, settings: RemoteSettings) -> None:
        self._settings = settings

    def get(self, path: str) -> dict[str, Any]:
        return self._call("GET", path)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._call("POST", path, body or {})

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None
              ) -> dict[str, Any]:
        settings = self._settings
        where = settings.api_url + path.partition("?")[0]  # (a query may hold a sealed nonce)
        request = urllib.request.Request(  # noqa: S310 - http(s) only (checked at start)
            settings.api_url + path, method=method,
            data=None if body is None else json.dumps(body).encode(), headers={
                "Authorization": f"Bearer {settings.secret_key}",
                "Accept": "application/json", "Content-Type": "application/json",
                "User-Agent": "flask_clerk (remote mode)"})
        try:
            with _NO_REDIRECTS.open(request, timeout=5) as answer:
                data = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                raise IssuerRefused(exc.code, _error_code(exc)) from exc
            raise IssuerUnavailable(f"{where}: {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise IssuerUnavailable(f"{where}: {exc}") from exc
        if not isinstance(data, dict):
            raise IssuerUnavailable(f"{where}: not a JSON object")
        return data


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an error here: following it would take the secret key elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects())


def _error_code(error: urllib.error.HTTPError) -> str:
    """The first of Clerk's ``{"errors": [{"code": …}]}`` (or the bare status)."""
    try:
        return str(json.loads(error.read())["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError, OSError):
        return f"http_{error.code}"


class IssuerUnavailable(TokenInvalid):
    """The issuer's Backend API did not answer (its keys or a user could not be read)."""


class IssuerRefused(Exception):
    """The issuer's Backend API answered with a 4xx: ``status`` and Clerk's ``code``."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code = status, code


class RemoteUsers:
    """``current_user`` and the user's organization memberships, from the Backend
    API, each cached for a short while (an outage for a few seconds only)."""

    def __init__(self, api: IssuerAPI) -> None:
        self._api = api
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str) -> ClerkUser | None:
        user: ClerkUser | None = self._cached("user", user_id, lambda: ClerkUser(
            self._api.get("/v1/users/" + quote(user_id, safe=""))))
        return user

    def memberships(self, user_id: str) -> list[ClerkObject] | None:
        """The user's memberships (each with ``organization_id``), or None when the
        issuer cannot be read."""
        def fetch() -> list[ClerkObject]:
            answer = self._api.get(f"/v1/users/{quote(user_id, safe='')}"
                                   "/organization_memberships?limit=100")
            return [ClerkObject({**m, "organization_id": m["organization"]["id"]})
                    for m in answer.get("data") or []
                    if isinstance(m, dict) and isinstance(m.get("organization"), dict)]

        found: list[ClerkObject] | None = self._cached("memberships", user_id, fetch)
        return found

    def _cached(self, kind: str, user_id: str, fetch: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._cache.get((kind, user_id))
        if hit is not None and now < hit[0]:
            return hit[1]
        try:
            value, ttl = fetch(), USER_CACHE_SECONDS
        except (IssuerUnavailable, IssuerRefused):
            value, ttl = None, OUTAGE_CACHE_SECONDS
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[(kind, user_id)] = (now + ttl, value)
        return value


class RemoteInstance:
    """What the request layer needs of an instance, in remote mode: the verifier."""

    def __init__(self, settings: RemoteSettings) -> None:
        self.settings = settings
        self.api = IssuerAPI(settings)
        self.verifier = TokenVerifier(
            key_loader(settings), skew=settings.clock_skew, issuer=settings.issuer,
            authorized_parties=settings.authorized_parties,
            cache_size=settings.token_cache_size)


@dataclass
class RemoteState:
    """``app.extensions["clerk"]`` in remote mode: what the request layer uses of
    the embedded ``ClerkState``, backed by the issuer."""

    instance: RemoteInstance
    users: RemoteUsers
    components: Any
    protected: re.Pattern[str] | None
    refreshes: ClassVar[bool] = False  # an expired __session is renewed by the issuer

    @property
    def settings(self) -> RemoteSettings:
        return self.instance.settings

    def refresh(self, client_token: str) -> None:
        return None

    def load_user(self, user_id: str) -> ClerkUser | None:
        return self.users.get(user_id)


# -- the handshake, the app's side (the issuer's: flask_clerk.web.handshake) -------------

HANDSHAKE_PARAM = "__clerk_handshake"  # the answer: a signed token of cookie directives
HANDSHAKE_NONCE_PARAM = "__clerk_handshake_nonce"  # or what stands for it, to redeem
ANSWER_NAMES = (HANDSHAKE_PARAM, HANDSHAKE_NONCE_PARAM)
CLIENT_UAT_COOKIE = "__client_uat"  # when the browser last signed in or out at the issuer
CLIENT_UAT_MAX_AGE = 365 * 24 * 3600
REDIRECT_COUNT_COOKIE = "__clerk_redirect_count"
NONCE_COOKIE = "__clerk_handshake_state"  # binds the issuer's answer to this browser
NONCE_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")
SEALED_SHAPE = re.compile(r"gAAAAA[A-Za-z0-9_-]{80,1000}={0,2}")  # a Fernet token
MAX_HANDSHAKES = 3  # in a row, a few seconds apart: then the request is signed out


def handshake_url(settings: RemoteSettings) -> str:
    return settings.issuer + "/v1/client/handshake"


def nonce_cookie_name(secure: bool) -> str:
    """``__Host-`` when Secure: a sibling host of the parent domain cannot plant one."""
    return "__Host-" + NONCE_COOKIE.lstrip("_") if secure else NONCE_COOKIE


def handshake_nonce() -> str:
    """This browser's handshake nonce, which the issuer's answer must carry back: the
    one its cookie holds (tabs asking at once share it), else a new one, set as a
    cookie on the response."""
    from flask import after_this_request, g, request

    from .extension import set_cookie, state

    if "_clerk_handshake_nonce" not in g:
        name = nonce_cookie_name(state().settings.cookie_secure)
        held = request.cookies.get(name, "")
        nonce = g._clerk_handshake_nonce = held if NONCE_SHAPE.fullmatch(held) else (
            secrets.token_urlsafe(24))

        @after_this_request
        def remember(response: Any) -> Any:
            set_cookie(response, name, nonce, max_age=600)
            return response
    return str(g._clerk_handshake_nonce)


def handshake_query(target: str) -> str:
    """Clerk's handshake request, in its production form (``format=nonce``), with
    the digest of this browser's nonce (which Clerk's cloud ignores): the nonce
    itself stays between the browser and this app, out of pages, URLs and logs."""
    return urlencode({"redirect_url": target, "format": "nonce",
                      "nonce": nonce_digest(handshake_nonce())})


def nonce_digest(nonce: str) -> str:
    """What the issuer signs into its answer for the browser holding ``nonce``."""
    return base64.urlsafe_b64encode(hashlib.sha256(nonce.encode()).digest()).decode().rstrip(
        "=")


def via_handshake(settings: RemoteSettings, target: str) -> str:
    """Where the issuer's sign-in page sends the browser afterwards, to come back to
    ``target`` (absolute) with the session: its handshake, by a path of its own (a
    flask_clerk issuer takes only its own paths and its apps' origins). Clerk's
    cloud runs the handshake itself: straight back to ``target``."""
    if settings.clerk_cloud:
        return target
    return urlsplit(handshake_url(settings)).path + "?" + handshake_query(target)


def handshake_hooks(clerk_state: RemoteState) -> tuple[Any, Any]:
    """``(apply, needed)``, for the request hook: ``apply`` takes a handshake's answer;
    ``needed``, for a request with no valid session token, asks the issuer for one
    when the browser signed in there (``__client_uat``)."""
    from flask import redirect, request
    from werkzeug.wrappers import Response

    from .extension import set_cookie
    from .request import wants_html

    settings = clerk_state.settings

    def apply() -> Response | None:
        carried = {k: request.args[k] for k in ANSWER_NAMES if k in request.args}
        cookies = {k: request.cookies[k] for k in ANSWER_NAMES if k in request.cookies
                   } if settings.clerk_cloud else {}
        if not carried and not cookies:
            return None
        args = [(k, v) for k, v in request.args.items(multi=True) if k not in ANSWER_NAMES]
        clean = request.base_url + ("?" + urlencode(args) if args else "")
        response = redirect(clean, 307)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # (the answer was in the URL)
        try:
            directives = answer_directives(clerk_state, carried, cookies,
                                           f"{request.scheme}://{request.host}")
            response.delete_cookie(REDIRECT_COUNT_COOKIE)  # (only an answer taken ends a run)
            _set_directives(response, directives)
        except TokenInvalid:
            pass  # a forged, stale or unbound answer: the browser stays who it was
        site = (urlsplit(settings.issuer).hostname or "").partition(".")[2] or None
        for name in cookies:  # (Clerk's cloud sets them for the site: clerk.<site>)
            response.delete_cookie(name)
            response.delete_cookie(name, domain=site)
        return response

    def needed() -> Response | None:
        uat = request.cookies.get(CLIENT_UAT_COOKIE, "0")
        if uat in {"", "0"} or request.method not in {"GET", "HEAD"} or not wants_html():
            return None
        count = request.cookies.get(REDIRECT_COUNT_COOKIE, "0")
        count_value = int(count) if count.isascii() and count.isdigit() else MAX_HANDSHAKES
        if count_value >= MAX_HANDSHAKES:
            return None  # the issuer keeps not answering: signed out, not a loop
        response = redirect(handshake_url(settings) + "?" + handshake_query(request.url), 307)
        set_cookie(response, REDIRECT_COUNT_COOKIE, str(count_value + 1), max_age=3)
        return response

    return apply, needed


def answer_directives(clerk_state: RemoteState, carried: Mapping[str, str],
                      cookies: Mapping[str, str], origin: str) -> list[str]:
    """The ``Set-Cookie`` directives of the issuer's answer, or :class:`TokenInvalid`.

    A flask_clerk issuer's answer, in the URL, is its signed token (or that token
    sealed, redeemed through the Backend API), which must name this app's origin
    and carry this browser's nonce: an answer lured into another browser signs
    nobody in. Clerk's cloud binds its production answers to the browser by
    setting them as cookies on the site, and those are taken as they are; its
    unbound answers in the URL (development instances) are refused.
    """
    from flask import request

    settings, verifier = clerk_state.settings, clerk_state.instance.verifier
    if settings.clerk_cloud and not carried:
        token = cookies.get(HANDSHAKE_PARAM)
        if token is None:
            payload = _redeem(clerk_state, cookies[HANDSHAKE_NONCE_PARAM])
            return _directives(payload.get("directives"))
        return _directives(verifier.handshake_claims(token, audience=None).get("handshake"))
    token = carried.get(HANDSHAKE_PARAM)
    if token is None:
        sealed = carried[HANDSHAKE_NONCE_PARAM]
        if not SEALED_SHAPE.fullmatch(sealed):  # (not worth asking the issuer about)
            raise TokenInvalid("not a handshake nonce")
        token = _redeem(clerk_state, sealed).get("token")
        if not isinstance(token, str):
            raise TokenInvalid("the issuer's answer is not bound to this browser")
    claims = verifier.handshake_claims(token, audience=origin)
    nonce = request.cookies.get(nonce_cookie_name(settings.cookie_secure))
    if not nonce or not hmac.compare_digest(str(claims.get("nonce", "")).encode(),
                                            nonce_digest(nonce).encode()):
        raise TokenInvalid("not this browser's handshake")
    return _directives(claims.get("handshake"))


def _redeem(clerk_state: RemoteState, sealed: str) -> dict[str, Any]:
    """Clerk's ``GET /v1/clients/handshake_payload``: what a nonce stands for."""
    try:
        return clerk_state.instance.api.get(
            "/v1/clients/handshake_payload?" + urlencode({"nonce": sealed}))
    except IssuerRefused as refused:
        raise TokenInvalid(f"the issuer refused the handshake nonce: {refused}") from None


def _directives(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise TokenInvalid("no cookie directives")
    return value


def _set_directives(response: Any, directives: list[str]) -> None:
    """The issuer's ``Set-Cookie`` directives, as this app's own cookies: only
    ``__session`` and ``__client_uat``, with this app's attributes."""
    from .extension import delete_cookie, set_cookie

    for directive in directives:
        name, _, value = directive.split(";", 1)[0].partition("=")
        name, value = name.strip(), value.strip()
        if name == "__session":
            if value:  # kept for the browser's session (the token inside still runs out):
                # a sign-out from a page left open names the session it ends
                set_cookie(response, "__session", value, max_age=None)
            else:
                delete_cookie(response, "__session")
        elif name == CLIENT_UAT_COOKIE and value.isdigit():
            set_cookie(response, CLIENT_UAT_COOKIE, value, max_age=CLIENT_UAT_MAX_AGE)
