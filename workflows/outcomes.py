"""Outcome figures across patients: for one score (MELD, MELD-Na, Child-Pugh), per group
of patients (an arm, or both pooled for a blinded reader) and per visit, how many patients
have a value, its median and mean, and the mean change from each patient's own baseline
(the trial's primary outcome is the absolute change in MELD at months 3 and 6).

Pure: the caller passes every patient's values by visit; nothing is read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean, median

BASELINE = "baseline"
SCORES = ("meld", "meld_na", "child_pugh")
SCORE_WORDS = {"meld": "MELD", "meld_na": "MELD-Na", "child_pugh": "Child-Pugh"}


@dataclass(frozen=True)
class Observation:
    """One patient's value of the score at one visit."""

    subject_id: str
    visit: str  # a visit key of the schedule; BASELINE for the value before treatment
    value: float


@dataclass(frozen=True)
class Summary:
    """The figures of one group at one visit."""

    n: int  # patients with a value at this visit
    median: float | None
    mean: float | None
    change_n: int  # of them, patients with a baseline too
    change_mean: float | None  # mean of (value − the patient's baseline)


@dataclass(frozen=True)
class Comparison:
    """A table: rows are visits (baseline first), columns the groups."""

    groups: tuple[str, ...]
    visits: tuple[str, ...]
    patients: Mapping[str, int]  # group -> patients in it (with or without values)
    cells: Mapping[tuple[str, str], Summary]  # (visit, group) -> figures

    def cell(self, visit: str, group: str) -> Summary:
        return self.cells[(visit, group)]


def summarise(values: Iterable[float], changes: Iterable[float]) -> Summary:
    """n, median and mean of `values`; n and mean of `changes` from baseline."""
    shown, moved = list(values), list(changes)
    return Summary(n=len(shown), median=median(shown) if shown else None,
                   mean=fmean(shown) if shown else None, change_n=len(moved),
                   change_mean=fmean(moved) if moved else None)


def compare(observations: Iterable[Observation], groups: Mapping[str, Sequence[str]],
            visits: Sequence[str]) -> Comparison:
    """The comparison table of `groups` (name -> subject IDs) over `visits` (in order; the
    baseline row is put first whether listed or not). A patient with two values at one visit
    counts once, with the last one given (the caller passes corrections last); values of
    patients in no group, and visits not listed, are left out."""
    latest: dict[tuple[str, str], float] = {}
    for seen in observations:
        latest[(seen.subject_id, seen.visit)] = seen.value
    rows = (BASELINE, *(visit for visit in dict.fromkeys(visits) if visit != BASELINE))
    cells: dict[tuple[str, str], Summary] = {}
    for group, members in groups.items():
        for visit in rows:
            values, changes = [], []
            for subject in dict.fromkeys(members):
                value = latest.get((subject, visit))
                if value is None:
                    continue
                values.append(value)
                baseline = latest.get((subject, BASELINE))
                if baseline is not None and visit != BASELINE:
                    changes.append(value - baseline)
            cells[(visit, group)] = summarise(values, changes)
    return Comparison(groups=tuple(groups), visits=rows,
                      patients={group: len(dict.fromkeys(members))
                                for group, members in groups.items()},
                      cells=cells)

