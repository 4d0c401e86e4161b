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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ClerkConfigError


@dataclass(frozen=True)
class OAuthProvider:
    key: str  # "google", "custom_acme"
    name: str  # shown on the button: "Google"
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    discovery_url: str | None = None  # OpenID Connect: endpoints and keys from here
    authorize_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    emails_url: str | None = None  # GitHub: the verified primary email

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
              "discovery_url": "https://appleid.apple.com/.well-known/openid-configuration"},
    "linkedin_oidc": {"name": "LinkedIn", "scopes": ("openid", "email", "profile"),
                      "discovery_url": "https://www.linkedin.com/oauth"
                                       "/.well-known/openid-configuration"},
    "slack": {"name": "Slack", "scopes": ("openid", "email", "profile"),
              "discovery_url": "https://slack.com/.well-known/openid-configuration"},
    "github": {"name": "GitHub", "scopes": ("read:user", "user:email"),
               "authorize_url": "https://github.com/login/oauth/authorize",
               "token_url": "https://github.com/login/oauth/access_token",
               "userinfo_url": "https://api.github.com/user",
               "emails_url": "https://api.github.com/user/emails"},
    "discord": {"name": "Discord", "scopes": ("identify", "email"),
                "authorize_url": "https://discord.com/oauth2/authorize",
                "token_url": "https://discord.com/api/oauth2/token",
                "userinfo_url": "https://discord.com/api/users/@me"},
}

ENDPOINTS = ("discovery_url", "authorize_url", "token_url", "userinfo_url", "emails_url")
KNOWN_KEYS = {"client_id", "client_secret", "scopes", "name", "issuer", *ENDPOINTS}
CUSTOM = re.compile(r"custom_[a-z0-9_]{1,40}")


def providers_from_settings(config: Mapping[str, Any] | None) -> tuple[OAuthProvider, ...]:
    """``CLERK_OAUTH_PROVIDERS`` read and checked once, in the order given."""
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
                    "scopes": ("openid", "email", "profile"),
                    "discovery_url": f"{issuer}/.well-known/openid-configuration"}
        else:
            raise ClerkConfigError(
                f"{where}: unknown provider. Presets: {sorted(PRESETS)}; or custom_<name> "
                "with an issuer (any OpenID Connect provider).")
        for credential in ("client_id", "client_secret"):
            if not isinstance(entry.get(credential), str) or not entry[credential]:
                raise ClerkConfigError(f"{where} needs its {credential}.")
        scopes = entry.get("scopes", base["scopes"])
        if isinstance(scopes, str):
            scopes = scopes.split()
        overrides = {k: str(entry[k]) for k in ENDPOINTS if entry.get(k)}
        if overrides.get("discovery_url"):
            # An OpenID Connect stand-in (tests): its discovery document says it all.
            for k in ("authorize_url", "token_url", "userinfo_url"):
                base.pop(k, None)
        providers.append(OAuthProvider(
            key=key, name=str(entry.get("name") or base["name"]),
            client_id=entry["client_id"], client_secret=entry["client_secret"],
            scopes=tuple(str(s) for s in scopes),
            **{k: v for k, v in {**base, **overrides}.items() if k in ENDPOINTS},
        ))
    return tuple(providers)
