"""Custom organization roles kept in the identity store (``flask clerk roles``).

Roles from ``CLERK_ORGANIZATION_ROLES`` and the two built-in ones live in the
settings; these are the ones added at run time. All of them meet in
:meth:`Instance.roles`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from .instance import Instance
from .models import OrganizationInvitation, OrganizationMembership, OrganizationRole
from .roles import Role, build_role


def add_role(instance: Instance, db: DbSession, key: str, *, name: str | None,
             permissions: Iterable[str], description: str | None = None) -> Role:
    """A new custom role; its key must be new (built in, settings or stored)."""
    try:
        role = build_role(key, name, permissions, description)
    except ValueError as exc:
        raise ClerkError("form_param_format_invalid", field="role", detail=str(exc)) from None
    stored = db.get(OrganizationRole, role.key) is not None
    if role.key in instance.settings.organization_roles or stored:
        raise ClerkError("duplicate_record", field="role", key=role.key)
    db.add(OrganizationRole(key=role.key, name=role.name, description=role.description,
                            permissions=list(role.permissions)))
    db.commit()
    instance.forget_roles()
    return role


def remove_role(instance: Instance, db: DbSession, key: str) -> None:
    """Remove a stored role that no membership holds any more."""
    row = db.get(OrganizationRole, key)
    if row is None:
        in_settings = key in instance.settings.organization_roles
        raise ClerkError("role_not_removable" if in_settings else "resource_not_found",
                         status=400 if in_settings else 404, key=key)
    holders = (db.scalar(select(func.count()).select_from(OrganizationMembership)
                         .where(OrganizationMembership.role == key)) or 0) + (
        db.scalar(select(func.count()).select_from(OrganizationInvitation)
                  .where(OrganizationInvitation.role == key,
                         OrganizationInvitation.status == "pending")) or 0)
    if holders:
        raise ClerkError("role_in_use", status=400, key=key, count=holders)
    db.delete(row)
    db.commit()
    instance.forget_roles()
