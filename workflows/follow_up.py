"""Clinical follow-up after an administration: which visits the protocol calls for and
when, how several administrations of one patient make one timeline, which visits are
overdue, and how a transplant, an HCC or a death ends or changes follow-up.

The schedule is protocol parameters with their source (workflows.protocol): weekly
visits to week 4 ("patients are followed up every week for 4 weeks" [V], NCT00713934)
and laboratory visits to week 24 ("laboratory data are analyzed for 24 weeks" [V]; which
weeks [Prop]); the window around each due date is a proposal [Prop].

Each administration starts its own schedule, counted from its administration day (the
day the infusion started, in the zone it was recorded in). A patient given a second
product at month 3 (SCTM 2016 design) has both schedules, shown as one timeline ordered
by due date; each visit still says which administration it follows.

What clinical events do (decided here, docs/process-reference.md row 15):
- death ends follow-up: no visit due after the day of death is expected or overdue;
- liver transplant ends follow-up too: the native liver the cells were given to is gone,
  so later liver values no longer measure the treatment (SCTM 2016 excluded such
  patients from the analysis);
- HCC does not end follow-up (visits stay due, safety data are still wanted) but flags
  every later visit and the patient's timeline, because HCC scores (MELD exceptions)
  and the analysis treat the patient apart (SCTM 2016 excluded one HCC patient).

Pure standard library: tested in tests/unit/test_follow_up.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from workflows.protocol import ProtocolParameters


class VisitKind(StrEnum):
    VISIT = "visit"  # clinical visit, weekly to week 4
    LABS = "labs"  # laboratory visit to week 24


class EventKind(StrEnum):
    TRANSPLANT = "transplant"
    HCC = "hcc"
    DEATH = "death"


class EventEffect(StrEnum):
    ENDS = "ends"  # no visit after the event is due
    FLAGS = "flags"  # visits stay due; the timeline says why the patient is apart


EVENT_EFFECTS = {EventKind.DEATH: EventEffect.ENDS, EventKind.TRANSPLANT: EventEffect.ENDS,
                 EventKind.HCC: EventEffect.FLAGS}
EVENT_WORDS = {EventKind.TRANSPLANT: "liver transplant",
               EventKind.HCC: "hepatocellular carcinoma diagnosed", EventKind.DEATH: "death"}

# CTCAE v5.0: grade 1 mild ... grade 5 death related to the adverse event.
CTCAE_GRADES = (1, 2, 3, 4, 5)
RELATEDNESS = ("not_related", "unlikely", "possible", "probable", "definite")
AE_OUTCOMES = ("recovering", "recovered", "recovered_with_sequelae", "not_recovered",
               "fatal", "unknown")


@dataclass(frozen=True)
class PlannedVisit:
    """One visit the protocol calls for after one administration."""

    code: str  # "W1" ... "W24"
    label: str
    kind: VisitKind
    day: int  # days after the administration day
    due_on: date
    window_days: int


def day_list(text: str) -> tuple[int, ...]:
    """"7,14,21,28" as (7, 14, 21, 28); the protocol parameters validated it already."""
    return tuple(sorted(int(part) for part in text.split(",") if part.strip()))


def visit_plan(administered_on: date, params: ProtocolParameters) -> tuple[PlannedVisit, ...]:
    """The visits one administration calls for, in order of due date.

    A laboratory week that falls on a weekly visit (week 4 in both lists) is one visit,
    the clinical one, where the laboratory values are taken as well."""
    weekly = day_list(params.follow_up_weekly_visit_days)
    plan: dict[int, PlannedVisit] = {}
    for day in weekly:
        plan[day] = PlannedVisit(_code(day), f"Week {_week(day)} visit", VisitKind.VISIT, day,
                                 administered_on + timedelta(days=day),
                                 round(params.follow_up_weekly_window_days))
    for week in day_list(params.follow_up_lab_visit_weeks):
        day = 7 * week
        if day not in plan:
            plan[day] = PlannedVisit(_code(day), f"Week {week} laboratory visit",
                                     VisitKind.LABS, day,
                                     administered_on + timedelta(days=day),
                                     round(params.follow_up_lab_window_days))
    return tuple(plan[day] for day in sorted(plan))


def _week(day: int) -> str:
    return str(day // 7) if day % 7 == 0 else f"{day / 7:.1f}"


def _code(day: int) -> str:
    return f"W{day // 7}" if day % 7 == 0 else f"D{day}"


@dataclass(frozen=True)
class VisitState:
    """What the timeline and the worklist need to know of one scheduled visit."""

    due_on: date
    window_days: int
    done: bool


class VisitStatus(StrEnum):
    DONE = "done"
    UPCOMING = "upcoming"  # its window has not opened yet
    DUE = "due"  # within its window now
    OVERDUE = "overdue"  # its window closed without the visit
    NOT_EXPECTED = "not_expected"  # follow-up ended (death, transplant) before it was due


def follow_up_end(events: Iterable[tuple[EventKind, date]]) -> date | None:
    """The day follow-up ended (the earliest death or transplant), or None."""
    ends = [on for kind, on in events if EVENT_EFFECTS[kind] == EventEffect.ENDS]
    return min(ends) if ends else None


def visit_status(visit: VisitState, today: date, ended_on: date | None = None) -> VisitStatus:
    """Where a visit stands on `today`: done, upcoming, due, overdue or not expected.

    A visit done is done even after the end (recorded before the event was known); a
    visit due after follow-up ended is not expected, never overdue."""
    if visit.done:
        return VisitStatus.DONE
    if ended_on is not None and visit.due_on - timedelta(days=visit.window_days) > ended_on:
        return VisitStatus.NOT_EXPECTED
    if today > visit.due_on + timedelta(days=visit.window_days):
        return VisitStatus.OVERDUE
    if today >= visit.due_on - timedelta(days=visit.window_days):
        return VisitStatus.DUE
    return VisitStatus.UPCOMING


def days_overdue(visit: VisitState, today: date) -> int:
    """Days since the visit's window closed (0 when it has not)."""
    return max(0, (today - (visit.due_on + timedelta(days=visit.window_days))).days)


def in_window(visit: VisitState, on: date) -> bool:
    """Whether a visit done on `on` was on time (within due date ± window)."""
    return abs((on - visit.due_on).days) <= visit.window_days
