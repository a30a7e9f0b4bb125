"""Label printers as master data, and printing to one: ZPL over raw TCP to a listener this
test starts, the printer recorded on the print job, the label stock checked."""

from __future__ import annotations

import socket

import pytest
from sqlmodel import Session, col, func, select

from labels import LabelKind
from labels.stock import LabelStock, stock_for
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Container, Printer, PrintJob, User
from lims.services.common import user_by_name
from lims.services.labels import print_job_document, print_label, verify_label
from lims.services.printers import (
    change_printer,
    deactivate_printer,
    printers,
    reactivate_printer,
    register_printer,
)
from lims.services.queries import container_scan_text
from tests.factories import audit_count, container_of, make_product, seeded
from tests.integration.test_labels_printing import Listener
from workflows.errors import DomainError, ErrorCode


@pytest.fixture
def zebra():
    listener = Listener()
    yield listener
    listener.close()


def closed_port() -> int:
    server = socket.create_server(("127.0.0.1", 0))
    port = int(server.getsockname()[1])
    server.close()
    return port


def admin_of(session: Session) -> User:
    return user_by_name(session, "admin")


def fresh(session: Session, container: Container) -> Container:
    return session.exec(select(Container).where(Container.id == container.id)
                        .execution_options(populate_existing=True)).one()


def job_count(session: Session) -> int:
    session.commit()
    return session.exec(select(func.count()).select_from(PrintJob)).one()


def bag_of(session: Session, run):
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")
    bag = container_of(session, product, "rbc_reduced")
    assert bag.id is not None
    return product, bag


def test_the_administrator_registers_a_printer_and_it_is_audited(session):
    seeded(session)
    row = register_printer(session, actor=admin_of(session), name="ZEBRA-LAB1",
                           host="zebra-lab1.hospital.local", port=9100,
                           stock="100x60mm", location="Clean room 2, bench B")
    assert (row.name, row.host, row.port, row.stock, row.active) == (
        "ZEBRA-LAB1", "zebra-lab1.hospital.local", 9100, LabelStock.BAG, True)
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.PRINTER_REGISTERED)).one()
    assert (event.entity, event.entity_id, event.username) == ("printer", "ZEBRA-LAB1", "admin")
    assert "zebra-lab1.hospital.local" in (event.new_value or "")
    assert [p.name for p in printers(session)] == ["ZEBRA-LAB1"]


@pytest.mark.parametrize("user", ["tech1", "super1", "qa1", "doc1"])
def test_no_one_but_the_administrator_registers_a_printer(session, user):
    run = seeded(session)
    with pytest.raises(DomainError) as refused:
        register_printer(session, actor=run.user(user), name="ZEBRA-X", host="10.0.0.5",
                         stock="100x60mm")
    assert refused.value.code == ErrorCode.FORBIDDEN
    session.rollback()
    assert session.exec(select(func.count()).select_from(Printer)).one() == 0
    assert audit_count(session, AuditAction.PRINTER_REGISTERED) == 0


@pytest.mark.parametrize(("host", "port", "stock", "says"), [
    ("", 9100, "100x60mm", "host"),
    ("zebra lab", 9100, "100x60mm", "neither a host name"),
    ("-bad-.local", 9100, "100x60mm", "neither a host name"),
    ("10.0.0.5", 0, "100x60mm", "1 to 65535"),
    ("10.0.0.5", 65536, "100x60mm", "1 to 65535"),
    ("10.0.0.5", 9100, "A4", "100x100mm"),
])
def test_a_printer_that_cannot_be_real_is_refused(session, host, port, stock, says):
    seeded(session)
    with pytest.raises(DomainError) as refused:
        register_printer(session, actor=admin_of(session), name="ZEBRA-X", host=host,
                         port=port, stock=stock)
    assert refused.value.code == ErrorCode.INVALID_INPUT
    assert says in refused.value.detail
    session.rollback()
    assert printers(session) == []


def test_ipv6_and_ipv4_addresses_are_hosts(session):
    seeded(session)
    for name, host in (("Z4", "10.20.0.31"), ("Z6", "fe80::1")):
        register_printer(session, actor=admin_of(session), name=name, host=host,
                         stock="50x25mm")
    assert {p.host for p in printers(session)} == {"10.20.0.31", "fe80::1"}


def test_a_change_and_taking_out_of_use_are_audited_with_their_reasons(session):
    seeded(session)
    admin = admin_of(session)
    register_printer(session, actor=admin, name="ZEBRA-QC", host="10.0.0.7", stock="100x60mm")
    changed = change_printer(session, actor=admin, name="ZEBRA-QC", stock="50x25mm",
                             reason="tube labels loaded for QC")
    assert changed.stock == "50x25mm"
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.PRINTER_CHANGED)).one()
    assert (event.field, event.old_value, event.new_value, event.reason) == (
        "stock", "100x60mm", "50x25mm", "tube labels loaded for QC")
    with pytest.raises(DomainError) as no_reason:
        deactivate_printer(session, actor=admin, name="ZEBRA-QC", reason=" ")
    assert no_reason.value.code == ErrorCode.REASON_REQUIRED
    session.rollback()
    assert not deactivate_printer(session, actor=admin, name="ZEBRA-QC",
                                  reason="sent for repair").active
    assert printers(session, active_only=True) == []
    assert reactivate_printer(session, actor=admin, name="ZEBRA-QC", reason="repaired").active
    assert audit_count(session, AuditAction.PRINTER_DEACTIVATED) == 1
    assert audit_count(session, AuditAction.PRINTER_REACTIVATED) == 1


def test_a_label_printed_to_a_registered_printer_goes_there_as_zpl_and_is_recorded(session,
                                                                                    zebra):
    run = seeded(session)
    product, bag = bag_of(session, run)
    row = register_printer(session, actor=admin_of(session), name="ZEBRA-LAB1",
                           host="127.0.0.1", port=zebra.port, stock="100x60mm")

    result = print_label(session, actor=run.user("tech1"), din=product.din,
                         container_id=bag.id, format="zpl", printer="ZEBRA-LAB1",
                         reason="label smudged")
    zebra.thread.join(timeout=5)

    sent = bytes(zebra.received)
    assert sent.startswith(b"^XA") and sent.rstrip().endswith(b"^XZ")
    assert product.din.encode() in sent
    assert sent == str(result.output).encode("utf-8")
    job = result.print_job
    assert (job.printer, job.printer_id, job.format) == ("ZEBRA-LAB1", row.id, "zpl")
    event = session.exec(select(AuditEvent).where(
        col(AuditEvent.action).in_([AuditAction.LABEL_PRINTED, AuditAction.LABEL_REPRINTED]))
        .order_by(col(AuditEvent.seq).desc())).first()
    assert event is not None and f'"printer_id":{row.id}' in (event.new_value or "")


def test_a_registered_printer_is_chosen_by_its_id_too(session, zebra):
    run = seeded(session)
    product, bag = bag_of(session, run)
    row = register_printer(session, actor=admin_of(session), name="ZEBRA-LAB1",
                           host="127.0.0.1", port=zebra.port, stock="100x60mm")
    result = print_label(session, actor=run.user("tech1"), din=product.din,
                         container_id=bag.id, format="zpl", printer_id=row.id,
                         reason="label smudged")
    zebra.thread.join(timeout=5)
    assert result.print_job.printer_id == row.id and b"^XZ" in bytes(zebra.received)


def test_a_label_on_a_printer_with_another_stock_is_refused_and_nothing_printed(session,
                                                                                zebra):
    run = seeded(session)
    product, bag = bag_of(session, run)
    register_printer(session, actor=admin_of(session), name="ZEBRA-TUBES", host="127.0.0.1",
                     port=zebra.port, stock="50x25mm")
    prints, audited = job_count(session), audit_count(session)

    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=bag.id,
                    format="zpl", printer="ZEBRA-TUBES", reason="label smudged")

    assert refused.value.code == ErrorCode.PRINTER_WRONG_STOCK
    assert "100 × 60 mm" in refused.value.detail and "ZEBRA-TUBES" in refused.value.detail
    session.rollback()
    assert (job_count(session), audit_count(session)) == (prints, audited)
    zebra.close()
    assert bytes(zebra.received) == b""


def test_an_unreachable_printer_refuses_the_print_and_nothing_is_recorded(session):
    run = seeded(session)
    product, bag = bag_of(session, run)
    register_printer(session, actor=admin_of(session), name="ZEBRA-OFF", host="127.0.0.1",
                     port=closed_port(), stock="100x60mm")
    prints, audited = job_count(session), audit_count(session)

    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=bag.id,
                    format="zpl", printer="ZEBRA-OFF", reason="label smudged")

    assert refused.value.code == ErrorCode.PRINTER_ERROR
    session.rollback()
    assert (job_count(session), audit_count(session)) == (prints, audited)


def test_a_printer_out_of_use_takes_no_label(session, zebra):
    run = seeded(session)
    product, bag = bag_of(session, run)
    register_printer(session, actor=admin_of(session), name="ZEBRA-LAB1", host="127.0.0.1",
                     port=zebra.port, stock="100x60mm")
    deactivate_printer(session, actor=admin_of(session), name="ZEBRA-LAB1",
                       reason="sent for repair")
    with pytest.raises(DomainError) as refused:
        print_label(session, actor=run.user("tech1"), din=product.din, container_id=bag.id,
                    format="zpl", printer="ZEBRA-LAB1", reason="label smudged")
    assert refused.value.code == ErrorCode.CONFLICT and "out of use" in refused.value.detail


def test_the_pdf_of_a_recorded_print_is_rendered_again_only_while_it_awaits_scan_back(session):
    run = seeded(session)
    product, bag = bag_of(session, run)
    tech = run.user("tech1")
    printed = print_label(session, actor=tech, din=product.din, container_id=bag.id,
                          format="pdf", reason="label smudged")
    prints = job_count(session)

    again = print_job_document(session, actor=tech, din=product.din,
                               job_id=printed.print_job.id or 0)

    assert again.output == printed.output  # byte for byte, no new print
    assert job_count(session) == prints
    verify_label(session, actor=tech, din=product.din,
                 scan=container_scan_text(product, fresh(session, bag)))
    with pytest.raises(DomainError) as refused:
        print_job_document(session, actor=tech, din=product.din,
                           job_id=printed.print_job.id or 0)
    assert refused.value.code == ErrorCode.CONFLICT and "reprint" in refused.value.detail


def test_every_label_kind_has_a_stock():
    assert {stock_for(kind) for kind in LabelKind} == set(LabelStock)
    assert stock_for(LabelKind.FINAL) == LabelStock.FINAL == "100x100mm"
