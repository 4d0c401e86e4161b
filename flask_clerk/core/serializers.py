"""Clerk's JSON shapes (timestamps in unix ms, every required key present).

One serializer for everything that leaves the engine: ``current_user``, the
Backend API and webhook payloads all use these functions.
"""

from __future__ import annotations

from typing import Any

from . import clock
from .models import (
    ActorToken,
    EmailAddress,
    ExternalAccount,
    Invitation,
    Organization,
    OrganizationInvitation,
    OrganizationMembership,
    Passkey,
    Session,
    User,
    WaitlistEntry,
)


def email_address_json(email: EmailAddress,
                       linked: list[ExternalAccount] | None = None) -> dict[str, Any]:
    verification: dict[str, Any] | None = None
    if email.verification_status == "verified" or email.code_hash:
        oauth = (email.verification_strategy or "").startswith("oauth_")
        verification = {
            "object": "verification_from_oauth" if oauth else "verification_otp",
            "status": email.verification_status,
            "strategy": email.verification_strategy or "email_code",
            "attempts": email.code_attempts if email.code_hash else None,
            "expire_at": clock.unix_ms(email.code_expires_at),
        }
    return {
        "id": email.id,
        "object": "email_address",
        "email_address": email.email_address,
        "reserved": False,
        "verification": verification,
        # The provider accounts with this address (Clerk's identification links).
        "linked_to": [{"type": a.provider, "id": a.identification_id} for a in linked or ()
                      if a.email_address == email.email_address],
        "matches_sso_connection": False,
        "created_at": clock.unix_ms(email.created_at),
        "updated_at": clock.unix_ms(email.updated_at),
    }


def passkey_json(passkey: Passkey) -> dict[str, Any]:
    return {
        "object": "passkey",
        "id": passkey.id,
        "name": passkey.name,
        # Clerk's field is never null: a passkey not used since it was added shows that.
        "last_used_at": clock.unix_ms(passkey.last_used_at or passkey.created_at),
        "verification": {"object": "verification_passkey", "status": "verified",
                         "strategy": "passkey", "attempts": None, "expire_at": None},
    }


def external_account_json(account: ExternalAccount) -> dict[str, Any]:
    """Clerk's ``external_account`` (verified by the provider when connected)."""
    return {
        "object": "external_account",
        "id": account.id,
        "provider": account.provider,
        "identification_id": account.identification_id,
        "provider_user_id": account.provider_user_id,
        "approved_scopes": account.approved_scopes,
        "email_address": account.email_address or "",
        "email_address_verified": account.email_verified,
        "first_name": account.first_name or "",
        "last_name": account.last_name or "",
        "avatar_url": account.image_url or "",
        "image_url": account.image_url,
        "username": account.username,
        "phone_number": None,
        "public_metadata": {},
        "label": None,
        "created_at": clock.unix_ms(account.created_at),
        "updated_at": clock.unix_ms(account.updated_at),
        "verification": {
            "object": "verification_oauth", "status": "verified",
            "strategy": account.provider, "attempts": None,
            "expire_at": clock.unix_ms(account.created_at),
        },
    }


def user_json(user: User) -> dict[str, Any]:
    lockout_seconds = None
    now = clock.now()
    if user.locked_until is not None and user.locked_until > now:
        lockout_seconds = int((user.locked_until - now).total_seconds())
    return {
        "id": user.id,
        "object": "user",
        "external_id": user.external_id,
        "primary_email_address_id": user.primary_email_address_id,
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "locale": None,
        "image_url": user.image_url or "",
        "has_image": bool(user.image_url),
        "public_metadata": dict(user.public_metadata or {}),
        "private_metadata": dict(user.private_metadata or {}),
        "unsafe_metadata": dict(user.unsafe_metadata or {}),
        "email_addresses": [email_address_json(e, user.external_accounts)
                            for e in user.email_addresses],
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [passkey_json(p) for p in user.passkeys],
        "external_accounts": [external_account_json(a) for a in user.external_accounts],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "password_enabled": bool(user.password_digest),
        # The authenticator app is the second factor; backup codes come with it.
        "two_factor_enabled": user.mfa_enabled_at is not None,
        "totp_enabled": user.mfa_enabled_at is not None,
        "backup_code_enabled": user.mfa_enabled_at is not None,
        "mfa_enabled_at": clock.unix_ms(user.mfa_enabled_at),
        "mfa_disabled_at": clock.unix_ms(user.mfa_disabled_at),
        "password_last_updated_at": clock.unix_ms(user.password_last_updated_at),
        "banned": user.banned,
        "locked": lockout_seconds is not None,
        "lockout_expires_in_seconds": lockout_seconds,
        "verification_attempts_remaining": None,
        "deprovisioned": False,
        "last_sign_in_at": clock.unix_ms(user.last_sign_in_at),
        "last_active_at": clock.unix_ms(user.last_active_at),
        "legal_accepted_at": None,
        "delete_self_enabled": True,
        "create_organization_enabled": True,
        "create_organizations_limit": None,
        "bypass_client_trust": False,
        "created_at": clock.unix_ms(user.created_at),
        "updated_at": clock.unix_ms(user.updated_at),
    }


def actor_token_json(token: ActorToken) -> dict[str, Any]:
    """Clerk's ``actor_token`` (its secret and url only in the answer that made it)."""
    return {
        "object": "actor_token", "id": token.id, "status": token.status,
        "user_id": token.user_id, "actor": dict(token.actor or {}),
        "created_at": clock.unix_ms(token.created_at),
        "updated_at": clock.unix_ms(token.updated_at),
    }


def session_json(session: Session) -> dict[str, Any]:
    return {
        "object": "session",
        "id": session.id,
        "user_id": session.user_id,
        "client_id": session.client_id,
        "actor": dict(session.actor) if session.actor else None,
        "status": session.status,
        "last_active_organization_id": session.last_active_organization_id,
        "last_active_at": clock.unix_ms(session.last_active_at),
        "latest_activity": None,
        "expire_at": clock.unix_ms(session.expire_at),
        # Without an inactivity timeout nothing abandons it before it expires (Clerk's
        # schema requires a time here).
        "abandon_at": clock.unix_ms(session.abandon_at or session.expire_at),
        "created_at": clock.unix_ms(session.created_at),
        "updated_at": clock.unix_ms(session.updated_at),
        "tasks": None,
    }


def organization_json(organization: Organization, *, members_count: int | None = None,
                      pending_invitations_count: int | None = None) -> dict[str, Any]:
    return {
        "object": "organization",
        "id": organization.id,
        "name": organization.name,
        "slug": organization.slug,
        "image_url": organization.image_url or "",
        "has_image": bool(organization.image_url),
        "members_count": members_count,
        "pending_invitations_count": pending_invitations_count,
        "max_allowed_memberships": organization.max_allowed_memberships or 0,
        "admin_delete_enabled": organization.admin_delete_enabled,
        "public_metadata": dict(organization.public_metadata or {}),
        "private_metadata": dict(organization.private_metadata or {}),
        "created_by": organization.created_by,
        "created_at": clock.unix_ms(organization.created_at),
        "updated_at": clock.unix_ms(organization.updated_at),
        "role_set_key": None,
    }


def membership_json(membership: OrganizationMembership, *, role_name: str | None = None,
                    permissions: list[str] | None = None) -> dict[str, Any]:
    user = membership.user
    primary = user.primary_address if user is not None else None
    return {
        "object": "organization_membership",
        "id": membership.id,
        "role": membership.role,
        "role_name": role_name or membership.role.removeprefix("org:").replace("_", " ").title(),
        "permissions": list(permissions or []),
        "public_metadata": dict(membership.public_metadata or {}),
        "private_metadata": dict(membership.private_metadata or {}),
        "organization": organization_json(membership.organization),
        "public_user_data": {
            "user_id": membership.user_id,
            "first_name": user.first_name if user else None,
            "last_name": user.last_name if user else None,
            "profile_image_url": (user.image_url or "") if user else "",
            "image_url": (user.image_url or "") if user else "",
            "has_image": bool(user and user.image_url),
            "identifier": primary or "",
            "username": user.username if user else None,
            "banned": bool(user and user.banned),
        },
        "created_at": clock.unix_ms(membership.created_at),
        "updated_at": clock.unix_ms(membership.updated_at),
    }


def invitation_json(invitation: OrganizationInvitation, *, url: str | None = None
                    ) -> dict[str, Any]:
    return {
        "object": "organization_invitation",
        "id": invitation.id,
        "email_address": invitation.email_address,
        "role": invitation.role,
        "role_name": invitation.role.removeprefix("org:").replace("_", " ").title(),
        "organization_id": invitation.organization_id,
        "inviter_id": invitation.inviter_id,
        "status": invitation.status,
        "public_metadata": dict(invitation.public_metadata or {}),
        "private_metadata": dict(invitation.private_metadata or {}),
        "url": url,
        "expires_at": clock.unix_ms(invitation.expires_at),
        "created_at": clock.unix_ms(invitation.created_at),
        "updated_at": clock.unix_ms(invitation.updated_at),
    }


def email_json(email_id: str, *, sender: str, to: str, subject: str, text: str,
               user_id: str | None) -> dict[str, Any]:
    """Clerk's Email object, for ``email.created``: a mail the instance sends."""
    return {
        "object": "email",
        "id": email_id,
        "slug": None,
        "from_email_name": sender.split("@", 1)[0],
        "to_email_address": to,
        "email_address_id": None,
        "user_id": user_id,
        "subject": subject,
        "body": None,
        "body_plain": text,
        "status": "queued",
        "data": {},
        "delivered_by_clerk": False,
    }


def instance_invitation_json(invitation: Invitation) -> dict[str, Any]:
    """Clerk's Invitation (``inv_``): an invitation to sign up to the application."""
    status = invitation.status
    if status == "pending" and invitation.expires_at <= clock.now():
        status = "expired"
    return {
        "object": "invitation",
        "id": invitation.id,
        "email_address": invitation.email_address,
        "public_metadata": dict(invitation.public_metadata or {}),
        "revoked": invitation.status == "revoked",
        "status": status,
        "url": None,
        "expires_at": clock.unix_ms(invitation.expires_at),
        "created_at": clock.unix_ms(invitation.created_at),
        "updated_at": clock.unix_ms(invitation.updated_at),
    }


def waitlist_entry_json(entry: WaitlistEntry) -> dict[str, Any]:
    """Clerk's WaitlistEntry (``wle_``), with the invitation it led to (or null)."""
    return {
        "object": "waitlist_entry",
        "id": entry.id,
        "email_address": entry.email_address,
        "status": entry.status,
        "is_locked": False,  # locked only during Clerk's bulk actions, which we do at once
        "invitation": (instance_invitation_json(entry.invitation)
                       if entry.invitation is not None else None),
        "created_at": clock.unix_ms(entry.created_at),
        "updated_at": clock.unix_ms(entry.updated_at),
    }
