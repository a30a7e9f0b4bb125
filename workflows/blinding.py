"""Who may see a patient's arm on the follow-up and outcome views.

The protocol's `arm_blinded_roles` names the roles that must not see the arm (an assessor
who grades MELD or encephalopathy knowing the arm may grade differently). A blinded role
reads "arm hidden (blinded)" wherever an arm would stand, and never a comparison by arm:
the per-arm table is pooled into one column for it (n and the figures of every patient,
which do not reveal who had which arm).
"""

from __future__ import annotations

from workflows.protocol import ProtocolParameters, role_names

HIDDEN_ARM = "arm hidden (blinded)"
POOLED = "both arms pooled"


def sees_arm(role: str, params: ProtocolParameters) -> bool:
    """True when `role` may see which arm a patient is in."""
    return role not in role_names(params.arm_blinded_roles)


def shown_arm(arm: str, role: str, params: ProtocolParameters) -> str:
    """The arm as `role` may read it: the arm itself, or the words saying it is hidden."""
    return arm if sees_arm(role, params) else HIDDEN_ARM


def arm_groups(arms: dict[str, str], role: str,
               params: ProtocolParameters) -> dict[str, list[str]]:
    """Patients (subject ID -> arm) grouped for a comparison `role` may read: by arm, or
    everyone in one pooled group for a blinded role. Groups in arm order, members sorted."""
    if not sees_arm(role, params):
        return {POOLED: sorted(arms)} if arms else {}
    groups: dict[str, list[str]] = {}
    for subject in sorted(arms):
        groups.setdefault(arms[subject], []).append(subject)
    return dict(sorted(groups.items()))
