"""The process steps of the example batch records (`labels.batch_record_example`).

Fictitious but realistic values for each step of both arms; users, lots and
equipment are those of seed/demo.toml. Labels, units and number formats come from
the one registry (workflows.registry), limits are the default protocol's, exactly as
the LIMS prints a real record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from xml.sax.saxutils import escape

from labels.batch_record_model import StepEntry, ValueLine
from workflows.registry import entry
from workflows.step_limits import bound_text

ZONE: Final = "Asia/Tehran"
HARVEST_END: Final = datetime(2026, 11, 25, 8, 10, tzinfo=UTC)
TECH: Final = "Sara Technician"
TECH_2: Final = "Reza Technician"
PROTOCOL: Final = "protocol NCT00713934"


def at(minutes: float) -> datetime:
    """`minutes` after the end of the harvest."""
    return HARVEST_END + timedelta(minutes=minutes)


def line(step: str, name: str, value: object, low: float | None = None,
         high: float | None = None, source: str = "") -> ValueLine:
    """One value as the LIMS prints it: registry label and unit, one number format, and,
    given bounds, the limit with its source and the verdict."""
    found = entry(step, name)
    text = escape(value) if isinstance(value, str) else found.format(value, "pdf")
    if (low is None and high is None) or not isinstance(value, int | float):
        return ValueLine(name, found.label, text, found.unit)
    passed = (low is None or value >= low) and (high is None or value <= high)
    return ValueLine(name, found.label, text, found.unit, bound_text(low, high, found.unit, "pdf"),
                     passed, f"{PROTOCOL}: {source}")


def _harvest() -> StepEntry:
    h = "harvest"
    return StepEntry(
        h, "Bone-marrow harvest", at(0), "Dr. Nasrin Physician", None,
        values=(
            line(h, "harvest_start", "2026-11-25 10:55 IRST (07:25 UTC)"),
            line(h, "harvest_end", "2026-11-25 11:40 IRST (08:10 UTC)"),
            line(h, "volume_ml", 212.0, 150.0, None, "harvest_min_volume_ml"),
            line(h, "anticoagulant", "heparin"),
            line(h, "anticoagulant_volume_ml", 21.0),
            line(h, "puncture_sites", 14),
            line(h, "operating_room", "Operating Theatre 2, Example University Hospital"),
        ),
        computed=(line(h, "duration_minutes", 45.0),),
        findings=(),
        reagents=("Heparin sodium 1000 U/mL lot HEP2401 (exp 2030-12-31)",
                  "Bone marrow collection set with 500/200 µm filters lot BMC2408"),
        equipment=(),
    )


def _receive() -> StepEntry:
    r = "receive"
    return StepEntry(
        r, "Transport and receipt", at(52), TECH, TECH_2,
        values=(
            line(r, "time_out", "2026-11-25 11:48 IRST (08:18 UTC)"),
            line(r, "time_received", "2026-11-25 12:32 IRST (09:02 UTC)"),
            line(r, "temperature_c", 26.0, 2.0, 25.0,
                 "receipt_temperature_min_c, receipt_temperature_max_c"),
            line(r, "bag_intact", "yes"),
            line(r, "gross_weight_g", 268.0),
            line(r, "tare_g", 41.0),
        ),
        computed=(
            line(r, "transport_minutes", 44.0),
            line(r, "hours_since_harvest", 0.87, None, 2.0, "receipt_max_hours_after_harvest"),
            line(r, "net_volume_ml", 215.2),
        ),
        findings=("WARNING: Temperature on receipt 26.0 °C is outside the protocol range of "
                  "2–25 °C; deviation 1 opened",),
        reagents=(),
        equipment=("Calibrated probe thermometer TH-03",),
    )


def _sediment() -> StepEntry:
    s = "sediment"
    return StepEntry(
        s, "RBC sedimentation", at(95), TECH, TECH_2,
        values=(
            line(s, "volume_in_ml", 214.0), line(s, "wbc_in_per_ul", 18400.0),
            line(s, "rbc_in_per_ul", 3950000.0), line(s, "volume_out_ml", 96.0),
            line(s, "wbc_out_per_ul", 36100.0), line(s, "rbc_out_per_ul", 410000.0),
            line(s, "agent", "Hydroxyethyl starch 6 % (HES)"), line(s, "ratio", "1 : 5"),
            line(s, "sedimentation_minutes", 40.0),
        ),
        computed=(
            line(s, "tnc_in", 3.94e9), line(s, "tnc_out", 3.47e9),
            line(s, "rbc_in", 8.45e11), line(s, "rbc_out", 3.94e10),
            line(s, "tnc_recovery_pct", 88.0, 50.0, 110.0,
                 "sedimentation_tnc_recovery_min_pct; 100 % + balance_tolerance_pct"),
            line(s, "rbc_depletion_pct", 95.3, 80.0, None, "rbc_depletion_min_pct"),
        ),
        findings=(),
        reagents=("Hydroxyethyl starch 6 % (HES) lot HES2403 (exp 2030-12-31)",),
        equipment=(),
    )


def _isolate(arm: str) -> StepEntry:
    i = "isolate_mnc"
    viability = 96.8 if arm == "CD133" else 93.4
    return StepEntry(
        i, "Ficoll-Paque MNC isolation", at(170), TECH, TECH_2,
        values=(
            line(i, "medium", "Ficoll-Paque PREMIUM 1.077"),
            line(i, "density_g_per_ml", 1.077, 1.073, 1.077,
                 "ficoll_density_min_g_per_ml, ficoll_density_max_g_per_ml"),
            line(i, "grade", "GMP"), line(i, "dilution", 2.0),
            line(i, "g_force", 400.0, 300.0, 500.0, "ficoll_g_min, ficoll_g_max"),
            line(i, "spin_minutes", 30.0, 20.0, 45.0, "ficoll_minutes_min, ficoll_minutes_max"),
            line(i, "temperature_c", 20.0, 18.0, 25.0,
                 "ficoll_temperature_min_c, ficoll_temperature_max_c"),
            line(i, "brake_off", "yes"), line(i, "washes", 2),
            line(i, "mnc_per_ul", 41200.0), line(i, "volume_ml", 30.0),
            line(i, "viability_pct", viability, 80.0, None, "ficoll_viability_min_pct"),
            line(i, "cd34_pct", 1.9), line(i, "cd133_pct", 1.4),
        ),
        computed=(
            line(i, "mnc_total", 1.24e9), line(i, "viable_mnc", 1.20e9),
            line(i, "cd133_cells", 1.73e7),
            line(i, "mnc_yield_pct", 35.6, None, 110.0, "100 % + balance_tolerance_pct"),
        ),
        findings=(),
        reagents=("Ficoll-Paque PREMIUM 1.077 lot FP2404 (exp 2030-12-31)",),
        equipment=("Centrifuge CF-01 s/n CF-0001-DEMO (calibration due 2030-12-31)",),
    )


def _enrich() -> StepEntry:
    e = "enrich"
    return StepEntry(
        e, "CliniMACS CD133+ enrichment", at(330), TECH, TECH_2,
        values=(
            line(e, "pre_tnc", 1.2e9, None, 60e9,
                 "cd133_reagent_vial_capacity_total_cells; tubing_set_capacity_total_cells [TS]"),
            line(e, "pre_cd133_pct", 1.4),
            line(e, "reagent_volume_ml", 1.0),
            line(e, "incubation_start", "2026-11-25 14:55 IRST (11:25 UTC)"),
            line(e, "incubation_end", "2026-11-25 15:25 IRST (11:55 UTC)"),
            line(e, "program", "CD133 selection 1 (enrichment 1.1)"),
            line(e, "tubing_set_type", "TS"),
            line(e, "alarms", "none"),
            line(e, "target_volume_ml", 5.0),
            line(e, "target_cells_per_ul", 1020.0),
            line(e, "target_viability_pct", 97.1, 80.0, None, "enrichment_viability_min_pct"),
            line(e, "cd133_purity_pct", 88.4, 70.0, None, "enrichment_purity_min_pct"),
            line(e, "negative_volume_ml", 148.0),
        ),
        computed=(
            line(e, "viable_cd133", 4.5e6),
            line(e, "cd133_recovery_pct", 26.0, 20.0, 110.0,
                 "enrichment_recovery_warn_below_pct; 100 % + balance_tolerance_pct"),
            line(e, "enrichment_factor", 63.0),
            line(e, "log_depletion", 3.3),
            line(e, "incubation_minutes", 30.0, 25.0, 35.0,
                 "labelling_incubation_minutes_min, labelling_incubation_minutes_max"),
            line(e, "run_minutes", 39.0),
        ),
        findings=(),
        reagents=("CliniMACS CD133 Reagent lot CD133R2405 (exp 2030-12-31)",
                  "CliniMACS tubing set TS lot TS2406 (exp 2030-12-31)"),
        equipment=("CliniMACS Plus MACS-01 s/n MACS-0001-DEMO (calibration due 2030-12-31)",),
    )


def _formulate(arm: str) -> StepEntry:
    f = "formulate"
    cd133 = arm == "CD133"
    low, high = (1e6, 12e6) if cd133 else (1e8, 1e10)
    source = ("cd133_dose_min_cells, cd133_dose_max_cells" if cd133
              else "mnc_dose_min_cells, mnc_dose_max_cells")
    volume = 5.0 if cd133 else 20.0
    return StepEntry(
        f, "Final formulation", at(390), TECH, TECH_2,
        values=(
            line(f, "diluent", "0.9 % NaCl + 10 % autologous serum"),
            line(f, "final_volume_ml", volume, None, 10.0, "final_volume_max_ml"),
            line(f, "viability_pct", 97.1 if cd133 else 93.0, 70.0, None,
                 "viability_release_min_pct"),
            line(f, "container_type", "syringe"),
            line(f, "qc_samples", 3),
        ),
        computed=(
            line(f, "viable_dose", 4.5e6 if cd133 else 1.12e9, low, high, source),
            line(f, "dose_per_kg", 0.064e6 if cd133 else 14.4e6),
            line(f, "endotoxin_limit_eu_per_ml", 70.0 if cd133 else 19.5),
        ),
        findings=() if cd133 else (
            "WARNING: Final volume 20 ml is above the protocol maximum of 10 ml",),
        reagents=("0.9 % NaCl + 10 % autologous serum lot NACL2407 (exp 2030-12-31)",),
        equipment=("Biosafety cabinet BSC-01",),
    )


def _issue() -> StepEntry:
    i = "issue"
    expiry = ValueLine("time_issued", entry(i, "time_issued").label,
                       "2026-11-25 19:20 IRST (15:50 UTC)", "",
                       "before the expiry, 2026-11-25 23:40 IRST (20:10 UTC)", True,
                       f"{PROTOCOL}: expiry_hours_after_harvest_end", "in date")
    return StepEntry(
        i, "Issue to the procedure room", at(480), TECH, "Dr. Ali Physician",
        values=(expiry, line(i, "transport_conditions", "validated shipper, 2–8 °C"),
                line(i, "temperature_c", 6.5, 2.0, 25.0,
                     "transport_temperature_min_c, transport_temperature_max_c")),
        computed=(line(i, "hours_since_harvest", 7.67, None, 12.0,
                       "expiry_hours_after_harvest_end"),),
        findings=(), reagents=(), equipment=(),
    )


def _administer() -> StepEntry:
    a = "administer"
    expiry = ValueLine("infusion_start", entry(a, "infusion_start").label,
                       "2026-11-25 19:50 IRST (16:20 UTC)", "",
                       "before the expiry, 2026-11-25 23:40 IRST (20:10 UTC)", True,
                       f"{PROTOCOL}: expiry_hours_after_harvest_end", "in date")
    return StepEntry(
        a, "Portal-vein administration", at(520), "Dr. Ali Physician", "Dr. Nasrin Physician",
        values=(expiry, line(a, "infusion_end", "2026-11-25 20:02 IRST (16:32 UTC)"),
                line(a, "volume_injected_ml", 4.7), line(a, "route", "portal vein"),
                line(a, "sonography_guided", "yes"), line(a, "adverse_events", "none")),
        computed=(line(a, "infusion_minutes", 12.0),
                  line(a, "hours_since_harvest", 8.17, None, 12.0,
                       "expiry_hours_after_harvest_end")),
        findings=(), reagents=(), equipment=(),
    )


def steps(arm: str) -> tuple[StepEntry, ...]:
    """The CD133 example goes on to the infusion; the BM-MNC one stops at release."""
    if arm == "CD133":
        return (_harvest(), _receive(), _sediment(), _isolate(arm), _enrich(), _formulate(arm),
                _issue(), _administer())
    return (_harvest(), _receive(), _sediment(), _isolate(arm), _formulate(arm))
