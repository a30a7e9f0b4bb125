"""The next action names a label still to print, then one to scan back, before the step."""

from __future__ import annotations

from dataclasses import dataclass

from lims.web.nextstep import next_action


@dataclass(frozen=True)
class ToDo:
    kind: str
    printed: bool


def test_a_label_to_print_comes_before_one_to_scan_back_and_before_the_step():
    action = next_action("enriched", "CD133", [ToDo("in_process", True), ToDo("final", False)])
    assert (action.kind, action.title) == ("label", "Print the final label")
    assert action.url("W0000") == "/products/W0000"
    assert action.allowed("technician") and not action.allowed("qa")


def test_a_printed_label_waits_for_its_scan_back():
    action = next_action("received", "BM-MNC", [ToDo("harvest", True)])
    assert action.title == "Scan back the printed harvest label"


def test_without_labels_to_do_the_step_is_next():
    assert next_action("received", "BM-MNC", []).kind == "step"
    assert next_action("received", "BM-MNC").step == "sediment"
