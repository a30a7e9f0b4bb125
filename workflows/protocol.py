"""Protocol parameters: every limit and window the lab works to, held as data.

The trial's own methods (NCT00713934) could not be read, so most figures are
literature benchmarks or proposals (see docs/process-reference.md). Each default
carries its source tag so the lab manager knows which ones still need the SOP's
or the manufacturer's value before go-live:

- [V]          read in a cited source (process-reference.md §2.6, §4, §5)
- [Prop]       proposed default, to be set by the trial SOP or validation
- [UNVERIFIED] background knowledge, not seen in any source

Pure standard library: this module must never import the ORM, the web layer or
`lims`, so the rules can be unit-tested without a database.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from workflows.roles import Role

Action = Literal["warn", "refuse"]
ACTIONS: tuple[Action, ...] = ("warn", "refuse")

# Capacity limits take their action from `capacity_check_mode`, not from
# `limit_actions`, because §4 asks for one switch that the lab flips once the
# Miltenyi IFU figures are entered; two switches for one rule would disagree.
CAPACITY_LIMITS: tuple[str, ...] = (
    "reagent_vial_target_capacity",
    "reagent_vial_total_capacity",
    "tubing_set_capacity",
)

# Refuse only what the product brief or the protocol treats as a hard stop: a
# damaged bag, an over-volume syringe for the portal vein, an expired product.
# Everything else is a warning that QA sees first in review-by-exception.
DEFAULT_LIMIT_ACTIONS: Mapping[str, Action] = MappingProxyType(
    {
        "harvest_volume_min": "warn",
        "receipt_time": "warn",
        "receipt_temperature": "warn",
        "bag_integrity": "refuse",
        "rbc_depletion_min": "warn",
        "sedimentation_tnc_recovery_min": "warn",
        "ficoll_density": "warn",
        "ficoll_g_force": "warn",
        "ficoll_spin_minutes": "warn",
        "ficoll_temperature": "warn",
        "ficoll_brake": "warn",
        "gradient_medium_grade": "warn",
        "ficoll_viability_min": "warn",
        "labelling_incubation": "warn",
        "run_alarm": "warn",
        "enrichment_purity_min": "warn",
        "enrichment_viability_min": "warn",
        "enrichment_recovery_low": "warn",
        "final_volume_max": "refuse",
        "viability_release_min": "warn",
        "dose_min": "warn",
        "dose_max": "warn",
        "transport_temperature": "warn",
        "product_expired": "refuse",
        "sonography_guidance": "warn",
        "adverse_event": "warn",
        # A recovery above 100 % plus the counting tolerance (workflows.balance).
        "recovery_above_100": "warn",
        # The weight at formulation differs from the enrolment weight by more than
        # `formulation_weight_change_max_pct`: QA checks which one is right.
        "body_weight_change": "warn",
    }
)

LIMIT_NAMES: tuple[str, ...] = (*DEFAULT_LIMIT_ACTIONS, *CAPACITY_LIMITS)

EndotoxinBasis = Literal["per_kg", "per_ml"]


def role_names(listed: str) -> tuple[str, ...]:
    """The roles of a comma-separated parameter such as `arm_blinded_roles`."""
    return tuple(name.strip() for name in listed.split(",") if name.strip())


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True)
class ProtocolParameters:
    """Limits and windows of one trial protocol version; all defaults documented."""

    # --- expiry and harvest -------------------------------------------------
    expiry_hours_after_harvest_end: float = 12.0  # [Prop] §2.7, lab stability study to confirm
    harvest_min_volume_ml: float = 150.0  # [Prop] §5 row 1 (PERFECT mean 166 ml)
    harvest_target_volume_ml: float = 200.0  # [V] ECTRX 2008 abstract, about 200 ml
    marrow_density_g_per_ml: float = 1.055  # [UNVERIFIED] §3.1, BM about 1.05-1.06 g/ml

    # --- transport and receipt ----------------------------------------------
    receipt_max_hours_after_harvest: float = 2.0  # [Prop] §5 row 2
    receipt_temperature_min_c: float = 2.0  # [Prop] §5 row 2
    receipt_temperature_max_c: float = 25.0  # [Prop] §5 row 2 (37 °C harmful)
    transport_temperature_min_c: float = 2.0  # [Prop] §5 row 13, same window as receipt
    transport_temperature_max_c: float = 25.0  # [Prop] §5 row 13

    # --- RBC sedimentation ----------------------------------------------------
    rbc_depletion_min_pct: float = 80.0  # [Prop] §5 row 3 (Donnenberg 91.2 % [V])
    sedimentation_tnc_recovery_min_pct: float = 50.0  # [Prop] §5 row 3

    # --- Ficoll-Paque MNC isolation -------------------------------------------
    ficoll_density_min_g_per_ml: float = 1.073  # [Prop] §2.3, GMP 1.073 equals 1.077
    ficoll_density_max_g_per_ml: float = 1.077  # [Prop] §2.3, Ficoll-Paque PLUS
    ficoll_g_min: float = 300.0  # [Prop] §2.3 around the generic 400 ×g [V]
    ficoll_g_max: float = 500.0  # [Prop] §2.3
    ficoll_minutes_min: float = 20.0  # [Prop] §2.3 around the generic 30-40 min [V]
    ficoll_minutes_max: float = 45.0  # [Prop] §2.3
    ficoll_temperature_min_c: float = 18.0  # [Prop] §2.3 "room temperature"
    ficoll_temperature_max_c: float = 25.0  # [Prop] §2.3, aggregation worse when warm
    ficoll_brake_off_required: bool = True  # [V] §2.3 generic protocol, brake off
    ficoll_viability_min_pct: float = 80.0  # [Prop] §5 row 5

    # --- CliniMACS CD133 enrichment -------------------------------------------
    labelling_incubation_minutes_min: float = 25.0  # [UNVERIFIED] §4 step 5, about 30 min
    labelling_incubation_minutes_max: float = 35.0  # [UNVERIFIED] §4 step 5
    enrichment_purity_min_pct: float = 70.0  # [V] Belotti 2015 final criteria
    enrichment_viability_min_pct: float = 80.0  # [V] Belotti 2015 final criteria
    enrichment_recovery_warn_below_pct: float = 20.0  # [Prop] §5 row 9 (PERFECT 23.7 %)
    cd133_reagent_vial_capacity_target_cells: float = 600e6  # [UNVERIFIED] CD34 vial figure
    cd133_reagent_vial_capacity_total_cells: float = 60e9  # [UNVERIFIED] awaiting the IFU
    tubing_set_capacity_total_cells: Mapping[str, float] = field(  # [UNVERIFIED] awaiting IFU
        default_factory=lambda: _frozen({"TS": 60e9, "LS": 120e9})
    )
    capacity_check_mode: Action = "warn"  # [Prop] §4, warn until IFU numbers entered

    # --- formulation and release ----------------------------------------------
    final_volume_max_ml: float = 10.0  # [UNVERIFIED] intraportal volume not published
    cd133_dose_min_cells: float = 1e6  # [V] Belotti 2015, viable CD133+ per product
    cd133_dose_max_cells: float = 12e6  # [V] Belotti 2015
    mnc_dose_min_cells: float = 1e8  # [V] Lyra 2007, viable MNC per product
    mnc_dose_max_cells: float = 1e10  # [Prop] above any published BM-MNC dose
    viability_release_min_pct: float = 70.0  # [V] CCTRN Table 5
    endotoxin_limit_eu_per_kg: float = 5.0  # [V] CCTRN, K for non-intrathecal routes
    endotoxin_limit_eu_per_ml: float = 0.5  # [V] Belotti Table 3, the alternative spec
    endotoxin_limit_basis: EndotoxinBasis = "per_kg"  # [Prop] which of the two applies
    # The dose per kg uses the weight taken at formulation; one further than this from the
    # enrolment weight is flagged (a typo, or a patient who lost weight: QA checks).
    formulation_weight_change_max_pct: float = 10.0  # [Prop] no published figure
    qc_late_entry_hours: float = 24.0  # [Prop] a result entered later than this is "late"
    # ALCOA "contemporaneous": a step recorded later than this after the times it reports
    # (e.g. the infusion end) is a late entry for QA's review.
    step_late_entry_hours: float = 2.0  # [Prop]

    # --- labels -------------------------------------------------------------------
    final_label_requires_release: bool = True  # [Prop] final label only once QA released
    not_evaluated_statement: bool = True  # [UNVERIFIED] 1271.90(c)(2) when testing incomplete

    # --- what each limit does when it is crossed --------------------------------
    limit_actions: Mapping[str, Action] = field(  # [Prop] see DEFAULT_LIMIT_ACTIONS
        default_factory=lambda: DEFAULT_LIMIT_ACTIONS
    )

    # --- QC figures against the figures computed from the formulation counts ----
    # A typed QC figure further from its computed twin than this opens a major deviation.
    qc_dose_tolerance_pct: float = 20.0  # [Prop] relative to the computed dose; counting CV
    qc_viability_tolerance_points: float = 5.0  # [Prop] percentage points, QC vs formulation

    # --- time integrity -------------------------------------------------------------
    # A recorded time (step, QC test, signature) may be this far ahead of the server's
    # clock (bench and OR clocks drift); beyond it, it is refused as in the future.
    clock_skew_minutes: float = 5.0  # [Prop] no published figure; set by validation
    # Storage monitoring (workflows.temperature): two readings of a location further apart
    # than this leave its temperature unknown, reported as a "no data" excursion.
    temperature_reading_gap_max_minutes: float = 60.0  # [Prop] monitoring logs every few min

    # --- cell and volume balance between containers (workflows.balance) ---------------
    # A step may take in this much more than the container it takes from holds (counting
    # error); beyond it, it is refused; a recovery above 100 % plus this is flagged.
    balance_tolerance_pct: float = 10.0  # [Prop] no published figure; proposal

    # --- what the labels say (labels.statements) ---------------------------------------
    # Storage range printed on the final label (1271.370(c)(2)); fresh cells, no stability
    # study seen: the label's former fixed 2-8 °C kept as the proposal.
    storage_temperature_min_c: float = 2.0  # [Prop] lab stability study to confirm
    storage_temperature_max_c: float = 8.0  # [Prop]
    # The investigational-use caution is the jurisdiction's (labels.statements table: US,
    # EU, IR); a non-empty caution replaces it. The trial runs in Iran.
    label_jurisdiction: str = "IR"  # [Prop] issue 9: the trial runs in Iran (Royan Institute)
    investigational_caution: str = ""  # [UNVERIFIED] IFDA wording not seen; "" = table's
    trial_identifier: str = ""  # [Prop] printed beside the caution; "" = the protocol code
    # A blinded trial keeps the arm off the labels that leave the lab (final, issue):
    # one product description for both arms and no dose.
    blinded_labels: bool = False  # [Prop] the patient is blinded, the bedside team is not
    # Markers 21 CFR 1271.85(a)-(b) names for a donor of viable, leukocyte-rich cells; until
    # each has a result and screening (1271.75) and testing (1271.80) are recorded, the final
    # label says NOT EVALUATED FOR INFECTIOUS SUBSTANCES (1271.90(c)(2)).
    infectious_markers_required: str = "HIV,HBV,HCV,syphilis,HTLV,CMV"  # [UNVERIFIED] 1271.85

    # --- scheduling (workflows.scheduling): how long the lab holds a clean room, staff and,
    # for CD133, a CliniMACS per step, and how long release takes before an infusion.
    schedule_receipt_minutes: float = 60.0  # [Prop] §5 row 2, receipt ≤ 2 h after harvest
    schedule_sedimentation_minutes: float = 60.0  # [Prop] §5 row 3, HES sedimentation
    schedule_ficoll_minutes: float = 90.0  # [Prop] §2.3 spin 30-40 min [V] plus washes
    schedule_enrichment_minutes: float = 180.0  # [Prop] §2.5 CliniMACS CD133 "< 3 h" [V]
    schedule_formulation_minutes: float = 30.0  # [Prop] no published figure
    schedule_release_minutes: float = 60.0  # [Prop] Gram stain, endotoxin, QA release

    # --- clinical follow-up after each administration (workflows.follow_up) ---------------
    # "patients are followed up every week for 4 weeks, and laboratory data are analyzed
    # for 24 weeks" (trial text, NCT00713934); days and weeks after the administration day.
    follow_up_weekly_visit_days: str = "7,14,21,28"  # [V] trial text, weekly for 4 weeks
    # Which weeks up to 24 have a laboratory visit is not published: 4-weekly after week 4,
    # with months 3 and 6 (weeks 12, 24) where SCTM 2016 measured MELD [Prop].
    follow_up_lab_visit_weeks: str = "8,12,16,20,24"  # [V] to week 24; the weeks [Prop]
    follow_up_weekly_window_days: float = 2.0  # [Prop] ± days a weekly visit is on time
    follow_up_lab_window_days: float = 7.0  # [Prop] ± days a laboratory visit is on time

    # --- follow-up outcomes (workflows.blinding) -----------------------------------------
    # Roles (comma-separated, workflows.roles values) that must not see a patient's arm on
    # the follow-up and outcome views, e.g. "physician" when the physician who assesses MELD
    # must stay blind. The registry says "Single Blind" (the participant) and the product
    # brief "the lab sees the arm; the patient is blinded": no user role is blinded.
    arm_blinded_roles: str = ""  # [V] NCT00713934 masking "Single Blind"; product.md

    def __post_init__(self) -> None:
        wrong = [
            problem
            for f in dataclasses.fields(self)
            if (problem := _type_problem(f.name, _default_of(f), getattr(self, f.name)))
        ]
        if wrong:
            raise ValueError("invalid protocol parameters: " + "; ".join(wrong))
        for f in dataclasses.fields(self):
            if isinstance(f.default, float) and isinstance(getattr(self, f.name), int):
                # JSON and forms give 150 for 150.0; keep one type per field.
                object.__setattr__(self, f.name, float(getattr(self, f.name)))
        object.__setattr__(self, "limit_actions", _merge_actions(self.limit_actions))
        tubing = {str(k): float(v) for k, v in self.tubing_set_capacity_total_cells.items()}
        object.__setattr__(self, "tubing_set_capacity_total_cells", _frozen(tubing))
        problems = _check_values(self)
        if problems:
            raise ValueError("invalid protocol parameters: " + "; ".join(problems))

    def __hash__(self) -> int:
        # The generated hash would fail on the mapping fields; params are used as
        # cache keys, so hash the canonical mapping instead.
        items = []
        for key, value in sorted(self.to_mapping().items()):
            items.append((key, tuple(sorted(value.items())) if isinstance(value, dict) else value))
        return hash(tuple(items))

    def action_for(self, limit: str) -> Action:
        """What crossing `limit` does: "warn" (record, QA sees it) or "refuse"."""
        if limit in CAPACITY_LIMITS:
            return self.capacity_check_mode
        try:
            return self.limit_actions[limit]
        except KeyError:
            raise ValueError(f"unknown limit {limit!r}") from None

    def dose_range(self, arm: str) -> tuple[float, float]:
        """Viable-cell dose window per product for the arm (CD133+ or MNC)."""
        if arm == "CD133":
            return self.cd133_dose_min_cells, self.cd133_dose_max_cells
        if arm == "BM-MNC":
            return self.mnc_dose_min_cells, self.mnc_dose_max_cells
        raise ValueError(f"unknown arm {arm!r}; expected 'CD133' or 'BM-MNC'")

    def to_mapping(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict; `from_mapping(p.to_mapping()) == p`."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = dict(value) if isinstance(value, Mapping) else value
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProtocolParameters:
        """Build from stored configuration; absent keys keep their defaults.

        `limit_actions` is merged over the defaults, so a configuration names
        only the limits it changes. Raises ValueError naming every unknown key,
        wrong type and impossible value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(f"invalid protocol parameters: unknown parameters {unknown}")
        return cls(**dict(data))


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_problem(key: str, default: Any, value: Any) -> str | None:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        expected = "true or false"
    elif isinstance(default, float):
        ok = _is_number(value)
        expected = "a number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        expected = "text"
    else:
        ok = isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
        expected = "a mapping with text keys"
        if ok and key == "tubing_set_capacity_total_cells":
            ok = all(_is_number(v) for v in value.values())
            expected = "a mapping of tubing-set type to a number of cells"
    return None if ok else f"{key} must be {expected}, got {value!r}"


def _merge_actions(given: Mapping[str, Any]) -> Mapping[str, Action]:
    unknown = [k for k in given if k not in DEFAULT_LIMIT_ACTIONS]
    capacity = [k for k in unknown if k in CAPACITY_LIMITS]
    if capacity:
        raise ValueError(
            f"limit_actions cannot set {capacity}; capacity checks follow capacity_check_mode"
        )
    if unknown:
        raise ValueError(f"limit_actions names unknown limits {sorted(unknown)}")
    bad = {k: v for k, v in given.items() if v not in ACTIONS}
    if bad:
        raise ValueError(f"limit_actions values must be 'warn' or 'refuse', got {bad}")
    merged: dict[str, Action] = {**DEFAULT_LIMIT_ACTIONS, **given}
    return MappingProxyType(merged)


_RANGES: tuple[tuple[str, str], ...] = (
    ("receipt_temperature_min_c", "receipt_temperature_max_c"),
    ("transport_temperature_min_c", "transport_temperature_max_c"),
    ("ficoll_density_min_g_per_ml", "ficoll_density_max_g_per_ml"),
    ("ficoll_g_min", "ficoll_g_max"),
    ("ficoll_minutes_min", "ficoll_minutes_max"),
    ("ficoll_temperature_min_c", "ficoll_temperature_max_c"),
    ("labelling_incubation_minutes_min", "labelling_incubation_minutes_max"),
    ("cd133_dose_min_cells", "cd133_dose_max_cells"),
    ("mnc_dose_min_cells", "mnc_dose_max_cells"),
    ("harvest_min_volume_ml", "harvest_target_volume_ml"),
    ("storage_temperature_min_c", "storage_temperature_max_c"),
)

_PERCENTAGES: tuple[str, ...] = (
    "rbc_depletion_min_pct",
    "sedimentation_tnc_recovery_min_pct",
    "ficoll_viability_min_pct",
    "enrichment_purity_min_pct",
    "enrichment_viability_min_pct",
    "enrichment_recovery_warn_below_pct",
    "viability_release_min_pct",
)

# Temperatures may legitimately be below zero; every other figure is an amount.
_SIGNED: frozenset[str] = frozenset(
    name for pair in _RANGES for name in pair if name.endswith("_c")
)


def _check_values(p: ProtocolParameters) -> list[str]:
    problems: list[str] = []
    for f in dataclasses.fields(p):
        value = getattr(p, f.name)
        if not isinstance(f.default, float):
            continue
        if not math.isfinite(value):
            problems.append(f"{f.name} must be a finite number, got {value!r}")
        elif f.name not in _SIGNED and value < 0:
            problems.append(f"{f.name} must not be negative, got {value!r}")
    for name in _PERCENTAGES:
        if not 0 <= getattr(p, name) <= 100:
            problems.append(f"{name} must be between 0 and 100, got {getattr(p, name)!r}")
    for low, high in _RANGES:
        if getattr(p, low) > getattr(p, high):
            problems.append(f"{low} ({getattr(p, low)}) is above {high} ({getattr(p, high)})")
    for name in ("marrow_density_g_per_ml", "expiry_hours_after_harvest_end",
                 "temperature_reading_gap_max_minutes"):
        if getattr(p, name) == 0:
            problems.append(f"{name} must be above zero")
    if p.capacity_check_mode not in ACTIONS:
        problems.append(
            f"capacity_check_mode must be 'warn' or 'refuse', got {p.capacity_check_mode!r}"
        )
    if p.endotoxin_limit_basis not in ("per_kg", "per_ml"):
        problems.append(
            f"endotoxin_limit_basis must be 'per_kg' or 'per_ml', got {p.endotoxin_limit_basis!r}"
        )
    unknown_roles = sorted(set(role_names(p.arm_blinded_roles)) - {r.value for r in Role})
    if unknown_roles:
        problems.append(f"arm_blinded_roles names unknown roles {unknown_roles}")
    for name in ("follow_up_weekly_visit_days", "follow_up_lab_visit_weeks"):
        if not _whole_numbers(getattr(p, name)):
            problems.append(f"{name} must list whole numbers from 1 to 400 separated by "
                            f"commas, got {getattr(p, name)!r}")
    for kind, cells in p.tubing_set_capacity_total_cells.items():
        if not math.isfinite(cells) or cells <= 0:
            problems.append(f"tubing set {kind!r} capacity must be a positive number of cells")
    return problems


def _whole_numbers(text: str) -> bool:
    """A follow-up schedule: "7,14,21,28" (whole days or weeks, 1 to 400, each once)."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isascii() and part.isdigit() for part in parts):
        return False
    numbers = [int(part) for part in parts]
    return all(1 <= n <= 400 for n in numbers) and len(set(numbers)) == len(numbers)
