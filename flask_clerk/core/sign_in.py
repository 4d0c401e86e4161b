"""Sign-in: identifier, then a first factor (password, or a mailed code or link),
or reset the password with a mailed code; then, for a user with a second factor,
the authenticator app or a backup code.

An unknown identifier walks the same steps as a real one: the password step runs
a dummy hash, a reset code is issued but sent to no one. Every refused password
waits out the failure floor (:mod:`.password_timing`) while imported digests remain.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..ids import constant_time_equal, new_id, new_token, token_hash
from ..settings import identifier_allowed
from . import clock, emails
from .audit import security_event
from .codes import check_code, issue_code
from .flows import FLOW_LIFETIME, find_flow, purge_expired_flows, require_flow
from .instance import Instance, RequestInfo
from .mfa import check_second_factor, has_second_factor
from .models import SignIn, User
from .passkeys import RelyingParty, authentication_options, verify_passkey
from .sessions import SignedIn, prepare_session, revoke_user_sessions, start_session
from .users import (
    attempt_failed,
    attempt_succeeded,
    check_new_password,
    claim_attempt,
    find_user_by_email,
    normalize_email,
    raise_if_locked,
    release_attempt,
    user_password_context,
)
from .webhooks import mail_sent


def start_sign_in(
    instance: Instance, db: DbSession, request: RequestInfo, *, identifier: str
) -> tuple[SignIn, str]:
    instance.rate_limiter.hit("sign_in", request.ip_address or "-")
    address = normalize_email(identifier, field="identifier")
    settings = instance.settings
    if settings.allowlist and not identifier_allowed(settings, address, signing_up=False):
        # Refused here, before any password: after it, the refusal would tell that
        # the password was right. (Signing in without an identifier, a passkey or a
        # provider, is checked when the session starts.)
        raise ClerkError("identifier_not_allowed", status=403, field="identifier")
    user = find_user_by_email(db, address)
    sign_in, flow_token = _new_flow(db, identifier=address,
                                    user_id=user.id if user else None)
    if "password" not in instance.settings.sign_in_strategies:
        # No password to ask for: mail the code (or link) straight away.
        mailed = [s for s in EMAIL_STRATEGIES if s in instance.settings.sign_in_strategies]
        if mailed:
            prepare_first_factor(instance, db, request, flow_token, mailed[0])
    return sign_in, flow_token


def _new_flow(db: DbSession, *, identifier: str, user_id: str | None,
              strategy: str | None = None) -> tuple[SignIn, str]:
    """A sign-in at its first factor, and the token that binds it to the browser."""
    purge_expired_flows(db, SignIn)
    flow_token = new_token()
    sign_in = SignIn(
        id=new_id("sia"), flow_token_hash=token_hash(flow_token), identifier=identifier,
        user_id=user_id, status="needs_first_factor", strategy=strategy,
        expire_at=clock.now() + timedelta(seconds=FLOW_LIFETIME),
    )
    db.add(sign_in)
    db.commit()
    return sign_in, flow_token


# What a step answers: signed in, or the flow with its next step (its ``status``).
Outcome = SignedIn | SignIn


def attempt_password(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None,
    password: str, *, previous_client_token: str | None = None,
) -> Outcome:
    instance.rate_limiter.hit("sign_in", request.ip_address or "-")
    if "password" not in instance.settings.sign_in_strategies:
        raise ClerkError("strategy_for_user_invalid")
    sign_in = _flow(db, flow_token, "needs_first_factor")
    if not password:
        raise ClerkError("form_param_missing", field="password")
    if len(password) > instance.settings.password_max_length:
        # No stored password is this long: refuse before hashing a megabyte.
        raise ClerkError("form_password_incorrect", field="password")
    user = sign_in.user
    # A refusal (wrong password, unknown identifier, locked) takes no less than the
    # slowest imported digest still in the store: see password_timing.
    with instance.failure_floor.padding():
        if user is None:
            _unknown_identifier_attempt(instance, sign_in.identifier, password)
            security_event("sign_in.failed", reason="unknown identifier", ip=request.ip_address)
            raise ClerkError("form_password_incorrect", field="password")
        # While the hash runs, another thread counts the attempt (refusing a locked
        # account whatever the password) and builds the session: the user waits for
        # little more than the hash. A refusal still waits for the hash to finish.
        new_session, matches = instance.overlap.run(
            partial(_claim_and_prepare, instance, db, user, request),
            partial(instance.hasher.verify, user.password_digest, password, user.password_hasher),
        )
        if not matches:
            attempt_failed(instance, db, user)
            security_event("sign_in.failed", user_id=user.id, reason="password",
                           ip=request.ip_address)
            raise ClerkError("form_password_incorrect", field="password")
    assert user.password_digest is not None
    if instance.hasher.needs_rehash(user.password_digest, user.password_hasher):
        user.password_digest = instance.hasher.hash(password)
        user.password_hasher = None
    if has_second_factor(user) and not user.banned:
        # The prepared session is dropped: it starts after the second factor. The
        # earlier failures stay counted until then, so knowing the password buys
        # no extra guesses at the second factor.
        release_attempt(db, user)
        return _first_factor_passed(db, sign_in, "password")
    attempt_succeeded(user)
    if user.banned:
        raise ClerkError("user_banned", status=403)
    return _complete(instance, db, request, sign_in, user, new_session, previous_client_token)


# -- Passwordless first factors: a code or a link, mailed -------------------------------

EMAIL_STRATEGIES = ("email_code", "email_link")
RESET = "reset_password_email_code"  # Clerk's name for the reset code as a first factor
LINK_LIFETIME = 600  # s, as Clerk's email links
LINK_PATH = "/sign-in/verify-link"  # under the frontend API (the issuer URL)


def prepare_first_factor(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None,
    strategy: str,
) -> SignIn:
    """Choose the first factor (``password``, ``email_code``, ``email_link``) and,
    for the mailed ones, send the code or link (to no one for an unknown identifier:
    the flow looks the same). Asking again resends, after the resend interval."""
    settings = instance.settings
    if strategy not in settings.sign_in_strategies or strategy == "passkey":
        raise ClerkError("strategy_for_user_invalid")
    sign_in = _flow(db, flow_token, "needs_first_factor")
    sign_in.strategy = strategy
    if strategy == "password":
        db.commit()
        return sign_in
    instance.rate_limiter.hit("send_code", request.ip_address or "-")
    instance.rate_limiter.hit("address_sends", sign_in.identifier)
    now = clock.now()
    code = issue_code(sign_in, key=settings.code_key, lifetime=settings.code_lifetime,
                      resend_interval=settings.code_resend_interval, now=now)
    if strategy == "email_code":
        sign_in.link_token_hash = None
        subject, text = emails.sign_in_code(code, settings.application_name,
                                            settings.code_lifetime // 60)
    else:
        # The link replaces the code: its token is the secret, bound to this flow.
        sign_in.code_hash = new_token()  # no code was mailed: none may match
        sign_in.code_expires_at = now + timedelta(seconds=LINK_LIFETIME)
        link_token = new_token()
        sign_in.link_token_hash = token_hash(link_token)
        # The frontend API's own URL, never the request's Host: a forged Host must
        # not put an attacker's domain in the mail.
        url = f"{settings.issuer}{LINK_PATH}?{urlencode({'token': link_token})}"
        subject, text = emails.sign_in_link(url, settings.application_name, LINK_LIFETIME // 60)
    if sign_in.user_id:
        mail_sent(instance, db, sign_in.identifier, subject, text, user_id=sign_in.user_id)
    db.commit()
    if sign_in.user_id:
        instance.mailer.send(sign_in.identifier, subject, text)
    return sign_in


def attempt_email_code(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None, code: str,
    *, previous_client_token: str | None = None,
) -> Outcome:
    """The mailed code as the first factor. Guesses count per flow and toward the
    account's lockout; a locked account is refused whatever the code."""
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    sign_in = _flow(db, flow_token, "needs_first_factor")
    if sign_in.strategy != "email_code":
        raise ClerkError("sign_in_expired", status=400)
    user = _check_mailed_code(instance, db, sign_in, code, refuse_when_locked=True)
    return _first_factor_done(instance, db, request, sign_in, user, "email_code",
                              previous_client_token, claimed=True)


def attempt_email_link(
    instance: Instance, db: DbSession, request: RequestInfo, link_token: str,
    flow_token: str | None, *, previous_client_token: str | None = None,
) -> Outcome:
    """The mailed link, opened. It signs in only the browser that asked for it
    (the flow's cookie must match), once, within its lifetime. Opened elsewhere it
    is refused and left usable, so a mail scanner that follows links, or a link
    forwarded to someone else, signs nobody in."""
    if not link_token or len(link_token) > 200:
        raise ClerkError("email_link_invalid", status=400)
    sign_in = db.scalars(select(SignIn).where(
        SignIn.link_token_hash == token_hash(link_token))).first()
    now = clock.now()
    if (sign_in is None or sign_in.status != "needs_first_factor"
            or sign_in.strategy != "email_link" or sign_in.user is None):
        raise ClerkError("email_link_invalid", status=400)
    if sign_in.code_expires_at is None or now > sign_in.code_expires_at or sign_in.expire_at <= now:
        raise ClerkError("email_link_expired", status=400)
    if not flow_token or not constant_time_equal(sign_in.flow_token_hash, token_hash(flow_token)):
        security_event("sign_in.link_other_browser", user_id=sign_in.user_id,
                       ip=request.ip_address)
        raise ClerkError("email_link_other_browser", status=400)
    user = sign_in.user
    raise_if_locked(user)
    sign_in.link_token_hash = None  # used up
    sign_in.code_expires_at = None
    return _first_factor_done(instance, db, request, sign_in, user, "email_link",
                              previous_client_token, claimed=False)


# -- Passkeys: the first factor (usernameless), or the second ---------------------------


def passkey_options(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None,
    rp: RelyingParty,
) -> tuple[str, str | None]:
    """WebAuthn options for a passkey, and the flow token to set when a new flow
    began. After the first factor (``needs_second_factor``) the passkey is the
    second, and must be the flow's user's; otherwise it is the first, for whoever
    it belongs to (a new flow, with no identifier: "Sign in with passkey" and
    autofill)."""
    instance.rate_limiter.hit("sign_in", request.ip_address or "-")
    if "passkey" not in instance.settings.sign_in_strategies:
        raise ClerkError("strategy_for_user_invalid")
    flow = find_flow(db, SignIn, flow_token)
    if flow is not None and flow.status == "needs_second_factor" and flow.user is not None:
        assert flow_token is not None
        return authentication_options(instance, db, rp, binding=flow_token, user=flow.user), None
    _, token = _new_flow(db, identifier="", user_id=None, strategy="passkey")
    return authentication_options(instance, db, rp, binding=token), token


def attempt_passkey(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None,
    rp: RelyingParty, credential: str, *, previous_client_token: str | None = None,
) -> Outcome:
    """Sign in with a passkey. As the first factor it is a whole sign-in, as in
    Clerk: the authenticator is something the user has, unlocked by something
    they know or are; as the second factor it follows the first."""
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    sign_in = require_flow(db, SignIn, flow_token)
    assert flow_token is not None
    second = sign_in.status == "needs_second_factor" and sign_in.user is not None
    if not second and (sign_in.status != "needs_first_factor" or sign_in.strategy != "passkey"):
        raise ClerkError("sign_in_expired", status=400)
    passkey = verify_passkey(instance, db, rp, binding=flow_token, credential=credential,
                             user=sign_in.user if second else None)
    user = db.get(User, passkey.user_id)
    if user is None:
        raise ClerkError("passkey_not_found")
    raise_if_locked(user)
    if user.banned:
        raise ClerkError("user_banned", status=403)
    attempt_succeeded(user)
    if second:
        return _second_factor_passed(instance, db, request, sign_in, user, previous_client_token)
    now = clock.now()
    new_session = prepare_session(instance, user, request, first_factor_at=now,
                                  second_factor_at=now)
    return _complete(instance, db, request, sign_in, user, new_session, previous_client_token)


def _first_factor_done(
    instance: Instance, db: DbSession, request: RequestInfo, sign_in: SignIn, user: User,
    strategy: str, previous_client_token: str | None, *, claimed: bool,
) -> Outcome:
    """A first factor other than the password passed: the second factor next, or
    in. ``claimed``: an attempt was counted for it, to un-count now (a link, which
    no one can guess, counts none: it must not take a failure off the count)."""
    if user.banned:
        db.commit()
        raise ClerkError("user_banned", status=403)
    if has_second_factor(user):
        if claimed:
            release_attempt(db, user)
        return _first_factor_passed(db, sign_in, strategy)
    attempt_succeeded(user)
    return _complete(instance, db, request, sign_in, user, prepare_session(instance, user, request),
                     previous_client_token)


def external_first_factor(
    instance: Instance, db: DbSession, request: RequestInfo, user: User, strategy: str,
    *, previous_client_token: str | None = None,
) -> tuple[Outcome, str | None]:
    """A first factor passed outside a sign-in flow (an OAuth provider, ``oauth_*``):
    signed in; or, for a user with a second factor, a new flow waiting for it, and
    the token that binds it to the browser."""
    raise_if_locked(user)
    if user.banned:
        raise ClerkError("user_banned", status=403)
    if has_second_factor(user):
        sign_in, flow_token = _new_flow(db, identifier=user.primary_address or "",
                                        user_id=user.id, strategy=strategy)
        return _first_factor_passed(db, sign_in, strategy), flow_token
    return _complete(instance, db, request, None, user, prepare_session(instance, user, request),
                     previous_client_token), None


def _first_factor_passed(db: DbSession, sign_in: SignIn, strategy: str) -> SignIn:
    sign_in.status = "needs_second_factor"
    sign_in.strategy = strategy
    sign_in.first_factor_verified_at = clock.now()
    db.commit()
    return sign_in


def attempt_second_factor(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None,
    strategy: str, code: str, *, previous_client_token: str | None = None,
) -> Outcome:
    """The authenticator app's code or a backup code, after the first factor.

    Each try counts toward the account's lockout like a password (Clerk counts
    TOTP and backup-code attempts); a locked account is refused whatever the code.
    """
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    sign_in = _flow(db, flow_token, "needs_second_factor")
    user = sign_in.user
    if user is None or sign_in.first_factor_verified_at is None:
        raise ClerkError("sign_in_expired", status=400)
    instance.rate_limiter.hit("address_guesses", sign_in.identifier)
    check_second_factor(instance, db, user, strategy, code, failed_event="sign_in.failed",
                        ip=request.ip_address)
    attempt_succeeded(user)
    if user.banned:
        raise ClerkError("user_banned", status=403)
    return _second_factor_passed(instance, db, request, sign_in, user, previous_client_token)


def _second_factor_passed(
    instance: Instance, db: DbSession, request: RequestInfo, sign_in: SignIn, user: User,
    previous_client_token: str | None,
) -> Outcome:
    """Signed in; or, in a password reset, on to the new password: only now may it
    be set (and every other session ended)."""
    now = clock.now()
    if sign_in.strategy == RESET:
        sign_in.status = "needs_new_password"
        sign_in.second_factor_verified_at = now
        db.commit()
        return sign_in
    new_session = prepare_session(instance, user, request,
                                  first_factor_at=sign_in.first_factor_verified_at,
                                  second_factor_at=now)
    return _complete(instance, db, request, sign_in, user, new_session, previous_client_token)


def _claim_and_prepare(
    instance: Instance, db: DbSession, user: User, request: RequestInfo
) -> SignedIn:
    claim_attempt(instance, db, user)
    return prepare_session(instance, user, request)


def _unknown_identifier_attempt(instance: Instance, identifier: str, password: str) -> None:
    """What a real account would do, for an identifier that has none: hash, count
    the failure, and past the lockout limit answer "locked" like a real account."""
    instance.hasher.verify_dummy(password)
    _phantom_failure(instance, identifier)


def _phantom_failure(instance: Instance, identifier: str) -> None:
    retry_after = instance.rate_limiter.phantom_lockout(identifier)
    if retry_after is not None:
        raise ClerkError("user_locked", status=403, minutes=max(1, (retry_after + 59) // 60))


def start_password_reset(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None
) -> None:
    """Mail a reset code (to no one for an unknown identifier)."""
    settings = instance.settings
    instance.rate_limiter.hit("send_code", request.ip_address or "-")
    sign_in = require_flow(db, SignIn, flow_token)
    if sign_in.status not in {"needs_first_factor", "needs_reset_code"}:
        raise ClerkError("sign_in_expired", status=400)
    instance.rate_limiter.hit("address_sends", sign_in.identifier)
    code = issue_code(sign_in, key=settings.code_key, lifetime=settings.code_lifetime,
                      resend_interval=settings.code_resend_interval, now=clock.now())
    sign_in.status = "needs_reset_code"
    subject, text = emails.reset_password_code(code, settings.application_name,
                                               settings.code_lifetime // 60)
    if sign_in.user_id:
        mail_sent(instance, db, sign_in.identifier, subject, text, user_id=sign_in.user_id)
    db.commit()
    if sign_in.user_id:
        instance.mailer.send(sign_in.identifier, subject, text)


def _check_mailed_code(instance: Instance, db: DbSession, sign_in: SignIn, code: str, *,
                       refuse_when_locked: bool) -> User:
    """Accept the code mailed for this flow, or raise. Each guess counts per flow,
    per address and toward the account's lockout; an address without an account
    (nothing was mailed) fails every guess and "locks" like a real one."""
    settings = instance.settings
    instance.rate_limiter.hit("address_guesses", sign_in.identifier)
    user = sign_in.user
    if user is None:
        sign_in.code_hash = new_token()  # nothing was sent: no guess may succeed
    else:
        claim_attempt(instance, db, user, refuse_when_locked=refuse_when_locked)
    try:
        check_code(db, sign_in, code, key=settings.code_key,
                   max_attempts=settings.code_attempts, now=clock.now())
    except ClerkError:
        db.commit()
        if user is not None:
            attempt_failed(instance, db, user)
        else:
            _phantom_failure(instance, sign_in.identifier)
        raise
    assert user is not None
    return user


def verify_reset_code(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None, code: str
) -> None:
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    sign_in = _flow(db, flow_token, "needs_reset_code")
    # A reset is the way out of a lockout: its guesses count, but are not refused.
    user = _check_mailed_code(instance, db, sign_in, code, refuse_when_locked=False)
    if has_second_factor(user):
        # The second factor before the new password: a mailbox alone must not
        # be enough to change the password or sign the user out everywhere.
        _first_factor_passed(db, sign_in, RESET)
        return
    sign_in.status = "needs_new_password"
    db.commit()


def reset_password(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None,
    password: str, confirm_password: str, *, previous_client_token: str | None = None,
) -> Outcome:
    """Set the new password, sign out every other session, lift a lockout, sign in.

    A user with a second factor has passed it already (see :func:`verify_reset_code`)."""
    sign_in = _flow(db, flow_token, "needs_new_password")
    user = sign_in.user
    if user is None or (has_second_factor(user) and sign_in.second_factor_verified_at is None):
        raise ClerkError("sign_in_expired", status=400)
    check_new_password(instance, password, confirm_password,
                       user_password_context(instance, user))
    if user.banned:
        raise ClerkError("user_banned", status=403)
    user.password_digest = instance.hasher.hash(password)
    user.password_hasher = None
    user.password_last_updated_at = clock.now()
    revoke_user_sessions(instance, db, user.id)
    security_event("password.reset", user_id=user.id, ip=request.ip_address)
    new_session = prepare_session(instance, user, request,
                                  first_factor_at=sign_in.first_factor_verified_at,
                                  second_factor_at=sign_in.second_factor_verified_at)
    return _complete(instance, db, request, sign_in, user, new_session, previous_client_token)


def cancel_sign_in(db: DbSession, flow_token: str | None) -> None:
    """"Use another account" / edit the identifier: forget the flow."""
    sign_in = find_flow(db, SignIn, flow_token)
    if sign_in is not None:
        db.delete(sign_in)
        db.commit()


def _flow(db: DbSession, flow_token: str | None, status: str) -> SignIn:
    sign_in = require_flow(db, SignIn, flow_token)
    if sign_in.status != status:
        raise ClerkError("sign_in_expired", status=400)
    return sign_in


def _complete(
    instance: Instance, db: DbSession, request: RequestInfo, sign_in: SignIn | None, user: User,
    new_session: SignedIn, previous_client_token: str | None,
) -> SignedIn:
    signed_in = start_session(instance, db, user, new_session,
                              previous_client_token=previous_client_token)
    if sign_in is not None:
        db.delete(sign_in)
    db.commit()
    security_event("sign_in.succeeded", user_id=user.id, session_id=signed_in.session.id,
                   ip=request.ip_address)
    return signed_in
