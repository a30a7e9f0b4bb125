"""The guards of a processing step: reagents, equipment, expiry, arm, witness, role, data and
protocol limits. Every refusal has its own code and writes nothing about the product."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from lims.models import AuditEvent, Protocol, User
from lims.services.common import utcnow
from lims.services.release import release_product
from lims.services.steps import StepDataInvalid
from lims.services.verification import verify_all
from tests.factories import (
    PASSWORDS,
    audit_count,
    make_product,
    perform,
    scan_of,
    seeded,
    set_protocol_parameter,
    snapshot,
    step_time,
    step_values,
)
from workflows.errors import DomainError, ErrorCode

E = ErrorCode
HOURS_13 = timedelta(hours=13)  # a harvest this long ago has passed its 12 h expiry


def refused(run, product, step, **kwargs) -> DomainError:
    """Perform the step expecting a refusal; check nothing about the product was written."""
    session = run.session
    before = snapshot(session, product.din)
    with pytest.raises(DomainError) as caught:
        perform(run, product, step, **kwargs)
    assert snapshot(session, product.din) == before
    return caught.value


def with_values(product, step: str, **changes: object) -> dict[str, object]:
    values = step_values(step, product.arm, step_time(product, step))
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def set_limit_action(session: Session, limit: str, action: str) -> None:
    """What the lab manager does in the protocol configuration: one limit warns or refuses."""
    protocol = session.exec(select(Protocol)).one()
    protocol.parameters = {**protocol.parameters,
                           "limit_actions": {**protocol.parameters.get("limit_actions", {}),
                                             limit: action}}
    session.add(protocol)
    session.commit()


# --- reagents and equipment ------------------------------------------------------------------

def test_an_expired_reagent_lot_is_refused_naming_the_lot(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")

    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", medium_lot="FP2101X"))

    assert error.code == E.REAGENT_EXPIRED
    assert "FP2101X" in error.detail and "2025-01-31" in error.detail
    assert verify_all(session).ok


def test_an_unregistered_reagent_lot_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    error = refused(run, product, "sediment",
                    values=with_values(product, "sediment", agent_lot="HES-NOT-REGISTERED"))

    assert error.code == E.REAGENT_UNKNOWN
    assert "HES-NOT-REGISTERED" in error.detail


def test_out_of_calibration_equipment_is_refused_naming_it(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")

    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", centrifuge_id="CF-02"))

    assert error.code == E.EQUIPMENT_OUT_OF_CALIBRATION
    assert "CF-02" in error.detail


def test_unregistered_equipment_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")

    error = refused(run, product, "enrich",
                    values=with_values(product, "enrich", instrument_id="MACS-99"))

    assert error.code == E.EQUIPMENT_UNKNOWN


# --- expiry -----------------------------------------------------------------------------------

def test_a_step_performed_after_the_products_expiry_is_refused(session):
    # given a received product (expiry: harvest end + 12 h) harvested 13 h ago
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received", t0=utcnow() - HOURS_13)
    assert product.expires_at is not None and product.harvest_end is not None
    assert product.expires_at == product.harvest_end + timedelta(hours=12)

    # when sedimentation is recorded one minute after expiry
    error = refused(run, product, "sediment", at=product.expires_at + timedelta(minutes=1))

    # then it is refused as expired
    assert error.code == E.PRODUCT_EXPIRED


def test_a_step_at_the_exact_expiry_time_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received", t0=utcnow() - HOURS_13)

    error = refused(run, product, "sediment", at=product.expires_at)

    assert error.code == E.PRODUCT_EXPIRED


def test_an_expired_product_cannot_be_issued(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released", t0=utcnow() - HOURS_13)
    late = product.expires_at + timedelta(minutes=5)

    error = refused(run, product, "issue", at=late,
                    values=with_values(product, "issue", time_issued=late.isoformat()))

    assert error.code == E.PRODUCT_EXPIRED


def test_an_expired_product_cannot_be_administered_whatever_time_the_request_states(session):
    # given a product issued in date, which expires by the server's clock seconds later
    # (the protocol's expiry is set to 7 h and 8 s after a harvest that ended 7 h ago)
    run = seeded(session)
    set_protocol_parameter(session, "expiry_hours_after_harvest_end", 7 + 8 / 3600)
    product, _ = make_product(run, arm="CD133", until="issued",
                              t0=utcnow() - timedelta(hours=7))
    assert product.expires_at is not None
    while utcnow() <= product.expires_at:
        time.sleep(0.2)

    # when the infusion is recorded with times (and a stated now) before the expiry
    at = step_time(product, "administer")
    assert at < product.expires_at
    error = refused(run, product, "administer", at=at)

    # then the server's clock refuses it as expired
    assert error.code == E.PRODUCT_EXPIRED


def test_an_issue_time_past_expiry_is_refused_by_the_protocol_even_if_entered_early(session):
    # the time issued is what the form says, not when it was typed in: the product expires
    # in 3 minutes by the server's clock, the form says it left 1 minute after its expiry
    # (within the allowed clock skew, so not refused as in the future)
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=12) + timedelta(minutes=3))
    late = product.expires_at + timedelta(minutes=1)

    error = refused(run, product, "issue",
                    values=with_values(product, "issue", time_issued=late.isoformat()))

    assert error.code == E.LIMIT_REFUSED
    assert "expired" in error.detail.lower()


def test_an_expired_product_cannot_be_released(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="awaiting_release",
                              t0=utcnow() - HOURS_13)
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as caught:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"], now=product.expires_at + timedelta(hours=1))

    assert caught.value.code == E.PRODUCT_EXPIRED
    assert snapshot(session, product.din) == before


# --- arm ---------------------------------------------------------------------------------------

def test_a_bm_mnc_product_cannot_be_enriched(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="mnc_isolated")

    # the MNC container is scanned correctly and the enrichment data are plausible
    error = refused(run, product, "enrich",
                    values=step_values("enrich", "CD133", step_time(product, "enrich")))

    assert error.code == E.WRONG_ARM


def test_a_cd133_product_cannot_be_formulated_straight_from_the_mnc(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")

    error = refused(run, product, "formulate", scan=scan_of(session, product, "mnc"))

    assert error.code == E.WRONG_ARM
    assert "enriched" in error.detail


# --- witness ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("witness", "password", "code"),
    [
        pytest.param(None, None, E.WITNESS_REQUIRED, id="no witness"),
        pytest.param("tech2", None, E.WITNESS_REQUIRED, id="a witness without a password"),
        pytest.param("tech1", PASSWORDS["tech1"], E.WITNESS_SAME_USER,
                     id="the operator as their own witness"),
        pytest.param("tech2", "not-the-password", E.WITNESS_NOT_AUTHENTICATED,
                     id="the witness's wrong password"),
        pytest.param("nobody", "whatever-pass", E.WITNESS_NOT_AUTHENTICATED,
                     id="an unknown witness"),
        pytest.param("admin", "demo-admin-pass", E.FORBIDDEN, id="an administrator as witness"),
    ],
)
def test_a_witnessed_step_without_a_valid_second_person_is_refused(session, witness, password,
                                                                   code):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    error = refused(run, product, "sediment", witness=witness, witness_password=password)

    assert error.code == code
    assert audit_count(session, "step_recorded") == 2  # harvest and receive only


def test_a_wrong_witness_password_counts_as_a_failed_sign_in_of_the_witness(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    refused(run, product, "sediment", witness="tech2", witness_password="not-the-password")

    witness = session.exec(select(User).where(User.username == "tech2")).one()
    session.refresh(witness)
    assert witness.failed_logins == 1
    failures = session.exec(select(AuditEvent).where(AuditEvent.action == "signin_failed")).all()
    assert [e.entity_id for e in failures] == ["tech2"]
    assert verify_all(session).ok


def test_receipt_needs_no_witness(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="collected")

    result = perform(run, product, "receive", witness=None)

    assert result.product.state == "received"
    assert result.record.witness_id is None


# --- roles ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("operator", "state", "step"),
    [
        pytest.param("qa1", "received", "sediment", id="QA performing sedimentation"),
        pytest.param("doc1", "collected", "receive", id="a physician receiving the bag"),
        pytest.param("admin", "received", "sediment", id="an administrator processing"),
        pytest.param("tech1", "issued", "administer", id="a technician administering"),
    ],
)
def test_a_role_that_may_not_fire_the_step_is_forbidden(session, operator, state, step):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until=state)
    run.users.setdefault("admin", session.exec(select(User).where(User.username == "admin")).one())

    error = refused(run, product, step, operator=operator,
                    witness="doc2" if step == "administer" else "tech2")

    assert error.code == E.FORBIDDEN


def test_a_technician_cannot_release(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as caught:
        release_product(session, actor=run.user("tech1"), din=product.din,
                        password=PASSWORDS["tech1"])

    assert caught.value.code == E.FORBIDDEN
    assert snapshot(session, product.din) == before


# --- step data --------------------------------------------------------------------------------

def test_an_impossible_viability_is_refused_naming_the_field(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")

    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", viability_pct=130))

    assert error.code == E.STEP_DATA_INVALID
    assert isinstance(error, StepDataInvalid)
    assert set(error.errors) == {"viability_pct"}
    assert "at most 100" in error.errors["viability_pct"]


def test_a_missing_volume_is_refused_as_required(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="scheduled")

    error = refused(run, product, "harvest", at=step_time(product, "harvest"),
                    values=with_values(product, "harvest", volume_ml=None))

    assert isinstance(error, StepDataInvalid)
    assert error.errors == {"volume_ml": "is required"}


def test_a_harvest_ending_before_it_started_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="scheduled")
    values = with_values(product, "harvest")
    values["harvest_start"], values["harvest_end"] = values["harvest_end"], values["harvest_start"]

    error = refused(run, product, "harvest", values=values)

    assert isinstance(error, StepDataInvalid)
    assert set(error.errors) == {"harvest_end"}
    assert "before" in error.errors["harvest_end"]


def test_several_data_errors_are_reported_together(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    error = refused(run, product, "sediment",
                    values=with_values(product, "sediment", volume_in_ml="lots",
                                       wbc_in_per_ul="19,500", colour="red"))

    assert isinstance(error, StepDataInvalid)
    assert set(error.errors) == {"volume_in_ml", "wbc_in_per_ul", "colour"}


# --- protocol limits --------------------------------------------------------------------------

def test_a_limit_crossed_under_the_default_warn_is_recorded_and_the_step_proceeds(session):
    # given the default protocol, where a low MNC viability warns
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")

    # when the MNC viability is below the 80 % minimum
    result = perform(run, product, "isolate_mnc",
                     values=with_values(product, "isolate_mnc", viability_pct=75))

    # then the step is recorded with the warning, for QA to see
    assert result.product.state == "mnc_isolated"
    assert any("viability" in w.lower() for w in result.warnings)
    assert [f["code"] for f in result.record.findings] == ["ficoll_viability_min"]
    warnings = session.exec(select(AuditEvent).where(AuditEvent.action == "limit_warning")).all()
    assert [(w.entity_id, w.field) for w in warnings] == [(product.din, "viability_pct")]
    assert verify_all(session).ok


def test_a_limit_configured_to_refuse_refuses_the_step(session):
    # given a protocol where a low MNC viability refuses
    run = seeded(session)
    set_limit_action(session, "ficoll_viability_min", "refuse")
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")

    # when the MNC viability is below the 80 % minimum
    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", viability_pct=75))

    # then nothing is recorded and the message names the limit
    assert error.code == E.LIMIT_REFUSED
    assert "viability" in error.detail.lower() and "80" in error.detail
    assert audit_count(session, "limit_warning") == 0


def test_a_damaged_bag_is_refused_by_default(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="collected")

    error = refused(run, product, "receive",
                    values=with_values(product, "receive", bag_intact="no"))

    assert error.code == E.LIMIT_REFUSED
    assert "not intact" in error.detail


def test_a_final_volume_above_the_portal_vein_maximum_is_refused_by_default(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="mnc_isolated")

    error = refused(run, product, "formulate",
                    values=with_values(product, "formulate", final_volume_ml=12))

    assert error.code == E.LIMIT_REFUSED


def test_a_refusing_limit_can_be_relaxed_to_a_warning(session):
    run = seeded(session)
    set_limit_action(session, "final_volume_max", "warn")
    product, _ = make_product(run, arm="BM-MNC", until="mnc_isolated")

    result = perform(run, product, "formulate",
                     values=with_values(product, "formulate", final_volume_ml=12))

    assert result.product.state == "formulated"
    assert audit_count(session, "limit_warning") == 1


# --- the state machine ------------------------------------------------------------------------

def test_a_step_out_of_order_is_an_invalid_transition(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    error = refused(run, product, "formulate", scan=None)

    assert error.code == E.INVALID_TRANSITION


def test_a_stale_version_is_a_conflict(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="collected")
    stale = product.model_copy(update={"version": product.version - 1})

    with pytest.raises(DomainError) as caught:
        perform(run, stale, "receive")

    assert caught.value.code == E.CONFLICT
    assert snapshot(session, product.din).version == product.version
