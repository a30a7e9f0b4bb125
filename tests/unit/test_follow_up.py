"""The follow-up schedule as protocol parameters, and what makes a visit overdue or not
expected any more (workflows.follow_up)."""

from __future__ import annotations

from datetime import date

import pytest

from workflows.follow_up import (
    EventKind,
    VisitKind,
    VisitState,
    VisitStatus,
    days_overdue,
    follow_up_end,
    in_window,
    visit_plan,
    visit_status,
)
from workflows.protocol import ProtocolParameters

DAY0 = date(2026, 3, 2)


def test_weekly_visits_to_week_4_then_laboratory_visits_to_week_24():
    plan = visit_plan(DAY0, ProtocolParameters())
    assert [p.code for p in plan] == ["W1", "W2", "W3", "W4", "W8", "W12", "W16", "W20", "W24"]
    assert [p.day for p in plan[:4]] == [7, 14, 21, 28]
    assert {p.kind for p in plan[:4]} == {VisitKind.VISIT}
    assert {p.kind for p in plan[4:]} == {VisitKind.LABS}
    assert plan[0].due_on == date(2026, 3, 9)
    assert plan[-1].due_on == date(2026, 8, 17)  # 168 days after
    assert (plan[0].window_days, plan[-1].window_days) == (2, 7)


def test_the_schedule_follows_the_protocol_parameters():
    params = ProtocolParameters.from_mapping({"follow_up_weekly_visit_days": "7,14",
                                              "follow_up_lab_visit_weeks": "2,4,26",
                                              "follow_up_lab_window_days": 3})
    plan = visit_plan(DAY0, params)
    # week 2 is a weekly visit already: one visit, where the laboratory values are taken
    assert [(p.code, p.kind) for p in plan] == [
        ("W1", VisitKind.VISIT), ("W2", VisitKind.VISIT), ("W4", VisitKind.LABS),
        ("W26", VisitKind.LABS)]
    assert plan[-1].window_days == 3


@pytest.mark.parametrize("bad", ["", "7,,14", "7;14", "0,7", "7,7", "7.5", "٣"])
def test_a_schedule_that_is_not_a_list_of_days_is_refused(bad):
    with pytest.raises(ValueError, match="follow_up_weekly_visit_days"):
        ProtocolParameters.from_mapping({"follow_up_weekly_visit_days": bad})


def test_visit_status_by_its_window():
    visit = VisitState(due_on=date(2026, 3, 9), window_days=2, done=False)
    assert visit_status(visit, date(2026, 3, 6)) == VisitStatus.UPCOMING
    assert visit_status(visit, date(2026, 3, 7)) == VisitStatus.DUE
    assert visit_status(visit, date(2026, 3, 11)) == VisitStatus.DUE
    assert visit_status(visit, date(2026, 3, 12)) == VisitStatus.OVERDUE
    assert days_overdue(visit, date(2026, 3, 14)) == 3
    done = VisitState(due_on=date(2026, 3, 9), window_days=2, done=True)
    assert visit_status(done, date(2026, 4, 1)) == VisitStatus.DONE
    assert in_window(visit, date(2026, 3, 11)) and not in_window(visit, date(2026, 3, 12))


def test_death_and_transplant_end_follow_up_hcc_does_not():
    assert follow_up_end([(EventKind.HCC, date(2026, 3, 20))]) is None
    end = follow_up_end([(EventKind.HCC, date(2026, 3, 1)),
                         (EventKind.TRANSPLANT, date(2026, 4, 1)),
                         (EventKind.DEATH, date(2026, 5, 1))])
    assert end == date(2026, 4, 1)
    later = VisitState(due_on=date(2026, 4, 20), window_days=7, done=False)
    assert visit_status(later, date(2026, 6, 1), end) == VisitStatus.NOT_EXPECTED
    before = VisitState(due_on=date(2026, 3, 20), window_days=7, done=False)
    assert visit_status(before, date(2026, 6, 1), end) == VisitStatus.OVERDUE
