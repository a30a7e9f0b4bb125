"""Label content and rendering (PDF, ZPL) for ISBT 128 cell-therapy containers.

Pure: standard library, reportlab, zxing-cpp and `workflows.isbt128` only; never
sqlmodel, fastapi or `lims`.
"""

from labels.batch_record import (
    BatchRecord,
    ChartSeries,
    ContainerLine,
    DeviationLine,
    QcLine,
    ReviewException,
    Signature,
    StepEntry,
    content_hash,
    render_batch_record,
)
from labels.layout import LayoutOverflow
from labels.model import (
    DEFAULT_TEXTS,
    Barcode,
    Element,
    IssueRecord,
    Label,
    LabelKind,
    LabelTexts,
    barcodes,
    elements_for,
)
from labels.pdf import render_pdf, render_sheet
from labels.printing import DEFAULT_PORT, PrinterConnection, PrinterError, send_zpl
from labels.zpl import render_zpl

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TEXTS",
    "Barcode",
    "BatchRecord",
    "ChartSeries",
    "ContainerLine",
    "DeviationLine",
    "Element",
    "IssueRecord",
    "Label",
    "LabelKind",
    "LabelTexts",
    "LayoutOverflow",
    "PrinterConnection",
    "PrinterError",
    "QcLine",
    "ReviewException",
    "Signature",
    "StepEntry",
    "barcodes",
    "content_hash",
    "elements_for",
    "render_batch_record",
    "render_pdf",
    "render_sheet",
    "render_zpl",
    "send_zpl",
]
