"""bench and QA screens: label printers as master data, form drafts kept over a session's
end, QA's acknowledgement of each review exception

Revision ID: a9d3c6e2f418
Revises: f5b2d8e1c374
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = 'a9d3c6e2f418'
down_revision: str | None = 'f5b2d8e1c374'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'printer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('location', sa.String(length=120), nullable=False, server_default=''),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False, server_default='9100'),
        sa.Column('stock', sa.String(length=40), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_table(
        'form_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('saved_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'key'),
    )
    op.create_index('ix_form_draft_user_id', 'form_draft', ['user_id'])
    op.create_table(
        'review_acknowledgement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('exception_key', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('text', sa.String(length=2000), nullable=False),
        sa.Column('comment', sa.String(length=2000), nullable=False, server_default=''),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('printed_name', sa.String(length=200), nullable=False),
        sa.Column('acknowledged_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('product_id', 'exception_key'),
    )
    op.create_index('ix_review_acknowledgement_product_id', 'review_acknowledgement',
                    ['product_id'])
    op.add_column('print_job', sa.Column('printer_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('print_job', 'printer_id')
    op.drop_index('ix_review_acknowledgement_product_id', 'review_acknowledgement')
    op.drop_table('review_acknowledgement')
    op.drop_index('ix_form_draft_user_id', 'form_draft')
    op.drop_table('form_draft')
    op.drop_table('printer')
