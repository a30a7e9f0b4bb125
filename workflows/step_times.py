"""Time integrity of a step (invariant 6): no time in the future, every time in process order.

Pure functions on the step's cleaned values and the times earlier steps reported. The
services supply the server's clock (never a time the request states) and the protocol's
clock skew; each problem comes back keyed by the field it concerns, in the lab's words,
naming the time the field must follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.step_model import StepSpec

# The order in which the steps happen; a step's times follow every time an earlier one
# reported (receipt after the harvest end, enrichment after the receipt, and so on).
PROCESS_ORDER = ("harvest", "receive", "sediment", "isolate_mnc", "enrich", "formulate",
                 "issue", "administer")
# (earlier, later) pairs of one form where the later must be strictly later: an infusion
# of 0 minutes did not happen.
_STRICTLY_AFTER: Mapping[str, tuple[tuple[str, str], ...]] = {
    "administer": (("infusion_start", "infusion_end"),),
    "harvest": (("harvest_start", "harvest_end"),),
    "sediment": (("started_at", "ended_at"),),
    "isolate_mnc": (("started_at", "ended_at"),),
    "formulate": (("started_at", "ended_at"),),
}


@dataclass(frozen=True)
class ReportedTime:
    """A time the record already holds, which later steps' times must follow."""

    what: str  # in the lab's words: "the harvest end (harvest)"
    at: datetime


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.utcoffset() is not None else None


def _shown(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def step_times(spec: StepSpec, values: Mapping[str, object]) -> dict[str, datetime]:
    """The times a step reports, by field (stored ISO text or cleaned datetimes)."""
    times = {}
    for f in spec.fields:
        if f.kind == "datetime" and (moment := _moment(values.get(f.name))) is not None:
            times[f.name] = moment
    return times


def reported_times(spec: StepSpec, values: Mapping[str, object]) -> list[ReportedTime]:
    """The times an earlier step's record reports, named for a later step's message."""
    labels = {f.name: f.label.lower() for f in spec.fields}
    return [ReportedTime(f"the {labels[name]} recorded at {spec.label.lower()}", moment)
            for name, moment in step_times(spec, values).items()]


def future_problems(spec: StepSpec, values: Mapping[str, object], *, server_now: datetime,
                    skew_minutes: float) -> dict[str, str]:
    """Each reported time later than the server's clock plus the allowed clock skew."""
    latest = server_now + timedelta(minutes=skew_minutes)
    return {name: (f"{_shown(moment)} is in the future (the server's clock says "
                   f"{_shown(server_now.astimezone(moment.tzinfo))}); enter the time it "
                   "happened")
            for name, moment in step_times(spec, values).items() if moment > latest}


def order_problems(spec: StepSpec, values: Mapping[str, object],
                   earlier: Iterable[ReportedTime]) -> dict[str, str]:
    """Each reported time before the latest time an earlier step (or release) reported,
    and each end that is not strictly after its start."""
    problems: dict[str, str] = {}
    times = step_times(spec, values)
    last = max(earlier, key=lambda t: t.at, default=None)
    if last is not None:
        # Times are typed to the minute: one in the minute of the earlier event (a release
        # signed at 09:13:40, the issue typed as 09:13 or "now") follows it.
        minute = last.at.replace(second=0, microsecond=0)
        for name, moment in times.items():
            if moment < minute:
                problems[name] = (f"{_shown(moment)} is before {last.what} "
                                  f"({_shown(last.at.astimezone(moment.tzinfo))}); it must "
                                  "be after it")
    labels = {f.name: f.label.lower() for f in spec.fields}
    for start, end in _STRICTLY_AFTER.get(spec.name, ()):
        if start in times and end in times and times[end] <= times[start]:
            problems.setdefault(end, f"{_shown(times[end])} must be after the {labels[start]} "
                                     f"({_shown(times[start])}): a step of 0 minutes did "
                                     "not happen")
    return problems


def earlier_steps(step: str) -> frozenset[str]:
    """The steps that come before `step` in the process."""
    return frozenset(PROCESS_ORDER[:PROCESS_ORDER.index(step)])


def recorded_not_future(moment: datetime, *, server_now: datetime,
                        skew_minutes: float) -> bool:
    """Whether `moment` (a step's recording time, a test time, a signature time) is not
    ahead of the server's clock beyond the allowed skew."""
    return moment <= server_now + timedelta(minutes=skew_minutes)


def span_problems(spec: StepSpec, values: Mapping[str, object]) -> dict[str, str]:
    """Each duration in minutes the step reports that does not fit between its start and
    end (a 45-minute sedimentation in a step that lasted 30 minutes is a typo)."""
    times = step_times(spec, values)
    if "started_at" not in times or "ended_at" not in times:
        return {}
    span = (times["ended_at"] - times["started_at"]).total_seconds() / 60
    problems = {}
    for f in spec.fields:
        value = values.get(f.name)
        if f.unit != "min" or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if value > span + 1:  # times are typed to the minute
            problems[f.name] = (f"{value:g} min does not fit between the step's start and end "
                                f"({span:g} min apart)")
    return problems
