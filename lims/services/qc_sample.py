"""What a QC result says about how it was obtained: the method and instrument, and the
sample drawn from the final product (when, how much), checked against the record.

Nothing here commits; lims.services.qc calls these inside its one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from lims.config import get_settings
from lims.models import Container, Equipment, Patient, Product, QcResult, StepRecord
from lims.services.step_store import as_stored_moment
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.identity import ContainerKind
from workflows.materials import EquipmentType, wrong_equipment
from workflows.qc_methods import check_sample, drawn_from_final, instrument_problem, method_of
from workflows.typed_text import free_text_problem, identifier_problem


@dataclass(frozen=True)
class Sampling:
    """How a QC result was obtained, as it will be stored."""

    method: str
    instrument: str
    drawn_at: datetime
    volume_ml: float


def formulation_record(session: Session, product: Product) -> StepRecord | None:
    """The product's current formulation record (a corrected one replaces the original)."""
    return session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id, StepRecord.step == "formulate",
        col(StepRecord.superseded).is_(False)).order_by(col(StepRecord.id).desc())).first()


def dose_weight_kg(session: Session, product: Product) -> float:
    """The body weight the dose per kg and the per-kg endotoxin limit use: the one taken at
    formulation; the enrolment weight only for a record made before formulation weighed."""
    record = formulation_record(session, product)
    weight = record.values.get("weight_kg") if record is not None else None
    if isinstance(weight, int | float) and not isinstance(weight, bool) and weight > 0:
        return float(weight)
    patient = session.get(Patient, product.patient_id)
    return patient.weight_kg if patient is not None else 0.0


def formulated_at(session: Session, product: Product) -> datetime | None:
    """When the final product was made: the formulation's end, else when it was recorded."""
    record = formulation_record(session, product)
    if record is None:
        return None
    return as_stored_moment(record.values.get("ended_at")) or record.performed_at


def sampling(session: Session, *, product: Product, test: str, method: str, instrument: str,
             drawn_at: datetime, volume_ml: float, tested_at: datetime,
             replaces: QcResult | None) -> Sampling:
    """The method, instrument and sample draw of a result, checked; InvalidInput naming each
    problem otherwise. A result that replaces another (a correction, a culture completed)
    was obtained from the same sample, so its draw is the earlier result's."""
    # The method is one of the test's (their names have a '×'); the instrument is an
    # equipment ID, matched character by character: printable ASCII only.
    for label, problem in (("method", free_text_problem(method)),
                           ("instrument", identifier_problem(instrument.strip()))):
        if problem is not None:
            raise InvalidInput(f"{label}: {problem}")
    try:
        found = method_of(test, method)
    except ValueError as error:
        raise InvalidInput(f"method: {error}") from None
    problem = instrument_problem(found, instrument)
    if problem is not None:
        raise InvalidInput(f"instrument: {problem}")
    if found.instrument is not None:
        _instrument_usable(session, instrument.strip(), found.instrument, tested_at)
    problems = check_sample(drawn_at, volume_ml, formulated_at=formulated_at(session, product),
                            tested_at=tested_at)
    if replaces is None:
        problems.update(_too_much(session, product, volume_ml))
    if problems:
        raise InvalidInput("; ".join(f"{name}: {text}" for name, text in problems.items()))
    return Sampling(found.name, instrument.strip(), drawn_at, volume_ml)


def _instrument_usable(session: Session, code: str, wanted: EquipmentType,
                       tested_at: datetime) -> None:
    row = session.exec(select(Equipment).where(Equipment.code == code)).first()
    if row is None:
        raise DomainError(ErrorCode.EQUIPMENT_UNKNOWN,
                          f"instrument: equipment {code} is not registered")
    wrong = wrong_equipment(row.code, row.kind, wanted)
    if wrong is not None:
        raise DomainError(ErrorCode.EQUIPMENT_WRONG_KIND, f"instrument: {wrong}")
    if row.calibration_due < _day_of(tested_at):
        raise DomainError(ErrorCode.EQUIPMENT_OUT_OF_CALIBRATION,
                          f"instrument: {row.kind} {row.code} calibration was due "
                          f"{row.calibration_due.isoformat()}, before the test")


def _day_of(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(get_settings().time_zone)).date()


def qc_draws_ml(session: Session, product: Product) -> list[float]:
    """The sample volumes the product's current QC results report."""
    rows = session.exec(select(QcResult.sample_volume_ml).where(
        QcResult.product_id == product.id, col(QcResult.superseded).is_(False)))
    return [v for v in rows if v]


def _too_much(session: Session, product: Product, volume_ml: float) -> dict[str, str]:
    """A draw that would take more than the final product and its QC samples hold."""
    final = session.exec(select(Container.volume_ml).where(
        Container.product_id == product.id,
        Container.kind == ContainerKind.FINAL_PRODUCT.value)).first()
    if not final:
        return {}
    samples = _samples_at_formulation(session, product)
    taken = drawn_from_final(samples, [*qc_draws_ml(session, product), volume_ml])
    if taken < final:
        return {}
    return {"sample_volume_ml": f"QC samples would then take {taken:g} ml of the {final:g} ml "
                                "final product: nothing would be left to administer"}


def _samples_at_formulation(session: Session, product: Product) -> float | None:
    """Volume of the tubes filled at formulation; None when some tube's volume was not given
    (they were drawn before the final volume was measured: see drawn_from_final)."""
    rows = session.exec(select(Container).where(
        Container.product_id == product.id, Container.kind == ContainerKind.QC_SAMPLE.value))
    volumes = [row.volume_ml for row in rows]
    return None if any(v is None for v in volumes) else sum(v or 0.0 for v in volumes)
