"""Session tokens: RS256 JWTs with Clerk's v2 claims, JWKS, and verification.

Nothing here imports Flask. The verifier keeps a bounded cache of tokens it has
already verified: a browser sends the same ``__session`` for its whole 60 s
life, so after the first request the signature check is a dictionary lookup
(expiry and revocation are re-checked on every hit).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .ids import new_id, new_token

ALGORITHM = "RS256"
KEY_RELOAD_INTERVAL = 60.0  # seconds
ANY_KID = "*"  # a key loaded under this kid verifies tokens whatever kid they name
_REQUIRED_CLAIMS = ("exp", "iat", "nbf", "sub", "sid")


class TokenInvalid(Exception):
    """The token must not be trusted; ``reason`` says why (for logs and tests)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class KeyPair:
    kid: str
    private_key_pem: str
    public_jwk: dict[str, Any]

    @cached_property
    def private_key(self) -> Any:
        """The parsed key, loaded once: parsing and checking a PEM costs more per
        token than the RSA signature itself."""
        return serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)


def generate_key_pair() -> KeyPair:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = "ins_" + new_token(18)
    jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return KeyPair(kid=kid, private_key_pem=pem, public_jwk=jwk)


def jwks(public_jwks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"keys": [dict(k) for k in public_jwks]}


@dataclass(frozen=True)
class OrganizationClaims:
    """The session's active organization, as the token carries it."""

    id: str
    slug: str
    role: str  # "org:admin"
    permissions: tuple[str, ...] = ()  # custom ones only: "org:<feature>:<action>"


def encode_organization(org: OrganizationClaims) -> dict[str, Any]:
    """Clerk's v2 claims ``o`` and ``fea`` for ``org``.

    ``rol`` is the role without its ``org:`` prefix. Permissions are packed per
    feature: ``fea`` lists the features (``o:<feature>``), ``o.per`` the actions,
    and ``o.fpm[i]`` is a bit mask over ``per`` for feature ``i`` (the least
    significant bit is the first action). System permissions never go in.
    """
    actions_of: dict[str, set[str]] = {}
    for permission in org.permissions:
        scope, feature, action = permission.split(":")
        if scope == "org" and not feature.startswith("sys_"):
            actions_of.setdefault(feature, set()).add(action)
    features = sorted(actions_of)
    actions = sorted(set().union(*actions_of.values())) if actions_of else []
    masks = [sum(1 << actions.index(a) for a in actions_of[f]) for f in features]
    o: dict[str, Any] = {"id": org.id, "slg": org.slug, "rol": org.role.removeprefix("org:")}
    if features:
        o["per"] = ",".join(actions)
        o["fpm"] = ",".join(str(m) for m in masks)
    claims: dict[str, Any] = {"o": o}
    if features:
        claims["fea"] = ",".join(f"o:{f}" for f in features)
    return claims


def decode_organization(claims: Mapping[str, Any]) -> OrganizationClaims | None:
    """The active organization from v2 claims (``o``, ``fea``), or None."""
    o = claims.get("o")
    if not isinstance(o, Mapping) or not isinstance(o.get("id"), str):
        return None
    features = [f.split(":", 1)[1] for f in str(claims.get("fea") or "").split(",")
                if f.split(":", 1)[0] in {"o", "org"} and ":" in f]
    actions = [a for a in str(o.get("per") or "").split(",") if a]
    try:
        masks = [int(m) for m in str(o.get("fpm") or "").split(",") if m]
    except ValueError:
        masks = []
    permissions = tuple(
        f"org:{feature}:{action}"
        for feature, mask in zip(features, masks, strict=False)
        for bit, action in enumerate(actions)
        if mask & (1 << bit)
    )
    role = str(o.get("rol") or "")
    return OrganizationClaims(id=o["id"], slug=str(o.get("slg") or ""),
                              role=role if role.startswith("org:") else f"org:{role}",
                              permissions=permissions)


def mint_session_token(
    *,
    key: KeyPair,
    issuer: str,
    user_id: str,
    session_id: str,
    lifetime: int,
    azp: str | None,
    factor_ages: tuple[int, int],
    organization: OrganizationClaims | None = None,
    status: str | None = None,
    actor: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "sid": session_id,
        "iss": issuer,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": new_id("jti")[4:24],
        # Minutes since the first and the second factor were verified (-1: no second).
        "fva": list(factor_ages),
        "v": 2,
    }
    if azp:
        claims["azp"] = azp
    if organization is not None:
        claims.update(encode_organization(organization))
    if status is not None:
        claims["sts"] = status  # "pending": the session has a task to finish first
    if actor:
        claims["act"] = dict(actor)  # an impersonation: who acts as ``sub``
    return jwt.encode(
        claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"}
    )


HANDSHAKE_LIFETIME = 60  # seconds: the browser is on its way back at once


def mint_handshake_token(*, key: KeyPair, issuer: str, audience: str,
                         directives: Iterable[str], nonce: str,
                         now: float | None = None) -> str:
    """Clerk's handshake answer: the ``Set-Cookie`` directives for the app at
    ``audience`` (its origin), for the browser that asked (``nonce``), signed with
    the instance's key."""
    issued = int(now if now is not None else time.time())
    claims = {"handshake": list(directives), "iss": issuer, "aud": audience, "iat": issued,
              "exp": issued + HANDSHAKE_LIFETIME, "nonce": nonce}
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM,
                      headers={"kid": key.kid, "typ": "JWT"})


def own_token_claims(token: str) -> dict[str, Any]:
    """The claims of a token this process has just minted, unverified: only for
    reading back what it wrote (a verifier may refuse it for this request's
    ``azp``), never for a token that came from outside."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


class RevocationList:
    """Session ids revoked in this process, remembered as long as their tokens live."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, session_id: str, remember_for: float) -> None:
        with self._lock:
            now = time.time()
            self._until = {sid: t for sid, t in self._until.items() if t > now}
            self._until[session_id] = now + remember_for

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._until


class TokenVerifier:
    """Verifies session JWTs against the instance's public keys.

    ``load_keys`` returns the current public JWKs; it is called on first use and
    again (at most once a minute) when a token names an unknown ``kid``.
    """

    def __init__(
        self,
        load_keys: Callable[[], list[dict[str, Any]]],
        *,
        skew: int = 5,
        issuer: str | None = None,
        authorized_parties: tuple[str, ...] = (),
        cache_size: int = 10_000,
        revoked: RevocationList | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._load_keys = load_keys
        self._keys: dict[str, Any] | None = None
        self._keys_loaded_at = 0.0
        self._skew = skew
        self._issuer = issuer
        self._authorized_parties = authorized_parties
        # token -> (claims, what `build` made of them); the signature is checked once.
        self._cache: OrderedDict[str, tuple[dict[str, Any], Any]] = OrderedDict()
        self.build: Callable[[dict[str, Any], str], Any] = lambda claims, token: claims
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.revoked = revoked or RevocationList()
        self.clock = clock

    def reload_keys(self) -> None:
        keys = {}
        for jwk in self._load_keys():
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and isinstance(
                    jwk.get("kid"), str):  # (a key of another kind signs none of ours)
                try:
                    keys[jwk["kid"]] = RSAAlgorithm.from_jwk(json.dumps(jwk))
                except (jwt.PyJWTError, ValueError, KeyError):
                    continue
        self._keys = keys
        self._keys_loaded_at = time.monotonic()
        with self._lock:
            self._cache.clear()

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid token, or :class:`TokenInvalid`."""
        return self._check(token)[0]  # type: ignore[no-any-return]

    def authenticate(self, token: str) -> Any:
        """``build(claims, token)`` for a valid token (built once per token), or raise."""
        return self._check(token)[1]

    def _check(self, token: str) -> tuple[dict[str, Any], Any]:
        entry = self._cache.get(token)
        if entry is None:
            claims = self._verify_signature(token)
            entry = (claims, self.build(claims, token))
            with self._lock:
                self._cache[token] = entry
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        claims = entry[0]
        now = self.clock()
        if now > claims["exp"] + self._skew:
            raise TokenInvalid("expired")
        if now < claims["nbf"] - self._skew:
            raise TokenInvalid("not yet valid")
        if claims["sid"] in self.revoked:
            raise TokenInvalid("session revoked")
        return entry

    def session_id_of(self, token: str) -> str | None:
        """The session of a token this issuer signed, expired or not (to end that
        session at sign-out), or None."""
        try:
            return str(self._verify_signature(token)["sid"])
        except TokenInvalid:
            return None

    def handshake_claims(self, token: str, *, audience: str | None) -> dict[str, Any]:
        """The claims of a handshake answer signed by the issuer's key: for
        ``audience`` (this app's origin) when given, expiring, or
        :class:`TokenInvalid`. (The caller checks its browser ``nonce``.)"""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise TokenInvalid("algorithm not allowed")
            claims: dict[str, Any] = jwt.decode(
                token, self._key_for(header.get("kid")), algorithms=[ALGORITHM],
                audience=audience, issuer=self._issuer if audience else None,
                leeway=self._skew, options={
                    "require": ["exp", "iat", "aud"] if audience else [],
                    "verify_aud": audience is not None})
        except jwt.PyJWTError as exc:
            raise TokenInvalid(str(exc) or "invalid") from exc
        return claims

    def _key_for(self, kid: object) -> Any:
        # Keys are re-read at most once a minute, on a cache miss only: a rotation
        # made by another process is picked up, and a retired key drops out once
        # its tokens have expired (the loader leaves it out from then on).
        if self._keys is None or time.monotonic() - self._keys_loaded_at > KEY_RELOAD_INTERVAL:
            try:
                self.reload_keys()
            except TokenInvalid:  # the issuer did not answer: the keys held, a minute more
                self._keys = self._keys or {}
                self._keys_loaded_at = time.monotonic()
        assert self._keys is not None
        if ANY_KID in self._keys:  # one configured key (remote mode's CLERK_JWT_KEY)
            return self._keys[ANY_KID]
        if not isinstance(kid, str):
            raise TokenInvalid("missing kid")
        key = self._keys.get(kid)
        if key is None:
            raise TokenInvalid("unknown kid")
        return key

    def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("malformed") from exc
        # Only our algorithm, only our keys: `jku`, `x5u` and `jwk` headers are never read.
        if header.get("alg") != ALGORITHM:
            raise TokenInvalid("algorithm not allowed")
        key = self._key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                # Time claims are checked by `verify` against `self.clock`, on every hit.
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid(str(exc) or "invalid") from exc
        if not all(isinstance(claims[c], int | float) for c in ("exp", "nbf", "iat")):
            raise TokenInvalid("time claims must be numbers")
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("sid"), str):
            raise TokenInvalid("sub and sid must be strings")
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise TokenInvalid("wrong issuer")
        if self._authorized_parties and claims.get("azp") not in self._authorized_parties:
            raise TokenInvalid("azp not authorized")
        return claims
