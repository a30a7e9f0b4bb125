"""clinical follow-up after administration: visits, laboratory values, clinical findings,
adverse events, clinical events

Revision ID: b2c4e6f8a015
Revises: d8f3b6a1c927
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import lims.models.base

revision: str = 'b2c4e6f8a015'
down_revision: str | None = 'd8f3b6a1c927'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    utc = lims.models.base.UTCDateTime
    op.create_table(
        'follow_up_visit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('code', text(length=20), nullable=False),
        sa.Column('label', text(length=120), nullable=False),
        sa.Column('day', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('window_days', sa.Integer(), nullable=False),
        sa.Column('kind', text(length=10), nullable=False),
        sa.Column('scheduled_at', utc(timezone=True), nullable=False),
        sa.Column('done_at', utc(timezone=True), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', utc(timezone=True), nullable=True),
        sa.Column('note', text(length=2000), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('product_id', 'code'),
    )
    op.create_index('ix_follow_up_visit_patient_id', 'follow_up_visit', ['patient_id'])
    op.create_index('ix_follow_up_visit_product_id', 'follow_up_visit', ['product_id'])
    op.create_table(
        'lab_value',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('visit_id', sa.Integer(), nullable=True),
        sa.Column('analyte', text(length=40), nullable=False),
        sa.Column('value_entered', sa.Float(), nullable=False),
        sa.Column('unit_entered', text(length=20), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.Column('unit', text(length=20), nullable=False),
        sa.Column('sampled_at', utc(timezone=True), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', utc(timezone=True), nullable=False),
        sa.Column('content_hash', text(length=64), nullable=False),
        sa.Column('superseded', sa.Boolean(), nullable=False),
        sa.Column('corrects_id', sa.Integer(), nullable=True),
        sa.Column('reason', text(length=500), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['visit_id'], ['follow_up_visit.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['corrects_id'], ['lab_value.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_lab_value_patient_id', 'lab_value', ['patient_id'])
    op.create_index('ix_lab_value_visit_id', 'lab_value', ['visit_id'])
    op.create_table(
        'clinical_finding',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('visit_id', sa.Integer(), nullable=True),
        sa.Column('ascites', text(length=20), nullable=False),
        sa.Column('encephalopathy', text(length=20), nullable=False),
        sa.Column('dialysis_twice_past_week', sa.Boolean(), nullable=False),
        sa.Column('observed_at', utc(timezone=True), nullable=False),
        sa.Column('note', text(length=2000), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', utc(timezone=True), nullable=False),
        sa.Column('content_hash', text(length=64), nullable=False),
        sa.Column('superseded', sa.Boolean(), nullable=False),
        sa.Column('corrects_id', sa.Integer(), nullable=True),
        sa.Column('reason', text(length=500), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['visit_id'], ['follow_up_visit.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['corrects_id'], ['clinical_finding.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_clinical_finding_patient_id', 'clinical_finding', ['patient_id'])
    op.create_index('ix_clinical_finding_visit_id', 'clinical_finding', ['visit_id'])
    op.create_table(
        'adverse_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('description', text(length=2000), nullable=False),
        sa.Column('onset_on', sa.Date(), nullable=False),
        sa.Column('grade', sa.Integer(), nullable=False),
        sa.Column('serious', sa.Boolean(), nullable=False),
        sa.Column('relatedness', text(length=20), nullable=False),
        sa.Column('outcome', text(length=30), nullable=False),
        sa.Column('resolved_on', sa.Date(), nullable=True),
        sa.Column('reported_by_id', sa.Integer(), nullable=False),
        sa.Column('reported_at', utc(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', utc(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('content_hash', text(length=64), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['reported_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_adverse_event_patient_id', 'adverse_event', ['patient_id'])
    op.create_index('ix_adverse_event_product_id', 'adverse_event', ['product_id'])
    op.create_table(
        'clinical_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('kind', text(length=20), nullable=False),
        sa.Column('occurred_on', sa.Date(), nullable=False),
        sa.Column('note', text(length=2000), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', utc(timezone=True), nullable=False),
        sa.Column('content_hash', text(length=64), nullable=False),
        sa.Column('superseded', sa.Boolean(), nullable=False),
        sa.Column('corrects_id', sa.Integer(), nullable=True),
        sa.Column('reason', text(length=500), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patient.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['corrects_id'], ['clinical_event.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_clinical_event_patient_id', 'clinical_event', ['patient_id'])


def downgrade() -> None:
    for table in ('clinical_event', 'adverse_event', 'clinical_finding', 'lab_value',
                  'follow_up_visit'):
        op.drop_table(table)
