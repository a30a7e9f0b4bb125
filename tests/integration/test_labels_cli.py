"""`lims label parse|print|verify` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.cli import app
from lims.models import PrintJob
from tests.factories import PASSWORDS, container_of, make_product, seeded
from workflows.identity import container_code
from workflows.isbt128 import check_character

LIMS = Path(sys.executable).parent / "lims"
DIN = "X999926000123"


def lims(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LIMS), *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_label_parse_prints_the_parts_of_a_compound_message():
    scan = "=+04000=X99992600012300=<D0006100&>0263300005&*0263291205"

    done = lims("label", "parse", scan)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"X9999 26 000123 [{check_character(DIN)}]" in lines[0]
    assert "flags         00 (flag not used)" in lines
    assert any(line.startswith("product code  D0006100") and "division 00" in line
               for line in lines)
    assert "expiry        2026-11-26 00:05 (facility local time)" in lines
    assert "collection    2026-11-25 12:05 (facility local time)" in lines
    assert "read as       compound message" in lines


def test_label_parse_of_a_keyboard_entered_din_with_a_bad_check_character_exits_non_zero():
    wrong = next(c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != check_character(DIN))

    done = lims("label", "parse", DIN + wrong)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: scan_bad_check_character: ")
    assert f"expected {check_character(DIN)}" in done.stderr


def test_label_parse_names_where_a_truncated_scan_ends():
    done = lims("label", "parse", "=X9999260001")

    assert done.returncode == 1 and "scan_truncated" in done.stderr


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's sessions use the test database."""
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def test_label_print_records_the_print_as_the_signed_in_user_and_writes_the_file(
        session: Session, cli_db: Engine, tmp_path: Path):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    session.commit()  # the CLI writes through its own session
    out = tmp_path / "mnc.pdf"
    runner = CliRunner()

    refused = runner.invoke(app, ["label", "print", product.din, "--container", str(mnc.id),
                                  "--user", "tech1", "--password", PASSWORDS["tech1"],
                                  "--out", str(out)])
    done = runner.invoke(app, ["label", "print", product.din, "--container", str(mnc.id),
                               "--user", "tech1", "--password", PASSWORDS["tech1"],
                               "--out", str(out), "--reason", "label smudged"])
    zpl = runner.invoke(app, ["label", "print", product.din, "--container", str(mnc.id),
                              "--format", "zpl", "--user", "tech1",
                              "--reason", "second bag label"], input=PASSWORDS["tech1"] + "\n")

    assert refused.exit_code == 1 and "reason_required" in refused.output
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"%PDF")
    assert zpl.exit_code == 0 and "^XA" in zpl.output
    session.commit()
    jobs = session.exec(select(PrintJob).where(PrintJob.container_id == mnc.id)
                        .order_by(col(PrintJob.id))).all()
    assert [(j.format, j.reprint, j.reason) for j in jobs[-2:]] == [
        ("pdf", True, "label smudged"), ("zpl", True, "second bag label")]
    assert jobs[-1].printed_by_id == run.user("tech1").id


def test_label_verify_scans_back_and_a_wrong_password_prints_nothing(
        session: Session, cli_db: Engine):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")
    rbc = container_of(session, product, "rbc_reduced")
    session.commit()
    runner = CliRunner()
    # the reprint below is the bag's second print: its square code carries print serial 2
    scan = container_code(product.din, rbc.product_code, print_serial=2)

    wrong = runner.invoke(app, ["label", "print", product.din, "--container", str(rbc.id),
                                "--user", "tech1", "--password", "not-it", "--reason", "x"])
    printed = runner.invoke(app, ["label", "print", product.din, "--container", str(rbc.id),
                                  "--user", "tech2", "--password", PASSWORDS["tech2"],
                                  "--format", "zpl", "--reason", "torn"])
    verified = runner.invoke(app, ["label", "verify", product.din, scan, "--user", "tech2",
                                   "--password", PASSWORDS["tech2"]])

    assert wrong.exit_code == 1 and "authentication_failed" in wrong.output
    assert printed.exit_code == 0, printed.output
    assert verified.exit_code == 0 and "verified" in verified.output


def test_label_parse_reads_the_din_as_printed_and_in_lower_case():
    printed = f"{DIN[:5]} {DIN[5:7]} {DIN[7:]} {check_character(DIN)}"

    for typed in (printed, printed.lower()):
        done = lims("label", "parse", typed)
        assert done.returncode == 0, done.stderr
        assert f"({DIN}, check character {check_character(DIN)})" in done.stdout


def test_label_parse_names_a_look_alike_character():
    done = lims("label", "parse", "Х" + DIN[1:])  # a Cyrillic Х

    assert done.returncode == 1
    assert "Cyrillic capital letter Ha ‘Х’ (U+0425, looks like X) at position 1" in done.stderr
