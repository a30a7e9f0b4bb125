"""What a production configuration needs beyond its keys, for the tests that start one: a
PostgreSQL URL (SQLite is refused in production; nothing connects to this one, the tests
hand their own engine in) and a facility identification number in the form ICCBBA assigns,
standing for the lab's own (X9999, the demo's, is refused in production)."""

from __future__ import annotations

PRODUCTION_DATABASE_URL = "postgresql+psycopg://lims_app@db.invalid/lims"
LAB_FIN = "K7341"
LAB_NAME = "Cell Therapy Unit, Test University Hospital"
LAB_ADDRESS = "2 Test Road, Test City"
# The same, as Settings fields.
LAB_SETTINGS = {"database_url": PRODUCTION_DATABASE_URL, "facility_fin": LAB_FIN,
                "facility_name": LAB_NAME, "facility_address": LAB_ADDRESS}
PRODUCTION_ENV = {"LIMS_DATABASE_URL": PRODUCTION_DATABASE_URL, "LIMS_FACILITY_FIN": LAB_FIN,
                  "LIMS_FACILITY_NAME": LAB_NAME, "LIMS_FACILITY_ADDRESS": LAB_ADDRESS}
