"""The demo's storage (issue 16): a site, room, freezer and fridge with boxes, and the demo
products' retention samples and CD133-negative fractions scanned into positions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session, col, select

from lims.models import Container, Product, StorageLocation, User
from lims.services.queries import container_scan_text
from lims.services.storage import store_container
from lims.services.storage_locations import create_location
from workflows.storage import position_code

# (kind, name, code, parent, lowest °C, highest °C, rows, columns)
TREE = (
    ("site", "University hospital", "HOSP", None, None, None, None, None),
    ("room", "Cell-processing laboratory", "CPL", "HOSP", 15.0, 25.0, None, None),
    ("freezer", "Freezer -80 °C no. 1", "FRZ1", "CPL", -90.0, -60.0, None, None),
    ("rack", "Rack A", "FRZ1-RA", "FRZ1", None, None, None, None),
    ("box", "Retention samples", "RET1", "FRZ1-RA", None, None, 9, 9),
    ("fridge", "Fridge 2-8 °C", "FRG1", "CPL", 2.0, 8.0, None, None),
    ("box", "Negative fractions", "NEG1", "FRG1", None, None, 4, 4),
)
# Which box holds each kind of container the demo stores.
BOX_OF = {"retention_sample": ("RET1", 9), "cd133_negative": ("NEG1", 4)}


def store_demo_samples(session: Session, products: Sequence[Product], users: dict[str, User],
                       say: Callable[[str], None] = print) -> int:
    """Build the tree (once) and store every retention sample and negative fraction still
    in use; returns how many were stored."""
    if session.exec(select(StorageLocation).where(StorageLocation.code == "HOSP")).first() \
            is None:
        for kind, name, code, parent, low, high, rows, columns in TREE:
            create_location(session, actor=users["super1"], kind=kind, name=name, code=code,
                            parent_code=parent, temperature_min_c=low, temperature_max_c=high,
                            rows=rows, columns=columns)
        say(f"storage: {len(TREE)} locations created (boxes with their positions)")
    used = {kind: 0 for kind in BOX_OF}
    stored = 0
    for product in products:
        containers = session.exec(select(Container).where(
            Container.product_id == product.id, col(Container.kind).in_(list(BOX_OF)),
            Container.status == "in_use").order_by(col(Container.id))).all()
        for container in containers:
            box, columns = BOX_OF[container.kind]
            index = used[container.kind]
            used[container.kind] += 1
            place = position_code(box, index // columns + 1, index % columns + 1)
            store_container(session, actor=users["tech1"],
                            container_scan=container_scan_text(product, container),
                            position_scan=place)
            say(f"  {product.din} {container.kind} {container.flags} stored in {place}")
            stored += 1
    return stored
