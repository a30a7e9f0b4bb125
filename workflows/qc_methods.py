"""How each QC test is performed: the methods the lab uses, and the instrument each needs.

A QC result names its method (one of the test's methods, in the lab's words) and, where
the method runs on an instrument, the instrument (an equipment code from the master data,
of the type the method needs, in calibration on the day of the test). A result without
them cannot be traced to how it was obtained (ALCOA: attributable, original).

A sample for QC is drawn from the final product: when and how much is part of the result
(`check_sample`), and the volume the QC samples took is no longer in the product
(`drawn_from_final`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from workflows.materials import EQUIPMENT_NAMES, EquipmentType

_E = EquipmentType
# test -> {method: the instrument type it runs on, or None for a method without one}
QC_METHODS: Mapping[str, Mapping[str, EquipmentType | None]] = MappingProxyType({
    "viability": {"7-AAD flow cytometry": _E.FLOW_CYTOMETER,
                  "trypan blue exclusion (automated)": _E.CELL_COUNTER},
    "viable_dose": {"single-platform flow cytometry (ISHAGE)": _E.FLOW_CYTOMETER,
                    "automated cell count × viability": _E.CELL_COUNTER},
    "cd133_purity": {"flow cytometry (CD133/CD45/7-AAD)": _E.FLOW_CYTOMETER},
    "gram_stain": {"Gram stain, microscopy": None},
    "endotoxin": {"LAL kinetic chromogenic": _E.ENDOTOXIN_READER,
                  "LAL kinetic turbidimetric": _E.ENDOTOXIN_READER,
                  "LAL gel clot": None},
    "sterility": {"automated culture (aerobic/anaerobic bottles)": None,
                  "compendial culture (membrane filtration)": None},
    "mycoplasma": {"PCR (nucleic acid amplification)": None, "culture": None},
})

# Physical bounds of one QC sample: a test takes some of the product, never litres.
SAMPLE_VOLUME_MAX_ML = 50.0


@dataclass(frozen=True)
class Method:
    """A QC result's method as the lab names it, and the instrument type it needs."""

    name: str
    instrument: EquipmentType | None


def method_of(test: str, text: str) -> Method:
    """The method `text` names for `test` (case and spacing ignored); ValueError naming the
    test's methods otherwise."""
    methods = QC_METHODS.get(test, {})
    wanted = " ".join(text.split()).casefold()
    for name, instrument in methods.items():
        if name.casefold() == wanted:
            return Method(name, instrument)
    if not wanted:
        raise ValueError(f"the method is required: one of {_choices(methods)}")
    raise ValueError(f"{text!r} is not a method of this test: enter one of {_choices(methods)}")


def instrument_problem(method: Method, instrument: str) -> str | None:
    """Why `instrument` cannot go with `method` (missing where needed, given where not)."""
    if method.instrument is not None and not instrument.strip():
        name = EQUIPMENT_NAMES[method.instrument]
        return f"{method.name} runs on a {name}: enter its equipment code"
    if method.instrument is None and instrument.strip():
        return f"{method.name} uses no instrument: leave the instrument empty"
    return None


def check_sample(drawn_at: datetime, volume_ml: float, *, formulated_at: datetime | None,
                 tested_at: datetime) -> dict[str, str]:
    """Problems of a QC sample's draw, by field: drawn before the product was formulated,
    tested before it was drawn, or a volume that cannot be real."""
    problems: dict[str, str] = {}
    if formulated_at is not None and drawn_at < formulated_at.replace(second=0, microsecond=0):
        problems["sample_drawn_at"] = (f"{_shown(drawn_at)} is before the final product was "
                                       f"formulated ({_shown(formulated_at)})")
    if tested_at < drawn_at.replace(second=0, microsecond=0):
        problems["tested_at"] = (f"{_shown(tested_at)} is before the sample was drawn "
                                 f"({_shown(drawn_at)})")
    if not 0 < volume_ml <= SAMPLE_VOLUME_MAX_ML:
        problems["sample_volume_ml"] = (f"must be above 0 and at most {SAMPLE_VOLUME_MAX_ML:g} "
                                        f"ml, got {volume_ml:g}")
    return problems


def drawn_from_final(samples_at_formulation_ml: float | None,
                     results_ml: Iterable[float]) -> float:
    """Volume the QC sampling took from the final product.

    QC results use the samples drawn at formulation first; whatever the results report
    beyond those was drawn from the final product later (a pre-issue sterility sample).
    Tubes filled at formulation whose volume was not given (None) were drawn before the
    final volume was measured: the results came from them, and the product lost nothing
    that its final volume does not already show.
    """
    if samples_at_formulation_ml is None:
        return 0.0
    return max(samples_at_formulation_ml, sum(results_ml))


def _choices(methods: Mapping[str, object]) -> str:
    return "; ".join(methods) or "none (unknown test)"


def _shown(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")
