"""The certificate of analysis (release certificate) as one A4 page: `render_certificate`.

It travels with the product: the identity as the final label carries it (DIN bar code,
Code 128 as on the labels, with the eye-readable DIN and its boxed check character beneath;
product code and description; the patient identifiers; collection and expiry dates with
the facility's time zone and UTC), the specification version and its approval, every QC
result with its limit, method and verdict, and the release signature(s) with their
manifestation: printed name, date/time with zone, meaning (21 CFR 11.50). An exceptional
release is said in words, in a box of its own. The footer carries the certificate's ID
(the content hash of `labels.certificate_model`) and "Page 1 of 1".

Pure: standard library, reportlab, the batch record's styles and the labels' bar-code
code. One page, always: a second could be separated from the first. Long free texts
(methods, reasons, facility names) are cut, pointing to the batch record, when the page
would not hold them; a certificate that still does not fit is refused
(`CertificateOverflow`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Table,
    TableStyle,
)

from labels.batch_record_style import (
    ALERT,
    ALERT_FILL,
    BODY,
    CELL,
    CELL_BOLD,
    CONTENT_WIDTH,
    HEADER_FILL,
    MARGIN_X,
    MUTED,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    PASS,
    SECTION_FILL,
    SMALL,
    SUBTITLE,
    TITLE,
    alert,
    gap,
    key_value_table,
    markup,
    para,
    register_families,
    row_fill,
    subsection,
    table,
    text,
)
from labels.batch_record_text import NONE_TEXT, local_and_utc, utc_stamp
from labels.certificate_furniture import TITLE_TEXT, din_block, draw_furniture
from labels.certificate_model import (
    Certificate,
    CertificateResult,
    ReleaseSignature,
    certificate_hash,
)
from labels.fonts import SANS_BOLD
from labels.timefmt import local_text

__all__ = ["Certificate", "CertificateOverflow", "CertificateResult", "ReleaseSignature",
           "certificate_hash", "render_certificate"]

_TOP: Final = 20 * mm  # the header line's distance from the top edge
_BOTTOM: Final = 24 * mm  # room for the footer: ID, page, who printed it


# Free text is cut to these lengths so that every certificate fits its one page; the batch
# record holds it in full (and the content hash covers the full text).
@dataclass(frozen=True)
class Room:
    """How many characters of each free text the page holds."""

    method: int
    reason: int
    facility: int


# The full texts of a usual certificate; if they do not fit, the compact cut of each.
ROOMY: Final = Room(method=120, reason=200, facility=120)
COMPACT: Final = Room(method=32, reason=50, facility=60)
_MORE: Final = "… (see the batch record)"
_SMALL_CELL: Final = ParagraphStyle("certificate-small", parent=CELL, fontSize=7, leading=8.6)


class CertificateOverflow(ValueError):
    """The certificate needs more than one page."""


def clipped(value: str, limit: int) -> str:
    """`value`, or its first characters and a note that the batch record has the rest."""
    return value if len(value) <= limit else value[:limit].rstrip() + _MORE


def _title_block(certificate: Certificate) -> list[Flowable]:
    titles = [para(TITLE_TEXT, TITLE),
              para("Release certificate · travels with the product", SUBTITLE)]
    block = din_block(certificate)
    width = CONTENT_WIDTH - block.minWidth()
    return [Table([[titles, block]], colWidths=[width, CONTENT_WIDTH - width], hAlign="LEFT",
                  style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))]


def _heading(title: str) -> list[Flowable]:
    """A heading in the batch record's subsection style, above a rule: one page holds all."""
    rule = Table([[""]], colWidths=[CONTENT_WIDTH], rowHeights=[0.8 * mm], hAlign="LEFT",
                 style=TableStyle([("LINEABOVE", (0, 0), (-1, 0), 1.2, SECTION_FILL)]))
    return [subsection(title), rule]


def _identity(certificate: Certificate, room: Room) -> list[Flowable]:
    zone = certificate.time_zone
    code = certificate.product_code + (
        " (placeholder, not ICCBBA-assigned)" if certificate.placeholder_codes else "")
    pairs: list[tuple[str, Flowable | str]] = [
        ("Product", para(certificate.product_description, CELL_BOLD)),
        ("Product code", code),
        ("Patient name", certificate.patient_name),
        ("Subject ID", certificate.subject_id),
        *certificate.patient_identifiers,
        ("Collected", local_and_utc(certificate.collected_at, zone)),
        ("Expires", local_and_utc(certificate.expires_at, zone)),
        ("Processing facility", clipped(certificate.processing_facility, room.facility)),
        ("Collection facility", clipped(certificate.collection_facility, room.facility)),
        ("Protocol", certificate.protocol),
        ("Time zone", zone),
    ]
    return [*_heading("1  Product identity"), key_value_table(pairs, (27, 63, 27, 63))]


def _specification(certificate: Certificate) -> list[Flowable]:
    words = (f"<b>{text(certificate.specification_version)}</b> — "
             f"{text(certificate.specification_approval)}")
    pairs: list[tuple[str, Flowable | str]] = [("Specification", markup(words))]
    return [gap(1.5), key_value_table(pairs, (27, 153))]


def _verdict(line: CertificateResult) -> str:
    if line.verdict == "PASS":
        return f'<font name="{SANS_BOLD}" color="{PASS.hexval()}">✓ PASS</font>'
    if line.verdict == "FAIL":
        return alert("✗ FAIL")
    return f'<font name="{SANS_BOLD}">PENDING</font>'


def _results(certificate: Certificate, room: Room) -> list[Flowable]:
    heading = _heading(f"2  QC results against specification {certificate.specification_version}")
    if not certificate.results:
        return [*heading, para("No QC result recorded.", BODY)]
    rows: list[list[Flowable | str]] = []
    fills = []
    for n, line in enumerate(certificate.results, start=1):
        value = f"<b>{line.result}</b>" if line.verdict == "FAIL" else line.result
        rows.append([para(line.test, CELL_BOLD), markup(value), markup(line.limit),
                     para(clipped(line.method, room.method), _SMALL_CELL),
                     markup(_verdict(line))])
        if line.verdict == "FAIL":
            fills.append(row_fill(n, ALERT_FILL))
    found = [*heading, table(("Test", "Result", "Limit", "Method", "Verdict"), rows,
                             (44, 25, 29, 62, 20), fills)]
    if any(line.verdict == "PENDING" for line in certificate.results):
        found += [gap(1), para("PENDING: the result is not yet known (a culture still "
                               "growing); the laboratory reports it when it is.", SMALL)]
    return found


def _exceptional_box() -> Table:
    words = ("<b>EXCEPTIONAL RELEASE.</b> This product did not meet all of its release "
             "criteria. It was released on the specific, signed authorisation of a physician "
             "(FACT D11.1.2); the reason is given with the signatures below.")
    return Table([[markup(words, BODY)]], colWidths=[CONTENT_WIDTH], hAlign="LEFT",
                 style=TableStyle([("BOX", (0, 0), (-1, -1), 1.5, ALERT),
                                   ("BACKGROUND", (0, 0), (-1, -1), ALERT_FILL),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
                                   ("TOPPADDING", (0, 0), (-1, -1), 2 * mm),
                                   ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5 * mm)]))


def _signature_row(signature: ReleaseSignature, zone: str, room: Room) -> list[Flowable | str]:
    when = (f"{text(local_text(signature.signed_at, zone))}<br/>"
            f'<font size="7" color="{MUTED.hexval()}">({text(utc_stamp(signature.signed_at))})'
            "</font>")
    return [para(signature.meaning, CELL_BOLD),
            markup(f"<b>{text(signature.printed_name)}</b>"), markup(when),
            para(clipped(signature.justification, room.reason) or NONE_TEXT, _SMALL_CELL)]


def _release(certificate: Certificate, room: Room) -> list[Flowable]:
    heading = _heading("3  Release")
    found: list[Flowable] = [*heading]
    if certificate.exceptional:
        found += [_exceptional_box(), gap(2)]
    rows = [_signature_row(s, certificate.time_zone, room) for s in certificate.release]
    header = ("Meaning", "Printed name", "Date and time", "Reason / note")
    found += [table(header, rows, (30, 38, 42, 70),
                    [("BACKGROUND", (0, 1), (0, -1), HEADER_FILL)]),
              gap(1.5),
              para("Electronic signatures (21 CFR Part 11): printed name, date and time, "
                   "meaning (§11.50); each linked to the records it signed (§11.70).", SMALL)]
    return found


def story(certificate: Certificate, room: Room = ROOMY) -> list[Flowable]:
    return [*_title_block(certificate), *_identity(certificate, room),
            *_specification(certificate), *_results(certificate, room),
            *_release(certificate, room)]


def render_certificate(certificate: Certificate) -> bytes:
    """The certificate as one A4 page of PDF; identical certificates give identical bytes.

    Free texts are printed in full when the page holds them, else cut (ROOMY, then
    COMPACT). Raises CertificateOverflow if even the compact page needs a second one,
    ValueError if a datetime is naive.
    """
    digest = certificate_hash(certificate)
    register_families()
    for room in (ROOMY, COMPACT):
        pdf = _render(certificate, digest, room)
        if pdf is not None:
            return pdf
    raise CertificateOverflow(f"the certificate of DIN {certificate.din_text} needs more "
                              "than one page")


def _render(certificate: Certificate, digest: str, room: Room) -> bytes | None:
    """The one-page PDF with free texts cut to `room`, or None if it needs a second page."""
    buffer = io.BytesIO()
    frame = Frame(MARGIN_X, _BOTTOM, CONTENT_WIDTH, PAGE_HEIGHT - _TOP - _BOTTOM,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="body")

    def furniture(canvas: Canvas, _document: BaseDocTemplate) -> None:
        draw_furniture(canvas, certificate, digest)

    document = BaseDocTemplate(
        buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), invariant=1, pageCompression=1,
        title=f"Certificate of analysis {certificate.din_text}",
        subject=f"content SHA-256 {digest}", creator="cell-lims certificate of analysis",
        author=certificate.processing_facility,
        pageTemplates=[PageTemplate(id="certificate", frames=[frame], onPage=furniture)],
    )
    document.build(story(certificate, room))
    return buffer.getvalue() if document.page == 1 else None
