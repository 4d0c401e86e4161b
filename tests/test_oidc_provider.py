"""The test OpenID provider itself (issue 7 builds OAuth sign-in on it): an
authorization code flow with PKCE (S256), state and nonce, the ID token verified
against the provider's JWKS; a code used twice; a denied consent."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from oidc_support import consent, oidc_provider

REDIRECT = "http://127.0.0.1:9/callback"
CLIENT = {"client_id": "flask-clerk", "client_secret": "a-test-secret-of-enough-length",
          "redirect_uris": [REDIRECT]}
ADA = {"email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace",
       "given_name": "Ada", "family_name": "Lovelace"}


@pytest.fixture(scope="module")
def issuer():
    with oidc_provider(clients=[CLIENT], accounts={"ada-1": ADA}) as url:
        yield url


def authorize(issuer, choice):
    meta = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    verifier, state, nonce = (secrets.token_urlsafe(48) for _ in range(3))
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = meta["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": CLIENT["client_id"], "redirect_uri": REDIRECT,
        "scope": "openid email profile", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    with httpx.Client() as browser:
        back = consent(browser, url, REDIRECT, choice)
    return meta, verifier, state, nonce, back


def exchange(meta, code, verifier):
    return httpx.post(meta["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier}, auth=(CLIENT["client_id"], CLIENT["client_secret"]))


def test_a_code_flow_with_pkce_and_a_verified_id_token(issuer):
    meta, verifier, state, nonce, back = authorize(issuer, "ada-1")
    assert back.params["state"] == state
    assert exchange(meta, back.params["code"], "wrong-" + verifier).status_code == 400
    meta, verifier, state, nonce, back = authorize(issuer, "ada-1")
    token = exchange(meta, back.params["code"], verifier)
    assert token.status_code == 200, token.text
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token.json()["id_token"])
    claims = jwt.decode(token.json()["id_token"], key.key, algorithms=["RS256"],
                        audience=CLIENT["client_id"], issuer=issuer)
    assert claims["nonce"] == nonce and claims["sub"] == "ada-1"
    assert claims["email"] == "ada@example.com" and claims["email_verified"] is True
    assert exchange(meta, back.params["code"], verifier).status_code == 400  # used once


def test_a_denied_consent_comes_back_as_an_error(issuer):
    _, _, state, _, back = authorize(issuer, "deny")
    assert back.params["error"] == "access_denied" and back.params["state"] == state
