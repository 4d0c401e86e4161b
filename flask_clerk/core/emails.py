"""The texts of the mails the instance sends (subject, body)."""

from __future__ import annotations


def _app(application_name: str | None) -> str:
    return application_name or "your account"


def sign_up_code(code: str, application_name: str | None, minutes: int) -> tuple[str, str]:
    return (
        f"{code} is your verification code",
        f"Enter this code to finish creating your account for {_app(application_name)}:\n\n"
        f"    {code}\n\nIt expires in {minutes} minutes. If you did not try to sign up, "
        "you can ignore this email.",
    )


def sign_up_existing(application_name: str | None, sign_in_url: str) -> tuple[str, str]:
    return (
        "Someone tried to sign up with your email address",
        f"Someone (probably you) tried to create an account for {_app(application_name)} with "
        "this email address, which already has an account.\n\n"
        f"To get in, sign in instead: {sign_in_url}\nForgot your password? Use "
        "“Forgot password?” on the sign-in page.\n\nIf it was not you, you can ignore this email.",
    )


def waitlist_joined(application_name: str | None) -> tuple[str, str]:
    return (
        "You’re on the waitlist",
        f"Thanks for joining the waitlist for {_app(application_name)}. We’ll be in touch "
        "when your spot is ready: you will receive an invitation to create your account."
        "\n\nIf you did not ask to join, you can ignore this email.",
    )


def reset_password_code(code: str, application_name: str | None, minutes: int) -> tuple[str, str]:
    return (
        f"{code} is your password reset code",
        f"Enter this code to reset your password for {_app(application_name)}:\n\n    {code}\n\n"
        f"It expires in {minutes} minutes. If you did not ask to reset your password, "
        "you can ignore this email; your password has not changed.",
    )


def sign_in_code(code: str, application_name: str | None, minutes: int) -> tuple[str, str]:
    return (
        f"{code} is your sign-in code",
        f"Enter this code to sign in to {_app(application_name)}:\n\n    {code}\n\n"
        f"It expires in {minutes} minutes. If you did not try to sign in, you can ignore "
        "this email.",
    )


def sign_in_link(url: str, application_name: str | None, minutes: int) -> tuple[str, str]:
    return (
        f"Your sign-in link for {_app(application_name)}",
        f"Open this link to sign in to {_app(application_name)}:\n\n    {url}\n\n"
        f"Open it in the browser where you asked for it. It works once and expires in "
        f"{minutes} minutes. If you did not try to sign in, you can ignore this email.",
    )


def reverification_code(code: str, application_name: str | None,
                        minutes: int) -> tuple[str, str]:
    return (
        f"{code} is your verification code",
        f"Enter this code to confirm it's you on {_app(application_name)}:\n\n    {code}\n\n"
        f"It expires in {minutes} minutes. If you did not ask for it, someone may be using "
        "your account: sign out your other devices from your profile's Security page.",
    )


def email_address_code(code: str, application_name: str | None, minutes: int) -> tuple[str, str]:
    return (
        f"{code} is your verification code",
        f"Enter this code to add this email address to your account for "
        f"{_app(application_name)}:\n\n    {code}\n\nIt expires in {minutes} minutes.",
    )


def account_changed(change: str, application_name: str | None) -> tuple[str, str]:
    """A notice to the primary address after a sensitive change (not for the change's
    own confirmation): if it was not its owner, they learn at once."""
    return (
        f"Your account: {change}",
        f"This is a notice that the following change was made to your account for "
        f"{_app(application_name)}:\n\n    {change}\n\nIf you made it, there is nothing to do. "
        "If you did not, reset your password now and sign out your other devices from your "
        "profile's Security page.",
    )


def organization_invitation(
    organization: str, inviter: str | None, url: str, days: int, application_name: str | None
) -> tuple[str, str]:
    who = inviter or "A member"
    return (
        f"{who} invited you to join {organization}",
        f"{who} invited you to join the organization {organization} on "
        f"{_app(application_name)}.\n\nAccept the invitation:\n\n    {url}\n\n"
        f"The link works once and expires in {days} days. If you were not expecting this, "
        "you can ignore this email.",
    )


def domain_code(code: str, domain: str, minutes: int, application_name: str | None
                ) -> tuple[str, str]:
    return (
        f"{code} is your verification code",
        f"Enter this code to verify that your organization owns {domain} on "
        f"{_app(application_name)}:\n\n    {code}\n\nIt expires in {minutes} minutes. If you "
        "did not ask for it, you can ignore this email.",
    )
