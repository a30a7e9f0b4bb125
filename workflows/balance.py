"""Cell and volume balance between containers, and inputs carried forward.

Cells and volume only go down, or stay within counting error, from one container
to the next (invariant 3). The field registry (workflows.fields) says which value
a step put out into which container and which it took in from which; from the
step records the services build what each container holds (`holdings`), less what
its other children took since (a QC sample, a container added later). A step
then:

- takes an input left empty from what its container holds (`carry_forward`): the
  sedimentation's volume in is the harvested volume unless the bench typed another;
- may not take in more than its container holds beyond the protocol's counting
  tolerance (`balance_breaches`, a refusal naming both figures and containers). A
  step that counts no cells in (Ficoll, formulation) took in at least the cells it
  put out: those are compared with what its input container holds;
- has its recoveries and yields above 100 % plus the tolerance flagged for QA
  (`recovery_findings`).

Pure: the caller loads the records; nothing here knows the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from workflows.fields import Figure, Flow, Quantity
from workflows.identity import KIND_LABELS, ContainerKind, input_kind
from workflows.protocol import Action, ProtocolParameters
from workflows.step_limits import figure_text
from workflows.step_model import Field, Finding, Holding, StepContext, StepSpec

BALANCED = (Quantity.CELLS, Quantity.VOLUME)
RECOVERY_CODE = "recovery_above_100"
_UNIT = {Quantity.CELLS: "cells", Quantity.VOLUME: "ml"}


def holdings(specs: Mapping[str, StepSpec], records: Mapping[str, Mapping[str, object]],
             drawn_ml: Mapping[ContainerKind, float]) -> Mapping[ContainerKind, Holding]:
    """What each container filled by a recorded step holds.

    `records` holds each recorded step's values and computed figures by step name;
    `drawn_ml` the volume the container's other children took. Cells go with the
    volume drawn in proportion (a 1 ml sample of 10 ml takes a tenth of the cells).
    """
    found: dict[ContainerKind, Holding] = {}
    for step, figures in records.items():
        spec = specs.get(step)
        if spec is None:
            continue
        for kind in ContainerKind:
            cells = _amount(spec, figures, Flow.OUT, kind, Quantity.CELLS)
            volume = _amount(spec, figures, Flow.OUT, kind, Quantity.VOLUME)
            if cells is None and volume is None:
                continue
            found[kind] = _less_drawn(kind, spec, cells, volume, drawn_ml.get(kind, 0.0))
    return MappingProxyType(found)


def put_out(spec: StepSpec, figures: Mapping[str, object], kind: ContainerKind,
            quantity: Quantity) -> float | None:
    """The cells or volume the step put into its container of `kind`, or None."""
    found = _amount(spec, figures, Flow.OUT, kind, quantity)
    return None if found is None else found[0]


def _amount(spec: StepSpec, figures: Mapping[str, object], flow: Flow, kind: ContainerKind,
            quantity: Quantity) -> tuple[float, str] | None:
    # A computed figure (the count from concentration and volume) wins over a typed one.
    for item in reversed(spec.measures(flow, kind, quantity)):
        value = figures.get(item.name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), f"{item.label}, {spec.label}"
    return None


def _less_drawn(kind: ContainerKind, spec: StepSpec, cells: tuple[float, str] | None,
                volume: tuple[float, str] | None, drawn: float) -> Holding:
    left_cells = None if cells is None else cells[0]
    left_volume = None if volume is None else volume[0]
    if drawn > 0 and left_volume is not None and left_volume > 0:
        if left_cells is not None:
            left_cells *= max(left_volume - drawn, 0.0) / left_volume
        left_volume = max(left_volume - drawn, 0.0)
    return Holding(container=kind, step=spec.name, cells=left_cells, volume_ml=left_volume,
                   cells_from=cells[1] if cells else "", volume_from=volume[1] if volume else "")


def _held(holding: Holding, quantity: Quantity) -> tuple[float | None, str]:
    if quantity is Quantity.CELLS:
        return holding.cells, holding.cells_from
    return holding.volume_ml, holding.volume_from


def carried_input(f: Field) -> bool:
    """True for an input that, left empty, is taken from what its container holds."""
    return f.where is not None and f.where.flow is Flow.IN and f.what in BALANCED


def _inputs(spec: StepSpec) -> tuple[Field, ...]:
    return tuple(f for f in spec.fields if carried_input(f))


def carry_forward(spec: StepSpec, raw: Mapping[str, object],
                  context: StepContext) -> tuple[dict[str, object], tuple[str, ...]]:
    """The submission with each input left empty taken from what its container holds,
    and the names of the inputs so filled."""
    filled = dict(raw)
    carried = []
    for f in _inputs(spec):
        given = raw.get(f.name)
        if given is not None and not (isinstance(given, str) and not given.strip()):
            continue
        assert f.where is not None
        holding = context.holdings.get(f.where.container)
        amount = None if holding is None else _held(holding, f.what)[0]
        if amount is not None:
            filled[f.name] = amount
            carried.append(f.name)
    return filled, tuple(carried)


def balance_breaches(spec: StepSpec, figures: Mapping[str, object], context: StepContext,
                     params: ProtocolParameters) -> dict[str, str]:
    """Per field, why the step takes in more than its container holds (empty: balanced)."""
    breaches: dict[str, str] = {}
    for item, container in _taken_in(spec, context.arm):
        holding = context.holdings.get(container)
        value = figures.get(item.name)
        if holding is None or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        held, source = _held(holding, item.what)
        tolerance = params.balance_tolerance_pct
        if held is not None and value > held * (1 + tolerance / 100):
            unit = _UNIT[item.what]
            where = item.where.describe() if item.where else ""
            # A form shows a field's message after its label; a computed figure names itself.
            label = "" if item.name in {f.name for f in spec.fields} else f"{item.label} "
            breaches[item.name] = (
                f"{label}{figure_text(float(value), unit)} ({where}) is more than the "
                f"{KIND_LABELS[container]} holds: {figure_text(held, unit)} ({source}), beyond "
                f"the counting tolerance of {figure_text(tolerance, '%')}. Recount or check the "
                f"figure; if the earlier figure is wrong, record a deviation for QA")
    return breaches


def _taken_in(spec: StepSpec,
              arm: str) -> list[tuple[Field | Figure, ContainerKind]]:
    """What the step takes in, with the container it comes from.

    Its declared inputs; and where it counts no cells in, the cells it puts out, which
    came from the container the step takes (identity.input_kind).
    """
    taken: list[tuple[Field | Figure, ContainerKind]] = [
        (f, f.where.container) for f in _inputs(spec) if f.where is not None]
    source = input_kind(spec.name, arm)
    counts_cells_in = any(f.what is Quantity.CELLS for f, _ in taken) or any(
        fig.where is not None and fig.where.flow is Flow.IN and fig.what is Quantity.CELLS
        for fig in spec.figures)
    if source is not None and not counts_cells_in:
        items: tuple[Field | Figure, ...] = (*spec.fields, *spec.figures)
        outputs = {item.name: item for item in items
                   if item.where is not None and item.where.flow is Flow.OUT
                   and item.what is Quantity.CELLS}
        taken += [(item, source) for item in outputs.values()]
    return taken


def recovery_findings(spec: StepSpec, figures: Mapping[str, object],
                      params: ProtocolParameters) -> tuple[Finding, ...]:
    """Recoveries above 100 % plus the counting tolerance: cells do not multiply.

    `figures` holds the step's values and computed figures. Each recovery figure is judged;
    where none was above, so are the nucleated cells the step put out against those it
    counted in (the CliniMACS target fraction against the cells labelled).
    """
    tolerance = params.balance_tolerance_pct
    action = params.action_for(RECOVERY_CODE)
    found = []
    for fig in spec.figures:
        value = _number(figures, fig.name)
        # A yield (MNC out / nucleated cells in) above 100 % is as impossible as a recovery.
        judged = fig.what in (Quantity.RECOVERY, Quantity.YIELD)
        if judged and value is not None and value > 100 + tolerance:
            message = (f"{fig.label} {figure_text(value, '%')} is above 100 % by more than the "
                       f"counting tolerance of {figure_text(tolerance, '%')}: cells do not "
                       f"multiply between counts; QA reviews the counts")
            found.append(Finding(fig.name, RECOVERY_CODE, message, action, value,
                                 100 + tolerance))
    if not found:
        found += _cells_out_beyond_in(spec, figures, tolerance, action)
    return tuple(found)


def _cells_out_beyond_in(spec: StepSpec, figures: Mapping[str, object], tolerance: float,
                         action: Action) -> list[Finding]:
    items: tuple[Field | Figure, ...] = (*spec.fields, *spec.figures)
    cells_in: tuple[str, float] | None = None
    cells_out: dict[str, tuple[str, float]] = {}
    for item in items:
        value = _number(figures, item.name)
        if item.where is None or item.what is not Quantity.CELLS or value is None:
            continue
        if item.where.flow is Flow.IN and cells_in is None:
            cells_in = (item.label, value)
        elif item.where.flow is Flow.OUT:
            cells_out[item.name] = (item.label, value)
    if cells_in is None or not cells_out:
        return []
    total = sum(value for _, value in cells_out.values())
    if total <= cells_in[1] * (1 + tolerance / 100):
        return []
    labels = " + ".join(label for label, _ in cells_out.values())
    message = (f"{labels} {figure_text(total, 'cells')} is more than the "
               f"{figure_text(cells_in[1], 'cells')} taken in ({cells_in[0]}) by more than the "
               f"counting tolerance of {figure_text(tolerance, '%')}: cells do not multiply "
               f"within a step; "
               f"QA reviews the counts")
    return [Finding(next(iter(cells_out)), RECOVERY_CODE, message, action, total, cells_in[1])]


def _number(figures: Mapping[str, object], name: str) -> float | None:
    value = figures.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
