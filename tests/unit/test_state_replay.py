"""A product's history replayed from its events: where it ends, and which moves are illegal."""

from __future__ import annotations

from lims.services.audit_trail_index import Event, Trail
from lims.services.state_replay import replay_histories

DIN = "X999926000001"


def history(*moves: tuple[str, str]) -> Trail:
    events = [Event(1, None, "product_created", "product", DIN, "state", None, "scheduled",
                    None)]
    for seq, (old, new) in enumerate(moves, start=2):
        events.append(Event(seq, None, "state_changed", "product", DIN, "state", old, new,
                            None))
    return Trail(events)


def test_a_hold_after_release_then_a_suspension_leaves_it_suspended_from_released():
    replay = replay_histories(history(
        ("scheduled", "collected"), ("collected", "received"), ("received", "rbc_reduced"),
        ("rbc_reduced", "mnc_isolated"), ("mnc_isolated", "formulated"),
        ("formulated", "awaiting_release"), ("awaiting_release", "on_hold"),
        ("on_hold", "awaiting_release"), ("awaiting_release", "released"),
        ("released", "on_hold"), ("on_hold", "release_suspended")))

    product = replay.products[DIN]
    assert (product.state, product.held_from, product.suspended_from) == (
        "release_suspended", None, "released")
    # every move is allowed; the release is handed on for its signature check
    assert replay.problems == []
    assert [d.event.new for d in replay.decisions] == ["released"]


def test_a_resume_to_a_state_it_was_not_held_from_is_an_illegal_jump():
    replay = replay_histories(history(("scheduled", "collected"), ("collected", "on_hold"),
                                      ("on_hold", "received")))

    [problem] = replay.problems
    assert problem.where == f"event 4 (product {DIN}: on_hold → received)"
    assert problem.what == "transition"
    assert problem.found == "on_hold → received, which no step or decision allows"


def test_an_event_that_does_not_start_where_the_last_one_ended_is_reported():
    replay = replay_histories(history(("scheduled", "collected"), ("received", "rbc_reduced")))

    [problem] = replay.problems
    assert (problem.what, problem.expected, problem.found) == (
        "state before the change", "collected (where its history left it)", "received")
