"""Quality records: specification sets, deviations, post-release alerts, label prints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from lims.models.base import json_column, now_utc, utc_column


class SpecificationSet(SQLModel, table=True):
    """Release specifications of one arm; a change is a new version, never an edit."""

    __tablename__ = "specification_set"
    __table_args__ = (UniqueConstraint("protocol_id", "arm", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="protocol.id")
    arm: str = Field(max_length=20)
    version: int
    limits: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    reason: str = Field(default="", max_length=500)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    # draft -> approved (QA's signature over the limits' hash) -> effective from its time;
    # withdrawn drafts are kept (workflows.specifications.SpecificationStatus).
    status: str = Field(default="draft", max_length=20)
    effective_from: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    approved_by_id: int | None = None
    approved_printed_name: str = Field(default="", max_length=200)
    approved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    approved_hash: str = Field(default="", max_length=64)


class Deviation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    step: str = Field(max_length=30)
    description: str = Field(max_length=2000)
    classification: str = Field(max_length=10)  # minor, major, critical
    # manual, or what opened it automatically: near_miss, dose_discrepancy, cell_balance ...
    kind: str = Field(default="manual", max_length=30)
    immediate_action: str = Field(default="", max_length=2000)
    impact_assessment: str = Field(default="", max_length=2000)
    status: str = Field(default="open", max_length=10)  # open, closed
    disposition: str | None = Field(default=None, max_length=2000)
    raised_by_id: int = Field(foreign_key="user.id")
    raised_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    closed_by_id: int | None = Field(default=None, foreign_key="user.id")
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Alert(SQLModel, table=True):
    """A post-release finding (e.g. positive sterility culture) that must be acknowledged."""

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    kind: str = Field(max_length=40)
    message: str = Field(max_length=1000)
    notify_physician_id: int | None = Field(default=None, foreign_key="user.id")
    # release (QA must decide on the product) or clinical (given to the patient already).
    severity: str = Field(default="release", max_length=20)
    raised_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    acknowledged_by_id: int | None = Field(default=None, foreign_key="user.id")
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PrintJob(SQLModel, table=True):
    """Every label print, controlled: reprints carry a reason and are marked as such."""

    __tablename__ = "print_job"
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    container_id: int = Field(foreign_key="container.id", index=True)
    label_kind: str = Field(max_length=20)
    format: str = Field(max_length=10)  # pdf, zpl
    printer: str = Field(default="", max_length=120)
    reprint: bool = False
    reason: str | None = Field(default=None, max_length=500)
    content_hash: str = Field(max_length=64)
    # Print serial carried inside the 2-D code: tells label generations apart by scan.
    serial: int | None = Field(default=None, index=True)
    printed_by_id: int = Field(foreign_key="user.id")
    printed_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    # The registered printer it went to (Printer); None for a PDF download.
    printer_id: int | None = None


class Notification(SQLModel, table=True):
    """Outbox: a message to a person, delivered by the job runner (SMTP), never lost."""

    id: int | None = Field(default=None, primary_key=True)
    product_id: int | None = Field(default=None, foreign_key="product.id", index=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    recipient_id: int | None = Field(default=None, foreign_key="user.id")
    to_address: str = Field(default="", max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(max_length=10000)
    status: str = Field(default="pending", max_length=20, index=True)  # pending, sent, failed
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Job(SQLModel, table=True):
    """One unit of background work for the database-backed job runner."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    status: str = Field(default="queued", max_length=20, index=True)  # queued running done failed
    attempts: int = 0
    max_attempts: int = 8
    run_at: datetime = Field(default_factory=now_utc, sa_column=utc_column(index=True))
    locked_by: str | None = Field(default=None, max_length=120)
    locked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Printer(SQLModel, table=True):
    """A label printer of the lab (master data): ZPL over raw TCP to host:port."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    location: str = Field(default="", max_length=120)
    host: str = Field(max_length=255)
    port: int = 9100
    # The label stock loaded (workflows label stock code); a label prints only on its stock.
    stock: str = Field(max_length=40)
    active: bool = True
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class FormDraft(SQLModel, table=True):
    """What a person had typed into a step or QC form, kept when their session ended so it
    comes back after signing in again; never a password or a signature."""

    __tablename__ = "form_draft"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    key: str = Field(max_length=200)  # the form's page, e.g. /products/{din}/steps/{step}
    values: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    saved_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class ReviewAcknowledgement(SQLModel, table=True):
    """QA acknowledged one exception of a product's review (with a comment where needed);
    the release signature covers every acknowledgement."""

    __tablename__ = "review_acknowledgement"
    __table_args__ = (UniqueConstraint("product_id", "exception_key"),)
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    exception_key: str = Field(max_length=64)  # hash of the exception's kind and text
    kind: str = Field(max_length=40)
    text: str = Field(max_length=2000)
    comment: str = Field(default="", max_length=2000)
    user_id: int = Field(foreign_key="user.id")
    printed_name: str = Field(max_length=200)
    acknowledged_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
