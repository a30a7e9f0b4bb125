"""The demo's storage temperatures: the monitoring system's export of the demo fridge
(seed/temperature-demo.csv, six hours of readings every 10 minutes ending with one excursion
above 8 °C, back to 7.2 °C at the last reading) imported as a technician would, so the
excursion, its alert and the products stored then show.

The file's times are moved as a whole so that its last reading is when the demo runs (a real
export is recent; the demo's negative fractions, stored moments before in the demo fridge,
are then stored during the excursion). Everything else goes through the normal import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from lims.models import StorageLocation, TemperatureDevice, User
from lims.services.common import user_by_name, utcnow
from lims.services.storage_locations import create_location
from lims.services.temperature import ImportResult, import_readings, register_device

DEMO_FILE = Path(__file__).resolve().parent.parent / "seed" / "temperature-demo.csv"
DEVICE = "DEMO-FRIDGE-PROBE"
FRIDGE = "FRIDGE-MON"  # made only when the demo's storage has no fridge


def import_demo_temperatures(session: Session, *, say: Callable[[str], None] = print,
                             now: datetime | None = None) -> ImportResult:
    supervisor, technician = user_by_name(session, "super1"), user_by_name(session, "tech1")
    _demo_fridge(session, supervisor)
    content = shifted(DEMO_FILE.read_text(encoding="utf-8"), now or utcnow())
    result = import_readings(session, actor=technician, content=content.encode())
    say(f"imported {DEMO_FILE.name}: {result.recorded} readings of the demo fridge, "
        f"{len(result.excursions)} excursion raised (QA and the supervisor notified)")
    return result


def _demo_fridge(session: Session, supervisor: User) -> None:
    """The demo's fridge (lims.demo_storage), else one made here at 2–8 °C; its probe."""
    if session.exec(select(TemperatureDevice).where(
            TemperatureDevice.device == DEVICE)).first() is not None:
        return
    fridge = session.exec(select(StorageLocation).where(StorageLocation.kind == "fridge")
                          .order_by(col(StorageLocation.id))).first()
    if fridge is not None:
        register_device(session, actor=supervisor, device=DEVICE, location_code=fridge.code)
        return
    room = session.exec(select(StorageLocation).where(StorageLocation.kind == "room")
                        .order_by(col(StorageLocation.id))).first()
    if room is None:
        create_location(session, actor=supervisor, kind="site", name="Demo site",
                        code="SITE-MON")
        room = create_location(session, actor=supervisor, kind="room", name="Cell lab",
                               code="ROOM-MON", parent_code="SITE-MON")
    create_location(session, actor=supervisor, kind="fridge", name="Monitored fridge",
                    code=FRIDGE, parent_code=room.code, temperature_min_c=2.0,
                    temperature_max_c=8.0)
    register_device(session, actor=supervisor, device=DEVICE, location_code=FRIDGE)


def shifted(text: str, now: datetime) -> str:
    """The export with every time moved so that its last reading is at `now`."""
    rows = list(csv.reader(io.StringIO(text)))
    header, lines = rows[0], rows[1:]
    last = max(datetime.fromisoformat(line[1]) for line in lines)
    delta = now - last
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for device, when, celsius in lines:
        writer.writerow([device, (datetime.fromisoformat(when) + delta).isoformat(), celsius])
    return out.getvalue()
