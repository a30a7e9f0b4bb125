"""The administrator's user screens: accounts, roles, password resets, unlocks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
