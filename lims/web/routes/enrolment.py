"""The physician's enrolment screen: eligibility checklist, consent and arm."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
