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


def sediment() -> dict[str, Any]:
    return {"volume_in_ml": 205, "wbc_in_per_ul": 19500, "rbc_in_per_ul": 4.1e6,
            "volume_out_ml": 82, "wbc_out_per_ul": 41000, "rbc_out_per_ul": 0.35e6,
            "agent": "HES 6 %", "agent_lot": "HES2403", "ratio": "1:5",
            "sedimentation_minutes": 45}


def isolate_mnc(centrifuge: str = "CF-01", medium_lot: str = "FP2404") -> dict[str, Any]:
    return {"medium": "Ficoll-Paque PREMIUM", "density_g_per_ml": 1.077, "grade": "GMP",
            "medium_lot": medium_lot, "dilution": 2, "centrifuge_id": centrifuge,
            "g_force": 400, "spin_minutes": 30, "temperature_c": 21, "brake_off": True,
            "washes": 2, "mnc_per_ul": 24000, "volume_ml": 50, "viability_pct": 96.5,
            "cd34_pct": 1.1, "cd133_pct": 0.8}


def enrich(t: datetime) -> dict[str, Any]:
    return {"pre_tnc": 1.2e9, "pre_cd133_pct": 0.8, "reagent_lot": "CD133R2405",
            "reagent_volume_ml": 7.5, "incubation_start": iso(t),
            "incubation_end": iso(t + timedelta(minutes=30)), "washes": 2,
            "instrument_id": "MACS-01", "program": "ENRICHMENT 1.1", "tubing_set_type": "TS",
            "tubing_set_lot": "TS2406", "run_start": iso(t + timedelta(minutes=50)),
            "run_end": iso(t + timedelta(minutes=95)), "alarms": "",
            "target_volume_ml": 6, "target_cells_per_ul": 950, "target_viability_pct": 97.8,
            "cd133_purity_pct": 88.4, "negative_volume_ml": 95}


def formulate(arm: str) -> dict[str, Any]:
    cells = 5.2e6 if arm == "CD133" else 4.6e8
    return {"diluent": "0.9 % NaCl + 10 % autologous serum", "diluent_lot": "NACL2407",
            "final_volume_ml": 5 if arm == "CD133" else 10, "total_cells": cells,
            "viability_pct": 97.1 if arm == "CD133" else 95.4, "container_type": "syringe",
            "qc_samples": 2}


def qc_results(arm: str) -> dict[str, str]:
    results = {"viability": "97.1", "viable_dose": "4.46e6" if arm == "CD133" else "4.39e8",
               "gram_stain": "no organisms seen", "endotoxin": "0.12", "sterility": "pending"}
    if arm == "CD133":
        results["cd133_purity"] = "88.4"
    return results


def issue(t: datetime) -> dict[str, Any]:
    return {"time_issued": iso(t), "transport_conditions": "validated shipper, 2–8 °C",
            "temperature_c": 6.5}


def administer(t: datetime) -> dict[str, Any]:
    return {"infusion_start": iso(t), "infusion_end": iso(t + timedelta(minutes=12)),
            "volume_injected_ml": 5, "route": "portal vein", "sonography_guided": True,
            "adverse_events": "none"}
