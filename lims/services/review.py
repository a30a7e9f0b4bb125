"""QA review by exception: the queue, and what a reviewer must look at before signing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from lims.models import Alert, Deviation, Patient, Product, QcResult, User
from lims.services.alerts import open_alerts
from lims.services.common import product_by_din, utcnow
from lims.services.identity import NEAR_MISS_CODES
from lims.services.independence import independence_problem
from lims.services.qc import counts, current_among, qc_status_of, replaced_among
from lims.services.qc_consequences import formulation_figures_in
from lims.services.review_facts import ReviewFacts, review_facts
from lims.services.suspensions import is_suspended
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.numbers import format_value
from workflows.product import ProductState, requires_witness
from workflows.qc_figures import computed_dose_problem
from workflows.registry import QC, format_figure
from workflows.specifications import QC_TESTS
from workflows.steps import STEPS, late_entry_hours
from workflows.words import action_words, label_kind_words


@dataclass(frozen=True)
class ReviewException:
    kind: str  # out_of_spec, pending, deviation, correction, late_entry, warning, witness,
    #            time_window, coi_refusal, near_miss, reprint, alert, notification(_undelivered)
    text: str


@dataclass(frozen=True)
class QueueItem:
    din: str
    subject_id: str
    arm: str
    state: str
    exceptions: int
    alert: str | None = None
    # The product's clocks, read with it (the queue page shows them): no second read.
    harvest_end: datetime | None = None
    expires_at: datetime | None = None


@dataclass
class ReviewSummary:
    din: str
    subject_id: str
    arm: str
    state: str
    specification: str
    exceptions: list[ReviewException] = field(default_factory=list)
    missing_tests: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    open_alerts: list[Alert] = field(default_factory=list)
    # Criteria that fail outside the QC results (the dose computed at formulation).
    failed_criteria: list[str] = field(default_factory=list)

    @property
    def releasable(self) -> bool:
        return not self.missing_tests and not self.failed_tests and not self.failed_criteria


_DECISION_DUE = [ProductState.AWAITING_RELEASE.value, ProductState.RELEASE_SUSPENDED.value]


def qa_queue(session: Session, *, limit: int | None = None,
             alerts: list[Alert] | None = None) -> list[QueueItem]:
    """Products awaiting release or with a suspended release (a QA decision is due), then
    products with unacknowledged post-release alerts. `limit` keeps the first so many of
    the products a decision is due for (`qa_queue_size` counts them all); the alerts are
    always listed. `alerts`: every open alert, when the caller has already read them."""
    items = []
    alerts = open_alerts(session) if alerts is None else alerts
    query = select(Product, Patient.subject_id).join(
        Patient, col(Patient.id) == col(Product.patient_id)).where(
            col(Product.state).in_(_DECISION_DUE)).order_by(col(Product.id))
    if limit is not None:
        query = query.limit(max(limit, 0))
    # populate_existing: the row as it is now (as review_summary's product_by_din reads it).
    due = session.exec(query.execution_options(populate_existing=True)).all()
    # The count shown is the review's own: the same exceptions QA acknowledges.
    products = {product.din: product for product, _ in due}
    for summary in review_summaries(session, due, alerts=alerts):
        product = products[summary.din]
        items.append(QueueItem(summary.din, summary.subject_id, summary.arm, summary.state,
                               len(summary.exceptions), harvest_end=product.harvest_end,
                               expires_at=product.expires_at))
    for alert in alerts:
        flagged = session.get(Product, alert.product_id)
        patient = session.get(Patient, flagged.patient_id) if flagged else None
        if flagged and patient:
            items.append(QueueItem(flagged.din, patient.subject_id, flagged.arm, flagged.state,
                                   1, alert=alert.message, harvest_end=flagged.harvest_end,
                                   expires_at=flagged.expires_at))
    return items


def qa_queue_size(session: Session) -> int:
    """How many products a QA decision is due for (awaiting or suspended release)."""
    return session.exec(select(func.count()).select_from(Product).where(
        col(Product.state).in_(_DECISION_DUE))).one()


def review_summary(session: Session, din: str, reviewer_id: int | None = None, *,
                   alerts: list[Alert] | None = None) -> ReviewSummary:
    """`alerts`: every open alert, when the caller has already read them (the queue)."""
    product = product_by_din(session, din)
    patient = session.get(Patient, product.patient_id)
    assert patient is not None
    [facts] = review_facts(session, [(product, patient.subject_id)], alerts)
    return _summary(session, facts, reviewer_id)


def review_summaries(session: Session, products: Sequence[tuple[Product, str]], *,
                     alerts: list[Alert] | None = None) -> list[ReviewSummary]:
    """`review_summary` of each (product, its patient's subject ID) already read, their
    records read for all at once (a page of the QA queue)."""
    return [_summary(session, facts, None) for facts in review_facts(session, products, alerts)]


def _summary(session: Session, facts: ReviewFacts, reviewer_id: int | None) -> ReviewSummary:
    """`review_summary` of a product whose facts are read (the session only for the
    reviewer's independence)."""
    product, spec = facts.product, facts.specification
    current = current_among(facts.qc)
    missing, failed = qc_status_of(spec, current)
    computed = computed_dose_problem(formulation_figures_in(facts.steps), spec)
    summary = ReviewSummary(product.din, facts.subject_id, product.arm, product.state,
                            facts.version, missing_tests=missing, failed_tests=failed,
                            failed_criteria=[computed] if computed else [],
                            open_alerts=facts.alerts)
    add = summary.exceptions.append
    if is_suspended(product):
        add(ReviewException("suspension", "RELEASE SUSPENDED: issue and administration are "
                            "refused until QA re-releases (every result passing, corrections "
                            "verified), releases exceptionally, or rejects"))
    for line in facts.suspensions:
        add(ReviewException("suspension", line))
    if computed:
        add(ReviewException("computed_figure", f"{computed}: only an exceptional release "
                            "is possible"))
    _qc_exceptions(facts, current, add)
    for deviation in facts.deviations:
        add(_deviation_exception(deviation))
    _step_exceptions(facts, add)
    for event in facts.coi:
        # A wrong patient's or product's container is a near miss; an unreadable scan is not.
        kind = "near_miss" if event.code in NEAR_MISS_CODES else "coi_refusal"
        add(ReviewException(kind, f"wrong scan refused at {action_words(event.step)}: "
                                  f"{event.detail}"))
    _reprints(facts, add)
    for text in facts.superseded:  # labels a correction made untrue
        add(ReviewException("superseded_label", text))
    for alert in summary.open_alerts:
        add(ReviewException("alert", alert.message))
    for delivered, text in facts.notifications:  # who was told; did it arrive
        add(ReviewException("notification" if delivered else "notification_undelivered", text))
    if missing:
        add(ReviewException("pending", "missing QC results: " + ", ".join(
            _test_label(test) for test in missing)))
    if reviewer_id is not None:
        reviewer = session.get(User, reviewer_id)
        conflict = independence_problem(session, product, reviewer) if reviewer else None
        if conflict:
            add(ReviewException("independence", conflict))
    return summary


def _deviation_exception(deviation: Deviation) -> ReviewException:
    """A deviation with its classification and resolution; a near miss named as such."""
    resolution = (f"closed: {deviation.disposition}" if deviation.status == "closed"
                  else deviation.status)
    kind = {"near_miss": "near_miss", "dose_discrepancy": "dose_discrepancy"}.get(
        deviation.kind, "deviation")
    return ReviewException(kind, f"deviation {deviation.id} ({deviation.classification}, "
                           f"{resolution}) at {action_words(deviation.step)}: "
                           f"{deviation.description}")


def _qc_exceptions(facts: ReviewFacts, current: dict[str, QcResult],
                   add: Callable[[ReviewException], None]) -> None:
    for row in current.values():
        label = _test_label(row.test)
        if row.passed is False:
            shown = _qc_text(row.test, row.value)  # the registry's one format
            add(ReviewException("out_of_spec", f"{label} {shown} is OUT OF SPEC"))
        elif row.passed is None:
            add(ReviewException("pending", f"{label} is pending (may be pending at release)"))
        if row.late:
            add(ReviewException("late_entry", f"{label} was entered late ({_ts(row.entered_at)}"
                                f" for a test at {_ts(row.tested_at)})"))
    for row in (row for row in facts.qc if row.reason is not None):  # the corrections
        replaced = replaced_among(facts.qc, row)
        before = _qc_text(row.test, replaced.value) if replaced is not None else "?"
        add(ReviewException("correction", f"{_test_label(row.test)} corrected: {before} → "
                            f"{_qc_text(row.test, row.value)}, reason: {row.reason}"
                            f"{_verification(facts, row)}"))
    for row in current.values():
        if not counts(row):
            add(ReviewException("verification", f"{_test_label(row.test)} correction to "
                                f"{_qc_text(row.test, row.value)} awaits verification by "
                                "a second person (QA or supervisor, not the corrector): it "
                                "does not count until then"))


def _verification(facts: ReviewFacts, row: QcResult) -> str:
    """The four-eyes state of a correction, as the review shows it."""
    if not row.needs_verification:
        return ""
    if row.verified_at is None:
        return " (correction of an out-of-specification result, AWAITING VERIFICATION)"
    who = facts.names.get(row.verified_by_id, "?")
    return f" (verified by {who} at {_ts(row.verified_at)})"


def _step_exceptions(facts: ReviewFacts, add: Callable[[ReviewException], None]) -> None:
    product, params = facts.product, facts.parameters
    for record in facts.steps:
        # A correction (old → new values in the audit trail) is itself an exception; the
        # findings are the current record's, the witness and the timeliness the original's.
        if record.corrects_id is not None:
            add(ReviewException("correction", f"{STEPS[record.step].label} data corrected: "
                                              f"{record.reason}"))
        if not record.superseded:
            for finding in record.findings:
                kind = "warning" if finding.get("action") == "warn" else "refusal"
                add(ReviewException(kind, f"{STEPS[record.step].label}: "
                                          f"{finding.get('message')}"))
        if record.corrects_id is not None:
            continue
        if requires_witness(record.step) and record.witness_id is None:
            add(ReviewException("witness", f"{STEPS[record.step].label} has no witness "
                                           "signature"))
        late = late_entry_hours(record.step, record.values, record.performed_at,
                                params.step_late_entry_hours)
        if late is not None:
            add(ReviewException("late_entry", f"{STEPS[record.step].label} recorded "
                                f"{format_value(late, 'h')} after the times it reports (limit "
                                f"{format_value(params.step_late_entry_hours, 'h')})"))
        hours = record.computed.get("hours_since_harvest")
        if record.step == "receive" and hours and hours > params.receipt_max_hours_after_harvest:
            limit = format_value(params.receipt_max_hours_after_harvest, "h")
            add(ReviewException("time_window", f"received {format_value(hours, 'h')} after "
                                f"harvest end (limit {limit})"))
    if product.expires_at and utcnow() > product.expires_at and product.state not in (
            ProductState.ADMINISTERED, ProductState.DISCARDED):
        add(ReviewException("time_window", f"product expired at {_ts(product.expires_at)}"))


def _test_label(test: str) -> str:
    """A QC test by its name in the lab (a stored test since renamed: its code in words)."""
    return QC_TESTS[test].label if test in QC_TESTS else test.replace("_", " ")


def _qc_text(test: str, value: str) -> str:
    try:
        return format_figure(QC, test, float(value))
    except ValueError:
        return value


def _reprints(facts: ReviewFacts, add: Callable[[ReviewException], None]) -> None:
    """A reprinted label is a second label of one container in circulation: QA sees why."""
    for job in facts.prints:
        container = facts.containers.get(job.container_id)
        if not job.reprint or container is None:
            continue
        what = KIND_LABELS[ContainerKind(container.kind)]
        add(ReviewException("reprint", f"{label_kind_words(job.label_kind)} of the "
                            f"{what} reprinted at "
                            f"{_ts(job.printed_at)}: {job.reason}"))


def _ts(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "-"
