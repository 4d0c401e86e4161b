"""users synced by webhooks: names, image, the version they reflect, soft delete

Revision ID: 9d3f2c4b7e10
Revises: 5c0b1e7d2a91
Create Date: 2026-11-26 07:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '9d3f2c4b7e10'
down_revision = '5c0b1e7d2a91'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('last_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('image_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('clerk_updated_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('clerk_updated_at')
        batch_op.drop_column('image_url')
        batch_op.drop_column('last_name')
        batch_op.drop_column('first_name')
