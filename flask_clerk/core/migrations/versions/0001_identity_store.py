"""identity store

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 05:02:22.960530
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('clerk_clients',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('last_active_session_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('clerk_sign_ups',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('flow_token_hash', sa.String(length=64), nullable=False),
    sa.Column('email_address', sa.String(length=320), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('password_digest', sa.String(length=512), nullable=True),
    sa.Column('email_taken', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('expire_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_sent_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('flow_token_hash')
    )
    with op.batch_alter_table('clerk_sign_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_sign_ups_expire_at'), ['expire_at'], unique=False)

    op.create_table('clerk_signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_key_pem', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid')
    )
    op.create_table('clerk_users',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('image_url', sa.String(length=2048), nullable=True),
    sa.Column('password_digest', sa.String(length=512), nullable=True),
    sa.Column('password_last_updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('primary_email_address_id', sa.String(length=40), nullable=True),
    sa.Column('public_metadata', sa.JSON(), nullable=False),
    sa.Column('private_metadata', sa.JSON(), nullable=False),
    sa.Column('unsafe_metadata', sa.JSON(), nullable=False),
    sa.Column('banned', sa.Boolean(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_sign_in_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_active_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('clerk_email_addresses',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('email_address', sa.String(length=320), nullable=False),
    sa.Column('verification_status', sa.String(length=20), nullable=False),
    sa.Column('verification_strategy', sa.String(length=40), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_sent_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_email_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_email_addresses_email_address'), ['email_address'], unique=False)
        batch_op.create_index('uq_clerk_email_addresses_verified', ['email_address'], unique=True, sqlite_where=sa.text("verification_status = 'verified'"), postgresql_where=sa.text("verification_status = 'verified'"))

    op.create_table('clerk_sessions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('last_active_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expire_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('abandon_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_factor_verified_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clerk_clients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_clerk_sessions_user_status', ['user_id', 'status'], unique=False)

    op.create_table('clerk_sign_ins',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('flow_token_hash', sa.String(length=64), nullable=False),
    sa.Column('identifier', sa.String(length=320), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('expire_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_sent_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('flow_token_hash')
    )
    with op.batch_alter_table('clerk_sign_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_sign_ins_expire_at'), ['expire_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('clerk_sign_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clerk_sign_ins_expire_at'))

    op.drop_table('clerk_sign_ins')
    with op.batch_alter_table('clerk_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_clerk_sessions_user_status')

    op.drop_table('clerk_sessions')
    with op.batch_alter_table('clerk_email_addresses', schema=None) as batch_op:
        batch_op.drop_index('uq_clerk_email_addresses_verified', sqlite_where=sa.text("verification_status = 'verified'"), postgresql_where=sa.text("verification_status = 'verified'"))
        batch_op.drop_index(batch_op.f('ix_clerk_email_addresses_email_address'))

    op.drop_table('clerk_email_addresses')
    op.drop_table('clerk_users')
    op.drop_table('clerk_signing_keys')
    with op.batch_alter_table('clerk_sign_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clerk_sign_ups_expire_at'))

    op.drop_table('clerk_sign_ups')
    op.drop_table('clerk_clients')

