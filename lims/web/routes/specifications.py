"""Release specification versions: draft, QA-signed approval, effective date."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
