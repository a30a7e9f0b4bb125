"""certificate of analysis

Revision ID: c3d5f7a9b126
Revises: b2c4e6f8a015
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = 'c3d5f7a9b126'
down_revision: str | None = 'b2c4e6f8a015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row per certificate of analysis generated (lims.services.certificate).
    op.create_table(
        'certificate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('generated_by_id', sa.Integer(), nullable=False),
        sa.Column('generated_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('specification_set_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['generated_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['specification_set_id'], ['specification_set.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_certificate_product_id', 'certificate', ['product_id'])


def downgrade() -> None:
    op.drop_index('ix_certificate_product_id', table_name='certificate')
    op.drop_table('certificate')
