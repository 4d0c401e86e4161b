"""Passkeys: WebAuthn credentials a user registers, then signs in with.

The ceremonies are py_webauthn's; this module owns what is around them
(SECURITY.md 15):

- Challenges are single use and expire after :data:`CHALLENGE_LIFETIME`. Each is
  bound to what asked for it (a sign-in's flow token, a session id: ``binding``,
  stored as its SHA-256) and a registration challenge to its user too. A response
  is checked against the challenge taken with one ``DELETE … RETURNING``, committed
  before the response is looked at: two requests racing with one response cannot
  both use it, and a failed attempt uses it up.
- Origin and RP ID are checked against the :class:`RelyingParty` the caller passes.
- Sign counts: a response whose counter did not move past the stored one (when
  either is non-zero) may come from a cloned authenticator. It is refused and the
  passkey flagged (``sign_count_regressed_at``), but only once its signature has
  verified: an unsigned response must not be able to flag someone's passkey.
  The counter moves with one conditional UPDATE, so two concurrent sign-ins with
  one authenticator cannot both pass with the same count.
- Anything wrong with a response (JSON, base64, CBOR, types, size, signature)
  is ``passkey_invalid``, never a server error.
- User verification is required, at registration and at every use: a passkey
  stands in for both factors (something the user has, unlocked by something they
  know or are), so an assertion that only proves presence is refused.

Sign-in (first factor, or second, or reverification) and the profile's pages call
these flows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import webauthn
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..errors import ClerkError
from ..ids import new_id, token_hash
from . import clock
from .audit import security_event
from .instance import Instance
from .models import Passkey, User, WebAuthnChallenge
from .users import notify_owner, own_row, user_updated

CHALLENGE_LIFETIME = 300  # s
MAX_PASSKEYS = 10  # per user, as Clerk
NAME_MAX = 100
MAX_CREDENTIAL_LENGTH = 64 * 1024  # characters of the browser's JSON
MAX_CREDENTIAL_ID = 1023  # bytes (WebAuthn level 3: RPs should refuse longer ones)
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
]

_Parsed = TypeVar("_Parsed", RegistrationCredential, AuthenticationCredential)


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser is told it registers with, and where responses may come from."""

    id: str  # RP ID: "localhost", "example.com"
    name: str  # shown by the browser (the application name)
    origins: tuple[str, ...]  # expected origins, e.g. ("http://localhost:5000",)


# --- Registration ---------------------------------------------------------------------------


def registration_options(
    instance: Instance, db: DbSession, user: User, rp: RelyingParty, *, binding: str
) -> str:
    """``PublicKeyCredentialCreationOptions`` (JSON text) for a new passkey of
    ``user``: discoverable, so that it can sign in without a username."""
    existing = passkeys_of(db, user)
    if len(existing) >= MAX_PASSKEYS:
        raise ClerkError("passkey_limit_reached", status=422, limit=MAX_PASSKEYS)
    user_name = user.primary_address or user.username or user.id
    full_name = " ".join(n for n in (user.first_name, user.last_name) if n)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user.id.encode(),
        user_name=user_name,
        user_display_name=full_name or user_name,
        timeout=CHALLENGE_LIFETIME * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in existing],
        supported_pub_key_algs=ALGORITHMS,
    )
    _issue_challenge(db, "registration", binding, options.challenge, user_id=user.id)
    return webauthn.options_to_json(options)


def register_passkey(
    instance: Instance, db: DbSession, user: User, rp: RelyingParty, *, binding: str,
    credential: str, name: str | None = None,
) -> Passkey:
    """Verify the browser's answer to :func:`registration_options` and keep the new
    passkey. ``credential`` is the JSON of ``PublicKeyCredential.toJSON()``."""
    label = _clean_name(name) if name is not None and name.strip() else None
    parsed = _parse(credential, parse_registration_credential_json)
    taken = _take_challenge(db, "registration", binding, parsed, user_id=user.id)
    if parsed is None:
        raise ClerkError("passkey_invalid", status=422)
    challenge, _ = _unexpired(taken)
    try:
        verified = webauthn.verify_registration_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=list(rp.origins), require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except Exception as exc:  # noqa: BLE001 - whatever the response made the library raise
        raise ClerkError("passkey_invalid", status=422) from exc
    if len(verified.credential_id) > MAX_CREDENTIAL_ID:
        raise ClerkError("passkey_invalid", status=422)
    credential_id = bytes_to_base64url(verified.credential_id)

    # One registration of a user at a time (PostgreSQL; SQLite writes one at a time
    # anyway), so that two at once cannot both pass the limit.
    db.execute(select(User.id).where(User.id == user.id).with_for_update())
    existing = passkeys_of(db, user)
    if len(existing) >= MAX_PASSKEYS:
        db.rollback()  # and with it the lock
        raise ClerkError("passkey_limit_reached", status=422, limit=MAX_PASSKEYS)
    if db.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)) is not None:
        db.rollback()
        raise ClerkError("passkey_already_registered", status=422)
    now = clock.now()
    passkey = Passkey(
        id=new_id("idn"), user_id=user.id, credential_id=credential_id,
        public_key=verified.credential_public_key, sign_count=verified.sign_count,
        name=label or _default_name({p.name for p in existing}),
        transports=[t.value for t in parsed.response.transports or []],
        aaguid=verified.aaguid, backed_up=verified.credential_backed_up,
        created_at=now, updated_at=now,
    )
    db.add(passkey)
    try:
        user_updated(instance, db, user)  # flushes: a credential id taken meanwhile fails here
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ClerkError("passkey_already_registered", status=422) from None
    security_event("passkey.registered", user_id=user.id, passkey_id=passkey.id)
    notify_owner(instance, user, f"passkey “{passkey.name}” added")
    return passkey


def _default_name(taken: set[str]) -> str:
    """"Passkey", then "Passkey 2", "Passkey 3"…: the first one the user has not."""
    number = 1
    while (candidate := "Passkey" if number == 1 else f"Passkey {number}") in taken:
        number += 1
    return candidate


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    known = {t.value for t in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id),
        transports=[AuthenticatorTransport(t) for t in passkey.transports or [] if t in known],
    )


# --- Authentication -------------------------------------------------------------------------


def authentication_options(
    instance: Instance, db: DbSession, rp: RelyingParty, *, binding: str,
    user: User | None = None,
) -> str:
    """``PublicKeyCredentialRequestOptions`` (JSON text). Without ``user``: any
    passkey of this RP may answer (the "Sign in with passkey" button, autofill).
    With one: only theirs (a second factor, reverification)."""
    allowed = [_descriptor(p) for p in passkeys_of(db, user)] if user is not None else []
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        timeout=CHALLENGE_LIFETIME * 1000,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _issue_challenge(db, "authentication", binding, options.challenge,
                     user_id=user.id if user is not None else None)
    return webauthn.options_to_json(options)


def verify_passkey(
    instance: Instance, db: DbSession, rp: RelyingParty, *, binding: str, credential: str,
    user: User | None = None, require_user_verification: bool = True,
) -> Passkey:
    """The passkey that answered :func:`authentication_options` (its counter and
    last use updated). With ``user``, or when the options were asked for a user,
    it must be that user's."""
    parsed = _parse(credential, parse_authentication_credential_json)
    taken = _take_challenge(db, "authentication", binding, parsed)
    if parsed is None:
        raise ClerkError("passkey_invalid", status=422)
    challenge, for_user = _unexpired(taken)
    passkey = db.scalar(select(Passkey).where(
        Passkey.credential_id == bytes_to_base64url(parsed.raw_id)))
    owners = {u for u in (user.id if user is not None else None, for_user) if u}
    if passkey is None or any(owner != passkey.user_id for owner in owners):
        raise ClerkError("passkey_not_found", status=422)
    handle = parsed.response.user_handle
    if handle and handle != passkey.user_id.encode():
        raise ClerkError("passkey_invalid", status=422)
    try:
        # The stored count is compared below, once the signature is known to be good.
        verified = webauthn.verify_authentication_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=list(rp.origins), credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=require_user_verification,
        )
    except Exception as exc:  # noqa: BLE001 - whatever the response made the library raise
        raise ClerkError("passkey_invalid", status=422) from exc

    count, now = verified.new_sign_count, clock.now()
    moved = db.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id,
               Passkey.sign_count < count if count else Passkey.sign_count == 0)
        .values(sign_count=count, backed_up=verified.credential_backed_up, last_used_at=now)
        .returning(Passkey.id)
        .execution_options(synchronize_session=False)  # the row as the database has it
    ).first()
    if moved is None:
        db.execute(update(Passkey).where(Passkey.id == passkey.id)
                   .values(sign_count_regressed_at=now)
                   .execution_options(synchronize_session=False))
        db.commit()
        security_event("passkey.sign_count_regressed", user_id=passkey.user_id,
                       passkey_id=passkey.id, sign_count=str(count),
                       stored=str(passkey.sign_count))
        raise ClerkError("passkey_sign_count_regressed", status=422)
    db.commit()
    db.refresh(passkey)
    return passkey


# --- Challenges -----------------------------------------------------------------------------


def _issue_challenge(db: DbSession, purpose: str, binding: str, challenge: bytes, *,
                     user_id: str | None) -> None:
    """Keep ``challenge`` for ``binding``, replacing one it had for the same purpose."""
    if not binding:
        raise ValueError("a WebAuthn challenge must be bound to a flow or session")
    now, bound = clock.now(), token_hash(binding)
    db.execute(delete(WebAuthnChallenge).where(
        (WebAuthnChallenge.expire_at <= now)
        | ((WebAuthnChallenge.binding == bound) & (WebAuthnChallenge.purpose == purpose))))
    db.add(WebAuthnChallenge(
        id=new_id("chl"), challenge=bytes_to_base64url(challenge), purpose=purpose,
        binding=bound, user_id=user_id,
        expire_at=now + timedelta(seconds=CHALLENGE_LIFETIME)))
    db.commit()


@dataclass(frozen=True)
class _Taken:
    challenge: bytes
    expire_at: datetime
    user_id: str | None


def _take_challenge(
    db: DbSession, purpose: str, binding: str,
    parsed: RegistrationCredential | AuthenticationCredential | None, *,
    user_id: str | None = None,
) -> _Taken | None:
    """Take (delete, and commit that) the challenge outstanding for ``binding``,
    whatever the response turns out to be. A registration challenge is only taken
    for the user it was issued to."""
    query = delete(WebAuthnChallenge).where(WebAuthnChallenge.binding == token_hash(binding),
                                            WebAuthnChallenge.purpose == purpose)
    if purpose == "registration":
        query = query.where(WebAuthnChallenge.user_id == user_id)
    rows = db.execute(query.returning(
        WebAuthnChallenge.challenge, WebAuthnChallenge.expire_at, WebAuthnChallenge.user_id,
    )).all()
    db.commit()
    # Normally one row; two only if two options requests for one binding raced.
    # Then the response says which one it answers.
    answered = _client_challenge(parsed)
    taken = [_Taken(base64url_to_bytes(r.challenge), r.expire_at, r.user_id) for r in rows]
    return next((t for t in taken if t.challenge == answered), taken[0] if taken else None)


def _unexpired(taken: _Taken | None) -> tuple[bytes, str | None]:
    """The challenge and the user it was issued for, unless there was none or it expired."""
    if taken is None or taken.expire_at <= clock.now():
        raise ClerkError("passkey_challenge_expired", status=400)
    return taken.challenge, taken.user_id


def _client_challenge(parsed: RegistrationCredential | AuthenticationCredential | None
                      ) -> bytes | None:
    if parsed is None:
        return None
    try:
        return base64url_to_bytes(json.loads(parsed.response.client_data_json)["challenge"])
    except Exception:  # noqa: BLE001 - a bad one fails verification later
        return None


def purge_expired_challenges(db: DbSession) -> None:
    """Forget challenges nobody answered (issuing one also does this)."""
    db.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expire_at <= clock.now()))
    db.commit()


def _parse(credential: str, parser: Callable[[dict[str, Any]], _Parsed]) -> _Parsed | None:
    """The browser's JSON as py_webauthn's structure, or None when it is not one."""
    if not isinstance(credential, str) or len(credential) > MAX_CREDENTIAL_LENGTH:
        return None
    try:
        data = json.loads(credential)
        parsed = parser(data) if isinstance(data, dict) else None
    except Exception:  # noqa: BLE001 - JSON, base64, nesting depth: all mean "not one"
        return None
    # The library checks this too, but only after the passkey is looked up by rawId.
    if parsed is None or bytes_to_base64url(parsed.raw_id) != parsed.id:
        return None
    return parsed


# --- The user's passkeys --------------------------------------------------------------------


def passkeys_of(db: DbSession, user: User) -> list[Passkey]:
    """The user's passkeys, newest first."""
    return list(db.scalars(select(Passkey).where(Passkey.user_id == user.id)
                           .order_by(Passkey.created_at.desc(), Passkey.id.desc())))


def _clean_name(name: str | None) -> str:
    """A name as the user typed it, spaces tidied: 1 to 100 printable characters."""
    cleaned = " ".join((name or "").split())
    if not 1 <= len(cleaned) <= NAME_MAX or not cleaned.isprintable():
        raise ClerkError("form_param_format_invalid", field="name")
    return cleaned


def rename_passkey(instance: Instance, db: DbSession, user: User, passkey_id: str,
                   name: str) -> Passkey:
    passkey = own_row(db, Passkey, user, passkey_id)
    passkey.name = _clean_name(name)
    user_updated(instance, db, user)
    db.commit()
    return passkey


def remove_passkey(instance: Instance, db: DbSession, user: User, passkey_id: str) -> None:
    """Delete one of the user's passkeys. The caller has checked a recent
    reverification."""
    passkey = own_row(db, Passkey, user, passkey_id)
    db.delete(passkey)
    user_updated(instance, db, user)
    db.commit()
    security_event("passkey.removed", user_id=user.id, passkey_id=passkey.id)
    notify_owner(instance, user, f"passkey “{passkey.name}” removed")


