"""Printing is a controlled act: each print recorded, reprints with a reason and marked,
no final label before QA release, ZPL sent to the Zebra over raw TCP."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, func, select

from labels import LabelKind
from lims.config import get_settings
from lims.models import AuditEvent, Container, PrintJob, Product, Protocol
from lims.services.labels import print_label, verify_label
from lims.services.queries import container_scan_text
from tests.factories import audit_count, container_of, make_product, seeded
from tests.unit.label_support import zpl_fields
from workflows.errors import DomainError, ErrorCode


def jobs(session: Session, container: Container) -> list[PrintJob]:
    session.commit()
    return list(session.exec(select(PrintJob).where(PrintJob.container_id == container.id)
                             .order_by(col(PrintJob.id))))


def job_count(session: Session) -> int:
    session.commit()
    return session.exec(select(func.count()).select_from(PrintJob)).one()


def fresh(session: Session, container: Container) -> Container:
    found = session.exec(select(Container).where(Container.id == container.id)
                         .execution_options(populate_existing=True)).one()
    return found


def test_a_print_is_recorded_with_who_when_which_label_format_printer_and_content_hash(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")
    bag = container_of(session, product, "rbc_reduced")
    assert bag.id is not None
    before = audit_count(session, "label_printed")

    result = print_label(session, actor=run.user("tech2"), din=product.din,
                         container_id=bag.id, format="pdf", printer="bench PDF printer 2",
                         reason="second copy for the batch record")

    job = result.print_job
    assert isinstance(result.output, bytes) and result.output.startswith(b"%PDF")
    assert job.content_hash == hashlib.sha256(result.output).hexdigest()
    assert (job.label_kind, job.format, job.printer) == ("in_process", "pdf",
                                                          "bench PDF printer 2")
    assert job.printed_by_id == run.user("tech2").id and job.printed_at is not None
    assert job.reprint and job.reason == "second copy for the batch record"  # the bench printed it
    assert [j.id for j in jobs(session, bag)][-1] == job.id
    assert audit_count(session, "label_printed") == before
    assert audit_count(session, "label_reprinted") == 1


def test_the_first_print_of_a_new_container_is_not_a_reprint_and_needs_no_reason(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    from lims.services.steps import perform_step
    from tests.factories import step_time, step_values

    at = step_time(product, "sediment")
    result = perform_step(session, actor=run.user("tech1"), din=product.din, step="sediment",
                          scan=container_scan_text(product, container_of(session, product,
                                                                         "marrow_bag")),
                          values=step_values("sediment", "BM-MNC", at), witness="tech2",
                          witness_password="demo-tech2-pass",
                          expected_version=product.version, now=at)
    (new,) = result.new_containers
    assert new.id is not None

    printed = print_label(session, actor=run.user("tech1"), din=product.din,
                          container_id=new.id, format="zpl")

    assert not printed.print_job.reprint and printed.print_job.reason is None
    assert not printed.label.reprint and "REPRINT" not in str(printed.output)
    assert audit_count(session, "label_printed") >= 1
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "label_printed")
                         .order_by(col(AuditEvent.seq).desc())).first()
    assert event is not None and event.entity_id == f"{product.din}/{new.product_code}/00"


def test_a_reprint_without_a_reason_is_refused_and_nothing_is_recorded(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    assert mnc.id is not None
    prints, audited = job_count(session), audit_count(session)

    for reason in (None, "", "   "):
        with pytest.raises(DomainError) as refused:
            print_label(session, actor=run.user("tech1"), din=product.din,
                        container_id=mnc.id, format="zpl", reason=reason)
        assert refused.value.code == ErrorCode.REASON_REQUIRED

    assert (job_count(session), audit_count(session)) == (prints, audited)
    assert fresh(session, mnc).label_verified_at is not None  # still the verified label


def test_a_reprint_with_a_reason_is_marked_and_must_be_scanned_back_again(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    assert mnc.id is not None
    resets = audit_count(session, "label_verification_reset")  # the bag's harvest relabel

    result = print_label(session, actor=run.user("tech1"), din=product.din, container_id=mnc.id,
                         format="zpl", reason="label smudged by ethanol")

    assert result.print_job.reprint and result.print_job.reason == "label smudged by ethanol"
    assert result.label.reprint
    texts = [f.data for f in zpl_fields(str(result.output)) if f.kind == "A0"]
    assert "REPRINT" in texts
    assert fresh(session, mnc).label_verified_at is None
    assert audit_count(session, "label_reprinted") == 1
    assert audit_count(session, "label_verification_reset") == resets + 1
    verify_label(session, actor=run.user("tech1"), din=product.din,
                 scan=container_scan_text(product, fresh(session, mnc)))
    assert fresh(session, mnc).label_verified_at is not None


def test_no_final_label_before_qa_release(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    final = container_of(session, product, "final_product")
    assert final.id is not None
    prints = job_count(session)

    for kind in (LabelKind.FINAL, LabelKind.ISSUE):
        with pytest.raises(DomainError) as refused:
            print_label(session, actor=run.user("tech1"), din=product.din,
                        container_id=final.id, format="pdf", kind=kind)
        assert refused.value.code == ErrorCode.LABEL_REQUIRES_RELEASE
    assert job_count(session) == prints
    # what the syringe carries until release is its in-process (quarantine) label
    assert {j.label_kind for j in jobs(session, final)} == {"in_process"}


def test_the_final_label_follows_release(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="released")
    final = container_of(session, product, "final_product")

    kinds = [j.label_kind for j in jobs(session, final)]

    assert kinds == ["in_process", "final"]
    assert not any(j.reprint for j in jobs(session, final))  # a new label, not a reprint
    assert fresh(session, final).label_verified_at is not None


def test_a_protocol_without_the_release_rule_labels_the_final_product_final_at_once(session):
    run = seeded(session)
    protocol = session.exec(select(Protocol)).one()
    protocol.parameters = {**protocol.parameters, "final_label_requires_release": False}
    session.add(protocol)
    session.commit()

    product, _ = make_product(run, arm="BM-MNC", until="formulated")
    final = container_of(session, product, "final_product")

    assert [j.label_kind for j in jobs(session, final)] == ["final"]


def test_a_physician_prints_the_collection_label_but_no_other(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")
    bag = container_of(session, product, "marrow_bag", None)
    rbc = container_of(session, product, "rbc_reduced")
    assert bag.id is not None and rbc.id is not None
    scheduled, _ = make_product(run, arm="CD133", until="scheduled")
    new_bag = container_of(session, scheduled, "marrow_bag")
    assert new_bag.id is not None

    done = print_label(session, actor=run.user("doc1"), din=scheduled.din,
                       container_id=new_bag.id, format="pdf", reason="torn in theatre")
    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("doc1"), din=product.din, container_id=rbc.id,
                    format="pdf", reason="x")

    assert done.label.kind is LabelKind.COLLECTION
    assert refused.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(DomainError) as qa:
        print_label(session, actor=run.user("qa1"), din=product.din, container_id=rbc.id,
                    format="pdf", reason="x")
    assert qa.value.code == ErrorCode.FORBIDDEN


def test_a_consumed_container_or_a_finished_product_gets_no_label(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")
    bag = container_of(session, product, "marrow_bag", "consumed")
    assert bag.id is not None

    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=bag.id,
                    format="pdf", reason="x")

    assert refused.value.code == ErrorCode.INVALID_TRANSITION


# --- the Zebra: raw TCP on a listener this test starts ------------------------------------

class Listener:
    """A stand-in Zebra printer on an ephemeral port."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.server.accept()
        except OSError:  # closed before anything connected
            return
        with connection:
            while chunk := connection.recv(65536):
                self.received += chunk

    def close(self) -> None:
        if self.thread.is_alive():  # nothing connected: wake the accept() up
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def zebra(monkeypatch: pytest.MonkeyPatch):
    listener = Listener()
    settings = get_settings()
    monkeypatch.setattr(settings, "printer_host", "127.0.0.1")
    monkeypatch.setattr(settings, "printer_port", listener.port)
    yield listener
    listener.close()


def test_zpl_is_sent_to_the_configured_zebra_by_raw_tcp_and_the_print_recorded(session, zebra):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")
    negative = container_of(session, product, "cd133_negative")
    assert negative.id is not None

    result = print_label(session, actor=run.user("tech1"), din=product.din,
                         container_id=negative.id, format="zpl",
                         printer=f"127.0.0.1:{zebra.port}", reason="label lifted off the bag")
    zebra.thread.join(timeout=5)

    assert isinstance(result.output, str)
    assert bytes(zebra.received) == result.output.encode("utf-8")
    assert result.print_job.printer == f"127.0.0.1:{zebra.port}"
    assert result.print_job.content_hash == hashlib.sha256(zebra.received).hexdigest()


def test_the_zebra_takes_zpl_only(session, zebra):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")
    negative = container_of(session, product, "cd133_negative")
    assert negative.id is not None

    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din,
                    container_id=negative.id, format="pdf", printer="127.0.0.1", reason="x")

    assert refused.value.code == ErrorCode.INVALID_INPUT


@pytest.fixture
def printer_off(monkeypatch: pytest.MonkeyPatch) -> int:
    """The configured Zebra at a local port nothing listens on; its port."""
    closed = socket.create_server(("127.0.0.1", 0))
    port = int(closed.getsockname()[1])
    closed.close()
    monkeypatch.setattr(get_settings(), "printer_host", "127.0.0.1")
    monkeypatch.setattr(get_settings(), "printer_port", port)
    return port


def test_a_printer_that_is_off_refuses_the_print_and_nothing_is_recorded(session, printer_off):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    assert mnc.id is not None
    prints, audited = job_count(session), audit_count(session)

    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=mnc.id,
                    format="zpl", printer="127.0.0.1", reason="reprint for the fridge")

    assert refused.value.code == ErrorCode.PRINTER_ERROR
    assert "refused the connection" in refused.value.detail
    assert (job_count(session), audit_count(session)) == (prints, audited)
    assert fresh(session, mnc).label_verified_at is not None
    session.commit()
    assert session.get(Product, product.id) is not None


def test_an_unreachable_printer_is_found_out_before_the_database_is_touched(session,
                                                                             printer_off):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="mnc_isolated")
    mnc = container_of(session, product, "mnc")
    assert mnc.id is not None
    actor = run.user("tech1")
    session.commit()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", seen)
    try:
        with pytest.raises(DomainError) as refused:
            print_label(session, actor=actor, din=product.din, container_id=mnc.id,
                        format="zpl", printer="127.0.0.1", reason="reprint for the fridge")
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", seen)

    assert refused.value.code == ErrorCode.PRINTER_ERROR
    # not one statement, so no lock (SQLite's write lock, PostgreSQL's audit head) was held
    # while the printer was being tried
    assert statements == []
