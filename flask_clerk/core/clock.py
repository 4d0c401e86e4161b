"""The engine's one source of time, so tests move the clock instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def timestamp() -> float:
    """Unix seconds, for the per-request token check (tests replace it with ``now``)."""
    return time.time()


def unix_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)
