"""QC trends: viability, CD133 purity, recovery, yield and dose across products, against limits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from lims.api.routing import OneThreadRoute
from lims.models import Product, Protocol, QcResult, StepRecord
from lims.services.specifications import current_specification_set
from lims.web.charts import Chart, Point, svg
from lims.web.deps import DbSession, ReviewerUser
from lims.web.render import render, site_zone
from workflows.numbers import format_value
from workflows.protocol import ProtocolParameters
from workflows.registry import find, label_of
from workflows.specifications import Specification
from workflows.step_limits import bound_text, range_text

router = APIRouter(route_class=OneThreadRoute)


def _series(session: Session) -> tuple[list[Product], dict[tuple[int, str], float]]:
    products = list(session.exec(select(Product).where(col(Product.harvest_end).is_not(None))
                                 .order_by(col(Product.harvest_end), col(Product.id))))
    values: dict[tuple[int, str], float] = {}
    for row in session.exec(select(QcResult).where(col(QcResult.superseded).is_(False))):
        try:
            values[(row.product_id, row.test)] = float(row.value)
        except ValueError:
            continue
    for record in session.exec(select(StepRecord).where(
            col(StepRecord.step).in_(["enrich", "isolate_mnc"]),
            col(StepRecord.superseded).is_(False))):
        for name, value in record.computed.items():
            known = find(record.step, name)  # also finds a yield stored under its old name
            if known is not None and known.name in ("cd133_recovery_pct", "mnc_yield_pct"):
                values[(record.product_id, known.name)] = float(value)
    return products, values


def _points(products: list[Product], values: dict[tuple[int, str], float], key: str,
            arm: str | None, low: float | None, high: float | None) -> list[Point]:
    points = []
    for product in products:
        if arm is not None and product.arm != arm:
            continue
        value = values.get((product.id or 0, key))
        if value is None:
            continue
        ok = (low is None or value >= low) and (high is None or value <= high)
        points.append(Point(product.din, value, ok, f"({product.arm} arm)",
                            when=product.harvest_end))
    return points


def _between(low: float, high: float) -> str:
    return range_text(low, high, "cells")


def _at_least(low: float | None) -> str:
    return bound_text(low, None, "%") if low else ""


def charts(session: Session) -> list[Chart]:
    protocol = session.exec(select(Protocol).order_by(col(Protocol.id))).first()
    if protocol is None or protocol.id is None:
        return []
    params = ProtocolParameters.from_mapping(protocol.parameters)
    specs = {arm: Specification.from_mapping(
        current_specification_set(session, protocol.id, arm).limits)
        for arm in ("CD133", "BM-MNC")}
    cd133, mnc = specs["CD133"], specs["BM-MNC"]
    products, values = _series(session)
    purity_min = cd133.cd133_purity_min_pct
    recovery_min = params.enrichment_recovery_warn_below_pct
    out = []
    for arm, spec in specs.items():
        out.append(Chart(f"Viability, {arm} arm (QC release test)", "%",
                         _points(products, values, "viability", arm, spec.viability_min_pct,
                                 None), low=spec.viability_min_pct,
                         limit_text=_at_least(spec.viability_min_pct)))
    out += [
        Chart("CD133+ purity (QC release test)", "%",
              _points(products, values, "cd133_purity", "CD133", purity_min, None),
              low=purity_min, limit_text=_at_least(purity_min)),
        Chart(f"{label_of('enrich', 'cd133_recovery_pct')} of the CliniMACS enrichment", "%",
              _points(products, values, "cd133_recovery_pct", "CD133", recovery_min, None),
              low=recovery_min,
              limit_text=f"warning below {format_value(recovery_min, '%')}"),
        Chart(f"{label_of('isolate_mnc', 'mnc_yield_pct')} of the Ficoll isolation (both arms)",
              "%", _points(products, values, "mnc_yield_pct", None, None, None)),
        Chart("Viable CD133+ dose per product", "cells",
              _points(products, values, "viable_dose", "CD133", cd133.dose_min_cells,
                      cd133.dose_max_cells), low=cd133.dose_min_cells,
              high=cd133.dose_max_cells, log=True,
              limit_text=_between(cd133.dose_min_cells, cd133.dose_max_cells)),
        Chart("Viable MNC dose per product (BM-MNC arm)", "cells",
              _points(products, values, "viable_dose", "BM-MNC", mnc.dose_min_cells,
                      mnc.dose_max_cells), low=mnc.dose_min_cells, high=mnc.dose_max_cells,
              log=True, limit_text=_between(mnc.dose_min_cells, mnc.dose_max_cells)),
    ]
    return out


@router.get("/trends")
def trends(request: Request, user: ReviewerUser, db: DbSession) -> HTMLResponse:
    """QC trend charts across products, against the current specification limits."""
    rows = [{"chart": chart, "svg": svg(chart, site_zone())} for chart in charts(db)]
    return render(request, "trends.html", {"charts": rows})
