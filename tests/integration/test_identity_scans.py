"""Chain of identity at the bench: every wrong scan at every container-handling step is
refused with its own code, changes nothing, and is recorded as a COI event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlmodel import Session, col, select

from lims.demo import DemoRun
from lims.models import AuditEvent, Patient, Product, Protocol
from lims.services.verification import verify_all
from tests.factories import (
    audit_count,
    coi_events,
    container_of,
    make_patient,
    make_product,
    perform,
    scan_of,
    schedule,
    seeded,
    snapshot,
    step_time,
)
from workflows.errors import DomainError, ErrorCode
from workflows.identity import container_code, input_kind
from workflows.isbt128 import (
    check_character,
    encode_din,
    encode_patient_id,
    make_din,
    parse_din,
    type3_flags,
)

E = ErrorCode


@dataclass(frozen=True)
class Bench:
    """A product waiting at `step`, with its patient and the runner."""

    run: DemoRun
    product: Product
    patient: Patient
    step: str

    @property
    def session(self) -> Session:
        return self.run.session


# Each container-handling step: the state its product waits in, and a container of the same
# product from another stage (None where no other stage exists yet).
STEPS = {
    "harvest": ("CD133", "scheduled", None),
    "receive": ("CD133", "collected", None),
    "sediment": ("BM-MNC", "received", None),
    "isolate_mnc": ("CD133", "rbc_reduced", "marrow_bag"),
    "enrich": ("CD133", "mnc_isolated", "rbc_reduced"),
    "formulate-CD133": ("CD133", "enriched", "cd133_negative"),
    "formulate-BM-MNC": ("BM-MNC", "mnc_isolated", "rbc_reduced"),
    "issue": ("BM-MNC", "released", "mnc"),
    "administer": ("CD133", "issued", "cd133_target"),
}


def bench(session: Session, step_id: str) -> Bench:
    arm, state, _ = STEPS[step_id]
    run = seeded(session)
    product, patient = make_product(run, arm=arm, until=state)
    return Bench(run, product, patient, step_id.split("-")[0])


def marrow_code(b: Bench) -> str:
    return container_of(b.session, b.product, "marrow_bag", None).product_code


# --- the wrong scans ------------------------------------------------------------------------

def another_patients_bag(b: Bench) -> str:
    other, _ = make_product(b.run, arm="BM-MNC", until="scheduled")
    return scan_of(b.session, other, "marrow_bag")


def another_harvest_of_the_same_patient(b: Bench) -> str:
    second = schedule(b.run, b.patient, step_time(b.product, "harvest"))
    return scan_of(b.session, second, "marrow_bag")


def unknown_din(b: Bench) -> str:
    din = make_din("X9999", int(b.product.din[5:7]), 999_999).text
    return container_code(din, marrow_code(b))


def bad_keyboard_check_character(b: Bench) -> str:
    right = check_character(b.product.din)
    return b.product.din + ("A" if right != "A" else "B")


def wrong_type3_flags(b: Bench) -> str:
    wrong = "60" if type3_flags(b.product.din) != "60" else "61"
    kind = container_of(b.session, b.product, _input_kind(b)).product_code
    return f"={b.product.din}{wrong}=<{kind}"


def din_only_label(b: Bench) -> str:
    return encode_din(parse_din(b.product.din))


def din_typed_with_its_check_character(b: Bench) -> str:
    return b.product.din + check_character(b.product.din)


def garbage_text(b: Bench) -> str:
    return "hello, this is not a label"


def product_code_without_a_din(b: Bench) -> str:
    return "=<" + marrow_code(b)


def a_code_that_is_no_container_of_this_product(b: Bench) -> str:
    # the final-product code of the other arm: a valid ISBT label, but nothing this product has
    protocol = b.session.get(Protocol, b.product.protocol_id)
    assert protocol is not None
    other_arm = "final_bm_mnc" if b.product.arm == "CD133" else "final_cd133"
    return container_code(b.product.din, protocol.product_codes[other_arm])


def a_container_from_another_stage(b: Bench) -> str:
    kind = STEPS[_step_id(b)][2]
    assert kind is not None
    return scan_of(b.session, b.product, kind)


def a_qc_sample_tube(b: Bench) -> str:
    return scan_of(b.session, b.product, "qc_sample")


def _input_kind(b: Bench) -> str:
    kind = input_kind(b.step, b.product.arm)
    assert kind is not None
    return kind.value


def _step_id(b: Bench) -> str:
    return b.step if b.step != "formulate" else f"formulate-{b.product.arm}"


WRONG_SCANS: dict[str, tuple[Callable[[Bench], str], ErrorCode]] = {
    "another patient's bag": (another_patients_bag, E.COI_WRONG_PATIENT),
    "another harvest of the same patient": (another_harvest_of_the_same_patient,
                                            E.COI_WRONG_DIN),
    "an unknown DIN": (unknown_din, E.COI_UNKNOWN_DIN),
    "a DIN typed with a wrong check character": (bad_keyboard_check_character, E.COI_BAD_SCAN),
    "a label with wrong Type 3 flags": (wrong_type3_flags, E.COI_BAD_SCAN),
    "a DIN-only label": (din_only_label, E.COI_CONTAINER_REQUIRED),
    "a DIN typed with its check character": (din_typed_with_its_check_character,
                                             E.COI_CONTAINER_REQUIRED),
    "garbage text": (garbage_text, E.COI_BAD_SCAN),
    "a product code without a DIN": (product_code_without_a_din, E.COI_BAD_SCAN),
    "a code that is no container of this product": (
        a_code_that_is_no_container_of_this_product, E.COI_WRONG_CONTAINER),
    "a container from another stage": (a_container_from_another_stage, E.COI_WRONG_STAGE),
    "a QC sample tube instead of the final product": (a_qc_sample_tube, E.COI_WRONG_CONTAINER),
}


def cases_at(step_id: str) -> list[str]:
    """The wrong scans that can happen at a step (no other stage exists before sediment)."""
    cases = list(WRONG_SCANS)
    if STEPS[step_id][2] is None:
        cases.remove("a container from another stage")
    if step_id not in ("issue", "administer"):
        cases.remove("a QC sample tube instead of the final product")
    return cases


def refuse_and_check(b: Bench, case: str, raw: str, code: ErrorCode) -> None:
    """Submit the step with `raw`; check the refusal, that nothing changed, and its record."""
    session = b.session
    before = snapshot(session, b.product.din)
    recorded = len(coi_events(session, b.product))
    mismatches = audit_count(session, "coi_mismatch")

    # when the technician scans it and submits the step
    with pytest.raises(DomainError) as refused:
        perform(b.run, b.product, b.step, scan=raw)

    # then the step is refused with the mismatch's own code
    assert refused.value.code == code, f"{case}: {refused.value.detail}"
    # and nothing about the product changed: state, version, step records, containers
    assert snapshot(session, b.product.din) == before, case
    # and the refusal is recorded once as a COI event and once in the audit trail
    events = coi_events(session, b.product)[recorded:]
    assert [(e.step, e.code, e.scanned) for e in events] == [(b.step, code.value, raw)], case
    operator = b.run.user("doc1" if b.step == "administer" else "tech1")
    assert events[0].user_id == operator.id, case
    assert audit_count(session, "coi_mismatch") == mismatches + 1, case
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "coi_mismatch")
                         .order_by(col(AuditEvent.seq).desc())).first()
    assert audit is not None
    assert (audit.entity_id, audit.new_value, audit.username) == (
        b.product.din, raw, operator.username), case
    assert audit.reason is not None and audit.reason.startswith(code.value), case


@pytest.mark.parametrize("step_id", list(STEPS))
def test_every_wrong_scan_is_refused_changes_nothing_and_is_recorded_once(session, step_id):
    # given a product waiting at the step
    b = bench(session, step_id)
    cases = cases_at(step_id)
    for case in cases:
        # and a wrong label in the technician's hand (each case checked in refuse_and_check)
        make_scan, code = WRONG_SCANS[case]
        refuse_and_check(b, case, make_scan(b), code)
    # then every refusal is on record and the audit chain and the records still verify
    assert len(coi_events(session, b.product)) == len(cases)
    report = verify_all(session)
    assert report.ok, report.lines


@pytest.mark.parametrize("step_id", list(STEPS))
def test_a_step_without_a_scan_is_refused_as_identity_not_confirmed(session, step_id):
    b = bench(session, step_id)
    before = snapshot(session, b.product.din)
    audited = audit_count(session)

    for scan in (None, "", "   \r\n"):
        with pytest.raises(DomainError) as refused:
            perform(b.run, b.product, b.step, scan=scan)
        assert refused.value.code == E.IDENTITY_NOT_CONFIRMED, repr(scan)

    assert snapshot(session, b.product.din) == before
    # nothing was scanned, so there is no mismatch to record, and nothing else is written
    assert coi_events(session, b.product) == []
    assert audit_count(session) == audited
    assert verify_all(session).ok


@pytest.mark.parametrize("step_id", list(STEPS))
def test_after_a_refused_scan_the_right_container_is_accepted(session, step_id):
    # given a step refused for another patient's bag
    b = bench(session, step_id)
    version = b.product.version
    with pytest.raises(DomainError):
        perform(b.run, b.product, b.step, scan=another_patients_bag(b))

    # when the right container is scanned
    result = perform(b.run, b.product, b.step)

    # then the step goes through exactly once
    assert result.product.version == version + 1
    assert result.record.step == b.step
    assert len(coi_events(session, b.product)) == 1
    assert verify_all(session).ok


def test_a_label_carrying_the_dins_type3_check_flags_is_the_same_container(session):
    b = bench(session, "sediment")
    code = container_of(session, b.product, "marrow_bag").product_code
    raw = f"={b.product.din}{type3_flags(b.product.din)}=<{code}"

    result = perform(b.run, b.product, "sediment", scan=raw)

    assert result.product.state == "rbc_reduced"


def test_a_scan_with_a_symbology_prefix_and_the_scanners_enter_is_accepted(session):
    b = bench(session, "receive")

    result = perform(b.run, b.product, "receive",
                     scan="]C0" + scan_of(session, b.product, "marrow_bag") + "\r\n")

    assert result.product.state == "received"


# --- the bedside check ---------------------------------------------------------------------

def _wristband_cases(b: Bench) -> dict[str, tuple[str, ErrorCode]]:
    other = make_patient(b.run, "BM-MNC")
    return {
        "another patient's wristband": (encode_patient_id(other.mrn), E.COI_WRONG_PATIENT),
        "no wristband": ("", E.COI_BAD_SCAN),
        "the product label instead of the wristband": (
            scan_of(b.session, b.product, "final_product"), E.COI_BAD_SCAN),
        "garbage": ("not a wristband", E.COI_BAD_SCAN),
    }


def test_administration_with_the_wrong_wristband_is_refused_and_recorded(session):
    # given an issued product at the bedside, the right product label in hand
    b = bench(session, "administer")
    cases = _wristband_cases(b)
    before = snapshot(session, b.product.din)

    for case, (wristband, code) in cases.items():
        # when the physician scans a wristband that is not this patient's
        with pytest.raises(DomainError) as refused:
            perform(b.run, b.product, "administer", wristband=wristband)
        # then it is refused with its code
        assert refused.value.code == code, case

    # and nothing is on record as injected, and every refusal is recorded
    assert snapshot(session, b.product.din) == before
    events = coi_events(session, b.product)
    assert [(e.step, e.code, e.scanned) for e in events] == [
        ("administer", code.value, wristband) for wristband, code in cases.values()]
    assert audit_count(session, "coi_mismatch") == len(cases)
    assert verify_all(session).ok
