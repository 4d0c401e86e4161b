"""user search: trigram indexes for GET /v1/users?query=, and addresses by user

SQLite: an FTS5 trigram index over a table of documents (one per user for the
names, one per email address) kept current by triggers; PostgreSQL: pg_trgm GIN indexes, when the extension exists or
can be created. See flask_clerk.core.user_search.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:40:00
"""

import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

NAMES = ("lower(coalesce(clerk_users.first_name, '') || ' ' || "
         "coalesce(clerk_users.last_name, '') || ' ' || coalesce(clerk_users.username, ''))")
# SQLite: one document per user (names and username) and per email address, keyed by
# its row's id, in a table with its own INTEGER PRIMARY KEY (VACUUM keeps those; it
# may renumber the implicit rowids of the users' and addresses' tables); an FTS5
# trigram index over the documents' text, kept in step by triggers.
USER_TEXT = ("coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, '') || ' ' || "
             "coalesce(new.username, '')")
SQLITE = [
    "CREATE TABLE clerk_user_search_docs (id INTEGER PRIMARY KEY, key VARCHAR(40) NOT NULL "
    "UNIQUE, user_id VARCHAR(40) NOT NULL, text TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE clerk_user_search USING fts5(text, content='clerk_user_search_docs', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER clerk_user_search_doc_insert AFTER INSERT ON clerk_user_search_docs BEGIN "
    "INSERT INTO clerk_user_search(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER clerk_user_search_doc_delete AFTER DELETE ON clerk_user_search_docs BEGIN "
    "INSERT INTO clerk_user_search(clerk_user_search, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER clerk_user_search_user_insert AFTER INSERT ON clerk_users BEGIN "
    f"INSERT INTO clerk_user_search_docs(key, user_id, text) VALUES (new.id, new.id, {USER_TEXT}); "
    "END",
    "CREATE TRIGGER clerk_user_search_user_update AFTER UPDATE OF first_name, last_name, "
    "username ON clerk_users BEGIN DELETE FROM clerk_user_search_docs WHERE key = old.id; "
    f"INSERT INTO clerk_user_search_docs(key, user_id, text) VALUES (new.id, new.id, {USER_TEXT}); "
    "END",
    # The addresses' documents go with the addresses (a cascade fires their triggers).
    "CREATE TRIGGER clerk_user_search_user_delete AFTER DELETE ON clerk_users BEGIN "
    "DELETE FROM clerk_user_search_docs WHERE key = old.id; END",
    "CREATE TRIGGER clerk_user_search_email_insert AFTER INSERT ON clerk_email_addresses BEGIN "
    "INSERT INTO clerk_user_search_docs(key, user_id, text) "
    "VALUES (new.id, new.user_id, new.email_address); END",
    "CREATE TRIGGER clerk_user_search_email_update AFTER UPDATE OF email_address, user_id ON "
    "clerk_email_addresses BEGIN DELETE FROM clerk_user_search_docs WHERE key = old.id; "
    "INSERT INTO clerk_user_search_docs(key, user_id, text) "
    "VALUES (new.id, new.user_id, new.email_address); END",
    "CREATE TRIGGER clerk_user_search_email_delete AFTER DELETE ON clerk_email_addresses BEGIN "
    "DELETE FROM clerk_user_search_docs WHERE key = old.id; END",
    "INSERT INTO clerk_user_search_docs(key, user_id, text) SELECT id, id, "
    "coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || "
    "coalesce(username, '') FROM clerk_users",
    "INSERT INTO clerk_user_search_docs(key, user_id, text) SELECT id, user_id, email_address "
    "FROM clerk_email_addresses",
]
SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS clerk_user_search_{name}" for name in (
        "user_insert", "user_update", "user_delete", "email_insert", "email_update",
        "email_delete", "doc_insert", "doc_delete")),
    "DROP TABLE IF EXISTS clerk_user_search",
    "DROP TABLE IF EXISTS clerk_user_search_docs",
]


def upgrade() -> None:
    # A user's addresses are loaded with every user: by user_id, not by a scan.
    op.create_index('ix_clerk_email_addresses_user_id', 'clerk_email_addresses', ['user_id'])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34):
            log.warning("SQLite %s has no trigram tokenizer: user search will scan",
                        sqlite3.sqlite_version)
            return
        for statement in SQLITE:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        if not _pg_trgm(bind):
            log.warning("pg_trgm is not available: user search will scan. Ask the "
                        "database owner to run CREATE EXTENSION pg_trgm, then migrate again.")
            return
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_clerk_users_search_trgm ON clerk_users "
                   f"USING gin (({NAMES}) gin_trgm_ops)")
        op.execute("CREATE INDEX IF NOT EXISTS ix_clerk_email_addresses_search_trgm ON "
                   "clerk_email_addresses USING gin (email_address gin_trgm_ops)")


def _pg_trgm(bind: sa.engine.Connection) -> bool:
    """Whether pg_trgm is there, creating it if this role may."""
    if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return True
    if not bind.scalar(sa.text(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")):
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def downgrade() -> None:
    op.drop_index('ix_clerk_email_addresses_user_id', 'clerk_email_addresses')
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_clerk_email_addresses_search_trgm")
        op.execute("DROP INDEX IF EXISTS ix_clerk_users_search_trgm")
