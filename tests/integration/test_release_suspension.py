"""Live release status: a QC result failing after release suspends the release at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from lims.models import Alert, AuditEvent, Product, QcResult, Signature, User
from lims.services.alerts import acknowledge_alert
from lims.services.common import utcnow
from lims.services.dispositions import hold_product, resume_product
from lims.services.passwords import change_password
from lims.services.qc import record_qc_result
from lims.services.qc_verification import verify_qc_correction
from lims.services.release import exceptional_release, re_release_product, reject_product
from lims.services.users import create_user
from lims.services.verification import verify_all
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    make_product,
    perform,
    qc_sample_of,
    seeded,
    snapshot,
)
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def product_at(session, state, arm="CD133"):
    """A product taken through the real services until `state`; every step in the past."""
    run = seeded(session)
    product, _ = make_product(run, arm=arm, until=state, t0=utcnow() - timedelta(hours=8))
    return run, product


def enter(run, product, test, value, *, user="tech2", reason=None):
    return record_qc_result(run.session, actor=run.user(user), din=product.din, test=test,
                            value=value, reason=reason,
                            **qc_sample_of(run.session, product.din, test))


def reload(session, product):
    session.commit()
    return session.exec(select(Product).where(Product.id == product.id)
                        .execution_options(populate_existing=True)).one()


def alerts_of(session, product):
    session.commit()
    return session.exec(select(Alert).where(Alert.product_id == product.id)).all()


def refused_step(run, product, step):
    with pytest.raises(DomainError) as refused:
        perform(run, product, step)
    return refused.value


def second_qa(run):
    admin = run.session.exec(select(User).where(User.username == "admin")).one()
    qa2 = create_user(run.session, actor=admin, username="qa2",
                      full_name="Second QA Reviewer", role="qa", password="qa2-temporary-long")
    # who chose their own password at their first sign-in
    run.users["qa2"] = change_password(run.session, user_id=qa2.id,
                                       current_password="qa2-temporary-long",
                                       new_password="qa2-password-long")
    return run.users["qa2"]


# --- a failure after release stops the product ----------------------------------------------

def test_a_sterility_culture_growing_after_release_suspends_the_release_and_blocks_issue(
        session):
    # given a released product whose culture was pending at release
    run, product = product_at(session, "released")
    # when the culture grows
    enter(run, product, "sterility", "growth")
    # then, in the same change, the release is suspended with its audit event and an alert
    product = reload(session, product)
    assert (product.state, product.suspended_from) == ("release_suspended", "released")
    [moved] = [e for e in session.exec(select(AuditEvent).where(
        AuditEvent.action == "state_changed", AuditEvent.entity_id == product.din))
        if "release suspended" in (e.reason or "")]
    assert moved.user_id == run.user("tech2").id
    [alert] = alerts_of(session, product)
    assert alert.severity == "release" and alert.acknowledged_at is None
    # and issue is refused, saying why and what to do, with nothing written
    before = snapshot(session, product.din)
    refusal = refused_step(run, product, "issue")
    assert refusal.code == E.RELEASE_SUSPENDED
    assert "release suspended" in refusal.detail and "QA" in refusal.detail
    assert snapshot(session, product.din) == before
    assert verify_all(session).ok


def test_a_gram_stain_showing_organisms_after_issue_blocks_administration(session):
    # given an issued product
    run, product = product_at(session, "issued")
    # when the Gram stain is corrected to organisms seen
    enter(run, product, "gram_stain", "organisms seen", reason="slide re-read by supervisor")
    # then the release is suspended from issued and administration is refused
    product = reload(session, product)
    assert (product.state, product.suspended_from) == ("release_suspended", "issued")
    refusal = refused_step(run, product, "administer")
    assert refusal.code == E.RELEASE_SUSPENDED
    assert reload(session, product).state == "release_suspended"


def test_endotoxin_corrected_to_500_after_release_blocks_issue(session):
    run, product = product_at(session, "released")

    enter(run, product, "endotoxin", "500", reason="dilution factor omitted")

    product = reload(session, product)
    assert product.state == "release_suspended"
    assert refused_step(run, product, "issue").code == E.RELEASE_SUSPENDED


def test_a_passing_result_after_release_changes_nothing(session):
    run, product = product_at(session, "released")

    enter(run, product, "sterility", "no growth")

    assert reload(session, product).state == "released"
    assert alerts_of(session, product) == []


def test_a_failure_after_administration_raises_a_clinical_alert(session):
    # given a product already given to the patient
    run, product = product_at(session, "administered")
    # when its culture grows
    enter(run, product, "sterility", "growth")
    # then the product stays administered and a clinical alert names the physician
    assert reload(session, product).state == "administered"
    [alert] = alerts_of(session, product)
    assert alert.severity == "clinical"
    assert alert.notify_physician_id == run.user("doc1").id


def test_acknowledging_the_alert_does_not_lift_the_suspension(session):
    run, product = product_at(session, "released")
    enter(run, product, "sterility", "growth")
    [alert] = alerts_of(session, product)

    acknowledge_alert(session, actor=run.user("qa1"), alert_id=alert.id,
                      password=PASSWORDS["qa1"], note="physician informed")

    product = reload(session, product)
    assert product.state == "release_suspended"
    assert refused_step(run, product, "issue").code == E.RELEASE_SUSPENDED


def test_a_product_held_after_release_is_suspended_and_resuming_the_hold_never_leaves_it(
        session):
    # given a released product on hold
    run, product = product_at(session, "released")
    hold_product(session, actor=run.user("qa1"), din=product.din, reason="transport delayed")
    # when a result fails, the hold ends in the suspension
    enter(run, product, "endotoxin", "500", reason="plate re-read")
    product = reload(session, product)
    assert (product.state, product.held_from, product.suspended_from) == (
        "release_suspended", None, "released")
    # when it is held and resumed again, it returns to the suspension, not to released
    hold_product(session, actor=run.user("qa1"), din=product.din, reason="awaiting QA")
    resumed = resume_product(session, actor=run.user("qa1"), din=product.din,
                             reason="QA meeting held")
    assert resumed.state == "release_suspended"
    assert refused_step(run, reload(session, product), "issue").code == E.RELEASE_SUSPENDED


# --- only a signed QA decision lifts it ---------------------------------------------------------

def test_re_release_only_after_a_verified_passing_correction(session):
    # given a product whose endotoxin was corrected to 500 after release
    run, product = product_at(session, "released")
    enter(run, product, "endotoxin", "500", reason="dilution factor omitted")
    qa = run.user("qa1")

    def re_release():
        acknowledge_all(run, product)  # QA reads the review, each exception as it is now
        return re_release_product(session, actor=qa, din=product.din,
                                  password=PASSWORDS["qa1"], note="endotoxin re-tested")

    # when QA re-releases it while the result fails, it is refused and nothing is signed
    with pytest.raises(DomainError) as failing:
        re_release()
    assert failing.value.code == E.QC_FAILED and "endotoxin" in failing.value.detail
    # when the analyst corrects it back within specification, it awaits verification
    corrected = enter(run, product, "endotoxin", "0.12", reason="repeat test, valid spike")
    assert corrected.needs_verification and corrected.verified_at is None
    with pytest.raises(DomainError) as unverified:
        re_release()
    assert unverified.value.code == E.QC_FAILED
    assert "awaiting verification" in unverified.value.detail
    # the corrector cannot verify their own correction
    with pytest.raises(DomainError) as own:
        verify_qc_correction(session, actor=run.user("tech2"), result_id=corrected.id,
                             password=PASSWORDS["tech2"])
    assert own.value.code in (E.FORBIDDEN, E.NOT_INDEPENDENT)
    # a supervisor verifies it by signature, then QA re-releases it
    verified = verify_qc_correction(session, actor=run.user("super1"), result_id=corrected.id,
                                    password=PASSWORDS["super1"], note="raw data checked")
    assert verified.verified_by_id == run.user("super1").id
    product = re_release()
    assert (product.state, product.suspended_from) == ("released", None)
    meanings = {s.meaning for s in session.exec(select(Signature).where(
        Signature.product_id == product.id))}
    assert {"Verified", "Re-released"} <= meanings
    # and the product can be issued again
    assert perform(run, product, "issue").product.state == "issued"
    assert verify_all(session).ok


def test_the_corrector_cannot_verify_even_as_supervisor(session):
    run, product = product_at(session, "released")
    enter(run, product, "endotoxin", "500", user="super1", reason="dilution factor omitted")
    corrected = enter(run, product, "endotoxin", "0.1", user="super1", reason="repeat test")

    with pytest.raises(DomainError) as own:
        verify_qc_correction(session, actor=run.user("super1"), result_id=corrected.id,
                             password=PASSWORDS["super1"])

    assert own.value.code == E.NOT_INDEPENDENT
    assert "Supervisor" in own.value.detail or "super1" in own.value.detail
    session.commit()
    assert session.get(QcResult, corrected.id).verified_at is None


def test_a_suspended_product_may_be_released_exceptionally_back_to_where_it_was(session):
    run, product = product_at(session, "issued")
    enter(run, product, "sterility", "growth")
    acknowledge_all(run, product)

    product = exceptional_release(session, actor=run.user("qa1"), din=product.din,
                                  password=PASSWORDS["qa1"],
                                  justification="organism sensitive; prophylaxis given",
                                  physician="doc2", physician_password=PASSWORDS["doc2"])

    assert (product.state, product.suspended_from) == ("issued", None)


def test_a_suspended_product_may_be_rejected(session):
    run, product = product_at(session, "released")
    enter(run, product, "sterility", "growth")

    rejected = reject_product(session, actor=run.user("qa1"), din=product.din,
                              password=PASSWORDS["qa1"], reason="culture positive")

    assert rejected.state == "rejected"


def test_the_qa_reviewer_who_corrected_the_result_cannot_re_release(session):
    # given a second QA reviewer who corrected the failing result
    run, product = product_at(session, "released")
    qa2 = second_qa(run)
    enter(run, product, "endotoxin", "500", reason="dilution factor omitted")
    corrected = enter(run, product, "endotoxin", "0.1", user="qa2", reason="repeat test")
    verify_qc_correction(session, actor=run.user("qa1"), result_id=corrected.id,
                         password=PASSWORDS["qa1"])
    # when they re-release it
    with pytest.raises(DomainError) as refused:
        re_release_product(session, actor=qa2, din=product.din, password="qa2-password-long")
    # then it is refused, naming who and why; an independent reviewer may
    assert refused.value.code == E.NOT_INDEPENDENT
    assert "Second QA Reviewer corrected" in refused.value.detail  # the printed name
    assert "qa2" not in refused.value.detail
    acknowledge_all(run, product)
    assert re_release_product(session, actor=run.user("qa1"), din=product.din,
                              password=PASSWORDS["qa1"]).state == "released"


def test_an_optional_test_failing_after_release_also_blocks_re_release(session):
    # given a released product whose (optional) mycoplasma test comes back positive
    run, product = product_at(session, "released")
    enter(run, product, "mycoplasma", "present")
    assert reload(session, product).state == "release_suspended"
    # when QA re-releases it, it is refused while the result stands
    with pytest.raises(DomainError) as refused:
        re_release_product(session, actor=run.user("qa1"), din=product.din,
                           password=PASSWORDS["qa1"])
    assert refused.value.code == E.QC_FAILED and "mycoplasma" in refused.value.detail
