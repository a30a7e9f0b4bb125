"""Response models of the audit viewer's query (GET /audit/events)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from lims.api.schemas import Out


class AuditLineOut(Out):
    seq: int = Field(description="The event's place in the chain")
    at_utc: datetime = Field(description="When it was recorded (server clock, UTC)")
    at_local: datetime = Field(description="The same moment in the facility's time zone")
    username: str
    full_name: str = Field(description="The user's full name ('the system' for none)")
    action: str
    action_words: str = Field(description="The action in words")
    entity: str
    entity_id: str
    field: str
    old: str | None
    new: str | None
    change: str = Field(description="old → new")
    reason: str | None


class AuditPageOut(Out):
    events: list[AuditLineOut]
    total: int = Field(description="Events matching the filters, on all pages")
    page: int
    per_page: int
    pages: int
