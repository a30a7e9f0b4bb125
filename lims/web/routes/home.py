"""The worklist (the administrator's page instead), the scan box that is on every page,
and scheduling a harvest."""

from __future__ import annotations

from itertools import groupby
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from lims.api.routing import OneThreadRoute
from lims.models import Patient, Product, User
from lims.services.follow_up import OverdueVisit, overdue_visits
from lims.services.harvests import SCHEDULERS, schedule_harvest
from lims.services.identity import SCAN_BOX, record_refused_entry
from lims.services.labels import LABELLERS, pending_labels, pending_labels_many, verify_label
from lims.services.queries import WORKLIST_SORTS, WorklistItem, worklist_items
from lims.services.scheduling import todays_calendar
from lims.web import stepcheck
from lims.web.deps import AnyUser, DbSession, Form, StaffUser, field
from lims.web.nextstep import WAITING_FOR, next_action
from lims.web.render import din_words, local, now, redirect, render, site_zone
from lims.web.routes.steps import render_step
from workflows.errors import DomainError, ErrorCode, IdentityMismatch
from workflows.identity import container_words
from workflows.isbt128 import Scan, ScanError, parse_scan
from workflows.product import FINAL_STATES, TRIGGER_ROLES, Arm, ProductState, Trigger
from workflows.roles import Role

router = APIRouter(route_class=OneThreadRoute)

SORT_WORDS = {"step": "Step, oldest harvest first", "harvest": "Oldest harvest first",
              "due": "Expiry, soonest first", "din": "DIN"}
# What the worklist can be narrowed to: a step a product waits for, an arm.
WORKLIST_STATES = [s.value for s in ProductState if s not in FINAL_STATES]
ARMS = [a.value for a in Arm]
# Rows shown at first: of each step's group (its "more" link opens that step alone), and
# of a list in one order (its "more" link shows the next rows too).
GROUP_ROWS = 25
FLAT_ROWS = 100


@router.get("/")
def home(request: Request, user: AnyUser, db: DbSession, sort: str = "step", state: str = "",
         arm: str = "", limit: int = 0) -> HTMLResponse:
    """Products waiting at each step, oldest harvest first (or in one list by harvest,
    expiry or DIN; of one step or arm); for an administrator, who has no part in the
    products, what they look after instead."""
    if user.role == Role.ADMIN:
        return render(request, "admin_home.html", {})
    sort = sort if sort in WORKLIST_SORTS else "step"
    state = state if state in WORKLIST_STATES else ""
    arm = arm if arm in ARMS else ""
    items = worklist_items(db, sort=sort, state=state or None, arm=arm or None)
    shown = _shown(items, sort, state, limit)
    pending = pending_labels_many(db, [item.product_id for item in shown])
    rows = {id(item): {"item": item, "waits_for": WAITING_FOR.get(item.state, item.state),
                       "action": next_action(item.state, item.arm,
                                             pending.get(item.product_id, []))}
            for item in shown}
    groups = []
    if sort == "step":
        for waiting, members in groupby(items, key=lambda item: item.state):
            group = list(members)
            groups.append({"state": waiting, "title": WAITING_FOR.get(waiting, waiting),
                           "count": len(group),
                           "rows": [rows[id(item)] for item in group if id(item) in rows]})
    flat = [rows[id(item)] for item in shown]
    return render(request, "home.html", {
        "todays_calendar": todays_calendar(db),  # the day's bookings (issue 16)
        "overdue_visits": _overdue_visits(db, user),
        "groups": groups, "rows": flat, "total": len(items), "autofocus_scan": True,
        "more_limit": len(shown) + FLAT_ROWS,
        "can_schedule": user.role in SCHEDULERS, "now_text": local(now(), "%H:%M"),
        "sort": sort, "sorts": SORT_WORDS, "state": state, "arm": arm, "arms": ARMS,
        "states": [(s, WAITING_FOR.get(s, s)) for s in WORKLIST_STATES],
        "filtered": bool(state or arm)})


def _overdue_visits(db: DbSession, user: User) -> list[OverdueVisit]:
    """A physician's worklist starts with the follow-up visits overdue (every patient's:
    any physician of the trial may see the patient)."""
    if user.role != Role.PHYSICIAN:
        return []
    return overdue_visits(db, actor=user, today=now().astimezone(site_zone()).date())


def _shown(items: list[WorklistItem], sort: str, state: str, limit: int) -> list[WorklistItem]:
    """The rows the page shows: a step's group (of every step) up to GROUP_ROWS, every row
    of the one step asked for, a list in one order up to `limit` (FLAT_ROWS at first)."""
    if sort != "step":
        return items[:max(limit, FLAT_ROWS)]
    if state:
        return items
    shown: list[WorklistItem] = []
    for _waiting, members in groupby(items, key=lambda item: item.state):
        shown.extend(list(members)[:GROUP_ROWS])
    return shown


@router.post("/scan")
def scan(request: Request, user: StaffUser, db: DbSession, form: Form) -> Response:
    """Open whatever was scanned: a container at its product's next step, or a wristband."""
    code = field(form, "code")
    if not code:
        return redirect("/")
    try:
        read = parse_scan(code)
    except ScanError as error:
        _record(db, user, code, f"unreadable scan: {error.detail}")
        return _not_understood(request, code, f"The scan could not be read: {error.detail}")
    if read.din is None and read.patient_id is not None:
        return _wristband(request, db, user, code, read.patient_id)
    if read.din is None:
        _record(db, user, code, "the scan carries no DIN")
        return _not_understood(request, code, "This scan carries no DIN: scan the container's "
                                              "2-D code or its DIN barcode.")
    product = db.exec(select(Product).where(Product.din == read.din.text)).first()
    if product is None:
        _record(db, user, code, f"DIN {read.din.text} is not known to this laboratory",
                ErrorCode.COI_UNKNOWN_DIN)
        return _not_understood(request, code, f"DIN {read.din.text} is not known to this "
                                              "laboratory.", status_code=404)
    note = ""
    if read.product_code is not None and _awaits_scan_back(db, user, product, read):
        # A freshly printed label scanned anywhere is its scan-back: confirm it first.
        try:
            container = verify_label(db, actor=user, din=product.din, scan=code)
        except IdentityMismatch as error:
            return render(request, "scan_error.html", {
                "code": code, "refusal": error, "autofocus_scan": True}, status_code=409)
        except DomainError as error:
            return _not_understood(request, code, error.detail, status_code=409)
        note = f"Label of the {container_words(container.kind)} confirmed by scan."
    return _open(request, db, user, product, code, has_container=read.product_code is not None,
                 note=note)


def _record(db: DbSession, user: User, code: str, detail: str,
            refusal: ErrorCode = ErrorCode.COI_BAD_SCAN) -> None:
    """Every refused scan is recorded, the scan box's too (it opens nothing)."""
    record_refused_entry(db, din="", step=SCAN_BOX, field="scan", value=code, detail=detail,
                         actor=user, at=now(), code=refusal)


def _awaits_scan_back(db: DbSession, user: User, product: Product, read: Scan) -> bool:
    if user.role not in LABELLERS or read.product_code is None:
        return False
    flags = read.flags if read.flags and not 60 <= _int(read.flags) <= 96 else "00"
    return any(p.printed and (p.container.product_code, p.container.flags)
               == (read.product_code.text, flags) for p in pending_labels(db, product.din))


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _open(request: Request, db: DbSession, user: User, product: Product, code: str,
          has_container: bool, note: str = "") -> Response:
    action = next_action(product.state, product.arm)
    # Every accepted scan says what it opened (the page marks it: banner and sound).
    note = note or f"Product {din_words(product.din)} opened."
    if not action.allowed(user.role):
        return redirect(f"/products/{product.din}", note, scanned=True)
    if action.kind != "step" or action.step is None or not has_container:
        return redirect(action.url(product.din), note, scanned=True)
    # The scan that opened the product is the step's identity scan: check it now, so a
    # wrong container is refused (and recorded) before anything is typed.
    preview = stepcheck.check(db, actor=user, din=product.din, step=action.step, scan=code,
                              wristband="", values={}, time_errors={}, now=now())
    if preview.refusal is not None:
        return render_step(request, db, preview, user=user, scan=code, status_code=409)
    return redirect(f"{action.url(product.din)}?scan={quote(code, safe='')}", note,
                    scanned=True)


def _wristband(request: Request, db: DbSession, user: User, code: str,
               mrn: str) -> Response:
    """A wristband opens the bedside check of the patient's issued product, the wristband
    already scanned there; else the patient's one product in process."""
    rows = db.exec(select(Product).join(Patient, col(Patient.id) == col(Product.patient_id))
                   .where(Patient.mrn == mrn, col(Product.state).not_in(
                       [s.value for s in FINAL_STATES]))).all()
    issued = [p for p in rows if p.state == ProductState.ISSUED]
    if len(issued) == 1:
        product = issued[0]
        if user.role not in TRIGGER_ROLES[Trigger.ADMINISTER]:
            return redirect(f"/products/{product.din}",
                            "This patient's product is issued for the bedside check, which "
                            "the administering physician performs.")
        return redirect(f"/products/{product.din}/steps/{Trigger.ADMINISTER.value}"
                        f"?wristband={quote(code, safe='')}",
                        "Wristband scanned: bedside check of this patient's product.")
    if len(rows) == 1:
        return redirect(f"/products/{rows[0].din}",
                        "Wristband scanned: no product of this patient is issued for the "
                        "bedside yet; this is the patient's product in process.")
    message = ("No product in process for this wristband." if not rows else
               "This patient has several products in process and none is issued for the "
               "bedside: open one from the worklist.")
    return _not_understood(request, code, message, status_code=404)


def _not_understood(request: Request, code: str, message: str,
                    status_code: int = 400) -> HTMLResponse:
    return render(request, "scan_error.html", {"code": code, "message": message,
                                               "autofocus_scan": True, "scan_result": "refused"},
                  status_code=status_code)


@router.get("/harvests/new")
def new_harvest(request: Request, user: StaffUser, db: DbSession) -> HTMLResponse:
    """Choose an enrolled patient for a new harvest."""
    patients = db.exec(select(Patient).order_by(col(Patient.subject_id))).all()
    return render(request, "harvest_new.html", {"patients": patients,
                                                "allowed": user.role in SCHEDULERS})


@router.post("/harvests")
def create_harvest(request: Request, user: StaffUser, db: DbSession, form: Form) -> Response:
    """Schedule a harvest: a DIN is assigned and the collection bag comes to exist."""
    subject_id = field(form, "subject_id")
    try:
        product = schedule_harvest(db, actor=user, subject_id=subject_id)
    except DomainError as error:
        patients = db.exec(select(Patient).order_by(col(Patient.subject_id))).all()
        return render(request, "harvest_new.html", {"patients": patients, "error": error.detail,
                                                    "allowed": user.role in SCHEDULERS},
                      status_code=409)
    return redirect(f"/products/{product.din}#labels",
                    f"Harvest scheduled for {subject_id}: DIN {product.din}. Print the "
                    "collection bag label and scan it back.")
