"""The first page (identity, disposition, exceptions) and the process steps.

Each function returns the flowables of one block of the record; values are
always escaped text, flags are words (see `batch_record_style.alert`).
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Table, TableStyle

from labels.batch_record_model import BatchRecord, StepEntry, ValueLine
from labels.batch_record_story import decisions_block, expiry_block
from labels.batch_record_style import (
    ALERT_FILL,
    BODY,
    CAUTION_FILL,
    CONTENT_WIDTH,
    DIN,
    DISPOSITION,
    HEADER_FILL,
    INK,
    MUTED,
    PASS,
    SMALL,
    STEP_ROOM,
    SUBTITLE,
    TITLE,
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
from labels.batch_record_text import NONE_TEXT, local_and_utc, utc_stamp
from labels.fonts import MONO_BOLD, SANS_BOLD, text_width
from labels.timefmt import local_text

_DIN_SIZE = 14.0


def title_block(record: BatchRecord) -> list[Flowable]:
    subtitle = f"{record.product_description} · {record.arm} arm · {record.protocol}"
    return [para("Electronic batch record", TITLE), para(subtitle, SUBTITLE)]


def _din_box(record: BatchRecord) -> Table:
    return din_box(record.din_text, record.check_character)


def din_box(din_text: str, check_character: str) -> Table:
    """The DIN in eye-readable form with its check character boxed, as on the labels."""
    din_width = text_width(din_text, MONO_BOLD, _DIN_SIZE) + 3 * mm
    check_width = text_width(check_character, MONO_BOLD, _DIN_SIZE) + 3 * mm
    return Table(
        [[para(din_text, DIN), para(check_character, DIN)]],
        colWidths=[din_width, check_width],
        hAlign="LEFT",
        style=TableStyle([
            ("BOX", (1, 0), (1, 0), 1.2, INK),
            ("LEFTPADDING", (0, 0), (-1, -1), 1.5 * mm),
            ("RIGHTPADDING", (0, 0), (-1, -1), 1.5 * mm),
            ("TOPPADDING", (0, 0), (-1, -1), 0.5 * mm),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2 * mm),
        ]),
    )


def identity_block(record: BatchRecord) -> list[Flowable]:
    """Product identity and chain of identity: DIN, patient, subject, arm, times."""
    zone = record.time_zone
    pairs: list[tuple[str, Flowable | str]] = [
        ("DIN", _din_box(record)),
        ("Arm", record.arm),
        ("Product", record.product_description),
        ("State", record.state),
        ("Subject ID", record.subject_id),
        ("Patient name", record.patient_name),
        *record.patient_identifiers,
        ("Protocol", record.protocol),
        ("Specification", record.specification_version),
        ("Harvest end", local_and_utc(record.harvest_end, zone)),
        ("Expires", local_and_utc(record.expires_at, zone)),
        ("Facility", record.facility),
        ("Time zone", zone),
    ]
    return [
        subsection("Product identity and chain of identity"),
        key_value_table(pairs, (25, 65, 25, 65)),
    ]


def disposition_block(record: BatchRecord) -> list[Flowable]:
    box = Table(
        [[para("DISPOSITION", SMALL)], [para(record.disposition, DISPOSITION)]],
        colWidths=[CONTENT_WIDTH],
        hAlign="LEFT",
        splitInRow=1,
        style=TableStyle([
            ("BOX", (0, 0), (-1, -1), 1.5, INK),
            ("BACKGROUND", (0, 0), (-1, -1), HEADER_FILL),
            ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
            ("TOPPADDING", (0, 0), (-1, 0), 2 * mm),
            ("BOTTOMPADDING", (0, -1), (-1, -1), 2.5 * mm),
        ]),
    )
    return [gap(4), box]


def exceptions_block(record: BatchRecord) -> list[Flowable]:
    """Review by exception: everything QA must look at first, on the first page."""
    count = len(record.exceptions)
    heading = subsection(f"Exceptions for review ({count})")
    if not count:
        return [gap(2), heading, para("No exceptions recorded for this product.", BODY)]
    rows = [
        [str(n), markup(alert(e.kind.upper())), e.text]
        for n, e in enumerate(record.exceptions, start=1)
    ]
    fills = [row_fill(r, CAUTION_FILL) for r in range(1, count + 1)]
    return [gap(2), heading, table(("#", "Kind", "Detail"), rows, (8, 44, 128), fills)]


def acknowledgements_block(record: BatchRecord) -> list[Flowable]:
    """QA's acknowledgement of each exception, as the release signature covers them."""
    if not record.acknowledgements:
        return []
    heading = subsection(f"Exceptions acknowledged by QA ({len(record.acknowledgements)})")
    rows = [[str(n), f"{a.kind.replace('_', ' ')}: {a.text}", a.comment or NONE_TEXT,
             f"{a.printed_name}, {utc_stamp(a.acknowledged_at)}"]
            for n, a in enumerate(record.acknowledgements, start=1)]
    return [gap(2), heading, table(("#", "Exception", "Comment", "Acknowledged by, at"), rows,
                                   (8, 72, 54, 46))]


def coi_block(record: BatchRecord) -> list[Flowable]:
    heading = subsection(f"Chain-of-identity events ({len(record.coi_events)})")
    if not record.coi_events:
        return [heading, para("No chain-of-identity mismatch recorded.", BODY)]
    rows = [[str(n), event] for n, event in enumerate(record.coi_events, start=1)]
    return [heading, table(("#", "Event"), rows, (8, 172))]


def first_page(record: BatchRecord) -> list[Flowable]:
    return [
        *title_block(record),
        *identity_block(record),
        *disposition_block(record),
        *expiry_block(record),
        *decisions_block(record),
        *exceptions_block(record),
        *acknowledgements_block(record),
        *coi_block(record),
        gap(3),
        para(f"Generated {utc_stamp(record.generated_at)}. Times are local "
             f"({record.time_zone}) with UTC in brackets; signatures are in UTC.", SMALL),
    ]


def _step_meta(step: StepEntry, zone: str) -> Table:
    witness = step.witness or "none"
    row = [
        local_text(step.performed_at, zone),
        utc_stamp(step.performed_at),
        step.operator,
        witness,
    ]
    header = ("Performed (local)", "Performed (UTC)", "Operator", "Witness")
    return table(header, [row], (38, 44, 49, 49))


def verdict_markup(line: ValueLine) -> str:
    """✓ within / ✗ OUT OF LIMIT (or the line's own words, e.g. "in date", "EXPIRED");
    a word beside the mark, so it reads in black and white."""
    if line.passed is None:
        return ""
    if line.passed:
        words = line.verdict or "within"
        return f'<font name="{SANS_BOLD}" color="{PASS.hexval()}">✓ {text(words)}</font>'
    return alert(f"✗ {line.verdict or 'OUT OF LIMIT'}")


def limit_markup(line: ValueLine) -> str:
    """The limit, its source beneath in small type; a dash where the protocol sets none on
    a measured value, nothing beside text, times and lots (nothing to judge)."""
    if not line.limit:
        return NONE_TEXT if line.unit else ""
    source = (f'<br/><font size="6.5" color="{MUTED.hexval()}">{text(line.source)}</font>'
              if line.source else "")
    return line.limit + source


def value_table(caption: str, lines: tuple[ValueLine, ...]) -> Flowable:
    """Label, value (unit included), limit with its source, verdict; out-of-limit rows
    shaded and their value in bold."""
    rows, fills = [], []
    for r, line in enumerate(lines, start=1):
        out = line.passed is False
        rows.append([line.label, markup(f"<b>{line.value}</b>" if out else line.value),
                     markup(limit_markup(line)), markup(verdict_markup(line))])
        if out:
            fills.append(row_fill(r, ALERT_FILL))
    return table((caption, "Value", "Limit (source)", "Verdict"), rows, (52, 46, 54, 28), fills)


def _step_values(number: int, step: StepEntry) -> Flowable:
    if not step.values:
        return para("No values captured at this step.", SMALL)
    return value_table(f"Step {number} field", step.values)


def _step_computed(number: int, step: StepEntry) -> Flowable:
    return value_table(f"Step {number} computed", step.computed)


def _step_findings(step: StepEntry) -> Flowable:
    rows = [[markup(f"{alert('FINDING')} {text(f)}")] for f in step.findings]
    fills = [row_fill(r, CAUTION_FILL) for r in range(1, len(rows) + 1)]
    return table(("Warnings and refusals at this step",), rows, (180,), fills)


def _step_materials(step: StepEntry) -> Flowable:
    pairs: list[tuple[str, Flowable | str]] = [
        ("Reagent lots", "; ".join(step.reagents) or NONE_TEXT),
        ("Equipment", "; ".join(step.equipment) or NONE_TEXT),
    ]
    return key_value_table(pairs, (30, 150))


def step_block(number: int, step: StepEntry, zone: str) -> list[Flowable]:
    """One step; it may run over a page, its tables repeating their (step-numbered) headers."""
    parts: list[Flowable] = [
        CondPageBreak(STEP_ROOM),
        subsection(f"Step {number} · {step.label}"),
        _step_meta(step, zone),
        gap(1.5),
    ]
    if step.corrected:
        note = (f"{alert('CORRECTED')} The values below are the current ones, corrected by "
                f"{text(step.corrected)}; old → new and why under Corrections of step data.")
        parts += [markup(note, BODY), gap(1.5)]
    parts.append(_step_values(number, step))
    return _step_rest(number, step, parts)


def _step_rest(number: int, step: StepEntry, parts: list[Flowable]) -> list[Flowable]:
    """The computed figures, findings and materials of a step, after its values."""
    if step.computed:
        parts += [gap(1.5), _step_computed(number, step)]
    if step.findings:
        parts += [gap(1.5), _step_findings(step)]
    if step.reagents or step.equipment:
        parts += [gap(1.5), _step_materials(step)]
    return parts


def steps_section(record: BatchRecord) -> list[Flowable]:
    if not record.steps:
        return [*section("1  Process steps"), para("No process step recorded.", BODY)]
    zone = record.time_zone
    return [
        *section("1  Process steps"),
        *(part for n, s in enumerate(record.steps, start=1) for part in step_block(n, s, zone)),
    ]


def materials_section(record: BatchRecord) -> list[Flowable]:
    """Every reagent lot and piece of equipment, with the step that used it."""
    rows = [
        [s.label, kind, item]
        for s in record.steps
        for kind, items in (("Reagent lot", s.reagents), ("Equipment", s.equipment))
        for item in items
    ]
    if not rows:
        return [*section("3  Reagent lots and equipment"), para("None recorded.", BODY)]
    return [*section("3  Reagent lots and equipment"),
            table(("Step", "Kind", "Lot / item"), rows, (48, 24, 108))]

