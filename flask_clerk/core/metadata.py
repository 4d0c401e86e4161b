"""Public, private and unsafe metadata: Clerk's merge rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_metadata(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Objects merge deeply; ``null`` removes a key; anything else replaces it."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_metadata(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_into(row: Any, patches: Mapping[str, Mapping[str, Any]]) -> None:
    """Merge each given kind (``public_metadata``…) into the row's own."""
    for kind, patch in patches.items():
        setattr(row, kind, merge_metadata(getattr(row, kind) or {}, patch))
