"""The roles of the people who use the system: one enumeration for services, API and UI.

The value is what `user.role` holds (never change one: accounts keep it). A member equals
its value as a string, so sets of members answer `user.role in ...` for stored roles.
Who may do what is stated where the rule lives (TRIGGER_ROLES in workflows/product.py,
each service's role set); the words a screen shows are in workflows/words.py ROLES.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    QA = "qa"
    PHYSICIAN = "physician"
    # Users and master data only: no product, QC, label or release action (segregation
    # of duties: whoever manages the accounts does not also make the records).
    ADMIN = "admin"


ALL_ROLES: frozenset[Role] = frozenset(Role)
# Everyone who works with the products: every role but the administrator.
LAB_ROLES: frozenset[Role] = ALL_ROLES - {Role.ADMIN}
