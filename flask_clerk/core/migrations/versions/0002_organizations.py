"""organizations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:41:13.530504
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clerk_organization_roles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('permissions', sa.JSON(), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('clerk_organizations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('image_url', sa.String(length=2048), nullable=True),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('max_allowed_memberships', sa.Integer(), nullable=True),
    sa.Column('admin_delete_enabled', sa.Boolean(), nullable=False),
    sa.Column('public_metadata', sa.JSON(), nullable=False),
    sa.Column('private_metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    op.create_table('clerk_organization_domains',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('organization_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('enrollment_mode', sa.String(length=30), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('verification_strategy', sa.String(length=40), nullable=True),
    sa.Column('affiliation_email_address', sa.String(length=320), nullable=True),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_sent_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['clerk_organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_organization_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_organization_domains_name'), ['name'], unique=False)
        batch_op.create_index('uq_clerk_organization_domains_org_name', ['organization_id', 'name'], unique=True)

    op.create_table('clerk_organization_invitations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('organization_id', sa.String(length=40), nullable=False),
    sa.Column('email_address', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('inviter_id', sa.String(length=40), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('public_metadata', sa.JSON(), nullable=False),
    sa.Column('private_metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['clerk_organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('clerk_organization_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_organization_invitations_email_address'), ['email_address'], unique=False)
        batch_op.create_index(batch_op.f('ix_clerk_organization_invitations_organization_id'), ['organization_id'], unique=False)

    op.create_table('clerk_organization_membership_requests',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('organization_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['clerk_organizations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_organization_membership_requests', schema=None) as batch_op:
        batch_op.create_index('ix_clerk_membership_requests_org_user', ['organization_id', 'user_id'], unique=False)

    op.create_table('clerk_organization_memberships',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('organization_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('public_metadata', sa.JSON(), nullable=False),
    sa.Column('private_metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', flask_clerk.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['clerk_organizations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clerk_organization_memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clerk_organization_memberships_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_clerk_memberships_org_user', ['organization_id', 'user_id'], unique=True)

    with op.batch_alter_table('clerk_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_active_organization_id', sa.String(length=40), nullable=True))
        batch_op.create_foreign_key('fk_clerk_sessions_last_active_organization_id', 'clerk_organizations', ['last_active_organization_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('clerk_sessions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_clerk_sessions_last_active_organization_id', type_='foreignkey')
        batch_op.drop_column('last_active_organization_id')

    with op.batch_alter_table('clerk_organization_memberships', schema=None) as batch_op:
        batch_op.drop_index('uq_clerk_memberships_org_user')
        batch_op.drop_index(batch_op.f('ix_clerk_organization_memberships_user_id'))

    op.drop_table('clerk_organization_memberships')
    with op.batch_alter_table('clerk_organization_membership_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_clerk_membership_requests_org_user')

    op.drop_table('clerk_organization_membership_requests')
    with op.batch_alter_table('clerk_organization_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clerk_organization_invitations_organization_id'))
        batch_op.drop_index(batch_op.f('ix_clerk_organization_invitations_email_address'))

    op.drop_table('clerk_organization_invitations')
    with op.batch_alter_table('clerk_organization_domains', schema=None) as batch_op:
        batch_op.drop_index('uq_clerk_organization_domains_org_name')
        batch_op.drop_index(batch_op.f('ix_clerk_organization_domains_name'))

    op.drop_table('clerk_organization_domains')
    op.drop_table('clerk_organizations')
    op.drop_table('clerk_organization_roles')
