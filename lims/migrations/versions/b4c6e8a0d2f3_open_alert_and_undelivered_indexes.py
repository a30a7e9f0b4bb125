"""indexes for what every QA and physician page reads: open alerts, undelivered notifications

The banner of every QA and physician page, the QA queue and the notifications page read the
alerts nobody has acknowledged and the notifications not yet delivered. Over years nearly
every alert is acknowledged and nearly every notification sent, so both reads ask for a
handful of rows among many: a partial index holds only those rows (a plain index on
`status` does not serve `status <> 'sent'`).

Revision ID: b4c6e8a0d2f3
Revises: a7b9d1e3f56a
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b4c6e8a0d2f3'
down_revision: str | None = 'a7b9d1e3f56a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text('acknowledged_at IS NULL')
UNDELIVERED = sa.text("status <> 'sent'")


def upgrade() -> None:
    op.create_index('ix_alert_open', 'alert', ['id'], postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_notification_undelivered', 'notification', ['id'],
                    postgresql_where=UNDELIVERED, sqlite_where=UNDELIVERED)


def downgrade() -> None:
    op.drop_index('ix_notification_undelivered', table_name='notification')
    op.drop_index('ix_alert_open', table_name='alert')
