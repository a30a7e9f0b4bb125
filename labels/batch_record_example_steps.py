"""The process steps of the example batch records (`labels.batch_record_example`).

Fictitious but realistic values for each step of both arms; users, lots and
equipment are those of seed/demo.toml.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from labels.batch_record_model import StepEntry

ZONE: Final = "Asia/Tehran"
HARVEST_END: Final = datetime(2026, 11, 25, 8, 10, tzinfo=UTC)
TECH: Final = "Sara Technician"
TECH_2: Final = "Reza Technician"


def at(minutes: float) -> datetime:
    """`minutes` after the end of the harvest."""
    return HARVEST_END + timedelta(minutes=minutes)


def _harvest() -> StepEntry:
    return StepEntry(
        "harvest", "Bone-marrow harvest", at(0), "Dr. Nasrin Physician", None,
        values=(
            ("Harvest start", "2026-11-25 10:55 IRST", ""),
            ("Harvest end", "2026-11-25 11:40 IRST", ""),
            ("Volume aspirated", "212", "ml"),
            ("Anticoagulant", "heparin", ""),
            ("Anticoagulant volume", "21", "ml"),
            ("Puncture sites", "14", ""),
            ("Operating room", "Operating Theatre 2, Example University Hospital", ""),
        ),
        computed=(("Harvest duration", "45", "min", ""),),
        findings=(),
        reagents=("Heparin sodium 1000 U/mL lot HEP2401 (exp 2030-12-31)",
                  "Bone marrow collection set with 500/200 µm filters lot BMC2408"),
        equipment=(),
    )


def _receive() -> StepEntry:
    return StepEntry(
        "receive", "Transport and receipt", at(52), TECH, TECH_2,
        values=(
            ("Time out of OR", "2026-11-25 11:48 IRST", ""),
            ("Time received", "2026-11-25 12:32 IRST", ""),
            ("Temperature on receipt", "26.0", "°C"),
            ("Bag intact", "yes", ""),
            ("Gross weight", "268", "g"),
            ("Tare weight", "41", "g"),
        ),
        computed=(
            ("Transport time", "44", "min", "≤ 120 min"),
            ("Time since harvest end", "0.9", "h", "≤ 6 h"),
            ("Net volume", "214", "ml", ""),
        ),
        findings=("Temperature on receipt 26.0 °C is above the 25 °C limit: warning "
                  "overridden by Sara Technician, deviation 1 opened",),
        reagents=(),
        equipment=("Calibrated probe thermometer TH-03",),
    )


def _sediment() -> StepEntry:
    return StepEntry(
        "sediment", "RBC sedimentation", at(95), TECH, None,
        values=(
            ("Volume in", "214", "ml"), ("WBC in", "18,400", "cells/µL"),
            ("RBC in", "3,950,000", "cells/µL"), ("Leukocyte-rich volume out", "96", "ml"),
            ("WBC out", "36,100", "cells/µL"), ("RBC out", "410,000", "cells/µL"),
            ("Sedimentation agent", "Hydroxyethyl starch 6 % (HES)", ""),
            ("Agent : marrow ratio", "1 : 5", ""), ("Sedimentation time", "40", "min"),
        ),
        computed=(
            ("TNC in", "3.94 × 10^9", "cells", ""),
            ("TNC out", "3.47 × 10^9", "cells", ""),
            ("TNC recovery", "88.0", "%", "≥ 70 %"),
            ("RBC depletion", "95.3", "%", "≥ 90 %"),
        ),
        findings=(),
        reagents=("Hydroxyethyl starch 6 % (HES) lot HES2403 (exp 2030-12-31)",),
        equipment=(),
    )


def _isolate(arm: str) -> StepEntry:
    viability = "96.8" if arm == "CD133" else "93.4"
    return StepEntry(
        "isolate_mnc", "Ficoll-Paque MNC isolation", at(170), TECH, TECH_2,
        values=(
            ("Gradient medium", "Ficoll-Paque PREMIUM 1.077", ""),
            ("Medium density", "1.077", "g/ml"), ("Medium grade", "GMP", ""),
            ("Dilution factor", "2", "×"), ("Centrifugation force", "400", "×g"),
            ("Centrifugation time", "30", "min"), ("Centrifuge temperature", "20", "°C"),
            ("Brake off", "yes", ""), ("Washes", "2", ""),
            ("MNC concentration", "41,200", "cells/µL"),
            ("MNC suspension volume", "30", "ml"), ("Viability", viability, "%"),
            ("CD34+", "1.9", "%"), ("CD133+", "1.4", "%"),
        ),
        computed=(
            ("MNC total", "1.24 × 10^9", "cells", ""),
            ("Viable MNC", "1.20 × 10^9", "cells", ""),
            ("CD133+ cells", "1.73 × 10^7", "cells", ""),
            ("Viability", viability, "%", "≥ 80 %"),
            ("MNC recovery", "35.6", "%", "≥ 30 %"),
        ),
        findings=(),
        reagents=("Ficoll-Paque PREMIUM 1.077 lot FP2404 (exp 2030-12-31)",),
        equipment=("Centrifuge CF-01 (serial CF-0001-DEMO, calibrated to 2030-12-31)",),
    )


def _enrich() -> StepEntry:
    return StepEntry(
        "enrich", "CliniMACS CD133+ enrichment", at(330), TECH, TECH_2,
        values=(
            ("TNC into labelling", "1.2 × 10^9", "cells"),
            ("CD133+ before selection", "1.4", "%"),
            ("Reagent volume used", "1.0", "ml"),
            ("Labelling incubation", "2026-11-25 14:55 → 15:25 IRST", ""),
            ("Program", "CD133 selection 1 (enrichment 1.1)", ""),
            ("Tubing set type", "TS", ""),
            ("Run", "2026-11-25 15:48 → 16:27 IRST", ""),
            ("Alarms", "none", ""),
            ("Target fraction volume", "5.0", "ml"),
            ("Target fraction count", "1,020", "cells/µL"),
            ("Target fraction viability", "97.1", "%"),
            ("CD133+ purity", "88.4", "%"),
            ("Negative fraction volume", "148", "ml"),
        ),
        computed=(
            ("Viable CD133+ cells", "4.5 × 10^6", "cells", ""),
            ("CD133+ purity", "88.4", "%", "≥ 70 %"),
            ("CD133+ recovery", "26.0", "%", "≥ 20 %"),
            ("Enrichment factor", "63", "×", ""),
            ("Log depletion of CD133− cells", "3.3", "log", ""),
            ("Incubation", "30", "min", "25–35 min"),
            ("Run time", "39", "min", ""),
        ),
        findings=(),
        reagents=("CliniMACS CD133 Reagent lot CD133R2405 (exp 2030-12-31)",
                  "CliniMACS tubing set TS lot TS2406 (exp 2030-12-31)"),
        equipment=("CliniMACS Plus MACS-01 (serial MACS-0001-DEMO)",),
    )


def _formulate(arm: str) -> StepEntry:
    cd133 = arm == "CD133"
    dose = "4.5 × 10^6" if cd133 else "1.12 × 10^9"
    dose_limit = "1–12 × 10^6" if cd133 else "≥ 1 × 10^8"
    return StepEntry(
        "formulate", "Final formulation", at(390), TECH, TECH_2,
        values=(
            ("Diluent", "0.9 % NaCl + 10 % autologous serum", ""),
            ("Final volume", "5.0" if cd133 else "20.0", "ml"),
            ("Viability", "97.1" if cd133 else "93.0", "%"),
            ("Final container", "syringe", ""),
            ("QC samples drawn", "4", ""),
        ),
        computed=(
            ("Viable dose", dose, "cells", dose_limit),
            ("Dose per kg", "0.064 × 10^6" if cd133 else "16 × 10^6", "cells/kg", ""),
            ("Endotoxin limit", "0.5", "EU/mL", ""),
        ),
        findings=(),
        reagents=("0.9 % NaCl + 10 % autologous serum lot NACL2407 (exp 2030-12-31)",),
        equipment=("Biosafety cabinet BSC-01",),
    )


def steps(arm: str) -> tuple[StepEntry, ...]:
    middle = (_enrich(),) if arm == "CD133" else ()
    return (_harvest(), _receive(), _sediment(), _isolate(arm), *middle, _formulate(arm))
