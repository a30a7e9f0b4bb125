"""Finding products: by subject ID, MRN, patient name or DIN (typed or scanned), and the
list of completed products. Read-only, bounded: nothing here writes.

Who reads which patient facts: the patient's name and MRN are for the people who read the
patient records (lims.services.patient_records PATIENT_READERS: physicians, supervisors,
QA). Everyone at the bench finds products by subject ID or DIN; a wristband scanned into
the search finds its patient's products for anyone, as the scan box does, without the
name being shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, union
from sqlmodel import Session, col, select

from lims.models import Patient, Product
from lims.services.patient_records import PATIENT_READERS
from workflows.isbt128 import ScanError, ScanErrorCode, parse_scan, read_din
from workflows.product import FINAL_STATES, ProductState
from workflows.typed_text import free_text_problem

SEARCH_LIMIT = 50
QUERY_MAX = 100
PAGE_SIZE = 50
# Out of the lab's hands: released or issued (made, handed on), administered, discarded
# or expired.
COMPLETED_STATES = frozenset({ProductState.RELEASED, ProductState.ISSUED, *FINAL_STATES})


@dataclass(frozen=True)
class FoundProduct:
    din: str
    subject_id: str
    patient_name: str | None  # None where the reader's role does not show it
    arm: str
    state: str
    harvest_end: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class SearchResult:
    query: str
    matched_by: str  # "din", "scan", "wristband", "text" or "" (nothing searched)
    products: list[FoundProduct]
    more: bool  # more matched than are shown: refine the search
    names_shown: bool  # the reader sees patient names and MRNs
    problem: str = ""  # why the query could not be read


@dataclass(frozen=True)
class ProductPage:
    products: list[FoundProduct]
    page: int
    pages: int
    total: int
    names_shown: bool


def names_shown(role: str) -> bool:
    return role in PATIENT_READERS


def _rows(session: Session, query: Any, role: str) -> list[FoundProduct]:
    show = names_shown(role)
    return [FoundProduct(product.din, patient.subject_id, patient.name if show else None,
                         product.arm, product.state, product.harvest_end, product.updated_at)
            for product, patient in session.exec(query)]


def _base() -> Any:
    return select(Product, Patient).join(Patient, col(Patient.id) == col(Product.patient_id))


def _like(text: str) -> str:
    """A case-insensitive "contains" pattern; the user's % and _ match only themselves."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_products(session: Session, text: str, *, role: str,
                    limit: int = SEARCH_LIMIT) -> SearchResult:
    """Products whose DIN, subject ID (or, for the patient readers, MRN or name) match
    `text`, newest first, at most `limit` of them. A DIN (13 characters, with or without
    its check character, grouped as on the label) or a scan of a label or wristband finds
    exactly its products."""
    query = text.strip()
    shown = names_shown(role)
    if not query:
        return SearchResult("", "", [], False, shown)
    if len(query) > QUERY_MAX:
        return SearchResult(query[:QUERY_MAX], "", [], False, shown, problem=(
            f"A search has at most {QUERY_MAX} characters."))
    if query[0] in "=&" or query.startswith("]"):
        return _by_scan(session, query, role, limit)  # the scan reader names what is odd
    problem = free_text_problem(query)
    if problem is not None:
        return SearchResult(query, "", [], False, shown, problem=f"The search: {problem}")
    try:
        din = read_din(query)
    except ScanError as error:
        if error.code == ScanErrorCode.BAD_CHECK_CHARACTER:  # a DIN, mistyped
            return SearchResult(query, "", [], False, shown, problem=f"{error.detail}.")
    else:
        return _found(session, query, "din", _base().where(Product.din == din.text), role, 1)
    pattern = _like(query)
    compact = _like(query.replace(" ", ""))
    keys = [func.lower(col(Patient.subject_id)).like(pattern, escape="\\")]
    if shown:
        keys += [func.lower(col(Patient.mrn)).like(pattern, escape="\\"),
                 func.lower(col(Patient.name)).like(pattern, escape="\\")]
    # Each table's keys apart (one OR across both tables reads every row): the products
    # whose DIN matches, and those of the patients who match, each found by its index.
    matching: Any = union(
        select(Product.id).where(func.lower(col(Product.din)).like(compact, escape="\\")),
        select(Product.id).where(col(Product.patient_id).in_(
            select(Patient.id).where(or_(*keys)))))
    return _found(session, query, "text", _base().where(col(Product.id).in_(matching)),
                  role, limit)


def _by_scan(session: Session, query: str, role: str, limit: int) -> SearchResult:
    """A label's or a wristband's scan typed (or scanned) into the search."""
    try:
        read = parse_scan(query)
    except ScanError as error:
        return SearchResult(query, "", [], False, names_shown(role),
                            problem=f"The scan could not be read: {error.detail}")
    if read.din is not None:
        return _found(session, query, "scan", _base().where(Product.din == read.din.text),
                      role, 1)
    if read.patient_id is not None:
        return _found(session, query, "wristband",
                      _base().where(Patient.mrn == read.patient_id), role, limit)
    return SearchResult(query, "", [], False, names_shown(role),
                        problem="This scan carries neither a DIN nor a patient's ID.")


def _found(session: Session, query: str, matched_by: str, statement: Any, role: str,
           limit: int) -> SearchResult:
    rows = _rows(session, statement.order_by(col(Product.id).desc()).limit(limit + 1), role)
    return SearchResult(query, matched_by, rows[:limit], len(rows) > limit, names_shown(role))


def completed_products(session: Session, *, role: str, page: int = 1,
                       page_size: int = PAGE_SIZE) -> ProductPage:
    """Products out of the lab's hands (released, issued, administered, discarded, expired),
    the most recently completed first, one page at a time."""
    states = [s.value for s in COMPLETED_STATES]
    total = session.exec(select(func.count()).select_from(Product).where(
        col(Product.state).in_(states))).one()
    pages = max(1, -(-int(total) // page_size))
    page = min(max(page, 1), pages)
    statement = (_base().where(col(Product.state).in_(states))
                 .order_by(col(Product.updated_at).desc(), col(Product.id).desc())
                 .offset((page - 1) * page_size).limit(page_size))
    return ProductPage(_rows(session, statement, role), page, pages, int(total),
                       names_shown(role))
