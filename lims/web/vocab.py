"""Names and units of computed figures, QC tests and audit actions, as the lab says them."""

from __future__ import annotations

from collections.abc import Mapping

from workflows.steps import STEPS

# Name and unit of each computed figure, from the step registry (workflows.steps): a figure
# that several steps compute (viability, hours since harvest) has one name everywhere.
COMPUTED: dict[str, tuple[str, str]] = {
    figure.name: (figure.label, figure.unit)
    for spec in STEPS.values() for figure in spec.figures
}


def computed_rows(computed: Mapping[str, float]) -> list[tuple[str, float, str]]:
    """(label, value, unit) for each computed figure, in the order the rules gave them."""
    rows = []
    for name, value in computed.items():
        label, unit = COMPUTED.get(name, (name.replace("_", " "), ""))
        rows.append((label, value, unit))
    return rows


ACTIONS: dict[str, str] = {
    "product_created": "Harvest scheduled",
    "state_changed": "State changed",
    "step_recorded": "Step recorded",
    "input_carried_forward": "Input taken from the earlier step",
    "limit_warning": "Warning against a limit",
    "container_created": "Container created",
    "witnessed": "Witnessed",
    "coi_mismatch": "WRONG SCAN refused",
    "label_printed": "Label printed",
    "label_reprinted": "Label REPRINTED",
    "label_verified": "Label scanned back",
    "label_verification_reset": "Label to be scanned back again",
    "qc_result": "QC result",
    "qc_corrected": "QC result corrected",
    "qc_verified": "QC correction verified (four eyes)",
    "signed": "Signed",
}
