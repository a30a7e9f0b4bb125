"""Idempotent seed through the services: the trial's reference data (protocol, arms, release
specifications; a lab's own file may add its reagent lots and equipment) and, in development
only, the demo accounts, lots and equipment (seed/demo.toml)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import Equipment, Protocol, ProtocolArm, ReagentLot, User
from lims.services.materials import (
    record_lot_material,
    register_equipment,
    register_reagent_lot,
)
from lims.services.specifications import ensure_default_specifications
from lims.services.users import create_user
from workflows.isbt128 import parse_product_code
from workflows.protocol import ProtocolParameters

SEED_FOLDER = Path(__file__).resolve().parents[2] / "seed"
DEFAULT_SEED = SEED_FOLDER / "reference.toml"
DEMO_SEED = SEED_FOLDER / "demo.toml"
DEMO_PARTS = ("users", "reagents", "equipment")


class SeedRefused(ValueError):
    """Demo data asked for where a real lab's records are kept."""


def load_seed(path: Path = DEFAULT_SEED, *, demo: bool = False) -> dict[str, Any]:
    """The seed file at `path`; with `demo`, the demo accounts, lots and equipment added."""
    data = _read(path)
    if demo:
        extra = _read(DEMO_SEED)
        data = {**data, "demo": True,
                **{part: [*data.get(part, []), *extra.get(part, [])] for part in DEMO_PARTS}}
    return data


def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def refuse_demo_in_production(what: str) -> None:
    """Demo accounts (their passwords are public) and fictitious data never enter a
    production database: SeedRefused unless LIMS_ENVIRONMENT=development."""
    if get_settings().environment != "development":
        raise SeedRefused(
            f"{what} is refused in production (LIMS_ENVIRONMENT=production): demo accounts "
            "have published passwords and demo data are fictitious. Create the first "
            "administrator with `lims users create-admin`; for a demo database set "
            "LIMS_ENVIRONMENT=development.")


def seed(session: Session, data: dict[str, Any], progress: Callable[[str], None] = print) -> int:
    """Create what is missing; return how many records were created (0 on a second run).
    Accounts (`users`) and demo data are refused outside development, before any write."""
    if data.get("demo") or data.get("users"):
        refuse_demo_in_production("seeding demo data or accounts")
    created = _protocol(session, data["protocol"], data.get("arms", []), progress)
    for user in data.get("users", []):
        if session.exec(select(User).where(User.username == user["username"])).first() is None:
            create_user(session, actor=None, demo=True, **user)  # published passwords
            progress(f"user {user['username']} ({user['role']})")
            created += 1
    created += _lots(session, data.get("reagents", []), progress)
    for item in data.get("equipment", []):
        if session.exec(select(Equipment).where(Equipment.code == item["code"])).first() is None:
            register_equipment(session, actor=None, **item)
            progress(f"equipment {item['code']} calibration due {item['calibration_due']}")
            created += 1
    return created


def _lots(session: Session, lots: list[dict[str, Any]],
          progress: Callable[[str], None]) -> int:
    """Register missing lots; give a lot registered before lots carried a material its one."""
    created = 0
    for lot in lots:
        row = session.exec(select(ReagentLot).where(ReagentLot.lot == lot["lot"])).first()
        if row is None:
            register_reagent_lot(session, actor=None, **lot)
            progress(f"reagent lot {lot['lot']} ({lot['material']}) expires {lot['expires_on']}")
            created += 1
        elif not row.material and lot.get("material"):
            record_lot_material(session, actor=None, lot=row.lot, material=lot["material"])
            progress(f"reagent lot {row.lot} recorded as {lot['material']}")
            created += 1
    return created


def _protocol(session: Session, spec: dict[str, Any], arms: list[dict[str, str]],
              progress: Callable[[str], None]) -> int:
    existing = session.exec(select(Protocol).where(Protocol.code == spec["code"])).first()
    if existing is not None:
        return ensure_default_specifications(session, existing, [a["code"] for a in arms])
    # Validate before writing anything: a bad parameter or product code stops the seed.
    parameters = ProtocolParameters.from_mapping(spec.get("parameters", {})).to_mapping()
    codes = {key: parse_product_code(code).text for key, code in spec["product_codes"].items()}
    protocol = Protocol(code=spec["code"], title=spec["title"], parameters=parameters,
                        product_codes=codes)
    session.add(protocol)
    session.flush()
    assert protocol.id is not None
    for arm in arms:
        session.add(ProtocolArm(protocol_id=protocol.id, code=arm["code"], name=arm["name"]))
    append(session, [PendingEvent(AuditAction.PROTOCOL_CREATED, "protocol", spec["code"],
                                  "parameters", None, parameters)],
           user_id=None, username="system")
    session.commit()
    progress(f"protocol {spec['code']} with arms {', '.join(a['code'] for a in arms)}")
    specs = ensure_default_specifications(session, protocol, [a["code"] for a in arms])
    progress(f"release specifications v1 for {specs} arm(s)")
    return 1 + len(arms) + specs
