"""The lab's words for the codes the system keeps: states, steps, labels, roles, refusals.

The database and the API keep codes (machines read them); everything a person reads —
web pages, messages, labels, records, notifications — says these words instead. Pure:
the web (lims.web.vocab), the labels and the batch record all read it. Container kinds
have theirs beside them (workflows.identity KIND_LABELS, `container_words`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from workflows.errors import ErrorCode

# Keyed by the codes' values (ProductState, Trigger): workflows.product words its own
# refusals with these, so this module may not import it. A test checks every member.
STATES: Mapping[str, str] = MappingProxyType({
    "scheduled": "Scheduled",
    "collected": "Collected",
    "received": "Received in the lab",
    "rbc_reduced": "RBC reduced",
    "mnc_isolated": "MNC isolated",
    "enriched": "CD133+ enriched",
    "formulated": "Formulated",
    "awaiting_release": "Awaiting release",
    "released": "Released",
    "rejected": "Rejected",
    "issued": "Issued",
    "administered": "Administered",
    "on_hold": "On hold",
    "release_suspended": "Release suspended",
    "discarded": "Discarded",
    "expired": "Expired",
})

# What each trigger does, as a step or decision is named on screen and in records.
TRIGGERS: Mapping[str, str] = MappingProxyType({
    "harvest": "Bone-marrow harvest",
    "receive": "Transport and receipt",
    "sediment": "RBC sedimentation",
    "isolate_mnc": "MNC isolation",
    "enrich": "CD133+ enrichment",
    "formulate": "Final formulation",
    "complete_qc": "QC complete",
    "release": "Release",
    "exceptional_release": "Exceptional release",
    "reject": "Rejection",
    "suspend_release": "Release suspension",
    "re_release": "Re-release",
    "issue": "Issue to the procedure room",
    "administer": "Administration",
    "hold": "Hold",
    "resume": "Resume",
    "discard": "Discard",
    "expire": "Expiry",
})

# Where a scan was refused outside a step (CoiEvent.step; lims.services.identity SCAN_BOX).
SCAN_PLACES: Mapping[str, str] = MappingProxyType({
    "scan_box": "the scan box (opening a product by its label)",
    "storage": "storage (scanning a container into or out of a position)",
})

# Label kinds by their stored value (labels.model.LabelKind: workflows may not import labels).
LABEL_KINDS: Mapping[str, str] = MappingProxyType({
    "collection": "collection label",
    "harvest": "harvest label",  # the collection label again, the harvest's facts on it
    "in_process": "in-process label",
    "qc_sample": "QC sample label",
    "final": "final label",
    "issue": "issue label",
})

CONTAINER_STATUS: Mapping[str, str] = MappingProxyType({
    "in_use": "in use",
    "consumed": "used in the next step",
    "discarded": "discarded",
    "administered": "administered",
    # storage (workflows.storage.Disposition: the same values)
    "stored": "stored",
    "out_for_testing": "out of storage for testing",
    "returned": "returned from storage",
})

ROLES: Mapping[str, str] = MappingProxyType({
    "technician": "Technician",
    "supervisor": "Supervisor",
    "qa": "QA",
    "physician": "Physician",
    "admin": "Administrator",
})

E = ErrorCode
# A refusal's kind in one line; the refusal's own message says the particulars.
REFUSALS: Mapping[str, str] = MappingProxyType({
    E.COI_BAD_SCAN: "The scan could not be read as a label of this system",
    E.COI_UNKNOWN_DIN: "The scanned DIN is not a product of this lab",
    E.COI_WRONG_DIN: "The scanned container belongs to another product",
    E.COI_WRONG_PATIENT: "What was scanned belongs to another patient",
    E.COI_WRONG_CONTAINER: "The scanned container is not the one this step handles",
    E.COI_WRONG_STAGE: "The scanned container is from another stage of the process",
    E.COI_CONTAINER_REQUIRED: "This step needs the container's own label scanned",
    E.COI_SQUARE_CODE_REQUIRED: "Scan the square (2-D) code of the label, not the bar code or "
                                "typed text",
    E.COI_SUPERSEDED_LABEL: "The container carries a label that has been replaced",
    E.PRODUCT_EXPIRED: "The product has expired",
    E.WITNESS_REQUIRED: "A second person must witness this step",
    E.WITNESS_SAME_USER: "The witness must be another person than the operator",
    E.RELEASE_SUSPENDED: "Release suspended: a QC result failed after release",
    E.BOOKING_DOUBLE_BOOKED: "Double-booked: the instrument, room or person is taken then",
    E.BOOKING_RESOURCE_UNAVAILABLE: "The room or instrument is not available then",
    E.BOOKING_NO_QUALIFIED_STAFF: "No qualified staff on shift for the whole slot",
    E.BOOKING_AFTER_EXPIRY: "The product would have expired by then",
    E.BOOKING_BEFORE_READY: "The product cannot be processed and released by then",
    E.BOOKING_PROCESSING_WONT_FIT: "The lab cannot process this harvest before it expires",
})


def _words(table: Mapping[str, str], code: str | None) -> str:
    if code is None or code == "":
        return "—"
    return table.get(str(code), str(code).replace("_", " "))


def state_words(state: str | None) -> str:
    """"release_suspended" -> "Release suspended"."""
    return _words(STATES, state)


def action_words(trigger: str | None) -> str:
    """A step or decision in words; also where a scan was refused outside a step."""
    if trigger in SCAN_PLACES:
        return SCAN_PLACES[str(trigger)]
    return _words(TRIGGERS, trigger)


def label_kind_words(kind: str | None) -> str:
    """"in_process" -> "in-process label"."""
    return _words(LABEL_KINDS, kind)


def container_status_words(status: str | None) -> str:
    return _words(CONTAINER_STATUS, status)


def role_words(role: str | None) -> str:
    return _words(ROLES, role)


def refusal_words(code: str | None) -> str:
    """What kind of refusal a code is, in one line (the API keeps the code)."""
    if code in REFUSALS:
        return REFUSALS[str(code)]
    return _words({}, code).capitalize()


# Audit fields whose values are codes, and the words each code is shown in.
_VALUE_WORDS = {"state": state_words, "held_from": state_words, "suspended_from": state_words,
                "status": container_status_words, "label_kind": label_kind_words,
                "role": role_words}


def value_words(value: str | None, field: str) -> str:
    """A recorded value in words: a state, container status or label kind by its name."""
    if value is None or value == "":
        return ""
    words = _VALUE_WORDS.get(field)
    return words(value) if words is not None else value


def field_words(field: str | None) -> str:
    """"held_from" -> "Held from"."""
    return _words({}, field).capitalize() if field else ""
