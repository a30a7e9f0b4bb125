"""Label generations: each print carries its serial in the 2-D code; only the container's
current label (its latest print of the kind its stage calls for) is accepted at scan-back,
issue and administration, and only when read from the square code."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from lims.models import Container, PrintJob, Product
from lims.services.labels import print_label, verify_label
from lims.services.queries import container_scan_text
from lims.services.release import release_product
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    audit_count,
    coi_events,
    container_of,
    make_product,
    perform,
    seeded,
    snapshot,
    step_time,
)
from workflows.errors import DomainError, ErrorCode
from workflows.identity import container_code
from workflows.isbt128 import parse_scan


def fresh(session: Session, container: Container) -> Container:
    return session.exec(select(Container).where(Container.id == container.id)
                        .execution_options(populate_existing=True)).one()


def label_scan(session: Session, product: Product, container: Container, kind: str) -> str:
    """The square code of the container's latest print of `kind`, as the scanner reads it."""
    job = session.exec(select(PrintJob).where(PrintJob.container_id == container.id,
                                              PrintJob.label_kind == kind)
                       .order_by(col(PrintJob.id).desc())).first()
    assert job is not None and job.serial is not None
    return "]d2" + container_code(product.din, container.product_code, container.flags,
                                  job.serial)


def released_wearing_the_in_process_label(run, arm: str = "CD133") -> tuple[Product, Container]:
    product, _ = make_product(run, arm=arm, until="awaiting_release")
    acknowledge_all(run, product)
    product = release_product(run.session, actor=run.user("qa1"), din=product.din,
                              password=PASSWORDS["qa1"], now=step_time(product, "release"))
    return product, container_of(run.session, product, "final_product")


def with_final_label_on(run, product: Product, final: Container) -> None:
    assert final.id is not None
    print_label(run.session, actor=run.user("tech1"), din=product.din, container_id=final.id,
                format="zpl")
    verify_label(run.session, actor=run.user("tech2"), din=product.din,
                 scan=container_scan_text(product, fresh(run.session, final)))


def test_the_old_in_process_label_is_refused_at_scan_back_as_the_final_label(session):
    # given a released product whose final label was printed over the in-process one
    run = seeded(session)
    product, final = released_wearing_the_in_process_label(run)
    old = label_scan(session, product, final, "in_process")
    assert final.id is not None
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=final.id,
                format="pdf")
    mismatches = audit_count(session, "coi_mismatch")

    # when the old label is scanned back
    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech2"), din=product.din, scan=old)

    # then it is refused, recorded, and names the label to remove and the one to use
    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    detail = refused.value.detail
    assert "in-process label \"Print 1\"" in detail and "remove it" in detail
    assert "final label \"Print 2\"" in detail
    event = coi_events(session, product)[-1]
    assert (event.step, event.code) == ("label_verification", "coi_superseded_label")
    assert audit_count(session, "coi_mismatch") == mismatches + 1
    assert fresh(session, final).label_verified_at is None


def test_the_old_in_process_label_is_refused_at_issue_and_nothing_changes(session):
    run = seeded(session)
    product, final = released_wearing_the_in_process_label(run, "BM-MNC")
    old = label_scan(session, product, final, "in_process")
    with_final_label_on(run, product, final)
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "issue", scan=old)

    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    assert "remove it from the final product" in refused.value.detail
    assert coi_events(session, product)[-1].step == "issue"
    assert snapshot(session, product.din) == before
    assert perform(run, product, "issue",
                   scan=label_scan(session, product, final, "final")).product.state == "issued"


def test_the_final_label_is_refused_at_administration_once_the_issue_label_is_on(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="released")
    final = container_of(session, product, "final_product")
    final_label = label_scan(session, product, final, "final")
    product = perform(run, product, "issue").product  # prints and scans back the issue label
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "administer", scan=final_label)

    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    assert "issue label" in refused.value.detail
    assert coi_events(session, product)[-1].step == "administer"
    assert snapshot(session, product.din) == before


def test_a_reprint_supersedes_the_earlier_print_at_scan_back(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    first = label_scan(session, product, mnc, "in_process")
    assert mnc.id is not None
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=mnc.id,
                format="zpl", reason="label wet")

    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech2"), din=product.din, scan=first)

    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    reprint = label_scan(session, product, mnc, "in_process")
    assert parse_scan(reprint).print_serial == parse_scan(first).print_serial + 1  # type: ignore[operator]
    assert verify_label(session, actor=run.user("tech2"), din=product.din,
                        scan=reprint).label_verified_at is not None


def linear_read(product: Product, container: Container) -> str:
    """DIN and product code read as a concatenated Code 128 pair (no print serial)."""
    return f"]C0={product.din}{container.flags}=<{container.product_code}"


def typed_din(product: Product, container: Container) -> str:
    return product.din


@pytest.mark.parametrize("read", [linear_read, typed_din])
@pytest.mark.parametrize("step", ["issue", "administer"])
def test_only_the_square_code_is_accepted_at_issue_and_administration(session, step, read):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    if step == "administer":
        product = perform(run, product, "issue").product
    final = container_of(session, product, "final_product")
    before, events = snapshot(session, product.din), len(coi_events(session, product))

    with pytest.raises(DomainError) as refused:
        perform(run, product, step, scan=read(product, final))

    assert refused.value.code in (ErrorCode.COI_SQUARE_CODE_REQUIRED,
                                  ErrorCode.COI_CONTAINER_REQUIRED)
    assert "2-D" in refused.value.detail and "code" in refused.value.detail
    assert len(coi_events(session, product)) == events + 1
    assert snapshot(session, product.din) == before


def test_a_linear_read_is_refused_at_scan_back_with_a_message_to_scan_the_square_code(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    assert mnc.id is not None
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=mnc.id,
                format="zpl", reason="torn")

    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech2"), din=product.din,
                     scan=linear_read(product, mnc))

    assert refused.value.code == ErrorCode.COI_SQUARE_CODE_REQUIRED
    assert "scan the square (2-D) code" in refused.value.detail
    assert coi_events(session, product)[-1].code == "coi_square_code_required"
    assert fresh(session, mnc).label_verified_at is None


def test_every_print_gets_the_next_serial_and_the_container_wears_the_latest(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="released")
    final = container_of(session, product, "final_product")

    serials = [job.serial for job in session.exec(
        select(PrintJob).where(PrintJob.container_id == final.id).order_by(col(PrintJob.id)))]

    assert serials == [1, 2]  # the in-process label, then the final label
    assert final.label_serial == 2
    assert parse_scan(container_scan_text(product, final)).print_serial == 2


# --- the collection label: printed blank before the harvest, relabelled after it ------------

def harvested_wearing_the_blank_label(run) -> tuple[Product, Container, str]:
    """Harvest recorded through the service alone: the bag still wears its blank label."""
    from datetime import timedelta

    from lims import demo_data as data
    from lims.services.common import utcnow
    from lims.services.harvests import schedule_harvest
    from lims.services.steps import perform_step
    from tests.factories import make_patient, wristband_of

    session = run.session
    patient = make_patient(run, "CD133")
    product = schedule_harvest(session, actor=run.user("tech1"), subject_id=patient.subject_id)
    bag = container_of(session, product, "marrow_bag")
    assert bag.id is not None
    blank = print_label(session, actor=run.user("doc1"), din=product.din, container_id=bag.id,
                        format="zpl")
    assert blank.label.collection_at is None and blank.label.anticoagulant is None
    scan = container_scan_text(product, fresh(session, bag))
    verify_label(session, actor=run.user("doc1"), din=product.din, scan=scan)
    at = utcnow() - timedelta(hours=3)  # receipt, at its usual time after it, is past too
    product = perform_step(session, actor=run.user("doc1"), din=product.din, step="harvest",
                           scan=scan, values=data.harvest(at), witness="tech1",
                           witness_password=PASSWORDS["tech1"], wristband=wristband_of(patient),
                           expected_version=product.version, now=at).product
    return product, fresh(session, bag), scan


def test_after_the_harvest_the_bag_is_relabelled_with_its_facts_before_receipt(session):
    run = seeded(session)
    product, bag, blank = harvested_wearing_the_blank_label(run)
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "receive", scan=blank)
    assert refused.value.code == ErrorCode.LABEL_NOT_VERIFIED
    assert "print its harvest label" in refused.value.detail
    assert snapshot(session, product.din) == before

    assert bag.id is not None
    relabel = print_label(session, actor=run.user("doc1"), din=product.din,
                          container_id=bag.id, format="pdf")
    assert relabel.label.kind == "harvest" and relabel.print_job.serial == 2
    assert relabel.label.collection_at is not None
    assert relabel.label.volume_ml == 205 and relabel.label.anticoagulant == "heparin, 20 ml"
    assert relabel.label.product_description == "HPC, MARROW"
    with pytest.raises(DomainError) as superseded:  # the blank label is the old generation
        verify_label(session, actor=run.user("doc1"), din=product.din, scan=blank)
    assert superseded.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    assert "collection label \"Print 1\"" in superseded.value.detail
    verify_label(session, actor=run.user("doc1"), din=product.din,
                 scan=label_scan(session, product, bag, "harvest"))
    assert perform(run, product, "receive",
                   scan=label_scan(session, product, bag, "harvest")).product.state == "received"


def test_the_printed_final_and_issue_labels_decode_to_different_square_codes(session):
    from labels import render_pdf
    from tests.unit.label_support import decoded, rasterise

    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="issued")
    printed = run.printed[product.din]
    final, issue = (next(label for stem, label in printed.items() if stem.startswith(kind))
                    for kind in ("final-", "issue-"))

    reads = []
    for label in (final, issue):
        (page,) = rasterise(render_pdf(label), 300)
        reads.append(next(text for text in decoded(page) if text.startswith("=+")))

    assert reads[0] != reads[1]
    assert [parse_scan(r).print_serial for r in reads] == [2, 3]  # in-process was print 1
