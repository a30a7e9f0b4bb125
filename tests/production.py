"""What a production configuration needs beyond its keys, for the tests that start one: a
PostgreSQL URL (SQLite is refused in production; nothing connects to this one, the tests
hand their own engine in) and a facility identification number in the form ICCBBA assigns,
standing for the lab's own (X9999, the demo's, is refused in production)."""

from __future__ import annotations

PRODUCTION_DATABASE_URL = "postgresql+psycopg://lims_app@db.invalid/lims"
LAB_FIN = "K7341"
PRODUCTION_ENV = {"LIMS_DATABASE_URL": PRODUCTION_DATABASE_URL, "LIMS_FACILITY_FIN": LAB_FIN}
