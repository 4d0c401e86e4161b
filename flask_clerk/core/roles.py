"""Organization roles and permissions, as Clerk names them.

A role is ``org:<name>``; a permission is ``org:<feature>:<action>``. Two roles
are built in: ``org:admin`` (every system permission) and ``org:member``. An app
adds its own roles and permissions in ``CLERK_ORGANIZATION_ROLES`` or with
``flask clerk roles add``, and may give the built-in roles custom permissions
too. System permissions (``org:sys_*``) gate the built-in management pages; they
are checked on the server from the membership and never put in a token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ClerkConfigError, ClerkError

ADMIN = "org:admin"
MEMBER = "org:member"

SYSTEM_PERMISSIONS = (
    "org:sys_profile:manage",
    "org:sys_profile:delete",
    "org:sys_memberships:read",
    "org:sys_memberships:manage",
    "org:sys_domains:read",
    "org:sys_domains:manage",
)
MANAGE_PROFILE, DELETE_ORGANIZATION = "org:sys_profile:manage", "org:sys_profile:delete"
READ_MEMBERS, MANAGE_MEMBERS = "org:sys_memberships:read", "org:sys_memberships:manage"
READ_DOMAINS, MANAGE_DOMAINS = "org:sys_domains:read", "org:sys_domains:manage"

# The names Clerk used before "org:admin" / "org:member".
ALIASES = {"admin": ADMIN, "basic_member": MEMBER, "org:basic_member": MEMBER}

_ROLE = re.compile(r"^org:[a-z][a-z0-9_]{0,49}$")
_PERMISSION = re.compile(r"^org:[a-z][a-z0-9_]{0,49}:[a-z][a-z0-9_]{0,49}$")


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    permissions: tuple[str, ...]
    description: str | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def custom_permissions(self) -> tuple[str, ...]:
        """What goes into the session token: everything but system permissions."""
        return tuple(p for p in self.permissions if not is_system_permission(p))


BUILT_IN = {
    ADMIN: Role(ADMIN, "Admin", SYSTEM_PERMISSIONS,
                "Manages the organization: its profile, members and domains."),
    MEMBER: Role(MEMBER, "Member", (READ_MEMBERS, READ_DOMAINS),
                 "Works in the organization and sees its members."),
}


def role_key(value: str | None) -> str:
    """``"admin"`` -> ``"org:admin"``; raises for a malformed key."""
    key = (value or "").strip()
    key = ALIASES.get(key, key)
    if key and not key.startswith("org:"):
        key = ALIASES.get(f"org:{key}", f"org:{key}")
    if not _ROLE.match(key):
        raise ClerkError("form_param_format_invalid", field="role")
    return key


def permission_key(value: str) -> str:
    """``"projects:delete"`` -> ``"org:projects:delete"``; None-safe checks go elsewhere."""
    key = value.strip()
    if not key.startswith("org:"):
        key = f"org:{key}"
    if not _PERMISSION.match(key):
        raise ValueError(f"{value!r} is not a permission key (org:<feature>:<action>)")
    return key


def is_system_permission(permission: str) -> bool:
    return permission.startswith("org:sys_")


def build_role(key: str, name: str | None, permissions: Iterable[str],
               description: str | None = None) -> Role:
    """A custom role, checked: a well-formed key and custom permissions only."""
    try:
        key = role_key(key)
    except ClerkError:
        raise ValueError(f"{key!r} is not a role key (org:<name>)") from None
    checked = []
    for permission in permissions:
        permission = permission_key(permission)
        if is_system_permission(permission) and key not in BUILT_IN:
            raise ValueError(f"{permission} is a system permission: only built-in roles hold them")
        if permission not in checked:
            checked.append(permission)
    return Role(key, (name or key[4:].replace("_", " ").title()).strip()[:100],
                tuple(checked), description)


def roles_from_settings(config: Mapping[str, Any] | None) -> dict[str, Role]:
    """The built-in roles plus ``CLERK_ORGANIZATION_ROLES``.

    ``{"org:editor": {"name": "Editor", "permissions": ["org:projects:manage"]}}``;
    an entry for ``org:admin`` or ``org:member`` adds custom permissions to it.
    """
    roles = dict(BUILT_IN)
    for raw_key, spec in (config or {}).items():
        if not isinstance(spec, Mapping):
            raise ClerkConfigError(
                f"CLERK_ORGANIZATION_ROLES[{raw_key!r}] must be a dict with "
                "'name' and 'permissions'."
            )
        try:
            role = build_role(raw_key, spec.get("name"), spec.get("permissions") or (),
                              spec.get("description"))
        except ValueError as exc:
            raise ClerkConfigError(f"CLERK_ORGANIZATION_ROLES: {exc}") from None
        built_in = BUILT_IN.get(role.key)
        if built_in is not None:
            extra = tuple(p for p in role.permissions if p not in built_in.permissions)
            role = Role(built_in.key, spec.get("name") or built_in.name,
                        built_in.permissions + extra,
                        spec.get("description") or built_in.description)
        roles[role.key] = role
    return roles
