"""``flask clerk sync``: reconcile the app's users table with the identity source.

The source is the embedded engine by default, or any Clerk-compatible Backend
API (``GET /v1/users``, Clerk's bare-array list) with ``api_url`` and
``secret_key`` — so an app moving from Clerk's cloud can backfill. The app's side
is the ``upsert``/``delete``/``known_ids`` it gave ``ClerkWebhooks.sync_users``:
the very functions the webhooks use.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .webhooks import UserSync

PAGE = 100


def store_users(instance: Any) -> Iterator[dict[str, Any]]:
    """Every user of the embedded engine, as the Backend API would serve it."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from .core.models import User
    from .core.serializers import user_json

    with instance.store.session() as db:
        query = select(User).options(selectinload(User.email_addresses),
                                     selectinload(User.passkeys),
                                     selectinload(User.external_accounts)).order_by(User.id)
        for user in db.scalars(query):
            yield user_json(user)


def api_users(api_url: str, secret_key: str) -> Iterator[dict[str, Any]]:
    """Every user of a Clerk-compatible Backend API, page by page."""
    import httpx

    base = api_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    with httpx.Client(headers={"Authorization": f"Bearer {secret_key}"}, timeout=30) as client:
        offset = 0
        while True:
            response = client.get(f"{base}/users", params={"limit": PAGE, "offset": offset,
                                                          "order_by": "created_at"})
            response.raise_for_status()
            page = response.json()
            yield from page
            if len(page) < PAGE:
                return
            offset += PAGE


def sync_users(users: Iterable[dict[str, Any]], sync: UserSync,
               progress: Callable[[Iterable[dict[str, Any]]], Any] = lambda items: items,
               ) -> Counter[str]:
    """Upsert every user, delete the app's rows of users that are gone; the counts of
    created / updated / unchanged / deleted."""
    counts: Counter[str] = Counter(created=0, updated=0, unchanged=0, deleted=0)
    seen = set()
    for user in progress(list(users)):
        seen.add(user["id"])
        counts[sync.upsert(user) or "unchanged"] += 1
    now_ms = int(time.time() * 1000)
    for gone in set(sync.known_ids()) - seen:
        sync.delete(gone, now_ms)
        counts["deleted"] += 1
    return counts
