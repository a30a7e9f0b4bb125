"""audit trust: keyed chain, least privilege, TRUNCATE refused

Revision ID: b7d41c2e9a10
Revises: 70b2a8edf8f1
Create Date: 2026-11-30 05:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7d41c2e9a10'
down_revision: str | None = '70b2a8edf8f1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _refuse_audit_truncate()
    # Which audit key made each event's keyed chain hash (key rotation); a plain ADD COLUMN,
    # which the append-only triggers allow (no table rebuild).
    op.add_column('audit_event', sa.Column('key_id', sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column('audit_event', 'key_id')
    _allow_audit_truncate()


# PostgreSQL's row triggers do not fire on TRUNCATE, which empties a table at once: a
# statement-level trigger refuses it (the function of the initial schema raises). SQLite
# has no TRUNCATE; its DELETE triggers already cover "DELETE FROM audit_event".
_TRUNCATED = ("audit_event", "audit_head")


def _refuse_audit_truncate() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TRUNCATED:
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()")


def _allow_audit_truncate() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TRUNCATED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
