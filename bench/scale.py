"""The system at the size of a multi-year, multi-site deployment, on PostgreSQL.

Builds (once; reused while its marker says it holds the size asked for) a database of
products and audit events, then prints p50/p99 of the reads people wait for:
  worklist      the worklist page (GET /) and lims.services.queries worklist/worklist_items
  search        subject ID, MRN, name and DIN (lims.services.search.search_products)
  product page  GET /products/{din} (the page a technician opens from the worklist)
  QA queue      GET /qa and lims.services.review.qa_queue
  review        lims.services.review.review_summary of a product awaiting release
(goal: every p99 ≤ 20 ms; the pages as a user gets them, from a `lims serve` of the
database, the services called in this process), and the time of the audit chain verified
(lims.audit.verify_chain, what `lims audit verify` recomputes) from the last signed
checkpoint and in full, against reading the same rows and hashing each with hashlib alone
in the same run (goal ≤ 3×).

How the data is made: one product of each arm is taken through the real services to each
state (tests.factories: scheduling, labels, steps, QC, review, release, issue,
administration; a discard), and its rows — patient, product, containers, step records, QC
results, signatures, print jobs, acknowledgements — and its audit events are copied for
every further product with new ids, DIN, patient (subject ID, MRN, name) and times, the
events chained under the audit key exactly as lims.audit.append chains them, bulk-loaded
with COPY; a copied QA decision signs the copy's own content, and a copied label's
events name the copy's print job, so `lims audit verify` finds the copies as clean as the
originals. The trail is padded to the size asked for with refused scans (an unreadable
label: an audit event and its COI record, as lims.services.identity writes them). In
process at any time: about 200 products, as a lab has; the rest administered or
discarded over the years.

    python -m bench.scale [--full] [--url URL] [--samples 200] [--rebuild]
    SCALE=full python -m bench.scale        (100,000 products, 10,000,000 events)

The default size is 10,000 products and 1,000,000 events.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

_HERE = str(Path(__file__).resolve().parent)
while _HERE in sys.path:
    sys.path.remove(_HERE)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ["LIMS_ENVIRONMENT"] = "development"  # demo accounts (the default is production)
os.environ.setdefault("LIMS_PASSWORD_HASHING", "fast-for-tests")

import psycopg
from sqlmodel import Session

from bench.report import Figure

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale"
SIZES = {"default": (10_000, 1_000_000), "full": (100_000, 10_000_000)}
# Products in process at any time (a lab's bench, not its history): per state and arm.
IN_PROCESS = {"scheduled": 10, "collected": 3, "received": 8, "rbc_reduced": 8,
              "mnc_isolated": 8, "enriched": 8, "formulated": 15, "awaiting_release": 20,
              "released": 10, "issued": 3}
DISCARDED_SHARE = 0.025
YEARS = 5
FIRST = ["Amir", "Sara", "Reza", "Leila", "Omid", "Nasrin", "Ali", "Maryam", "Hossein",
         "Zahra", "John", "Mary", "Peter", "Anna", "David", "Elena", "Marco", "Sofia",
         "Lukas", "Emma", "Noah", "Olivia", "Liam", "Mia", "Jonas", "Lea", "Ivan", "Nadia",
         "Kenji", "Yuki", "Chen", "Li", "Ahmed", "Fatima", "Carlos", "Lucia", "Tom", "Eva"]
LAST = ["Tehrani", "Karimi", "Hosseini", "Ahmadi", "Rahimi", "Moradi", "Smith", "Jones",
        "Muller", "Schmidt", "Rossi", "Bianchi", "Garcia", "Lopez", "Novak", "Kowalski",
        "Tanaka", "Sato", "Wang", "Zhang", "Hassan", "Ali", "Silva", "Santos", "Brown",
        "Wilson", "Martin", "Bernard", "Dubois", "Petrov", "Ivanova", "Jensen", "Larsen",
        "Nielsen", "Berg", "Lind", "Costa", "Ferreira", "Kaya", "Yilmaz"]

EVENT_COLUMNS = ("seq", "at", "user_id", "username", "action", "entity", "entity_id", "field",
                 "old_value", "new_value", "reason", "prev_hash", "hash", "key_id")
# Tables holding a product's rows, in the order they are copied (parents first).
PRODUCT_TABLES = ("container", "steprecord", "qcresult", "signature", "print_job",
                  "deviation", "alert", "notification", "coi_event", "review_acknowledgement")
# Audit entities whose id is a row id, and the table it names.
ENTITY_TABLES = {"step_record": "steprecord", "qc_result": "qcresult",
                 "review_acknowledgement": "review_acknowledgement", "deviation": "deviation",
                 "alert": "alert", "signature": "signature", "print_job": "print_job",
                 "notification": "notification"}
# Ids inside an event's JSON value, and the table each names.
ID_KEYS = {"product_id": "product", "patient_id": "patient", "signature_id": "signature",
           "container_id": "container", "qc_result_id": "qcresult", "alert_id": "alert",
           "deviation_id": "deviation", "print_job_id": "print_job", "job_id": "print_job",
           "step_record_id": "steprecord", "record_id": "steprecord",
           "print_job": "print_job"}
_ID_IN_JSON = re.compile(r'"(' + "|".join(ID_KEYS) + r')":(\d+)')
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?\+00:00")


def say(line: str) -> None:
    """Plain progress lines (the reporting helper's progress display once it exists)."""
    print(line, flush=True)


# --- the database ----------------------------------------------------------------------------

def driver_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def ensure_database(url: str, products: int, events: int, rebuild: bool) -> bool:
    """Create the bench's database if missing; True when it already holds the size asked."""
    base, name = driver_url(url).rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (name,)).fetchone()
        if exists and not rebuild:
            with psycopg.connect(driver_url(url)) as conn:
                marker = conn.execute(
                    "SELECT to_regclass('bench_scale_marker') IS NOT NULL").fetchone()
                if marker and marker[0]:
                    size = conn.execute("SELECT products, events FROM bench_scale_marker"
                                        ).fetchone()
                    if size == (products, events):
                        return True
        if exists:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return False


@dataclass
class Template:
    product_id: int
    state: str
    arm: str
    rows: dict[str, list[dict[str, Any]]]  # table -> rows of this product
    patient: dict[str, Any]
    product: dict[str, Any]
    events: list[dict[str, Any]]  # its audit events, in chain order


def make_templates(url: str) -> None:
    """One product of each arm at each state, through the real services."""
    from lims.db import make_engine
    from lims.migrate import upgrade
    from lims.services.dispositions import discard_product
    from tests.factories import PASSWORDS, make_product, seeded

    upgrade(url)
    engine = make_engine(url)
    states = [*IN_PROCESS, "administered"]
    with Session(engine, expire_on_commit=False) as session:
        run = seeded(session)
        for arm in ("CD133", "BM-MNC"):
            for state in states:
                if state == "enriched" and arm == "BM-MNC":
                    continue
                make_product(run, arm=arm, until=state)
            product, _ = make_product(run, arm=arm, until="received")
            discard_product(session, actor=run.user("super1"), din=product.din,
                            reason="Bag damaged in transport", password=PASSWORDS["super1"])
            say(f"  templates of {arm} made through the services")
    engine.dispose()


def load_templates(conn: psycopg.Connection[Any]) -> list[Template]:
    def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        return list(cur.execute(sql, args))

    templates = []
    for product in rows("SELECT * FROM product ORDER BY id"):
        pid = product["id"]
        patient = rows("SELECT * FROM patient WHERE id = %s", product["patient_id"])[0]
        tables = {t: rows(f"SELECT * FROM {t} WHERE product_id = %s ORDER BY id", pid)
                  for t in PRODUCT_TABLES}
        ids = {t: {str(r["id"]) for r in tables[t]} for t in ENTITY_TABLES.values()
               if t in tables}
        events = [e for e in rows("SELECT * FROM audit_event ORDER BY seq")
                  if _belongs(e, product["din"], patient["subject_id"], ids)]
        templates.append(Template(pid, product["state"], product["arm"], tables, patient,
                                  product, events))
    return templates


def _belongs(event: dict[str, Any], din: str, subject: str, ids: dict[str, set[str]]) -> bool:
    entity, entity_id = event["entity"], event["entity_id"]
    if entity == "product" or entity == "container":
        return bool(entity_id == din or entity_id.startswith(din + "/"))
    if entity == "patient":
        return bool(entity_id == subject)
    table = ENTITY_TABLES.get(entity)
    return table is not None and entity_id in ids.get(table, set())


class Ids:
    """The next id of each table, allocated in the bench (sequences set at the end)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.next: dict[str, int] = {}
        for table in ("patient", "product", *PRODUCT_TABLES):
            (top,) = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone() or (0,)
            self.next[table] = int(top) + 1

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


def din_of(facility: str, year: int, number: int) -> str:
    return f"{facility}{year:02d}{number:06d}"


class Cloner:
    """Copies a template product with new ids, DIN, patient and times."""

    def __init__(self, ids: Ids, facility: str) -> None:
        self.ids = ids
        self.facility = facility
        self.serial: dict[int, int] = {}
        self.out: dict[str, list[dict[str, Any]]] = {t: [] for t in
                                                     ("patient", "product", *PRODUCT_TABLES)}

    def clone(self, t: Template, n: int, shift: timedelta) -> Iterator[dict[str, Any]]:
        """Queue the copy's rows; yield its audit events (without chain hashes)."""
        year = (datetime.now(UTC) + shift).year % 100
        # Years before the templates' own (theirs is this year's DIN sequence).
        year = min(year, datetime.now(UTC).year % 100 - 1)
        din = din_of(self.facility, year, n)
        maps: dict[str, dict[int, int]] = {t_: {} for t_ in self.out}
        old_patient = t.patient
        subject = f"{old_patient['subject_id'].split('-')[0]}-{n:06d}"
        mrn = f"M{n:08d}"
        rng = random.Random(n)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}-{n:05d}"
        patient = dict(old_patient, id=self.ids.take("patient"), subject_id=subject, mrn=mrn,
                       name=name)
        _shift_row(patient, shift)
        maps["patient"][old_patient["id"]] = patient["id"]
        self.out["patient"].append(patient)
        product = dict(t.product, id=self.ids.take("product"), din=din,
                       patient_id=patient["id"])
        _shift_row(product, shift)
        maps["product"][t.product["id"]] = product["id"]
        self.out["product"].append(product)
        mine: dict[str, list[dict[str, Any]]] = {table: [] for table in PRODUCT_TABLES}
        for table in PRODUCT_TABLES:
            for row in t.rows[table]:
                new = dict(row, id=self.ids.take(table), product_id=product["id"])
                maps[table][row["id"]] = new["id"]
                for column, target in (("parent_id", "container"), ("container_id", "container"),
                                       ("corrects_id", "steprecord"), ("alert_id", "alert")):
                    if new.get(column) is not None and column in new:
                        new[column] = maps[target].get(new[column], new[column])
                if table == "signature":
                    new["record_id"] = _record_id(new, t.product["din"], din, maps)
                _shift_row(new, shift)
                self.out[table].append(new)
                mine[table].append(new)
        texts = [(t.product["din"], din), (old_patient["subject_id"], subject),
                 (old_patient["mrn"], mrn), (old_patient["name"], name)]
        texts += _signed_again(product, mine)

        def swap(value: str | None) -> str | None:
            if value is None:
                return None
            for old, new in texts:
                if old in value:
                    value = value.replace(old, new)
            if '_id":' in value or '"print_job":' in value:
                value = _ID_IN_JSON.sub(lambda m: f'"{m[1]}":'
                                        f'{maps[ID_KEYS[m[1]]].get(int(m[2]), int(m[2]))}', value)
            if "+00:00" in value:
                value = _ISO_TIME.sub(lambda m: (datetime.fromisoformat(m[0]) + shift)
                                      .isoformat(), value)
            return value

        for event in t.events:
            entity_id = event["entity_id"]
            table = ENTITY_TABLES.get(event["entity"])
            if table is not None and entity_id.isdigit():
                entity_id = str(maps[table].get(int(entity_id), int(entity_id)))
            else:
                entity_id = swap(entity_id)
            yield dict(event, at=event["at"] + shift, entity_id=entity_id,
                       old_value=swap(event["old_value"]), new_value=swap(event["new_value"]),
                       reason=swap(event["reason"]))

    def flush(self, conn: psycopg.Connection[Any]) -> None:
        for table, rows in self.out.items():
            copy_rows(conn, table, rows)
            rows.clear()


def _signed_again(product: dict[str, Any], rows: dict[str, list[dict[str, Any]]]
                  ) -> list[tuple[str, str]]:
    """A QA decision signs the product's content (lims.services.release.content_from),
    which names its DIN and the times of its acknowledgements: the copy's decisions sign
    the copy's content. Sets each copied signature's record hash; gives (old hash, new
    hash) for the events that record the signing."""
    from types import SimpleNamespace

    from lims.audit import content_hash
    from lims.services.product_records import (
        AcknowledgementRow,
        ProductRecords,
        QcRow,
        StepRow,
    )
    from lims.services.release import content_from

    records = ProductRecords(
        steps=[StepRow(r["id"], r["step"], r["content_hash"], r["performed_at"],
                       r["operator_id"], r["witness_id"]) for r in rows["steprecord"]],
        qc=[QcRow(r["id"], r["test"], r["value"], r["content_hash"], r["superseded"],
                  r["entered_at"], r["analyst_id"], r["reason"]) for r in rows["qcresult"]],
        acknowledgements=[AcknowledgementRow(
            r["id"], r["kind"], r["text"], r["comment"], r["user_id"], r["printed_name"],
            r["acknowledged_at"]) for r in rows["review_acknowledgement"]])
    subject: Any = SimpleNamespace(din=product["din"], arm=product["arm"])
    swaps = []
    for signature in rows["signature"]:
        if signature["record_type"] != "product":
            continue
        new = content_hash(content_from(subject, records, as_of=signature["signed_at"]))
        swaps.append((signature["record_hash"], new))
        signature["record_hash"] = new
    return swaps


def _record_id(row: dict[str, Any], old_din: str, din: str,
               maps: dict[str, dict[int, int]]) -> str:
    record_id = str(row.get("record_id") or "")
    if record_id == old_din:
        return din
    table = ENTITY_TABLES.get(str(row.get("record_type")))
    if table and record_id.isdigit():
        return str(maps[table].get(int(record_id), int(record_id)))
    return record_id.replace(old_din, din)


def _shift_row(row: dict[str, Any], shift: timedelta) -> None:
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = value + shift


def copy_rows(conn: psycopg.Connection[Any], table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    with conn.cursor() as cur, cur.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_plain(row[c]) for c in columns])


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list):
        import json
        return json.dumps(value)
    return value


# --- the chain --------------------------------------------------------------------------------

class Chain:
    """Events chained exactly as lims.audit.append chains them, written with COPY."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        from lims.audit_keys import current_key

        self.conn = conn
        self.key = current_key()
        row = conn.execute("SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetchone()
        assert row is not None
        self.seq, self.prev = int(row[0]), str(row[1])
        self.batch: list[tuple[Any, ...]] = []

    def add(self, event: dict[str, Any]) -> None:
        from lims.audit import event_hash

        self.seq += 1
        at = event["at"].astimezone(UTC)
        row = dict(event, seq=self.seq, at=at)
        digest = event_hash(self.prev, row, self.key)
        self.batch.append((self.seq, at, row["user_id"], row["username"], row["action"],
                           row["entity"], row["entity_id"], row["field"], row["old_value"],
                           row["new_value"], row["reason"], self.prev, digest,
                           self.key.key_id))
        self.prev = digest
        if len(self.batch) >= 50_000:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            with self.conn.cursor() as cur, cur.copy(
                    f"COPY audit_event ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in self.batch:
                    copy.write_row(row)
            self.batch.clear()
        self.conn.execute("UPDATE audit_head SET last_seq = %s, last_hash = %s WHERE id = 1",
                          (self.seq, self.prev))


def refused_scan(seq_hint: int, at: datetime, user_id: int) -> tuple[dict[str, Any],
                                                                      dict[str, Any]]:
    """An unreadable label scanned at receipt: its audit event and COI record."""
    from lims.audit_actions import AuditAction

    scanned = f"]C1unreadable-{seq_hint}"
    event = {"at": at, "user_id": user_id, "username": "tech1",
             "action": AuditAction.COI_MISMATCH.value, "entity": "product", "entity_id": "-",
             "field": "scan", "old_value": "container label", "new_value": scanned,
             "reason": "coi_bad_scan: the scan could not be read; scan the label again"}
    coi = {"product_id": None, "step": "receive", "code": "coi_bad_scan",
           "detail": "the scan could not be read", "scanned": scanned,
           "expected": "container label", "user_id": user_id, "at": at}
    return event, coi


def build(url: str, products: int, events: int) -> None:
    start = time.perf_counter()
    say(f"building {products:,} products and {events:,} audit events in {url.rsplit('/', 1)[1]}")
    make_templates(url)
    say(f"  templates made through the services ({time.perf_counter() - start:.0f} s)")
    with psycopg.connect(driver_url(url)) as conn:
        templates = load_templates(conn)
        by_state: dict[tuple[str, str], Template] = {(t.state, t.arm): t for t in templates}
        facility = templates[0].product["din"][:5]
        ids = Ids(conn)
        cloner, chain = Cloner(ids, facility), Chain(conn)
        (tech,) = conn.execute("SELECT id FROM \"user\" WHERE username = 'tech1'").fetchone() \
            or (None,)
        plan = _plan(products - len(templates), by_state)
        copied = sum(len(by_state[key].events) for key in plan)
        filler = max(0, events - chain.seq - copied)
        rng = random.Random(14)
        history = sorted(((rng.uniform(1, YEARS * 365), key) for key in plan
                          if key[0] in ("administered", "discarded")), reverse=True)
        current = [key for key in plan if key[0] not in ("administered", "discarded")]
        fill_every = max(1, len(history) and filler // max(1, len(history)))
        number, written_filler, cois = 1, 0, []
        for done, (days, key) in enumerate(history, 1):
            shift = -timedelta(days=days, seconds=rng.randint(0, 86_400))
            for event in cloner.clone(by_state[key], number, shift):
                chain.add(event)
            number += 1
            for _ in range(min(fill_every, filler - written_filler)):
                written_filler += 1
                event, coi = refused_scan(written_filler, datetime.now(UTC) + shift
                                          + timedelta(minutes=5), tech)
                chain.add(event)
                cois.append(coi)
            if done % 2000 == 0:
                cloner.out["coi_event"].extend(cois)
                cois.clear()
                cloner.flush(conn)
                chain.flush()
                conn.commit()
                say(f"  {done:,} of {len(plan):,} products, {chain.seq:,} events "
                    f"({time.perf_counter() - start:.0f} s)")
        while written_filler < filler:
            written_filler += 1
            event, coi = refused_scan(written_filler, datetime.now(UTC) - timedelta(hours=8),
                                      tech)
            chain.add(event)
            cois.append(coi)
        for i, key in enumerate(current):
            shift = -timedelta(minutes=rng.randint(0, 120) + i % 7)
            for event in cloner.clone(by_state[key], number, shift):
                chain.add(event)
            number += 1
        cloner.out["coi_event"].extend(cois)
        cloner.flush(conn)
        chain.flush()
        for table in ("patient", "product", *PRODUCT_TABLES):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT coalesce(max(id), 1) FROM {table}))")
        conn.commit()
        say(f"  {products:,} products, {chain.seq:,} events loaded "
            f"({time.perf_counter() - start:.0f} s); analysing")
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.execute("CREATE TABLE bench_scale_marker (products int, events bigint)")
        conn.execute("INSERT INTO bench_scale_marker VALUES (%s, %s)", (products, events))
    say(f"built in {time.perf_counter() - start:.0f} s")


def _plan(count: int, by_state: dict[tuple[str, str], Template]) -> list[tuple[str, str]]:
    """Which template each further product copies: the products in process, a share
    discarded, the rest administered; both arms alike."""
    plan: list[tuple[str, str]] = []
    for state, number in IN_PROCESS.items():
        for i in range(number):
            arm = ("CD133", "BM-MNC")[i % 2]
            plan.append((state, arm if (state, arm) in by_state else "CD133"))
    discarded = int(count * DISCARDED_SHARE)
    plan += [("discarded", ("CD133", "BM-MNC")[i % 2]) for i in range(discarded)]
    rest = max(0, count - len(plan))
    plan += [("administered", ("CD133", "BM-MNC")[i % 2]) for i in range(rest)]
    return plan[:count] if len(plan) > count else plan


# --- measuring --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    name: str
    p50: float
    p99: float


def timed(name: str, samples: int, call: Callable[[int], Any]) -> Timing:
    for i in range(min(10, samples)):  # warm caches and plans
        call(i)
    times = []
    for i in range(samples):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    found = Timing(name, statistics.median(times),
                   times[min(len(times) - 1, int(len(times) * 0.99))])
    say(f"  {name}: p50 {found.p50:.1f} ms, p99 {found.p99:.1f} ms")
    return found


def measure_reads(url: str, samples: int) -> list[Timing]:
    from lims.db import make_engine
    from lims.services.queries import worklist, worklist_items
    from lims.services.review import qa_queue, review_summary
    from lims.services.search import search_products

    engine = make_engine(url)
    with psycopg.connect(driver_url(url)) as conn:
        picks = conn.execute(
            "SELECT p.din, pa.subject_id, pa.mrn, pa.name, p.state FROM product p "
            "JOIN patient pa ON pa.id = p.patient_id ORDER BY random() LIMIT 400").fetchall()
        awaiting = [r[0] for r in conn.execute(
            "SELECT din FROM product WHERE state = 'awaiting_release'").fetchall()]
        in_process = [r[0] for r in conn.execute(
            "SELECT din FROM product WHERE state NOT IN "
            "('administered', 'discarded', 'expired') ORDER BY id").fetchall()]
    results: list[Timing] = []

    def service(fn: Callable[[Session, int], Any]) -> Callable[[int], Any]:
        def call(i: int) -> None:
            with Session(engine) as session:
                fn(session, i)
        return call

    with served(url) as get:
        results.append(timed("worklist page GET /", samples, lambda _i: get("tech1", "/")))
        results.append(timed("worklist_items (service)", samples,
                             service(lambda s, _i: worklist_items(s))))
        results.append(timed("worklist (service, QA clocks)", samples,
                             service(lambda s, _i: worklist(s))))
        for label, column, role in (("subject ID", 1, "technician"), ("MRN", 2, "qa"),
                                    ("name", 3, "qa"), ("DIN", 0, "technician")):
            results.append(timed(f"search by {label}", samples, service(
                lambda s, i, c=column, r=role: search_products(s, picks[i % len(picks)][c],
                                                               role=r))))
        results.append(timed("search page GET /search (name)", samples, lambda i: get(
            "qa1", f"/search?q={quote(picks[i % len(picks)][3])}")))
        results.append(timed(
            "product page GET /products/{din} (in process)", samples,
            lambda i: get("tech1", f"/products/{in_process[i % len(in_process)]}")))
        results.append(timed("product page GET /products/{din} (any)", samples, lambda i: get(
            "tech1", f"/products/{picks[i % len(picks)][0]}")))
        results.append(timed("QA queue page GET /qa", samples, lambda _i: get("qa1", "/qa")))
        results.append(timed("qa_queue (service)", samples, service(lambda s, _i: qa_queue(s))))
        if awaiting:
            results.append(timed("review_summary (service)", samples, service(
                lambda s, i: review_summary(s, awaiting[i % len(awaiting)]))))
        results.append(timed("audit page GET /audit", samples, lambda _i: get("qa1", "/audit")))
    engine.dispose()
    return results


@contextmanager
def served(url: str) -> Iterator[Callable[[str, str], None]]:
    """The pages as a user gets them: `lims serve` (uvicorn, one worker) on the database,
    read over one keep-alive connection per user from this process. An in-process test
    client would run in the server's own interpreter, adding its CPU to every request
    under the same interpreter lock. Gives get(username, path), which checks the answer."""
    from bench.throughput import _free_port, serve

    port = _free_port()
    log = Path(tempfile.mkdtemp(prefix="bench-scale-")) / "serve.log"
    # Laid out as docs/deploy.md has a large site: the background jobs run from cron, not
    # in the serving workers (the checkpoint they would write is written before, by
    # checkpointed()), so a job's work is not measured as the pages'.
    server = serve(url, port, 1, log, {"LIMS_JOBS_ENABLED": "false"})
    try:
        cookies = {user: _session_cookie(f"http://127.0.0.1:{port}", user)
                   for user in ("tech1", "qa1")}
        connections = {user: http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                       for user in cookies}

        def get(user: str, path: str) -> None:
            conn = connections[user]
            try:
                conn.request("GET", path, headers={"Cookie": cookies[user]})
                answer = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                # Idle past the server's keep-alive (another user's pages were read): a
                # new connection, in the warm-up calls of `timed`.
                conn.close()
                conn.request("GET", path, headers={"Cookie": cookies[user]})
                answer = conn.getresponse()
            answer.read()
            assert answer.status == 200, (path, answer.status)

        yield get
        for conn in connections.values():
            conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _session_cookie(base: str, username: str) -> str:
    """Sign in through the login page, as a person does; the session cookie it sets."""
    import httpx

    from tests.api.web_client import csrf_token
    from tests.factories import PASSWORDS

    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
        token = csrf_token(client.get("/login").text)
        signed = client.post("/login", data={"csrf_token": token, "username": username,
                                             "password": PASSWORDS[username]})
        assert signed.status_code == 303, signed.text[:300]
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def bare_hash(url: str) -> float:
    """Read every event's row with psycopg (server-side cursor) and hash it with hashlib."""
    start = time.perf_counter()
    sha256 = hashlib.sha256
    with psycopg.connect(driver_url(url)) as conn, conn.cursor(name="bare") as cur:
        cur.itersize = 20_000
        cur.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM audit_event ORDER BY seq")
        while rows := cur.fetchmany(20_000):
            for row in rows:
                sha256("\x1f".join(map(str, row)).encode()).digest()
    return time.perf_counter() - start


def measure_verify(url: str) -> tuple[float, float, float, int, int]:
    """Full chain verify, incremental from the last signed checkpoint, and the bare read."""
    from lims.audit import verify_chain
    from lims.db import make_engine

    engine = make_engine(url)
    with Session(engine) as session:
        last = checkpointed(session)
        after = (int(last.seq), str(last.chain_hash))
        base = bare_hash(url) / 2
        start = time.perf_counter()
        full = verify_chain(session)
        full_s = time.perf_counter() - start
        assert full.ok, full.problem
        session.rollback()
        base += bare_hash(url) / 2
        start = time.perf_counter()
        since = verify_chain(session, after=after)
        inc_s = time.perf_counter() - start
        assert since.ok, since.problem
    engine.dispose()
    return full_s, inc_s, base, full.events, since.events


def checkpointed(session: Session) -> Any:
    """The last signed checkpoint in force; written first (then a day's events after it)
    when there is none, or it is more than 10,000 events old: as the hourly job would have
    written it on a site that has been running."""
    from lims.audit_checkpoints import check_lines, in_force, public_key, read_lines
    from lims.models import AuditHead
    from lims.services.checkpoints import write_checkpoint

    path = Path(os.environ["LIMS_AUDIT_CHECKPOINT_PATH"])
    good, _problems = check_lines(read_lines(path), public_key())
    active = in_force(good)
    head = session.get(AuditHead, 1)
    assert head is not None
    if not active or head.last_seq - active[-1].seq > 10_000:
        say("  writing a signed checkpoint of the trail, then a day's events (once)")
        write_checkpoint(session, reason="bench scale")
        _append_tail(session)
        good, _problems = check_lines(read_lines(path), public_key())
        active = in_force(good)
    return active[-1]


def _append_tail(session: Session) -> None:
    """A day's work after the checkpoint: refused scans through lims.audit.append."""
    from lims.audit import PendingEvent, append
    from lims.audit_actions import AuditAction

    for i in range(100):
        append(session, [PendingEvent(AuditAction.COI_MISMATCH, "product", "-", "scan",
                                      "container label", f"]C1unreadable-tail-{i}",
                                      "coi_bad_scan: the scan could not be read")],
               user_id=None, username="tech1")
    session.commit()


# --- entry points -------------------------------------------------------------------------------

def parse(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="100,000 products, 10M events")
    parser.add_argument("--url", default=os.environ.get("BENCH_SCALE_URL", DEFAULT_URL))
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    parsed = parser.parse_args(args)
    if os.environ.get("SCALE") == "full":
        parsed.full = True
    return parsed


def run(args: list[str] | None = None) -> tuple[list[Timing], tuple[float, float, float, int, int],
                                                int, int]:
    opts = parse(args)
    products, events = SIZES["full" if opts.full else "default"]
    name = opts.url.rsplit("/", 1)[1]
    # This database's own checkpoints and key: benches run before it in the same process
    # (bench.report) set theirs, and another trail's checkpoints would not match this one.
    os.environ["LIMS_AUDIT_CHECKPOINT_PATH"] = f"/tmp/{name}-{products}.checkpoints.jsonl"
    os.environ["LIMS_AUDIT_SIGNING_KEY_FILE"] = f"/tmp/{name}.signing-key.pem"
    os.environ["LIMS_DATABASE_URL"] = opts.url
    from lims.config import get_settings
    from lims.db import get_engine

    get_settings.cache_clear()
    get_engine.cache_clear()
    if ensure_database(opts.url, products, events, opts.rebuild):
        say(f"reusing {name} ({products:,} products, {events:,} events)")
    else:
        Path(os.environ["LIMS_AUDIT_CHECKPOINT_PATH"]).unlink(missing_ok=True)
        build(opts.url, products, events)
    from lims.migrate import upgrade
    upgrade(opts.url)  # indexes of newer migrations on a database built before them
    from lims.db import make_engine

    engine = make_engine(opts.url)
    with Session(engine) as session:
        checkpointed(session)  # the hourly job's work, done before the pages are read
    engine.dispose()
    # The reads first, as a lab's pages are read all day: the full verify that follows reads
    # every event once (a nightly job), pushing the product tables out of the server's cache.
    reads = measure_reads(opts.url, opts.samples)
    verify = measure_verify(opts.url)
    say(f"  verify: full {verify[0]:.2f} s, from the checkpoint {verify[1]:.3f} s, bare "
        f"hashlib read {verify[2]:.2f} s")
    return reads, verify, products, events


def figures(args: list[str] | None = None) -> list[Figure]:
    reads, (full, inc, base, _total, _since), _products, _events = run(args)
    return _figures(reads, full, inc, base)


def _figures(reads: list[Timing], full: float, inc: float, base: float) -> list[Figure]:
    out = []
    for t in reads:
        out.append(Figure(f"scale: {t.name} p50", t.p50, "ms", None, "", None))
        out.append(Figure(f"scale: {t.name} p99", t.p99, "ms", None, "≤ 20 ms", t.p99 <= 20))
    out.append(Figure("scale: audit verify (full chain)", full / base, "×", base,
                      "≤ 3× hashlib read", full / base <= 3))
    out.append(Figure("scale: audit verify (from last checkpoint)", inc, "s", None, "", None))
    return out


def main() -> None:
    reads, (full, inc, base, total, since), products, _events = run(sys.argv[1:])
    print(f"\n{'read':<52}{'p50 ms':>9}{'p99 ms':>9}   goal p99 ≤ 20 ms   "
          f"({products:,} products, {total:,} events, PostgreSQL)")
    for t in reads:
        verdict = "met" if t.p99 <= 20 else "MISSED"
        print(f"{t.name:<52}{t.p50:>9.1f}{t.p99:>9.1f}   {verdict}")
    print(f"{'audit verify, full chain (s)':<52}{full:>9.2f}   ({total:,} events)")
    print(f"{'bare: psycopg read + hashlib.sha256 (s)':<52}{base:>9.2f}")
    print(f"{'ratio verify/bare':<52}{full / base:>9.2f}   (goal ≤ 3: "
          f"{'met' if full / base <= 3 else 'MISSED'})")
    print(f"{'audit verify from the last checkpoint (s)':<52}{inc:>9.3f}   "
          f"({since:,} events after it)")


if __name__ == "__main__":
    main()
