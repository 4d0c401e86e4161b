"""One error hierarchy with Clerk's machine codes.

Every flow raises :class:`ClerkError` (or a subclass) with a stable ``code``; the
human text comes from :data:`MESSAGES`, one table that an application can
override or translate (``CLERK_MESSAGES``). Views turn errors into a message next
to the form field, JSON APIs into ``{"errors": [...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MESSAGES: dict[str, str] = {
    "form_param_missing": "Enter a value.",
    "form_param_format_invalid": "Enter a valid value.",
    "form_param_too_long": "This value is too long.",
    "form_param_nil": "Enter a value.",
    "form_email_invalid": "Enter a valid email address.",
    "form_identifier_exists": "That email address is already in use.",
    "form_password_incorrect": "Password is incorrect. Try again, or use another method.",
    "form_password_incorrect:current_password": "Your current password is incorrect.",
    "form_password_length_too_short": "Your password must contain {min} or more characters.",
    "form_password_length_too_long": "Your password must contain at most {max} characters.",
    "form_password_pwned": (
        "This password is among the most commonly used and easily guessed passwords. "
        "Choose a different one."
    ),
    "form_password_context": (
        "This password contains your {word}, which makes it easy to guess. "
        "Choose a different one."
    ),
    "form_password_mismatch": "Passwords don't match.",
    "form_code_incorrect": "Incorrect code.",
    "form_code_expired": "This code has expired. Request a new one.",
    "form_code_attempts_exceeded": "Too many incorrect attempts. Start again.",
    "form_confirmation_mismatch": "Type “{expected}” to confirm.",
    "verification_resend_too_soon": "Wait {seconds} seconds before requesting a new code.",
    "sign_in_expired": "This sign-in has expired. Start again.",
    "sign_up_expired": "This sign-up has expired. Start again.",
    "user_locked": "Your account is locked. You will be able to try again in {minutes} minutes.",
    "user_banned": "This account has been suspended.",
    "session_exists": "You're already signed in.",
    "primary_email_cannot_be_removed": (
        "This is your primary email address. Make another address primary first."
    ),
    "email_address_not_verified": "Verify this email address before making it primary.",
    "resource_not_found": "Not found.",
    "session_not_found": "That account is no longer signed in on this browser.",
    "form_identifier_exists:slug": "This slug is already taken. Choose another one.",
    "form_param_format_invalid:slug": (
        "Use lower-case letters, digits and single hyphens, e.g. acme-inc."
    ),
    "form_param_format_invalid:image_url": "Enter a web address starting with https://.",
    "organization_domain_invalid": "Enter a domain name such as example.com.",
    "organization_creation_disabled": "Creating organizations is turned off.",
    "organization_limit_reached": "You have reached the limit of {limit} organizations.",
    "organization_delete_disabled": "This organization cannot be deleted.",
    "organization_membership_quota_exceeded": (
        "This organization has no room for more members (its limit is {limit})."
    ),
    "organization_minimum_permissions_needed": (
        "An organization needs at least one admin. Make someone else an admin first."
    ),
    "organization_required": "Choose or create an organization to continue.",
    "organization_mfa_required": (
        "This organization requires two-step verification: set it up in your account first."
    ),
    "organization_mfa_needs_your_own": (
        "Set up two-step verification for your own account first (Account → Security)."
    ),
    "user_last_admin": (
        "You are the only admin of {organizations}. Make someone else an admin, or delete "
        "the organization, first."
    ),
    "already_a_member_in_organization": "{email} is already a member of this organization.",
    "duplicate_invitation": "{email} has already been invited.",
    "duplicate_record": "{key} exists already.",
    "role_not_removable": "{key} is built in or set in CLERK_ORGANIZATION_ROLES: change it there.",
    "role_in_use": (
        "{key} is held by {count} members or invitations: give them another role first."
    ),
    "organization_domain_common": (
        "{domain} is an email provider's domain: everyone can have an address there."
    ),
    "organization_domain_exists": "{domain} is already verified by another organization.",
    "organization_domain_mismatch": "Use an address on {domain}.",
    "organization_domain_verified": "{domain} is verified already.",
    "webhook_url_invalid": "Enter an http(s) URL.",
    "webhook_url_private": (
        "This URL points at a private or local address. Set "
        "CLERK_WEBHOOKS_ALLOW_PRIVATE_URLS to allow it (development only)."
    ),
    "invitation_invalid": "This invitation is no longer valid. Ask for a new one.",
    "invitation_email_mismatch": (
        "This invitation was sent to {email}. Add and verify that address, or sign in "
        "with the account that has it."
    ),
    "authentication_invalid": "You need to sign in to access this resource.",
    "authorization_invalid": "You are not authorized to access this resource.",
    "issuer_unavailable": "The sign-in service could not be reached. Try again in a moment.",
    "issuer_refused": (
        "The sign-in service refused to sign you out from here. Sign out on its own pages."
    ),
    "sign_out_reload": "This page has been open a while: reload it, then sign out.",
    "organization_switch_unsupported": (
        "Switch organizations on the sign-in service's pages: it cannot be done from here."
    ),
    "csrf_invalid": "Your form expired. Reload the page and try again.",
    "too_many_requests": "Too many requests. Try again in {seconds} seconds.",
    "form_param_unknown": "{field} is not a known parameter.",
    "invitation_not_pending": "Only a pending invitation can be revoked.",
    "totp_already_enabled": "An authenticator app is set up already. Remove it first.",
    "totp_not_enrolling": "Start setting up the authenticator app again.",
    "form_code_incorrect:backup_code": "Incorrect backup code.",
    "strategy_for_user_invalid": "This verification method is not available for this account.",
    "email_link_invalid": "This sign-in link is not valid. Request a new one.",
    "email_link_expired": "This sign-in link has expired. Request a new one.",
    "email_link_other_browser": (
        "This link must be opened in the browser where you started signing in. Open it "
        "there, or start signing in again in this browser."
    ),
    "session_reverification_required": (
        "You need to verify your identity again before doing this."
    ),
    "request_body_invalid": "The request body must be a JSON object.",
    "idempotency_key_reused": "This Idempotency-Key was used with a different request body.",
    "idempotency_request_in_progress": (
        "A request with this Idempotency-Key is still being processed. Retry later."
    ),
    # Passkeys (flask_clerk.core.passkeys)
    "passkey_unavailable": (
        "Passkeys need a domain name, not an IP address: open this site at its name "
        "(e.g. localhost)."
    ),
    "passkey_invalid": "This passkey could not be verified. Try again, or use another method.",
    "passkey_not_found": (
        "This passkey is not registered here. Try another one, or use another method."
    ),
    "passkey_challenge_expired": "This passkey request has expired. Try again.",
    "passkey_sign_count_regressed": (
        "This passkey reported an unexpected use count, which can mean it was copied. "
        "Use another method to sign in."
    ),
    "passkey_limit_reached": "You can have at most {limit} passkeys. Remove one first.",
    "passkey_already_registered": "This passkey is already registered.",
    "form_param_format_invalid:name": "Enter a name of 1 to 100 characters.",
    # Social sign-in (flask_clerk.core.oauth)
    "oauth_access_denied": "You cancelled signing in with {provider}.",
    "oauth_provider_error": (
        "{provider} could not sign you in ({error}). Try again, or use another method."
    ),
    "oauth_callback_invalid": (
        "This sign-in with {provider} could not be verified, or was finished already. "
        "Start again from this page."
    ),
    "oauth_expired": "Signing in with {provider} took too long. Start again.",
    "oauth_provider_unavailable": (
        "{provider} could not be reached. Try again in a moment, or use another method."
    ),
    "oauth_token_invalid": (
        "{provider}'s answer could not be verified. Try again, or use another method."
    ),
    "oauth_email_missing": (
        "{provider} did not share an email address with us. Allow it there, or use "
        "another method."
    ),
    "oauth_provider_unknown": "This sign-in provider is not available.",
    "external_account_exists": (
        "This account is already connected to another user. Sign in with it, or "
        "connect a different one."
    ),
    "external_account_last_method": (
        "{provider} is the only way you can sign in. Add another way (a password, a "
        "passkey or another account) before removing it."
    ),
    # The dashboard and impersonation
    "setting_invalid": "Enter {expected}.",
    "sign_up_restricted": "Sign-ups are by invitation only.",
    "waitlist_closed": "There is no waitlist: sign-ups are not waiting for invitations.",
    "waitlist_entry_completed": "This person has signed up already.",
    "identifier_not_allowed": "This email address cannot be used here.",
    "actor_token_invalid": "This impersonation link is no longer valid. Start again.",
    "dashboard_admins_only": "Only this instance's administrators can use the dashboard.",
    "dashboard_while_impersonating": "Stop impersonating to use the dashboard.",
    "not_impersonating": "You are not impersonating anyone.",
    "reverification_while_impersonating": (
        "While impersonating you cannot verify as the user: this action stays theirs."
    ),
    "dashboard_not_on_administrators": (
        "Not on an administrator's account, yours included: administrators manage their "
        "own accounts from their profile."
    ),
    "dashboard_needs_mfa": (
        "Set up two-step verification for your own account first: the secret key opens "
        "everything."
    ),
    # Creating and importing users (flask_clerk.core.user_import)
    "form_username_invalid_character": "A username may contain only a-z, 0-9, _ and -.",
    "form_username_invalid_length": (
        "A username is {min_length} to {max_length} characters long."
    ),
    "form_param_exceeds_allowed_size": "{field} is larger than {max} bytes.",
    "form_param_value_invalid": "This value is not supported.",
    "form_param_value_invalid:password_digest": (
        "Give either password, or password_digest and password_hasher, not both."
    ),
    "form_param_value_invalid:email_address_identification_status": (
        "Reserved email addresses are not supported: create them verified."
    ),
    "form_param_unknown:phone_number": "Phone numbers are not supported by this instance.",
    "form_param_unknown:web3_wallet": "Web3 wallets are not supported by this instance.",
    "form_param_missing:password_hasher": "Give the password_hasher of the password_digest.",
    "form_param_missing:password_digest": "Give the password_digest for the password_hasher.",
    "form_identifier_exists:username": "That username is taken.",
    "form_identifier_exists:external_id": "Another user has this external_id.",
    "form_param_format_invalid:totp_secret": (
        "Enter a base32 TOTP secret of at least 16 characters."
    ),
    "form_param_format_invalid:backup_codes": (
        "Give at most 50 backup codes, each plain (up to 64 characters) or a bcrypt digest."
    ),
    "form_param_format_invalid:created_at": (
        "Enter a date and time in RFC 3339 format, e.g. 2012-10-20T07:15:20.902Z."
    ),
    "form_param_format_invalid:legal_accepted_at": (
        "Enter a date and time in RFC 3339 format, e.g. 2012-10-20T07:15:20.902Z."
    ),
}


class ClerkError(Exception):
    """A failure a user or client can act on, with Clerk's ``code``."""

    status = 422

    def __init__(
        self,
        code: str,
        *,
        field: str | None = None,
        status: int | None = None,
        **params: Any,
    ) -> None:
        self.code = code
        self.field = field
        self.params = params
        if status is not None:
            self.status = status
        super().__init__(code)

    def message(self, overrides: Mapping[str, str] | None = None) -> str:
        """The text for this code; ``"<code>:<field>"`` entries refine it per field."""
        template = self.code
        for key in (f"{self.code}:{self.field}", self.code):
            found = (overrides or {}).get(key) or MESSAGES.get(key)
            if found:
                template = found
                break
        try:
            return template.format(**{"field": self.field, **self.params})
        except (KeyError, IndexError):
            return template

    def to_json(self, overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
        message = self.message(overrides)
        meta: dict[str, Any] = {}
        if self.field:
            meta["param_name"] = self.field
        return {"code": self.code, "message": message, "long_message": message, "meta": meta}


class AuthenticationError(ClerkError):
    status = 401


class NotFound(ClerkError):
    status = 404


class RateLimited(ClerkError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("too_many_requests", seconds=retry_after)
        self.retry_after = retry_after


class ClerkConfigError(RuntimeError):
    """Raised at start-up for settings that cannot work; the message says what to set."""
