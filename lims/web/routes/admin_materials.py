"""Reagent lots and equipment: registration, quarantine and release for use, calibration."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
