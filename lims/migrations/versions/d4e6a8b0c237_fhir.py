"""FHIR interface

Revision ID: d4e6a8b0c237
Revises: c3d5f7a9b126
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = 'd4e6a8b0c237'
down_revision: str | None = 'c3d5f7a9b126'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
