"""password lifecycle: token version, forced change, sign-in back-off

Revision ID: e4a7c9d2b815
Revises: c3e91f07ab52
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lims.models.base import UTCDateTime

revision: str = 'e4a7c9d2b815'
down_revision: str | None = 'c3e91f07ab52'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMNs on both dialects (no table rebuild on SQLite, so no trigger is lost);
# the back-off table is new. Tokens issued before this revision have no version: they no
# longer read, so everyone signs in again once after the upgrade.


def upgrade() -> None:
    op.add_column('user', sa.Column('token_version', sa.Integer(), nullable=False,
                                    server_default='0'))
    op.add_column('user', sa.Column('password_changed_at', UTCDateTime(timezone=True),
                                    nullable=True))
    op.add_column('user', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                    server_default=sa.false()))
    op.create_table(
        'signin_throttle',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('blocked_until', UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('signin_throttle')
    op.drop_column('user', 'must_change_password')
    op.drop_column('user', 'password_changed_at')
    op.drop_column('user', 'token_version')
