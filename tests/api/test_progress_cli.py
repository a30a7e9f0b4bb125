"""`lims audit verify` and `lims audit export` off a terminal (cron, a pipe, a log): plain
progress lines on standard error, the verdict and the data on standard output as before."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlmodel import select

from lims.models import AuditHead
from lims.services.verification import verify_all
from tests.api.conftest import Api, product_in
from tests.api.test_audit_export_cli import database_url, lims_export, period
from tests.integration.audit_attacks import drop_append_only_triggers


def lims(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    api.session.commit()
    # Off a terminal whatever the caller's environment says (rich honours these).
    env = {key: value for key, value in os.environ.items()
           if key not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["LIMS_DATABASE_URL"] = database_url(api.session.get_bind())
    return subprocess.run([sys.executable, "-c", "from lims.cli import app; app()", *args],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def events(api: Api) -> int:
    count = api.session.exec(select(AuditHead.last_seq)).one()
    api.session.commit()  # no read left open: the command (or a tamperer) writes next
    return count


def test_verify_prints_each_phase_plainly_and_the_same_verdict(api):
    # given a released product (its release wrote a signed checkpoint: the Merkle phase)
    product_in(api, "released", "BM-MNC")
    verdict = verify_all(api.session).lines
    total = events(api)

    done = lims(api, "audit", "verify")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == verdict  # the verdict as the service gives it
    assert "audit chain intact" in done.stdout and "records match" in done.stdout
    progress = done.stderr.splitlines()
    assert re.fullmatch(rf"audit chain: {total:,} of {total:,} events \(100%\), \d+\.\d s",
                        progress[0])
    assert re.fullmatch(r"Merkle tree of events 1 to [\d,]+: ([\d,]+) of \1 events "
                        r"\(100%\), \d+\.\d s", progress[1])
    # each check reads its own events (no phase reads the whole trail first)
    assert re.fullmatch(r"records reconciled: 14 of 14 checks \(100%\), \d+\.\d s", progress[2])
    assert len(progress) == 3
    assert "\x1b[" not in done.stderr  # no terminal codes in a log


def test_verify_of_a_broken_chain_stops_its_progress_there_and_says_broken(api, owner_engine):
    product_in(api, "received", "CD133")
    total = events(api)
    drop_append_only_triggers(owner_engine)
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET new_value = 'tampered' WHERE seq = 3"))

    done = lims(api, "audit", "verify")

    assert done.returncode == 1
    assert "first broken event: 3)" in done.stdout
    # the chain's phase ends short of the total, and no later phase ran
    assert re.fullmatch(rf"audit chain: 0 of {total:,} events \(0%\), \d+\.\d s",
                        done.stderr.strip())


def test_export_to_a_file_prints_its_progress_and_the_same_count(api, tmp_path: Path):
    product_in(api, "collected", "CD133")
    out = tmp_path / "trail.csv"

    done = lims_export(api, *period(), "--out", str(out))

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    n = len(rows)
    assert n == events(api)
    assert done.stderr.splitlines()[:-1] == [
        line for line in done.stderr.splitlines()
        if re.fullmatch(rf"audit export: [\d,]+ of {n:,} events \(\d+%\), \d+\.\d s", line)]
    assert re.fullmatch(rf"audit export: {n:,} of {n:,} events \(100%\), \d+\.\d s",
                        done.stderr.splitlines()[-2])
    assert done.stderr.splitlines()[-1] == (f"exported {n} event(s) from {period()[1]} to "
                                            f"{period()[3]} to {out}")


def test_export_to_a_pipe_keeps_the_data_on_standard_output_and_progress_on_error(api):
    product_in(api, "collected", "BM-MNC")

    done = lims_export(api, *period(), "--format", "csv")

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == events(api)
    assert "audit export" not in done.stdout
    assert re.search(rf"^audit export: {len(rows):,} of {len(rows):,} events \(100%\)",
                     done.stderr, re.MULTILINE)
