"""Append-only records: the hash-chained audit trail and chain-of-identity refusals."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from lims.models.base import now_utc, utc_column


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    # The sequence is assigned under the audit-head lock, so it is also the chain order.
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=utc_column())
    user_id: int | None = None
    username: str = Field(max_length=64)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=40, index=True)
    field: str = Field(default="", max_length=60)
    old_value: str | None = None
    new_value: str | None = None
    reason: str | None = None
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # The audit key (its id: first 8 hex of SHA-256 of the key) that keyed `hash`.
    key_id: str | None = Field(default=None, max_length=16)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str = Field(default="0" * 64, max_length=64)


class CoiEvent(SQLModel, table=True):
    __tablename__ = "coi_event"
    id: int | None = Field(default=None, primary_key=True)
    product_id: int | None = Field(default=None, foreign_key="product.id", index=True)
    step: str = Field(max_length=30)
    code: str = Field(max_length=40)
    detail: str = Field(max_length=500)
    scanned: str = Field(max_length=500)
    expected: str = Field(max_length=200)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
