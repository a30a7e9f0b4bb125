"""The labels the laboratory prints tell the truth about the product: quarantine before
release, not for infusion on the negative fraction, infectious-disease statements from the
patient's record, storage and caution from the protocol, the arm kept off when blinded."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from labels import DEFAULT_TEXTS as T
from lims.models import Patient, Product, Protocol
from lims.services.labels import build_label, print_label
from tests.factories import container_of, make_product, seeded
from tests.unit.label_support import zpl_fields


def set_parameters(session: Session, **changes: Any) -> None:
    protocol = session.exec(select(Protocol)).one()
    protocol.parameters = {**protocol.parameters, **changes}
    session.add(protocol)
    session.commit()


def label_now(session: Session, product: Product, kind: str) -> Any:
    container = container_of(session, product, kind)
    assert container.id is not None
    return build_label(session, din=product.din, container_id=container.id)


def printed_text(session: Session, run: Any, product: Product, kind: str) -> str:
    container = container_of(session, product, kind)
    assert container.id is not None
    result = print_label(session, actor=run.user("tech1"), din=product.din,
                         container_id=container.id, format="zpl", reason="content check")
    assert isinstance(result.output, str)
    return " ".join(f.data for f in zpl_fields(result.output))


def test_the_final_container_before_release_is_labelled_quarantine(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")

    text = printed_text(session, run, product, "final_product")

    assert "QUARANTINE – NOT RELEASED FOR USE" in text


def test_the_final_label_after_release_carries_no_quarantine(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")

    label = label_now(session, product, "final_product")

    assert label.kind == "final" and T.quarantine not in label.markings


def test_the_cd133_negative_fraction_is_labelled_not_for_infusion(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")

    text = printed_text(session, run, product, "cd133_negative")

    assert "NOT FOR INFUSION" in text
    assert T.not_for_infusion not in label_now(session, product, "cd133_target").markings


def test_a_patient_tested_only_for_hiv_hbv_and_hcv_gets_not_evaluated(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    patient = session.get(Patient, product.patient_id)
    assert patient is not None
    patient.infectious_markers = {"HIV": "negative", "HBV": "negative", "HCV": "negative"}
    session.add(patient)
    session.commit()

    label = label_now(session, product, "final_product")

    assert label.statements[0] == T.not_evaluated


def test_a_reactive_marker_brings_the_warnings_and_the_biohazard_legend(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    patient = session.get(Patient, product.patient_id)
    assert patient is not None
    patient.infectious_markers = {**patient.infectious_markers, "CMV": "reactive"}
    session.add(patient)
    session.commit()

    label = label_now(session, product, "final_product")

    assert T.not_evaluated not in label.statements
    assert label.statements[:2] == (T.advise_patient, f"{T.reactive_results} CMV")
    assert T.biohazard in label.markings


def test_storage_and_caution_follow_the_protocol(session):
    run = seeded(session)
    set_parameters(session, storage_temperature_min_c=15.0, storage_temperature_max_c=25.0,
                   label_jurisdiction="US", trial_identifier="IND 012345")
    product, _ = make_product(run, arm="CD133", until="released")

    label = label_now(session, product, "final_product")

    assert label.storage_temperature.startswith("Store at 15–25 °C.")
    assert any(s.startswith("Caution: New Drug") and s.endswith("Trial IND 012345")
               for s in label.statements)


def test_a_blinded_trial_keeps_the_arm_off_the_final_label_but_not_off_the_lab_labels(session):
    run = seeded(session)
    set_parameters(session, blinded_labels=True)
    cd133, _ = make_product(run, arm="CD133", until="released")
    mnc, _ = make_product(run, arm="BM-MNC", until="released")

    finals = [label_now(session, p, "final_product") for p in (cd133, mnc)]

    assert finals[0].product_description == finals[1].product_description == \
        T.blinded_description
    assert all(label.dose_text is None for label in finals)
    assert "CD133" in label_now(session, cd133, "cd133_negative").product_description
