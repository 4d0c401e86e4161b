"""Strict reading of Backend API bodies and query strings.

Clerk answers unknown or mistyped parameters with a 422 that names them; so do
we, before any flow runs: a request either passes whole or changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from flask import request

from ...errors import ClerkError

T = TypeVar("T")

MAX_LIMIT = 500


class Body:
    """A JSON object body; every key must be read (or :meth:`done` refuses it)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        self._read: set[str] = set()

    @classmethod
    def from_request(cls) -> Body:
        raw = request.get_data(cache=True)
        if not raw.strip():
            return cls({})
        if not request.is_json:
            raise ClerkError("request_body_invalid", status=400)
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ClerkError("request_body_invalid", status=400)
        for key, value in data.items():
            if _has_nul(value) or "\x00" in key:
                # Neither SQLite statements nor PostgreSQL text can hold one.
                raise ClerkError("form_param_format_invalid", field=key.replace("\x00", ""))
        return cls(data)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def take(self, key: str, kind: type[T] | tuple[type, ...], *, required: bool = False,
             nullable: bool = True) -> Any:
        """The value of ``key`` if it has the ``kind`` (None when absent)."""
        self._read.add(key)
        if key not in self.data or (self.data[key] is None and nullable):
            if required:
                raise ClerkError("form_param_missing", field=key)
            return None
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int,))):
            raise ClerkError("form_param_format_invalid", field=key)
        return value

    def rest(self) -> dict[str, Any]:
        """Everything not read yet (for a flow that validates a whole body itself)."""
        rest = {k: v for k, v in self.data.items() if k not in self._read}
        self._read.update(rest)
        return rest

    def done(self) -> None:
        for key in self.data:
            if key not in self._read:
                raise ClerkError("form_param_unknown", field=key)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def query_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ClerkError("form_param_format_invalid", field=name) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ClerkError("form_param_format_invalid", field=name)
    return value


def page() -> tuple[int, int]:
    """``limit`` (1–500, default 10) and ``offset`` of a list request."""
    return (query_int("limit", 10, minimum=1, maximum=MAX_LIMIT),
            query_int("offset", 0, maximum=2**31 - 1))


def query_bool(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in {"true", "1"}:
        return True
    if raw.lower() in {"false", "0"}:
        return False
    raise ClerkError("form_param_format_invalid", field=name)


def query_list(name: str) -> list[str]:
    """A repeated parameter (``?user_id=a&user_id=b``); ``name[]`` is accepted too."""
    values = request.args.getlist(name) + request.args.getlist(f"{name}[]")
    if len(values) > 100:
        raise ClerkError("form_param_format_invalid", field=name)
    return [v for v in values if v]


def check_query(allowed: set[str]) -> None:
    """Refuse query parameters the endpoint does not know, and NUL characters (which
    neither SQLite statements nor PostgreSQL text can hold)."""
    for key, value in request.args.items(multi=True):
        if key.removesuffix("[]") not in allowed:
            raise ClerkError("form_param_unknown", field=key)
        if "\x00" in value:
            raise ClerkError("form_param_format_invalid", field=key.removesuffix("[]"))
