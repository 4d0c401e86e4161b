"""The identity store's engine, sessions and library-owned migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, create_engine, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "clerk_alembic_version"


class Store:
    """Engine and session factory for ``CLERK_DATABASE_URL``."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            os.makedirs(os.path.dirname(url[len("sqlite:///") :]) or ".", exist_ok=True)
        if url.startswith("sqlite"):
            # Requests come on many threads, and a sign-in's SQL runs beside its hash.
            engine_options["connect_args"] = {
                **engine_options.get("connect_args", {}), "check_same_thread": False
            }
        self.engine: Engine = create_engine(url, **engine_options)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def in_memory(self) -> bool:
        """An SQLite database held in memory, which only its one connection sees."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    def session(self) -> Session:
        return self.session_factory()

    def upgrade(self, revision: str = "head") -> None:
        """Apply the library's migrations (``flask clerk db upgrade``)."""
        from alembic import command

        with self.engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)

    def downgrade(self, revision: str) -> None:
        from alembic import command

        with self.engine.begin() as connection:
            command.downgrade(_alembic_config(connection), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE}
            )
            return context.get_current_revision()


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL's usual companion: durable at checkpoints, no fsync on every commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def increment(db: Session, row: Any, counter: str) -> int:
    """``row.counter += 1`` in a single UPDATE, committed at once; the new value.

    Counters that guard guessing (failed sign-ins, code attempts) go through here so
    that parallel requests can never read the same count.
    """
    table = type(row).__table__  # a table-level UPDATE: no ORM bookkeeping to pay for
    column = table.c[counter]
    count: int = db.execute(
        update(table).where(table.c.id == row.id).values({column: column + 1}).returning(column)
    ).scalar_one()
    db.commit()
    set_committed_value(row, counter, count)
    return count


def fetch_page(db: Session, statement: Select[Any], limit: int, offset: int
               ) -> tuple[list[Any], int]:
    """One page of an ordered ``statement``'s rows, and how many there are in all."""
    total = db.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = list(db.scalars(statement.limit(limit).offset(offset)).unique())
    return rows, total or 0
