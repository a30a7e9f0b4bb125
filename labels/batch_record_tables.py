"""Container lineage, QC results, deviations and signatures of the batch record."""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether

from labels.batch_record_model import (
    BatchRecord,
    ContainerLine,
    DeviationLine,
    LabelPrintLine,
    QcLine,
    Signature,
)
from labels.batch_record_style import (
    ALERT_FILL,
    BODY,
    CAUTION_FILL,
    CELL,
    CELL_BOLD,
    HASH,
    MUTED,
    PASS,
    SMALL,
    alert,
    gap,
    key_value_table,
    markup,
    para,
    row_fill,
    section,
    subsection,
    table,
    text,
)
from labels.batch_record_text import NONE_TEXT, local_and_utc, utc_minutes, utc_stamp
from labels.fonts import SANS_BOLD
from labels.timefmt import local_text

_INDENT_MM = 4.0


def _lineage(containers: tuple[ContainerLine, ...]) -> list[tuple[int, ContainerLine]]:
    """Containers in tree order (each after its parent), with their depth.

    A container whose parent is not in the list is a root; siblings keep the
    order they were given in. Every container is listed exactly once, even if
    bad data makes parents loop: those follow at depth 0.
    """
    labels = {c.label for c in containers}
    children: dict[str | None, list[ContainerLine]] = {}
    for c in containers:
        children.setdefault(c.parent if c.parent in labels else None, []).append(c)
    ordered: list[tuple[int, ContainerLine]] = []
    placed: set[int] = set()

    def walk(parent: str | None, depth: int) -> None:
        for child in children.get(parent, []):
            if id(child) not in placed:
                placed.add(id(child))
                ordered.append((depth, child))
                walk(child.label, depth + 1)

    walk(None, 0)
    ordered += [(0, c) for c in containers if id(c) not in placed]
    return ordered


def _container_name(depth: int, container: ContainerLine) -> Flowable:
    if depth == 0:
        return para(container.label, CELL_BOLD)
    style = ParagraphStyle(f"lineage-{depth}", parent=CELL, leftIndent=depth * _INDENT_MM * mm,
                           firstLineIndent=-3 * mm)
    return markup(f"↳ {text(container.label)}", style)


def containers_section(record: BatchRecord) -> list[Flowable]:
    heading = section("4  Container lineage")
    if not record.containers:
        return [*heading, para("No containers recorded.", BODY), *_label_prints(record)]
    rows = [
        [
            _container_name(depth, c),
            c.code,
            c.flags or NONE_TEXT,
            c.parent or "harvest (root)",
            NONE_TEXT if c.volume_ml is None else f"{c.volume_ml:g}",
            c.status,
        ]
        for depth, c in _lineage(record.containers)
    ]
    header = ("Container", "Product code / division", "Flags", "Parent", "Volume (ml)", "Status")
    return [*heading, table(header, rows, (60, 26, 12, 40, 16, 26)), *_label_prints(record)]


def _label_print_row(line: LabelPrintLine, zone: str) -> list[Flowable | str]:
    reprint = (markup(f"<b>REPRINT</b>: {text(line.reprint_reason)}")
               if line.reprint_reason is not None else "first print")
    return [
        para(line.container, CELL_BOLD),
        line.kind,
        local_and_utc(line.printed_at, zone),
        line.printed_by,
        line.output,
        reprint,
        local_and_utc(line.scanned_back_at, zone) if line.scanned_back_at else "not scanned back",
    ]


def _label_prints(record: BatchRecord) -> list[Flowable]:
    """Label reconciliation: every label printed, reprints with their reasons."""
    heading = subsection(f"Labels printed ({len(record.label_prints)})")
    if not record.label_prints:
        return [gap(2), heading, para("No labels printed.", BODY)]
    rows = [_label_print_row(line, record.time_zone) for line in record.label_prints]
    header = ("Container", "Label", "Printed", "By", "Format, printer", "Print",
              "Scanned back")
    return [gap(2), heading, table(header, rows, (28, 21, 32, 25, 19, 31, 32))]


def _qc_verdict(line: QcLine) -> str:
    if line.passed is None:
        verdict = f'<font name="{SANS_BOLD}">PENDING</font>'
    elif line.passed:
        verdict = f'<font name="{SANS_BOLD}" color="{PASS.hexval()}">✓ PASS</font>'
    else:
        verdict = alert("✗ OUT OF SPEC")
    return verdict + (f"<br/>{alert('LATE ENTRY')}" if line.late else "")


def _qc_rows(line: QcLine, row: int) -> tuple[list[list[Flowable | str]], list[tuple[object, ...]]]:
    """The result row, plus a full-width correction row beneath it if it was corrected."""
    result = f"<b>{line.result}</b>" if line.passed is False else line.result
    source = (f'<br/><font size="6.5" color="{MUTED.hexval()}">{text(line.source)}</font>'
              if line.source else "")
    rows: list[list[Flowable | str]] = [[
        line.test, markup(result), markup(line.specification + source),
        markup(_qc_verdict(line)), line.method,
        markup(f"{text(line.analyst)}<br/>{text(utc_minutes(line.entered_at))}"),
    ]]
    styles: list[tuple[object, ...]] = []
    if line.passed is False:
        styles.append(row_fill(row, ALERT_FILL))
    elif line.late:
        styles.append(row_fill(row, CAUTION_FILL))
    if line.corrected_from is not None:
        reason = line.correction_reason or "no reason recorded"
        note = (f"{alert('CORRECTED')} {text(line.test)}: was “{line.corrected_from}”, "
                f"now “{line.result}”. Reason: {text(reason)}")
        rows.append([markup(note), "", "", "", "", ""])
        styles += [("SPAN", (0, row + 1), (-1, row + 1)), row_fill(row + 1, CAUTION_FILL)]
    return rows, styles


def qc_section(record: BatchRecord) -> list[Flowable]:
    heading = section("6  QC results vs specification")
    if not record.qc:
        return [*heading, para("No QC result recorded.", BODY)]
    rows: list[list[Flowable | str]] = []
    styles: list[tuple[object, ...]] = []
    for line in record.qc:
        more, more_styles = _qc_rows(line, len(rows) + 1)
        rows += more
        styles += more_styles
    header = ("Test", "Result", "Specification (source)", "Verdict", "Method",
              "Analyst, entered (UTC)")
    return [*heading, table(header, rows, (32, 26, 30, 22, 38, 32), styles)]


def _deviation(line: DeviationLine) -> Flowable:
    pairs: list[tuple[str, Flowable | str]] = [
        ("Step", line.step),
        ("Classification", line.classification),
        ("Status", line.status),
        ("Description", line.description),
        ("Immediate action", line.immediate_action),
        ("Impact", line.impact),
        ("Disposition", line.disposition or "not yet decided"),
    ]
    title = f"Deviation {line.number} · {line.classification} · {line.status}"
    return KeepTogether([subsection(title), key_value_table(pairs, (34, 146))])


def deviations_section(record: BatchRecord) -> list[Flowable]:
    heading = section(f"8  Deviations ({len(record.deviations)})")
    if not record.deviations:
        return [*heading, para("No deviations recorded.", BODY)]
    return [*heading, *(_deviation(d) for d in record.deviations)]


def _two_lines(digest: str) -> str:
    """A hex digest in two halves, so it breaks in the middle rather than anywhere."""
    half = (len(digest) + 1) // 2
    return f"{text(digest[:half])}<br/>{text(digest[half:])}"


def _signature_row(signature: Signature, zone: str) -> list[Flowable | str]:
    when = (f"{text(utc_stamp(signature.signed_at))}<br/>"
            f'<font size="7" color="{MUTED.hexval()}">'
            f"{text(local_text(signature.signed_at, zone))}</font>")
    record = text(signature.record) + (
        f"<br/>Reason: {text(signature.justification)}" if signature.justification else "")
    return [
        para(signature.meaning, CELL_BOLD),
        markup(f"<b>{text(signature.printed_name)}</b>"),
        markup(when),
        markup(record),
        markup(_two_lines(signature.record_hash), HASH),
    ]


def signatures_section(record: BatchRecord) -> list[Flowable]:
    heading = section(f"9  Electronic signatures ({len(record.signatures)})")
    note = para(
        "Each signature shows the signer's printed name, the date and time it was executed "
        "(UTC, local time beneath) and its meaning (21 CFR 11.50). The record hash links the "
        "signature to the content it signed (21 CFR 11.70).", SMALL)
    if not record.signatures:
        return [*heading, para("No signatures recorded.", BODY)]
    rows = [_signature_row(s, record.time_zone) for s in record.signatures]
    header = ("Meaning", "Printed name", "Signed (UTC)", "Record signed", "Record hash (SHA-256)")
    return [*heading, note, gap(2), table(header, rows, (26, 31, 41, 34, 48))]


def certificates_block(record: BatchRecord) -> list[Flowable]:
    """Every certificate of analysis generated: when, by whom, which specification, its ID."""
    heading = subsection(f"Certificates of analysis generated ({len(record.certificates)})")
    if not record.certificates:
        return [gap(2), heading, para("No certificate of analysis generated.", BODY)]
    rows = [[utc_stamp(c.generated_at), c.generated_by, c.specification,
             markup(_two_lines(c.content_hash), HASH)] for c in record.certificates]
    header = ("Generated (UTC)", "By", "Specification", "Certificate ID (SHA-256)")
    return [gap(2), heading, table(header, rows, (38, 40, 32, 70))]
