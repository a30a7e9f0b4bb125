"""Label generations: of all the labels printed for a container, only one counts.

Every print carries its serial inside the label's 2-D code (the laboratory's local ISBT 128
structure `&s`, see `workflows.isbt128.encode_print_serial`) and beside it as "Print n".
The label a container may be used with is its *current* label: its latest print of the kind
its stage calls for (in-process until QA release, final after it, issue after issue). Every
other print of it is superseded: an earlier print of the same kind (a reprint supersedes it)
or a label of an earlier stage (the in-process label once the product is released).

A correction of a step record (lims.services.corrections) can change what a printed label
says (a volume, the dose, the expiry from a corrected harvest end): each such print is
superseded in the correction's transaction (a `label_superseded` event naming the print),
its scan-back is reset, and the label is due again. A superseded print is refused like any
other superseded label, even while it is still the latest print of its kind.

Where the generation matters (scan-back, issue, administration) only a read of the square
code tells which print is on the container: a linear Code 128 read or a typed DIN carries
no serial and is refused. The callers record a refused scan like any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, Table, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, func, select

from labels import Label, LabelKind
from labels.timefmt import local_text
from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import AuditEvent, Container, PrintJob, Product, User
from lims.prepared import Prepared, instances
from lims.services.label_content import issued_by, label_of, load_containers, load_subject
from lims.sql_lists import one_of_bound
from workflows.errors import ErrorCode, IdentityMismatch
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.isbt128 import Scan, ScanError, parse_scan
from workflows.words import label_kind_words

_C: Table = Container.__table__  # type: ignore[attr-defined]
_P: Table = Product.__table__  # type: ignore[attr-defined]
# The scan names what the person at the bench must do; these words say what was read.
_SQUARE = "scan the square (2-D) code on the label"


def container_ref(din: str, container: Container) -> str:
    """The audit entity id of a container: DIN/product code/flags."""
    return f"{din}/{container.product_code}/{container.flags}"


def container_ref_sql() -> ColumnElement[str]:
    """`container_ref` in SQL, of a statement that joins container and product."""
    return _P.c.din + "/" + _C.c.product_code + "/" + _C.c.flags


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
    superseded = superseded_prints(session, product.din, container)
    if scanned.id in superseded:
        raise _refusal(ErrorCode.COI_SUPERSEDED_LABEL,
                       f"SUPERSEDED LABEL: this is the {_described(scanned)}, which no longer "
                       f"says what the records say ({superseded[scanned.id]}); remove it from "
                       f"the {what}, print its {label_kind_words(due)} again and scan the "
                       f"new one", raw, want)
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


# --- labels superseded by a correction ---------------------------------------------------------

def superseded_prints(session: Session, din: str, container: Container) -> dict[int, str]:
    """Print job id -> why it was superseded, for the container's prints a correction
    superseded (read from the audit trail, where the supersession is recorded)."""
    rows = session.exec(select(AuditEvent.old_value, AuditEvent.reason).where(
        AuditEvent.action == AuditAction.LABEL_SUPERSEDED, AuditEvent.entity == "container",
        AuditEvent.entity_id == container_ref(din, container)))
    found = {}
    for old, reason in rows:
        job = json.loads(old or "{}").get("print_job")
        if isinstance(job, int):
            found[job] = reason or ""
    return found


def supersession_events(session: Session, dins: list[str]) -> dict[str, list[AuditEvent]]:
    """DIN -> the supersessions of its containers' prints, oldest first."""
    if not dins:
        return {}
    session.flush()  # read from the connection: what the session holds is written first
    found: dict[str, list[AuditEvent]] = {}
    rows = _SUPERSESSIONS.mappings(session.connection(), {"dins": dins})
    for event in instances(AuditEvent, rows):
        found.setdefault(event.entity_id.split("/", 1)[0], []).append(event)
    return found


_A: Table = AuditEvent.__table__  # type: ignore[attr-defined]
# Compiled once (lims.prepared): the QA queue reads it on every load. The events of the
# products' containers by their audit entity (container_ref), found by the index on it.
_SUPERSESSIONS = Prepared(core_select(_A).where(
    _A.c.action == AuditAction.LABEL_SUPERSEDED.value, _A.c.entity == "container",
    _A.c.entity_id.in_(core_select(container_ref_sql())
                       .join_from(_C, _P, _P.c.id == _C.c.product_id)
                       .where(one_of_bound(_P.c.din, "dins"))),
).order_by(_A.c.seq))


def supersession_lines(session: Session, events: list[AuditEvent], jobs: dict[int, PrintJob],
                       containers: dict[int, Container]) -> list[str]:
    """Each print a correction superseded, as QA's review names it (oldest first), from
    events already read; `jobs` and `containers`: the product's
    print jobs and containers when already read (what is not there is read here)."""
    texts = []
    for event in events:
        ref = json.loads(event.old_value or "{}").get("print_job") or 0
        job = jobs.get(ref) or session.get(PrintJob, ref)
        if job is None:
            continue
        container = containers.get(job.container_id) or session.get(Container, job.container_id)
        what = KIND_LABELS[ContainerKind(container.kind)] if container else "container"
        prints = ([j for j in jobs.values() if j.container_id == job.container_id]
                  if ref in jobs else prints_of(session, job.container_id))
        texts.append(f"SUPERSEDED LABEL: the {_described(job)} of the {what} no longer says "
                     f"what the records say and must not be used ({event.reason}); "
                     f"{_reprinted(prints, job)}")
    return texts


def _reprinted(prints: list[PrintJob], job: PrintJob) -> str:
    later = [j for j in sorted(prints, key=lambda j: j.id or 0)
             if j.label_kind == job.label_kind and (j.id or 0) > (job.id or 0)]
    if not later:
        return "NOT YET PRINTED AGAIN"
    return f"printed again as \"Print {later[0].serial}\""


def is_superseded(session: Session, din: str, container: Container, job: PrintJob) -> bool:
    return job.id in superseded_prints(session, din, container)


def scanned_superseded(session: Session, *, din: str, container: Container, raw: str) -> bool:
    """Is `raw` a read of a print of the container that a correction superseded?"""
    try:
        serial = parse_scan(raw).print_serial
    except ScanError:
        return False
    if serial is None or container.id is None:
        return False
    gone = superseded_prints(session, din, container)
    return any(job.serial == serial and job.id in gone for job in prints_of(session, container.id))


def labels_in_use(session: Session, din: str, product_id: int) -> dict[int, Label]:
    """Print job id -> the label it would print now, for the latest print of each kind of
    each container in use that no correction has superseded yet (what the lab relies on)."""
    found: dict[int, Label] = {}
    for container in load_containers(session, product_id):
        if container.status != "in_use" or container.id is None:
            continue
        latest = {job.label_kind: job for job in prints_of(session, container.id)}
        gone = superseded_prints(session, din, container)
        subject = load_subject(session, din=din, container_id=container.id)
        for job in latest.values():
            if job.id is None or job.id in gone:
                continue
            kind = LabelKind(job.label_kind)
            found[job.id] = label_of(subject, kind, reprint=job.reprint, print_serial=job.serial,
                                     issued_by=issued_by(session, subject, kind))
    return found


def stage_superseded_labels(session: Session, *, product: Product, before: Mapping[int, Label],
                            actor: User, reason: str, now: datetime) -> list[PrintJob]:
    """Supersede each print whose label, rebuilt from the corrected records, no longer says
    what it said (`before`, taken before the correction); reset its container's scan-back.
    Staged in the caller's transaction (never commits)."""
    assert product.id is not None and actor.id is not None
    after = labels_in_use(session, product.din, product.id)
    changed = [job_id for job_id, label in before.items() if after.get(job_id) != label]
    jobs = [job for job in (session.get(PrintJob, job_id) for job_id in changed) if job]
    events: list[PendingEvent] = []
    for job in jobs:
        [container] = load_containers(session, product.id, container_id=job.container_id)
        ref = container_ref(product.din, container)
        events.append(PendingEvent(
            AuditAction.LABEL_SUPERSEDED, "container", ref, "label",
            {"print_job": job.id, "serial": job.serial, "kind": job.label_kind,
             "content_hash": job.content_hash}, None, reason=reason))
        worn = container.label_serial in (job.serial, None)
        if worn and container.label_verified_at is not None:
            events.append(PendingEvent(AuditAction.LABEL_VERIFICATION_RESET, "container", ref,
                                       "label_verified_at",
                                       container.label_verified_at.isoformat(), None,
                                       reason=f"label superseded: {reason}"))
            session.connection().execute(update(_C).where(_C.c.id == container.id)
                                         .values(label_verified_at=None))
    if events:
        append(session, events, user_id=actor.id, username=actor.username)
    return jobs
