"""Request and response models of QA's acknowledgement of each exception of the review."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AwareDatetime, Field

from lims.api.schemas import In, Out
from workflows.review_acknowledgements import COMMENT_MAX

ExceptionKey = Annotated[str, Path(
    min_length=64, max_length=64, pattern="^[0-9a-f]{64}$",
    description="The exception's key as the review lists it (SHA-256 of its kind and text)")]


class AcknowledgementOut(Out):
    comment: str
    printed_name: str = Field(description="The QA reviewer who acknowledged it")
    acknowledged_at: AwareDatetime


class ReviewItemOut(Out):
    key: str = Field(description="SHA-256 of the kind and text: a changed text is a new key")
    kind: str = Field(description="out_of_spec, pending, deviation, correction, ... as in "
                      "the review summary")
    text: str
    needs_comment: bool = Field(description="Acknowledged only with QA's comment")
    acknowledgement: AcknowledgementOut | None = Field(
        description="QA's acknowledgement, or null while it is still to acknowledge")


class ReviewItemsOut(Out):
    din: str
    remaining: int = Field(description="Exceptions still to acknowledge: a release is "
                           "refused until none remain (a rejection never waits)")
    exceptions: list[ReviewItemOut]


class AcknowledgementIn(In):
    comment: str = Field(default="", max_length=COMMENT_MAX, description=(
        "Why the exception does not prevent the release; required unless the exception is "
        "informational (pending, notification, reprint, late entry, accepted warning)"))
