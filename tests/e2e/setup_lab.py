"""The lab the browser tests start from (development), built through the services as `lims
init`, `lims seed --demo` and earlier work would leave it: a history of products (for the QC
trends and the QA queue), an enrolled CD133 patient for the browser to take through the whole
path, and another patient whose collection bag is the "wrong" container scanned by mistake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from lims import demo_data as data
from lims.db import make_engine
from lims.demo import PASSWORDS, DemoRun
from lims.migrate import upgrade
from lims.models import Container, Patient, Product
from lims.services.common import utcnow
from lims.services.dispositions import discard_product, expire_product
from lims.services.qc import complete_qc, record_qc_result
from lims.services.queries import container_scan_text
from lims.services.release import reject_product, release_product
from lims.services.seed import load_seed, seed
from tests.factories import (
    acknowledge_all,
    advance,
    enter_qc,
    make_patient,
    make_product,
    perform,
    qc_sample_of,
    scan_of,
    schedule,
    step_time,
)

# Earlier CD133 products: (days ago, target cells/µL, purity %, QC viability %, QC dose).
CD133_HISTORY = [(9, 950, 88.4, "97.1", "4.46e6"), (8, 1200, 91.0, "95.2", "5.6e6"),
                 (6, 700, 79.5, "93.8", "3.1e6"), (5, 1500, 62.0, "88.0", "6.9e6"),
                 (3, 820, 85.1, "66.0", "3.8e6"), (2, 1100, 90.2, "96.4", "5.2e6")]
# Earlier BM-MNC products: (days ago, QC viability %, QC dose).
MNC_HISTORY = [(7, "95.4", "4.39e8"), (4, "92.0", "3.2e8"), (1, "96.8", "5.1e8")]


@dataclass(frozen=True)
class Cast:
    """Who the browser test works with."""

    subject_id: str  # the CD133 patient taken through every step in the browser
    mrn: str  # on that patient's wristband
    other_subject_id: str  # whose bag is scanned by mistake


def prepare(database_url: str) -> Cast:
    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        seed(session, load_seed(demo=True), progress=lambda _m: None)
        run = DemoRun(session, say=lambda _m: None)
        for days, cells, purity, viability, dose in CD133_HISTORY:
            _cd133(run, days, cells, purity, {"viability": viability, "viable_dose": dose,
                                              "cd133_purity": f"{purity}"})
        for days, viability, dose in MNC_HISTORY:
            _finish(run, make_product(run, arm="BM-MNC", until="formulated",
                                      t0=utcnow() - timedelta(days=days))[0],
                    {"viability": viability, "viable_dose": dose})
        waiting, _ = make_product(run, arm="CD133", until="formulated",
                                  t0=utcnow() - timedelta(hours=7))
        enter_qc(run, waiting)
        complete_qc(session, actor=run.user("tech2"), din=waiting.din)  # in the QA queue
        main = make_patient(run, "CD133", 72.0)
        other = make_patient(run, "CD133", 64.0)
        schedule(run, other, utcnow() - timedelta(hours=1))
        cast = Cast(main.subject_id, main.mrn, other.subject_id)
    engine.dispose()
    return cast


def _cd133(run: DemoRun, days: int, cells: float, purity: float,
           results: dict[str, str]) -> None:
    product, _ = make_product(run, arm="CD133", until="mnc_isolated",
                              t0=utcnow() - timedelta(days=days))
    at = step_time(product, "enrich")
    values = {**data.enrich(at - timedelta(minutes=110)), "target_cells_per_ul": cells,
              "cd133_purity_pct": purity}
    result = perform(run, product, "enrich", at=at, values=values)
    # The formulation holds no more cells than the target fraction gave it (cell balance):
    # the demo's 5.2e6, or 95 % of a smaller fraction.
    at = step_time(product, "formulate")
    total = min(5.2e6, 0.95 * result.record.computed["target_cells"])
    formulated = perform(run, result.product, "formulate", at=at,
                         values={**data.formulate("CD133", at), "total_cells": total}).product
    _finish(run, formulated, results)


def _finish(run: DemoRun, product: Product, results: dict[str, str]) -> None:
    """QC, then release and administration, or rejection and discard when out of spec."""
    at = step_time(product, "complete_qc")
    enter_qc(run, product, {**data.qc_results(product.arm), **results})
    product = complete_qc(run.session, actor=run.user("tech2"), din=product.din, now=at)
    acknowledge_all(run, product, at=at + timedelta(minutes=14))
    try:
        product = release_product(run.session, actor=run.user("qa1"), din=product.din,
                                  password=PASSWORDS["qa1"], now=at + timedelta(minutes=15))
    except Exception:  # out of specification: QA rejects, the supervisor discards
        reject_product(run.session, actor=run.user("qa1"), din=product.din,
                       password=PASSWORDS["qa1"], reason="QC out of specification",
                       now=at + timedelta(minutes=15))
        discard_product(run.session, actor=run.user("super1"), din=product.din,
                        reason="rejected by QA", password=PASSWORDS["super1"],
                        now=at + timedelta(minutes=30))
        return
    run.label_all(product)
    if product.expires_at is not None and product.expires_at <= utcnow():
        # Made days ago: by the server's clock it is past its expiry, so it can be neither
        # issued nor administered now; the scheduler marks it expired.
        expire_product(run.session, actor=run.user("super1"), din=product.din)
        return
    advance(run, product, "administered")


@dataclass(frozen=True)
class Made:
    """A product made through the services for a browser test to pick up."""

    din: str
    mrn: str  # on its patient's wristband
    label: str  # the 2-D code of the label its final product wears now
    earlier: str = ""  # the 2-D code of the label that final product wore before


def product_made(database_url: str, until: str) -> Made:
    """A BM-MNC product taken through every step until `until` (7 h after its harvest),
    each label printed and scanned back as the bench does."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        product, patient = make_product(run, arm="BM-MNC", until=until)
        din, mrn = product.din, patient.mrn
    engine.dispose()
    return Made(din, mrn, _final_label(database_url, din))


def released_wearing_its_in_process_label(database_url: str) -> Made:
    """A BM-MNC product QA has just released whose syringe still wears the in-process
    (quarantine) label: its final label is not printed yet."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        product, patient = make_product(run, arm="BM-MNC", until="formulated")
        enter_qc(run, product)
        at = step_time(product, "complete_qc")
        complete_qc(session, actor=run.user("tech2"), din=product.din, now=at)
        acknowledge_all(run, product, at=at + timedelta(minutes=14))
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"], now=at + timedelta(minutes=15))
        din, mrn = product.din, patient.mrn
    engine.dispose()
    in_process = _final_label(database_url, din)
    return Made(din, mrn, in_process, earlier=in_process)


def fail_after_release(database_url: str, din: str, test: str, value: str,
                       reason: str | None = None) -> None:
    """The QC laboratory records (or corrects) a result that fails its specification."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        record_qc_result(session, actor=run.user("tech2"), din=din, test=test, value=value,
                         reason=reason, **qc_sample_of(session, din, test))
        session.commit()
    engine.dispose()


def _final_label(database_url: str, din: str) -> str:
    engine = make_engine(database_url)
    with Session(engine) as session:
        product = session.exec(select(Product).where(Product.din == din)).one()
        text = scan_of(session, product, "final_product", "in_use")
    engine.dispose()
    return text


def bag_scan_of(database_url: str, subject_id: str) -> str:
    """What a scanner reads from the collection bag of the subject's first harvest."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        product = session.exec(select(Product).join(Patient, col(Patient.id) == col(
            Product.patient_id)).where(Patient.subject_id == subject_id)).first()
        assert product is not None
        bag = session.exec(select(Container).where(Container.product_id == product.id,
                                                   Container.kind == "marrow_bag")).first()
        assert bag is not None
        text = container_scan_text(product, bag)
    engine.dispose()
    return text


def state_of(database_url: str, din: str) -> str:
    engine = make_engine(database_url)
    with Session(engine) as session:
        product = session.exec(select(Product).where(Product.din == din)).first()
        assert product is not None
        state = product.state
    engine.dispose()
    return state
