"""speed and scale, second part

Revision ID: a7b9d1e3f56a
Revises: f6a8c0d2e459
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = 'a7b9d1e3f56a'
down_revision: str | None = 'f6a8c0d2e459'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
