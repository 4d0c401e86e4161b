"""Clerk's JSON shapes (timestamps in unix ms, every required key present).

One serializer for everything that leaves the engine: ``current_user``, the
Backend API and webhook payloads all use these functions.
"""

from __future__ import annotations

from typing import Any

from . import clock
from .models import EmailAddress, Session, User


def email_address_json(email: EmailAddress) -> dict[str, Any]:
    verification: dict[str, Any] | None = None
    if email.verification_status == "verified" or email.code_hash:
        verification = {
            "object": "verification_otp",
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
        "linked_to": [],
        "matches_sso_connection": False,
        "created_at": clock.unix_ms(email.created_at),
        "updated_at": clock.unix_ms(email.updated_at),
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
        "email_addresses": [email_address_json(e) for e in user.email_addresses],
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [],
        "external_accounts": [],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "password_enabled": bool(user.password_digest),
        "two_factor_enabled": False,
        "totp_enabled": False,
        "backup_code_enabled": False,
        "mfa_enabled_at": None,
        "mfa_disabled_at": None,
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


def session_json(session: Session) -> dict[str, Any]:
    return {
        "object": "session",
        "id": session.id,
        "user_id": session.user_id,
        "client_id": session.client_id,
        "actor": None,
        "status": session.status,
        "last_active_organization_id": session.last_active_organization_id,
        "last_active_at": clock.unix_ms(session.last_active_at),
        "latest_activity": None,
        "expire_at": clock.unix_ms(session.expire_at),
        "abandon_at": clock.unix_ms(session.abandon_at),
        "created_at": clock.unix_ms(session.created_at),
        "updated_at": clock.unix_ms(session.updated_at),
        "tasks": None,
    }
