"""``GET /v1/users?query=`` on 100,000 users: the latency of the Backend API's search.

Builds the users with the import flow (no hashing: the digests are placeholders
that are never verified here), then times whole requests through the Flask test
client, the Backend API's authentication included. Prints the median and 95th
percentile per kind of query; the issue's target is a median ≤ 20 ms.

    python bench/user_search.py [--users 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sqlalchemy import text  # noqa: E402

from conftest import build_app, fresh_schema  # noqa: E402
from flask_clerk.core.store import Store  # noqa: E402
from flask_clerk.core.user_import import NewUser, create_users  # noqa: E402

FIRST = ["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "radia",
         "tim", "margaret", "john", "katherine", "dennis", "sophie", "linus"]
LAST = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson",
        "perlman", "berners", "hamilton", "mccarthy", "johnson", "ritchie", "wilson",
        "torvalds"]
DIGEST = "$2b$10$" + "a" * 53


def populate(app, count: int) -> None:
    instance = app.extensions["clerk"].instance
    batch: list[NewUser] = []
    with instance.store.session() as db:
        for i in range(count):
            first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
            batch.append(NewUser(
                email_addresses=[f"{first}.{last}{i}@example{i % 97}.com"],
                first_name=first.title(), last_name=last.title(), username=f"{first}{i}",
                password_digest=DIGEST, password_hasher="bcrypt"))
            if len(batch) == 2000:
                create_users(instance, db, batch, events=False)
                db.commit()
                batch = []
        if batch:
            create_users(instance, db, batch, events=False)
            db.commit()


def measure(client, secret: str, query: str, rounds: int) -> list[float]:
    headers = {"Authorization": f"Bearer {secret}"}
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(f"/v1/users?query={query}&limit=10", headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    return times


@contextlib.contextmanager
def fresh_store(database_url: str | None, tmp: str) -> Iterator[str]:
    """A new SQLite file, or a new schema in the given PostgreSQL database."""
    if not database_url:
        yield f"sqlite:///{tmp}/clerk.db"
        return
    with fresh_schema(database_url) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--database-url", default=os.environ.get("CLERK_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_store(args.database_url, tmp) as url:
        # Migrated (not create_all): the search indexes come with migration 0005.
        Store(url).upgrade()
        app = build_app(url, CLERK_RATELIMIT_ENABLED=False)
        started = time.perf_counter()
        populate(app, args.users)
        print(f"{args.users} users on {url.split(':')[0]} in "
              f"{time.perf_counter() - started:.1f} s")
        engine = app.extensions["clerk"].instance.store.engine
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk import: statistics for the
            # planner, and the GIN indexes' pending entries merged.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        client = app.test_client()
        secret = app.config["CLERK_SECRET_KEY"]
        measure(client, secret, "warm", 3)
        cases = {"email fragment": "hopper77", "first name": "grace",
                 "exact email": "ada.lovelace0%40example0.com", "no match": "zzzzqqq",
                 "user id": "user_nope"}
        medians = []
        for label, query in cases.items():
            times = measure(client, secret, query, args.rounds)
            median = statistics.median(times)
            medians.append(median)
            p95 = sorted(times)[int(len(times) * 0.95) - 1]
            print(f"  query={query!r:32} ({label:14}): median {median:6.1f} ms, p95 {p95:6.1f} ms")
        print(f"median over the kinds: {statistics.median(medians):.1f} ms (target ≤ 20 ms)")
        app.extensions["clerk"].instance.store.engine.dispose()


if __name__ == "__main__":
    main()
