"""webhook receipts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:34:06.313948
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clerk_webhook_receipts',
    sa.Column('svix_id', sa.String(length=128), nullable=False),
    sa.Column('claimed_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('svix_id')
    )


def downgrade() -> None:
    op.drop_table('clerk_webhook_receipts')
