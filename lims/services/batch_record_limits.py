"""The protocol limit each value of a step record is held to, and where that limit comes from.

What judges which value is the registry's (workflows.registry: each entry's `limits`, raw
fields and computed figures alike, including those the step rules resolve themselves: the
dose per arm, the tubing set's capacity, the expiry, the ceiling on a recovery). Here the
bounds in force for this product are read from its protocol parameters, two limits on one
value combine into the tighter window, and the source is named for the reviewer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workflows.protocol import ProtocolParameters
from workflows.registry import REGISTRY, LimitRef
from workflows.step_limits import bound_text


@dataclass(frozen=True)
class Bound:
    """The protocol's bounds for one value (inclusive), with their source."""

    low: float | None
    high: float | None
    source: str

    def judge(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def text(self, unit: str) -> str:
        """The limit as paragraph markup ("≥ 80.0 %", "1.00–12.0 × 10<super>6</super> cells")."""
        return bound_text(self.low, self.high, unit, "pdf")


def _tighter(old: Bound | None, new: Bound) -> Bound:
    """Two limits on one value: the higher minimum and the lower maximum both apply."""
    if old is None:
        return new
    lows = [b for b in (old.low, new.low) if b is not None]
    highs = [b for b in (old.high, new.high) if b is not None]
    prefix = old.source.split(": ", 1)[0] + ": "
    added = new.source.removeprefix(prefix) if new.source.startswith(prefix) else new.source
    return Bound(max(lows) if lows else None, min(highs) if highs else None,
                 f"{old.source}; {added}")


def _resolved(ref: LimitRef, params: ProtocolParameters, arm: str,
              values: Mapping[str, object]) -> tuple[float | None, float | None]:
    """The bounds of `ref` for this product; two limits hold a table or an offset, not a
    number, and are resolved as the step rules resolve them."""
    if ref.code == "tubing_set_capacity":  # per tubing set (workflows.step_rules)
        tubing = str(values.get("tubing_set_type", ""))
        return None, params.tubing_set_capacity_total_cells.get(tubing)
    if ref.code == "recovery_above_100":  # cells do not multiply (workflows.balance)
        return None, 100 + params.balance_tolerance_pct
    return ref.bounds(params, arm)


def _where(ref: LimitRef, arm: str, values: Mapping[str, object]) -> str:
    """The parameters a bound is read from; for a bound set per arm, this product's arm's."""
    names = [a if isinstance(a, str) else a[arm] for a in (ref.low, ref.high) if a is not None]
    if ref.code == "tubing_set_capacity":
        return f"{names[0]} [{values.get('tubing_set_type')}]"
    if ref.code == "recovery_above_100":
        return f"100 % + {names[0]}"
    return ", ".join(names)


def step_bounds(step: str, arm: str, values: Mapping[str, object], params: ProtocolParameters,
                protocol: str) -> dict[str, Bound]:
    """The bounds of every value and figure of `step` the protocol limits, by registry name."""
    bounds: dict[str, Bound] = {}
    for (where, name), found in REGISTRY.items():
        if where != step:
            continue
        for ref in found.limits:
            if ref.source != "protocol":
                continue
            low, high = _resolved(ref, params, arm, values)
            if low is None and high is None:
                continue
            source = f"protocol {protocol}: {_where(ref, arm, values)}"
            bounds[name] = _tighter(bounds.get(name), Bound(low, high, source))
    return bounds
