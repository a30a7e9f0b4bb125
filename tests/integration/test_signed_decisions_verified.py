"""`lims audit verify` checks the signed decisions of issue 11: every discard rests on a valid
"Discarded" signature by a supervisor or QA who discarded it, every administration on the
administering physician's own "Administered" signature over its record. Old data made
before the system signed these is told as not signed, not as tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import Table, delete, update
from sqlmodel import Session, select

import lims.services.steps as steps
from lims.models import Product, Signature
from lims.services.common import product_by_din, utcnow
from lims.services.dispositions import discard_product
from lims.services.transitions import advance
from lims.services.verification import VerifyReport, verify_all
from tests.factories import PASSWORDS, make_product, perform, seeded
from workflows.product import Trigger

SIGNATURES: Table = Signature.__table__  # type: ignore[attr-defined]


def discarded_as_before(run, arm: str = "CD133") -> Product:
    """A discard as the code wrote it before migration c3e91f07ab52: the state change with
    its reason and audit events, no signature (what a direct write with the key also does)."""
    made, _ = make_product(run, arm=arm, until="received")
    product = product_by_din(run.session, made.din)
    return advance(run.session, product=product, trigger=Trigger.DISCARD,
                   actor=run.user("super1"), now=utcnow(), facts={"reason_given": True},
                   reason="bag punctured in the centrifuge")


def discarded(run, arm: str = "CD133") -> Product:
    product, _ = make_product(run, arm=arm, until="received")
    return discard_product(run.session, actor=run.user("super1"), din=product.din,
                           reason="bag punctured in the centrifuge",
                           password=PASSWORDS["super1"])


def signature_of(session: Session, product: Product, meaning: str) -> Signature:
    return session.exec(select(Signature).where(Signature.product_id == product.id,
                                                Signature.meaning == meaning)).one()


def verified(session: Session) -> VerifyReport:
    session.close()  # end the session's transaction before verifying what the DBA did
    return verify_all(session)


def broken(report: VerifyReport, what: str) -> list[str]:
    return [p.line for p in report.problems if p.what == what]


def without(monkeypatch: pytest.MonkeyPatch, module: object, meaning: str) -> None:
    """The code as it was before migration c3e91f07ab52: no signature of `meaning`."""
    real = module.add_signature  # type: ignore[attr-defined]

    def older(session: Session, **kwargs: object) -> object:
        return None if kwargs.get("meaning") == meaning else real(session, **kwargs)

    monkeypatch.setattr(module, "add_signature", older)


# --- discards --------------------------------------------------------------------------------

def test_a_signed_discard_verifies(session):
    run = seeded(session)
    discarded(run)
    report = verify_all(session)
    assert report.ok and not report.notes, report.lines


@pytest.mark.parametrize("tamper", ["delete", "meaning", "signer"])
def test_a_discard_signature_deleted_or_altered_by_direct_sql_is_reported(session, engine,
                                                                          tamper):
    # given a signed discard
    run = seeded(session)
    product = discarded(run)
    signature = signature_of(session, product, "Discarded")
    session.close()

    # when a DBA deletes or alters its signature row (the owner connection)
    with engine.begin() as conn:
        where = SIGNATURES.c.id == signature.id
        if tamper == "delete":
            conn.execute(delete(SIGNATURES).where(where))
        elif tamper == "meaning":
            conn.execute(update(SIGNATURES).where(where).values(meaning="Reviewed"))
        else:
            conn.execute(update(SIGNATURES).where(where).values(user_id=run.user("tech1").id))

    # then verification says the discard no longer rests on a valid signature
    report = verified(session)
    assert not report.ok
    [line] = broken(report, "signature of the discard")
    assert product.din in line and "supervisor" in line


def test_an_unsigned_discard_after_the_system_signed_discards_is_a_break(session):
    run = seeded(session)
    discarded(run)  # signed: from here on every discard is
    product = discarded_as_before(run, "BM-MNC")

    report = verified(session)

    [line] = broken(report, "signature of the discard")
    assert product.din in line and "no such signature was recorded before it" in line


def test_a_discard_from_before_signed_discards_is_told_as_not_signed_not_tampering(session):
    run = seeded(session)
    product = discarded_as_before(run)

    report = verified(session)

    assert report.ok, report.lines
    [note] = report.notes
    assert product.din in note.where and "recorded before e-signatures" in note.found
    assert any(line.startswith("NOTE:") for line in report.lines)


# --- administrations -------------------------------------------------------------------------

def administered(run, arm: str = "BM-MNC") -> Product:
    product, _ = make_product(run, arm=arm, until="issued")
    return perform(run, product, "administer", operator="doc1").product


@pytest.mark.parametrize("tamper", ["delete", "record", "signer"])
def test_a_bedside_signature_deleted_or_altered_by_direct_sql_is_reported(session, engine,
                                                                          tamper):
    run = seeded(session)
    product = administered(run)
    signature = signature_of(session, product, "Administered")
    session.close()
    with engine.begin() as conn:
        where = SIGNATURES.c.id == signature.id
        if tamper == "delete":
            conn.execute(delete(SIGNATURES).where(where))
        elif tamper == "record":
            conn.execute(update(SIGNATURES).where(where).values(record_id="1"))
        else:
            conn.execute(update(SIGNATURES).where(where).values(user_id=run.user("doc2").id))

    report = verified(session)

    assert not report.ok
    [line] = broken(report, "physician's signature")
    assert product.din in line and "Administered" in line


def test_an_unsigned_administration_after_the_system_signed_them_is_a_break(session,
                                                                            monkeypatch):
    run = seeded(session)
    administered(run)
    without(monkeypatch, steps, "Administered")
    product = administered(run, "CD133")

    report = verified(session)

    [line] = broken(report, "physician's signature")
    assert product.din in line and "no 'Administered' signature" in line


def test_an_administration_from_before_bedside_signatures_is_told_as_not_signed(session,
                                                                               monkeypatch):
    run = seeded(session)
    without(monkeypatch, steps, "Administered")
    product = administered(run)

    report = verified(session)

    assert report.ok, report.lines
    [note] = report.notes
    assert product.din in note.where
    assert note.found == "not signed (recorded before e-signatures at the bedside)"
