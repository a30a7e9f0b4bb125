"""Mermaid diagram of the product lifecycle, generated from the transition table."""

from __future__ import annotations

from transitions.extensions.diagrams import GraphMachine

from workflows.product import TRANSITIONS, ProductState, _plain


class _Drawing:
    """Model object for the diagram machine only; products never use GraphMachine."""


def mermaid() -> str:
    drawing = _Drawing()
    GraphMachine(model=drawing, states=[s.value for s in ProductState],
                 transitions=[_plain(t) for t in TRANSITIONS], initial=ProductState.SCHEDULED.value,
                 auto_transitions=False, graph_engine="mermaid", show_conditions=True,
                 title="Autologous product lifecycle")
    source: str = drawing.get_graph().draw(None)  # type: ignore[attr-defined]
    return source


def markdown() -> str:
    return ("# Product lifecycle\n\n"
            "Generated from `workflows/product.py` by `lims diagram`; a test fails when it "
            "drifts.\n\n```mermaid\n" + mermaid().rstrip() + "\n```\n")
