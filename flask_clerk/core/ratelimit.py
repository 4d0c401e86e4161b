"""Rate limits on the flows' entry points, with the `limits` library.

`limits` is the engine behind Flask-Limiter. We call it only from the engine's
own endpoints instead of installing Flask-Limiter's before/after-request hooks
on every route of the application, which would tax the hot path we keep at
~1.1× a bare route. Storage: memory, or Redis with ``CLERK_REDIS_URL``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..errors import RateLimited


class RateLimiter:
    def __init__(
        self, limits: Mapping[str, str], *, storage_uri: str, enabled: bool,
        lockout: tuple[int, int] = (10, 3600),
    ) -> None:
        self.enabled = enabled
        self._items: dict[str, RateLimitItem] = {name: parse(v) for name, v in limits.items()}
        self.set_lockout(*lockout)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def set_lockout(self, attempts: int, seconds: int) -> None:
        """The accounts' lockout (attempts per seconds), which unknown identifiers mirror."""
        self._phantom = parse(f"{attempts}/{seconds} seconds")

    def hit(self, name: str, key: str) -> None:
        """Count one attempt at ``name`` by ``key``; raise :class:`RateLimited` past the limit."""
        if not self.enabled:
            return
        item = self._items[name]
        if not self._limiter.hit(item, "flask_clerk", name, key):
            reset_at = self._limiter.get_window_stats(item, "flask_clerk", name, key).reset_time
            raise RateLimited(max(1, math.ceil(reset_at - time.time())))

    def phantom_lockout(self, identifier: str) -> int | None:
        """Count a failed sign-in for an identifier without an account; past the
        lockout limit, the seconds a real account would stay locked (else None).

        Always on (even with rate limits off): it keeps the lockout from telling
        which identifiers have accounts.
        """
        if self._limiter.hit(self._phantom, "flask_clerk", "phantom_lockout", identifier):
            return None
        stats = self._limiter.get_window_stats(
            self._phantom, "flask_clerk", "phantom_lockout", identifier
        )
        return max(1, math.ceil(stats.reset_time - time.time()))
