"""The seed is idempotent, and enrolment admits only eligible, new patients."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from lims.config import get_settings
from lims.models import (
    AuditEvent,
    Equipment,
    Patient,
    Protocol,
    ProtocolArm,
    ReagentLot,
    User,
)
from lims.services.common import utcnow
from lims.services.enrolment import enrol_patient
from lims.services.seed import SeedRefused, load_seed, seed
from lims.services.verification import verify_all
from tests.factories import PASSWORDS, seeded
from workflows.eligibility import complete_checklist
from workflows.errors import DomainError, ErrorCode

E = ErrorCode
TABLES = (Protocol, ProtocolArm, User, ReagentLot, Equipment, AuditEvent)


def counts(session) -> dict[str, int]:
    session.commit()
    return {t.__name__: session.exec(select(func.count()).select_from(t)).one() for t in TABLES}


@pytest.mark.parametrize("demo", [False, True], ids=["reference data", "with the demo"])
def test_seeding_twice_creates_nothing_the_second_time(session, demo):
    # given a seeded database
    data = load_seed(demo=demo)
    first = seed(session, data, progress=lambda _m: None)
    after_first = counts(session)

    # when the seed runs again
    messages: list[str] = []
    second = seed(session, data, progress=messages.append)

    # then it reports and creates nothing, not even an audit event
    assert first >= sum(after_first[t.__name__] for t in TABLES if t is not AuditEvent)
    assert (second, messages) == (0, [])
    assert counts(session) == after_first
    assert after_first["User"] == len(data.get("users", []))
    assert after_first["ReagentLot"] == len(data.get("reagents", []))
    assert after_first["Equipment"] == len(data.get("equipment", []))
    assert verify_all(session).ok


def test_the_reference_seed_creates_the_trial_and_no_account_lot_or_equipment(session):
    created = seed(session, load_seed(), progress=lambda _m: None)

    tally = counts(session)
    assert (tally["Protocol"], tally["ProtocolArm"]) == (1, 2)
    assert (tally["User"], tally["ReagentLot"], tally["Equipment"]) == (0, 0, 0)
    assert created == 1 + 2 + 2  # the protocol, its arms, a release specification for each


def test_the_demo_seed_adds_the_seven_demo_accounts_to_a_reference_seeded_database(session):
    seed(session, load_seed(), progress=lambda _m: None)

    created = seed(session, load_seed(demo=True), progress=lambda _m: None)

    names = set(session.exec(select(User.username)))
    assert names == {"tech1", "tech2", "super1", "qa1", "doc1", "doc2", "admin"}
    assert created == 7 + len(load_seed(demo=True)["reagents"]) + len(
        load_seed(demo=True)["equipment"])


@pytest.mark.parametrize("data", [
    pytest.param(lambda: load_seed(demo=True), id="the demo seed"),
    pytest.param(lambda: {**load_seed(), "users": load_seed(demo=True)["users"][:1]},
                 id="a seed file with an account"),
])
def test_in_production_demo_data_and_accounts_are_refused_before_anything_is_written(
        session, monkeypatch, data):
    monkeypatch.setenv("LIMS_ENVIRONMENT", "production")
    get_settings.cache_clear()

    with pytest.raises(SeedRefused, match="refused in production"):
        seed(session, data(), progress=lambda _m: None)

    assert set(counts(session).values()) == {0}


def test_a_seed_run_after_a_partial_seed_only_adds_what_is_missing(session):
    data = load_seed(demo=True)
    seed(session, {**data, "users": data["users"][:2], "reagents": []},
         progress=lambda _m: None)

    created = seed(session, data, progress=lambda _m: None)

    assert created == len(data["users"]) - 2 + len(data["reagents"])
    assert counts(session)["User"] == len(data["users"])


# --- enrolment ------------------------------------------------------------------------------

def enrol(session, **changes):
    doc = session.exec(select(User).where(User.username == "doc1")).one()
    fields = dict(
        actor=doc, protocol_code="NCT00713934", subject_id="RYN-900", mrn="7009000",
        date_of_birth=date(1960, 5, 17), name="Test Patient", sex="F", weight_kg=68.0,
        consent_date=utcnow().date() - timedelta(days=3), arm="CD133",
        eligibility=complete_checklist(),
        infectious_markers={"HIV": "negative", "HBV": "negative", "HCV": "negative"},
        checked_by="doc2", checked_by_password=PASSWORDS["doc2"])
    fields.update(changes)
    return enrol_patient(session, **fields)


def patients(session) -> int:
    session.commit()
    return session.exec(select(func.count()).select_from(Patient)).one()


def test_an_eligible_patient_is_enrolled_and_audited(session):
    seeded(session)

    patient = enrol(session)

    assert (patient.subject_id, patient.arm) == ("RYN-900", "CD133")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "patient_enrolled")).one()
    assert event.entity_id == "RYN-900"
    assert verify_all(session).ok


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"infectious_markers": {"HIV": "negative", "HBV": "negative",
                                             "HCV": "positive"}}, "HCV", id="HCV positive"),
        pytest.param({"infectious_markers": {"HIV": "negative", "HCV": "negative"}}, "HBV",
                     id="HBV not tested"),
        pytest.param({"eligibility": {**complete_checklist(), "sepsis": True}}, "Sepsis",
                     id="an exclusion present"),
        pytest.param({"eligibility": {**complete_checklist(), "written_consent": False}},
                     "Written consent", id="an inclusion not met"),
    ],
)
def test_an_ineligible_patient_is_refused(session, changes, named):
    seeded(session)

    with pytest.raises(DomainError) as refused:
        enrol(session, **changes)

    assert refused.value.code == E.PATIENT_NOT_ELIGIBLE
    assert named in refused.value.detail
    assert patients(session) == 0
    assert verify_all(session).ok


@pytest.mark.parametrize("duplicate", [{"mrn": "7009999"}, {"subject_id": "RYN-901"}],
                         ids=["same subject ID", "same MRN"])
def test_a_patient_cannot_be_enrolled_twice(session, duplicate):
    seeded(session)
    enrol(session)

    with pytest.raises(DomainError) as refused:
        enrol(session, **duplicate)

    assert refused.value.code == E.ALREADY_EXISTS
    assert patients(session) == 1


def test_only_a_physician_or_supervisor_may_enrol(session):
    seeded(session)
    tech = session.exec(select(User).where(User.username == "tech1")).one()

    with pytest.raises(DomainError) as refused:
        enrol(session, actor=tech)

    assert refused.value.code == E.FORBIDDEN
    assert patients(session) == 0


@pytest.mark.parametrize(
    "changes",
    [{"arm": "PLACEBO"}, {"weight_kg": 5.0}, {"date_of_birth": date(2015, 1, 1)},
     {"consent_date": utcnow().date() + timedelta(days=2)}, {"sex": "?"}],
    ids=["unknown arm", "impossible weight", "under 18", "consent in the future", "bad sex"],
)
def test_impossible_enrolment_data_are_refused(session, changes):
    seeded(session)

    with pytest.raises(DomainError) as refused:
        enrol(session, **changes)

    assert refused.value.code == E.INVALID_INPUT
    assert patients(session) == 0
