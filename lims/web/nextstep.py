"""What a product waits for, in the lab's words, and where the UI sends whoever scans it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from workflows.product import TRIGGER_ROLES, Arm, ProductState, Trigger
from workflows.roles import Role
from workflows.steps import STEPS
from workflows.words import label_kind_words

S = ProductState

STEP_TITLES: dict[str, str] = {
    **{name: spec.label for name, spec in STEPS.items()},
    "qc": "QC results",
    "review": "QA review and release",
}

# What the product in each state waits for (shown as the worklist heading).
WAITING_FOR: dict[str, str] = {
    S.SCHEDULED: "Harvest (operating room)",
    S.COLLECTED: "Receipt in the lab",
    S.RECEIVED: "RBC sedimentation",
    S.RBC_REDUCED: "Ficoll-Paque MNC isolation",
    S.MNC_ISOLATED: "CD133 enrichment (CD133 arm) or formulation (BM-MNC arm)",
    S.ENRICHED: "Final formulation",
    S.FORMULATED: "QC results",
    S.AWAITING_RELEASE: "QA review and release",
    S.RELEASED: "Issue to the procedure room",
    S.ISSUED: "Bedside check and administration",
    S.ON_HOLD: "On hold: decision pending",
    S.RELEASE_SUSPENDED: "Release suspended: QA decision (do not issue or administer)",
    S.REJECTED: "Rejected: to be discarded",
    S.ADMINISTERED: "Administered",
    S.DISCARDED: "Discarded",
    S.EXPIRED: "Expired",
}

_STEP_FROM: dict[str, str] = {
    S.SCHEDULED: Trigger.HARVEST, S.COLLECTED: Trigger.RECEIVE, S.RECEIVED: Trigger.SEDIMENT,
    S.RBC_REDUCED: Trigger.ISOLATE_MNC, S.ENRICHED: Trigger.FORMULATE,
    S.RELEASED: Trigger.ISSUE, S.ISSUED: Trigger.ADMINISTER,
}

QC_ROLES = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA})
# Who prints labels and scans them back (lims.services.labels.LABELLERS).
LABEL_ROLES = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.PHYSICIAN})


class LabelToDo(Protocol):
    """A label still to print or to scan back (lims.services.labels.PendingLabel)."""

    @property
    def kind(self) -> str: ...

    @property
    def printed(self) -> bool: ...


@dataclass(frozen=True)
class NextAction:
    kind: str  # "label", "step", "qc", "review" or "none"
    step: str | None
    title: str
    roles: frozenset[str]

    def url(self, din: str) -> str:
        if self.kind == "label":  # no #labels: a fragment would cancel the page's autofocus
            return f"/products/{din}"
        if self.kind == "step":
            return f"/products/{din}/steps/{self.step}"
        if self.kind == "qc":
            return f"/products/{din}/qc"
        if self.kind == "review":
            return f"/qa/{din}"
        return f"/products/{din}"

    def allowed(self, role: str) -> bool:
        return role in self.roles


def next_action(state: str, arm: str, labels: Sequence[LabelToDo] = ()) -> NextAction:
    """The one thing the product waits for next: a label still to print, then a printed
    label to scan back (`labels`, see lims.services.labels.pending_labels), then the
    process step, QC or review its state waits for."""
    for label in labels:
        if not label.printed:
            return NextAction("label", None, f"Print the {label_kind_words(label.kind)}",
                              LABEL_ROLES)
    if labels:
        return NextAction("label", None,
                          f"Scan back the printed {label_kind_words(labels[0].kind)}",
                          LABEL_ROLES)
    step = _STEP_FROM.get(state)
    if state == S.MNC_ISOLATED:
        step = Trigger.ENRICH if arm == Arm.CD133 else Trigger.FORMULATE
    if step is not None:
        return NextAction("step", step, STEP_TITLES[step], TRIGGER_ROLES[Trigger(step)])
    if state == S.FORMULATED:
        return NextAction("qc", None, STEP_TITLES["qc"], QC_ROLES)
    if state == S.AWAITING_RELEASE:
        return NextAction("review", None, STEP_TITLES["review"], TRIGGER_ROLES[Trigger.RELEASE])
    if state == S.RELEASE_SUSPENDED:
        return NextAction("review", None, WAITING_FOR[state], TRIGGER_ROLES[Trigger.RE_RELEASE])
    return NextAction("none", None, WAITING_FOR.get(state, state), frozenset())
