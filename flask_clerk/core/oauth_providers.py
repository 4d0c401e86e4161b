"""The OAuth / OpenID Connect providers an instance offers (``CLERK_OAUTH_PROVIDERS``).

Each entry names a preset (``google``, ``github``, …) or a custom OpenID Connect
provider (``custom_<name>`` with its ``issuer``), with the app's ``client_id`` and
``client_secret`` at that provider, and optionally ``scopes`` and endpoint
overrides (``discovery_url``, ``authorize_url``, ``token_url``, ``userinfo_url``,
``emails_url``: a test provider can stand in for a preset that way)::

    CLERK_OAUTH_PROVIDERS = {
        "google": {"client_id": "…", "client_secret": "…"},
        "github": {"client_id": "…", "client_secret": "…"},
        "custom_acme": {"issuer": "https://id.acme.test", "name": "Acme SSO",
                        "client_id": "…", "client_secret": "…"},
    }

OpenID Connect providers are read from their discovery document and their ID
token is verified; plain OAuth 2 ones (GitHub, Discord) are read from their user
API, and GitHub's verified primary email from its emails API. The strategy of each
is Clerk's ``oauth_<key>`` (``oauth_custom_<name>`` for custom ones).

Apple signs its client secret itself: give ``team_id``, ``key_id`` and the
``private_key`` (PEM) of a Sign in with Apple key instead of ``client_secret``.

What a provider says about the user becomes one :class:`ProviderIdentity`, the
same for every provider, here; the protocol itself runs in ``web/oauth.py``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt

from ..errors import ClerkConfigError


@dataclass(frozen=True)
class OAuthProvider:
    key: str  # "google", "custom_acme"
    name: str  # shown on the button: "Google"
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ()
    discovery_url: str | None = None  # OpenID Connect: endpoints and keys from here
    authorize_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    emails_url: str | None = None  # GitHub: the verified primary email
    token_auth: str = "client_secret_basic"  # noqa: S105 - a method name, not a secret
    response_mode: str | None = None  # Apple: "form_post" (the callback is a POST)
    apple_key: tuple[str, str, str] | None = field(default=None, repr=False)  # team, key id, PEM
    issuer: str | None = None  # a custom provider's: its discovery document must say the same

    @property
    def strategy(self) -> str:
        return f"oauth_{self.key}"

    @property
    def openid(self) -> bool:
        return self.discovery_url is not None


# The presets: what each provider needs besides the app's credentials.
PRESETS: dict[str, dict[str, Any]] = {
    "google": {"name": "Google", "scopes": ("openid", "email", "profile"),
               "discovery_url": "https://accounts.google.com/.well-known/openid-configuration"},
    "microsoft": {"name": "Microsoft", "scopes": ("openid", "email", "profile"),
                  "discovery_url": "https://login.microsoftonline.com/common/v2.0"
                                   "/.well-known/openid-configuration"},
    "gitlab": {"name": "GitLab", "scopes": ("openid", "email", "profile"),
               "discovery_url": "https://gitlab.com/.well-known/openid-configuration"},
    "apple": {"name": "Apple", "scopes": ("openid", "email", "name"),
              "discovery_url": "https://appleid.apple.com/.well-known/openid-configuration",
              "token_auth": "client_secret_post", "response_mode": "form_post"},
    "linkedin_oidc": {"name": "LinkedIn", "scopes": ("openid", "email", "profile"),
                      "discovery_url": "https://www.linkedin.com/oauth"
                                       "/.well-known/openid-configuration"},
    "slack": {"name": "Slack", "scopes": ("openid", "email", "profile"),
              "discovery_url": "https://slack.com/.well-known/openid-configuration"},
    "github": {"name": "GitHub", "scopes": ("read:user", "user:email"),
               "authorize_url": "https://github.com/login/oauth/authorize",
               "token_url": "https://github.com/login/oauth/access_token",
               "userinfo_url": "https://api.github.com/user",
               "emails_url": "https://api.github.com/user/emails",
               "token_auth": "client_secret_post"},
    "discord": {"name": "Discord", "scopes": ("identify", "email"),
                "authorize_url": "https://discord.com/oauth2/authorize",
                "token_url": "https://discord.com/api/oauth2/token",
                "userinfo_url": "https://discord.com/api/users/@me"},
}

ENDPOINTS = ("discovery_url", "authorize_url", "token_url", "userinfo_url", "emails_url")
APPLE_KEY = ("team_id", "key_id", "private_key")
KNOWN_KEYS = {"client_id", "client_secret", "scopes", "name", "issuer", *ENDPOINTS, *APPLE_KEY}
# oauth_custom_<name> fits the 30 characters of a sign-in's strategy.
CUSTOM = re.compile(r"custom_[a-z0-9_]{1,17}")


def providers_from_settings(config: Mapping[str, Any] | None, *,
                            require_https: bool = False) -> tuple[OAuthProvider, ...]:
    """``CLERK_OAUTH_PROVIDERS`` read and checked once, in the order given. A live
    instance (``require_https``) talks to providers over HTTPS only."""
    providers = []
    for key, entry in (config or {}).items():
        where = f"CLERK_OAUTH_PROVIDERS[{key!r}]"
        if not isinstance(entry, Mapping):
            raise ClerkConfigError(f"{where} must be a mapping of settings.")
        unknown = set(entry) - KNOWN_KEYS
        if unknown:
            raise ClerkConfigError(f"{where} has unknown keys {sorted(unknown)}.")
        if key in PRESETS:
            base = dict(PRESETS[key])
        elif CUSTOM.fullmatch(key):
            issuer = str(entry.get("issuer") or "").rstrip("/")
            if not issuer.startswith(("https://", "http://")) and not entry.get("discovery_url"):
                raise ClerkConfigError(f"{where} needs its OpenID Connect issuer URL.")
            base = {"name": key.removeprefix("custom_").replace("_", " ").title(),
                    "scopes": ("openid", "email", "profile"), "issuer": issuer or None,
                    "discovery_url": f"{issuer}/.well-known/openid-configuration"}
        else:
            raise ClerkConfigError(
                f"{where}: unknown provider. Presets: {sorted(PRESETS)}; or custom_<name> "
                "with an issuer (any OpenID Connect provider).")
        apple_key = None
        if key == "apple" and not entry.get("client_secret"):
            apple_key = _apple_key(entry, where)
        for credential in ("client_id", "client_secret")[:1 if apple_key else 2]:
            if not isinstance(entry.get(credential), str) or not entry[credential]:
                raise ClerkConfigError(f"{where} needs its {credential}"
                                       + (" (or team_id, key_id and private_key)."
                                          if key == "apple" else "."))
        scopes = entry.get("scopes", base["scopes"])
        if isinstance(scopes, str):
            scopes = scopes.split()
        overrides = {k: str(entry[k]) for k in ENDPOINTS if entry.get(k)}
        insecure = [k for k, v in {**overrides, "issuer": entry.get("issuer") or "https:"}.items()
                    if not str(v).startswith("https:")]
        if require_https and insecure:
            raise ClerkConfigError(f"{where}: {', '.join(sorted(insecure))} must be https:// "
                                   "URLs on a live instance.")
        if overrides.get("discovery_url"):
            # An OpenID Connect stand-in (tests): its discovery document says it all.
            for k in ("authorize_url", "token_url", "userinfo_url"):
                base.pop(k, None)
        providers.append(OAuthProvider(
            key=key, name=str(entry.get("name") or base["name"]),
            client_id=entry["client_id"], client_secret=entry.get("client_secret") or "",
            scopes=tuple(str(s) for s in scopes), apple_key=apple_key,
            **{k: v for k, v in {**base, **overrides}.items()
               if k in (*ENDPOINTS, "token_auth", "response_mode", "issuer")},
        ))
    return tuple(providers)


def _apple_key(entry: Mapping[str, Any], where: str) -> tuple[str, str, str]:
    values = tuple(str(entry.get(k) or "") for k in APPLE_KEY)
    if not all(values):
        raise ClerkConfigError(f"{where} needs client_secret, or team_id, key_id and "
                               "private_key (the .p8 key's PEM) to sign one.")
    try:
        jwt.get_algorithm_by_name("ES256").prepare_key(values[2])
    except (ValueError, TypeError, jwt.InvalidKeyError) as exc:
        raise ClerkConfigError(f"{where}: private_key is not an EC private key in PEM "
                               f"({exc}).") from exc
    return values[0], values[1], values[2]


# -- Apple's client secret: a JWT the app signs (ES256), good for up to 6 months -----

APPLE_AUDIENCE = "https://appleid.apple.com"
APPLE_SECRET_LIFETIME = 3600  # s; a new one is signed when less than half is left
_apple_secrets: dict[tuple[str, str, str], tuple[str, float]] = {}
_apple_lock = threading.Lock()


def client_secret(provider: OAuthProvider) -> str:
    """The secret to send to ``provider``'s token endpoint."""
    if provider.apple_key is None:
        return provider.client_secret
    team_id, key_id, pem = provider.apple_key
    cache_key = (provider.client_id, team_id, key_id)
    now = time.time()
    with _apple_lock:
        secret, expires = _apple_secrets.get(cache_key, ("", 0.0))
        if expires - now < APPLE_SECRET_LIFETIME / 2:
            expires = now + APPLE_SECRET_LIFETIME
            secret = jwt.encode(
                {"iss": team_id, "iat": int(now), "exp": int(expires),
                 "aud": APPLE_AUDIENCE, "sub": provider.client_id},
                pem, algorithm="ES256", headers={"kid": key_id})
            _apple_secrets[cache_key] = (secret, expires)
    return secret


# -- What the provider says about the user --------------------------------------------


@dataclass(frozen=True)
class ProviderIdentity:
    """The user as a provider describes them, checked and trimmed."""

    provider: str  # the strategy: oauth_google
    provider_user_id: str
    email: str | None  # lower-cased, or None
    email_verified: bool  # the provider vouches for the address
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    image_url: str | None = None
    approved_scopes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class IdentityInvalid(ValueError):
    """The provider's answer has no usable user id."""


def identity_from_claims(provider: OAuthProvider, claims: Mapping[str, Any],
                         scopes: str) -> ProviderIdentity:
    """From an OpenID Connect ID token's (and userinfo's) standard claims."""
    first, last = _text(claims.get("given_name"), 100), _text(claims.get("family_name"), 100)
    if not (first or last):
        first, last = _split_name(claims.get("name"))
    return ProviderIdentity(
        provider=provider.strategy, provider_user_id=_subject(claims.get("sub")),
        email=_email(claims.get("email")), email_verified=_true(claims.get("email_verified")),
        first_name=first, last_name=last,
        username=_text(claims.get("preferred_username") or claims.get("nickname"), 100),
        image_url=_url(claims.get("picture")), approved_scopes=scopes,
    )


def identity_from_github(provider: OAuthProvider, user: Mapping[str, Any],
                         emails: list[Any], scopes: str) -> ProviderIdentity:
    """From GitHub's ``/user``, and ``/user/emails`` for the verified primary address
    (``/user``'s ``email`` is whatever the profile shows, and may be unverified)."""
    primary = next((e for e in emails if isinstance(e, Mapping) and e.get("primary")), None)
    first, last = _split_name(user.get("name"))
    return ProviderIdentity(
        provider=provider.strategy, provider_user_id=_subject(user.get("id")),
        email=_email(primary.get("email")) if primary else _email(user.get("email")),
        email_verified=bool(primary and primary.get("verified") is True),
        first_name=first, last_name=last, username=_text(user.get("login"), 100),
        image_url=_url(user.get("avatar_url")), approved_scopes=scopes,
    )


def identity_from_discord(provider: OAuthProvider, user: Mapping[str, Any],
                          scopes: str) -> ProviderIdentity:
    user_id = _subject(user.get("id"))
    avatar = user.get("avatar")
    image = (f"https://cdn.discordapp.com/avatars/{user_id}/{avatar}.png"
             if isinstance(avatar, str) and re.fullmatch(r"\w{1,64}", avatar) else None)
    first, last = _split_name(user.get("global_name"))
    return ProviderIdentity(
        provider=provider.strategy, provider_user_id=user_id, email=_email(user.get("email")),
        email_verified=user.get("verified") is True, first_name=first, last_name=last,
        username=_text(user.get("username"), 100), image_url=image, approved_scopes=scopes,
    )


def _subject(value: Any) -> str:
    subject = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not subject or len(subject) > 255 or not subject.isprintable():
        raise IdentityInvalid("the provider sent no user id")
    return subject


def _text(value: Any, limit: int) -> str | None:
    """One line of printable text (no NUL or control characters), trimmed."""
    if not isinstance(value, str):
        return None
    value = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return value[:limit] or None


def scopes_text(value: Any) -> str:
    """The scopes the provider granted, as one line of at most 1,000 characters."""
    return _text(value, 1000) or ""


def _split_name(value: Any) -> tuple[str | None, str | None]:
    name = _text(value, 201)
    if not name:
        return None, None
    first, _, last = name.partition(" ")
    return first[:100], (last[:100] or None)


def _email(value: Any) -> str | None:
    """The address as our own sign-up would accept it (ASCII only: a provider's
    "\u212aim@example.com" must not become kim@example.com), else None."""
    from ..errors import ClerkError
    from .users import normalize_email  # (users imports settings, which imports us)

    if not isinstance(value, str):
        return None
    try:
        return normalize_email(value)
    except ClerkError:
        return None


def _true(value: Any) -> bool:
    # Apple sends "true" as a string.
    return value is True or value == "true"


def _url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 2048:
        return None
    parts = urlsplit(value)
    ok = parts.scheme in {"https", "http"} and parts.netloc and value.isprintable()
    return value if ok else None
