"""Session tokens: Clerk's v2 claims, JWKS any JWT library can use, and what is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from flask_clerk.tokens import (
    KeyPair,
    TokenInvalid,
    TokenVerifier,
    generate_key_pair,
    mint_session_token,
)

ISS = "https://clerk.example.com"


def mint(key: KeyPair, **overrides):
    now = overrides.pop("now", time.time())
    return mint_session_token(key=key, issuer=ISS, user_id=overrides.pop("sub", "user_1"),
                              session_id=overrides.pop("sid", "sess_1"), lifetime=60,
                              azp=overrides.pop("azp", "http://localhost"),
                              factor_ages=(0, -1), now=now)


def verifier(*keys: KeyPair, clock=time.time, **kw) -> TokenVerifier:
    return TokenVerifier(lambda: [k.public_jwk for k in keys], clock=clock, **kw)


def forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    def enc(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return ".".join([enc(json.dumps(header).encode()), enc(json.dumps(claims).encode()),
                     enc(signature)])


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return generate_key_pair()


def test_claims_are_clerk_v2(key):
    claims = verifier(key).verify(mint(key))
    assert {"sub", "sid", "iss", "azp", "iat", "nbf", "exp", "fva", "v"} <= claims.keys()
    assert claims["v"] == 2 and claims["fva"] == [0, -1] and claims["iss"] == ISS
    assert claims["exp"] - claims["iat"] == 60
    header = jwt.get_unverified_header(mint(key))
    assert header["alg"] == "RS256" and header["kid"] == key.kid


def test_jwks_endpoint_verifies_with_a_standard_library(client, user):
    token = client.get_cookie("__session").value
    for path in ("/.well-known/jwks.json", "/v1/jwks"):
        document = client.get(path).get_json()
        assert all("d" not in k and k["kty"] == "RSA" for k in document["keys"])
        keyset = jwt.PyJWKSet.from_dict(document)
        kid = jwt.get_unverified_header(token)["kid"]
        signing_key = next(k for k in keyset.keys if k.key_id == kid)
        claims = jwt.decode(token, signing_key.key, algorithms=["RS256"])
        assert claims["sub"].startswith("user_") and claims["sid"].startswith("sess_")


def test_alg_none_is_refused(key):
    token = forge({"alg": "none", "kid": key.kid}, {"sub": "u", "sid": "s", "exp": 2e9,
                                                     "nbf": 0, "iat": 0})
    with pytest.raises(TokenInvalid, match="algorithm"):
        verifier(key).verify(token)


def test_hs256_signed_with_the_public_key_is_refused(key):
    public_pem = serialization.load_pem_private_key(
        key.private_key_pem.encode(), None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    import hashlib
    import hmac
    header = {"alg": "HS256", "kid": key.kid, "typ": "JWT"}
    claims = {"sub": "user_x", "sid": "sess_x", "exp": time.time() + 60, "nbf": 0, "iat": 0}
    unsigned = forge(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    token = unsigned + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    with pytest.raises(TokenInvalid, match="algorithm"):
        verifier(key).verify(token)


def test_unknown_kid_and_foreign_keys_are_refused(key):
    stranger = generate_key_pair()
    with pytest.raises(TokenInvalid, match="unknown kid"):
        verifier(key).verify(mint(stranger))
    # Same kid, other key: the signature does not verify.
    impostor = KeyPair(kid=key.kid, private_key_pem=stranger.private_key_pem,
                       public_jwk=stranger.public_jwk)
    with pytest.raises(TokenInvalid):
        verifier(key).verify(mint(impostor))


def test_jku_and_embedded_jwk_headers_are_ignored(key):
    stranger = generate_key_pair()
    token = jwt.encode({"sub": "u", "sid": "s", "exp": time.time() + 60, "nbf": 0, "iat": 0},
                       stranger.private_key_pem, algorithm="RS256",
                       headers={"kid": key.kid, "jku": "https://evil.example/jwks",
                                "jwk": stranger.public_jwk})
    with pytest.raises(TokenInvalid):
        verifier(key).verify(token)


@pytest.mark.parametrize("offset, ok", [(-64, True), (-66, False), (-3600, False)])
def test_expiry_has_five_seconds_of_leeway(key, offset, ok):
    now = time.time()
    token = mint(key, now=now + offset)  # exp = now + offset + 60
    check = verifier(key, clock=lambda: now)
    if ok:
        check.verify(token)
    else:
        with pytest.raises(TokenInvalid, match="expired"):
            check.verify(token)


@pytest.mark.parametrize("offset, ok", [(4, True), (20, False)])
def test_not_before_has_five_seconds_of_leeway(key, offset, ok):
    now = time.time()
    token = mint(key, now=now + offset)  # nbf = iat
    check = verifier(key, clock=lambda: now)
    if ok:
        check.verify(token)
    else:
        with pytest.raises(TokenInvalid, match="not yet valid"):
            check.verify(token)


def test_cached_token_is_still_checked_for_expiry(key):
    now = [time.time()]
    check = verifier(key, clock=lambda: now[0])
    token = mint(key, now=now[0])
    check.verify(token)
    now[0] += 70
    with pytest.raises(TokenInvalid, match="expired"):
        check.verify(token)


def test_azp_is_enforced_when_authorized_parties_are_set(key):
    check = verifier(key, authorized_parties=("https://app.example.com",))
    check.verify(mint(key, azp="https://app.example.com"))
    with pytest.raises(TokenInvalid, match="azp"):
        check.verify(mint(key, azp="https://evil.example"))
    with pytest.raises(TokenInvalid, match="azp"):
        check.verify(mint(key, azp=None))
    verifier(key).verify(mint(key, azp="https://anything.example"))  # not configured: any


@pytest.mark.parametrize("missing", ["sub", "sid", "exp", "nbf", "iat"])
def test_required_claims(key, missing):
    claims = {"sub": "user_1", "sid": "sess_1", "iat": time.time(), "nbf": time.time() - 5,
              "exp": time.time() + 60}
    del claims[missing]
    token = jwt.encode(claims, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})
    with pytest.raises(TokenInvalid):
        verifier(key).verify(token)


def test_revoked_session_tokens_die_at_once(key):
    check = verifier(key)
    token = mint(key, sid="sess_gone")
    check.verify(token)
    check.revoked.revoke("sess_gone", 65)
    with pytest.raises(TokenInvalid, match="revoked"):
        check.verify(token)


def test_bearer_tokens_authenticate_api_calls(app, client, user):
    token = client.get_cookie("__session").value
    api = app.test_client()
    assert api.get("/whoami", headers={"Authorization": f"Bearer {token}"}).get_json()["user_id"]
    assert api.get("/whoami", headers={"Authorization": "Bearer nonsense"}).get_json()[
        "user_id"] is None
    response = api.get("/private", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "authentication_invalid"


def test_azp_setting_applies_to_requests(make_app):
    from conftest import sign_up
    app = make_app(CLERK_AUTHORIZED_PARTIES=("http://localhost",))
    client = app.test_client()
    sign_up(client, app)
    token = client.get_cookie("__session").value
    assert jwt.decode(token, options={"verify_signature": False})["azp"] == "http://localhost"
    assert client.get("/whoami").get_json()["user_id"]
    other = make_app(CLERK_AUTHORIZED_PARTIES=("https://app.example.com",))
    other_client = other.test_client()
    sign_up(other_client, other, email="b@example.com")
    # The token minted for http://localhost is refused: the request is signed out.
    assert other_client.get("/whoami", headers={
        "Authorization": f"Bearer {other_client.get_cookie('__session').value}"}).get_json()[
        "user_id"] is None


def test_issuer_is_checked_when_configured(key):
    check = verifier(key, issuer=ISS)
    check.verify(mint(key))
    other = mint_session_token(key=key, issuer="https://other.example", user_id="user_1",
                               session_id="sess_1", lifetime=60, azp=None,
                               factor_ages=(0, -1))
    with pytest.raises(TokenInvalid, match="issuer"):
        check.verify(other)
