"""Alembic environment for the identity store; run through ``Store.upgrade``."""

from alembic import context

from flask_clerk.core.models import Base
from flask_clerk.core.store import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
