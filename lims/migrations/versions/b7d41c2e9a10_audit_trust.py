"""audit trust: keyed chain, least privilege, TRUNCATE refused

Revision ID: b7d41c2e9a10
Revises: 70b2a8edf8f1
Create Date: 2026-11-30 05:50:00
"""

from collections.abc import Sequence

revision: str = 'b7d41c2e9a10'
down_revision: str | None = '70b2a8edf8f1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
