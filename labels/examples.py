"""Example labels of every kind, written as PNG for review: `python -m labels.examples DIR`.

The data is fictitious: FIN X9999 is not an ICCBBA-registered facility and the
'D' product codes are the placeholders of seed/demo.toml.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from labels.model import DEFAULT_TEXTS, IssueRecord, Label, LabelKind
from workflows.isbt128 import Din, ProductCode

DIN = Din("X9999", "26", "000123")
ZONE = "Asia/Tehran"
HARVEST_END = datetime(2026, 11, 25, 8, 10, tzinfo=UTC)
EXPIRY = datetime(2026, 11, 25, 20, 10, tzinfo=UTC)


def example_label(kind: LabelKind = LabelKind.FINAL, **overrides: object) -> Label:
    """A CD133+ final product of subject NCT00713934-017; `overrides` replace fields."""
    label = Label(
        kind=LabelKind.FINAL,
        din=DIN,
        product_code=ProductCode("D0006", "1", "00"),
        product_description="HPC, MARROW | CD133 enriched",
        time_zone=ZONE,
        patient_name="AHMADI, Fatemeh",
        patient_identifiers=(("MRN", "123456"), ("DOB", "1961-03-04")),
        subject_id="NCT00713934-017",
        processing_facility=(
            "Cell Therapy Laboratory (demo)",
            "Example University Hospital",
            "1 Example Street, Tehran",
        ),
        collection_facility="Operating Theatre 2, Example University Hospital",
        container_label="Final syringe",
        collection_at=HARVEST_END,
        expires_at=EXPIRY,
        volume_ml=10.0,
        dose_text="4.20 × 10⁶ viable CD133+ cells (0.0600 × 10⁶ cells/kg)",
        statements=(  # testing incomplete; the caution of Iran, where the trial runs
            DEFAULT_TEXTS.not_evaluated,
            "For clinical trial use only. Trial NCT00713934",
            DEFAULT_TEXTS.identify_recipient,
        ),
        placeholder_codes=True,
    )
    return replace(label, kind=kind, **overrides)  # type: ignore[arg-type]


def examples() -> dict[str, Label]:
    """One label of each kind, keyed by file stem."""
    return {
        "collection": example_label(  # printed blank before the harvest
            LabelKind.COLLECTION,
            product_code=ProductCode("D0001", "1", "00"),
            product_description="HPC, MARROW",
            container_label="Marrow bag",
            flags="12",
            collection_at=None,
            expires_at=None,
            volume_ml=None,
            print_serial=1,
        ),
        "harvest": example_label(  # the same bag relabelled once the harvest is recorded
            LabelKind.HARVEST,
            product_code=ProductCode("D0001", "1", "00"),
            product_description="HPC, MARROW",
            container_label="Marrow bag",
            flags="12",
            expires_at=None,
            volume_ml=205.0,
            anticoagulant="heparin, 20 mL",
            print_serial=2,
        ),
        "in_process": example_label(
            LabelKind.IN_PROCESS,
            product_code=ProductCode("D0004", "1", "00"),
            container_label="CD133+ target",
            print_serial=1,
        ),
        "in_process_quarantine": example_label(  # the final syringe before QA release
            LabelKind.IN_PROCESS,
            markings=(DEFAULT_TEXTS.quarantine,),
            print_serial=1,
        ),
        "in_process_negative": example_label(
            LabelKind.IN_PROCESS,
            product_code=ProductCode("D0005", "1", "00"),
            product_description="HPC, MARROW | CD133 depleted",
            container_label="CD133 negative",
            markings=(DEFAULT_TEXTS.not_for_infusion,),
            print_serial=1,
        ),
        "qc_sample": example_label(
            LabelKind.QC_SAMPLE, flags="10", container_label="QC sterility (aerobic)",
            print_serial=1,
        ),
        "final": example_label(LabelKind.FINAL, print_serial=2),
        "final_bm_mnc": example_label(
            LabelKind.FINAL,
            product_code=ProductCode("D0007", "1", "00"),
            product_description="MNC, MARROW | Ficoll density gradient",
            dose_text="130 × 10⁶ viable MNC (1.90 × 10⁶ cells/kg)",
            volume_ml=20.0,
            print_serial=2,
        ),
        "issue": example_label(
            LabelKind.ISSUE,
            reprint=True,
            print_serial=4,
            issue=IssueRecord(
                issued_at=datetime(2026, 11, 25, 10, 45, tzinfo=UTC),
                issued_by="Sara Technician",
                destination="Interventional radiology, room 3",
                transport="2–8 °C validated box",
            ),
        ),
    }


def main(argv: list[str] | None = None) -> int:
    import pypdfium2

    from labels.pdf import render_pdf

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/labels")
    out.mkdir(parents=True, exist_ok=True)
    for name, label in examples().items():
        pdf = pypdfium2.PdfDocument(render_pdf(label))
        image = pdf[0].render(scale=300 / 72).to_pil().convert("L")
        image.save(out / f"{name}.png", dpi=(300, 300), optimize=True)
        pdf.close()
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
