"""social sign-in: external accounts, OAuth flows, sign-ups through a provider

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 14:50:00
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

UTC = flask_clerk.core.models.UTCDateTime


def upgrade() -> None:
    op.create_table('clerk_external_accounts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('identification_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('provider_user_id', sa.String(length=255), nullable=False),
    sa.Column('email_address', sa.String(length=320), nullable=True),
    sa.Column('email_verified', sa.Boolean(), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('username', sa.String(length=100), nullable=True),
    sa.Column('image_url', sa.String(length=2048), nullable=True),
    sa.Column('approved_scopes', sa.String(length=1000), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_clerk_external_accounts_provider_user', 'clerk_external_accounts',
                    ['provider', 'provider_user_id'], unique=True)
    op.create_index(op.f('ix_clerk_external_accounts_user_id'), 'clerk_external_accounts',
                    ['user_id'], unique=False)
    op.create_table('clerk_oauth_flows',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('intent', sa.String(length=20), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=True),
    sa.Column('redirect_uri', sa.String(length=2048), nullable=False),
    sa.Column('return_to', sa.String(length=2048), nullable=False),
    sa.Column('redirect_url', sa.String(length=2048), nullable=True),
    sa.Column('session_id', sa.String(length=40), nullable=True),
    sa.Column('expire_at', UTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('state_hash')
    )
    op.create_index(op.f('ix_clerk_oauth_flows_expire_at'), 'clerk_oauth_flows', ['expire_at'],
                    unique=False)
    with op.batch_alter_table('clerk_sign_ups') as batch:
        batch.add_column(sa.Column('external_account', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('clerk_sign_ups') as batch:
        batch.drop_column('external_account')
    op.drop_index(op.f('ix_clerk_oauth_flows_expire_at'), table_name='clerk_oauth_flows')
    op.drop_table('clerk_oauth_flows')
    op.drop_index(op.f('ix_clerk_external_accounts_user_id'), table_name='clerk_external_accounts')
    op.drop_index('uq_clerk_external_accounts_provider_user', table_name='clerk_external_accounts')
    op.drop_table('clerk_external_accounts')
