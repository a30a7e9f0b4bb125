"""scheduling: resources, shifts, bookings

Revision ID: f6a8c0d2e459
Revises: 1f2a3b4c5d6e
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = 'f6a8c0d2e459'
down_revision: str | None = '1f2a3b4c5d6e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'resource',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False, unique=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=True),
        sa.Column('qualifications', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        _utc('created_at'),
    )
    op.create_table(
        'resource_shift',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('resource_id', sa.Integer(), sa.ForeignKey('resource.id'), nullable=False),
        _utc('starts_at'),
        _utc('ends_at'),
        sa.Column('cancelled', sa.Boolean(), nullable=False),
        sa.Column('cancel_reason', sa.String(length=500), nullable=False),
        sa.Column('created_by_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=True),
        _utc('created_at'),
        sa.CheckConstraint('ends_at > starts_at', name='ck_resource_shift_order'),
    )
    op.create_index('ix_resource_shift_resource_id', 'resource_shift', ['resource_id'])
    op.create_index('ix_resource_shift_starts_at', 'resource_shift', ['starts_at'])
    op.create_table(
        'booking',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('product_id', sa.Integer(), sa.ForeignKey('product.id'), nullable=True),
        sa.Column('patient_id', sa.Integer(), sa.ForeignKey('patient.id'), nullable=False),
        _utc('starts_at'),
        _utc('ends_at'),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('harvest_booking_id', sa.Integer(), sa.ForeignKey('booking.id'),
                  nullable=True),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('booked_by_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=False),
        _utc('booked_at'),
        sa.Column('cancel_reason', sa.String(length=500), nullable=False),
        sa.Column('cancelled_by_id', sa.Integer(), sa.ForeignKey('user.id'), nullable=True),
        _utc('cancelled_at', nullable=True),
        sa.CheckConstraint('ends_at > starts_at', name='ck_booking_order'),
    )
    for column in ('product_id', 'patient_id', 'starts_at', 'ends_at', 'status'):
        op.create_index(f'ix_booking_{column}', 'booking', [column])
    op.create_table(
        'booking_resource',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('booking_id', sa.Integer(), sa.ForeignKey('booking.id'), nullable=False),
        sa.Column('resource_id', sa.Integer(), sa.ForeignKey('resource.id'), nullable=False),
        sa.UniqueConstraint('booking_id', 'resource_id'),
    )
    op.create_index('ix_booking_resource_booking_id', 'booking_resource', ['booking_id'])
    op.create_index('ix_booking_resource_resource_id', 'booking_resource', ['resource_id'])


def downgrade() -> None:
    op.drop_table('booking_resource')
    op.drop_table('booking')
    op.drop_table('resource_shift')
    op.drop_table('resource')
