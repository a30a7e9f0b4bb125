"""The story of the example batch records beyond their steps: decisions, corrections,
custody and the expiry checks (`labels.batch_record_example`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from labels.batch_record_example_steps import HARVEST_END, TECH, TECH_2, at
from labels.batch_record_model import CorrectionLine, CustodyLine, ExpiryCheck, StateChange

QA: Final = "Maryam QA Reviewer"
SUPERVISOR: Final = "Leila Supervisor"
PHYSICIAN: Final = "Dr. Ali Physician"
SURGEON: Final = "Dr. Nasrin Physician"


def _decisions(arm: str) -> tuple[StateChange, ...]:
    hold = (
        StateChange(at(200), "Put on hold", "MNC isolated", "on hold", SUPERVISOR,
                    "centrifuge CF-01 alarm during the spin; checking the run log", True),
        StateChange(at(225), "Resumed", "on hold", "MNC isolated", SUPERVISOR,
                    "run log shows a door-sensor fault only; speed and time as set", True),
    )
    release = StateChange(at(473), "Released", "awaiting release", "released", QA, "", True)
    if arm == "CD133":
        return (*hold, StateChange(at(465), "QC complete, to QA review", "formulated",
                                   "awaiting release", TECH_2, "", True), release)
    return (StateChange(at(465), "QC complete, to QA review", "formulated", "awaiting release",
                        TECH_2, "", True), release)


def _corrections(arm: str) -> tuple[CorrectionLine, ...]:
    if arm != "CD133":
        return ()
    return (CorrectionLine("RBC sedimentation", "WBC out", "63,100 cells/µL",
                           "36,100 cells/µL", "digits transposed from the analyser printout",
                           TECH, at(140)),)


def _custody(arm: str) -> tuple[CustodyLine, ...]:
    bag, mnc = "marrow collection bag D0001 1 00/00", "MNC container D0003 1 00/00"
    final = "final product D0006 1 00/00" if arm == "CD133" else "final product D0007 1 00/00"
    rows: list[tuple[str, str, datetime, datetime | None, str]] = [
        (bag, "Prepared and labelled for the harvest", at(-90), at(-45), TECH),
        (bag, "Collected at the bone-marrow harvest", at(-45), at(52),
         f"{SURGEON} (harvesting physician); witness {PHYSICIAN}"),
        (bag, "Received in the laboratory", at(52), at(95), TECH),
        (bag, "Processed at RBC sedimentation into the RBC-reduced bag; used up", at(95), None,
         f"{TECH}; witness {TECH_2}"),
        (mnc, "Filled from the RBC-reduced bag", at(170), at(330 if arm == "CD133" else 390),
         TECH),
        (final, "Filled at the final formulation", at(390), at(480), TECH),
    ]
    if arm == "CD133":
        rows += [(final, "Issued to the procedure room", at(480), at(520),
                  f"{TECH}; received by {PHYSICIAN}"),
                 (final, "Administered to the patient", at(520), None,
                  f"{PHYSICIAN}; witness {SURGEON}")]
    return tuple(CustodyLine(*row) for row in rows)


def _expiry(arm: str) -> tuple[ExpiryCheck, ...]:
    if arm != "CD133":
        return ()
    expires = HARVEST_END + timedelta(hours=12)
    return (ExpiryCheck("Issued", at(460), expires, True),
            ExpiryCheck("Infusion started", at(490), expires, True))


def story(arm: str) -> dict[str, Any]:
    """The BatchRecord fields of the example's story, by name."""
    return {"state_changes": _decisions(arm), "corrections": _corrections(arm),
            "custody": _custody(arm), "expiry_checks": _expiry(arm)}
