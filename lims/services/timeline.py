"""A product's timeline: everything that happened to it on one line of time, in the lab's
words. Read-only: nothing here writes.

Built from the records themselves — step records (start, end, who, witness), print jobs,
QC results and their corrections, signatures, deviations, alerts, QA's acknowledgements,
refused scans — and, for what only the audit trail holds (a label scanned back, a label
superseded, a hold, a resume, a suspension, an expiry), from the product's audit events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.models import (
    Alert,
    AuditEvent,
    CoiEvent,
    Container,
    Deviation,
    PrintJob,
    Product,
    QcResult,
    ReviewAcknowledgement,
    Signature,
    StepRecord,
    User,
)
from lims.services.common import product_by_din
from workflows.identity import container_words
from workflows.product import ProductState, Trigger
from workflows.registry import format_any
from workflows.specifications import QC_TESTS
from workflows.steps import STEPS
from workflows.words import action_words, label_kind_words, state_words

S = ProductState

# What each kind of moment is called on the page (its first column).
KIND_WORDS: Mapping[str, str] = {
    "product": "Product",
    "step": "Step",
    "label": "Label",
    "qc": "QC",
    "signature": "Signature",
    "review": "QA review",
    "deviation": "Deviation",
    "alert": "Alert",
    "state": "Decision",
    "refusal": "Refused scan",
}
# States a recorded step leads to: their state change is the step, shown once.
_STEP_STATES = frozenset({S.COLLECTED, S.RECEIVED, S.RBC_REDUCED, S.MNC_ISOLATED, S.ENRICHED,
                          S.FORMULATED, S.ISSUED, S.ADMINISTERED})
_DECISIONS: Mapping[str, str] = {
    S.AWAITING_RELEASE: "QC complete: in the QA queue",
    S.RELEASED: "Released",
    S.REJECTED: "Rejected",
    S.ON_HOLD: "Put on hold",
    S.RELEASE_SUSPENDED: "Release suspended",
    S.DISCARDED: "Discarded",
    S.EXPIRED: "Expired",
}


@dataclass(frozen=True)
class Moment:
    """One thing that happened, when and by whom."""

    at: datetime
    kind: str  # a key of KIND_WORDS
    title: str
    detail: str = ""
    who: str = ""
    witness: str = ""
    ended: datetime | None = None  # a step's end, when its form records one
    recorded: datetime | None = None  # when a step was saved, if not the moment itself
    attention: bool = False  # out of specification, refused, a deviation, a hold

    @property
    def kind_words(self) -> str:
        return KIND_WORDS.get(self.kind, self.kind)


def product_timeline(session: Session, din: str) -> list[Moment]:
    """Every moment of the product's history, oldest first (ties in the order recorded)."""
    product = product_by_din(session, din)
    assert product.id is not None
    names = {u.id: u.full_name for u in session.exec(select(User)) if u.id is not None}
    containers = {c.id: c for c in session.exec(select(Container).where(
        Container.product_id == product.id))}
    events = _events(session, product, containers.values())
    moments = [*_created(product, events, names), *_steps(session, product, names),
               *_labels(session, product, containers, names),
               *_scan_backs(events, containers.values(), names),
               *_qc(session, product, names), *_signatures(session, product),
               *_reviews(session, product), *_deviations(session, product, names),
               *_alerts(session, product, names), *_decisions(events, names),
               *_refusals(session, product, names)]
    return sorted(moments, key=lambda m: m.at)


def _name(names: Mapping[int, str], user_id: int | None, fallback: str = "") -> str:
    return names.get(user_id, fallback) if user_id is not None else fallback


def _events(session: Session, product: Product,
            containers: Iterable[Container]) -> list[AuditEvent]:
    refs = [f"{product.din}/{c.product_code}/{c.flags}" for c in containers]
    return list(session.exec(select(AuditEvent).where(
        ((col(AuditEvent.entity) == "product") & (col(AuditEvent.entity_id) == product.din))
        | ((col(AuditEvent.entity) == "container") & col(AuditEvent.entity_id).in_(refs)))
        .order_by(col(AuditEvent.seq))))


def _created(product: Product, events: list[AuditEvent],
             names: Mapping[int, str]) -> list[Moment]:
    made = next((e for e in events if e.action == AuditAction.PRODUCT_CREATED), None)
    who = _name(names, made.user_id, made.username) if made is not None else ""
    return [Moment(product.created_at, "product", "Harvest scheduled: DIN assigned",
                   f"{product.arm} arm", who=who)]


def _time(value: object) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, datetime) else None


def _steps(session: Session, product: Product, names: Mapping[int, str]) -> list[Moment]:
    out = []
    for record in session.exec(select(StepRecord).where(StepRecord.product_id == product.id)
                               .order_by(col(StepRecord.id))):
        spec = STEPS.get(record.step)
        title = spec.label if spec is not None else action_words(record.step)
        times = [t for t in (_time(record.values.get(f.name)) for f in
                             (spec.fields if spec is not None else ()) if f.kind == "datetime")
                 if t is not None]
        started = times[0] if times else record.performed_at
        ended = times[-1] if len(times) > 1 else None
        notes = []
        if record.corrects_id is not None:
            title += " (corrected record)"
            notes.append(f"Reason: {record.reason}" if record.reason else "")
        if record.superseded:
            notes.append("Replaced by a later correction.")
        if record.findings:
            count = len(record.findings)
            notes.append(f"{count} warning{'s' if count != 1 else ''} against protocol limits.")
        out.append(Moment(started, "step", title, " ".join(n for n in notes if n),
                          who=_name(names, record.operator_id),
                          witness=_name(names, record.witness_id), ended=ended,
                          recorded=record.performed_at, attention=bool(record.findings)))
    return out


def _labels(session: Session, product: Product, containers: Mapping[int | None, Container],
            names: Mapping[int, str]) -> list[Moment]:
    out = []
    for job in session.exec(select(PrintJob).where(PrintJob.product_id == product.id)
                            .order_by(col(PrintJob.id))):
        container = containers.get(job.container_id)
        kind = container_words(container.kind) if container is not None else "container"
        verb = "Label reprinted" if job.reprint else "Label printed"
        where = f"on {job.printer}" if job.printer else (
            "as a PDF" if job.format == "pdf" else "")
        kind_words = label_kind_words(job.label_kind)
        kind_words = kind_words[:1].upper() + kind_words[1:]
        detail = " ".join(part for part in (
            f"{kind_words}, print {job.serial}" if job.serial is not None else kind_words,
            where, f"— reason: {job.reason}" if job.reason else "") if part)
        out.append(Moment(job.printed_at, "label", f"{verb}: {kind}", detail,
                          who=_name(names, job.printed_by_id)))
    return out


def _scan_backs(events: list[AuditEvent], containers: Iterable[Container],
                names: Mapping[int, str]) -> list[Moment]:
    kinds = {f"{c.product_code}/{c.flags}": c.kind for c in containers}
    titles = {AuditAction.LABEL_VERIFIED: "Label scanned back",
              AuditAction.LABEL_SUPERSEDED: "Label superseded",
              AuditAction.LABEL_VERIFICATION_RESET: "Label to be scanned back again"}
    out = []
    for event in events:
        if event.entity != "container" or event.action not in titles:
            continue
        kind = container_words(kinds.get(event.entity_id.partition("/")[2]))
        superseded = event.action == AuditAction.LABEL_SUPERSEDED
        out.append(Moment(event.at, "label", f"{titles[AuditAction(event.action)]}: {kind}",
                          event.reason or "", who=_name(names, event.user_id, event.username),
                          attention=superseded))
    return out


def _qc(session: Session, product: Product, names: Mapping[int, str]) -> list[Moment]:
    out = []
    for result in session.exec(select(QcResult).where(QcResult.product_id == product.id)
                               .order_by(col(QcResult.id))):
        test = QC_TESTS.get(result.test)
        label = test.label if test is not None else result.test.replace("_", " ")
        shown = _qc_value(result, test.unit if test is not None else result.unit)
        judged = ("pending" if result.passed is None else "meets specification"
                  if result.passed else "OUT OF SPECIFICATION")
        corrected = result.reason is not None
        notes = [judged + "."]
        if corrected:
            notes.append(f"Reason: {result.reason}")
        if result.superseded:
            notes.append("Replaced by a later correction.")
        verb = "QC result corrected" if corrected else "QC result entered"
        out.append(Moment(result.entered_at, "qc", f"{verb}: {label} {shown}", " ".join(notes),
                          who=_name(names, result.analyst_id),
                          attention=result.passed is False))
        if result.verified_at is not None:
            out.append(Moment(result.verified_at, "qc", f"QC correction verified: {label}",
                              "Second person's check of the corrected result.",
                              who=_name(names, result.verified_by_id)))
    return out


def _qc_value(result: QcResult, unit: str) -> str:
    try:
        return format_any(float(result.value), unit)
    except ValueError:
        return result.value


def _signatures(session: Session, product: Product) -> list[Moment]:
    return [Moment(sig.signed_at, "signature", f"Signed: {sig.meaning}", sig.justification or "",
                   who=sig.printed_name)
            for sig in session.exec(select(Signature).where(Signature.product_id == product.id)
                                    .order_by(col(Signature.id)))]


def _reviews(session: Session, product: Product) -> list[Moment]:
    return [Moment(ack.acknowledged_at, "review", f"Exception acknowledged: {ack.text}",
                   f"Comment: {ack.comment}" if ack.comment else "", who=ack.printed_name)
            for ack in session.exec(select(ReviewAcknowledgement).where(
                ReviewAcknowledgement.product_id == product.id)
                .order_by(col(ReviewAcknowledgement.id)))]


def _deviations(session: Session, product: Product,
                names: Mapping[int, str]) -> list[Moment]:
    out = []
    for deviation in session.exec(select(Deviation).where(Deviation.product_id == product.id)
                                  .order_by(col(Deviation.id))):
        what = f"{deviation.classification} deviation ({action_words(deviation.step)})"
        out.append(Moment(deviation.raised_at, "deviation", f"Raised: {what}",
                          deviation.description, who=_name(names, deviation.raised_by_id),
                          attention=True))
        if deviation.closed_at is not None:
            out.append(Moment(deviation.closed_at, "deviation", f"Closed: {what}",
                              deviation.disposition or "",
                              who=_name(names, deviation.closed_by_id)))
    return out


def _alerts(session: Session, product: Product, names: Mapping[int, str]) -> list[Moment]:
    out = []
    for alert in session.exec(select(Alert).where(Alert.product_id == product.id)
                              .order_by(col(Alert.id))):
        title = "Clinical alert raised" if alert.severity == "clinical" else "Alert raised"
        out.append(Moment(alert.raised_at, "alert", title, alert.message, attention=True))
        if alert.acknowledged_at is not None:
            out.append(Moment(alert.acknowledged_at, "alert", "Alert acknowledged",
                              alert.message, who=_name(names, alert.acknowledged_by_id)))
    return out


def _decisions(events: list[AuditEvent], names: Mapping[int, str]) -> list[Moment]:
    """Holds, resumes, suspensions, release and rejection, discard and expiry: the state
    changes no step record stands for."""
    out = []
    for event in events:
        if event.action != AuditAction.STATE_CHANGED or event.entity != "product":
            continue
        old, new = event.old_value or "", event.new_value or ""
        if new in _STEP_STATES and old not in (S.ON_HOLD, S.RELEASE_SUSPENDED):
            continue
        if old == S.ON_HOLD:
            title = f"Resumed: {state_words(new)}"
        elif old == S.RELEASE_SUSPENDED and new != S.REJECTED:
            title = f"Released again: {state_words(new)}"
        else:
            title = _DECISIONS.get(new, f"Now: {state_words(new)}")
        reason = event.reason or ""
        detail = "" if reason in _TRIGGER_CODES else f"Reason: {reason}"
        who = "the system (server's clock)" if event.username == "system" else _name(
            names, event.user_id, event.username)
        out.append(Moment(event.at, "state", title, detail, who=who,
                          attention=new in (S.ON_HOLD, S.RELEASE_SUSPENDED, S.REJECTED,
                                            S.DISCARDED, S.EXPIRED)))
    return out


# The reason a state change records when the person gave none: the trigger's own name.
_TRIGGER_CODES = frozenset(t.value for t in Trigger)


def _refusals(session: Session, product: Product, names: Mapping[int, str]) -> list[Moment]:
    return [Moment(event.at, "refusal", f"Scan refused: {action_words(event.step)}",
                   event.detail, who=_name(names, event.user_id), attention=True)
            for event in session.exec(select(CoiEvent).where(CoiEvent.product_id == product.id)
                                      .order_by(col(CoiEvent.id)))]
