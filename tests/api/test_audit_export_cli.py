"""`lims audit export`: the trail of a period in CSV or JSON that parses back, readable."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import col, select

from lims.models import AuditEvent
from lims.services.common import utcnow
from tests.api.conftest import Api, product_in


def database_url(engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{url}?options=-csearch_path%3D{schema}"


def lims_export(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    api.session.commit()
    env = {**os.environ, "LIMS_DATABASE_URL": database_url(api.session.get_bind())}
    return subprocess.run([sys.executable, "-c", "from lims.cli import app; app()", "audit",
                           "export", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def period() -> list[str]:
    today = utcnow().date()
    return ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]


def test_the_csv_export_parses_back_with_every_event_of_the_period_in_words(api):
    product = product_in(api, "received", "BM-MNC")
    stored = list(api.session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))

    done = lims_export(api, *period(), "--format", "csv")

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [int(r["seq"]) for r in rows] == [e.seq for e in stored]
    received = next(r for r in rows if r["action"] == "state_changed"
                    and r["new"] == "received" and r["entity_id"] == product.din)
    assert received["action_words"] == "product state changed"
    assert received["change"] == "collected → received"
    assert received["user"] and received["user"] != received["username"]
    assert received["time_utc"].endswith("+00:00") and received["time_local"].endswith("+03:30")
    assert {r["user"] for r in rows if r["username"] == "system"} == {"the system"}
    assert f"exported {len(rows)} event(s)" in done.stderr


def test_the_json_export_to_a_file_parses_back_and_filters_by_product(api, tmp_path: Path):
    product = product_in(api, "collected", "CD133")
    out = tmp_path / "trail.json"

    done = lims_export(api, *period(), "--format", "json", "--din", product.din,
                       "--out", str(out))

    assert done.returncode == 0, done.stderr
    events = json.loads(out.read_text(encoding="utf-8"))
    assert events and {e["entity_id"].split("/")[0] for e in events
                       if e["entity"] in ("product", "container")} == {product.din}
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {"product_created", "state_changed", "label_printed"} <= {e["action"] for e in events}


def test_an_export_of_a_period_with_no_events_is_empty_but_well_formed(api):
    done = lims_export(api, "--from", "2020-01-01", "--to", "2020-01-31", "--format", "json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_backwards_period_is_refused_and_writes_no_file(api, tmp_path: Path):
    out = tmp_path / "trail.csv"

    done = lims_export(api, "--from", "2026-11-30", "--to", "2026-11-01", "--out", str(out))

    assert done.returncode == 1 and "swap the dates" in done.stderr
    assert not out.exists()
