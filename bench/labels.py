"""How long labels take to render: `python -m bench.labels` (or `python bench/labels.py`).

Prints the median of several runs for one final label PDF, a 100-label A4 sheet
and a bare reportlab page drawing the same bar codes and text directly (no
model, no layout), then the ratios. Goals: a label <= 2x the bare page (the
model and layout cost little), a sheet <= 100x one label (no per-sheet blow-up).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

if __name__ == "__main__" and not __package__:
    # Run as a script, this file's directory would shadow the `labels` package it measures.
    # The project's root instead: `bench.report` is imported from there.
    sys.path.remove(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from bench.report import Figure
from labels import DEFAULT_TEXTS, Label, LabelKind, render_pdf, render_sheet
from labels.barcode import datamatrix_modules, draw_code128, draw_datamatrix
from labels.fonts import register_fonts
from labels.layout import Box, Code128Item, DataMatrixItem, RotatedText, Text
from labels.layouts import layout_for
from workflows.isbt128 import Din, ProductCode

LABEL_GOAL, SHEET_GOAL = 2.0, 100.0


def final_label(sequence: int = 123) -> Label:
    return Label(
        kind=LabelKind.FINAL,
        din=Din("X9999", "26", f"{sequence:06d}"),
        product_code=ProductCode("D0006", "1", "00"),
        product_description="HPC, MARROW | CD133 enriched",
        time_zone="Asia/Tehran",
        patient_name="AHMADI, Fatemeh",
        patient_identifiers=(("MRN", "123456"), ("DOB", "1961-03-04")),
        subject_id="NCT00713934-017",
        processing_facility=("Cell Therapy Laboratory (demo)", "1 Example Street, Tehran"),
        collection_facility="Operating Theatre 2, Example University Hospital",
        container_label="Final syringe",
        collection_at=datetime(2026, 11, 25, 8, 10, tzinfo=UTC),
        expires_at=datetime(2026, 11, 25, 20, 10, tzinfo=UTC),
        volume_ml=10.0,
        dose_text="4.2 × 10^6 viable CD133+ cells (0.06 × 10^6/kg)",
        statements=DEFAULT_TEXTS.final_statements(not_evaluated=True),
        placeholder_codes=True,
    )


def bare_page_maker(label: Label) -> Callable[[], bytes]:
    """A function drawing the label's strings and symbols straight onto a canvas.

    The strings and positions are taken from the layout once, here, so the timed
    function does only what any hand-written reportlab page would do.
    """
    layout = layout_for(label)
    texts = [
        (i.left, i.baseline, i.font, i.size, i.text) for i in layout.items if isinstance(i, Text)
    ]
    flags = [
        (i.x, i.top, i.font, i.size, i.text) for i in layout.items if isinstance(i, RotatedText)
    ]
    boxes = [(i.x, i.y, i.w, i.h, i.fill) for i in layout.items if isinstance(i, Box)]
    codes = [
        (i.x, i.y, i.data, i.module, i.height) for i in layout.items if isinstance(i, Code128Item)
    ]
    matrices = [(i.x, i.y, i.data, i.module) for i in layout.items if isinstance(i, DataMatrixItem)]
    height = layout.height

    def draw() -> bytes:
        register_fonts()
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=(layout.width * mm, height * mm), invariant=1)
        for x, baseline, font, size, text in texts:
            canvas.setFont(font, size)
            canvas.drawString(x * mm, (height - baseline) * mm, text)
        for x, top, font, size, text in flags:
            canvas.saveState()
            canvas.translate(x * mm, (height - top) * mm)
            canvas.rotate(-90)
            canvas.setFont(font, size)
            canvas.drawString(0, 0, text)
            canvas.restoreState()
        for x, y, w, h, fill in boxes:
            canvas.rect(
                x * mm, (height - y - h) * mm, w * mm, h * mm, stroke=int(not fill), fill=int(fill)
            )
        for x, y, data, module, bar_height in codes:
            draw_code128(canvas, data, x, height - y - bar_height, module=module, height=bar_height)
        for x, y, data, module in matrices:
            draw_datamatrix(canvas, datamatrix_modules(data), x, height - y, module=module)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    return draw


def median_seconds(work: Callable[[], object], runs: int) -> float:
    work()  # warm-up: font registration and imports are not what we measure
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def figures(args: list[str] | None = None) -> list[Figure]:
    """Measure, print the lines main() prints, and return the figures (bench/report.py)."""
    label = final_label()
    sheet = [final_label(n) for n in range(1, 101)]
    one = median_seconds(lambda: render_pdf(label), runs=30)
    bare = median_seconds(bare_page_maker(label), runs=30)
    many = median_seconds(lambda: render_sheet(sheet), runs=5)
    print(f"final label PDF      {one * 1000:8.2f} ms")
    print(f"bare reportlab page  {bare * 1000:8.2f} ms")
    print(f"100-label A4 sheet   {many * 1000:8.2f} ms")
    print(f"label / bare page    {one / bare:8.2f}x   (goal <= {LABEL_GOAL:g})")
    print(f"sheet / one label    {many / one:8.2f}x   (goal <= {SHEET_GOAL:g})")
    return [
        Figure("final label PDF", one * 1000, "ms", bare * 1000,
               f"≤ {LABEL_GOAL:g}× bare reportlab page", one <= LABEL_GOAL * bare),
        Figure("100-label A4 sheet", many * 1000, "ms", one * 1000,
               f"≤ {SHEET_GOAL:g}× one label", many <= SHEET_GOAL * one),
    ]


def main() -> int:
    figures()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
