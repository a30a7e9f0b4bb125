"""Real threads against the same database: one winner per product, an intact chain."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import Session

from lims import demo_data as data
from lims.models import Product
from lims.services.common import user_by_name, utcnow
from lims.services.dispositions import hold_product, resume_product
from lims.services.harvests import schedule_harvest
from lims.services.queries import container_scan_text, containers
from lims.services.steps import perform_step
from lims.services.verification import verify_all
from tests.factories import make_patient, seeded, wristband_of
from workflows.errors import DomainError, ErrorCode


def collected_product(session: Session) -> Product:
    run = seeded(session)
    patient = make_patient(run, "CD133")
    t0 = utcnow() - timedelta(hours=1)
    product = schedule_harvest(session, actor=run.user("tech1"), subject_id=patient.subject_id,
                               now=t0 - timedelta(minutes=30))
    run.label_all(product, at=t0 - timedelta(minutes=30))
    return run.step(product, "harvest", "marrow_bag", data.harvest(t0), t0, witness="doc1",
                    wristband=wristband_of(patient))


def test_two_technicians_receiving_the_same_bag_at_once_one_wins_one_gets_a_conflict(engine):
    # given a collected product both technicians have open at version v
    with Session(engine, expire_on_commit=False) as setup:
        product = collected_product(setup)
        din, version = product.din, product.version
        bag = next(c for c in containers(setup, din) if c.kind == "marrow_bag")
        scan = container_scan_text(product, bag)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def receive(username: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            actor = user_by_name(session, username)
            session.rollback()  # end the read transaction (SQLite: it holds the write lock)
            barrier.wait(timeout=30)
            try:
                result = perform_step(session, actor=actor, din=din, step="receive", scan=scan,
                                      values=data.receive(utcnow() - timedelta(minutes=40)),
                                      expected_version=version)
                outcomes[username] = result.product.state
            except DomainError as error:
                outcomes[username] = error.code

    # when both submit at the same moment
    threads = [threading.Thread(target=receive, args=(u,)) for u in ("tech1", "tech2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then exactly one received it and the other was told it changed under them
    assert sorted(map(str, outcomes.values())) == sorted(["received", ErrorCode.CONFLICT])
    with Session(engine) as check:
        assert check.get(Product, product.id).version == version + 1
        assert verify_all(check).ok


def test_many_concurrent_writers_leave_an_audit_chain_that_verifies(engine):
    # given several products
    with Session(engine, expire_on_commit=False) as setup:
        run = seeded(setup)
        dins = []
        for _ in range(4):
            patient = make_patient(run, "BM-MNC")
            dins.append(schedule_harvest(setup, actor=run.user("tech1"),
                                         subject_id=patient.subject_id).din)
    errors: list[BaseException] = []

    def churn(din: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            qa = user_by_name(session, "qa1")
            try:
                for i in range(8):
                    hold_product(session, actor=qa, din=din, reason=f"check {i}")
                    resume_product(session, actor=qa, din=din, reason=f"cleared {i}")
            except BaseException as error:
                errors.append(error)

    # when every product is held and resumed by its own thread at the same time
    threads = [threading.Thread(target=churn, args=(d,)) for d in dins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then nothing failed and the chain is whole
    assert errors == []
    with Session(engine) as check:
        report = verify_all(check)
        assert report.ok, report.lines
