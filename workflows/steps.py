"""The process steps as data, and the single entry point that checks a submission.

`STEPS` is keyed by the state-machine trigger names. Each StepSpec lists what
the bench form asks for, in the lab's words and units:

- counts are absolute per µL ("cells/µL", e.g. WBC 20000, RBC 4500000), never
  ×10^3 or ×10^6/µL, so one unit holds for every count on every form;
- absolute cell numbers are plain cells (5e9, not "50 ×10^8");
- times are ISO-8601 with a timezone ("2024-05-01T10:30+03:30"); a browser's
  datetime-local value has no zone and must get the site's zone before it comes here;
- yes/no values accept true/false, yes/no, on/off, 1/0; forms should use a yes/no
  pair rather than a checkbox, since an unchecked box is simply absent and a
  required answer such as bag integrity must be given positively.

`evaluate_step` cleans a raw submission, computes the derived figures and
returns the protocol findings. It raises StepDataError for data that cannot be
real; it returns findings (warn/refuse per ProtocolParameters) for data that is
real but outside the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from workflows.balance import balance_breaches, carry_forward, recovery_findings
from workflows.fields import Figure, Quantity, Where, put_into, taken_from
from workflows.identity import ContainerKind as K
from workflows.materials import EquipmentType, Material
from workflows.protocol import ProtocolParameters
from workflows.step_cleaning import check_time_order, clean_values
from workflows.step_model import (
    ARMS,
    Field,
    FieldKind,
    Finding,
    StepContext,
    StepDataError,
    StepOutcome,
    StepSpec,
)
from workflows.step_rules import apply_rules
from workflows.step_times import span_problems

__all__ = [
    "ARMS",
    "STEPS",
    "Field",
    "FieldKind",
    "Finding",
    "StepContext",
    "StepDataError",
    "StepOutcome",
    "StepSpec",
    "evaluate_step",
]

# Physical ceilings, far above anything real, only to catch slipped digits.
_MAX_PER_UL = 2e7  # packed red cells are about 1e7/µL
_MAX_CELLS = 1e12


def _number(
    name: str, label: str, unit: str, low: float = 0.0, high: float | None = None,
    *, required: bool = True, where: Where | None = None, quantity: Quantity | None = None,
) -> Field:
    return Field(name, label, "number", unit, required, low, high, where=where,
                 quantity=quantity)


def _positive(
    name: str, label: str, unit: str, high: float, *, required: bool = True,
    where: Where | None = None,
) -> Field:
    """A volume, count or duration that cannot be zero: a container that was filled holds
    something, a counted suspension has cells, a step that ran took time."""
    return Field(name, label, "number", unit, required, 0.0, high, where=where, above_min=True)


def _integer(name: str, label: str, low: float, high: float) -> Field:
    return Field(name, label, "integer", None, True, low, high)


def _percent(name: str, label: str) -> Field:
    return Field(name, label, "number", "%", True, 0.0, 100.0)


def _text(name: str, label: str, *, required: bool = True, identifier: bool = False) -> Field:
    return Field(name, label, "text", None, required, identifier=identifier)


def _lot(name: str, label: str, material: Material) -> Field:
    return Field(name, label, "text", material=material, identifier=True)


def _equipment(name: str, label: str, equipment_type: EquipmentType) -> Field:
    return Field(name, label, "text", equipment_type=equipment_type, identifier=True)


def _figure(name: str, label: str, unit: str, quantity: Quantity | None = None,
            where: Where | None = None) -> Figure:
    return Figure(name, label, unit, quantity, where)


def _recovery(name: str, label: str) -> Figure:
    return Figure(name, label, "%", Quantity.RECOVERY)


def _figures(*figures: Figure) -> tuple[tuple[str, ...], tuple[Figure, ...]]:
    """The `computed` names and `figures` of a StepSpec, from one list."""
    return tuple(f.name for f in figures), figures


def _when(name: str, label: str) -> Field:
    return Field(name, label, "datetime")


def _yes_no(name: str, label: str) -> Field:
    return Field(name, label, "bool")


def _choice(name: str, label: str, *choices: str) -> Field:
    return Field(name, label, "choice", choices=choices)


def _started_ended(what: str) -> tuple[Field, Field]:
    """When the bench started and finished the step (ALCOA: the record says when)."""
    return (_when("started_at", f"{what} started"), _when("ended_at", f"{what} ended"))


# How cells were counted and viability measured, and on which instrument: a count means
# little without its method (a haematology analyser's WBC is not a flow-cytometric CD45
# count), and the instrument's calibration is checked like a centrifuge's.
COUNT_METHODS = ("automated haematology analyser", "single-platform flow cytometry (ISHAGE)",
                 "haemocytometer (manual)")
VIABILITY_METHODS = ("7-AAD flow cytometry", "trypan blue exclusion")


def _counted(*, viability: bool) -> tuple[Field, ...]:
    fields = (_choice("count_method", "Counting method", *COUNT_METHODS),
              _equipment("counter_id", "Cell counter", EquipmentType.CELL_COUNTER))
    if not viability:
        return fields
    return (*fields, _choice("viability_method", "Viability method", *VIABILITY_METHODS),
            _equipment("cytometer_id", "Flow cytometer", EquipmentType.FLOW_CYTOMETER))


_HARVEST = StepSpec(
    "harvest", "Bone-marrow harvest",
    (
        _when("harvest_start", "Harvest start"),
        _when("harvest_end", "Harvest end"),
        _number("volume_ml", "Volume aspirated", "ml", 1.0, 2000.0,
                where=put_into(K.MARROW_BAG)),
        _choice("anticoagulant", "Anticoagulant", "heparin", "ACD-A"),
        _lot("anticoagulant_lot", "Anticoagulant lot", Material.ANTICOAGULANT),
        _positive("anticoagulant_volume_ml", "Anticoagulant volume", "ml", 500.0),
        _lot("collection_set_lot", "Collection set lot", Material.COLLECTION_SET),
        _lot("filter_lot", "Filter lot", Material.FILTER),
        _integer("puncture_sites", "Puncture sites", 1, 200),
        _text("bag_sample_id", "Bag sample ID", required=False, identifier=True),
        _text("operating_room", "Operating room", identifier=True),
        # User name of the physician who aspirated; left empty when that physician records
        # the harvest (lims.services.step_check fills in the operator).
        Field("harvesting_physician", "Harvesting physician", "text", required=False,
              quantity=Quantity.PERSON, identifier=True),
    ),
    *_figures(_figure("duration_minutes", "Harvest duration", "min")),
)

_RECEIVE = StepSpec(
    "receive", "Transport and receipt",
    (
        _when("time_out", "Time out of OR"),
        _when("time_received", "Time received"),
        _number("temperature_c", "Temperature on receipt", "°C", -30.0, 60.0),
        _yes_no("bag_intact", "Bag intact"),
        _positive("gross_weight_g", "Gross weight", "g", 5000.0, required=False),
        _number("tare_g", "Tare weight", "g", 0.0, 5000.0, required=False),
    ),
    *_figures(
        _figure("transport_minutes", "Transport time", "min"),
        _figure("hours_since_harvest", "Time since harvest end", "h"),
        _figure("net_volume_ml", "Net volume (from weight)", "ml"),
    ),
)

_SEDIMENT = StepSpec(
    "sediment", "RBC sedimentation",
    (
        _number("volume_in_ml", "Volume in", "ml", 1.0, 2000.0, where=taken_from(K.MARROW_BAG)),
        _number("wbc_in_per_ul", "WBC in", "cells/µL", 1.0, _MAX_PER_UL,
                where=taken_from(K.MARROW_BAG)),
        _number("rbc_in_per_ul", "RBC in", "cells/µL", 1.0, _MAX_PER_UL,
                where=taken_from(K.MARROW_BAG)),
        _positive("volume_out_ml", "Leukocyte-rich volume out", "ml", 2000.0,
                where=put_into(K.RBC_REDUCED)),
        _positive("wbc_out_per_ul", "WBC out", "cells/µL", _MAX_PER_UL,
                where=put_into(K.RBC_REDUCED)),
        _number("rbc_out_per_ul", "RBC out", "cells/µL", 0.0, _MAX_PER_UL,
                where=put_into(K.RBC_REDUCED)),
        _text("agent", "Sedimentation agent"),
        _lot("agent_lot", "Agent lot", Material.SEDIMENTATION_AGENT),
        _text("ratio", "Agent : marrow ratio"),
        _positive("sedimentation_minutes", "Sedimentation time", "min", 600.0),
        *_started_ended("Sedimentation"),
        *_counted(viability=False),
    ),
    *_figures(
        _figure("tnc_in", "TNC in", "cells", where=taken_from(K.MARROW_BAG)),
        _figure("tnc_out", "TNC out", "cells", where=put_into(K.RBC_REDUCED)),
        _figure("rbc_in", "RBC in", "cells", Quantity.RED_CELLS, taken_from(K.MARROW_BAG)),
        _figure("rbc_out", "RBC out", "cells", Quantity.RED_CELLS, put_into(K.RBC_REDUCED)),
        _recovery("tnc_recovery_pct", "TNC recovery"),
        _figure("rbc_depletion_pct", "RBC depletion", "%"),
    ),
)

_ISOLATE_MNC = StepSpec(
    "isolate_mnc", "Ficoll-Paque MNC isolation",
    (
        _text("medium", "Gradient medium"),
        _number("density_g_per_ml", "Medium density", "g/ml", 1.0, 1.2),
        _choice("grade", "Medium grade", "GMP", "RUO"),
        _lot("medium_lot", "Medium lot", Material.DENSITY_GRADIENT_MEDIUM),
        _number("dilution", "Dilution factor", "×", 1.0, 10.0),
        _equipment("centrifuge_id", "Centrifuge", EquipmentType.CENTRIFUGE),
        _number("g_force", "Centrifugation force", "×g", 1.0, 10000.0),
        _number("spin_minutes", "Centrifugation time", "min", 1.0, 240.0),
        _number("temperature_c", "Centrifuge temperature", "°C", 0.0, 40.0),
        _yes_no("brake_off", "Brake off"),
        _integer("washes", "Washes", 0, 10),
        _positive("mnc_per_ul", "MNC concentration", "cells/µL", _MAX_PER_UL,
                where=put_into(K.MNC)),
        _positive("volume_ml", "MNC suspension volume", "ml", 1000.0, where=put_into(K.MNC)),
        _percent("viability_pct", "Viability"),
        _percent("cd34_pct", "CD34+"),
        _percent("cd133_pct", "CD133+"),
        *_started_ended("MNC isolation"),
        *_counted(viability=True),
    ),
    *_figures(
        _figure("mnc_total", "Total MNC", "cells", where=put_into(K.MNC)),
        _figure("viable_mnc", "Viable MNC", "cells", Quantity.CELL_SUBSET),
        _figure("cd34_cells", "CD34+ cells", "cells", Quantity.CELL_SUBSET),
        _figure("cd133_cells", "CD133+ cells", "cells", Quantity.CELL_SUBSET),
        _figure("viability_pct", "Viability", "%"),
        # MNC out over the nucleated cells the RBC-reduced bag held: a subset over the whole,
        # so a yield, not the recovery of one population.
        _figure("mnc_yield_pct", "MNC yield (MNC out / nucleated cells in)", "%",
                Quantity.YIELD),
    ),
)

_ENRICH = StepSpec(
    "enrich", "CliniMACS CD133+ enrichment",
    (
        _number("pre_tnc", "TNC into labelling", "cells", 1.0, _MAX_CELLS,
                where=taken_from(K.MNC)),
        _percent("pre_cd133_pct", "CD133+ before selection"),
        _lot("reagent_lot", "CD133 reagent lot", Material.CD133_REAGENT),
        _positive("reagent_volume_ml", "Reagent volume used", "ml", 50.0),
        _when("incubation_start", "Labelling incubation start"),
        _when("incubation_end", "Labelling incubation end"),
        _integer("washes", "Washes", 0, 10),
        _equipment("instrument_id", "CliniMACS instrument", EquipmentType.CLINIMACS),
        _text("program", "Program"),
        _choice("tubing_set_type", "Tubing set type", "TS", "LS"),
        _lot("tubing_set_lot", "Tubing set lot", Material.TUBING_SET),
        _when("run_start", "Run start"),
        _when("run_end", "Run end"),
        _text("alarms", "Alarms", required=False),
        _positive("target_volume_ml", "Target fraction volume", "ml", 1000.0,
                where=put_into(K.CD133_TARGET)),
        _positive("target_cells_per_ul", "Target fraction count", "cells/µL", _MAX_PER_UL,
                where=put_into(K.CD133_TARGET)),
        _percent("target_viability_pct", "Target fraction viability"),
        _percent("cd133_purity_pct", "CD133+ purity"),
        _positive("negative_volume_ml", "Negative fraction volume", "ml", 2000.0,
                where=put_into(K.CD133_NEGATIVE)),
        *_counted(viability=True),
    ),
    *_figures(
        _figure("pre_cd133_cells", "CD133+ cells into selection", "cells", Quantity.CELL_SUBSET),
        _figure("target_cells", "Cells in target fraction", "cells",
                where=put_into(K.CD133_TARGET)),
        _figure("cd133_cells", "CD133+ cells", "cells", Quantity.CELL_SUBSET),
        _figure("viable_cd133", "Viable CD133+ cells", "cells", Quantity.CELL_SUBSET),
        _figure("cd133_purity_pct", "CD133+ purity", "%"),
        _recovery("cd133_recovery_pct", "CD133+ recovery"),
        _figure("enrichment_factor", "Enrichment factor", "×"),
        _figure("log_depletion", "Log depletion of non-target cells", "log"),
        _figure("incubation_minutes", "Labelling incubation", "min"),
        _figure("run_minutes", "CliniMACS run time", "min"),
    ),
)

_FORMULATE = StepSpec(
    "formulate", "Final formulation",
    (
        _text("diluent", "Diluent"),
        _lot("diluent_lot", "Diluent lot", Material.DILUENT),
        _number("final_volume_ml", "Final volume", "ml", 0.1, 1000.0,
                where=put_into(K.FINAL_PRODUCT)),
        # Either one: a counter gives a concentration, a calculation sheet a total.
        _positive("total_cells", "Total cells", "cells", _MAX_CELLS, required=False,
                  where=put_into(K.FINAL_PRODUCT)),
        _positive("cells_per_ul", "Cell concentration", "cells/µL", _MAX_PER_UL,
                  required=False, where=put_into(K.FINAL_PRODUCT)),
        _percent("viability_pct", "Viability"),
        _choice("container_type", "Final container", "syringe", "bag"),
        _integer("qc_samples", "QC samples drawn", 0, 20),
        # Left out when the final volume is measured after the samples were drawn; given,
        # the samples' volume is no longer in the final product (workflows.balance).
        _number("qc_sample_volume_ml", "Volume of each QC sample", "ml", 0.0, 50.0,
                required=False, where=put_into(K.QC_SAMPLE)),
        # Retention samples (issue 16): drawn at formulation, labelled, kept in storage.
        Field("retention_samples", "Retention samples drawn", "integer", None, False, 0, 5),
        _number("retention_sample_volume_ml", "Volume of each retention sample", "ml", 0.0,
                50.0, required=False, where=put_into(K.RETENTION_SAMPLE)),
        Field("retention_drawn_at", "Time the retention samples were drawn", "datetime",
              required=False),
        # Weighed on the day: the dose per kg and the per-kg endotoxin limit use it, not
        # the enrolment weight (which may be weeks old).
        _number("weight_kg", "Body weight at formulation", "kg", 2.0, 300.0,
                quantity=Quantity.WEIGHT),
        *_started_ended("Formulation"),
        *_counted(viability=True),
    ),
    *_figures(
        _figure("total_cells", "Total cells", "cells", where=put_into(K.FINAL_PRODUCT)),
        _figure("final_volume_ml", "Final volume", "ml", where=put_into(K.FINAL_PRODUCT)),
        _figure("concentration_per_ml", "Concentration", "cells/ml"),
        _figure("viable_cells", "Viable cells", "cells", Quantity.CELL_SUBSET),
        _figure("viable_dose", "Viable dose", "cells", Quantity.CELL_SUBSET),
        _figure("dose_per_kg", "Dose per kg body weight", "cells/kg"),
        _figure("endotoxin_limit_eu_per_ml", "Endotoxin limit for this product", "EU/ml"),
    ),
)

_ISSUE = StepSpec(
    "issue", "Issue to the procedure room",
    (
        _when("time_issued", "Time issued"),
        _text("transport_conditions", "Transport conditions"),
        _number("temperature_c", "Transport temperature", "°C", -30.0, 60.0),
    ),
    *_figures(_figure("hours_since_harvest", "Time since harvest end", "h")),
)

_ADMINISTER = StepSpec(
    "administer", "Portal-vein administration",
    (
        _when("infusion_start", "Infusion start"),
        _when("infusion_end", "Infusion end"),
        # 0 ml injected is no administration (H4): the smallest a syringe delivers.
        _number("volume_injected_ml", "Volume injected", "ml", 0.1, 1000.0,
                where=taken_from(K.FINAL_PRODUCT)),
        _choice("route", "Route", "portal vein"),
        _yes_no("sonography_guided", "Sonography-guided"),
        _text("adverse_events", "Immediate adverse events", required=False),
    ),
    *_figures(
        _figure("infusion_minutes", "Infusion time", "min"),
        _figure("hours_since_harvest", "Time since harvest end", "h"),
    ),
)

STEPS: Mapping[str, StepSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _HARVEST, _RECEIVE, _SEDIMENT, _ISOLATE_MNC, _ENRICH, _FORMULATE, _ISSUE,
            _ADMINISTER,
        )
    }
)

# (earlier, later) pairs within one form; a later time that comes first is a typo.
_TIME_ORDER: Mapping[str, tuple[tuple[str, str], ...]] = {
    "harvest": (("harvest_start", "harvest_end"),),
    "receive": (("time_out", "time_received"),),
    "sediment": (("started_at", "ended_at"),),
    "isolate_mnc": (("started_at", "ended_at"),),
    "formulate": (("started_at", "ended_at"),),
    "enrich": (
        ("incubation_start", "incubation_end"),
        ("incubation_end", "run_start"),
        ("run_start", "run_end"),
    ),
    "administer": (("infusion_start", "infusion_end"),),
}


def evaluate_step(
    step: str,
    raw: Mapping[str, object],
    *,
    params: ProtocolParameters,
    context: StepContext,
) -> StepOutcome:
    """Clean, compute and check one step submission.

    Raises ValueError for an unknown step name and StepDataError for data that
    cannot be real (unknown or missing fields, wrong types, values outside the
    physical range, naive or out-of-order times, an enrichment on the BM-MNC arm).
    An input left empty is carried forward from what its container holds; a step
    that takes in more cells or volume than its container holds is refused
    (StepDataError naming both figures; workflows.balance).
    Returns the outcome; `outcome.refused` tells the caller not to save it.
    """
    spec = STEPS.get(step)
    if spec is None:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    raw, carried = carry_forward(spec, raw, context)
    values = clean_values(spec, raw)
    labels = {f.name: f.label for f in spec.fields}
    errors = check_time_order(values, _TIME_ORDER.get(step, ()), labels) or span_problems(
        spec, values)
    if errors:
        raise StepDataError(errors)
    names = {f.name: f.label for f in spec.figures} | {f.name: f.label for f in spec.fields}
    computed, findings = apply_rules(step, values, params, context, names)
    figures = {**values, **computed}
    breaches = balance_breaches(spec, figures, context, params)
    if breaches:
        raise StepDataError(breaches)
    return StepOutcome(
        values=MappingProxyType(values),
        computed=MappingProxyType(computed),
        findings=findings + recovery_findings(spec, figures, params),
        carried=carried,
    )


def late_entry_hours(step: str, values: Mapping[str, object], recorded_at: datetime,
                     limit_hours: float) -> float | None:
    """Hours between the latest time a step record reports and its recording, if over the
    limit (ALCOA: a record is made when the work is done); None otherwise.

    `values` are as stored: times as ISO-8601 text with their zone.
    """
    spec = STEPS[step]
    reported = []
    for field in spec.fields:
        if field.kind != "datetime" or field.name not in values:
            continue
        value = values[field.name]
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            continue
        if moment.utcoffset() is not None:
            reported.append(moment)
    if not reported:
        return None
    hours = (recorded_at - max(reported)).total_seconds() / 3600
    return hours if hours > limit_hours else None
