"""Records changed behind the system's back, as someone with write access to the database
would change them, are found by reconciling every row with the audit trail (both ways) and
by replaying each product's history through the state machine; each verdict names the
row or event, what was expected and what was found."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlmodel import Session

from lims import demo_data as data
from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.demo import PASSWORDS
from lims.models import (
    Alert,
    AuditEvent,
    Patient,
    PrintJob,
    Product,
    QcResult,
    Signature,
    StepRecord,
    User,
)
from lims.services.alerts import acknowledge_alert
from lims.services.common import user_by_name, utcnow
from lims.services.deviations import close_deviation, open_blocking, raise_deviation
from lims.services.dispositions import discard_product, hold_product, resume_product
from lims.services.fhir_bundle import product_bundle
from lims.services.fhir_disclosure import Interface
from lims.services.fhir_read import patient_resource
from lims.services.qc import complete_qc, record_qc_result
from lims.services.qc_verification import verify_qc_correction
from lims.services.release import exceptional_release, re_release_product, reject_product
from lims.services.users import authenticate, unlock_user
from lims.services.verification import verify_all
from tests.conftest import TEST_URL
from tests.factories import acknowledge_all, enter_qc, make_product, qc_sample_of, seeded
from workflows.errors import DomainError

PRODUCTS: Table = Product.__table__  # type: ignore[attr-defined]
SIGNATURES: Table = Signature.__table__  # type: ignore[attr-defined]
QC: Table = QcResult.__table__  # type: ignore[attr-defined]


@pytest.fixture
def lab(session: Session) -> dict[str, Product]:
    """An administered CD133 product, a released BM-MNC one and a received CD133 one, with
    a trail that reconciles clean."""
    run = seeded(session)
    products = {
        "administered": make_product(run, arm="CD133", until="administered")[0],
        "released": make_product(run, arm="BM-MNC", until="released")[0],
        "received": make_product(run, arm="CD133", until="received")[0],
    }
    report = verify_all(session)
    assert report.ok, report.lines
    session.close()  # end the session's transaction before the attacker connects
    return products


def broken(session: Session) -> list[str]:
    session.close()
    report = verify_all(session)
    assert not report.ok, report.lines
    lines = [line for line in report.lines if line.startswith("BROKEN")]
    assert [p.line for p in report.problems] == lines
    return lines


def row_of(engine: Engine, table: Table, *where: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(table).where(*where)).mappings().one())


def release_signature(engine: Engine, product: Product) -> dict[str, Any]:
    return row_of(engine, SIGNATURES, SIGNATURES.c.product_id == product.id,
                  SIGNATURES.c.meaning == "Released")


# --- a product's history ---------------------------------------------------------------------

def test_a_received_product_set_to_released_with_a_chained_event_is_an_illegal_jump(
        lab, session, engine):
    # given a received product, and someone who changes its row and writes a correctly
    # chained event for it (the chain itself stays intact: only the replay can tell)
    product = lab["received"]
    with Session(engine) as attacker:
        attacker.execute(update(PRODUCTS).where(PRODUCTS.c.id == product.id)
                         .values(state="released"))
        append(attacker, [PendingEvent("state_changed", "product", product.din, "state",
                                       "received", "released", reason="release")],
               user_id=None, username="qa1")
        attacker.commit()

    lines = broken(session)

    assert len(lines) == 1
    assert lines[0].startswith("BROKEN: event ")
    assert f"(product {product.din}: received → released): transition: expected a move the " \
           "process allows from received" in lines[0]
    assert "found received → released, which no step or decision allows" in lines[0]


def test_a_release_without_a_signature_in_the_history_is_reported(session, engine):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    session.close()
    with Session(engine) as attacker:
        attacker.execute(update(PRODUCTS).where(PRODUCTS.c.id == product.id)
                         .values(state="released"))
        append(attacker, [PendingEvent("state_changed", "product", product.din, "state",
                                       "awaiting_release", "released", reason="release")],
               user_id=None, username="qa1")
        attacker.commit()

    [line] = broken(session)

    assert f"(product {product.din}: awaiting_release → released): signature of the " \
           "decision: expected a valid 'Released' signature by an independent QA reviewer; " \
           "found no such signature was recorded before it" in line


def test_a_product_moved_to_another_patient_is_detected(lab, session, engine):
    product, other = lab["administered"], lab["released"]
    with Session(engine) as s:
        subject = s.get(Patient, product.patient_id).subject_id  # type: ignore[union-attr]
        other_subject = s.get(Patient, other.patient_id).subject_id  # type: ignore[union-attr]
    with engine.begin() as conn:
        conn.execute(update(PRODUCTS).where(PRODUCTS.c.id == product.id)
                     .values(patient_id=other.patient_id))

    lines = broken(session)

    assert lines == [f"BROKEN: product {product.din}: patient: expected patient {subject} "
                     f"(recorded when the harvest was scheduled, event "
                     + lines[0].split(", event ")[1].split(")")[0]
                     + f"); found patient {other_subject}"]


def test_a_hold_that_is_not_in_the_history_is_detected(lab, session, engine):
    product = lab["released"]
    with engine.begin() as conn:
        conn.execute(update(PRODUCTS).where(PRODUCTS.c.id == product.id)
                     .values(held_from="issued"))

    assert broken(session) == [f"BROKEN: product {product.din}: held_from: expected None "
                               "(from its audit history); found issued"]


# --- signatures ------------------------------------------------------------------------------

def test_a_signature_whose_meaning_is_changed_from_released_to_rejected_is_detected(
        lab, session, engine):
    product = lab["released"]
    signature = release_signature(engine, product)
    with engine.begin() as conn:
        conn.execute(update(SIGNATURES).where(SIGNATURES.c.id == signature["id"])
                     .values(meaning="Rejected"))

    lines = broken(session)

    where = f"BROKEN: signature {signature['id']} (Rejected, product {product.din}): meaning: "
    assert any(line.startswith(where + "expected Released (event ") and
               line.endswith("; found Rejected") for line in lines), lines
    assert any("awaiting_release → released): signature of the decision" in line
               and f"signature {signature['id']} now means 'Rejected'" in line
               for line in lines), lines


def test_a_signature_given_another_signer_is_detected(lab, session, engine):
    product = lab["released"]
    signature = release_signature(engine, product)
    with Session(engine) as s:
        supervisor = s.exec(select(User).where(User.username == "super1")).one()[0]
    with engine.begin() as conn:
        conn.execute(update(SIGNATURES).where(SIGNATURES.c.id == signature["id"])
                     .values(user_id=supervisor.id))

    lines = broken(session)

    assert any(line.startswith(f"BROKEN: signature {signature['id']} (Released, product "
                               f"{product.din}): signer: expected Maryam QA Reviewer, user ")
               and f"found {supervisor.full_name}, user {supervisor.id}" in line
               and "(qa1)" not in line and "(super1)" not in line
               for line in lines), lines
    assert any(f"signature {signature['id']} now names user {supervisor.id}" in line
               for line in lines), lines


def test_a_signature_copied_to_another_product_is_detected(lab, session, engine):
    released, target = lab["released"], lab["received"]
    signature = release_signature(engine, released)
    copy = {k: v for k, v in signature.items() if k != "id"} | {
        "product_id": target.id, "record_id": target.din}
    with engine.begin() as conn:
        conn.execute(insert(SIGNATURES).values(**copy))
        new_id = conn.execute(select(SIGNATURES.c.id).where(
            SIGNATURES.c.product_id == target.id, SIGNATURES.c.meaning == "Released",
        )).scalar_one()

    assert broken(session) == [
        f"BROKEN: signature {new_id} (Released, product {target.din}): audit event: expected "
        "a 'signed' event that records it; found none: the row was written outside the system"]


# --- QC results ------------------------------------------------------------------------------

def test_a_failed_endotoxin_flipped_to_passed_with_a_recomputed_hash_is_detected(
        session, engine):
    # given a product whose endotoxin failed its specification
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    enter_qc(run, product, {"endotoxin": "500"})
    session.close()
    row = row_of(engine, QC, QC.c.product_id == product.id, QC.c.test == "endotoxin")
    assert row["passed"] is False

    # when the flag is flipped and the content hash recomputed to match
    rehashed = content_hash({"test": "endotoxin", "value": "500", "passed": True})
    with engine.begin() as conn:
        conn.execute(update(QC).where(QC.c.id == row["id"])
                     .values(passed=True, content_hash=rehashed))

    # then the judgement recomputed from the specification names it
    assert broken(session) == [f"BROKEN: QC result {row['id']} (endotoxin): pass/fail: expected "
                               "failed (judged against its specification); found passed"]


def test_a_passed_flag_flipped_after_release_also_breaks_the_release_signature(
        lab, session, engine):
    product = lab["released"]
    row = row_of(engine, QC, QC.c.product_id == product.id, QC.c.test == "endotoxin")
    rehashed = content_hash({"test": "endotoxin", "value": row["value"], "passed": False})
    with engine.begin() as conn:
        conn.execute(update(QC).where(QC.c.id == row["id"])
                     .values(passed=False, content_hash=rehashed))

    lines = broken(session)

    assert f"BROKEN: QC result {row['id']} (endotoxin): pass/fail: expected passed (judged " \
           "against its specification); found failed" in lines
    assert any("the product's records no longer match what was signed" in line
               for line in lines), lines


# --- rows deleted ----------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "what"), [
    (StepRecord, "step record"), (Signature, "signature"), (QcResult, "QC result"),
    (PrintJob, "label print")])
def test_a_deleted_row_is_named_by_the_event_that_wrote_it(lab, session, engine, model, what):
    table: Table = model.__table__  # type: ignore[attr-defined]
    product = lab["released"]
    with engine.begin() as conn:
        victim = conn.execute(select(table.c.id).where(table.c.product_id == product.id)
                              .order_by(table.c.id.desc()).limit(1)).scalar_one()
        conn.execute(delete(table).where(table.c.id == victim))

    lines = broken(session)

    gone = [line for line in lines if line.startswith(f"BROKEN: {what} {victim} ")]
    assert len(gone) == 1, lines
    assert ": row: expected the row written by event " in gone[0]
    assert gone[0].endswith("found no such row: it was deleted outside the system")


# --- a normal run reconciles clean -----------------------------------------------------------

def test_a_demo_like_run_with_holds_corrections_deviations_and_lockouts_reconciles_clean(
        session):
    run = seeded(session)
    make_product(run, arm="CD133", until="administered")
    released, _ = make_product(run, arm="BM-MNC", until="released")
    awaiting, _ = make_product(run, arm="CD133", until="formulated")
    enter_qc(run, awaiting)
    complete_qc(session, actor=run.user("tech2"), din=awaiting.din)
    deviation = raise_deviation(session, actor=run.user("tech1"), din=awaiting.din,
                                step="formulate", description="label smudged",
                                classification="minor")
    close_deviation(session, actor=run.user("qa1"), deviation_id=deviation.id or 0,
                    disposition="relabelled", password=PASSWORDS["qa1"])
    # a failure after release suspends it; a verified correction and a re-release lift it
    failed = record_qc_result(session, actor=run.user("tech2"), din=released.din,
                              test="endotoxin", value="500", reason="re-test",
                              **qc_sample_of(session, released.din, "endotoxin"))
    corrected = record_qc_result(session, actor=run.user("super1"), din=released.din,
                                 test="endotoxin", value="0.1", reason="pipetting error",
                                 **qc_sample_of(session, released.din, "endotoxin"))
    assert failed.passed is False and corrected.needs_verification
    verify_qc_correction(session, actor=run.user("qa1"), result_id=corrected.id or 0,
                         password=PASSWORDS["qa1"])
    acknowledge_all(run, released)
    assert re_release_product(session, actor=run.user("qa1"), din=released.din,
                              password=PASSWORDS["qa1"]).state == "released"
    [alert] = session.exec(select(Alert).where(Alert.product_id == released.id)).all()
    acknowledge_alert(session, actor=run.user("qa1"), alert_id=alert[0].id,
                      password=PASSWORDS["qa1"])
    for _ in range(5):
        with pytest.raises(DomainError):
            authenticate(session, username="tech2", password="wrong")
    unlock_user(session, actor=user_by_name(session, "admin"), username="tech2",
                reason="forgot password")

    report = verify_all(session)

    assert report.ok, report.lines
    assert report.problems == []


def test_identified_fhir_exports_reconcile_clean(lab, session):
    # given identified exports: two products' bundles (API, CLI) and a patient read
    doc, qa = user_by_name(session, "doc1"), user_by_name(session, "qa1")
    product_bundle(session, lab["administered"].din, reader=doc, identified=True,
                   interface=Interface.API)
    product_bundle(session, lab["released"].din, reader=qa, identified=True,
                   interface=Interface.CLI)
    patient = session.get(Patient, lab["received"].patient_id)
    assert patient is not None
    patient_resource(session, patient.subject_id, reader=qa, identified=True,
                     interface=Interface.API)
    session.close()

    # when the trail is verified
    report = verify_all(session)

    # then three disclosures were recorded, and nothing is found
    assert session.execute(select(func.count()).where(
        AuditEvent.action == "patient_identity_disclosed")).scalar_one() == 3
    assert report.ok, report.lines
    assert report.problems == []


def test_a_disclosure_naming_another_patients_product_or_no_patient_is_detected(
        lab, session, engine):
    # given chained disclosure events written behind the system's back: one names a patient
    # with another patient's product, one a patient who does not exist
    product, other = lab["administered"], lab["released"]
    with Session(engine) as attacker:
        subject, other_subject = (attacker.get(Patient, p.patient_id).subject_id  # type: ignore[union-attr]
                                  for p in (product, other))
        append(attacker, [
            PendingEvent(AuditAction.PATIENT_IDENTITY_DISCLOSED, "patient", subject,
                         "identity", None, {"din": other.din, "interface": "api",
                                            "resource": "Bundle"}),
            PendingEvent(AuditAction.PATIENT_IDENTITY_DISCLOSED, "patient", "NOBODY-9",
                         "identity", None, {"din": None, "interface": "api",
                                            "resource": "Patient"})],
               user_id=None, username="doc1")
        attacker.commit()

    lines = broken(session)

    assert len(lines) == 2
    assert lines[0].startswith(f"BROKEN: patient {subject} disclosed by event ")
    assert lines[0].endswith(f": product: expected a product of patient {subject} (DIN "
                             f"{other.din}); found DIN {other.din} is of patient "
                             f"{other_subject}")
    assert lines[1].startswith("BROKEN: patient NOBODY-9: row: expected the row written by "
                               "event ")
    assert lines[1].endswith("(patient_identity_disclosed); found no such row: it was "
                             "deleted outside the system")


# --- the real command line -------------------------------------------------------------------

@pytest.mark.skipif(TEST_URL.startswith("postgresql"),
                    reason="the command reads a whole database; the PostgreSQL tests use schemas")
def test_the_lims_audit_verify_command_prints_each_verdict_and_exits_non_zero(
        lab, session, engine, tmp_path):
    product = lab["released"]
    signature = release_signature(engine, product)
    with engine.begin() as conn:
        conn.execute(update(SIGNATURES).where(SIGNATURES.c.id == signature["id"])
                     .values(meaning="Rejected"))
    expected = broken(session)
    session.close()
    engine.dispose()

    script = Path(sys.executable).parent / "lims"
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "from lims.cli import app; app()"]
    done = subprocess.run([*command, "audit", "verify"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False,
                          env={**os.environ, "LIMS_DATABASE_URL": str(engine.url)})

    assert done.returncode == 1, done.stdout + done.stderr + "|" + str(engine.url)
    printed = [line for line in done.stdout.splitlines() if line.startswith("BROKEN")]
    assert printed == expected and len(printed) == 2, done.stdout + done.stderr


# --- users -----------------------------------------------------------------------------------

def test_a_role_raised_or_a_lock_set_in_the_user_table_is_detected(session, engine):
    seeded(session)
    session.close()
    users: Table = User.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == "tech1").values(role="qa"))
        conn.execute(update(users).where(users.c.username == "tech2")
                     .values(locked_at=utcnow()))

    lines = broken(session)

    assert len(lines) == 2, lines
    assert lines[0].startswith("BROKEN: user tech1: role: expected technician (event ")
    assert lines[0].endswith("; found qa")
    assert lines[1].startswith("BROKEN: user tech2: account: expected not locked (never ")
    assert lines[1].endswith("; found locked")


def test_holds_a_rejection_a_discard_and_an_exceptional_release_reconcile_clean(session):
    run = seeded(session)
    qa, password = run.user("qa1"), PASSWORDS["qa1"]
    # held and resumed, then rejected and discarded
    first, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    hold_product(session, actor=qa, din=first.din, reason="label check")
    resume_product(session, actor=qa, din=first.din, reason="label fine")
    reject_product(session, actor=qa, din=first.din, password=password, reason="bag damaged")
    discard_product(session, actor=qa, din=first.din, reason="rejected", password=password)
    # a failed viability released exceptionally with the physician's signed approval
    second, _ = make_product(run, arm="BM-MNC", until="formulated")
    enter_qc(run, second, {**data.qc_results("BM-MNC"), "viability": "60"})
    complete_qc(session, actor=run.user("tech2"), din=second.din)
    for deviation in open_blocking(session, second):  # the viability disagrees with its twin
        close_deviation(session, actor=qa, deviation_id=deviation.id or 0, password=password,
                        disposition="investigated: the figure entered is the right one")
    acknowledge_all(run, second)
    released = exceptional_release(session, actor=qa, din=second.din, password=password,
                                   justification="no alternative for this patient",
                                   physician="doc1", physician_password=PASSWORDS["doc1"])
    assert released.state == "released"

    report = verify_all(session)

    assert report.ok, report.lines


def test_a_post_release_alert_deleted_or_acknowledged_in_its_table_is_detected(lab, session,
                                                                               engine):
    # given a released product whose culture turns positive: an alert is raised
    product = lab["released"]
    run_session = Session(engine)
    record_qc_result(run_session, actor=user_by_name(run_session, "tech2"), din=product.din,
                     test="sterility", value="growth",
                     **qc_sample_of(run_session, product.din, "sterility"))
    run_session.close()
    alerts: Table = Alert.__table__  # type: ignore[attr-defined]
    alert = row_of(engine, alerts, alerts.c.product_id == product.id)

    # when someone marks it acknowledged in the table
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == alert["id"])
                     .values(acknowledged_at=alert["raised_at"], acknowledged_by_id=1))

    assert broken(session) == [
        f"BROKEN: alert {alert['id']} ({alert['kind']}): acknowledged by (user id): expected "
        "None (no acknowledging signature); found 1"]
