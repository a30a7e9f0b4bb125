"""`lims serve` without --workers: one process per CPU on PostgreSQL, one on SQLite."""

from __future__ import annotations

import os

from lims.cli import default_workers


def test_postgresql_gets_one_worker_per_cpu() -> None:
    assert default_workers("postgresql+psycopg://lims_app@dbhost/lims") == (os.cpu_count() or 1)


def test_sqlite_gets_one_worker_which_it_allows_alone() -> None:
    assert default_workers("sqlite:///lims.db") == 1
