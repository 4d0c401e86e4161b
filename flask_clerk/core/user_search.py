"""Finding users by any part of their email addresses, names, username or id
(Clerk's ``query``), with an index where the database has one.

A substring match (``%grace%``) cannot use a B-tree index; a trigram index can:
- SQLite: an FTS5 trigram index, ``clerk_user_search``, over a table of documents
  (a user's names, each email address) kept current by triggers (migration 0005),
  searched with a quoted phrase;
- PostgreSQL: ``pg_trgm`` GIN indexes on the names and the email addresses
  (migration 0005, when the extension can be created).
Without them (an older SQLite, no ``pg_trgm``, a store made with ``create_all``)
the same query scans: correct, only slower.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from typing import Any

from sqlalchemy import (
    Engine,
    Integer,
    String,
    bindparam,
    column,
    inspect,
    literal_column,
    select,
    table,
    text,
    union,
)
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.elements import BindParameter

from .models import EmailAddress, User

# One expression for the names, the same text in the PostgreSQL index (0005) and in
# the query, so that the planner can use the index.
NAMES_SQL = ("lower(coalesce(clerk_users.first_name, '') || ' ' || "
             "coalesce(clerk_users.last_name, '') || ' ' || coalesce(clerk_users.username, ''))")
SEARCH_TABLE = "clerk_user_search"
PG_NAMES_INDEX = "ix_clerk_users_search_trgm"
_SEARCH = table(SEARCH_TABLE, column("rowid", Integer),
                column(SEARCH_TABLE, String))  # the table's own column, for MATCH
_DOCS = table("clerk_user_search_docs", column("id", Integer), column("user_id", String))


@cache
def index_kind(engine: Engine) -> str | None:
    """"fts5", "trgm" or None: what the store has for searching users."""
    if engine.dialect.name == "sqlite":
        return "fts5" if inspect(engine).has_table(SEARCH_TABLE) else None
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            found = connection.scalar(text(
                "SELECT 1 FROM pg_indexes WHERE indexname = :name AND schemaname = "
                "current_schema()"), {"name": PG_NAMES_INDEX})
        return "trgm" if found else None
    return None


def contains_pattern(text: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern for "contains ``text``" (lower-cased), with the
    text's own ``%``, ``_`` and backslashes taken literally."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace(
        "_", "\\_")
    return f"%{escaped}%"


def matches(db: DbSession, query: str) -> Any:
    """The condition "this user matches ``query``" (case-insensitive substring).

    One ``id IN (… UNION …)`` of candidate ids, so that the database starts from
    the few candidates instead of testing every user against an ``OR``.
    """
    query = query.strip()
    lowered = query.lower()
    exact = [select(User.id).where(User.id == query),
             select(User.id).where(User.external_id == query)]
    kind = index_kind(db.get_bind().engine)
    if kind == "fts5" and len(lowered) >= 3:
        # A quoted phrase of the trigram table matches any substring of 3 or more
        # characters, with no wildcards to escape ("" is a literal quote).
        phrase = '"' + lowered.replace('"', '""') + '"'
        found = select(_DOCS.c.user_id).where(_DOCS.c.id.in_(
            select(_SEARCH.c.rowid).where(_SEARCH.c.clerk_user_search.match(phrase))))
        return User.id.in_(union(found, *exact))
    # Rendered into the statement (SQLAlchemy quotes it), not sent as a parameter:
    # PostgreSQL then plans each search for its own pattern, which is what lets it
    # choose the trigram index; a generic plan for "LIKE $1" scans.
    pattern: BindParameter[str] = bindparam("pattern", contains_pattern(query),
                                            literal_execute=True)
    return User.id.in_(union(
        select(User.id).where(literal_column(NAMES_SQL).like(pattern, escape="\\")),
        select(EmailAddress.user_id).where(EmailAddress.email_address.like(pattern,
                                                                          escape="\\")),
        *exact,
    ))


# SQLite: the triggers that index each new row (as migration 0005 creates them).
_INSERT_TRIGGERS = {
    "clerk_user_search_user_insert":
        "CREATE TRIGGER clerk_user_search_user_insert AFTER INSERT ON clerk_users BEGIN "
        "INSERT INTO clerk_user_search_docs(key, user_id, text) VALUES (new.id, new.id, "
        "coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, '') || ' ' || "
        "coalesce(new.username, '')); END",
    "clerk_user_search_email_insert":
        "CREATE TRIGGER clerk_user_search_email_insert AFTER INSERT ON clerk_email_addresses "
        "BEGIN INSERT INTO clerk_user_search_docs(key, user_id, text) "
        "VALUES (new.id, new.user_id, new.email_address); END",
    "clerk_user_search_doc_insert":
        "CREATE TRIGGER clerk_user_search_doc_insert AFTER INSERT ON clerk_user_search_docs "
        "BEGIN INSERT INTO clerk_user_search(rowid, text) VALUES (new.id, new.text); END",
}


@contextlib.contextmanager
def indexed_in_bulk(db: DbSession) -> Iterator[None]:
    """Insert many users inside this block; index them with three statements at its end.

    SQLite's FTS5 indexes a row fired from a trigger five times slower than rows
    inserted in bulk, which halves an import's speed. So, on SQLite with the search
    index, the insert triggers are dropped for the block and re-created after it, in
    the caller's transaction: SQLite has one writer at a time and transactional DDL,
    so no other connection ever inserts while they are gone, and a failure rolls the
    triggers back with the rows (the caller must roll back, not commit, after an
    error). The new rows are those past the largest rowids seen before the block (a
    new rowid is always past the largest; no VACUUM can run inside the transaction).
    Elsewhere: nothing.
    """
    if index_kind(db.get_bind().engine) != "fts5":
        yield
        return
    # Python's sqlite3 opens a transaction before DML only; DDL outside one would
    # commit at once. A statement that changes nothing opens it (if none is open).
    db.execute(text("UPDATE clerk_users SET id = id WHERE 0"))
    before = db.execute(text(
        "SELECT (SELECT coalesce(max(rowid), 0) FROM clerk_users) AS clerk_users, "
        "(SELECT coalesce(max(rowid), 0) FROM clerk_email_addresses) AS clerk_email_addresses, "
        "(SELECT coalesce(max(id), 0) FROM clerk_user_search_docs) AS clerk_user_search_docs"
    )).mappings().one()
    for name in _INSERT_TRIGGERS:
        db.execute(text(f"DROP TRIGGER {name}"))
    yield
    db.execute(text(
        "INSERT INTO clerk_user_search_docs(key, user_id, text) SELECT id, id, "
        "coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || "
        "coalesce(username, '') FROM clerk_users WHERE rowid > :before"
    ), {"before": before["clerk_users"]})
    db.execute(text(
        "INSERT INTO clerk_user_search_docs(key, user_id, text) SELECT id, user_id, "
        "email_address FROM clerk_email_addresses WHERE rowid > :before"
    ), {"before": before["clerk_email_addresses"]})
    db.execute(text(
        "INSERT INTO clerk_user_search(rowid, text) SELECT id, text FROM clerk_user_search_docs "
        "WHERE id > :before"
    ), {"before": before["clerk_user_search_docs"]})
    for statement in _INSERT_TRIGGERS.values():
        db.execute(text(statement))
