"""CLERK_OAUTH_PROVIDERS (issue 7, first part): presets, custom OpenID Connect
providers, endpoint overrides for a stand-in, and clear errors for bad settings."""

from __future__ import annotations

import pytest

from flask_clerk.core.oauth_providers import PRESETS, providers_from_settings
from flask_clerk.errors import ClerkConfigError

CREDENTIALS = {"client_id": "id-1", "client_secret": "secret-1"}


def test_every_preset_the_issue_names_is_there():
    assert {"google", "github", "microsoft", "gitlab", "discord", "apple", "linkedin_oidc",
            "slack"} <= set(PRESETS)


def test_presets_and_their_strategies():
    google, github = providers_from_settings({"google": CREDENTIALS, "github": CREDENTIALS})
    assert (google.strategy, google.name, google.openid) == ("oauth_google", "Google", True)
    assert google.scopes == ("openid", "email", "profile")
    assert (github.strategy, github.openid) == ("oauth_github", False)
    assert github.emails_url == "https://api.github.com/user/emails"


def test_a_custom_provider_reads_its_issuers_discovery_document():
    (acme,) = providers_from_settings({"custom_acme_sso": {
        **CREDENTIALS, "issuer": "https://id.acme.test/", "scopes": "openid email"}})
    assert acme.strategy == "oauth_custom_acme_sso" and acme.name == "Acme Sso"
    assert acme.discovery_url == "https://id.acme.test/.well-known/openid-configuration"
    assert acme.scopes == ("openid", "email")


def test_a_stand_in_overrides_a_presets_endpoints():
    (github,) = providers_from_settings({"github": {
        **CREDENTIALS, "discovery_url": "http://127.0.0.1:1/.well-known/openid-configuration"}})
    assert github.openid and github.authorize_url is None and github.token_url is None
    assert github.strategy == "oauth_github"


@pytest.mark.parametrize(("config", "message"), [
    ({"myspace": CREDENTIALS}, "unknown provider"),
    ({"google": {"client_id": "x"}}, "client_secret"),
    ({"google": {**CREDENTIALS, "secret": "typo"}}, "unknown keys"),
    ({"custom_acme": CREDENTIALS}, "issuer"),
    ({"google": "not a mapping"}, "mapping"),
])
def test_bad_settings_say_what_is_wrong(config, message):
    with pytest.raises(ClerkConfigError, match=message):
        providers_from_settings(config)


def test_a_live_instance_talks_to_providers_over_https_only():
    config = {"custom_acme": {**CREDENTIALS, "issuer": "http://id.acme.test"}}
    assert providers_from_settings(config)  # development: a local test provider is fine
    with pytest.raises(ClerkConfigError, match="must be https"):
        providers_from_settings(config, require_https=True)
    with pytest.raises(ClerkConfigError, match="token_url"):
        providers_from_settings({"github": {**CREDENTIALS, "token_url": "http://x.test/t"}},
                                require_https=True)


def test_secrets_stay_out_of_reprs():
    (google,) = providers_from_settings({"google": CREDENTIALS})
    assert "secret-1" not in repr(google)
