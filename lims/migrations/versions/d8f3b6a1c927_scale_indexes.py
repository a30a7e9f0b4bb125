"""scale: indexes for 100,000 products and 10,000,000 audit events (bench/scale.py)

Search finds a product by any part of a subject ID, MRN, patient name or DIN: on
PostgreSQL, trigram indexes (pg_trgm, a trusted extension the database owner may create)
on the lower-cased columns the search compares. The audit viewer filters by action and
period, the product history finds container events by the DIN prefix of their id, and the
completed list is ordered by when a product was last changed. The product page offers
the registered printer a person printed to last (their latest print job with a printer: a
partial index, PDF prints having none).

Revision ID: d8f3b6a1c927
Revises: a9d3c6e2f418
Create Date: 2026-11-30 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd8f3b6a1c927'
down_revision: str | None = 'a9d3c6e2f418'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, lower-cased column) searched with LIKE '%...%'.
TRIGRAMS = (("ix_patient_subject_id_trgm", "patient", "subject_id"),
            ("ix_patient_mrn_trgm", "patient", "mrn"),
            ("ix_patient_name_trgm", "patient", "name"),
            ("ix_product_din_trgm", "product", "din"))


def upgrade() -> None:
    op.create_index('ix_audit_event_action_seq', 'audit_event', ['action', 'seq'])
    op.create_index('ix_audit_event_at', 'audit_event', ['at'])
    op.create_index('ix_product_updated_at', 'product', ['updated_at', 'id'])
    printed = sa.text('printer_id IS NOT NULL')
    op.create_index('ix_print_job_printer_by_user', 'print_job', ['printed_by_id', 'id'],
                    postgresql_where=printed, sqlite_where=printed)
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite: LIKE on entity_id prefixes and contains-searches scan (small labs)
    # In public, so that every schema (the tests' one per run) finds the operator class.
    # The extension is the database's, not the schema's: migrations of several schemas at
    # once (the test workers) would race to create it, so they take turns.
    op.execute('SELECT pg_advisory_xact_lock(7001001)')
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public')
    schema = op.get_bind().exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'").scalar_one()
    for name, table, column in TRIGRAMS:
        op.execute(f'CREATE INDEX {name} ON {table} USING gin '
                   f'(lower({column}) "{schema}".gin_trgm_ops)')
    # The product history: container events by "DIN/..." prefix (LIKE 'din%').
    op.execute('CREATE INDEX ix_audit_event_entity_id_prefix ON audit_event '
               '(entity, entity_id varchar_pattern_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_audit_event_entity_id_prefix', table_name='audit_event')
        for name, table, _column in TRIGRAMS:
            op.drop_index(name, table_name=table)
    op.drop_index('ix_print_job_printer_by_user', table_name='print_job')
    op.drop_index('ix_product_updated_at', table_name='product')
    op.drop_index('ix_audit_event_at', table_name='audit_event')
    op.drop_index('ix_audit_event_action_seq', table_name='audit_event')
