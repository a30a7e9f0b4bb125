"""Four eyes on QC: the entrant or corrector of a result does not release on it, and a
correction of an out-of-specification result counts only once someone else verified it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from lims import demo_data as data
from lims.models import QcResult, Signature
from lims.services.common import utcnow
from lims.services.qc import complete_qc, qc_status, record_qc_result
from lims.services.qc_verification import verify_qc_correction
from lims.services.release import reject_product, release_product
from tests.factories import PASSWORDS, acknowledge_all, make_product, qc_sample_of, seeded, snapshot
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def formulated(session, arm="BM-MNC"):
    run = seeded(session)
    product, _ = make_product(run, arm=arm, until="formulated", t0=utcnow() - timedelta(hours=8))
    return run, product


def enter_all(run, product, user, **overrides):
    for test, value in {**data.qc_results(product.arm), **overrides}.items():
        record_qc_result(run.session, actor=run.user(user), din=product.din, test=test,
                         value=value, **qc_sample_of(run.session, product.din, test))
    return complete_qc(run.session, actor=run.user("tech2"), din=product.din)


def test_the_qa_reviewer_who_entered_a_qc_result_cannot_release_the_product(session):
    # given QC results entered by the QA reviewer themself
    run, product = formulated(session)
    product = enter_all(run, product, "qa1")
    before = snapshot(session, product.din)
    # when they release it
    with pytest.raises(DomainError) as refused:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"])
    # then it is refused, saying who and why, and nothing is signed
    assert refused.value.code == E.NOT_INDEPENDENT
    assert "Maryam QA Reviewer entered" in refused.value.detail  # the printed name
    assert "qa1" not in refused.value.detail
    assert snapshot(session, product.din) == before


def test_the_qa_reviewer_who_corrected_a_result_cannot_reject_the_product(session):
    run, product = formulated(session)
    product = enter_all(run, product, "tech2")
    record_qc_result(session, actor=run.user("qa1"), din=product.din, test="endotoxin",
                     value="0.2", reason="plate re-read",
                     **qc_sample_of(session, product.din, "endotoxin"))

    with pytest.raises(DomainError) as refused:
        reject_product(session, actor=run.user("qa1"), din=product.din,
                       password=PASSWORDS["qa1"], reason="doubtful")

    assert refused.value.code == E.NOT_INDEPENDENT and "corrected" in refused.value.detail


def test_a_corrected_out_of_specification_result_fails_until_a_second_person_verifies_it(
        session):
    # given an out-of-specification endotoxin corrected back within specification
    run, product = formulated(session)
    product = enter_all(run, product, "tech2", endotoxin="500")
    corrected = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                                 test="endotoxin", value="0.12",
                                 reason="transcription error",
                                 **qc_sample_of(session, product.din, "endotoxin"))
    assert corrected.passed is True and corrected.needs_verification
    # then the product is still failing for release
    assert qc_status(session, product)[1] == ["endotoxin"]
    with pytest.raises(DomainError) as refused:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"])
    assert refused.value.code == E.QC_FAILED and "awaiting verification" in refused.value.detail
    # when QA verifies it by signature, the product can be released
    verify_qc_correction(session, actor=run.user("qa1"), result_id=corrected.id,
                         password=PASSWORDS["qa1"], note="raw data checked")
    assert qc_status(session, product)[1] == []
    acknowledge_all(run, product)
    assert release_product(session, actor=run.user("qa1"), din=product.din,
                           password=PASSWORDS["qa1"]).state == "released"
    session.commit()
    signed = session.exec(select(Signature).where(Signature.meaning == "Verified")).one()
    assert (signed.record_type, signed.record_id) == ("qc_result", str(corrected.id))


def test_a_correction_of_a_passing_result_needs_no_verification(session):
    run, product = formulated(session)
    product = enter_all(run, product, "tech2")

    corrected = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                                 test="endotoxin", value="0.2", reason="plate re-read",
                                 **qc_sample_of(session, product.din, "endotoxin"))

    assert not corrected.needs_verification
    with pytest.raises(DomainError) as refused:
        verify_qc_correction(session, actor=run.user("qa1"), result_id=corrected.id,
                             password=PASSWORDS["qa1"])
    assert refused.value.code == E.CONFLICT


@pytest.mark.parametrize("user", ["tech1", "doc1"])
def test_only_qa_or_a_supervisor_verifies_a_correction(session, user):
    run, product = formulated(session)
    product = enter_all(run, product, "tech2", endotoxin="500")
    corrected = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                                 test="endotoxin", value="0.12", reason="transcription error",
                                 **qc_sample_of(session, product.din, "endotoxin"))

    with pytest.raises(DomainError) as refused:
        verify_qc_correction(session, actor=run.user(user), result_id=corrected.id,
                             password=PASSWORDS[user])

    assert refused.value.code == E.FORBIDDEN
    session.commit()
    assert session.get(QcResult, corrected.id).verified_at is None


def test_a_superseded_correction_cannot_be_verified(session):
    run, product = formulated(session)
    product = enter_all(run, product, "tech2", endotoxin="500")
    first = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                             test="endotoxin", value="0.12", reason="transcription error",
                             **qc_sample_of(session, product.din, "endotoxin"))
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="0.13", reason="second reading",
                     **qc_sample_of(session, product.din, "endotoxin"))

    with pytest.raises(DomainError) as refused:
        verify_qc_correction(session, actor=run.user("qa1"), result_id=first.id,
                             password=PASSWORDS["qa1"])

    assert refused.value.code == E.CONFLICT and "current result" in refused.value.detail


def test_correcting_an_unverified_correction_again_still_needs_verification(session):
    run, product = formulated(session)
    product = enter_all(run, product, "tech2", endotoxin="500")
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="0.12", reason="transcription error",
                     **qc_sample_of(session, product.din, "endotoxin"))

    again = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                             test="endotoxin", value="0.13", reason="second reading",
                             **qc_sample_of(session, product.din, "endotoxin"))

    assert again.needs_verification and qc_status(session, product)[1] == ["endotoxin"]
