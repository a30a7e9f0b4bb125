"""Every action the running system writes to the audit trail is a member of AuditAction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from lims.audit_actions import AuditAction
from lims.services.users import check_credentials
from tests.factories import make_product, seeded
from workflows.errors import DomainError


def test_every_action_written_by_a_whole_process_is_a_member_of_the_enumeration(session):
    # given a lab that processed a product to administration and saw a failed sign-in
    run = seeded(session)
    make_product(run, arm="CD133", until="administered")
    with pytest.raises(DomainError):
        check_credentials(session, username="qa1", password="wrong")

    # when the trail is read back
    written = set(session.execute(text("SELECT DISTINCT action FROM audit_event")).scalars())

    # then every action is a member, and the common ones were all there
    assert written - set(AuditAction) == set()
    assert {AuditAction.STATE_CHANGED, AuditAction.STEP_RECORDED, AuditAction.SIGNED,
            AuditAction.LABEL_PRINTED, AuditAction.QC_RESULT,
            AuditAction.SIGNIN_FAILED} <= written
