"""Sign-up with email (and a password, when passwords are on): start, verify the
email code, done. Or through an OAuth provider: at once when it vouches for the
email, else with the same email code (see :mod:`.oauth`).

The user row is created only when the code is verified. An address that already
has an account goes through the very same steps (same answers, same timing), but
its owner receives a notice instead of a code, so sign-up reveals nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..ids import new_id, new_token, token_hash
from ..settings import identifier_allowed
from . import clock, emails
from .audit import security_event
from .codes import check_code, issue_code
from .external_accounts import add_external_account
from .flows import FLOW_LIFETIME, purge_expired_flows, require_flow
from .instance import Instance, RequestInfo
from .invitations import accept_invitations, is_invited
from .models import SignUp
from .oauth_providers import ProviderIdentity
from .serializers import user_json
from .sessions import SignedIn, create_session
from .users import (
    clean_name,
    create_user,
    find_user_by_email,
    new_password_digest,
    normalize_email,
    password_context,
)
from .waitlist import is_rejected
from .webhooks import emit, mail_sent


def start_sign_up(
    instance: Instance, db: DbSession, request: RequestInfo, *, email_address: str,
    password: str, first_name: str | None = None, last_name: str | None = None,
) -> tuple[SignUp, str]:
    """Validate everything, mail a code; returns the flow and its browser token."""
    settings, now = instance.settings, clock.now()
    instance.rate_limiter.hit("sign_up", request.ip_address or "-")
    name_mode = settings.sign_up_name
    first = last = None
    if name_mode != "off":
        first = clean_name(first_name, "first_name", required=name_mode == "required")
        last = clean_name(last_name, "last_name", required=name_mode == "required")
    address = normalize_email(email_address)
    check_sign_up_allowed(instance, db, address)
    digest = new_password_digest(instance, password,
                                 password_context(instance, address, first, last))
    taken = find_user_by_email(db, address) is not None
    purge_expired_flows(db, SignUp)
    flow_token = new_token()
    sign_up = SignUp(
        id=new_id("sua"), flow_token_hash=token_hash(flow_token), email_address=address,
        first_name=first, last_name=last, password_digest=None if taken else digest,
        email_taken=taken, status="missing_requirements",
        expire_at=now + timedelta(seconds=FLOW_LIFETIME),
    )
    db.add(sign_up)
    _send_code(instance, db, sign_up)
    db.commit()
    return sign_up, flow_token


def check_sign_up_allowed(instance: Instance, db: DbSession, email_address: str) -> None:
    """The instance's rules for who may sign up: the allow and block lists, and in
    ``restricted`` and ``waitlist`` modes only an invited address (Clerk's sign-up
    modes; the waitlist is how people ask for an invitation)."""
    settings = instance.settings
    if not identifier_allowed(settings, email_address, signing_up=True):
        raise ClerkError("identifier_not_allowed", status=403, field="email_address")
    if settings.sign_up_mode != "public" and (
            not is_invited(db, email_address) or is_rejected(db, email_address)):
        # (An address turned down on the waitlist stays out, whoever invites it:
        # a member's organization invitation included.)
        raise ClerkError("sign_up_restricted", status=403)


def start_identity_sign_up(
    instance: Instance, db: DbSession, request: RequestInfo, identity: ProviderIdentity
) -> tuple[SignUp, str]:
    """A provider account whose email the provider does not vouch for: the mailed
    code proves the address, then the user is created with the account connected.
    An address that has an account already gets the usual notice instead."""
    instance.rate_limiter.hit("sign_up", request.ip_address or "-")
    assert identity.email is not None
    check_sign_up_allowed(instance, db, identity.email)
    taken = find_user_by_email(db, identity.email) is not None
    purge_expired_flows(db, SignUp)
    flow_token = new_token()
    sign_up = SignUp(
        id=new_id("sua"), flow_token_hash=token_hash(flow_token), email_address=identity.email,
        first_name=identity.first_name, last_name=identity.last_name, password_digest=None,
        email_taken=taken, external_account=identity.as_dict(), status="missing_requirements",
        expire_at=clock.now() + timedelta(seconds=FLOW_LIFETIME),
    )
    db.add(sign_up)
    _send_code(instance, db, sign_up)
    db.commit()
    return sign_up, flow_token


def resend_sign_up_code(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None
) -> None:
    instance.rate_limiter.hit("send_code", request.ip_address or "-")
    sign_up = require_flow(db, SignUp, flow_token)
    _send_code(instance, db, sign_up)
    db.commit()


def _send_code(instance: Instance, db: DbSession, sign_up: SignUp) -> None:
    settings = instance.settings
    instance.rate_limiter.hit("address_sends", sign_up.email_address)
    # For a taken address a code is issued too (never sent), so that the flow's
    # state, timing and later answers are the same as for a new address.
    code = issue_code(sign_up, key=settings.code_key, lifetime=settings.code_lifetime,
                      resend_interval=settings.code_resend_interval, now=clock.now())
    if sign_up.email_taken:
        subject, text = emails.sign_up_existing(settings.application_name, settings.sign_in_url)
    else:
        subject, text = emails.sign_up_code(code, settings.application_name,
                                            settings.code_lifetime // 60)
    mail_sent(instance, db, sign_up.email_address, subject, text)
    instance.mailer.send(sign_up.email_address, subject, text)


def verify_sign_up(
    instance: Instance, db: DbSession, request: RequestInfo, flow_token: str | None, code: str,
    *, previous_client_token: str | None = None,
) -> SignedIn:
    """Check the emailed code; create the user and sign them in."""
    settings = instance.settings
    instance.rate_limiter.hit("verify", request.ip_address or "-")
    sign_up = require_flow(db, SignUp, flow_token)
    if sign_up.email_taken:
        # Never completes: the code was not sent to anyone. Burn the code (the
        # owner's mailbox is the only way in) while answering like a wrong guess.
        sign_up.code_hash = new_token()
    instance.rate_limiter.hit("address_guesses", sign_up.email_address)
    try:
        check_code(db, sign_up, code, key=settings.code_key,
                   max_attempts=settings.code_attempts, now=clock.now())
    except ClerkError:
        db.commit()
        raise
    identity = (ProviderIdentity(**sign_up.external_account)
                if sign_up.external_account else None)
    db.delete(sign_up)
    return create_user_and_sign_in(
        instance, db, request, email_address=sign_up.email_address,
        password_digest=sign_up.password_digest, first_name=sign_up.first_name,
        last_name=sign_up.last_name, identity=identity,
        previous_client_token=previous_client_token)


def create_user_and_sign_in(
    instance: Instance, db: DbSession, request: RequestInfo, *, email_address: str,
    password_digest: str | None, first_name: str | None, last_name: str | None,
    identity: ProviderIdentity | None = None, email_strategy: str = "email_code",
    previous_client_token: str | None = None,
) -> SignedIn:
    """The end of every sign-up: the user (with the provider account ``identity``
    connected, if any), its invitations accepted, a session; all in one commit.
    Who may sign up is checked again here: an invitation revoked (or an entry
    rejected) while the code was on its way stops the sign-up."""
    check_sign_up_allowed(instance, db, email_address)
    user = create_user(
        db, email_address=email_address, password_digest=password_digest,
        first_name=first_name, last_name=last_name, email_strategy=email_strategy,
    )
    try:
        db.flush()
    except IntegrityError:
        # Two sign-ups for one address raced and the other one won.
        db.rollback()
        raise ClerkError("form_identifier_exists", field="email_address") from None
    if identity is not None:
        user.image_url = identity.image_url
        add_external_account(db, user, identity)
    emit(instance, db, "user.created", user_json(user), request)
    accept_invitations(instance, db, email_address)
    signed_in = create_session(instance, db, user, request,
                               previous_client_token=previous_client_token)
    db.commit()
    security_event("user.created", user_id=user.id, session_id=signed_in.session.id,
                   ip=request.ip_address, strategy=email_strategy)
    return signed_in
