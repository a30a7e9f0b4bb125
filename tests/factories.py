"""Factory helpers for integration tests: a seeded lab and products at any state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from lims.demo import PASSWORDS, DemoRun
from lims.models import Patient, Product
from lims.services.common import utcnow
from lims.services.seed import load_seed, seed


def seeded(session: Session) -> DemoRun:
    """Seed the demo trial, users, lots and equipment; return a runner for products."""
    seed(session, load_seed(), progress=lambda _m: None)
    return DemoRun(session, say=lambda _m: None)


def make_patient(run: DemoRun, arm: str = "CD133", weight: float = 70.0) -> Patient:
    return run.enrol(arm, weight)


def make_product(run: DemoRun, *, arm: str = "CD133", until: str = "received",
                 t0: datetime | None = None) -> tuple[Product, Patient]:
    """A product harvested at `t0` (default 1 h ago) and processed up to `until`."""
    patient = make_patient(run, arm)
    t0 = t0 or utcnow() - timedelta(hours=1)
    if until == "administered":
        return run.process(patient, t0), patient
    return run.process(patient, t0, until="received"), patient


__all__ = ["PASSWORDS", "make_patient", "make_product", "seeded"]
_ = Any
