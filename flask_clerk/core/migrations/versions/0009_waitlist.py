"""the waitlist: entries of people waiting for an invitation to sign up

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

UTC = flask_clerk.core.models.UTCDateTime


def upgrade() -> None:
    op.create_table('clerk_waitlist_entries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('email_address', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('invitation_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['clerk_invitations.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email_address')
    )
    op.create_index(op.f('ix_clerk_waitlist_entries_status'), 'clerk_waitlist_entries',
                    ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_clerk_waitlist_entries_status'), table_name='clerk_waitlist_entries')
    op.drop_table('clerk_waitlist_entries')
