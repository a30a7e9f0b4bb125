"""Label printing as a controlled act, and the print-then-scan check of chain of identity.

Every print is recorded (who, when, which label, which format and printer, a hash of
exactly what was rendered). A second print of the same label of a container is a
reprint: it needs a reason and carries the REPRINT mark. Any print puts a new label
on the container, so the container must be scanned back (`verify_label`) before a
step may use it (the gate is in `lims.services.steps`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Table, update
from sqlmodel import Session, col, func, select

from labels import (
    Label,
    LabelKind,
    LayoutOverflow,
    PrinterConnection,
    PrinterError,
    render_pdf,
    render_zpl,
)
from labels.stock import STOCK_NAMES, stock_for
from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import Container, PrintJob, Product, User
from lims.services.clock import clock_skew_minutes, refuse_future
from lims.services.common import aware, patient_of, require_role
from lims.services.identity import check_scan, record_mismatch
from lims.services.label_content import (
    FINAL_KINDS,
    LabelSubject,
    build_label,
    issued_by,
    label_kind_for,
    label_of,
    load_containers,
    load_product,
    load_subject,
    resolve_kind,
)
from lims.services.label_generations import (
    check_generation,
    container_ref,
    current_print,
    next_serial,
    superseded_prints,
    wear,
)
from lims.services.label_pending import (
    PendingLabel,
    pending_labels_many,
    pending_labels_of,
)
from lims.services.printers import printer_by_id, printer_named, stock_words
from workflows.errors import (
    DomainError,
    ErrorCode,
    Forbidden,
    IdentityMismatch,
    InvalidInput,
    NotFound,
)
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.isbt128 import Scan, ScanError, parse_scan
from workflows.product import FINAL_STATES
from workflows.roles import Role
from workflows.words import container_status_words, label_kind_words, state_words

__all__ = ["LABELLERS", "PendingLabel", "PrintResult", "build_label", "container_ref",
           "pending_labels", "pending_labels_many", "print_job_document", "print_label",
           "verify_label"]

Format = Literal["pdf", "zpl"]
# Physicians print and check the collection label in the operating room, nothing else.
LABELLERS = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.PHYSICIAN})
VERIFY_STEP = "label_verification"  # the CoiEvent step of a refused scan-back
_C: Table = Container.__table__  # type: ignore[attr-defined]
_P: Table = Product.__table__  # type: ignore[attr-defined]
_J: Table = PrintJob.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PrintResult:
    output: bytes | str  # PDF bytes or ZPL text, exactly what was hashed and printed
    print_job: PrintJob
    label: Label


def print_label(session: Session, *, actor: User, din: str, container_id: int,
                format: Format = "pdf", printer: str = "", reason: str | None = None,
                kind: LabelKind | str | None = None, now: datetime | None = None,
                printer_id: int | None = None) -> PrintResult:
    """Render the container's label, record the print and, for a Zebra, send it over raw TCP.

    `printer` (a registered printer's name) or `printer_id` sends ZPL to that printer,
    which must be in use and hold the label's stock; the legacy configured printer is
    named by its address. Any other name is only recorded (a PDF printed at the bench).
    `kind` None prints the label the container carries now (see `label_kind_for`).
    """
    require_role(actor, LABELLERS, "print labels")
    if format not in ("pdf", "zpl"):
        raise InvalidInput(f"unknown label format {format!r}; use pdf or zpl")
    printer, reason = printer.strip(), (reason or "").strip() or None
    if len(printer) > 120 or (reason is not None and len(reason) > 500):
        raise InvalidInput("printer name (120) or reason (500 characters) too long")
    target = _printer_target(session, printer, printer_id)
    if target is None:
        return _record_print(session, actor=actor, din=din, container_id=container_id,
                             format=format, printer=printer, reason=reason, kind=kind,
                             now=aware(now), connection=None)
    if format != "zpl":
        raise InvalidInput(f"printer {target.name} is a Zebra: it prints ZPL, not {format}")
    if target.printer_id is not None:
        _check_stock(target, resolve_kind(
            load_subject(session, din=din, container_id=container_id), kind))
        session.rollback()  # end those reads: SQLite holds its write lock from BEGIN on
    # Connect before anything is locked: a printer that is off must not hold up the lab.
    try:
        connection = PrinterConnection(target.host, target.port)
    except PrinterError as error:
        raise DomainError(ErrorCode.PRINTER_ERROR, str(error)) from error
    with connection:
        return _record_print(session, actor=actor, din=din, container_id=container_id,
                             format=format, printer=target.name, reason=reason, kind=kind,
                             now=aware(now), connection=connection,
                             printer_id=target.printer_id)


@dataclass(frozen=True)
class _Target:
    name: str  # what the print job records
    host: str
    port: int
    printer_id: int | None = None  # None: the legacy printer of the settings
    stock: str = ""


def _printer_target(session: Session, name: str, printer_id: int | None) -> _Target | None:
    """The printer to send to: a registered one (by id or name), the configured one (by
    its address), or None (the print is only recorded under `name`)."""
    if printer_id is None and (zebra := _zebra(name)) is not None:
        return _Target(name, *zebra)  # the configured address: no database read at all
    row = printer_by_id(session, printer_id) if printer_id is not None else (
        printer_named(session, name) if name else None)
    if row is None:
        return None
    if name and name != row.name:
        raise InvalidInput(f"printer {printer_id} is {row.name}, not {name}")
    if not row.active:
        raise DomainError(ErrorCode.CONFLICT, f"printer {row.name} is out of use: "
                                              "choose another printer")
    return _Target(row.name, row.host, row.port, row.id, row.stock)


def _check_stock(row: _Target, kind: LabelKind) -> None:
    wanted = stock_for(kind)
    if row.stock != wanted.value:
        raise DomainError(ErrorCode.PRINTER_WRONG_STOCK,
                          f"the {label_kind_words(kind)} is printed on {STOCK_NAMES[wanted]} "
                          f"labels, but printer {row.name} holds {stock_words(row.stock)}: "
                          "choose a printer with that stock (nothing was printed)")


def _record_print(session: Session, *, actor: User, din: str, container_id: int,
                  format: Format, printer: str, reason: str | None,
                  kind: LabelKind | str | None, now: datetime,
                  connection: PrinterConnection | None,
                  printer_id: int | None = None) -> PrintResult:
    subject = load_subject(session, din=din, container_id=container_id)
    chosen = resolve_kind(subject, kind)
    _may_print(actor, subject, chosen)
    container, product = subject.container, subject.product
    assert container.id is not None and product.id is not None and actor.id is not None
    _check_print_time(session, product, container, now)
    # Two prints of one container at once must not both count as the first (PostgreSQL).
    session.connection().execute(select(_C.c.id).where(_C.c.id == container.id)
                                 .with_for_update())
    earlier = _count_prints(session, container.id, chosen)
    if earlier and reason is None:  # a label a correction superseded: that is the reason
        reason = _superseded_reason(session, product, container, chosen)
    if earlier and reason is None:
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          f"the {chosen.value} label of this {_what(container)} was printed "
                          f"before: a reprint needs a reason")
    serial = next_serial(session, container.id)
    label = label_of(subject, chosen, reprint=bool(earlier),
                     issued_by=issued_by(session, subject, chosen), print_serial=serial)
    try:
        output: bytes | str = render_pdf(label) if format == "pdf" else render_zpl(label)
    except LayoutOverflow as error:
        raise InvalidInput(f"the label content does not fit the label: {error}") from error
    data = output if isinstance(output, bytes) else output.encode("utf-8")
    job = PrintJob(product_id=product.id, container_id=container.id, label_kind=chosen.value,
                   format=format, printer=printer, printer_id=printer_id,
                   reprint=bool(earlier), reason=reason,
                   content_hash=hashlib.sha256(data).hexdigest(), serial=serial,
                   printed_by_id=actor.id, printed_at=now)
    session.add(job)
    ref = container_ref(product.din, container)
    events = []
    if container.label_verified_at is not None:  # a new label must be scanned back again
        events.append(PendingEvent(AuditAction.LABEL_VERIFICATION_RESET, "container", ref,
                                   "label_verified_at", container.label_verified_at.isoformat(),
                                   None, reason=f"new {chosen.value} label printed"))
        _set_verified(session, container, None)
    wear(session, container, serial)  # the new label goes on; every earlier one is superseded
    session.flush()
    events.insert(0, PendingEvent(
        AuditAction.LABEL_REPRINTED if earlier else AuditAction.LABEL_PRINTED, "container", ref,
        "label", None,
        {"print_job": job.id, "serial": serial, "kind": chosen.value, "format": format,
         "printer": printer, "content_hash": job.content_hash,
         **({"printer_id": printer_id} if printer_id is not None else {})}, reason=reason))
    append(session, events, user_id=actor.id, username=actor.username)
    if connection is not None:
        assert isinstance(output, str)
        try:
            connection.send(output)  # connected already: this takes milliseconds
        except PrinterError as error:
            session.rollback()  # nothing came out of the printer: nothing is recorded
            raise DomainError(ErrorCode.PRINTER_ERROR, str(error)) from error
    session.commit()
    return PrintResult(output=output, print_job=job, label=label)


def verify_label(session: Session, *, actor: User, din: str, scan: str,
                 now: datetime | None = None) -> Container:
    """Scan a freshly printed label back: it must be a printed container of this product.

    A wrong or unreadable label is refused and recorded as a COI event (nothing else
    changes); a right one marks the container's label as verified.
    """
    now = aware(now)
    require_role(actor, LABELLERS, "verify labels")
    product = load_product(session, din)
    assert product.id is not None and actor.id is not None
    containers = load_containers(session, product.id)
    printed = _last_prints(session, product.id)
    target = _target(scan, containers, printed)
    try:
        read = check_scan(session, product=product, subject_id=patient_of(session, product)
                          .subject_id, container=target, raw=scan)
        if target.id not in printed:
            raise _mismatch(ErrorCode.COI_WRONG_CONTAINER,
                            f"no label has been printed for this {_what(target)}: this is not "
                            f"a label the laboratory printed", scan, product, target)
        _check_dates(read, product, scan, target)
        current = check_generation(session, product=product, container=target,
                                   due=label_kind_for(load_subject(
                                       session, din=product.din, container_id=target.id)),
                                   raw=scan)
    except IdentityMismatch as error:
        record_mismatch(session, error=error, product=product, step=VERIFY_STEP, actor=actor,
                        at=now)
        raise
    if actor.role == Role.PHYSICIAN and target.kind != ContainerKind.MARROW_BAG:
        raise Forbidden(f"physician {actor.username} may verify only the collection label")
    if target.label_verified_at is not None:
        return target  # scanned back before: nothing new to record
    _check_time(session, product, now, what="the scan-back time", earliest=current.printed_at,
                before="the label was printed")
    _set_verified(session, target, now)
    wear(session, target, current.serial)
    append(session, [PendingEvent(AuditAction.LABEL_VERIFIED, "container",
                                  container_ref(product.din, target),
                                  "label_verified_at", None, now.isoformat(),
                                  reason=f"print job {current.id}, print {current.serial}")],
           user_id=actor.id, username=actor.username)
    session.commit()
    return target


def print_job_document(session: Session, *, actor: User, din: str,
                       job_id: int) -> PrintResult:
    """The PDF of a recorded print, rendered again exactly as it was: no new print.

    Only the container's latest print, while it waits for its scan-back, and only when
    what renders now hashes to what was recorded; a further copy is a reprint.
    """
    require_role(actor, LABELLERS, "print labels")
    product = load_product(session, din)
    job = session.get(PrintJob, job_id)
    if job is None or job.product_id != product.id:
        raise NotFound(f"product {product.din} has no print job {job_id}")
    if job.format != "pdf":
        raise InvalidInput(f"print job {job_id} went to printer {job.printer}: it has no PDF")
    subject = load_subject(session, din=product.din, container_id=job.container_id)
    latest = _last_prints(session, product.id or 0).get(job.container_id)
    if latest != job.id or subject.container.label_verified_at is not None:
        raise DomainError(ErrorCode.CONFLICT,
                          f"print job {job_id} is no longer the label waiting to be scanned "
                          "back: another copy is a reprint (print it again, with its reason)")
    kind = LabelKind(job.label_kind)
    label = label_of(subject, kind, reprint=job.reprint,
                     issued_by=issued_by(session, subject, kind), print_serial=job.serial)
    output = render_pdf(label)
    if hashlib.sha256(output).hexdigest() != job.content_hash:
        raise DomainError(ErrorCode.CONFLICT,
                          f"the product's records changed since print job {job_id}: its label "
                          "would not come out the same; print the label again")
    return PrintResult(output=output, print_job=job, label=label)


def pending_labels(session: Session, din: str) -> list[PendingLabel]:
    """In-use containers of `din` whose current label is unprinted or not scanned back."""
    product = load_product(session, din)
    if product.state in FINAL_STATES or product.id is None:
        return []
    return pending_labels_of(session, product.id)


# --- helpers ---------------------------------------------------------------------------------

def _may_print(actor: User, subject: LabelSubject, kind: LabelKind) -> None:
    product, container = subject.product, subject.container
    if actor.role == Role.PHYSICIAN and kind not in (LabelKind.COLLECTION, LabelKind.HARVEST):
        raise Forbidden(f"physician {actor.username} may print only the collection label")
    if product.state in FINAL_STATES:
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"product {product.din} is at \"{state_words(product.state)}\": it "
                          "needs no more labels")
    if container.status != "in_use":
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"the {_what(container)} is {container_status_words(container.status)}: "
                          "it needs no label")
    if (kind in FINAL_KINDS and subject.params.final_label_requires_release
            and not subject.released):
        raise DomainError(ErrorCode.LABEL_REQUIRES_RELEASE,
                          f"no {label_kind_words(kind)} before QA release: product "
                          f"{product.din} is at \"{state_words(product.state)}\"")


def _check_print_time(session: Session, product: Product, container: Container,
                      now: datetime) -> None:
    """A label is printed once its container exists and after its earlier prints; a
    caller-given time (a backdated entry) is never in the future."""
    assert container.id is not None
    last = session.exec(select(func.max(PrintJob.printed_at)).where(
        PrintJob.container_id == container.id)).one()
    _check_time(session, product, now, what="the print time", earliest=container.created_at,
                before=f"the {_what(container)} existed")
    if last is not None:
        _check_time(session, product, now, what="the print time", earliest=last,
                    before="its label's previous print")


def _check_time(session: Session, product: Product, when: datetime, *, what: str,
                earliest: datetime, before: str) -> None:
    refuse_future(when, what=what, skew_minutes=clock_skew_minutes(session, product))
    # SQLite hands a bare MAX() back without its zone: the column stores UTC.
    earliest = earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC)
    if when < earliest:
        raise InvalidInput(f"{what} ({when.isoformat(timespec='minutes')}) is before "
                           f"{before} ({earliest.isoformat(timespec='minutes')})")


def _superseded_reason(session: Session, product: Product, container: Container,
                       kind: LabelKind) -> str | None:
    """"label superseded by a correction: ..." when the current print of `kind` is one a
    correction superseded (its reprint needs no other reason), else None."""
    assert container.id is not None
    current = current_print(session, container.id, kind)
    gone = superseded_prints(session, product.din, container)
    if current is None or current.id not in gone:
        return None
    return f"label superseded by a correction: {gone[current.id]}"[:500]


def _set_verified(session: Session, container: Container, when: datetime | None) -> None:
    session.connection().execute(update(_C).where(_C.c.id == container.id)
                                 .values(label_verified_at=when))
    container.label_verified_at = when


def _what(container: Container) -> str:
    return KIND_LABELS[ContainerKind(container.kind)]


def _count_prints(session: Session, container_id: int, kind: LabelKind) -> int:
    return session.exec(select(func.count()).select_from(PrintJob).where(
        PrintJob.container_id == container_id, PrintJob.label_kind == kind.value)).one()


def _last_prints(session: Session, product_id: int) -> dict[int, int]:
    """Container id -> id of its latest print job."""
    rows = session.exec(select(PrintJob.container_id, func.max(PrintJob.id))
                        .where(PrintJob.product_id == product_id)
                        .group_by(col(PrintJob.container_id))).all()
    return {container_id: job_id for container_id, job_id in rows if job_id is not None}


def _zebra(printer: str) -> tuple[str, int] | None:
    """(host, port) when `printer` names the configured Zebra, else None (recorded only)."""
    settings = get_settings()
    host = settings.printer_host.strip()
    if host and printer in (host, f"{host}:{settings.printer_port}"):
        return host, settings.printer_port
    return None


def _target(raw: str, containers: list[Container], printed: dict[int, int]) -> Container:
    """The container the scan names, else the one most likely being scanned back."""
    try:
        read: Scan | None = parse_scan(raw)
    except ScanError:
        read = None
    if read is not None and read.product_code is not None:
        flags = read.flags or "00"
        flags = "00" if flags.isdigit() and 60 <= int(flags) <= 96 else flags  # Type 3 check
        for container in containers:
            if (container.product_code, container.flags) == (read.product_code.text, flags):
                return container
    latest = sorted((c for c in containers if c.id in printed),
                    key=lambda c: (c.label_verified_at is None, printed[c.id or 0]))
    return latest[-1] if latest else containers[-1]


def _check_dates(read: Scan, product: Product, raw: str, container: Container) -> None:
    """Dates in the scanned symbol must be the product's, to the minute, in local time."""
    zone = ZoneInfo(get_settings().time_zone)
    for name, scanned, recorded in (("expiry", read.expiry, product.expires_at),
                                    ("collection time", read.collection, product.harvest_end)):
        if scanned is None:
            continue
        expected = (recorded.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
                    if recorded is not None else None)
        if scanned != expected:
            shown = expected.isoformat(sep=" ") if expected else "not recorded"
            raise _mismatch(ErrorCode.COI_BAD_SCAN,
                            f"the label's {name} {scanned.isoformat(sep=' ')} is not the "
                            f"product's ({shown}): reprint the label", raw, product, container)


def _mismatch(code: ErrorCode, detail: str, raw: str, product: Product,
              container: Container) -> IdentityMismatch:
    return IdentityMismatch(code, detail, scanned=raw,
                            expected=f"{_what(container)} of DIN {product.din}")
