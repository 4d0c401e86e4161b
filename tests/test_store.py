"""The identity store's own migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from conftest import migrations_head
from flask_clerk.core.models import Base
from flask_clerk.core.store import VERSION_TABLE, Store


def test_migrations_build_exactly_the_models_schema(database_url):
    store = Store(database_url)
    try:
        store.upgrade()
        assert store.current_revision() == migrations_head()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "version_table": VERSION_TABLE, "include_name": _not_search_index})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
        assert VERSION_TABLE in tables and "clerk_users" in tables
        store.upgrade()  # idempotent
        store.downgrade("0001")  # every migration also steps back
        assert store.current_revision() == "0001"
        store.upgrade()
        assert store.current_revision() == migrations_head()
    finally:
        store.engine.dispose()



def _not_search_index(name, type_, parent_names):
    """The user search's trigram objects (migration 0005) live outside the models on
    purpose: an FTS5 table (and its shadow tables) on SQLite, expression indexes on
    PostgreSQL. tests/test_user_search.py checks them."""
    if type_ == "table":
        return not name.startswith("clerk_user_search")
    if type_ == "index":
        return not name.endswith("_search_trgm")
    return True
