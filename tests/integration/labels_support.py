"""What the label integration tests share: products with every label, and the database's
own view of what each label must scan as (computed here, not taken from `labels`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from labels import Label, LabelKind, render_pdf
from lims.config import get_settings
from lims.demo import DemoRun
from lims.models import Container, Product
from lims.services.labels import build_label
from tests.unit.label_support import decoded, rasterise
from workflows.isbt128 import encode_collection, encode_expiry, parse_scan

# The label kinds each container carries over its life (the final product: in-process
# until QA release, then final, then issue).
KINDS_OF = {
    "marrow_bag": (LabelKind.HARVEST,),  # after the harvest it wears the harvest label
    "rbc_reduced": (LabelKind.IN_PROCESS,),
    "mnc": (LabelKind.IN_PROCESS,),
    "cd133_target": (LabelKind.IN_PROCESS,),
    "cd133_negative": (LabelKind.IN_PROCESS,),
    "qc_sample": (LabelKind.QC_SAMPLE,),
    "final_product": (LabelKind.IN_PROCESS, LabelKind.FINAL, LabelKind.ISSUE),
}


@dataclass(frozen=True)
class Expected:
    """What the database says a label's symbols must carry."""

    din: str
    flags: str
    product_code: str
    expiry: datetime | None  # naive, facility local time, to the minute
    collection: datetime | None

    def din_scan(self) -> str:
        return f"={self.din}{self.flags}"

    def product_code_scan(self) -> str:
        return f"=<{self.product_code}"


def local_minute(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    zone = ZoneInfo(get_settings().time_zone)
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def expected_of(session: Session, product: Product, container: Container) -> Expected:
    row = session.exec(select(Product).where(Product.id == product.id)
                       .execution_options(populate_existing=True)).one()
    return Expected(row.din, container.flags, container.product_code,
                    local_minute(row.expires_at), local_minute(row.harvest_end))


def containers_of(session: Session, product: Product) -> list[Container]:
    return list(session.exec(select(Container).where(Container.product_id == product.id)
                             .order_by(col(Container.id))
                             .execution_options(populate_existing=True)))


def every_label(session: Session, product: Product) -> list[tuple[Container, Label]]:
    """Each container's label of each kind it carries, built from the database."""
    found = []
    for container in containers_of(session, product):
        assert container.id is not None
        for kind in KINDS_OF[container.kind]:
            found.append((container, build_label(session, din=product.din,
                                                 container_id=container.id, kind=kind)))
    return found


def expected_symbols(kind: LabelKind, want: Expected) -> Counter[str]:
    """The linear symbols of a label kind (ST-001 §7.3; QC tubes: DIN only), by content."""
    found = [want.din_scan()]
    if kind is not LabelKind.QC_SAMPLE:
        found.append(want.product_code_scan())
    if kind in (LabelKind.IN_PROCESS, LabelKind.FINAL, LabelKind.ISSUE):
        assert want.expiry is not None
        found.append(encode_expiry(want.expiry))
    return Counter(found)


def check_compound(kind: LabelKind, text: str, want: Expected) -> None:
    """The Data Matrix: a compound message whose parts are the database's values."""
    read = parse_scan(text)
    assert read.compound
    assert read.din is not None and read.din.text == want.din
    assert read.flags == want.flags
    assert read.product_code is not None and read.product_code.text == want.product_code
    dated = kind in (LabelKind.IN_PROCESS, LabelKind.FINAL, LabelKind.ISSUE)
    assert read.expiry == (want.expiry if dated else None)
    collected = kind in (LabelKind.COLLECTION, LabelKind.HARVEST, LabelKind.FINAL,
                         LabelKind.ISSUE)
    assert read.collection == (want.collection if collected else None)
    structures = [want.din_scan(), want.product_code_scan()]
    if dated and want.expiry:
        structures.append(encode_expiry(want.expiry))
    if collected and want.collection:
        structures.append(encode_collection(want.collection))
    assert [s.identifier + s.content for s in read.structures[1:]] == structures


def decode_pdf(label: Label, dpi: int = 300) -> Counter[str]:
    (page,) = rasterise(render_pdf(label), dpi)
    return decoded(page)


def printed_kinds(run: DemoRun, din: str) -> set[str]:
    return {label.kind.value for label in run.printed.get(din, {}).values()}
