"""input integrity: step corrections, QC sample draw, eligibility re-authentication

Revision ID: c3e91f07ab52
Revises: b7d41c2e9a10
Create Date: 2026-11-30 08:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = 'c3e91f07ab52'
down_revision: str | None = 'b7d41c2e9a10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMNs on both dialects (no table rebuild on SQLite, so no trigger is lost).
# The foreign key of corrects_id is declared on PostgreSQL only: SQLite cannot add one
# without rebuilding the table, and the service is the only writer there.


def upgrade() -> None:
    op.add_column('steprecord', sa.Column('superseded', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    op.add_column('steprecord', sa.Column('corrects_id', sa.Integer(), nullable=True))
    op.add_column('steprecord', sa.Column('reason', sa.String(length=500), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key('steprecord_corrects_id_fkey', 'steprecord', 'steprecord',
                              ['corrects_id'], ['id'])
    op.add_column('qcresult', sa.Column('sample_drawn_at', UTCDateTime(timezone=True),
                                        nullable=True))
    op.add_column('qcresult', sa.Column('sample_volume_ml', sa.Float(), nullable=True))
    op.add_column('patient', sa.Column('eligibility_checked_at', UTCDateTime(timezone=True),
                                       nullable=True))


def downgrade() -> None:
    op.drop_column('patient', 'eligibility_checked_at')
    op.drop_column('qcresult', 'sample_volume_ml')
    op.drop_column('qcresult', 'sample_drawn_at')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint('steprecord_corrects_id_fkey', 'steprecord', type_='foreignkey')
    op.drop_column('steprecord', 'reason')
    op.drop_column('steprecord', 'corrects_id')
    op.drop_column('steprecord', 'superseded')
