"""Issue 12: roles are one enumeration, and the administrator has no part in the products."""

from __future__ import annotations

from typing import get_args

from lims.api.schemas import UserIn
from lims.services.alerts import ACK_ROLES
from lims.services.corrections import CORRECTING_ROLES
from lims.services.deviations import RAISE_ROLES
from lims.services.enrolment import ELIGIBILITY_CHECKERS, ENROLLERS
from lims.services.harvests import SCHEDULERS
from lims.services.labels import LABELLERS
from lims.services.qc import QC_ROLES
from lims.services.qc_verification import VERIFY_ROLES
from lims.services.users import ROLES
from lims.services.witness import WITNESS_ROLES
from lims.web.deps import REVIEWERS, STAFF
from workflows.product import TRIGGER_ROLES
from workflows.roles import ALL_ROLES, LAB_ROLES, Role
from workflows.words import ROLES as ROLE_WORDS

PRODUCT_WORK = {"QC": QC_ROLES, "QC verification": VERIFY_ROLES, "labels": LABELLERS,
                "witnessing": WITNESS_ROLES, "deviations": RAISE_ROLES,
                "alerts": ACK_ROLES, "corrections": CORRECTING_ROLES, "harvests": SCHEDULERS,
                "enrolment": ENROLLERS, "eligibility": ELIGIBILITY_CHECKERS,
                "product pages": STAFF, "QC trends": REVIEWERS,
                **{f"trigger {t.value}": roles for t, roles in TRIGGER_ROLES.items()}}


def test_the_administrator_has_no_product_trigger_qc_label_or_product_page():
    assert [work for work, roles in PRODUCT_WORK.items() if Role.ADMIN in roles] == []


def test_every_role_set_names_only_roles_of_the_enumeration():
    assert [work for work, roles in PRODUCT_WORK.items() if not set(roles) <= ALL_ROLES] == []
    assert ROLES == ALL_ROLES
    assert Role.ADMIN not in LAB_ROLES and LAB_ROLES < ALL_ROLES
    assert len(LAB_ROLES) == len(ALL_ROLES) - 1


def test_the_api_the_words_and_the_stored_values_agree_on_the_roles():
    role_field = UserIn.model_fields["role"].annotation
    assert set(get_args(role_field)) == {role.value for role in Role}
    assert set(ROLE_WORDS) == {role.value for role in Role}
    assert "qa" in frozenset({Role.QA}) and Role("admin") is Role.ADMIN  # stored strings match
