"""multi-factor and passwordless: factor times, MFA flags, passkeys, WebAuthn challenges

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 11:40:00
"""

import sqlalchemy as sa
from alembic import op

import flask_clerk.core.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

UTC = flask_clerk.core.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table('clerk_users') as batch:
        batch.add_column(sa.Column('mfa_enabled_at', UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column('mfa_disabled_at', UTC(timezone=True), nullable=True))
    with op.batch_alter_table('clerk_sessions') as batch:
        batch.add_column(sa.Column('second_factor_verified_at', UTC(timezone=True), nullable=True))
        # A mailed code confirms a passwordless user again (reverification).
        batch.add_column(sa.Column('code_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('code_expires_at', UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column('code_sent_at', UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column('code_attempts', sa.Integer(), nullable=False,
                                   server_default='0'))
    with op.batch_alter_table('clerk_sign_ins') as batch:
        batch.add_column(sa.Column('strategy', sa.String(length=30), nullable=True))
        batch.add_column(sa.Column('first_factor_verified_at', UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column('second_factor_verified_at', UTC(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('link_token_hash', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_clerk_sign_ins_link_token_hash', ['link_token_hash'])
    with op.batch_alter_table('clerk_totp_secrets') as batch:
        batch.add_column(sa.Column('enrolling_session_id', sa.String(length=40), nullable=True))
    with op.batch_alter_table('clerk_organizations') as batch:
        batch.add_column(sa.Column('mfa_required', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # Users imported with a TOTP secret have a second factor already.
    op.execute("UPDATE clerk_users SET mfa_enabled_at = created_at WHERE id IN "
               "(SELECT user_id FROM clerk_totp_secrets WHERE verified = true)")
    op.create_table('clerk_passkeys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('credential_id', sa.String(length=1400), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('transports', sa.JSON(), nullable=False),
    sa.Column('aaguid', sa.String(length=36), nullable=True),
    sa.Column('backed_up', sa.Boolean(), nullable=False),
    sa.Column('last_used_at', UTC(timezone=True), nullable=True),
    sa.Column('sign_count_regressed_at', UTC(timezone=True), nullable=True),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.Column('updated_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credential_id')
    )
    op.create_index('ix_clerk_passkeys_user_id', 'clerk_passkeys', ['user_id'])
    op.create_table('clerk_webauthn_challenges',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('challenge', sa.String(length=128), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('binding', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('expire_at', UTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['clerk_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_clerk_webauthn_challenges_binding', 'clerk_webauthn_challenges',
                    ['binding'])
    op.create_index('ix_clerk_webauthn_challenges_expire_at', 'clerk_webauthn_challenges',
                    ['expire_at'])


def downgrade() -> None:
    op.drop_index('ix_clerk_webauthn_challenges_expire_at', 'clerk_webauthn_challenges')
    op.drop_index('ix_clerk_webauthn_challenges_binding', 'clerk_webauthn_challenges')
    op.drop_table('clerk_webauthn_challenges')
    op.drop_index('ix_clerk_passkeys_user_id', 'clerk_passkeys')
    op.drop_table('clerk_passkeys')
    with op.batch_alter_table('clerk_organizations') as batch:
        batch.drop_column('mfa_required')
    with op.batch_alter_table('clerk_totp_secrets') as batch:
        batch.drop_column('enrolling_session_id')
    with op.batch_alter_table('clerk_sign_ins') as batch:
        batch.drop_constraint('uq_clerk_sign_ins_link_token_hash', type_='unique')
        batch.drop_column('link_token_hash')
        batch.drop_column('second_factor_verified_at')
        batch.drop_column('first_factor_verified_at')
        batch.drop_column('strategy')
    with op.batch_alter_table('clerk_sessions') as batch:
        for column in ('code_attempts', 'code_sent_at', 'code_expires_at', 'code_hash',
                       'second_factor_verified_at'):
            batch.drop_column(column)
    with op.batch_alter_table('clerk_users') as batch:
        batch.drop_column('mfa_disabled_at')
        batch.drop_column('mfa_enabled_at')
