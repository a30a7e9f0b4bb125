"""A label's print and scan-back times: never in the future, never before the container
existed or before the label's earlier print; and the demo prints its labels at the
(backdated) times of their steps, so no record shows a label printed after the infusion."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from labels import barcodes
from lims.demo import run_demo
from lims.models import Container, PrintJob, Product, StepRecord
from lims.services.common import utcnow
from lims.services.labels import print_label, verify_label
from lims.services.seed import load_seed, seed
from tests.factories import container_of, make_product, seeded
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def jobs(session: Session) -> int:
    session.commit()
    return session.exec(select(func.count()).select_from(PrintJob)).one()


def test_a_print_time_in_the_future_is_refused_and_nothing_is_recorded(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    bag = container_of(session, product, "marrow_bag")
    before = jobs(session)

    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=bag.id,
                    reason="torn", now=utcnow() + timedelta(hours=1))

    assert refused.value.code == E.TIME_IN_FUTURE
    assert jobs(session) == before


def test_a_label_cannot_be_printed_before_its_container_existed(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")
    bag = container_of(session, product, "rbc_reduced")
    before = jobs(session)

    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=bag.id,
                    reason="torn", now=bag.created_at - timedelta(minutes=1))

    assert refused.value.code == E.INVALID_INPUT
    assert "existed" in refused.value.detail
    assert jobs(session) == before


def test_a_reprint_cannot_be_dated_before_the_labels_earlier_print(session):
    # given a bag whose label was printed (in the factory, at the server's time)
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")
    bag = container_of(session, product, "rbc_reduced")
    first = session.exec(select(PrintJob).where(PrintJob.container_id == bag.id)).first()
    assert first is not None and first.printed_at > bag.created_at
    before = jobs(session)

    # when a reprint is dated between the bag's creation and that print
    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=bag.id,
                    reason="torn", now=first.printed_at - timedelta(seconds=1))

    # then it is refused: labels of a container are printed in order
    assert refused.value.code == E.INVALID_INPUT
    assert "previous print" in refused.value.detail
    assert jobs(session) == before


def test_a_label_cannot_be_scanned_back_before_it_was_printed(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")
    bag = container_of(session, product, "rbc_reduced")
    at = utcnow()
    printed = print_label(session, actor=run.user("tech1"), din=product.din,
                          container_id=bag.id, reason="torn", format="zpl", now=at)
    scan = next(b.data for b in barcodes(printed.label) if b.symbology == "datamatrix")

    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech1"), din=product.din, scan=scan,
                     now=at - timedelta(minutes=1))

    assert refused.value.code == E.INVALID_INPUT
    session.commit()
    assert session.exec(select(Container.label_verified_at).where(
        Container.id == bag.id)).one() is None
    verified = verify_label(session, actor=run.user("tech1"), din=product.din, scan=scan)
    assert verified.label_verified_at is not None and verified.label_verified_at >= at


def test_the_demo_prints_each_label_when_its_step_needed_it_and_writes_them_all(
        session, tmp_path: Path):
    # given the seeded lab
    seed(session, load_seed(demo=True), progress=lambda _m: None)

    # when the demo runs
    products = run_demo(session, tmp_path, say=lambda _m: None)

    # then every label was printed after its container existed and before the last step
    # that used the container: never after the infusion, never in the future
    for product in products:
        records = session.exec(select(StepRecord).where(
            StepRecord.product_id == product.id).order_by(col(StepRecord.performed_at))).all()
        for job, container in session.exec(select(PrintJob, Container).where(
                PrintJob.container_id == Container.id, Container.product_id == product.id)):
            assert container.created_at <= job.printed_at <= utcnow()
            assert container.label_verified_at is None or (
                container.label_verified_at >= job.printed_at)
            used = [r.performed_at for r in records if r.container_id == container.id]
            assert not used or job.printed_at < max(used), (product.din, container.kind)
        if product.state == "administered":
            infusion = records[-1]
            assert infusion.step == "administer"
            last_print = session.exec(select(func.max(PrintJob.printed_at)).where(
                PrintJob.product_id == product.id)).one()
            assert last_print < infusion.performed_at
    # and every product's labels are in the output, the mid-process one's too, with an index
    states = {p.din: p.state for p in products}
    assert sorted(states.values()) == ["administered", "administered", "received"]
    for din in states:
        folder = tmp_path / "labels" / din
        with (folder / "index.tsv").open(encoding="utf-8") as index:
            files = [row["file"] for row in csv.DictReader(index, delimiter="\t")]
        assert files and all((folder / name).is_file() for name in files)
        assert all((folder / name).with_suffix(".zpl").is_file() for name in files)
    records = sorted(p.name for p in (tmp_path / "batch-records").glob("*.pdf"))
    assert len(records) == 2
    # and the only other product is the harvest the demo's calendar booked for tomorrow
    others = session.exec(select(Product.state).where(
        col(Product.din).not_in(list(states)))).all()
    assert others == ["scheduled"]
