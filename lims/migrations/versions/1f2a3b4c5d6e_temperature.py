"""temperature readings (monitoring system and by hand), excursions linked to stored containers

Revision ID: 1f2a3b4c5d6e
Revises: e5f7b9c1d348
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = '1f2a3b4c5d6e'
down_revision: str | None = 'e5f7b9c1d348'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Four new tables; nothing existing changes. A reading is unique per location, time and
# source, so a monitoring file imported twice records each reading once.


def upgrade() -> None:
    op.create_table(
        'temperature_device',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('device', sa.String(length=60), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('registered_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('registered_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['location_id'], ['storage_location.id']),
        sa.ForeignKeyConstraint(['registered_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_temperature_device_device', 'temperature_device', ['device'],
                    unique=True)
    op.create_index('ix_temperature_device_location_id', 'temperature_device',
                    ['location_id'])
    op.create_table(
        'temperature_reading',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=True),
        sa.Column('measured_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('celsius', sa.Float(), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('import_hash', sa.String(length=64), nullable=True),
        sa.Column('entered_by_id', sa.Integer(), nullable=False),
        sa.Column('entered_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['location_id'], ['storage_location.id']),
        sa.ForeignKeyConstraint(['device_id'], ['temperature_device.id']),
        sa.ForeignKeyConstraint(['entered_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('location_id', 'measured_at', 'source',
                            name='uq_temperature_reading_location_time_source'),
    )
    op.create_index('ix_temperature_reading_location_id', 'temperature_reading',
                    ['location_id'])
    op.create_index('ix_temperature_reading_measured_at', 'temperature_reading',
                    ['measured_at'])
    op.create_index('ix_temperature_reading_import_hash', 'temperature_reading',
                    ['import_hash'])
    op.create_table(
        'temperature_excursion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('min_c', sa.Float(), nullable=True),
        sa.Column('max_c', sa.Float(), nullable=True),
        sa.Column('range_min_c', sa.Float(), nullable=True),
        sa.Column('range_max_c', sa.Float(), nullable=True),
        sa.Column('raised_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
        sa.Column('acknowledged_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('acknowledgement', sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(['location_id'], ['storage_location.id']),
        sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_temperature_excursion_location_id', 'temperature_excursion',
                    ['location_id'])
    op.create_index('ix_temperature_excursion_started_at', 'temperature_excursion',
                    ['started_at'])
    op.create_table(
        'excursion_container',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('excursion_id', sa.Integer(), nullable=False),
        sa.Column('container_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['excursion_id'], ['temperature_excursion.id']),
        sa.ForeignKeyConstraint(['container_id'], ['container.id']),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('excursion_id', 'container_id', name='uq_excursion_container'),
    )
    op.create_index('ix_excursion_container_excursion_id', 'excursion_container',
                    ['excursion_id'])
    op.create_index('ix_excursion_container_container_id', 'excursion_container',
                    ['container_id'])
    op.create_index('ix_excursion_container_product_id', 'excursion_container',
                    ['product_id'])


def downgrade() -> None:
    op.drop_table('excursion_container')
    op.drop_table('temperature_excursion')
    op.drop_table('temperature_reading')
    op.drop_table('temperature_device')
