"""Settings changed from the dashboard: stored in the identity store over the
configuration, effective in every process within a second, without a restart.
Which settings, and how each is read, is ``flask_clerk.settings.EDITABLE``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ..errors import ClerkError
from ..settings import EDITABLE, Settings
from . import clock
from .audit import security_event
from .models import InstanceSetting


def parse_changes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Each given editable setting, read and checked (a 4xx naming the field else)."""
    changes = {}
    for name, value in raw.items():
        if name not in EDITABLE:
            raise ClerkError("form_param_unknown", field=name)
        try:
            changes[name] = EDITABLE[name](value)
        except ValueError as exc:
            raise ClerkError("setting_invalid", field=name, expected=str(exc)) from None
    return changes


def overrides(db: DbSession) -> dict[str, Any]:
    """The stored values (one that no longer reads is left out: the config's stands)."""
    values = {}
    for row in db.scalars(select(InstanceSetting)):
        if row.key in EDITABLE:
            try:
                values[row.key] = EDITABLE[row.key](row.value)
            except ValueError:
                continue
    return values


def layered(config: Settings, values: Mapping[str, Any]) -> Settings:
    """The configuration with the stored values over it."""
    merged = dataclasses.replace(config, **values)
    if merged.password_min_length > merged.password_max_length:
        merged = dataclasses.replace(merged, password_min_length=config.password_min_length)
    return merged


def save(db: DbSession, changes: Mapping[str, Any], *, by: str | None) -> None:
    """Store checked values (the caller commits, and makes the instance reload)."""
    now = clock.now()
    for name, value in changes.items():
        stored = list(value) if isinstance(value, tuple) else value
        row = db.get(InstanceSetting, name)
        if row is None:
            db.add(InstanceSetting(key=name, value=stored, updated_at=now, updated_by=by))
        else:
            row.value, row.updated_at, row.updated_by = stored, now, by
    security_event("settings.changed", user_id=by, keys=",".join(sorted(changes)))


def reset(db: DbSession, name: str) -> None:
    """Back to the configuration's value (the caller commits)."""
    row = db.get(InstanceSetting, name)
    if row is not None:
        db.delete(row)
