"""Real threads scheduling the first harvests of a facility's year at the same moment."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlmodel import Session, select

from lims.models import DinSequence, Product
from lims.services.common import user_by_name
from lims.services.harvests import schedule_harvest
from lims.services.verification import verify_all
from tests.factories import make_patient, seeded

HARVESTS = 8


def enrolled_patients_with_no_din_issued_yet(engine: Engine) -> list[str]:
    with Session(engine, expire_on_commit=False) as setup:
        run = seeded(setup)
        subjects = [make_patient(run, "BM-MNC").subject_id for _ in range(HARVESTS)]
        assert setup.exec(select(DinSequence)).all() == []
        setup.commit()
    return subjects


def test_eight_first_harvests_of_the_year_at_once_all_get_distinct_dins(engine):
    # given eight enrolled patients and no DIN issued yet this year
    subjects = enrolled_patients_with_no_din_issued_yet(engine)
    barrier = threading.Barrier(HARVESTS)
    dins: list[str] = []
    errors: list[BaseException] = []

    def schedule(subject_id: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            actor = user_by_name(session, "tech1")
            session.rollback()  # end the read transaction (SQLite: it holds the write lock)
            barrier.wait(timeout=30)
            try:
                dins.append(schedule_harvest(session, actor=actor, subject_id=subject_id).din)
            except BaseException as error:
                errors.append(error)

    # when eight technicians schedule a harvest at the same moment
    threads = [threading.Thread(target=schedule, args=(s,)) for s in subjects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then every one succeeded, with DINs numbered 1 to 8 and none reused
    assert errors == []
    assert len(set(dins)) == HARVESTS
    with Session(engine) as check:
        sequences = check.exec(select(DinSequence)).all()
        assert [s.last_sequence for s in sequences] == [HARVESTS]
        assert len(check.exec(select(Product)).all()) == HARVESTS
        assert sorted(int(din[7:13]) for din in dins) == list(range(1, HARVESTS + 1))
        report = verify_all(check)
        assert report.ok, report.lines
