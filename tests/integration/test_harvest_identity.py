"""Identity from the first minute: the harvest checks the patient's wristband against the
collection bag's label (two identifiers, as at the bedside) and records the harvesting
physician."""

from __future__ import annotations

import pytest
from sqlmodel import select

from lims.models import Deviation, StepRecord
from lims.services.steps import StepDataInvalid
from tests.factories import (
    coi_events,
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

E = ErrorCode


def harvest_values(product, **changes: object) -> dict[str, object]:
    values = step_values("harvest", product.arm, step_time(product, "harvest"))
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_a_harvest_with_another_patients_wristband_is_refused_and_recorded(session):
    # given a scheduled harvest and another enrolled patient
    run = seeded(session)
    product, _ = make_product(run, until="scheduled")
    other = make_patient(run, "BM-MNC")
    before = snapshot(session, product.din)

    # when the bag is scanned right but the wristband is the other patient's
    with pytest.raises(DomainError) as caught:
        perform(run, product, "harvest", wristband=wristband_of(other))

    # then it is refused as the wrong patient, nothing is written, the refusal is recorded
    assert caught.value.code == E.COI_WRONG_PATIENT
    assert snapshot(session, product.din) == before
    events = coi_events(session, product)
    assert [(e.step, e.code) for e in events] == [("harvest", "coi_wrong_patient")]
    assert events[0].scanned == wristband_of(other)


def test_a_harvest_without_the_wristband_scan_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, until="scheduled")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as caught:
        perform(run, product, "harvest", wristband=None)

    assert caught.value.code == E.COI_BAD_SCAN
    assert snapshot(session, product.din) == before


def test_a_harvest_with_the_patients_wristband_and_bag_records_the_harvesting_physician(
        session):
    # given a scheduled harvest, recorded by a technician naming the physician
    run = seeded(session)
    product, patient = make_product(run, until="scheduled")

    # when the wristband and the collection bag are scanned
    result = perform(run, product, "harvest", wristband=wristband_of(patient),
                     values=harvest_values(product, harvesting_physician="doc2"))

    # then the harvest is recorded with the physician who harvested
    assert result.product.state == "collected"
    assert result.record.values["harvesting_physician"] == "doc2"
    assert result.record.operator_id == run.user("tech1").id


def test_a_physician_recording_the_harvest_is_its_harvesting_physician(session):
    run = seeded(session)
    product, _ = make_product(run, until="scheduled")

    result = perform(run, product, "harvest", operator="doc2",
                     values=harvest_values(product, harvesting_physician=None))

    assert result.record.values["harvesting_physician"] == "doc2"


@pytest.mark.parametrize(("named", "words"), [
    (None, "is required"),
    ("tech2", "not a physician"),
    ("nobody", "no active user"),
])
def test_a_technicians_harvest_must_name_an_existing_physician(session, named, words):
    run = seeded(session)
    product, _ = make_product(run, until="scheduled")
    before = snapshot(session, product.din)

    with pytest.raises(StepDataInvalid) as caught:
        perform(run, product, "harvest", values=harvest_values(product,
                                                               harvesting_physician=named))

    assert words in caught.value.errors["harvesting_physician"]
    assert snapshot(session, product.din) == before


def test_a_wrong_wristband_at_harvest_opens_a_near_miss(session):
    run = seeded(session)
    product, _ = make_product(run, until="scheduled")
    other = make_patient(run, "CD133")

    with pytest.raises(DomainError):
        perform(run, product, "harvest", wristband=wristband_of(other))

    session.commit()
    deviations = session.exec(select(Deviation).where(
        Deviation.product_id == product.id)).all()
    assert [(d.kind, d.classification, d.step) for d in deviations] == [
        ("near_miss", "major", "harvest")]
    assert session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id)).first() is None
