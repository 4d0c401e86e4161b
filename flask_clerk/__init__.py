"""flask_clerk: Clerk-grade authentication and user management for Flask, self-hosted.

    from flask_clerk import ClerkAuth, auth, current_user, login_required, org_role_required

    clerk = ClerkAuth(app, protect=["/dashboard(.*)"])
"""

from .errors import ClerkConfigError, ClerkError
from .extension import ClerkAuth
from .request import (
    Auth,
    auth,
    current_user,
    login_required,
    org_required,
    org_role_required,
    permission_required,
    reverification_required,
)
from .user import ClerkUser
from .webhooks import ClerkWebhooks

__all__ = [
    "Auth",
    "ClerkAuth",
    "ClerkConfigError",
    "ClerkError",
    "ClerkUser",
    "ClerkWebhooks",
    "auth",
    "current_user",
    "login_required",
    "org_required",
    "org_role_required",
    "permission_required",
    "reverification_required",
]
