"""Typed, frozen settings read once from the ``CLERK_*`` configuration keys.

:data:`DEFAULTS` is the one table of settings and their defaults. ``init_app``
fills ``app.config`` from it (``setdefault``: explicit config wins, then the
environment, e.g. values from ``.env``, then the default) and builds
:class:`Settings` once; nothing reads ``app.config`` per request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core.oauth_providers import OAuthProvider, providers_from_settings
from .core.roles import Role, role_key, roles_from_settings
from .errors import ClerkConfigError, ClerkError

DEFAULTS: dict[str, Any] = {
    # Instance keys (written to .env by `flask clerk init`)
    "CLERK_PUBLISHABLE_KEY": None,
    "CLERK_SECRET_KEY": None,
    "CLERK_DATABASE_URL": None,  # default: sqlite:///<instance folder>/clerk.db
    # "embedded" (the engine in this app) | "remote" (trust another instance, or
    # Clerk's cloud: see flask_clerk.remote), with, in remote mode:
    "CLERK_MODE": "embedded",
    "CLERK_FRONTEND_API_URL": None,  # default: from the publishable key
    "CLERK_API_URL": None,  # default: api.clerk.com for Clerk's keys, else the issuer's origin
    "CLERK_JWT_KEY": None,  # the issuer's public key (PEM): verify without any request
    "CLERK_APPLICATION_NAME": None,
    # Account pages and redirects
    "CLERK_SIGN_IN_URL": "/sign-in",
    "CLERK_SIGN_UP_URL": "/sign-up",
    "CLERK_WAITLIST_URL": "/waitlist",
    "CLERK_USER_PROFILE_URL": "/user",
    "CLERK_AFTER_SIGN_IN_URL": "/",
    "CLERK_AFTER_SIGN_UP_URL": "/",
    "CLERK_AFTER_SIGN_OUT_URL": "/",
    "CLERK_ACCOUNT_PAGES": True,
    "CLERK_ALLOWED_REDIRECT_ORIGINS": (),
    # Route protection and tokens
    "CLERK_PROTECTED_ROUTES": (),
    "CLERK_AUTHORIZED_PARTIES": (),
    "CLERK_SESSION_TOKEN_LIFETIME": 60,
    "CLERK_SESSION_MAX_LIFETIME": 7 * 24 * 3600,
    "CLERK_SESSION_INACTIVITY_TIMEOUT": None,
    "CLERK_CLIENT_LIFETIME": 365 * 24 * 3600,
    # Several accounts signed in on one browser, switched from the user button.
    "CLERK_MULTI_SESSION": False,
    "CLERK_CLOCK_SKEW": 5,
    "CLERK_TOKEN_CACHE_SIZE": 10_000,
    "CLERK_COOKIE_SECURE": None,  # default: not in debug/testing
    # A custom auth domain ("auth.example.com"): the account pages and the dashboard
    # live on it, and the session cookies are the parent domain's, shared with the app.
    "CLERK_DOMAIN": None,
    "CLERK_COOKIE_DOMAIN": None,  # default: CLERK_DOMAIN's parent ("example.com")
    # Sign-up and passwords
    "CLERK_SIGN_UP_NAME": "optional",  # "optional" | "required" | "off"
    # "public" | "restricted" (by invitation only) | "waitlist" (by invitation, which
    # people ask for on the waitlist page, CLERK_WAITLIST_URL)
    "CLERK_SIGN_UP_MODE": "public",
    "CLERK_ALLOWLIST": (),  # emails or domains that alone may sign up and sign in
    "CLERK_BLOCKLIST": (),  # emails or domains that may not sign up
    "CLERK_PASSWORD_MIN_LENGTH": 8,
    "CLERK_PASSWORD_MAX_LENGTH": 256,
    "CLERK_PASSWORD_HASH_TIME_COST": 2,
    "CLERK_PASSWORD_HASH_MEMORY_COST": 19 * 1024,  # KiB
    "CLERK_PASSWORD_HASH_PARALLELISM": 1,
    # Sign-in strategies and second factors
    # First factors on offer, in order (email_link: 10-minute single-use links; off
    # by default, as in Clerk).
    "CLERK_SIGN_IN_STRATEGIES": ("password", "email_code", "passkey"),
    "CLERK_MFA_REQUIRED": False,  # every user must set up a second factor
    # Passkeys' relying party: default the frontend API's host and origin (in
    # development, the request's, so localhost and 127.0.0.1 both work).
    "CLERK_PASSKEY_RP_ID": None,
    "CLERK_PASSKEY_ORIGINS": (),
    "CLERK_SETUP_MFA_URL": "/setup-mfa",
    # Keys for secrets at rest (TOTP secrets, backup-code hashes), newest first; the
    # one derived from CLERK_SECRET_KEY always follows. See core/secret_box.py.
    "CLERK_ENCRYPTION_KEYS": (),
    "CLERK_REVERIFY_URL": "/reverify",
    # Social sign-in: {"google": {"client_id": …, "client_secret": …}, …}; see
    # core/oauth_providers.py for the presets and custom OpenID Connect providers.
    "CLERK_OAUTH_PROVIDERS": {},
    # The dashboard: where, and who (emails or user ids; `flask clerk admins add` too)
    "CLERK_DASHBOARD_URL": "/__clerk/dashboard",
    "CLERK_DASHBOARD_ADMINS": (),
    "CLERK_IMPERSONATION_MAX_DURATION": 1800,  # s: an impersonation session's lifetime
    # Codes, lockout, rate limits
    "CLERK_CODE_LIFETIME": 600,
    "CLERK_CODE_ATTEMPTS": 5,
    "CLERK_CODE_RESEND_INTERVAL": 30,
    "CLERK_LOCKOUT_ATTEMPTS": 10,
    "CLERK_LOCKOUT_DURATION": 3600,
    "CLERK_RATELIMIT_ENABLED": True,
    "CLERK_RATE_LIMITS": {},
    "CLERK_REDIS_URL": None,
    # Mail
    "CLERK_SMTP_URL": None,
    "CLERK_MAIL_SENDER": None,
    "CLERK_DEV_MAILBOX": None,  # default: on for development (sk_test_) instances
    # Organizations
    "CLERK_ORGANIZATIONS": False,
    "CLERK_ORGANIZATION_MEMBERSHIP": "optional",  # "optional" (personal accounts) | "required"
    "CLERK_CREATE_ORGANIZATION_ENABLED": True,  # may every user create organizations?
    "CLERK_CREATE_ORGANIZATIONS_LIMIT": 100,  # per user
    "CLERK_ORGANIZATION_MAX_MEMBERSHIPS": None,  # per organization (None: unlimited)
    "CLERK_ORGANIZATION_ROLES": {},  # custom roles; see flask_clerk.core.roles
    "CLERK_ORGANIZATION_CREATOR_ROLE": "org:admin",
    "CLERK_ORGANIZATION_DEFAULT_ROLE": "org:member",
    "CLERK_ORGANIZATION_INVITATION_LIFETIME": 30 * 24 * 3600,
    "CLERK_ORGANIZATION_PROFILE_URL": "/organization",
    "CLERK_CREATE_ORGANIZATION_URL": "/create-organization",
    "CLERK_CHOOSE_ORGANIZATION_URL": "/choose-organization",
    "CLERK_AFTER_CREATE_ORGANIZATION_URL": "/",
    "CLERK_AFTER_LEAVE_ORGANIZATION_URL": "/",
    # Sending webhooks (the engine's outbox)
    "CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS": False,  # endpoints on loopback/private addresses
    "CLERK_WEBHOOKS_WORKER": None,  # "thread" | "off"; default: a thread when debugging
    "CLERK_WEBHOOKS_LEASE": 60,  # seconds a worker holds a delivery before another may retry
    # Receiving webhooks (flask_clerk.ClerkWebhooks)
    "CLERK_WEBHOOK_SIGNING_SECRET": None,  # whsec_…; CLERK_WEBHOOK_SECRET is accepted too
    "CLERK_WEBHOOK_SECRET": None,
    # Look and words
    "CLERK_APPEARANCE": {},
    "CLERK_MESSAGES": {},
}

RATE_LIMITS: dict[str, str] = {
    # per client IP
    "sign_in": "30/minute",
    "sign_up": "10/minute",
    "send_code": "5/minute",
    "verify": "30/minute",
    "invite": "60/hour",  # organization invitations sent
    # per email address, whoever asks: mails sent to it, and code guesses for it
    "address_sends": "10/hour",
    "address_guesses": "20/hour",
    # per secret key: the Backend API (Clerk's production limit)
    "backend_api": "1000/10 seconds",
}

SIGN_IN_STRATEGIES = ("password", "email_code", "email_link", "passkey")

_TUPLES = {
    "CLERK_SIGN_IN_STRATEGIES",
    "CLERK_PASSKEY_ORIGINS",
    "CLERK_ENCRYPTION_KEYS",
    "CLERK_DASHBOARD_ADMINS",
    "CLERK_ALLOWLIST",
    "CLERK_BLOCKLIST",
    "CLERK_ALLOWED_REDIRECT_ORIGINS",
    "CLERK_PROTECTED_ROUTES",
    "CLERK_AUTHORIZED_PARTIES",
}


def _from_env(key: str, default: Any) -> Any:
    raw = os.environ.get(key)
    if raw is None:
        return default
    if isinstance(default, dict):
        # A mapping from the environment (.env) is JSON: secrets such as
        # CLERK_OAUTH_PROVIDERS' client secrets belong there, not in code.
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ClerkConfigError(
                f"{key} in the environment must be a JSON object: {exc}") from exc
        if not isinstance(value, dict):
            raise ClerkConfigError(f"{key} in the environment must be a JSON object.")
        return value
    if key in _TUPLES:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def apply_defaults(config: dict[str, Any]) -> None:
    for key, default in DEFAULTS.items():
        config.setdefault(key, _from_env(key, default))


def frontend_api_from_publishable_key(key: str) -> str:
    """``pk_test_<base64("host/path$")>`` -> ``http(s)://host/path``."""
    try:
        encoded = key.split("_", 2)[2]
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ClerkConfigError(f"CLERK_PUBLISHABLE_KEY is malformed: {key!r}") from exc
    if not decoded.endswith("$"):
        raise ClerkConfigError(f"CLERK_PUBLISHABLE_KEY is malformed: {key!r}")
    host = decoded[:-1]
    # Loopback hosts (*.localhost included, RFC 6761) are served over http.
    local = re.match(r"^(([a-z0-9-]+\.)*localhost|127\.0\.0\.1|\[::1\])(:|/|$)", host)
    return ("http://" if local else "https://") + host


_HOST = re.compile(r"^(?=.{1,253}(:|$))([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+"
                   r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:\d{1,5})?$")


def _auth_domain(domain: Any, cookie_domain: Any, issuer: str) -> tuple[str | None, str | None]:
    """``CLERK_DOMAIN`` checked (a host name with at least one dot, and an optional
    port) and the cookies' domain: ``CLERK_COOKIE_DOMAIN``, or the host's parent.
    The publishable key must name the same host: it is the frontend API's."""
    if not domain:
        return None, None
    domain = str(domain).strip().lower()
    if not _HOST.match(domain):
        raise ClerkConfigError(
            f"CLERK_DOMAIN must be a host name such as auth.example.com, not {domain!r}.")
    hostname = domain.split(":")[0]
    if hostname.rsplit(".", 1)[1].isdigit():
        raise ClerkConfigError(
            f"CLERK_DOMAIN must be a host name, not an IP address ({domain!r}): cookies "
            "cannot be shared through an address.")
    encoded = issuer.split("://", 1)[1].split("/")[0].lower()
    if encoded != domain:
        raise ClerkConfigError(
            f"CLERK_PUBLISHABLE_KEY encodes the host {encoded!r}, but CLERK_DOMAIN is "
            f"{domain!r}: the publishable key names the frontend API's host. Remove "
            f"CLERK_PUBLISHABLE_KEY from .env and run `flask clerk init --host {domain}`.")
    parent = str(cookie_domain).strip().lower().lstrip(".") if cookie_domain else (
        hostname.split(".", 1)[1] if hostname.count(".") >= 2 else hostname)
    if not (hostname == parent or hostname.endswith("." + parent)) or "." not in parent:
        raise ClerkConfigError(
            f"CLERK_COOKIE_DOMAIN must be {hostname!r} or a parent domain of it.")
    return domain, parent


@dataclass(frozen=True)
class Settings:
    publishable_key: str
    secret_key: str
    development: bool
    issuer: str
    database_url: str
    application_name: str | None
    sign_in_url: str
    sign_up_url: str
    user_profile_url: str
    after_sign_in_url: str
    after_sign_up_url: str
    after_sign_out_url: str
    account_pages: bool
    allowed_redirect_origins: tuple[str, ...]
    protected_routes: tuple[str, ...]
    authorized_parties: tuple[str, ...]
    session_token_lifetime: int
    session_max_lifetime: int
    session_inactivity_timeout: int | None
    client_lifetime: int
    clock_skew: int
    token_cache_size: int
    cookie_secure: bool
    sign_up_name: str
    password_min_length: int
    password_max_length: int
    password_hash: Mapping[str, int]
    code_lifetime: int
    code_attempts: int
    code_resend_interval: int
    lockout_attempts: int
    lockout_duration: int
    ratelimit_enabled: bool
    rate_limits: Mapping[str, str]
    redis_url: str | None
    smtp_url: str | None
    mail_sender: str
    dev_mailbox: bool
    webhooks_allow_private_urls: bool = False
    webhooks_worker: str = "off"
    webhooks_lease: int = 60
    organizations: bool = False
    organization_membership: str = "optional"
    create_organization_enabled: bool = True
    create_organizations_limit: int = 100
    organization_max_memberships: int | None = None
    organization_roles: Mapping[str, Role] = field(default_factory=dict)
    organization_creator_role: str = "org:admin"
    organization_default_role: str = "org:member"
    organization_invitation_lifetime: int = 30 * 24 * 3600
    organization_profile_url: str = "/organization"
    create_organization_url: str = "/create-organization"
    choose_organization_url: str = "/choose-organization"
    after_create_organization_url: str = "/"
    after_leave_organization_url: str = "/"
    messages: Mapping[str, str] = field(default_factory=dict)
    sign_in_strategies: tuple[str, ...] = SIGN_IN_STRATEGIES
    mfa_required: bool = False
    multi_session: bool = False
    passkey_rp_id: str | None = None
    passkey_origins: tuple[str, ...] = ()
    setup_mfa_url: str = "/setup-mfa"
    reverify_url: str = "/reverify"
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    oauth_providers: tuple[OAuthProvider, ...] = field(default=(), repr=False)
    sign_up_mode: str = "public"
    waitlist_url: str = "/waitlist"
    allowlist: tuple[str, ...] = ()
    blocklist: tuple[str, ...] = ()
    dashboard_url: str = "/__clerk/dashboard"
    remote: bool = False  # (remote mode has its own settings: flask_clerk.remote)
    domain: str | None = None  # the auth host (and port), lower case
    cookie_domain: str | None = None
    dashboard_admins: tuple[str, ...] = ()
    impersonation_max_duration: int = 1800

    @property
    def instance_id(self) -> str:
        """``ins_…``, stable for the instance (derived from its publishable key)."""
        digest = hashlib.sha256(self.publishable_key.encode()).digest()
        return "ins_" + base64.b32encode(digest).decode().rstrip("=").lower()[:27]

    @property
    def code_key(self) -> bytes:
        """Key for hashing short codes: derived from the instance's secret key."""
        return ("flask_clerk.codes:" + self.secret_key).encode()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, instance_path: str, debug: bool,
                    debug_server: bool = False) -> Settings:
        def get(key: str) -> Any:
            return config.get(key)

        secret_key = get("CLERK_SECRET_KEY") or ""
        publishable_key = get("CLERK_PUBLISHABLE_KEY") or ""
        if not secret_key or not publishable_key:
            raise ClerkConfigError(
                "CLERK_SECRET_KEY and CLERK_PUBLISHABLE_KEY are not set. Run `flask clerk init` "
                "to create an instance (it writes both to .env), or set them in the config."
            )
        if not secret_key.startswith(("sk_test_", "sk_live_")):
            raise ClerkConfigError("CLERK_SECRET_KEY must start with sk_test_ or sk_live_.")
        if not publishable_key.startswith(("pk_test_", "pk_live_")):
            raise ClerkConfigError("CLERK_PUBLISHABLE_KEY must start with pk_test_ or pk_live_.")
        development = secret_key.startswith("sk_test_")
        if development != publishable_key.startswith("pk_test_"):
            raise ClerkConfigError("CLERK_PUBLISHABLE_KEY and CLERK_SECRET_KEY mix test and live.")
        smtp_url = get("CLERK_SMTP_URL") or _smtp_url_from_mail_settings(config)
        dev_mailbox = get("CLERK_DEV_MAILBOX")
        if dev_mailbox is None:
            # Codes in a browsable mailbox and on the console: only for a development
            # instance that is visibly being developed (debug or testing).
            dev_mailbox = development and debug
        if not development and (dev_mailbox or not smtp_url):
            raise ClerkConfigError(
                "A production (sk_live_) instance needs real mail: set CLERK_SMTP_URL "
                "(smtp://user:password@host:587?starttls=1) and leave CLERK_DEV_MAILBOX off."
            )
        lockout_attempts = int(get("CLERK_LOCKOUT_ATTEMPTS"))
        if not 1 <= lockout_attempts <= 100:
            raise ClerkConfigError("CLERK_LOCKOUT_ATTEMPTS must be between 1 and 100.")
        strategies = tuple(get("CLERK_SIGN_IN_STRATEGIES") or ())
        unknown_strategies = [s for s in strategies if s not in SIGN_IN_STRATEGIES]
        if unknown_strategies or not strategies:
            raise ClerkConfigError(
                f"CLERK_SIGN_IN_STRATEGIES must name one or more of {list(SIGN_IN_STRATEGIES)}"
                + (f" (unknown: {unknown_strategies})." if unknown_strategies else "."))
        sign_up_name = get("CLERK_SIGN_UP_NAME")
        if sign_up_name not in {"optional", "required", "off"}:
            raise ClerkConfigError('CLERK_SIGN_UP_NAME must be "optional", "required" or "off".')
        min_len, max_len = int(get("CLERK_PASSWORD_MIN_LENGTH")), int(
            get("CLERK_PASSWORD_MAX_LENGTH")
        )
        if not 1 <= min_len <= 64 or max_len < max(64, min_len) or max_len > 4096:
            raise ClerkConfigError(
                "CLERK_PASSWORD_MIN_LENGTH must be 1–64 and CLERK_PASSWORD_MAX_LENGTH 64–4096."
            )
        rate_limits = {**RATE_LIMITS, **(get("CLERK_RATE_LIMITS") or {})}
        unknown = set(rate_limits) - set(RATE_LIMITS)
        if unknown:
            raise ClerkConfigError(
                f"CLERK_RATE_LIMITS has unknown keys {sorted(unknown)}; "
                f"known: {sorted(RATE_LIMITS)}"
            )
        clock_skew = int(get("CLERK_CLOCK_SKEW"))
        if not 0 <= clock_skew <= 5:
            raise ClerkConfigError("CLERK_CLOCK_SKEW must be 0–5 seconds (ASVS: at most 5 s).")
        cookie_secure = get("CLERK_COOKIE_SECURE")
        secure = (not debug) if cookie_secure is None else bool(cookie_secure)
        issuer = frontend_api_from_publishable_key(publishable_key)
        domain, cookie_domain = _auth_domain(get("CLERK_DOMAIN"), get("CLERK_COOKIE_DOMAIN"),
                                             issuer)
        database_url = get("CLERK_DATABASE_URL") or "sqlite:///" + os.path.join(
            instance_path, "clerk.db"
        )
        organization_roles = roles_from_settings(get("CLERK_ORGANIZATION_ROLES"))
        membership = get("CLERK_ORGANIZATION_MEMBERSHIP")
        if membership not in {"optional", "required"}:
            raise ClerkConfigError(
                'CLERK_ORGANIZATION_MEMBERSHIP must be "optional" (personal accounts allowed) '
                'or "required".'
            )
        creator_role, default_role = (
            _role_setting(get(key), key, organization_roles)
            for key in ("CLERK_ORGANIZATION_CREATOR_ROLE", "CLERK_ORGANIZATION_DEFAULT_ROLE")
        )
        max_memberships = get("CLERK_ORGANIZATION_MAX_MEMBERSHIPS")
        worker = get("CLERK_WEBHOOKS_WORKER") or ("thread" if development and debug_server
                                                  else "off")
        if worker not in {"thread", "off"}:
            raise ClerkConfigError('CLERK_WEBHOOKS_WORKER must be "thread" or "off" '
                                   "(production: run `flask clerk worker` processes).")
        return cls(
            publishable_key=publishable_key,
            secret_key=secret_key,
            development=development,
            issuer=issuer,
            database_url=database_url,
            application_name=get("CLERK_APPLICATION_NAME"),
            sign_in_url=get("CLERK_SIGN_IN_URL"),
            sign_up_url=get("CLERK_SIGN_UP_URL"),
            waitlist_url=get("CLERK_WAITLIST_URL"),
            user_profile_url=get("CLERK_USER_PROFILE_URL"),
            after_sign_in_url=get("CLERK_AFTER_SIGN_IN_URL"),
            after_sign_up_url=get("CLERK_AFTER_SIGN_UP_URL"),
            after_sign_out_url=get("CLERK_AFTER_SIGN_OUT_URL"),
            account_pages=bool(get("CLERK_ACCOUNT_PAGES")),
            allowed_redirect_origins=tuple(get("CLERK_ALLOWED_REDIRECT_ORIGINS") or ()) + tuple(
                f"{scheme}://{domain}" for scheme in ("https", "http")
                if domain and (scheme == "https" or not secure)),
            domain=domain,
            cookie_domain=cookie_domain,
            protected_routes=tuple(get("CLERK_PROTECTED_ROUTES") or ()),
            authorized_parties=tuple(get("CLERK_AUTHORIZED_PARTIES") or ()),
            session_token_lifetime=int(get("CLERK_SESSION_TOKEN_LIFETIME")),
            session_max_lifetime=int(get("CLERK_SESSION_MAX_LIFETIME")),
            session_inactivity_timeout=(
                int(get("CLERK_SESSION_INACTIVITY_TIMEOUT"))
                if get("CLERK_SESSION_INACTIVITY_TIMEOUT")
                else None
            ),
            client_lifetime=int(get("CLERK_CLIENT_LIFETIME")),
            clock_skew=clock_skew,
            token_cache_size=int(get("CLERK_TOKEN_CACHE_SIZE")),
            cookie_secure=secure,
            sign_up_name=sign_up_name,
            password_min_length=min_len,
            password_max_length=max_len,
            password_hash={
                "time_cost": int(get("CLERK_PASSWORD_HASH_TIME_COST")),
                "memory_cost": int(get("CLERK_PASSWORD_HASH_MEMORY_COST")),
                "parallelism": int(get("CLERK_PASSWORD_HASH_PARALLELISM")),
            },
            code_lifetime=int(get("CLERK_CODE_LIFETIME")),
            code_attempts=int(get("CLERK_CODE_ATTEMPTS")),
            code_resend_interval=int(get("CLERK_CODE_RESEND_INTERVAL")),
            lockout_attempts=lockout_attempts,
            lockout_duration=int(get("CLERK_LOCKOUT_DURATION")),
            ratelimit_enabled=bool(get("CLERK_RATELIMIT_ENABLED")),
            rate_limits=rate_limits,
            redis_url=get("CLERK_REDIS_URL"),
            smtp_url=smtp_url,
            mail_sender=get("CLERK_MAIL_SENDER")
            or config.get("MAIL_DEFAULT_SENDER")
            or "no-reply@localhost",
            dev_mailbox=bool(dev_mailbox),
            webhooks_allow_private_urls=bool(get("CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS")),
            webhooks_worker=worker,
            webhooks_lease=max(1, int(get("CLERK_WEBHOOKS_LEASE"))),
            organizations=bool(get("CLERK_ORGANIZATIONS")),
            organization_membership=membership,
            create_organization_enabled=bool(get("CLERK_CREATE_ORGANIZATION_ENABLED")),
            create_organizations_limit=int(get("CLERK_CREATE_ORGANIZATIONS_LIMIT")),
            organization_max_memberships=int(max_memberships) if max_memberships else None,
            organization_roles=organization_roles,
            organization_creator_role=creator_role,
            organization_default_role=default_role,
            organization_invitation_lifetime=int(get("CLERK_ORGANIZATION_INVITATION_LIFETIME")),
            organization_profile_url=get("CLERK_ORGANIZATION_PROFILE_URL"),
            create_organization_url=get("CLERK_CREATE_ORGANIZATION_URL"),
            choose_organization_url=get("CLERK_CHOOSE_ORGANIZATION_URL"),
            after_create_organization_url=get("CLERK_AFTER_CREATE_ORGANIZATION_URL"),
            after_leave_organization_url=get("CLERK_AFTER_LEAVE_ORGANIZATION_URL"),
            messages=dict(get("CLERK_MESSAGES") or {}),
            sign_in_strategies=strategies,
            mfa_required=bool(get("CLERK_MFA_REQUIRED")),
            multi_session=_flag(get("CLERK_MULTI_SESSION")),
            passkey_rp_id=get("CLERK_PASSKEY_RP_ID"),
            passkey_origins=tuple(get("CLERK_PASSKEY_ORIGINS") or ()),
            setup_mfa_url=get("CLERK_SETUP_MFA_URL"),
            reverify_url=get("CLERK_REVERIFY_URL"),
            encryption_keys=_encryption_keys(get("CLERK_ENCRYPTION_KEYS")),
            oauth_providers=providers_from_settings(get("CLERK_OAUTH_PROVIDERS"),
                                                    require_https=not development),
            dashboard_url=_path_setting(get("CLERK_DASHBOARD_URL"), "CLERK_DASHBOARD_URL"),
            dashboard_admins=tuple(str(a).strip().lower() if "@" in str(a) else str(a).strip()
                                   for a in get("CLERK_DASHBOARD_ADMINS") or ()),
            impersonation_max_duration=max(60, int(get("CLERK_IMPERSONATION_MAX_DURATION"))),
            **editable_from_config(config),
        )


# -- Settings the dashboard may change (stored in the identity store, over the config) --

_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _strategies(value: Any) -> tuple[str, ...]:
    items = tuple(str(v) for v in (value.split() if isinstance(value, str) else value or ()))
    if not items or any(v not in SIGN_IN_STRATEGIES for v in items):
        raise ValueError(f"one or more of {', '.join(SIGN_IN_STRATEGIES)}")
    return tuple(dict.fromkeys(items))


def _identifiers(value: Any) -> tuple[str, ...]:
    """Email addresses and domains (``example.com``), lower-cased."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    cleaned = []
    for item in items:
        item = str(item).strip().lower().lstrip("@")
        local, at, domain = item.rpartition("@")
        if (at and not local) or not _DOMAIN.fullmatch(domain if at else item) or len(item) > 320:
            raise ValueError(f"{item!r} is neither an email address nor a domain")
        cleaned.append(item)
    if len(cleaned) > 1000:
        raise ValueError("at most 1000 entries")
    return tuple(dict.fromkeys(cleaned))


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(" or ".join(f'"{c}"' for c in choices))
        return str(value)
    return parse


def _number(low: int, high: int, *, optional: bool = False) -> Callable[[Any], int | None]:
    def parse(value: Any) -> int | None:
        if optional and value in (None, "", 0, "0"):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return number
    return parse


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


# field -> how a stored (or posted) value is read; the dashboard edits these.
EDITABLE: dict[str, Callable[[Any], Any]] = {
    "sign_in_strategies": _strategies,
    "sign_up_mode": _choice("public", "restricted", "waitlist"),
    "allowlist": _identifiers,
    "blocklist": _identifiers,
    "session_max_lifetime": _number(300, 366 * 24 * 3600),
    "session_inactivity_timeout": _number(300, 366 * 24 * 3600, optional=True),
    "multi_session": _flag,
    "lockout_attempts": _number(1, 100),
    "lockout_duration": _number(60, 30 * 24 * 3600),
    "password_min_length": _number(1, 64),
    "mfa_required": _flag,
    "create_organization_enabled": _flag,
    "create_organizations_limit": _number(0, 100_000),
    "organization_max_memberships": _number(1, 1_000_000, optional=True),
}


def editable_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The editable settings that only the config (not ``from_config``'s own checks)
    reads: the sign-up mode and the allow and block lists."""
    values = {}
    for name, key in (("sign_up_mode", "CLERK_SIGN_UP_MODE"), ("allowlist", "CLERK_ALLOWLIST"),
                      ("blocklist", "CLERK_BLOCKLIST")):
        try:
            values[name] = EDITABLE[name](config.get(key))
        except ValueError as exc:
            raise ClerkConfigError(f"{key} must be {exc}.") from None
    return values


def identifier_allowed(settings: Settings, email: str, *, signing_up: bool) -> bool:
    """Whether the allow and block lists let ``email`` in: the allowlist (when it has
    entries) for signing up and in, the blocklist for signing up."""
    domain = email.rpartition("@")[2]

    def listed(entries: tuple[str, ...]) -> bool:
        return email in entries or any(domain == e or domain.endswith("." + e)
                                       for e in entries if "@" not in e)

    if settings.allowlist and not listed(settings.allowlist):
        return False
    return not (signing_up and listed(settings.blocklist))


def _path_setting(value: Any, name: str) -> str:
    path = str(value or "").rstrip("/")
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", path):
        raise ClerkConfigError(f"{name} must be a path such as /__clerk/dashboard.")
    return path


def _encryption_keys(value: Any) -> tuple[str, ...]:
    keys = tuple(value or ())
    if any(not isinstance(k, str) or len(k) < 32 for k in keys):
        raise ClerkConfigError(
            "CLERK_ENCRYPTION_KEYS: each key must be a string of 32 characters or more "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).")
    return keys


def _role_setting(value: Any, name: str, roles: Mapping[str, Role]) -> str:
    try:
        key = role_key(str(value))
    except ClerkError:
        key = ""
    if key not in roles:
        raise ClerkConfigError(f"{name} names no known role: {value!r} (known: {sorted(roles)}).")
    return key


def _smtp_url_from_mail_settings(config: Mapping[str, Any]) -> str | None:
    """Flask-Mail style ``MAIL_*`` settings as an SMTP URL."""
    server = config.get("MAIL_SERVER")
    if not server:
        return None
    from urllib.parse import quote

    scheme = "smtps" if config.get("MAIL_USE_SSL") else "smtp"
    user = config.get("MAIL_USERNAME")
    password = config.get("MAIL_PASSWORD") or ""
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
    port = config.get("MAIL_PORT") or (465 if scheme == "smtps" else 25)
    query = "?starttls=1" if config.get("MAIL_USE_TLS") else ""
    return f"{scheme}://{auth}{server}:{port}{query}"
