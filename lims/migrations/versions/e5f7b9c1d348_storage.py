"""storage locations, container positions, retention samples, the negative fraction stored

Revision ID: e5f7b9c1d348
Revises: d4e6a8b0c237
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = 'e5f7b9c1d348'
down_revision: str | None = 'd4e6a8b0c237'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Retention samples are containers of a new kind and dispositions are new values of
# container.status (workflows.storage.Disposition): no column of `container` changes.
# A container in one position at a time, a position holding one container at a time: a
# partial unique index over the open rows (removed_at IS NULL) on both backends.
OPEN_ROW = sa.text('removed_at IS NULL')


def upgrade() -> None:
    op.create_table(
        'storage_location',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('temperature_min_c', sa.Float(), nullable=True),
        sa.Column('temperature_max_c', sa.Float(), nullable=True),
        sa.Column('rows', sa.Integer(), nullable=True),
        sa.Column('columns', sa.Integer(), nullable=True),
        sa.Column('grid_row', sa.Integer(), nullable=True),
        sa.Column('grid_column', sa.Integer(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['parent_id'], ['storage_location.id']),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_storage_location_parent_id', 'storage_location', ['parent_id'])
    op.create_index('ix_storage_location_code', 'storage_location', ['code'], unique=True)
    op.create_table(
        'container_storage',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('container_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('stored_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('stored_by_id', sa.Integer(), nullable=False),
        sa.Column('removed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('removed_by_id', sa.Integer(), nullable=True),
        sa.Column('removal_reason', sa.String(length=20), nullable=True),
        sa.Column('removal_note', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['container_id'], ['container.id']),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['location_id'], ['storage_location.id']),
        sa.ForeignKeyConstraint(['stored_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['removed_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_container_storage_container_id', 'container_storage', ['container_id'])
    op.create_index('ix_container_storage_product_id', 'container_storage', ['product_id'])
    op.create_index('ix_container_storage_location_id', 'container_storage', ['location_id'])
    op.create_index('ux_container_storage_open_container', 'container_storage',
                    ['container_id'], unique=True,
                    sqlite_where=OPEN_ROW, postgresql_where=OPEN_ROW)
    op.create_index('ux_container_storage_open_location', 'container_storage',
                    ['location_id'], unique=True,
                    sqlite_where=OPEN_ROW, postgresql_where=OPEN_ROW)


def downgrade() -> None:
    op.drop_table('container_storage')
    op.drop_table('storage_location')
