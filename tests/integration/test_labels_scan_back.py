"""Print-then-scan: a container is used only after its printed label was scanned back, and
a wrong label scanned back is refused and recorded as a chain-of-identity event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from labels import barcodes
from lims import demo_data as data
from lims.config import get_settings
from lims.demo import DemoRun
from lims.models import Container, Product
from lims.services.common import utcnow
from lims.services.harvests import schedule_harvest
from lims.services.labels import print_label, verify_label
from lims.services.queries import container_scan_text
from lims.services.release import release_product
from lims.services.steps import StepResult, perform_step
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    audit_count,
    coi_events,
    container_of,
    make_patient,
    make_product,
    perform,
    seeded,
    snapshot,
    step_time,
    step_values,
    wristband_of,
)
from workflows.errors import DomainError, ErrorCode
from workflows.identity import container_code
from workflows.isbt128 import encode_compound, encode_din, encode_expiry, parse_din


def bare_step(run: DemoRun, product: Product, step: str, scan_kind: str) -> StepResult:
    """A step through the service alone: its new containers get no label."""
    session = run.session
    at = step_time(product, step)
    return perform_step(session, actor=run.user("tech1"), din=product.din, step=step,
                        scan=container_scan_text(product, container_of(session, product,
                                                                       scan_kind)),
                        values=step_values(step, product.arm, at), witness="tech2",
                        witness_password=PASSWORDS["tech2"], expected_version=product.version,
                        now=at)


def fresh(session: Session, container: Container) -> Container:
    return session.exec(select(Container).where(Container.id == container.id)
                        .execution_options(populate_existing=True)).one()


def test_a_container_whose_label_was_never_printed_cannot_be_used_and_nothing_changes(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")
    product = bare_step(run, product, "sediment", "marrow_bag").product
    before, audited = snapshot(session, product.din), audit_count(session)

    with pytest.raises(DomainError) as refused:
        bare_step(run, product, "isolate_mnc", "rbc_reduced")

    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED
    assert "print and scan back the label of the RBC-reduced bag" in refused.value.detail
    assert snapshot(session, product.din) == before
    assert audit_count(session) == audited


def test_a_printed_label_that_was_not_scanned_back_still_blocks_the_step(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    product = bare_step(run, product, "sediment", "marrow_bag").product
    rbc = container_of(session, product, "rbc_reduced")
    assert rbc.id is not None
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=rbc.id,
                format="zpl")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        bare_step(run, product, "isolate_mnc", "rbc_reduced")

    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED
    assert snapshot(session, product.din) == before
    verify_label(session, actor=run.user("tech2"), din=product.din,
                 scan=container_scan_text(product, fresh(session, rbc)))
    assert bare_step(run, product, "isolate_mnc", "rbc_reduced").product.state == "mnc_isolated"


def test_the_harvest_needs_the_collection_label_printed_and_scanned_back(session):
    run = seeded(session)
    patient = make_patient(run, "CD133")
    product = schedule_harvest(session, actor=run.user("tech1"), subject_id=patient.subject_id)
    bag = container_of(session, product, "marrow_bag")
    assert bag.id is not None

    def harvest() -> StepResult:
        at = utcnow() - timedelta(minutes=5)
        return perform_step(session, actor=run.user("doc1"), din=product.din, step="harvest",
                            scan=container_scan_text(product, bag), values=data.harvest(at),
                            witness="tech1", witness_password=PASSWORDS["tech1"],
                            wristband=wristband_of(patient),
                            expected_version=product.version, now=at)

    with pytest.raises(DomainError) as refused:
        harvest()
    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED

    printed = print_label(session, actor=run.user("doc1"), din=product.din,
                          container_id=bag.id, format="pdf")
    matrix = next(b.data for b in barcodes(printed.label) if b.symbology == "datamatrix")
    verify_label(session, actor=run.user("doc1"), din=product.din, scan=matrix)

    assert harvest().product.state == "collected"


def test_a_reprint_must_be_scanned_back_before_the_container_is_used_again(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    assert mnc.id is not None
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=mnc.id,
                format="pdf", reason="label wet")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        bare_step(run, product, "enrich", "mnc")

    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED
    assert snapshot(session, product.din) == before


def test_the_gate_is_off_when_the_laboratory_does_not_require_scan_back(session, monkeypatch):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    product = bare_step(run, product, "sediment", "marrow_bag").product
    monkeypatch.setattr(get_settings(), "require_label_scan_back", False)

    assert bare_step(run, product, "isolate_mnc", "rbc_reduced").product.state == "mnc_isolated"


# --- wrong labels scanned back --------------------------------------------------------------

def printed_unverified(run: DemoRun) -> tuple[Product, Container]:
    session = run.session
    product, _ = make_product(run, arm="CD133", until="received")
    product = bare_step(run, product, "sediment", "marrow_bag").product
    rbc = container_of(session, product, "rbc_reduced")
    assert rbc.id is not None
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=rbc.id,
                format="zpl")
    return product, fresh(session, rbc)  # as it is now: wearing print 1


def another_patients_label(run: DemoRun, product: Product, rbc: Container) -> str:
    other, _ = make_product(run, arm="CD133", until="rbc_reduced")
    return container_scan_text(other, container_of(run.session, other, "rbc_reduced"))


def an_unknown_din(run: DemoRun, product: Product, rbc: Container) -> str:
    return container_code("X999926999999", rbc.product_code)


def a_container_code_the_product_lacks(run: DemoRun, product: Product, rbc: Container) -> str:
    return container_scan_text(product, rbc).replace(rbc.product_code, "D0009100")


def a_bad_check_character(run: DemoRun, product: Product, rbc: Container) -> str:
    return product.din + ("A" if parse_din(product.din).check != "A" else "B")


def the_din_alone(run: DemoRun, product: Product, rbc: Container) -> str:
    return encode_din(parse_din(product.din), "00")


def a_label_with_a_wrong_expiry(run: DemoRun, product: Product, rbc: Container) -> str:
    session = run.session
    row = session.exec(select(Product).where(Product.id == product.id)
                       .execution_options(populate_existing=True)).one()
    assert row.expires_at is not None
    wrong = (row.expires_at + timedelta(hours=1)).replace(tzinfo=None)
    return encode_compound([encode_din(parse_din(product.din), "00"), f"=<{rbc.product_code}",
                            encode_expiry(wrong)])


WRONG = {
    "another patient's label": (another_patients_label, ErrorCode.COI_WRONG_PATIENT),
    "an unknown DIN": (an_unknown_din, ErrorCode.COI_UNKNOWN_DIN),
    "a container code this product does not have": (a_container_code_the_product_lacks,
                                                     ErrorCode.COI_WRONG_CONTAINER),
    "a bad check character": (a_bad_check_character, ErrorCode.COI_BAD_SCAN),
    "the DIN without the container": (the_din_alone, ErrorCode.COI_CONTAINER_REQUIRED),
    "a label whose expiry is not the product's": (a_label_with_a_wrong_expiry,
                                                  ErrorCode.COI_BAD_SCAN),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_scanning_back_a_wrong_label_is_refused_recorded_and_verifies_nothing(session, case):
    run = seeded(session)
    product, rbc = printed_unverified(run)
    make_scan, code = WRONG[case]
    raw = make_scan(run, product, rbc)
    mismatches = audit_count(session, "coi_mismatch")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech1"), din=product.din, scan=raw)

    assert refused.value.code == code, refused.value.detail
    events = coi_events(session, product)
    assert events[-1].step == "label_verification" and events[-1].code == code.value
    assert events[-1].scanned == raw[:500]
    assert audit_count(session, "coi_mismatch") == mismatches + 1
    assert fresh(session, rbc).label_verified_at is None
    assert snapshot(session, product.din) == before


def test_scanning_back_a_container_whose_label_was_never_printed_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    product = bare_step(run, product, "sediment", "marrow_bag").product
    rbc = container_of(session, product, "rbc_reduced")

    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech1"), din=product.din,
                     scan=container_scan_text(product, rbc))

    assert refused.value.code == ErrorCode.COI_WRONG_CONTAINER
    assert "no label has been printed" in refused.value.detail
    assert coi_events(session, product)[-1].step == "label_verification"
    assert fresh(session, rbc).label_verified_at is None


def test_the_right_label_scanned_back_is_verified_and_audited(session):
    run = seeded(session)
    product, rbc = printed_unverified(run)
    verified = audit_count(session, "label_verified")

    checked = verify_label(session, actor=run.user("tech2"), din=product.din,
                           scan="]d2" + container_scan_text(product, rbc) + "\r\n")

    assert checked.id == rbc.id and checked.label_verified_at is not None
    assert fresh(session, rbc).label_verified_at is not None
    assert audit_count(session, "label_verified") == verified + 1


def released_without_its_final_label(run: DemoRun, arm: str) -> Product:
    """Released by QA, its final product still wearing the in-process label."""
    product, _ = make_product(run, arm=arm, until="awaiting_release")
    acknowledge_all(run, product)
    return release_product(run.session, actor=run.user("qa1"), din=product.din,
                           password=PASSWORDS["qa1"], now=step_time(product, "release"))


def test_issue_needs_the_final_label_printed_after_release_and_scanned_back(session):
    run = seeded(session)
    product = released_without_its_final_label(run, "CD133")
    final = container_of(session, product, "final_product")
    assert final.id is not None and final.label_verified_at is not None  # the in-process label
    before, audited = snapshot(session, product.din), audit_count(session)

    with pytest.raises(DomainError) as refused:
        bare_step(run, product, "issue", "final_product")

    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED
    assert "print its final label" in refused.value.detail
    assert snapshot(session, product.din) == before
    assert audit_count(session) == audited

    printed = print_label(session, actor=run.user("tech1"), din=product.din,
                          container_id=final.id, format="pdf")
    assert printed.label.kind == "final"
    with pytest.raises(DomainError) as unverified:  # printed, not yet scanned back
        bare_step(run, product, "issue", "final_product")
    assert unverified.value.code == ErrorCode.LABEL_NOT_VERIFIED
    verify_label(session, actor=run.user("tech2"), din=product.din,
                 scan=container_scan_text(product, fresh(session, final)))

    assert bare_step(run, product, "issue", "final_product").product.state == "issued"


def test_administration_needs_the_issue_label_printed_and_scanned_back(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    product = bare_step(run, product, "issue", "final_product").product
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "administer")

    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED
    assert "print its issue label" in refused.value.detail
    assert snapshot(session, product.din) == before
    run.label_all(product)  # the issue label, printed and scanned back
    assert perform(run, product, "administer").product.state == "administered"


def test_an_old_label_printed_again_after_release_does_not_open_the_gate(session):
    run = seeded(session)
    product = released_without_its_final_label(run, "BM-MNC")
    final = container_of(session, product, "final_product")
    assert final.id is not None
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=final.id,
                format="zpl", kind="in_process", reason="spare quarantine label")
    with pytest.raises(DomainError) as superseded:  # not the label a released product wears
        verify_label(session, actor=run.user("tech2"), din=product.din,
                     scan=container_scan_text(product, fresh(session, final)))
    assert superseded.value.code == ErrorCode.COI_SUPERSEDED_LABEL

    with pytest.raises(DomainError) as refused:
        bare_step(run, product, "issue", "final_product")
    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED
