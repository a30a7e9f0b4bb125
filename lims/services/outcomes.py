"""Outcome views, read only: each patient's MELD, MELD-Na and Child-Pugh from baseline over
the follow-up visits, and the per-arm comparison table, with the trial's blinding applied
for the reader (workflows.blinding). Nothing here writes; the follow-up records are
written by lims.services.follow_up.

Baseline is what was measured before treatment: the latest laboratory values and finding
recorded outside any visit on or before the day of the patient's first administration.
A visit's scores use the values and finding recorded at that visit (the newest of each,
corrections superseding): a score is never carried from another visit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from lims.config import get_settings
from lims.models import ClinicalFinding, FollowUpVisit, LabValue, Patient, Protocol, User
from lims.services.common import parameters_of
from lims.services.follow_up import visits_of
from lims.services.follow_up_common import require_reader
from lims.services.follow_up_records import findings_of, lab_values_of
from lims.services.follow_up_scores import Scores, compute_scores
from workflows.blinding import arm_groups, sees_arm, shown_arm
from workflows.errors import NotFound
from workflows.outcomes import BASELINE, Comparison, Observation, compare


@dataclass(frozen=True)
class ScoredVisit:
    """Baseline or one visit: when its values were taken and the scores they give."""

    key: str  # BASELINE, a first administration's visit code ("W4"), or "A2 W4"
    label: str
    visit: FollowUpVisit | None  # None for baseline
    when: datetime | None  # the latest sampling of the values used
    scores: Scores  # with the laboratory values and the finding it used

    def value(self, score: str) -> float | None:
        """The score as a number for tables and charts (Child-Pugh in points)."""
        return score_value(self.scores, score)


def score_value(scores: Scores, score: str) -> float | None:
    if score == "meld":
        return None if scores.meld is None else scores.meld.score
    if score == "meld_na":
        return None if scores.meld_na is None else scores.meld_na.score
    if score == "child_pugh":
        return None if scores.child_pugh is None else scores.child_pugh.points
    raise ValueError(f"unknown score {score!r}")


@dataclass(frozen=True)
class PatientOutcome:
    patient: Patient
    arm: str  # as this reader may see it
    administered_on: tuple[date, ...]  # each administration's day, in order
    visits: list[ScoredVisit]  # baseline first, then by due date


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().time_zone)


def administration_days(visits: Iterable[FollowUpVisit]) -> dict[int, date]:
    """Product id -> the day its administration started (each visit's due date less its
    day), in order of administration."""
    days = {visit.product_id: visit.due_on - timedelta(days=visit.day) for visit in visits}
    return dict(sorted(days.items(), key=lambda item: (item[1], item[0])))


def visit_key(visit: FollowUpVisit, order: list[int]) -> tuple[str, str]:
    """The visit's key and words: its code after the first administration, else prefixed
    by which administration it follows."""
    number = order.index(visit.product_id) + 1 if visit.product_id in order else 1
    if number == 1:
        return visit.code, visit.label
    return f"A{number} {visit.code}", f"{visit.label} after administration {number}"


def _scored(key: str, label: str, visit: FollowUpVisit | None, labs: list[LabValue],
            findings: list[ClinicalFinding]) -> ScoredVisit:
    """The scores from these values and the latest of these findings
    (follow_up_scores.compute_scores: the one place scores are computed)."""
    finding = max(findings, key=lambda row: (row.observed_at, row.id or 0), default=None)
    scores = compute_scores(labs, finding)
    times = [row.sampled_at for row in scores.used.values()]
    when = max(times) if times else (finding.observed_at if finding else None)
    return ScoredVisit(key, label, visit, when, scores)


def patient_outcome(session: Session, *, actor: User, patient: Patient) -> PatientOutcome:
    """Baseline and every visit of the patient with its scores, the arm as `actor` may
    read it."""
    require_reader(actor)
    visits = visits_of(session, patient)
    labs = lab_values_of(session, patient)
    findings = findings_of(session, patient)
    days = administration_days(visits)
    first = next(iter(days.values()), None)
    zone = _zone()

    def before_treatment(at: datetime) -> bool:
        return first is None or at.astimezone(zone).date() <= first

    scored = [_scored(BASELINE, "Baseline (before the first administration)", None,
                      [r for r in labs if r.visit_id is None and before_treatment(r.sampled_at)],
                      [f for f in findings
                       if f.visit_id is None and before_treatment(f.observed_at)])]
    order = list(days)
    for visit in visits:
        key, label = visit_key(visit, order)
        scored.append(_scored(key, label, visit, [r for r in labs if r.visit_id == visit.id],
                              [f for f in findings if f.visit_id == visit.id]))
    params = parameters_of(session, patient.protocol_id)
    return PatientOutcome(patient, shown_arm(patient.arm, actor.role, params),
                          tuple(days.values()), scored)


@dataclass(frozen=True)
class ArmComparison:
    score: str
    table: Comparison
    labels: dict[str, str]  # visit key -> words
    pooled: bool  # the reader is blinded: one column for both arms


def arm_comparison(session: Session, *, actor: User, protocol_code: str,
                   score: str) -> ArmComparison:
    """`score` (workflows.outcomes.SCORES) per arm (pooled for a blinded reader) at baseline
    and each visit: n, median, mean and the mean change from baseline."""
    require_reader(actor)
    protocol = session.exec(select(Protocol).where(Protocol.code == protocol_code)).first()
    if protocol is None or protocol.id is None:
        raise NotFound(f"protocol {protocol_code} not found")
    params = parameters_of(session, protocol.id)
    patients = list(session.exec(select(Patient).where(Patient.protocol_id == protocol.id)
                                 .order_by(col(Patient.subject_id))))
    observations: list[Observation] = []
    labels: dict[str, str] = {}
    for patient in patients:
        outcome = patient_outcome(session, actor=actor, patient=patient)
        for seen in outcome.visits:
            labels.setdefault(seen.key, seen.label)
            value = seen.value(score)
            if value is not None:
                observations.append(Observation(patient.subject_id, seen.key, value))
    groups = arm_groups({p.subject_id: p.arm for p in patients}, actor.role, params)
    visit_order = [key for key in labels if key != BASELINE]
    table = compare(observations, groups, _ordered(visit_order))
    return ArmComparison(score, table, labels, pooled=not sees_arm(actor.role, params))


def _ordered(keys: list[str]) -> list[str]:
    """Visit keys in the order of the timeline: first administration by week, then later
    administrations by week."""
    def rank(key: str) -> tuple[int, int, str]:
        prefix, _, code = key.rpartition(" ")
        number = int(prefix[1:]) if prefix.startswith("A") and prefix[1:].isdigit() else 1
        digits = code[1:]
        return number, (int(digits) * (7 if code.startswith("W") else 1)
                        if digits.isdigit() else 0), key
    return sorted(keys, key=rank)
