"""master data lifecycle: reagent lots received in quarantine and released for use,
specification versions drafted, approved by a QA signature and effective from a time

Revision ID: f5b2d8e1c374
Revises: e4a7c9d2b815
Create Date: 2026-11-30 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = 'f5b2d8e1c374'
down_revision: str | None = 'e4a7c9d2b815'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMNs (no table rebuild on SQLite, so no trigger is lost). Lots registered
# before this revision were already in use: they stay released. Specification versions
# made before it took effect when they were made: they count as approved from then on.


def upgrade() -> None:
    op.add_column('reagentlot', sa.Column('status', sa.String(length=20), nullable=False,
                                          server_default='released'))
    op.add_column('reagentlot', sa.Column('received_on', sa.Date(), nullable=True))
    op.add_column('reagentlot', sa.Column('status_changed_by_id', sa.Integer(), nullable=True))
    op.add_column('reagentlot', sa.Column('status_changed_at', UTCDateTime(timezone=True),
                                          nullable=True))
    op.add_column('reagentlot', sa.Column('status_reason', sa.String(length=500),
                                          nullable=False, server_default=''))
    op.add_column('specification_set', sa.Column('status', sa.String(length=20),
                                                 nullable=False, server_default='approved'))
    op.add_column('specification_set', sa.Column('effective_from', UTCDateTime(timezone=True),
                                                 nullable=True))
    op.add_column('specification_set', sa.Column('approved_by_id', sa.Integer(),
                                                 nullable=True))
    op.add_column('specification_set', sa.Column('approved_printed_name', sa.String(length=200),
                                                 nullable=False, server_default=''))
    op.add_column('specification_set', sa.Column('approved_at', UTCDateTime(timezone=True),
                                                 nullable=True))
    op.add_column('specification_set', sa.Column('approved_hash', sa.String(length=64),
                                                 nullable=False, server_default=''))
    op.execute("UPDATE specification_set SET effective_from = created_at, "
               "approved_at = created_at")


def downgrade() -> None:
    for column in ('approved_hash', 'approved_at', 'approved_printed_name', 'approved_by_id',
                   'effective_from', 'status'):
        op.drop_column('specification_set', column)
    for column in ('status_reason', 'status_changed_at', 'status_changed_by_id', 'received_on',
                   'status'):
        op.drop_column('reagentlot', column)
