"""The facts a label's statements and markings follow (read-only; `label_content` uses it).

What a label says about infectious disease, storage, investigational use, quarantine and
the arm is decided from the product's records and the protocol, by `labels.statements`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labels import DEFAULT_TEXTS, LabelKind
from labels.statements import (
    DonorTesting,
    blind,
    final_statements,
    investigational_statement,
    required_markers,
    storage_statement,
)
from lims.models import StepRecord
from workflows.errors import InvalidInput
from workflows.identity import ContainerKind
from workflows.registry import format_figure

if TYPE_CHECKING:
    from lims.services.label_content import LabelSubject

K = ContainerKind
TEXTS = DEFAULT_TEXTS
# Labels that leave the laboratory with the product: a blinded trial keeps the arm off them.
LEAVES_THE_LAB = frozenset({LabelKind.FINAL, LabelKind.ISSUE})


def donor_testing(subject: LabelSubject) -> DonorTesting:
    """The patient's recorded screening and marker results against the protocol's list."""
    results: Mapping[str, Any] = subject.patient.infectious_markers or {}
    return DonorTesting(results={str(k): str(v) for k, v in results.items()},
                        required=required_markers(subject.params.infectious_markers_required))


def statements(subject: LabelSubject) -> tuple[tuple[str, ...], bool]:
    """The final label's statements (1271.90(c), investigational use, identify recipient)
    and whether the biohazard legend is due."""
    params = subject.params
    try:
        caution = investigational_statement(params.label_jurisdiction,
                                            params.investigational_caution,
                                            params.trial_identifier or subject.trial)
    except ValueError as error:
        raise InvalidInput(f"the protocol's label settings are incomplete: {error}") from error
    return final_statements(donor_testing(subject), TEXTS, investigational=caution,
                            not_evaluated_enabled=params.not_evaluated_statement)


def storage(subject: LabelSubject) -> str:
    params = subject.params
    return storage_statement(params.storage_temperature_min_c, params.storage_temperature_max_c,
                             TEXTS)


def markings(subject: LabelSubject, kind: LabelKind, *, biohazard: bool) -> tuple[str, ...]:
    """QUARANTINE on the final container until QA release (its in-process label, or a final
    label the protocol lets print before release); NOT FOR INFUSION on the negative
    fraction; the BIOHAZARD legend on every container label of a reactive donor."""
    container_kind = ContainerKind(subject.container.kind)
    found: list[str] = []
    if container_kind is K.CD133_NEGATIVE:
        found.append(TEXTS.not_for_infusion)
    if container_kind is K.FINAL_PRODUCT and (kind is LabelKind.IN_PROCESS
                                              or not subject.released):
        found.append(TEXTS.quarantine)
    if biohazard and kind is not LabelKind.QC_SAMPLE:  # the tube label has no room: record
        found.append(TEXTS.biohazard)
    return tuple(found)


def blinded(subject: LabelSubject, kind: LabelKind) -> bool:
    return subject.params.blinded_labels and kind in LEAVES_THE_LAB


def description(subject: LabelSubject, kind: LabelKind, unblinded: str) -> str:
    return blind(TEXTS) if blinded(subject, kind) else unblinded


def anticoagulant(harvest: StepRecord | None) -> str | None:
    """"heparin, 20 ml" from the harvest record (the volume in the registry's one format);
    None (a blank) before the harvest."""
    if harvest is None:
        return None
    name = str(harvest.values.get("anticoagulant") or "").strip()
    volume = harvest.values.get("anticoagulant_volume_ml")
    if not name:
        return None
    if isinstance(volume, int | float) and not isinstance(volume, bool):
        return f"{name}, {format_figure('harvest', 'anticoagulant_volume_ml', volume)}"
    return name
