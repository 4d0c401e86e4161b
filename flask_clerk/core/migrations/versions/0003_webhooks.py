"""webhooks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:36:55.443411
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clerk_webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('previous_secret', sa.String(length=128), nullable=True),
    sa.Column('previous_secret_expires_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('failing_since', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('clerk_webhook_messages',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_webhook_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_webhook_messages_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_clerk_webhook_messages_event_type'), ['event_type'], unique=False)

    op.create_table('clerk_webhook_receipts',
    sa.Column('svix_id', sa.String(length=128), nullable=False),
    sa.Column('claimed_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('svix_id')
    )
    op.create_table('clerk_webhook_deliveries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['clerk_webhook_endpoints.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['clerk_webhook_messages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_clerk_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_clerk_webhook_deliveries_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clerk_webhook_deliveries_message_id'), ['message_id'], unique=False)

    op.create_table('clerk_webhook_attempts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('delivery_id', sa.String(length=40), nullable=False),
    sa.Column('attempted_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('response_excerpt', sa.String(length=1000), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['clerk_webhook_deliveries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_webhook_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_webhook_attempts_delivery_id'), ['delivery_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('clerk_webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clerk_webhook_attempts_delivery_id'))

    op.drop_table('clerk_webhook_attempts')
    with op.batch_alter_table('clerk_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clerk_webhook_deliveries_message_id'))
        batch_op.drop_index(batch_op.f('ix_clerk_webhook_deliveries_endpoint_id'))
        batch_op.drop_index('ix_clerk_webhook_deliveries_due')

    op.drop_table('clerk_webhook_deliveries')
    op.drop_table('clerk_webhook_receipts')
    with op.batch_alter_table('clerk_webhook_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clerk_webhook_messages_event_type'))
        batch_op.drop_index(batch_op.f('ix_clerk_webhook_messages_created_at'))

    op.drop_table('clerk_webhook_messages')
    op.drop_table('clerk_webhook_endpoints')
