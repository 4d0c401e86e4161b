"""``current_user``: the signed-in user with Clerk's field names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ClerkObject:
    """Read-only attribute access over a Clerk JSON object (``user.first_name``)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._data.get('id')}>"


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping) and value.get("object"):
        return ClerkObject(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class ClerkUser(ClerkObject):
    """Clerk's User: ``id``, ``first_name``, ``email_addresses[0].email_address``,
    ``primary_email_address``, ``public_metadata`` and the rest of its fields."""

    __slots__ = ()

    @property
    def primary_email_address(self) -> ClerkObject | None:
        primary = self._data.get("primary_email_address_id")
        return next((e for e in self.email_addresses if e.id == primary), None)

    @property
    def full_name(self) -> str | None:
        parts = [p for p in (self._data.get("first_name"), self._data.get("last_name")) if p]
        return " ".join(parts) or None

    @property
    def display_name(self) -> str:
        primary = self.primary_email_address
        return self.full_name or (primary.email_address if primary else self.id)

    @property
    def initials(self) -> str:
        name = self.full_name
        if name:
            return "".join(part[0] for part in name.split()[:2]).upper()
        primary = self.primary_email_address
        return (primary.email_address[0] if primary else "?").upper()

    @property
    def is_authenticated(self) -> bool:
        return True
