"""Response models: audit trail, chain-of-identity events, verification, labels."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from labels import LabelKind
from lims.api.schemas import ContainerOut, In, Out


class AuditEventOut(Out):
    seq: int
    at: datetime
    username: str
    action: str
    entity: str
    entity_id: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None
    hash: str


class CoiEventOut(Out):
    step: str
    code: str
    detail: str
    scanned: str
    expected: str
    user_id: int | None
    at: datetime


class ProblemOut(Out):
    where: str = Field(description="The row or event that is wrong, e.g. 'signature 7 (...)'")
    what: str = Field(description="Which part of it: state, meaning, row, transition ...")
    expected: str = Field(description="What the audit trail or the process rule expected")
    found: str = Field(description="What was actually found")


class VerifyOut(Out):
    ok: bool = Field(description="True when the chain is intact and the records match it")
    lines: list[str]
    problems: list[ProblemOut] = Field(default_factory=list,
                                       description="Each problem found, as the lines say it")


class PrintIn(In):
    format: Literal["pdf", "zpl"] = "pdf"
    kind: LabelKind | None = Field(default=None,
                                   description="Default: the label the container carries now")
    printer: str = Field(default="", max_length=120,
                         description="A registered printer's name (ZPL is sent to it), or "
                                     "the configured printer's host; any other name is "
                                     "only recorded (e.g. a PDF printed at the bench)")
    printer_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                   description="A registered printer, by id (format zpl)")
    reason: str | None = Field(default=None, max_length=500,
                               description="Required for a reprint")


class PendingLabelOut(Out):
    container: ContainerOut
    kind: LabelKind = Field(description="The label the container needs")
    printed: bool = Field(description="Printed, but not yet scanned back")


class LabelScanIn(In):
    scan: str = Field(min_length=1, max_length=500,
                      description="The printed label's 2-D code, scanned back")
