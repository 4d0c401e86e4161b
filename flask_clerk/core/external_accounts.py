"""A user's accounts at OAuth providers (Clerk's ``external_accounts``): found by
(provider, provider user id), connected, refreshed at each sign-in, removed only
while another way to sign in remains."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from .audit import security_event
from .instance import Instance
from .models import ExternalAccount, User
from .oauth_providers import ProviderIdentity
from .users import notify_owner, own_row, user_updated


def find_external_account(db: DbSession, identity: ProviderIdentity) -> ExternalAccount | None:
    return db.scalars(select(ExternalAccount).where(
        ExternalAccount.provider == identity.provider,
        ExternalAccount.provider_user_id == identity.provider_user_id)).first()


def add_external_account(db: DbSession, user: User, identity: ProviderIdentity) -> ExternalAccount:
    """Connect ``identity`` to ``user`` (the caller commits; a race for the same
    provider account fails the flush with ``external_account_exists``)."""
    account = ExternalAccount(user_id=user.id, provider=identity.provider,
                              provider_user_id=identity.provider_user_id)
    refresh_external_account(account, identity)
    db.add(account)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise ClerkError("external_account_exists") from None
    db.expire(user, ["external_accounts"])
    return account


def refresh_external_account(account: ExternalAccount, identity: ProviderIdentity) -> None:
    """What the provider says now (name, email, picture, scopes), kept on the account."""
    account.email_address = identity.email
    account.email_verified = identity.email_verified
    account.first_name = identity.first_name
    account.last_name = identity.last_name
    account.username = identity.username
    account.image_url = identity.image_url
    account.approved_scopes = identity.approved_scopes


def connect_external_account(
    instance: Instance, db: DbSession, user: User, identity: ProviderIdentity
) -> ExternalAccount:
    """The signed-in user connects a provider account from their profile. One
    provider account belongs to one user."""
    account = find_external_account(db, identity)
    if account is not None and account.user_id != user.id:
        raise ClerkError("external_account_exists")
    if account is not None:
        refresh_external_account(account, identity)
    else:
        account = add_external_account(db, user, identity)
    user_updated(instance, db, user)
    db.commit()
    security_event("external_account.connected", user_id=user.id, provider=identity.provider)
    notify_owner(instance, user, f"{provider_name(instance, identity.provider)} account connected")
    return account


def sign_in_methods(instance: Instance, user: User,
                    without: ExternalAccount | None = None) -> list[str]:
    """The ways ``user`` can sign in on this instance (apart from ``without``)."""
    settings = instance.settings
    strategies = set(settings.sign_in_strategies)
    methods = []
    if "password" in strategies and user.password_digest:
        methods.append("password")
    if strategies & {"email_code", "email_link"} and any(e.verified for e in user.email_addresses):
        methods.append("email")
    if "passkey" in strategies and user.passkeys:
        methods.append("passkey")
    offered = {p.strategy for p in settings.oauth_providers}
    methods += [a.provider for a in user.external_accounts
                if a.provider in offered and a.id != (without.id if without else None)]
    return methods


def remove_external_account(instance: Instance, db: DbSession, user: User,
                            account_id: str) -> None:
    """The user disconnects an account; never their last way to sign in. The
    caller has checked a recent reverification."""
    account = own_row(db, ExternalAccount, user, account_id)
    # Two removals at once must not both see the other's account as the way left.
    db.execute(select(User.id).where(User.id == user.id).with_for_update())
    if not sign_in_methods(instance, user, without=account):
        raise ClerkError("external_account_last_method",
                         provider=provider_name(instance, account.provider))
    delete_external_account(instance, db, user, account_id)


def delete_external_account(instance: Instance, db: DbSession, user: User,
                            account_id: str) -> None:
    """Disconnect an account, whatever is left (the Backend API: an administrator)."""
    account = own_row(db, ExternalAccount, user, account_id)
    db.delete(account)
    db.flush()
    db.expire(user, ["external_accounts"])
    user_updated(instance, db, user)
    db.commit()
    security_event("external_account.removed", user_id=user.id, provider=account.provider)
    notify_owner(instance, user, f"{provider_name(instance, account.provider)} account removed")


def provider_name(instance: Instance, strategy: str) -> str:
    """"Google" for ``oauth_google`` (the strategy itself for one no longer offered)."""
    for provider in instance.settings.oauth_providers:
        if provider.strategy == strategy:
            return provider.name
    return strategy.removeprefix("oauth_").replace("_", " ").title()
