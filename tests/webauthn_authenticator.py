"""A software WebAuthn authenticator (and the browser's part of the ceremony), for tests.

It does what a platform authenticator and the browser do together, per WebAuthn
level 3, so the tests run py_webauthn's real verification against real
signatures:

- ``create`` (``navigator.credentials.create``): a new P-256 key pair (ES256), a
  discoverable credential scoped to the RP ID, attestation format "none";
  authenticator data = rpIdHash ‖ flags (UP, UV, AT, and BE/BS when asked) ‖
  signCount ‖ AAGUID ‖ credential id length ‖ credential id ‖ COSE key (CBOR).
- ``get`` (``navigator.credentials.get``): an assertion by a credential the options
  allow (or, with an empty allow list, any of the RP's: a discoverable sign-in),
  the counter incremented first, the signature ES256 over
  authenticatorData ‖ SHA-256(clientDataJSON), DER-encoded as WebAuthn specifies.

Both return what ``PublicKeyCredential.toJSON()`` gives in a browser. Nothing is
checked here that the server must check (origin, RP ID, challenge): tests pass a
wrong ``origin`` or ``rp_id`` to play a phishing page or a misbehaving client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthenticatorError(Exception):
    """What the browser would reject with (``name``: InvalidStateError, NotAllowedError…)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class Credential:
    id: bytes
    rp_id: str
    user_handle: bytes
    key: ec.EllipticCurvePrivateKey
    counter: int = 0


class Authenticator:
    """One authenticator holding any number of credentials.

    ``counting=False`` plays an authenticator that always reports 0 (synced passkeys
    do); ``backup_eligible``/``backed_up`` set the BE and BS flags."""

    def __init__(self, *, user_verifying: bool = True, counting: bool = True,
                 backup_eligible: bool = False, backed_up: bool = False,
                 aaguid: bytes = bytes(16)) -> None:
        self.user_verifying = user_verifying
        self.counting = counting
        self.backup_eligible = backup_eligible or backed_up
        self.backed_up = backed_up
        self.aaguid = aaguid
        self.credentials: list[Credential] = []

    # -- registration ------------------------------------------------------------------

    def create(self, options_json: str, origin: str, rp_id: str | None = None, *,
               credential_id: bytes | None = None) -> str:
        """The JSON of a new credential for ``options_json`` (creation options)
        made on a page at ``origin``. ``credential_id`` forces the id (a client
        replaying someone else's)."""
        options = json.loads(options_json)
        rp_id = rp_id or options["rp"].get("id") or urlsplit(origin).hostname or ""
        if ES256 not in [p["alg"] for p in options["pubKeyCredParams"]]:
            raise AuthenticatorError("NotSupportedError")
        excluded = {unb64url(c["id"]) for c in options.get("excludeCredentials", [])}
        if any(c.id in excluded and c.rp_id == rp_id for c in self.credentials):
            raise AuthenticatorError("InvalidStateError")
        credential = Credential(id=credential_id or os.urandom(32), rp_id=rp_id,
                                user_handle=unb64url(options["user"]["id"]),
                                key=ec.generate_private_key(ec.SECP256R1()))
        self.credentials.append(credential)

        numbers = credential.key.public_key().public_numbers()
        cose_key = cbor2.dumps({1: 2, 3: ES256, -1: 1,  # kty EC2, alg ES256, crv P-256
                                -2: numbers.x.to_bytes(32, "big"),
                                -3: numbers.y.to_bytes(32, "big")})
        auth_data = (self._header(rp_id, AT, credential.counter) + self.aaguid
                     + struct.pack(">H", len(credential.id)) + credential.id + cose_key)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        spki = credential.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return json.dumps({
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "authenticatorData": b64url(auth_data),
                "transports": ["hybrid", "internal"],
                "publicKey": b64url(spki),
                "publicKeyAlgorithm": ES256,
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })

    # -- authentication ----------------------------------------------------------------

    def get(self, options_json: str, origin: str, rp_id: str | None = None, *,
            credential_id: str | None = None) -> str:
        """The JSON of an assertion for ``options_json`` (request options) made on a
        page at ``origin``. ``credential_id`` (base64url) picks among several the
        user could choose; otherwise the newest that fits."""
        options = json.loads(options_json)
        rp_id = rp_id or options.get("rpId") or urlsplit(origin).hostname or ""
        allowed = {unb64url(c["id"]) for c in options.get("allowCredentials", [])}
        usable = [c for c in self.credentials if c.rp_id == rp_id
                  and (not allowed or c.id in allowed)
                  and (credential_id is None or b64url(c.id) == credential_id)]
        if not usable:
            raise AuthenticatorError("NotAllowedError")
        credential = usable[-1]
        if self.counting:
            credential.counter += 1
        auth_data = self._header(rp_id, 0, credential.counter)
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                        ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })

    def set_counter(self, credential_id: str, value: int) -> None:
        """Set a credential's counter (base64url id): going back plays a clone."""
        next(c for c in self.credentials if b64url(c.id) == credential_id).counter = value

    def _header(self, rp_id: str, extra_flags: int, counter: int) -> bytes:
        flags = UP | extra_flags
        flags |= (UV if self.user_verifying else 0) | (BE if self.backup_eligible else 0)
        flags |= BS if self.backed_up else 0
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(
            ">I", counter)


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    """``clientDataJSON`` as a browser serialises it (type, challenge, origin, crossOrigin)."""
    return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                       "crossOrigin": False}, separators=(",", ":")).encode()
