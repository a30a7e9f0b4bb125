"""Label generations: of all the labels printed for a container, only one counts.

Every print carries its serial inside the label's 2-D code (the laboratory's local ISBT 128
structure `&s`, see `workflows.isbt128.encode_print_serial`) and beside it as "Print n".
The label a container may be used with is its *current* label: its latest print of the kind
its stage calls for (in-process until QA release, final after it, issue after issue). Every
other print of it is superseded: an earlier print of the same kind (a reprint supersedes it)
or a label of an earlier stage (the in-process label once the product is released).

Where the generation matters (scan-back, issue, administration) only a read of the square
code tells which print is on the container: a linear Code 128 read or a typed DIN carries
no serial and is refused. The callers record a refused scan like any other.
"""

from __future__ import annotations

from sqlalchemy import Table, update
from sqlmodel import Session, col, func, select

from labels import LabelKind
from labels.timefmt import local_text
from lims.config import get_settings
from lims.models import Container, PrintJob, Product
from workflows.errors import ErrorCode, IdentityMismatch
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.isbt128 import Scan, ScanError, parse_scan
from workflows.words import label_kind_words

_C: Table = Container.__table__  # type: ignore[attr-defined]
# The scan names what the person at the bench must do; these words say what was read.
_SQUARE = "scan the square (2-D) code on the label"


def next_serial(session: Session, container_id: int) -> int:
    """The serial of the container's next print (the caller holds the container's row lock)."""
    done = session.exec(select(func.count(), func.max(PrintJob.serial)).where(
        PrintJob.container_id == container_id)).one()
    return max(done[0], done[1] or 0) + 1


def wear(session: Session, container: Container, serial: int | None) -> None:
    """Record which print the container wears now (what its scan text carries)."""
    session.connection().execute(update(_C).where(_C.c.id == container.id)
                                 .values(label_serial=serial))
    container.label_serial = serial


def prints_of(session: Session, container_id: int) -> list[PrintJob]:
    """Every print of the container's label, oldest first."""
    return list(session.exec(select(PrintJob).where(PrintJob.container_id == container_id)
                             .order_by(col(PrintJob.id))))


def current_print(session: Session, container_id: int, due: LabelKind) -> PrintJob | None:
    """The container's current label: its latest print of the kind `due`, if any."""
    found = [job for job in prints_of(session, container_id) if job.label_kind == due.value]
    return found[-1] if found else None


def check_generation(session: Session, *, product: Product, container: Container,
                     due: LabelKind, raw: str) -> PrintJob:
    """The print `raw` was read from, if it is the container's current label; else raise
    IdentityMismatch naming the label to remove and the one to use."""
    what = KIND_LABELS[ContainerKind(container.kind)]
    want = f"current {due.value} label of the {what} of DIN {product.din}"
    read = _square_code(raw, what, want)
    assert container.id is not None
    prints = prints_of(session, container.id)
    scanned = next((job for job in prints if job.serial == read.print_serial), None)
    if scanned is None:
        raise _refusal(ErrorCode.COI_BAD_SCAN,
                       f"print {read.print_serial} of the {what}'s label was never printed by "
                       f"the laboratory: remove this label and {_SQUARE} of the current one",
                       raw, want)
    current = next((job for job in reversed(prints) if job.label_kind == due.value), None)
    if current is None or current.id != scanned.id:
        raise _refusal(ErrorCode.COI_SUPERSEDED_LABEL,
                       f"SUPERSEDED LABEL: this is the {_described(scanned)}; remove it from "
                       f"the {what} and {_use(current, due)}", raw, want)
    return scanned


def _square_code(raw: str, what: str, want: str) -> Scan:
    try:
        read = parse_scan(raw)
    except ScanError as error:
        raise _refusal(ErrorCode.COI_BAD_SCAN, f"unreadable scan: {error}", raw, want) from error
    if not read.structures:
        raise _refusal(ErrorCode.COI_SQUARE_CODE_REQUIRED,
                       f"a typed DIN cannot show which label the {what} wears: {_SQUARE}",
                       raw, want)
    if not read.two_dimensional:
        raise _refusal(ErrorCode.COI_SQUARE_CODE_REQUIRED,
                       f"this is a read of a linear (Code 128) bar code, which cannot show "
                       f"which label the {what} wears: {_SQUARE}", raw, want)
    if read.print_serial is None:
        raise _refusal(ErrorCode.COI_SUPERSEDED_LABEL,
                       f"SUPERSEDED LABEL: this 2-D code carries no print serial, so it is not "
                       f"a label the laboratory printed for the {what} as it is now; remove it, "
                       f"print the label again and scan the new one", raw, want)
    return read


def _described(job: PrintJob) -> str:
    zone = get_settings().time_zone
    return (f"{label_kind_words(job.label_kind)} \"Print {job.serial}\" printed "
            f"{local_text(job.printed_at, zone)}")


def _use(current: PrintJob | None, due: LabelKind) -> str:
    if current is None:
        return (f"print its {label_kind_words(due)}, put it on and scan that "
                f"label's square code")
    return f"use its current {_described(current)}"


def _refusal(code: ErrorCode, detail: str, raw: str, want: str) -> IdentityMismatch:
    return IdentityMismatch(code, detail, scanned=raw, expected=want[:200])
