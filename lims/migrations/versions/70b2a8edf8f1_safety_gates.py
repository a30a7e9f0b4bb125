# ruff: noqa: E501
"""safety gates: release suspension, outbox, jobs, four eyes, materials, print serials

Revision ID: 70b2a8edf8f1
Revises: 6c380fd6fec4
Create Date: 2026-11-30 04:54:59.048860
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import lims.models.base

revision: str = '70b2a8edf8f1'
down_revision: str | None = '6c380fd6fec4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_at', lims.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('locked_at', lims.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('created_at', lims.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', lims.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_run_at'), ['run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_status'), ['status'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('to_address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('next_attempt_at', lims.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', lims.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', lims.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['recipient_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_status'), ['status'], unique=False)

    # Plain ADD COLUMN (no table rebuild: SQLite forbids it under the audit triggers); the
    # NOT NULL columns carry a server default so existing rows get a value.
    op.add_column('alert', sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='release'))
    op.add_column('deviation', sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False, server_default='manual'))
    op.add_column('patient', sa.Column('treating_physician_id', sa.Integer(), nullable=True))
    op.add_column('print_job', sa.Column('serial', sa.Integer(), nullable=True))
    op.create_index('ix_print_job_serial', 'print_job', ['serial'], unique=False)
    op.add_column('product', sa.Column('suspended_from', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
    op.add_column('qcresult', sa.Column('needs_verification', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('qcresult', sa.Column('verified_by_id', sa.Integer(), nullable=True))
    op.add_column('qcresult', sa.Column('verified_at', lims.models.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column('reagentlot', sa.Column('material', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False, server_default=''))
    op.create_index('ix_reagentlot_material', 'reagentlot', ['material'], unique=False)
    op.add_column('user', sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False, server_default=''))
    # The print serial of the label the container wears now (its latest print).
    op.add_column('container', sa.Column('label_serial', sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != 'sqlite':
        op.create_foreign_key('fk_patient_treating_physician', 'patient', 'user', ['treating_physician_id'], ['id'])
        op.create_foreign_key('fk_qcresult_verified_by', 'qcresult', 'user', ['verified_by_id'], ['id'])


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_qcresult_verified_by', 'qcresult', type_='foreignkey')
        op.drop_constraint('fk_patient_treating_physician', 'patient', type_='foreignkey')
    op.drop_column('container', 'label_serial')
    op.drop_column('user', 'email')
    op.drop_index('ix_reagentlot_material', table_name='reagentlot')
    op.drop_column('reagentlot', 'material')
    op.drop_column('qcresult', 'verified_at')
    op.drop_column('qcresult', 'verified_by_id')
    op.drop_column('qcresult', 'needs_verification')
    op.drop_column('product', 'suspended_from')
    op.drop_index('ix_print_job_serial', table_name='print_job')
    op.drop_column('print_job', 'serial')
    op.drop_column('patient', 'treating_physician_id')
    op.drop_column('deviation', 'kind')
    op.drop_column('alert', 'severity')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_status'))
        batch_op.drop_index(batch_op.f('ix_notification_product_id'))
        batch_op.drop_index(batch_op.f('ix_notification_alert_id'))
    op.drop_table('notification')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_status'))
        batch_op.drop_index(batch_op.f('ix_job_run_at'))
        batch_op.drop_index(batch_op.f('ix_job_kind'))
    op.drop_table('job')
