"""A full, fictitious batch record of either arm, for tests, the benchmark and review.

`example_record("CD133")` is a released CliniMACS CD133+ product with a late
entry, a corrected result, a pending sterility culture and a minor deviation.
`example_record("BM-MNC")` is a BM-MNC product whose endotoxin result is out of
specification and which was released exceptionally with the physician's
approval. Users, lots and equipment are those of seed/demo.toml; FIN X9999 is
not a registered facility and the D product codes are placeholders.

Write both as PDF for review: `python -m labels.batch_record_example DIR`.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from labels.batch_record import render_batch_record
from labels.batch_record_example_steps import HARVEST_END, TECH, TECH_2, ZONE, at, steps
from labels.batch_record_example_story import story
from labels.batch_record_model import (
    BatchRecord,
    ChartSeries,
    ContainerLine,
    DeviationLine,
    LabelPrintLine,
    QcLine,
    ReviewException,
    Signature,
)
from workflows.registry import QC, entry
from workflows.step_limits import bound_text
from workflows.words import LABEL_KINDS

QA: Final = "Maryam QA Reviewer"
PHYSICIAN: Final = "Dr. Ali Physician"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _qc_line(test: str, value: object, passed: bool | None, method: str, minutes: float,
             **changes: Any) -> QcLine:
    """A result as the LIMS prints it: registry label, unit, format and specification."""
    found = entry(QC, test)
    result = found.format(value, "pdf") if isinstance(value, float) else str(value)
    spec = _SPECIFICATIONS[test]
    line = QcLine(found.label, result, found.unit, spec, passed, method, "Leila Supervisor",
                  at(minutes), late=False, corrected_from=None, correction_reason=None,
                  source=f"specification {SPECIFICATION}")
    return replace(line, **changes)


SPECIFICATION: Final = "CD133 v3"
_SPECIFICATIONS: Final = {
    "viability": bound_text(70.0, None, "%", "pdf"),
    "viable_dose": bound_text(1e6, 12e6, "cells", "pdf"),
    "cd133_purity": bound_text(70.0, None, "%", "pdf"),
    "gram_stain": "no organisms seen",
    "endotoxin": bound_text(None, 0.5, "EU/ml", "pdf"),
    "sterility": "no growth (may be pending)",
}


def _qc(arm: str) -> tuple[QcLine, ...]:
    if arm == "CD133":
        return (
            _qc_line("viability", 97.1, True, "7-AAD flow cytometry; instrument FC-01", 430,
                     corrected_from="91.7 %",
                     correction_reason="transcription error: digits swapped from the "
                                       "cytometer printout"),
            _qc_line("viable_dose", 4.5e6, True, "single-platform flow cytometry (ISHAGE)", 430),
            _qc_line("cd133_purity", 88.4, True, "flow cytometry (CD133/CD45/7-AAD)", 430),
            _qc_line("gram_stain", "no organisms seen", True, "Gram stain, microscopy", 1500,
                     late=True),
            _qc_line("endotoxin", "< 0.05 EU/ml", True, "Endosafe PTS", 450),
            _qc_line("sterility", "pending", None, "BacT/ALERT 3D", 440),
        )
    return (
        _qc_line("viability", 93.0, True, "7-AAD flow cytometry; instrument FC-01", 430),
        replace(_qc_line("viable_dose", 1.12e9, True, "single-platform flow cytometry (ISHAGE)",
                         430), specification=bound_text(1e8, 1e10, "cells", "pdf")),
        _qc_line("gram_stain", "no organisms seen", True, "Gram stain, microscopy", 440),
        _qc_line("endotoxin", 0.62, False, "Endosafe PTS", 450),
        _qc_line("sterility", "pending", None, "BacT/ALERT 3D", 440),
    )


def _deviations(arm: str) -> tuple[DeviationLine, ...]:
    receipt = DeviationLine(
        1, "Transport and receipt", "minor",
        "Marrow bag received at 26.0 °C; the transport limit is 15–25 °C. The validated box "
        "was left in a sunlit corridor for about 10 minutes before receipt.",
        "Bag moved to 20 °C at once; processing continued within the time limit.",
        "None expected: 1 °C above the limit for under 1 h; viability after Ficoll "
        "within specification.",
        "closed", "Use as is (QA, 2026-11-25)",
    )
    if arm == "CD133":
        return (receipt,)
    endotoxin = DeviationLine(
        2, "QC", "major",
        "Endotoxin 0.62 EU/mL against the release limit of ≤ 0.5 EU/mL (Endosafe PTS, "
        "cartridge lot 4211); spike recovery 96 %, so the result is valid.",
        "Product held; physician informed at 2026-11-25 15:50 IRST.",
        "At 20 ml and 78 kg the dose is 0.16 EU/kg, far below the 5 EU/kg K limit; "
        "risk judged acceptable against the patient's need.",
        "closed", "Exceptional release approved by Dr. Ali Physician",
    )
    return (receipt, endotoxin)


def _containers(arm: str) -> tuple[ContainerLine, ...]:
    bag, final = "Marrow collection bag", "Final syringe"
    cd133 = arm == "CD133"
    code = "D0006 1 00" if cd133 else "D0007 1 00"
    common = (
        ContainerLine(bag, "D0001 1 00", "", None, 212.0, "consumed"),
        ContainerLine("RBC-reduced marrow", "D0002 1 00", "", bag, 96.0, "consumed"),
        ContainerLine("MNC suspension", "D0003 1 00", "", "RBC-reduced marrow", 30.0,
                      "consumed"),
    )
    derived = (
        ContainerLine("CD133+ target fraction", "D0004 1 00", "", "MNC suspension", 5.0,
                      "consumed"),
        ContainerLine("CD133− negative fraction", "D0005 1 00", "", "MNC suspension", 148.0,
                      "discarded after QC"),
        ContainerLine(final, code, "", "CD133+ target fraction", 5.0, "released"),
    ) if cd133 else (
        ContainerLine(final, code, "", "MNC suspension", 20.0, "released (exceptional)"),
    )
    samples = (
        ContainerLine("QC sample: viability and dose", code, "07", final, 0.2, "tested"),
        ContainerLine("QC sample: sterility culture", code, "10", final, 1.0,
                      "culture incubating"),
        ContainerLine("QC sample: endotoxin", code, "07", final, 0.1, "tested"),
    )
    return (*common, *derived, *samples)


def _label_prints(containers: tuple[ContainerLine, ...]) -> tuple[LabelPrintLine, ...]:
    """Each container's label printed and scanned back; one reprint, with its reason."""
    lines = []
    for number, container in enumerate(containers):
        printed = HARVEST_END + timedelta(minutes=10 + 25 * number)
        kind = LABEL_KINDS["collection" if container.parent is None else
                           "qc_sample" if container.flags else "in_process"]
        lines.append(LabelPrintLine(container.label, kind, printed, TECH, "ZPL, zebra-1", None,
                                    printed + timedelta(minutes=1)))
        if number == 1:
            lines.append(LabelPrintLine(container.label, kind, printed + timedelta(minutes=3),
                                        TECH, "ZPL, zebra-1", "label smudged by a wet glove",
                                        printed + timedelta(minutes=4)))
    return tuple(lines)


def _signature(name: str, meaning: str, minutes: float, record: str,
               justification: str = "") -> Signature:
    return Signature(name, meaning, at(minutes), record, _hash(f"{record}@{minutes}"),
                     justification)


def _signatures(arm: str, din: str) -> tuple[Signature, ...]:
    """In the order they were executed."""
    product = f"Product {din}"
    enrich = (_signature(TECH_2, "Witnessed", 330,
                         "Step record 5 (CliniMACS CD133+ enrichment)"),) if arm == "CD133" else ()
    processing = (
        _signature(TECH_2, "Witnessed", 52, "Step record 2 (Transport and receipt)"),
        _signature(TECH_2, "Witnessed", 170, "Step record 4 (Ficoll-Paque MNC isolation)"),
        *enrich,
        _signature(TECH_2, "Witnessed", 390, "Step record 6 (Final formulation)"),
        _signature(QA, "Reviewed", 395, "Deviation 1"),
    )
    released = _signature(QA, "Released", 473, product)
    if arm == "CD133":
        return (*processing, released)
    return (
        *processing,
        _signature(QA, "Reviewed", 462, "Deviation 2"),
        _signature(PHYSICIAN, "Approved exceptional release", 468, product,
                   "endotoxin 0.62 EU/ml > 0.5 EU/ml; dose 0.16 EU/kg, far below 5 EU/kg; no "
                   "alternative product for this patient"),
        released,
    )


def _chart(arm: str) -> tuple[ChartSeries, ...]:
    if arm == "CD133":
        return (
            ChartSeries("Viability (7-AAD)", 97.1, "%", 80.0, None),
            ChartSeries("Viable CD133+ dose", 4.5e6, "cells", 1e6, 12e6),
            ChartSeries("CD133+ purity", 88.4, "%", 70.0, None),
            ChartSeries("Endotoxin", 0.05, "EU/ml", None, 0.5),
        )
    return (
        ChartSeries("Viability (7-AAD)", 93.0, "%", 80.0, None),
        ChartSeries("Viable MNC dose", 1.12e9, "cells", 1e8, None),
        ChartSeries("Endotoxin", 0.62, "EU/ml", None, 0.5),
    )


def _exceptions(arm: str) -> tuple[ReviewException, ...]:
    receipt = (
        ReviewException("overridden warning", "Transport and receipt: temperature on receipt "
                        "26.0 °C above the 25 °C limit, overridden by Sara Technician"),
        ReviewException("deviation", "Deviation 1 (minor, closed): receipt temperature"),
    )
    if arm == "CD133":
        return (
            *receipt,
            ReviewException("correction", "QC viability corrected from 91.7 % to 97.1 % by "
                            "Leila Supervisor: transcription error"),
            ReviewException("late entry", "QC Gram stain entered 2026-11-26 09:10 UTC, "
                            "18 h after the test"),
            ReviewException("pending", "Sterility culture pending at release"),
        )
    return (
        *receipt,
        ReviewException("out of spec", "Endotoxin 0.62 EU/mL; specification ≤ 0.5 EU/mL"),
        ReviewException("deviation", "Deviation 2 (major, closed): endotoxin out of "
                        "specification; exceptional release approved by Dr. Ali Physician"),
        ReviewException("pending", "Sterility culture pending at release"),
    )


def example_record(arm: str = "CD133") -> BatchRecord:
    """A complete fictitious record of the `arm` ("CD133" or "BM-MNC") arm."""
    if arm not in ("CD133", "BM-MNC"):
        raise ValueError(f"arm must be CD133 or BM-MNC, not {arm!r}")
    cd133 = arm == "CD133"
    din, check = ("X9999 26 000017", "H") if cd133 else ("X9999 26 000018", "F")
    disposition = f"ADMINISTERED — Released by {QA} 2026-11-25 16:03 UTC" if cd133 else (
        f"EXCEPTIONAL RELEASE approved by {PHYSICIAN} 2026-11-25 15:58 UTC; "
        f"released by {QA} 2026-11-25 16:03 UTC")
    return BatchRecord(
        din_text=din, check_character=check, arm=arm,
        product_description=("HPC, MARROW | CD133 enriched" if cd133
                             else "HPC, MARROW | mononuclear cells (Ficoll)"),
        subject_id="NCT00713934-017" if cd133 else "NCT00713934-018",
        patient_name="AHMADI, Fatemeh" if cd133 else "KARIMI, Hassan",
        patient_identifiers=(("MRN", "123456" if cd133 else "654321"),
                             ("Date of birth", "1961-03-04" if cd133 else "1958-07-19")),
        protocol="NCT00713934", specification_version="Release specification v3 (2026-09-01)",
        state="administered" if cd133 else "released", disposition=disposition,
        harvest_end=HARVEST_END, expires_at=HARVEST_END + timedelta(hours=12),
        time_zone=ZONE, facility="Cell Therapy Laboratory (demo), Example University Hospital",
        exceptions=_exceptions(arm), steps=steps(arm), qc=_qc(arm),
        deviations=_deviations(arm), containers=_containers(arm),
        signatures=_signatures(arm, din), chart=_chart(arm),
        coi_events=() if cd133 else (
            "2026-11-25 12:31 IRST (09:01 UTC) receipt: Reza Technician scanned "
            "X9999 26 000017 H (another patient's bag) for this product; refused, nothing "
            "changed",),
        generated_at=datetime(2026, 11, 25, 16, 30, tzinfo=UTC),
        label_prints=_label_prints(_containers(arm)),
        **story(arm),
    )


def main(argv: list[str]) -> int:
    """Write the example records of both arms as PDF files into the directory argv[1]."""
    out = Path(argv[1] if len(argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for arm in ("CD133", "BM-MNC"):
        pdf = render_batch_record(example_record(arm))
        (out / f"batch-record-{arm}.pdf").write_bytes(pdf)
        print(out / f"batch-record-{arm}.pdf")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
