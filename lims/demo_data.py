"""Step data of the demo products: plausible figures from process-reference.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def iso(when: datetime) -> str:
    return when.isoformat()


def harvest(t0: datetime) -> dict[str, Any]:
    return {"harvest_start": iso(t0 - timedelta(minutes=50)), "harvest_end": iso(t0),
            "volume_ml": 205, "anticoagulant": "heparin", "anticoagulant_lot": "HEP2401",
            "anticoagulant_volume_ml": 20, "collection_set_lot": "BMC2408",
            "filter_lot": "FLT2409", "puncture_sites": 24, "bag_sample_id": "BS-1",
            "operating_room": "OR-3", "harvesting_physician": "doc1"}


def receive(t0: datetime) -> dict[str, Any]:
    return {"time_out": iso(t0 + timedelta(minutes=5)),
            "time_received": iso(t0 + timedelta(minutes=35)), "temperature_c": 19.5,
            "bag_intact": True, "gross_weight_g": 262.0, "tare_g": 45.0}


# How the demo lab counts (workflows.steps COUNT_METHODS) and on which instruments (seed).
COUNTED = {"count_method": "automated haematology analyser", "counter_id": "CC-01"}
COUNTED_AND_VIABILITY = {**COUNTED, "viability_method": "7-AAD flow cytometry",
                         "cytometer_id": "FC-01"}


def span(at: datetime, minutes: float) -> dict[str, str]:
    """A step that ended 5 minutes before it was recorded at `at` and took `minutes`."""
    ended = at - timedelta(minutes=5)
    return {"started_at": iso(ended - timedelta(minutes=minutes)), "ended_at": iso(ended)}


def sediment(at: datetime) -> dict[str, Any]:
    """Recorded at `at` (sedimentation ended 5 minutes before, after 50 minutes)."""
    return {**span(at, 50), **COUNTED,
            "volume_in_ml": 205, "wbc_in_per_ul": 19500, "rbc_in_per_ul": 4.1e6,
            "volume_out_ml": 82, "wbc_out_per_ul": 41000, "rbc_out_per_ul": 0.35e6,
            "agent": "HES 6 %", "agent_lot": "HES2403", "ratio": "1:5",
            "sedimentation_minutes": 45}


def isolate_mnc(at: datetime, centrifuge: str = "CF-01",
                medium_lot: str = "FP2404") -> dict[str, Any]:
    """Recorded at `at` (the isolation ended 5 minutes before, after an hour)."""
    return {**span(at, 60), **COUNTED_AND_VIABILITY,
            "medium": "Ficoll-Paque PREMIUM", "density_g_per_ml": 1.077, "grade": "GMP",
            "medium_lot": medium_lot, "dilution": 2, "centrifuge_id": centrifuge,
            "g_force": 400, "spin_minutes": 30, "temperature_c": 21, "brake_off": True,
            "washes": 2, "mnc_per_ul": 24000, "volume_ml": 50, "viability_pct": 96.5,
            "cd34_pct": 1.1, "cd133_pct": 0.8}


def enrich(t: datetime) -> dict[str, Any]:
    return {**COUNTED_AND_VIABILITY,
            "pre_tnc": 1.2e9, "pre_cd133_pct": 0.8, "reagent_lot": "CD133R2405",
            "reagent_volume_ml": 7.5, "incubation_start": iso(t),
            "incubation_end": iso(t + timedelta(minutes=30)), "washes": 2,
            "instrument_id": "MACS-01", "program": "ENRICHMENT 1.1", "tubing_set_type": "TS",
            "tubing_set_lot": "TS2406", "run_start": iso(t + timedelta(minutes=50)),
            "run_end": iso(t + timedelta(minutes=95)), "alarms": "",
            "target_volume_ml": 6, "target_cells_per_ul": 950, "target_viability_pct": 97.8,
            "cd133_purity_pct": 88.4, "negative_volume_ml": 95}


def formulate(arm: str, at: datetime, weight_kg: float = 70.0) -> dict[str, Any]:
    """Recorded at `at` (formulation ended 5 minutes before, after 20 minutes); the patient
    weighed `weight_kg` on the day."""
    cells = 5.2e6 if arm == "CD133" else 4.6e8
    return {**span(at, 20), **COUNTED_AND_VIABILITY, "weight_kg": weight_kg,
            "diluent": "0.9 % NaCl + 10 % autologous serum", "diluent_lot": "NACL2407",
            "final_volume_ml": 5 if arm == "CD133" else 10, "total_cells": cells,
            "viability_pct": 97.1 if arm == "CD133" else 95.4, "container_type": "syringe",
            "qc_samples": 2, "qc_sample_volume_ml": 0.5}


def retention_samples(at: datetime) -> dict[str, Any]:
    """Two retention samples of 0.1 ml drawn at formulation, 3 minutes before `at` (issue 16);
    the demo stores them (lims.demo_storage)."""
    return {"retention_samples": 2, "retention_sample_volume_ml": 0.1,
            "retention_drawn_at": (at - timedelta(minutes=3)).isoformat()}


def qc_results(arm: str) -> dict[str, str]:
    results = {"viability": "97.1", "viable_dose": "4.46e6" if arm == "CD133" else "4.39e8",
               "gram_stain": "no organisms seen", "endotoxin": "0.12", "sterility": "pending"}
    if arm == "CD133":
        results["cd133_purity"] = "88.4"
    return results


# How the demo lab performs each QC test, on which instrument (seed), and how much of the
# final product each sample takes (workflows.qc_methods).
QC_METHOD = {"viability": ("7-AAD flow cytometry", "FC-01"),
             "viable_dose": ("single-platform flow cytometry (ISHAGE)", "FC-01"),
             "cd133_purity": ("flow cytometry (CD133/CD45/7-AAD)", "FC-01"),
             "gram_stain": ("Gram stain, microscopy", ""),
             "endotoxin": ("LAL kinetic chromogenic", "ER-01"),
             "sterility": ("automated culture (aerobic/anaerobic bottles)", ""),
             "mycoplasma": ("PCR (nucleic acid amplification)", "")}


def qc_sample(test: str, drawn_at: datetime, volume_ml: float = 0.1) -> dict[str, Any]:
    """The method, instrument and sample draw of a QC result of `test` (record_qc_result's
    keyword arguments; drawn_at as a datetime)."""
    method, instrument = QC_METHOD[test]
    return {"method": method, "instrument": instrument, "sample_drawn_at": drawn_at,
            "sample_volume_ml": volume_ml}


def issue(t: datetime) -> dict[str, Any]:
    return {"time_issued": iso(t), "transport_conditions": "validated shipper, 2–8 °C",
            "temperature_c": 6.5}


def administer(t: datetime) -> dict[str, Any]:
    """The syringe's content less the two 0.5 ml QC samples drawn at formulation."""
    return {"infusion_start": iso(t), "infusion_end": iso(t + timedelta(minutes=12)),
            "volume_injected_ml": 4, "route": "portal vein", "sonography_guided": True,
            "adverse_events": "none"}
