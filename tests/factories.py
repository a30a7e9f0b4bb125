"""Factory helpers for integration tests: a seeded lab and products at any state.

Everything goes through the real services (the same calls the UI and the API make);
nothing here writes to a table directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from lims import demo_data as data
from lims.demo import PASSWORDS, DemoRun
from lims.models import (
    AuditEvent,
    CoiEvent,
    Container,
    Patient,
    Product,
    Protocol,
    QcResult,
    Signature,
    StepRecord,
)
from lims.services.common import utcnow
from lims.services.harvests import schedule_harvest
from lims.services.qc import complete_qc, record_qc_result
from lims.services.qc_sample import formulated_at
from lims.services.queries import container_scan_text
from lims.services.release import release_product
from lims.services.seed import load_seed, seed
from lims.services.steps import StepResult, perform_step
from lims.services.witness import PHYSICIAN_SIGNED_STEPS
from workflows.identity import WRISTBAND_STEPS, input_kind
from workflows.isbt128 import encode_patient_id
from workflows.product import ProductState


def seeded(session: Session) -> DemoRun:
    """Seed the demo trial, users, lots and equipment; return a runner for products."""
    seed(session, load_seed(demo=True), progress=lambda _m: None)
    return DemoRun(session, say=lambda _m: None)


def make_patient(run: DemoRun, arm: str = "CD133", weight: float = 70.0) -> Patient:
    return run.enrol(arm, weight)


# --- the process, step by step ------------------------------------------------------------

# Minutes after harvest end at which each step is performed (all well inside the 12 h expiry).
STEP_MINUTES = {"harvest": 0, "receive": 40, "sediment": 100, "isolate_mnc": 175,
                "enrich": 285, "formulate": 305, "complete_qc": 340, "release": 355,
                "issue": 365, "administer": 395}
# How long ago a product's harvest ends by default: the whole timeline above (to the end of
# the infusion, 407 min) is then in the past by the server's clock, inside the 12 h expiry.
DEFAULT_AGE = timedelta(hours=7)
# Who performs and who witnesses each step by default (the demo's people).
OPERATOR = {"administer": "doc1"}
WITNESS = {"harvest": "doc1", "receive": None, "issue": "doc1", "administer": "doc2"}
# The state a product is in after each step.
STATE_AFTER = {"harvest": ProductState.COLLECTED, "receive": ProductState.RECEIVED,
               "sediment": ProductState.RBC_REDUCED, "isolate_mnc": ProductState.MNC_ISOLATED,
               "enrich": ProductState.ENRICHED, "formulate": ProductState.FORMULATED,
               "complete_qc": ProductState.AWAITING_RELEASE, "release": ProductState.RELEASED,
               "issue": ProductState.ISSUED, "administer": ProductState.ADMINISTERED}


def process_steps(arm: str) -> list[str]:
    """Every step a product of `arm` goes through, in order."""
    steps = list(STEP_MINUTES)
    return steps if arm == "CD133" else [s for s in steps if s != "enrich"]


def step_before(state: str, arm: str) -> list[str]:
    """The steps that take a newly scheduled product of `arm` to `state`."""
    if state == ProductState.SCHEDULED:
        return []
    steps = process_steps(arm)
    for index, step in enumerate(steps):
        if STATE_AFTER[step] == state:
            return steps[: index + 1]
    raise ValueError(f"no step of the {arm} arm leads to {state!r}")


def step_time(product: Product, step: str) -> datetime:
    """When `step` is performed on `product` in the factory's timeline."""
    assert product.harvest_end is not None or step == "harvest"
    # Not harvested yet: the harvest ends 7 h ago, so every later step is in the past too.
    t0 = product.harvest_end if product.harvest_end is not None else utcnow() - DEFAULT_AGE
    return t0 + timedelta(minutes=STEP_MINUTES[step])


def step_values(step: str, arm: str, at: datetime) -> dict[str, Any]:
    """Plausible, in-specification data for `step` performed at `at` (demo figures)."""
    t0 = at - timedelta(minutes=STEP_MINUTES[step])  # harvest end
    return {
        "harvest": lambda: data.harvest(at),
        "receive": lambda: data.receive(t0),
        "sediment": lambda: data.sediment(at),
        "isolate_mnc": lambda: data.isolate_mnc(at),
        "enrich": lambda: data.enrich(at - timedelta(minutes=110)),
        "formulate": lambda: data.formulate(arm, at),
        "issue": lambda: data.issue(at),
        "administer": lambda: data.administer(at),
    }[step]()


def container_of(session: Session, product: Product, kind: str,
                 status: str | None = "in_use") -> Container:
    query = select(Container).where(Container.product_id == product.id, Container.kind == kind)
    if status is not None:
        query = query.where(Container.status == status)
    found = session.exec(query.order_by(col(Container.id))).first()
    assert found is not None, f"product {product.din} has no {kind} ({status})"
    return found


def scan_of(session: Session, product: Product, kind: str, status: str | None = None) -> str:
    """What the scanner types for the product's container of `kind` (its 2-D code)."""
    return container_scan_text(product, container_of(session, product, kind, status))


def wristband_of(patient: Patient) -> str:
    return encode_patient_id(patient.mrn)


_DEFAULT: Any = object()


def perform(run: DemoRun, product: Product, step: str, *, at: datetime | None = None,
            scan: str | None = _DEFAULT, values: dict[str, Any] | None = None,
            operator: str | None = None, witness: str | None = _DEFAULT,
            witness_password: str | None = _DEFAULT, wristband: str | None = _DEFAULT,
            patient: Patient | None = None, physician: str | None = _DEFAULT,
            physician_password: str | None = _DEFAULT) -> StepResult:
    """Perform one processing step with correct defaults; any argument may be made wrong.

    At the bedside the operator signs as the administering physician by default."""
    session = run.session
    at = at or step_time(product, step)
    if scan is _DEFAULT:
        kind = input_kind(step, product.arm)
        scan = scan_of(session, product, kind.value, "in_use") if kind else None
    operator = operator or OPERATOR.get(step, "tech1")
    if witness is _DEFAULT:
        witness = WITNESS.get(step, "tech2")
    if witness_password is _DEFAULT:
        witness_password = PASSWORDS.get(witness) if witness else None
    if wristband is _DEFAULT:
        if step in WRISTBAND_STEPS:
            patient = patient or session.get(Patient, product.patient_id)
            assert patient is not None
            wristband = wristband_of(patient)
        else:
            wristband = None
    result = perform_step(session, actor=run.user(operator), din=product.din, step=step,
                          scan=scan, values=values if values is not None
                          else step_values(step, product.arm, at),
                          witness=witness, witness_password=witness_password,
                          wristband=wristband, expected_version=product.version, now=at,
                          **_physician_signature(step, operator, physician, physician_password))
    run.label_all(result.product)  # print-then-scan every new label, as the bench does
    return result


def _physician_signature(step: str, operator: str, physician: str | None,
                         password: str | None) -> dict[str, str | None]:
    if step not in PHYSICIAN_SIGNED_STEPS:
        return {}
    physician = operator if physician is _DEFAULT else physician
    if password is _DEFAULT:
        password = PASSWORDS.get(physician) if physician else None
    return {"physician": physician, "physician_password": password}


def enter_qc(run: DemoRun, product: Product, results: dict[str, str] | None = None,
             at: datetime | None = None) -> None:
    """Enter QC results (default: the demo's in-specification set) as tech2."""
    at = at or step_time(product, "complete_qc") - timedelta(minutes=30)
    for test, value in (results if results is not None else data.qc_results(product.arm)).items():
        record_qc_result(run.session, actor=run.user("tech2"), din=product.din, test=test,
                         value=value, now=at, **qc_sample(product, test, at))


def qc_sample_of(session: Session, din: str, test: str) -> dict[str, Any]:
    """Method, instrument and sample draw of a QC result of the product `din`: the demo's
    method, a 0.1 ml sample drawn a minute after the formulation ended."""
    product = session.exec(select(Product).where(Product.din == din)).one()
    formulated = formulated_at(session, product)
    assert formulated is not None, f"product {din} is not formulated"
    return data.qc_sample(test, formulated + timedelta(minutes=1))


def qc_json(session: Session, din: str, test: str) -> dict[str, Any]:
    """The same as a JSON request body's fields (times as ISO-8601 text)."""
    sample = qc_sample_of(session, din, test)
    return {**sample, "sample_drawn_at": sample["sample_drawn_at"].isoformat()}


def qc_sample(product: Product, test: str, at: datetime) -> dict[str, Any]:
    """Method, instrument and sample draw of a QC result entered at `at`: drawn just after
    formulation (or at `at`, for a product formulated outside the factory's timeline)."""
    drawn = step_time(product, "formulate") if product.harvest_end is not None else at
    return data.qc_sample(test, min(drawn, at))


def advance(run: DemoRun, product: Product, until: str) -> Product:
    """Take `product` from its current state through the process until it is `until`."""
    steps = step_before(until, product.arm)
    done = set(step_before(product.state, product.arm))
    for step in steps:
        if step in done:
            continue
        at = step_time(product, step)
        if step == "complete_qc":
            enter_qc(run, product)
            product = complete_qc(run.session, actor=run.user("tech2"), din=product.din, now=at)
        elif step == "release":
            acknowledge_all(run, product, at=at - timedelta(minutes=1))
            product = release_product(run.session, actor=run.user("qa1"), din=product.din,
                                      password=PASSWORDS["qa1"], now=at)
            run.label_all(product)  # the final label, once QA has released
        else:
            product = perform(run, product, step, at=at).product
        assert product.state == STATE_AFTER[step], (step, product.state)
    return product


def acknowledge_all(run: DemoRun, product: Product, *, at: datetime | None = None,
                    reviewer: str = "qa1") -> None:
    """QA acknowledges every current exception of the product's review (with a comment),
    as it must before signing a release."""
    run.acknowledge_exceptions(product, at or utcnow(), reviewer)


def schedule(run: DemoRun, patient: Patient, t0: datetime) -> Product:
    product = schedule_harvest(run.session, actor=run.user("tech1"),
                               subject_id=patient.subject_id, now=t0 - timedelta(hours=1))
    run.label_all(product)  # the collection label, printed and scanned back
    return product


def make_product(run: DemoRun, *, arm: str = "CD133", until: str = "received",
                 t0: datetime | None = None, patient: Patient | None = None,
                 ) -> tuple[Product, Patient]:
    """A product of a new (or the given) patient, harvest ending at `t0` (default 7 h ago,
    so that every step up to administration is in the past by the server's clock: no
    recorded time may be in the future), processed through the real services until it is
    in state `until`."""
    patient = patient or make_patient(run, arm)
    t0 = t0 or utcnow() - DEFAULT_AGE
    product = schedule(run, patient, t0)
    if until == ProductState.SCHEDULED:
        return product, patient
    product = perform(run, product, "harvest", at=t0).product
    return advance(run, product, until), patient


def set_protocol_parameter(session: Session, name: str, value: object) -> None:
    """What the lab manager does in the protocol configuration: one parameter changes."""
    protocol = session.exec(select(Protocol)).one()
    protocol.parameters = {**protocol.parameters, name: value}
    session.add(protocol)
    session.commit()


# --- what the database holds --------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """Everything a refused action must leave untouched."""

    state: str
    version: int
    held_from: str | None
    step_records: int
    containers: tuple[tuple[int, str, str], ...]
    qc_results: int
    signatures: int


def snapshot(session: Session, din: str) -> Snapshot:
    """The product's rows as the database holds them.

    Commits first: whatever a refused service left staged in the session would be written
    by the caller's next commit, so it must show here.
    """
    session.commit()
    state, version, held_from, product_id = session.exec(select(
        Product.state, Product.version, Product.held_from, Product.id).where(
        Product.din == din)).one()
    containers = tuple(session.exec(select(Container.id, Container.kind, Container.status).where(
        Container.product_id == product_id).order_by(col(Container.id))).all())
    return Snapshot(state, version, held_from,
                    _count(session, StepRecord, StepRecord.product_id == product_id),
                    containers,
                    _count(session, QcResult, QcResult.product_id == product_id),
                    _count(session, Signature, Signature.product_id == product_id))


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def audit_count(session: Session, action: str | None = None) -> int:
    session.commit()
    if action is None:
        return _count(session, AuditEvent)
    return _count(session, AuditEvent, AuditEvent.action == action)


def coi_events(session: Session, product: Product) -> list[CoiEvent]:
    session.commit()
    return list(session.exec(select(CoiEvent).where(CoiEvent.product_id == product.id)
                             .order_by(col(CoiEvent.id))))

__all__ = ["PASSWORDS", "Snapshot", "advance", "audit_count", "coi_events", "container_of",
           "enter_qc", "make_patient", "make_product", "perform", "process_steps",
           "scan_of", "seeded", "set_protocol_parameter", "snapshot", "step_time",
           "step_values", "wristband_of"]


def demo_with_occasional_records(session: Session) -> DemoRun:
    """The demo lab, plus what it lacks: a deviation, a refused scan, an open alert and
    its notification, each on a product of its own (committed)."""
    from lims.demo import run_demo
    from lims.services.alerts import raise_post_release_alert
    from lims.services.deviations import raise_deviation
    from workflows.errors import IdentityMismatch

    run = seeded(session)
    run_demo(session, say=lambda _m: None)
    deviated, _ = make_product(run, until="received")
    raise_deviation(session, actor=run.user("tech1"), din=deviated.din, step="sediment",
                    description="centrifuge lid alarm", classification="minor")
    refused, _ = make_product(run, until="received")
    try:
        perform(run, refused, "sediment", scan=scan_of(session, deviated, "marrow_bag"))
    except IdentityMismatch:
        pass
    else:
        raise AssertionError("another product's bag was accepted")
    alerted, _ = make_product(run, until="received")
    raise_post_release_alert(session, product=alerted, test="sterility", value="positive")
    session.commit()
    return run
