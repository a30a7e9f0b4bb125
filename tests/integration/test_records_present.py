"""`records_present` answers, for each kind of occasional record, what the read it stands
for finds: the product page skips only reads that would have found nothing."""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session, select

from lims.models import Product
from lims.services.alerts import open_alerts
from lims.services.deviations import deviations_of
from lims.services.notifications import delivery_record
from lims.services.queries import coi_events_of
from lims.services.records_present import records_present
from lims.services.signatures import signatures_of
from lims.services.storage import storage_history
from lims.services.temperature_excursions import excursions
from lims.web import views
from tests.factories import demo_with_occasional_records


def test_each_kind_present_exactly_where_its_read_finds_rows(session: Session) -> None:
    demo_with_occasional_records(session)
    seen: Counter[str] = Counter()
    for product in session.exec(select(Product)).all():
        assert product.id is not None
        found = {
            "signatures": signatures_of(session, product.id),
            "deviations": deviations_of(session, product),
            "coi_events": coi_events_of(session, product),
            "open_alerts": open_alerts(session, product.id),
            "notifications": delivery_record(session, product),
            "storage": storage_history(session, product),
            "excursions": excursions(session, product=product),
        }
        present = records_present(session, product.id)
        for kind, rows in found.items():
            assert getattr(present, kind) == bool(rows), (product.din, kind)
            seen[kind] += bool(rows)
        page = views.product_page(session, product.din)
        for key, kind in (("signatures", "signatures"), ("deviations", "deviations"),
                          ("coi", "coi_events"), ("alerts", "open_alerts"),
                          ("notifications", "notifications"), ("storage", "storage"),
                          ("temperature_excursions", "excursions")):
            assert len(page[key]) == len(found[kind]), (product.din, key)
    # The demo lab has products with and without each kind: both answers were checked.
    products = len(session.exec(select(Product.id)).all())
    assert all(0 < seen[kind] < products for kind in (
        "signatures", "deviations", "coi_events", "open_alerts", "notifications", "storage",
        "excursions")), seen
