"""`lims demo`: two products (CD133 and BM-MNC) from enrolment to administration, and one
more left mid-process, all through the same services a user calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, func, select

from labels import Label, barcodes, render_pdf, render_zpl
from lims import demo_data as data
from lims.demo_storage import store_demo_samples
from lims.models import Container, Patient, Product, User
from lims.progress import Phases, quiet
from lims.services.certificate import issue_certificate
from lims.services.common import user_by_name, utcnow
from lims.services.enrolment import enrol_patient
from lims.services.harvests import schedule_harvest
from lims.services.labels import pending_labels, print_label, verify_label
from lims.services.qc import complete_qc, record_qc_result
from lims.services.queries import container_scan_text
from lims.services.release import release_product
from lims.services.review_acknowledgements import acknowledge_exception, unacknowledged
from lims.services.steps import perform_step
from lims.services.witness import PHYSICIAN_SIGNED_STEPS
from workflows.eligibility import complete_checklist
from workflows.isbt128 import encode_patient_id

PASSWORDS = {"tech1": "demo-tech1-pass", "tech2": "demo-tech2-pass", "qa1": "demo-qa1-pass",
             "doc1": "demo-doc1-pass", "doc2": "demo-doc2-pass", "super1": "demo-super1-pass"}
Say = Callable[[str], None]


# Every marker 21 CFR 1271.85 names for marrow tested negative, and the screening
# (1271.75) and testing (1271.80) recorded: the demo's final labels need no "NOT EVALUATED".
DEMO_MARKERS = {"HIV": "negative", "HBV": "negative", "HCV": "negative",
                "syphilis": "negative", "HTLV": "negative", "CMV": "negative",
                "screening_1271_75": "done", "testing_1271_80": "done"}


class DemoRun:
    def __init__(self, session: Session, say: Say = print) -> None:
        self.session, self.say = session, say
        self.users = {name: user_by_name(session, name) for name in PASSWORDS}
        # Every label this run printed, by DIN then file stem (kind-code-flags), for `run_demo`.
        self.printed: dict[str, dict[str, Label]] = {}
        # The certificate of analysis of each released product (PDF), for `run_demo`.
        self.certificates: dict[str, bytes] = {}

    def user(self, name: str) -> User:
        return self.users[name]

    def enrol(self, arm: str, weight: float) -> Patient:
        n = self.session.exec(select(func.count()).select_from(Patient)).one() + 1
        patient = enrol_patient(
            self.session, actor=self.user("doc1"), protocol_code="NCT00713934",
            subject_id=f"RYN-{n:03d}", mrn=f"{7001000 + n}",
            date_of_birth=date(1962, 3, n % 28 + 1),
            name=f"Demo Patient {n}", sex="F" if n % 2 else "M", weight_kg=weight,
            consent_date=utcnow().date() - timedelta(days=10), arm=arm,
            eligibility=complete_checklist(),
            infectious_markers=dict(DEMO_MARKERS),
            checked_by="doc2", checked_by_password=PASSWORDS["doc2"],
            treating_physician="doc1")
        self.say(f"enrolled {patient.subject_id} (MRN {patient.mrn}) in arm {arm}")
        return patient

    def _weight(self, product: Product) -> float:
        """The patient weighed on the day of formulation: the demo keeps the enrolment weight."""
        patient = self.session.get(Patient, product.patient_id)
        assert patient is not None
        return patient.weight_kg

    def scan_of(self, product: Product, kind: str) -> str:
        container = self.session.exec(select(Container).where(
            Container.product_id == product.id, Container.kind == kind,
            Container.status == "in_use").order_by(col(Container.id))).first()
        assert container is not None
        return container_scan_text(product, container)

    def step(self, product: Product, step: str, kind: str | None, values: dict[str, object],
             at: datetime, operator: str = "tech1", witness: str | None = "tech2",
             wristband: str | None = None) -> Product:
        result = perform_step(
            self.session, actor=self.user(operator), din=product.din, step=step,
            scan=self.scan_of(product, kind) if kind else None, values=values,
            witness=witness, witness_password=PASSWORDS[witness] if witness else None,
            wristband=wristband, expected_version=product.version, now=at,
            # At the bedside the administering physician (the operator) signs as well.
            physician=operator if step in PHYSICIAN_SIGNED_STEPS else None,
            physician_password=PASSWORDS[operator] if step in PHYSICIAN_SIGNED_STEPS else None)
        warn = f"  warnings: {'; '.join(result.warnings)}" if result.warnings else ""
        self.say(f"  {product.din} {step:<12} -> {result.product.state}{warn}")
        self.label_all(result.product, at=at)
        return result.product

    def label_all(self, product: Product, operator: str = "tech1",
                  at: datetime | None = None) -> list[Label]:
        """Print (ZPL) and scan back every label `product`'s containers need now.

        New containers get their label, the final product its final label after release
        and its issue label after issue; a label printed earlier is only scanned back.
        With `at` (the backdated time of the step that made the labels due) each label is
        printed a minute after it and scanned back a minute later, so the records show
        labels printed when they were needed, never after the infusion.
        """
        printed_at = at + timedelta(minutes=1) if at is not None else None
        checked_at = at + timedelta(minutes=2) if at is not None else None
        done = []
        for due in pending_labels(self.session, product.din):
            container = due.container
            assert container.id is not None
            scan = container_scan_text(product, container)
            if not due.printed:
                printed = print_label(self.session, actor=self.user(operator), din=product.din,
                                      container_id=container.id, format="zpl", now=printed_at)
                label = printed.label
                stem = f"{label.kind}-{container.product_code}-{container.flags}"
                self.printed.setdefault(product.din, {})[stem] = label
                done.append(label)
                # The scanner reads the label's 2-D symbol: DIN, product code and dates.
                scan = next(b.data for b in barcodes(label) if b.symbology == "datamatrix")
            verify_label(self.session, actor=self.user(operator), din=product.din, scan=scan,
                         now=checked_at)
            self.say(f"  {product.din} label {due.kind:<10} {container.product_code}/"
                     f"{container.flags} printed and scanned back")
        return done

    def process(self, patient: Patient, t0: datetime, until: str | None = None) -> Product:
        scheduled = t0 - timedelta(hours=1)
        product = schedule_harvest(self.session, actor=self.user("tech1"),
                                   subject_id=patient.subject_id, now=scheduled)
        self.say(f"harvest scheduled for {patient.subject_id}: DIN {product.din}")
        self.label_all(product, at=scheduled)  # the collection label, before the harvest
        at = t0
        product = self.step(product, "harvest", "marrow_bag", data.harvest(t0), at,
                            witness="doc1", wristband=encode_patient_id(patient.mrn))
        product = self.step(product, "receive", "marrow_bag", data.receive(t0),
                            at := at + timedelta(minutes=40), witness=None)
        if until == "received":
            return product
        at += timedelta(minutes=60)
        product = self.step(product, "sediment", "marrow_bag", data.sediment(at), at)
        at += timedelta(minutes=75)
        product = self.step(product, "isolate_mnc", "rbc_reduced", data.isolate_mnc(at), at)
        if product.arm == "CD133":
            product = self.step(product, "enrich", "mnc", data.enrich(at),
                                at := at + timedelta(minutes=110))
        source = "cd133_target" if product.arm == "CD133" else "mnc"
        at += timedelta(minutes=20)
        product = self.step(product, "formulate", source,
                            {**data.formulate(product.arm, at, self._weight(product)),
                             **data.retention_samples(at)}, at)
        if until == "formulated":
            return product
        return self.release_and_administer(product, at, patient)

    def acknowledge_exceptions(self, product: Product, at: datetime,
                               reviewer: str = "qa1") -> None:
        """QA reads the review and acknowledges each of its exceptions, one by one."""
        for item in unacknowledged(self.session, product):
            acknowledge_exception(self.session, actor=self.user(reviewer), din=product.din,
                                  key=item.key, now=at,
                                  comment="Reviewed: it does not affect the release")

    def release_and_administer(self, product: Product, at: datetime,
                               patient: Patient) -> Product:
        for test, value in data.qc_results(product.arm).items():
            at += timedelta(minutes=5)
            record_qc_result(self.session, actor=self.user("tech2"), din=product.din, test=test,
                             value=value, now=at, **data.qc_sample(test, drawn_at=at))
        product = complete_qc(self.session, actor=self.user("tech2"), din=product.din, now=at)
        self.say(f"  {product.din} QC complete  -> {product.state}")
        self.acknowledge_exceptions(product, at + timedelta(minutes=14))
        at += timedelta(minutes=15)
        product = release_product(self.session, actor=self.user("qa1"), din=product.din,
                                  password=PASSWORDS["qa1"], now=at)
        self.say(f"  {product.din} released by QA -> {product.state}")
        self.label_all(product, at=at)  # the final label, once released
        # The certificate of analysis travels with the product: printed before the issue.
        self.certificates[product.din], _row = issue_certificate(
            self.session, actor=self.user("tech1"), din=product.din,
            now=at + timedelta(minutes=5))
        # Issued once it wears its final label, recorded as it leaves; the infusion starts
        # a quarter of an hour later and is recorded when it has ended.
        issued = at + timedelta(minutes=10)
        product = self.step(product, "issue", "final_product", data.issue(issued), issued,
                            witness="doc1")
        return self.step(product, "administer", "final_product",
                         data.administer(issued + timedelta(minutes=15)),
                         issued + timedelta(minutes=30), operator="doc1", witness="doc2",
                         wristband=encode_patient_id(patient.mrn))


def run_demo(session: Session, out: Path | None = None, say: Say = print,
             progress: Phases = quiet) -> list[Product]:
    """Run both arms end to end and leave one product mid-process; return the products.
    `progress` counts the products run, then the products whose files are written."""
    run = DemoRun(session, say)
    t0 = utcnow() - timedelta(hours=7)
    products = []
    with progress("demo products run", 3, unit="products") as advance:
        for arm, weight in (("CD133", 72.0), ("BM-MNC", 81.5)):
            patient = run.enrol(arm, weight)
            products.append(run.process(patient, t0))
            advance()
        waiting = run.enrol("CD133", 64.0)
        products.append(run.process(waiting, utcnow() - timedelta(hours=1), until="received"))
        advance()
    # Retention samples and negative fractions go into storage, not "in use" forever.
    store_demo_samples(session, products, run.users, say)
    # The monitoring system's file of the demo fridge, with one excursion (issue 16).
    from lims.demo_temperature import import_demo_temperatures
    import_demo_temperatures(session, say=say)
    # The calendar: a CliniMACS, a clean room, staff on shift, bookings (issue 16).
    from lims.demo_scheduling import book_demo_calendar
    book_demo_calendar(session, products, run.users, run.enrol, say)
    # Baseline and post-infusion values, findings and scores of both given (issue 15).
    from lims.demo_follow_up import follow_demo_patients
    follow_demo_patients(session, products, run.users, say)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with progress("labels and batch records written", len(products),
                      unit="products") as advance:
            for product in products:  # the product left mid-process has its labels too
                write_labels(out / "labels" / product.din, run.printed.get(product.din, {}),
                             say)
                if product.state == "administered":
                    write_batch_record(session, out / "batch-records", product, say)
                if product.din in run.certificates:
                    write_certificate(out / "certificates", product,
                                      run.certificates[product.din], say)
                advance()
    return products


def write_batch_record(session: Session, folder: Path, product: Product, say: Say = print) -> Path:
    from lims.services.batch_record import batch_record_pdf

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{product.din}-{product.arm}.pdf"
    path.write_bytes(batch_record_pdf(session, product.din))
    say(f"wrote batch record {path}")
    return path


def write_certificate(folder: Path, product: Product, pdf: bytes, say: Say = print) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{product.din}-certificate-of-analysis.pdf"
    path.write_bytes(pdf)
    say(f"wrote certificate of analysis {path}")
    return path


def write_labels(folder: Path, printed: dict[str, Label], say: Say = print) -> None:
    """Each printed label as `<kind>-<code>-<flags>.pdf` and `.zpl` (the ZPL is what was sent),
    and `index.tsv`: which label of which container each file is, in the order printed."""
    folder.mkdir(parents=True, exist_ok=True)
    index = ["file\tlabel\tcontainer\tmarkings\tprint"]
    for stem, label in printed.items():
        (folder / f"{stem}.pdf").write_bytes(render_pdf(label))
        (folder / f"{stem}.zpl").write_text(render_zpl(label), encoding="utf-8")
        index.append("\t".join((f"{stem}.pdf", label.kind.value, label.container_label,
                                "; ".join(label.markings), str(label.print_serial))))
    (folder / "index.tsv").write_text("\n".join(index) + "\n", encoding="utf-8")
    say(f"wrote {len(printed)} labels (PDF and ZPL) to {folder}")
