"""the dashboard: instance administrators, the audit log, actor tokens (impersonation),
daily user activity (analytics), rolled Backend API secret keys, settings
changed from the dashboard

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 15:10:00
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UTC = flask_clerk.core.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table('clerk_sessions') as batch:
        batch.add_column(sa.Column('actor', sa.JSON(), nullable=True))
    op.create_table('clerk_instance_admins',
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('clerk_audit_log',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=True),
    sa.Column('actor_email', sa.String(length=320), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=500), nullable=True),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    for column in ('actor_id', 'action', 'target_id', 'created_at'):
        op.create_index(op.f(f'ix_clerk_audit_log_{column}'), 'clerk_audit_log', [column],
                        unique=False)
    op.create_table('clerk_actor_tokens',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('expires_at', UTC(timezone=True), nullable=False),
    sa.Column('session_max_duration', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_clerk_actor_tokens_user_id'), 'clerk_actor_tokens', ['user_id'],
                    unique=False)
    op.create_table('clerk_user_activity',
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'day')
    )
    op.create_index(op.f('ix_clerk_user_activity_day'), 'clerk_user_activity', ['day'],
                    unique=False)
    op.create_table('clerk_api_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=8), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('expires_at', UTC(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_index('ix_clerk_users_created_at', 'clerk_users', ['created_at'], unique=False)
    op.create_table('clerk_instance_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('clerk_instance_settings')
    op.drop_index('ix_clerk_users_created_at', table_name='clerk_users')
    op.drop_table('clerk_api_keys')
    op.drop_index(op.f('ix_clerk_user_activity_day'), table_name='clerk_user_activity')
    op.drop_table('clerk_user_activity')
    op.drop_index(op.f('ix_clerk_actor_tokens_user_id'), table_name='clerk_actor_tokens')
    op.drop_table('clerk_actor_tokens')
    for column in ('actor_id', 'action', 'target_id', 'created_at'):
        op.drop_index(op.f(f'ix_clerk_audit_log_{column}'), table_name='clerk_audit_log')
    op.drop_table('clerk_audit_log')
    op.drop_table('clerk_instance_admins')
    with op.batch_alter_table('clerk_sessions') as batch:
        batch.drop_column('actor')
