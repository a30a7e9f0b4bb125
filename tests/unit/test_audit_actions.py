"""Audit actions are one enumeration: every event is written with a member of it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lims.audit_actions import LEGACY, WORDS, AuditAction, action_words

LIMS = Path(__file__).resolve().parents[2] / "lims"


def pending_event_actions() -> list[tuple[str, ast.expr]]:
    """The action argument of every PendingEvent(...) written in lims/."""
    found = []
    for path in sorted(LIMS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PendingEvent":
                action = node.args[0] if node.args else next(
                    k.value for k in node.keywords if k.arg == "action")
                found.append((f"{path.relative_to(LIMS.parent)}:{node.lineno}", action))
    return found


def is_member(expr: ast.expr) -> bool:
    if isinstance(expr, ast.IfExp):
        return is_member(expr.body) and is_member(expr.orelse)
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        return expr.value.id == "AuditAction" and expr.attr in AuditAction.__members__
    # a parameter passed through (typed AuditAction, which mypy checks at every caller)
    return isinstance(expr, ast.Name)


def test_every_pending_event_in_the_code_names_its_action_by_a_member_of_the_enumeration():
    sites = pending_event_actions()

    assert len(sites) > 30
    assert [where for where, action in sites if not is_member(action)] == []


def test_every_member_of_the_enumeration_is_written_somewhere():
    source = "\n".join(p.read_text(encoding="utf-8") for p in LIMS.rglob("*.py")
                       if p.name != "audit_actions.py")

    assert [a.name for a in AuditAction
            if a not in LEGACY and f"AuditAction.{a.name}" not in source] == []


def test_every_action_has_words_for_the_inspector_and_unknown_ones_say_so():
    assert set(WORDS) == set(AuditAction)
    assert len(set(WORDS.values())) == len(WORDS)
    assert action_words("qc_corrected") == "QC result corrected"
    assert action_words("made_up") == "unknown action 'made_up'"


@pytest.mark.parametrize("action", list(AuditAction))
def test_each_stored_value_reads_back_as_its_member(action):
    assert AuditAction(str(action.value)) is action and action == action.value
