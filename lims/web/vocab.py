"""The lab's words on the web pages: figures (from workflows.registry), states, labels,
containers, roles, refusals (workflows.words) and audit actions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from workflows.identity import container_words
from workflows.registry import figure_entry, find
from workflows.words import (
    TRIGGERS,
    action_words,
    container_status_words,
    field_words,
    label_kind_words,
    refusal_words,
    role_words,
    state_words,
    value_words,
)

__all__ = ["ACTIONS", "FILTERS", "computed_rows"]


def value_name(name: str, step: str) -> str:
    """What a refusal names: a value or figure by its registry label, a step by its name."""
    known = find(step, name)
    if known is not None:
        return known.label
    return action_words(name) if name in TRIGGERS else field_words(name)


def audit_value(value: str | None, field: str) -> str:
    """A value the audit trail recorded, in words: a state, a container kind, a label kind;
    a recorded set of facts ({"meaning": "Witnessed", ...}) as "Meaning: Witnessed; ..."."""
    if value is None or value == "":
        return ""
    if field == "kind":
        return container_words(value)
    if value.startswith("{"):
        try:
            facts = json.loads(value)
        except ValueError:
            return value
        if isinstance(facts, dict):
            return "; ".join(f"{field_words(k)}: {audit_value(str(v), k)}"
                             for k, v in facts.items())
    if field == "signer" or field.endswith("_by"):
        # Recorded as "Full Name (username)"; people read the printed name.
        return _ACCOUNT.sub("", value)
    return value_words(value, field)


_ACCOUNT = re.compile(r" \([A-Za-z0-9_.@-]+\)$")


def audit_reason(reason: str | None) -> str:
    """The reason of a state change is the step or decision that made it."""
    if reason in TRIGGERS:
        return action_words(reason)
    return reason or ""


def computed_rows(computed: Mapping[str, float],
                  step: str | None = None) -> list[tuple[str, float, str]]:
    """(label, value, unit) for each computed figure, in the order the rules gave them; the
    label and unit come from the one registry (workflows.registry)."""
    rows = []
    for name, value in computed.items():
        known = find(step, name) if step else figure_entry(name)
        if known is None:
            known = figure_entry(name)
        label = known.label if known else name.replace("_", " ").capitalize()
        rows.append((label, value, known.unit if known else ""))
    return rows


# The lab's words for the codes the pages would otherwise show (workflows.words), as
# template filters: {{ product.state | state_words }}.
FILTERS = {"state_words": state_words, "action_words": action_words,
           "label_kind_words": label_kind_words, "container_words": container_words,
           "container_status_words": container_status_words, "role_words": role_words,
           "refusal_words": refusal_words, "value_words": value_words,
           "field_words": field_words, "value_name": value_name, "audit_value": audit_value,
           "audit_reason": audit_reason}

ACTIONS: dict[str, str] = {
    "product_created": "Harvest scheduled",
    "state_changed": "State changed",
    "step_recorded": "Step recorded",
    "step_corrected": "Step record corrected",
    "step_value_corrected": "Step value corrected",
    "input_carried_forward": "Input taken from the earlier step",
    "limit_warning": "Warning against a limit",
    "container_created": "Container created",
    "witnessed": "Witnessed",
    "coi_mismatch": "WRONG SCAN refused",
    "label_printed": "Label printed",
    "label_reprinted": "Label REPRINTED",
    "label_verified": "Label scanned back",
    "label_verification_reset": "Label to be scanned back again",
    "label_superseded": "Label SUPERSEDED by a correction",
    "qc_result": "QC result",
    "qc_corrected": "QC result corrected",
    "qc_verified": "QC correction verified (four eyes)",
    "qc_rejudged": "QC result judged again after a correction",
    "signed": "Signed",
}
