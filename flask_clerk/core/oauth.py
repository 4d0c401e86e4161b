"""Social sign-in: a redirect to an OAuth / OpenID Connect provider and back.

The protocol (authorization URL, token exchange, ID token) runs on Authlib in
``web/oauth.py``; here are the rules around it:

- a flow is single use, lives 10 minutes and belongs to the browser that began
  it (a cookie's token), so a callback URL replayed, forged or opened in another
  browser signs nobody in (``state`` finds the flow, the cookie must match it);
- a provider account signs in the user it is connected to;
- else, when the provider vouches for the email, it is connected to the user who
  has that verified address, or a new user is created with it;
- else the address is proven with a mailed code first (a sign-up; for an address
  that has an account, its owner must sign in and connect the provider from the
  profile), so an unverified email never takes over an account;
- a user with a second factor is asked for it afterwards, as after a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..ids import constant_time_equal, new_token, token_hash
from . import clock
from .audit import security_event
from .external_accounts import (
    add_external_account,
    connect_external_account,
    find_external_account,
    refresh_external_account,
)
from .instance import Instance, RequestInfo
from .models import OAuthFlow, Session, User
from .oauth_providers import OAuthProvider, ProviderIdentity
from .sessions import SignedIn
from .sign_in import Outcome, external_first_factor
from .sign_up import check_sign_up_allowed, create_user_and_sign_in, start_identity_sign_up
from .users import find_user_by_email, notify_owner, raise_if_locked, user_updated

OAUTH_FLOW_LIFETIME = 600  # s: the user has 10 minutes at the provider
INTENTS = ("sign_in", "sign_up", "connect")


@dataclass(frozen=True)
class Authorization:
    """What the redirect to the provider carries (made by Authlib)."""

    url: str
    state: str
    code_verifier: str
    nonce: str | None


def begin_flow(
    instance: Instance, db: DbSession, request: RequestInfo, provider: OAuthProvider,
    authorization: Authorization, *, intent: str, redirect_uri: str, return_to: str,
    redirect_url: str | None = None, session: Session | None = None,
) -> str:
    """Record a redirect to ``provider``; returns the token for the browser's cookie.
    ``connect`` needs the signed-in ``session`` whose user gets the account."""
    assert intent in INTENTS and (intent == "connect") == (session is not None)
    instance.rate_limiter.hit("sign_in", request.ip_address or "-")
    now = clock.now()
    db.execute(delete(OAuthFlow).where(OAuthFlow.expire_at <= now))
    browser_token = new_token()
    db.add(OAuthFlow(
        state_hash=token_hash(authorization.state), browser_hash=token_hash(browser_token),
        provider=provider.key, intent=intent, code_verifier=authorization.code_verifier,
        nonce=authorization.nonce, redirect_uri=redirect_uri, return_to=return_to,
        redirect_url=redirect_url or None, session_id=session.id if session else None,
        expire_at=now + timedelta(seconds=OAUTH_FLOW_LIFETIME),
    ))
    db.commit()
    return browser_token


def peek_flow(db: DbSession, state: str | None) -> OAuthFlow | None:
    """The flow a callback's ``state`` names, if any (to know where to report)."""
    if not state or len(state) > 200:
        return None
    return db.scalars(select(OAuthFlow).where(OAuthFlow.state_hash == token_hash(state))).first()


def owns_flow(flow: OAuthFlow, browser_token: str | None) -> bool:
    """Whether the browser holding ``browser_token`` started ``flow``."""
    return bool(browser_token) and constant_time_equal(flow.browser_hash,
                                                       token_hash(browser_token or ""))


def take_flow(db: DbSession, provider: OAuthProvider, flow: OAuthFlow | None,
              browser_token: str | None) -> OAuthFlow:
    """The callback's flow (as :func:`peek_flow` found it by ``state``), used up now:
    it must exist, be this browser's, be for this provider and be in time. A second
    callback with the same ``state`` (a replay, a double click) finds nothing."""
    if flow is None or flow.provider != provider.key or not owns_flow(flow, browser_token):
        security_event("oauth.callback_refused", provider=provider.key,
                       reason="unknown state" if flow is None else "other browser or provider")
        raise ClerkError("oauth_callback_invalid", status=400, provider=provider.name)
    # One winner even when two callbacks race: only one DELETE removes the row.
    taken = db.execute(  # type: ignore[attr-defined]  # a CursorResult
        delete(OAuthFlow).where(OAuthFlow.id == flow.id)).rowcount
    db.commit()
    if taken != 1:
        raise ClerkError("oauth_callback_invalid", status=400, provider=provider.name)
    if flow.expire_at <= clock.now():
        raise ClerkError("oauth_expired", status=400, provider=provider.name)
    return flow


@dataclass(frozen=True)
class SignedInWith:
    """Signed in; ``created``: as a new user (a sign-up)."""

    signed_in: SignedIn
    created: bool = False


@dataclass(frozen=True)
class Continues:
    """The sign-in goes on in a flow of ours: the second factor (``sign_in``) or the
    email code of a sign-up (``sign_up``), bound to the browser by ``flow_token``."""

    component: str
    flow_token: str


def sign_in_with_identity(
    instance: Instance, db: DbSession, request: RequestInfo, provider: OAuthProvider,
    identity: ProviderIdentity, *, previous_client_token: str | None = None,
) -> SignedInWith | Continues:
    """Sign in (or up) with what the provider said about the user."""
    account = find_external_account(db, identity)
    if account is not None:
        user = db.get(User, account.user_id)
        assert user is not None
        refresh_external_account(account, identity)
        return _first_factor(instance, db, request, user, identity, previous_client_token)
    if identity.email is None:
        raise ClerkError("oauth_email_missing", provider=provider.name)
    if not identity.email_verified:
        # The provider does not vouch for the address: prove it with a code first.
        _, flow_token = start_identity_sign_up(instance, db, request, identity)
        return Continues("sign_up", flow_token)
    user = find_user_by_email(db, identity.email)
    if user is None:
        check_sign_up_allowed(instance, db, identity.email)
        return SignedInWith(create_user_and_sign_in(
            instance, db, request, email_address=identity.email, password_digest=None,
            first_name=identity.first_name, last_name=identity.last_name, identity=identity,
            email_strategy=identity.provider, previous_client_token=previous_client_token),
            created=True)
    # The provider vouches for an address this user has verified: the same person.
    raise_if_locked(user)
    if user.banned:
        raise ClerkError("user_banned", status=403)
    add_external_account(db, user, identity)
    user_updated(instance, db, user)
    security_event("external_account.linked", user_id=user.id, provider=identity.provider)
    outcome = _first_factor(instance, db, request, user, identity, previous_client_token)
    notify_owner(instance, user, f"{provider.name} account connected")
    return outcome


def _first_factor(
    instance: Instance, db: DbSession, request: RequestInfo, user: User,
    identity: ProviderIdentity, previous_client_token: str | None,
) -> SignedInWith | Continues:
    outcome: Outcome
    outcome, flow_token = external_first_factor(
        instance, db, request, user, identity.provider,
        previous_client_token=previous_client_token)
    if flow_token is not None:
        return Continues("sign_in", flow_token)
    assert isinstance(outcome, SignedIn)
    return SignedInWith(outcome)


def connect_with_identity(
    instance: Instance, db: DbSession, provider: OAuthProvider, flow: OAuthFlow,
    session_id: str | None, identity: ProviderIdentity,
) -> None:
    """The callback of "Connect account": for the session that asked, still signed in."""
    session = db.get(Session, flow.session_id) if flow.session_id else None
    if session is None or session.status != "active" or session_id != session.id:
        raise ClerkError("oauth_callback_invalid", status=400, provider=provider.name)
    connect_external_account(instance, db, session.user, identity)
