"""Materials and equipment by kind: what a lot or an instrument is, and what a field takes.

Every lot field of a step form declares the material it takes and every equipment
field its equipment type (workflows.steps). A reagent lot in the master data holds
its material (`reagentlot.material`); an instrument's type is read from its kind as
registered ("Centrifuge", "CliniMACS Plus"). A lot or instrument of another kind
is refused with a message that names both. A lot is received into quarantine and
released for use (or rejected) by QA (LotStatus); a step takes only a released lot.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Material(StrEnum):
    """The kinds of consumable the process uses, each received in lots with an expiry."""

    ANTICOAGULANT = "anticoagulant"  # heparin or ACD-A added to the marrow in the OR
    COLLECTION_SET = "collection_set"  # bone-marrow collection bag set
    FILTER = "filter"  # in-line marrow filters (e.g. 500/200 µm)
    SEDIMENTATION_AGENT = "sedimentation_agent"  # hydroxyethyl starch (HES)
    DENSITY_GRADIENT_MEDIUM = "density_gradient_medium"  # Ficoll-Paque
    CD133_REAGENT = "cd133_reagent"  # CliniMACS CD133 Reagent
    TUBING_SET = "tubing_set"  # CliniMACS tubing set (TS, LS)
    DILUENT = "diluent"  # final formulation medium (saline with autologous serum)


MATERIAL_NAMES: Mapping[Material, str] = MappingProxyType({
    Material.ANTICOAGULANT: "anticoagulant",
    Material.COLLECTION_SET: "bone-marrow collection set",
    Material.FILTER: "marrow filter",
    Material.SEDIMENTATION_AGENT: "sedimentation agent",
    Material.DENSITY_GRADIENT_MEDIUM: "density gradient medium",
    Material.CD133_REAGENT: "CliniMACS CD133 reagent",
    Material.TUBING_SET: "CliniMACS tubing set",
    Material.DILUENT: "diluent",
})


class LotStatus(StrEnum):
    """Where a lot stands between receipt and use; a step takes only a released lot."""

    QUARANTINE = "quarantine"  # received, awaiting QA's incoming inspection
    RELEASED = "released"  # released for use by QA after incoming inspection
    REJECTED = "rejected"  # refused by QA (inspection failed, damaged, recalled): never used


LOT_STATUS_NAMES: Mapping[LotStatus, str] = MappingProxyType({
    LotStatus.QUARANTINE: "in quarantine",
    LotStatus.RELEASED: "released for use",
    LotStatus.REJECTED: "rejected",
})

# The changes QA may make, as data: a quarantined lot is released or rejected; a released
# lot may still be rejected (a supplier's recall, a defect found in use); a rejected lot is
# final. Every change is a QA decision; a rejection needs its reason.
LOT_CHANGES: Mapping[LotStatus, frozenset[LotStatus]] = MappingProxyType({
    LotStatus.QUARANTINE: frozenset({LotStatus.RELEASED, LotStatus.REJECTED}),
    LotStatus.RELEASED: frozenset({LotStatus.REJECTED}),
    LotStatus.REJECTED: frozenset(),
})
REASON_REQUIRED_FOR: frozenset[LotStatus] = frozenset({LotStatus.REJECTED})


def lot_status_words(status: str) -> str:
    """A stored lot status in words; an unknown one as it is."""
    try:
        return LOT_STATUS_NAMES[LotStatus(status)]
    except ValueError:
        return status


def lot_change_problem(lot: str, current: str, wanted: LotStatus) -> str | None:
    """Why lot `lot`, now `current`, may not become `wanted`, or None."""
    try:
        now = LotStatus(current)
    except ValueError:
        return f"lot {lot} has an unknown status {current!r}"
    if wanted in LOT_CHANGES[now]:
        return None
    if now == wanted:
        return f"lot {lot} is already {LOT_STATUS_NAMES[now]}"
    return f"lot {lot} is {LOT_STATUS_NAMES[now]}: it cannot be {_verb(wanted)} now"


def not_released(lot: str, reagent: str, status: str) -> str | None:
    """Why lot `lot` may not be used in a step because of its status, or None."""
    if status == LotStatus.RELEASED:
        return None
    if status == LotStatus.QUARANTINE:
        return (f"{reagent} lot {lot} is in quarantine: QA has not released it for use; "
                f"use a released lot, or ask QA to inspect and release this one")
    if status == LotStatus.REJECTED:
        return f"{reagent} lot {lot} was rejected by QA: it may not be used; use a released lot"
    return f"{reagent} lot {lot} has an unknown status {status!r}: it may not be used"


def _verb(status: LotStatus) -> str:
    return {LotStatus.QUARANTINE: "put in quarantine", LotStatus.RELEASED: "released",
            LotStatus.REJECTED: "rejected"}[status]


class EquipmentType(StrEnum):
    """The kinds of instrument a step names, each kept in calibration."""

    CENTRIFUGE = "centrifuge"
    CLINIMACS = "clinimacs"  # CliniMACS Plus or Prodigy cell separator
    CELL_COUNTER = "cell_counter"  # haematology analyser or automated cell counter
    FLOW_CYTOMETER = "flow_cytometer"  # CD34/CD133 enumeration and 7-AAD viability
    ENDOTOXIN_READER = "endotoxin_reader"  # kinetic LAL plate or tube reader


EQUIPMENT_NAMES: Mapping[EquipmentType, str] = MappingProxyType({
    EquipmentType.CENTRIFUGE: "centrifuge",
    EquipmentType.CLINIMACS: "CliniMACS instrument",
    EquipmentType.CELL_COUNTER: "cell counter",
    EquipmentType.FLOW_CYTOMETER: "flow cytometer",
    EquipmentType.ENDOTOXIN_READER: "endotoxin reader",
})

# How a registered kind names its type: the words it starts with ("Flow cytometer FACSCanto
# II", "Cell counter Sysmex XN-350"). The type's own name always counts.
_KIND_WORDS: Mapping[EquipmentType, tuple[str, ...]] = MappingProxyType({
    EquipmentType.CELL_COUNTER: ("cell counter", "haematology analyser", "hematology analyzer"),
    EquipmentType.FLOW_CYTOMETER: ("flow cytometer",),
    EquipmentType.ENDOTOXIN_READER: ("endotoxin reader",),
})


def parse_material(text: str) -> Material:
    """The material named by `text` (its code, e.g. "diluent"); ValueError naming the choices."""
    try:
        return Material(text.strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in Material)
        raise ValueError(f"unknown material {text!r}; expected one of {choices}") from None


def equipment_type_of(kind: str) -> EquipmentType | None:
    """The type of an instrument registered as `kind`: its first words name it.

    "Centrifuge", "centrifuge Rotanta 460" -> centrifuge; "CliniMACS Plus" -> clinimacs;
    "Flow cytometer FACSCanto II" -> flow_cytometer. None when the kind names no type the
    process knows.
    """
    text = " ".join(kind.strip().casefold().split())
    if not text:
        return None
    for equipment_type in EquipmentType:
        names = (equipment_type.value.replace("_", " "), *_KIND_WORDS.get(equipment_type, ()))
        if any(text == name or text.startswith(name + " ") for name in names):
            return equipment_type
    return None


def wrong_material(lot: str, reagent: str, material: str, wanted: Material) -> str | None:
    """Why lot `lot` (of `material`) may not go in a field taking `wanted`, or None."""
    if material == wanted.value:
        return None
    if material not in {m.value for m in Material}:
        return (f"lot {lot} ({reagent}) has no material recorded in the master data; "
                f"a supervisor records it before the lot is used")
    name = MATERIAL_NAMES[Material(material)]
    return (f"{lot} is {reagent}, {_a(name)} {name}; this field takes the "
            f"{MATERIAL_NAMES[wanted]}")


def wrong_equipment(code: str, kind: str, wanted: EquipmentType) -> str | None:
    """Why instrument `code` (registered as `kind`) may not go in a field taking `wanted`."""
    found = equipment_type_of(kind)
    if found == wanted:
        return None
    takes = f"this field takes {_a(EQUIPMENT_NAMES[wanted])} {EQUIPMENT_NAMES[wanted]}"
    if found is None:
        return f"{code} ({kind}) is of no known type; {takes}"
    return f"{code} is {_a(EQUIPMENT_NAMES[found])} {EQUIPMENT_NAMES[found]} ({kind}); {takes}"


def _a(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"
