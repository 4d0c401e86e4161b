"""backend api and import: imported digests, TOTP secrets, backup codes, idempotency

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:10:00
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clerk_users') as batch:
        batch.add_column(sa.Column('password_hasher', sa.String(length=40), nullable=True))
    op.create_table('clerk_totp_secrets',
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('last_used_step', sa.Integer(), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('clerk_backup_codes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('code_digest', sa.String(length=255), nullable=False),
    sa.Column('used_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_clerk_backup_codes_user_id', 'clerk_backup_codes', ['user_id'])
    op.create_table('clerk_idempotency_records',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_hash')
    )
    op.create_index('ix_clerk_idempotency_records_created_at', 'clerk_idempotency_records',
                    ['created_at'])
    op.create_table('clerk_invitations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('email_address', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('public_metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_clerk_invitations_email_address', 'clerk_invitations', ['email_address'])


def downgrade() -> None:
    op.drop_index('ix_clerk_invitations_email_address', 'clerk_invitations')
    op.drop_table('clerk_invitations')
    op.drop_index('ix_clerk_idempotency_records_created_at', 'clerk_idempotency_records')
    op.drop_table('clerk_idempotency_records')
    op.drop_index('ix_clerk_backup_codes_user_id', 'clerk_backup_codes')
    op.drop_table('clerk_backup_codes')
    op.drop_table('clerk_totp_secrets')
    with op.batch_alter_table('clerk_users') as batch:
        batch.drop_column('password_hasher')
