"""User import and export: users per second and peak memory, as ``flask clerk`` runs them.

Run with ``make bench`` or ``.venv/bin/python bench/import_export.py``; about 2-3
minutes on 2 cores with the defaults (``--users 20000`` for a quick run). ``--help``
lists the knobs.

Setup: ``--users`` generated users (an email address, first and last name, an
``external_id``, a bcrypt digest with ``password_hasher`` "bcrypt") written as JSON
Lines in the ``POST /v1/users`` shape to a temporary directory. bcrypt is slow on
purpose, so the digests come from a pool of 200 distinct ones at cost 10 (each for
its own password), computed once and cached in ``bench/.cache/``, used round-robin.
Each measurement gets a fresh flask_clerk app (``ClerkAuth``) and an empty identity
store migrated as ``flask clerk init`` does (so with migration 0005's user-search
index: FTS5 triggers on SQLite, pg_trgm indexes on PostgreSQL, maintained by every
insert): an SQLite file in the temporary directory (WAL, as the store configures it),
and, when ``CLERK_BENCH_DATABASE_URL`` or ``CLERK_TEST_DATABASE_URL`` is set, a fresh
schema in that PostgreSQL database too.

What is timed, wall-clock, for each database and each size (``--users`` and a fifth
of it):

1. import: ``flask clerk import FILE`` (the command itself, through Flask's CLI test
   runner: reading the file, parsing each row with ``parse_new_user`` including the
   bcrypt digest's format check, the idempotency queries, multi-row INSERTs, a
   commit per ``--batch-size`` users, the progress bar). Webhooks are on, with no
   endpoint, as on a fresh instance;
2. export: ``flask clerk export --format csv --output FILE`` of the same store.

Then the same two commands run again on another fresh store with ``tracemalloc`` on
(slower: those runs are not timed) for the peak of Python memory allocated during
each command: the figure to compare between the two sizes (it should not grow with
the number of users). SQLite's own page cache is C memory, outside tracemalloc.

``--create-all`` makes the stores from the models instead (no user-search index), to
show what that index costs the import.

Checks (the run aborts otherwise): the import reports every user created and none
rejected; the store holds ``--users`` users; three sampled users' imported digests
verify with their password (``password_digests.verify_digest``); the export file
has one line per user plus the header.

Targets (from the issue): import >= 5,000 users/s, export >= 20,000 users/s, judged
at ``--users`` on SQLite; peak memory independent of the number of users. The last
line of output is one JSON object for machines; ``--check`` makes the exit status 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from flask_clerk import ClerkAuth
from flask_clerk.cli import clerk, new_instance_keys
from flask_clerk.core.models import Base, User
from flask_clerk.core.password_digests import verify_digest

IMPORT_TARGET = 5_000.0  # users/s
EXPORT_TARGET = 20_000.0  # users/s
CACHE = Path(__file__).parent / ".cache"
POOL_SIZE, POOL_COST = 200, 10


def digest_pool() -> list[tuple[str, str]]:
    """(password, bcrypt digest) pairs, computed once and cached."""
    path = CACHE / f"bcrypt-cost{POOL_COST}-{POOL_SIZE}.json"
    if path.exists():
        return [tuple(pair) for pair in json.loads(path.read_text())]  # type: ignore[misc]
    print(f"Computing {POOL_SIZE} bcrypt digests at cost {POOL_COST} (once; cached in "
          f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path})...",
          file=sys.stderr)
    pool = []
    for i in range(POOL_SIZE):
        password = f"bench-password-{i:03d}"
        pool.append((password, bcrypt.hashpw(password.encode(),
                                             bcrypt.gensalt(POOL_COST)).decode()))
    CACHE.mkdir(exist_ok=True)
    path.write_text(json.dumps(pool))
    return pool


def write_users(path: Path, count: int, pool: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(json.dumps({
                "email_address": [f"user{i:07d}@bench.example.com"],
                "first_name": f"First{i}", "last_name": f"Last{i}",
                "external_id": f"bench-{i:07d}",
                "password_digest": pool[i % len(pool)][1], "password_hasher": "bcrypt",
            }, separators=(",", ":")) + "\n")


@contextmanager
def database(kind: str, tmp: str, pg_url: str | None) -> Iterator[str]:
    """A fresh, empty database URL of ``kind``."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/clerk-{uuid.uuid4().hex[:8]}.db"
        return
    assert pg_url
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in pg_url else "?"
        yield f"{pg_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def make_app(url: str, tmp: str, *, create_all: bool = False) -> Flask:
    keys = new_instance_keys("localhost/__clerk")
    app = Flask("bench_import_export", instance_path=tmp)
    logging.getLogger(app.name).setLevel(logging.ERROR)  # the development-instance warning
    app.config.update(
        SECRET_KEY=keys["FLASK_SECRET_KEY"], CLERK_PUBLISHABLE_KEY=keys["CLERK_PUBLISHABLE_KEY"],
        CLERK_SECRET_KEY=keys["CLERK_SECRET_KEY"], CLERK_DATABASE_URL=url,
        CLERK_WEBHOOKS_WORKER="off", CLERK_RATELIMIT_ENABLED=False,
    )
    ClerkAuth(app)
    store = app.extensions["clerk"].instance.store
    if create_all:
        Base.metadata.create_all(store.engine)  # the tables only: no user-search index
    else:
        # Migrated as `flask clerk init` does: the search index's triggers (FTS5 on
        # SQLite) and trigram indexes (PostgreSQL) are part of every insert.
        store.upgrade()
    return app


def command(app: Flask, *args: str) -> tuple[str, float, float, int | None]:
    """Run ``flask clerk ARGS``: (stdout, wall seconds, CPU seconds of this process,
    tracemalloc peak in bytes or None)."""
    runner = app.test_cli_runner()
    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    result = runner.invoke(clerk, list(args))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = tracemalloc.get_traced_memory()[1] - base if tracing else None
    if result.exit_code != 0:
        sys.exit(f"flask clerk {' '.join(args)} failed:\n{result.output}")
    return result.stdout, seconds, cpu, peak


def round_trip(kind: str, users: int, path: Path, tmp: str, pg_url: str | None,
               batch_size: int, pool: list[tuple[str, str]], *, traced: bool,
               create_all: bool) -> dict[str, Any]:
    """Import ``path`` into a fresh store, then export it; figures of both."""
    with database(kind, tmp, pg_url) as url:
        app = make_app(url, tmp, create_all=create_all)
        instance = app.extensions["clerk"].instance
        try:
            if traced:
                tracemalloc.start()
            try:
                out, import_s, import_cpu, import_peak = command(
                    app, "import", str(path), "--batch-size", str(batch_size))
                exported = Path(tmp) / f"export-{uuid.uuid4().hex[:8]}.csv"
                _, export_s, export_cpu, export_peak = command(
                    app, "export", "--format", "csv", "--output", str(exported))
            finally:
                if traced:
                    tracemalloc.stop()
            expected = f"created {users}, skipped 0 (already there), rejected 0"
            if expected not in out:
                sys.exit(f"import on {kind}: {out.strip()!r}, expected {expected!r}")
            with instance.store.session() as db:
                stored = db.scalar(select(func.count()).select_from(User))
                if stored != users:
                    sys.exit(f"import on {kind}: {stored} users stored, expected {users}")
                for i in (0, users // 2, users - 1):
                    digest = db.scalar(select(User.password_digest).where(
                        User.external_id == f"bench-{i:07d}"))
                    if not verify_digest("bcrypt", digest or "", pool[i % len(pool)][0]):
                        sys.exit(f"import on {kind}: user {i}'s password does not verify")
            with exported.open("rb") as lines:
                rows = sum(1 for _ in lines) - 1
            exported.unlink()
            if rows != users:
                sys.exit(f"export on {kind}: {rows} rows, expected {users}")
        finally:
            instance.store.engine.dispose()
    return {"import_s": import_s, "export_s": export_s, "import_per_s": users / import_s,
            "export_per_s": users / export_s, "import_per_cpu_s": users / import_cpu,
            "export_per_cpu_s": users / export_cpu, "import_peak": import_peak,
            "export_peak": export_peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=100_000,
                        help="users imported and exported (the judged size)")
    parser.add_argument("--small", type=int, default=None,
                        help="the second size, for the memory comparison "
                             "[default: a fifth of --users]")
    parser.add_argument("--batch-size", type=int, default=1000,
                        help="flask clerk import --batch-size")
    parser.add_argument("--create-all", action="store_true",
                        help="make the stores with create_all instead of the migrations: "
                             "no user-search index (informational: what it costs)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    sizes = sorted({args.small or max(1, args.users // 5), args.users})
    pg_url = os.environ.get("CLERK_BENCH_DATABASE_URL") or os.environ.get(
        "CLERK_TEST_DATABASE_URL")
    if pg_url and pg_url.startswith("postgresql://"):
        pg_url = "postgresql+psycopg://" + pg_url[len("postgresql://"):]
    kinds = ["sqlite", "postgresql"] if pg_url else ["sqlite"]
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    pool = digest_pool()

    results: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="flask_clerk_bench_") as tmp:
        for size in sizes:
            path = Path(tmp) / f"users-{size}.jsonl"
            write_users(path, size, pool)
            for kind in kinds:
                timed = round_trip(kind, size, path, tmp, pg_url, args.batch_size, pool,
                                   traced=False, create_all=args.create_all)
                traced = round_trip(kind, size, path, tmp, pg_url, args.batch_size, pool,
                                    traced=True, create_all=args.create_all)
                results[kind][size] = {**timed, "import_peak": traced["import_peak"],
                                       "export_peak": traced["export_peak"],
                                       "file_bytes": path.stat().st_size}
            path.unlink()
    elapsed = time.perf_counter() - started

    judged = results["sqlite"][args.users]
    ok_import = judged["import_per_s"] >= IMPORT_TARGET
    ok_export = judged["export_per_s"] >= EXPORT_TARGET
    schema = ("create_all, no user-search index" if args.create_all
              else "migrated, with the user-search index")
    print(f"flask clerk import / export (Python {platform.python_version()}; JSON Lines of "
          f"users with bcrypt-10 digests, {POOL_SIZE} distinct; --batch-size "
          f"{args.batch_size}; each figure on a fresh store, {schema})")
    print(f"  {'':<20}{'--------- import ---------':>28}{'--------- export ---------':>28}")
    print(f"  {'database':<12}{'users':>8}{'s':>8}{'users/s':>9}{'/cpu s':>8}{'peak':>11}"
          f"{'s':>8}{'users/s':>9}{'/cpu s':>8}{'peak':>11}")
    for kind in kinds:
        for size in sizes:
            r = results[kind][size]
            print(f"  {kind:<12}{size:>8}{r['import_s']:>8.2f}{r['import_per_s']:>9.0f}"
                  f"{r['import_per_cpu_s']:>8.0f}{r['import_peak'] / 2**20:>7.1f} MiB"
                  f"{r['export_s']:>8.2f}{r['export_per_s']:>9.0f}"
                  f"{r['export_per_cpu_s']:>8.0f}{r['export_peak'] / 2**20:>7.1f} MiB")
    print("  users/s: wall clock (judged); /cpu s: per CPU second of this process (steadier on"
          " a busy machine;\n  PostgreSQL's own work is in its server, not counted); peak: "
          "tracemalloc, Python allocations\n  during the command, on separate untimed runs")
    small, large = sizes[0], sizes[-1]
    for kind in kinds:
        a, b = results[kind][small], results[kind][large]
        if small != large:
            print(f"  {kind}: {large // small}x the users -> import peak x"
                  f"{b['import_peak'] / a['import_peak']:.2f}, export peak x"
                  f"{b['export_peak'] / a['export_peak']:.2f}")
    print(f"  import target >= {IMPORT_TARGET:,.0f} users/s on SQLite: "
          f"{'met' if ok_import else 'MISSED'} ({judged['import_per_s']:,.0f}/s)")
    print(f"  export target >= {EXPORT_TARGET:,.0f} users/s on SQLite: "
          f"{'met' if ok_export else 'MISSED'} ({judged['export_per_s']:,.0f}/s)")
    print(f"\nRun took {elapsed:.1f} s; load average {load_before:.2f} before.")
    print(json.dumps({
        "bench": "import_export",
        "python": platform.python_version(),
        "users": args.users, "sizes": sizes, "batch_size": args.batch_size,
        "schema": "create_all" if args.create_all else "migrations",
        "results": {kind: {str(size): {k: (round(v, 3) if isinstance(v, float) else v)
                                       for k, v in r.items()}
                           for size, r in by_size.items()}
                    for kind, by_size in results.items()},
        "targets": {"import_per_s": IMPORT_TARGET, "export_per_s": EXPORT_TARGET},
        "ok": {"import": ok_import, "export": ok_export},
        "loadavg_before": round(load_before, 2),
        "seconds": round(elapsed, 1),
    }))
    return 1 if args.check and not (ok_import and ok_export) else 0


if __name__ == "__main__":
    sys.exit(main())
