"""The FHIR R5 export of a product: a transaction Bundle every resource of which parses with
fhir.resources, carrying the ISBT 128 DIN and product codes, pseudonymised unless a
patient reader asks, LOINC-coded where a code was checked, and identical on re-export."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources import get_fhir_model_class
from fhir.resources.bundle import Bundle
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.audit import verify_chain
from lims.cli import app
from lims.demo import DemoRun
from lims.models import AuditEvent, Container, Patient, Product
from lims.services.adverse_events import report_adverse_event
from lims.services.common import utcnow
from lims.services.fhir_bundle import dumps, product_bundle
from lims.services.fhir_common import CONTAINER_ID, ISBT_DIN, ISBT_PRODUCT_CODE, LOINC
from lims.services.fhir_disclosure import Interface
from lims.services.follow_up_records import LabEntry, record_lab_values
from tests.factories import PASSWORDS, make_product, seeded
from workflows.errors import DomainError, ErrorCode

DOCS = Path(__file__).resolve().parents[2] / "docs" / "fhir"


def administered(session: Session, arm: str) -> tuple[DemoRun, Product, Patient]:
    run = seeded(session)
    product, patient = make_product(run, arm=arm, until="administered")
    return run, product, patient


def with_follow_up(run: DemoRun, product: Product, patient: Patient) -> None:
    """A week-1 sampling of the liver values and a grade-2 adverse event about the product."""
    doc = run.user("doc1")
    record_lab_values(run.session, actor=doc, subject_id=patient.subject_id,
                      sampled_at=utcnow() - timedelta(minutes=5),
                      entries=[LabEntry("bilirubin", "2.4", "mg/dL"),
                               LabEntry("albumin", "3.1", "g/dL"),
                               LabEntry("inr", "1.4", ""),
                               LabEntry("creatinine", "1.1", "mg/dL"),
                               LabEntry("sodium", "134", "mmol/L"),
                               LabEntry("platelets", "88", "10^9/L"),
                               LabEntry("alt", "40", "U/L")])
    report_adverse_event(run.session, actor=doc, subject_id=patient.subject_id,
                         description="Pain at the puncture site", onset_on=date.today(),
                         grade=2, serious=False, relatedness="possible", outcome="recovering",
                         din=product.din)


def exported(session: Session, din: str, **options: Any) -> dict[str, Any]:
    """The bundle as a receiver reads it: serialised, then parsed again."""
    parsed: dict[str, Any] = json.loads(dumps(product_bundle(session, din, **options)))
    return parsed


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def assert_valid_transaction(bundle: dict[str, Any]) -> None:
    """The whole Bundle and each resource alone parse with their fhir.resources R5 models;
    each entry is a conditional PUT on an identifier; every reference resolves inside."""
    Bundle.model_validate_json(json.dumps(bundle))
    assert bundle["type"] == "transaction"
    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert len(urls) == len(bundle["entry"])
    for e in bundle["entry"]:
        resource = e["resource"]
        model = get_fhir_model_class(resource["resourceType"])
        assert model.model_validate_json(json.dumps(resource)).get_resource_type() == \
            resource["resourceType"]
        assert e["fullUrl"].startswith("urn:uuid:")
        assert e["request"]["method"] == "PUT"
        assert e["request"]["url"].startswith(f"{resource['resourceType']}?identifier=")
        _, value = e["request"]["url"].split("|", 1)
        assert value in {i["value"] for i in resource["identifier"]}
    for reference in references(bundle):
        assert reference in urls, reference


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


@pytest.mark.parametrize("arm", ["CD133", "BM-MNC"])
def test_an_administered_product_exports_as_a_valid_transaction_bundle(session, arm):
    # given a product administered, with follow-up laboratory values and an adverse event
    run, product, patient = administered(session, arm)
    with_follow_up(run, product, patient)

    # when it is exported
    bundle = exported(session, product.din)

    # then every resource parses as FHIR R5 and the transaction is self-contained
    assert_valid_transaction(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Patient") == 1
    assert kinds.count("BiologicallyDerivedProductDispense") == 1
    assert kinds.count("AdverseEvent") == 1
    # harvest, and the portal-vein infusion using the final product
    procedures = {p["code"]["coding"][0]["code"]: p for p in resources(bundle, "Procedure")}
    assert set(procedures) == {"bone-marrow-harvest", "portal-vein-infusion"}
    final = [p for p in resources(bundle, "BiologicallyDerivedProduct")
             if p["productStatus"]["code"] == "applied"]
    assert len(final) == 1
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    used = procedures["portal-vein-infusion"]["used"][0]["reference"]["reference"]
    assert by_url[used] is final[0]
    dispense = resources(bundle, "BiologicallyDerivedProductDispense")[0]
    assert dispense["status"] == "issued" and by_url[dispense["product"]["reference"]] is final[0]
    assert procedures["bone-marrow-harvest"]["identifier"][1] == {"system": ISBT_DIN,
                                                                  "value": product.din}
    event = resources(bundle, "AdverseEvent")[0]
    assert by_url[event["suspectEntity"][0]["instanceReference"]["reference"]] is final[0]
    assert event["extension"][0]["valueInteger"] == 2


def test_each_container_carries_the_din_and_its_product_code(session):
    # given an administered CD133+ product (marrow bag → ... → final syringe)
    _run, product, _patient = administered(session, "CD133")
    containers = session.exec(select(Container).where(Container.product_id == product.id)
                              .order_by(col(Container.id))).all()
    made = [c for c in containers if c.kind not in ("qc_sample", "retention_sample")]

    # when it is exported
    bundle = exported(session, product.din)
    products = resources(bundle, "BiologicallyDerivedProduct")

    # then there is one BiologicallyDerivedProduct per container, identified by DIN and code
    assert len(products) == len(made)
    for resource, container in zip(products, made, strict=True):
        identifiers = {i["system"]: i["value"] for i in resource["identifier"]}
        assert identifiers[ISBT_DIN] == product.din
        assert identifiers[CONTAINER_ID] == f"{product.din}-{container.product_code}-" \
                                            f"{container.flags}"
        assert resource["biologicalSourceEvent"] == {"system": ISBT_DIN, "value": product.din}
        assert resource["productCode"]["coding"][0] == {"system": ISBT_PRODUCT_CODE,
                                                        "code": container.product_code}
        assert resource["collection"]["collectedPeriod"]["end"]
        assert resource["property"][0]["valueCodeableConcept"]["coding"][0]["code"] == "1"
    # each child points at the container it was made from
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    assert "parent" not in products[0]
    for child in products[1:]:
        assert by_url[child["parent"][0]["reference"]] in products
    final = next(p for p in products if p["productCode"]["text"] == "final product")
    assert final["storageTempRequirements"]["low"]["value"] == 2.0
    assert final["storageTempRequirements"]["high"]["code"] == "Cel"
    assert final["expirationDate"]
    steps = {p["valueCodeableConcept"]["coding"][0]["code"] for r in products
             for p in r["property"] if p["type"]["coding"][0]["code"] == "processing-step"}
    assert steps == {"harvest", "sediment", "isolate_mnc", "enrich", "formulate"}


def test_the_patient_is_pseudonymised_unless_a_patient_reader_asks(session):
    # given an administered product of a named patient
    run, product, patient = administered(session, "BM-MNC")
    with_follow_up(run, product, patient)

    # when it is exported by default
    text = dumps(product_bundle(session, product.din))
    bundle = json.loads(text)

    # then neither the name, nor the MRN, nor the full date of birth is anywhere in it
    assert patient.name not in text and patient.mrn not in text
    assert patient.date_of_birth.isoformat() not in text
    (subject,) = resources(bundle, "Patient")
    assert "name" not in subject
    assert subject["birthDate"] == str(patient.date_of_birth.year)
    assert [i["value"] for i in subject["identifier"]] == [patient.subject_id]

    # when a physician asks for the identified export, the name and MRN are there
    identified = json.dumps(exported(session, product.din, reader=run.user("doc1"),
                                     identified=True, interface=Interface.API))
    assert patient.name in identified and patient.mrn in identified

    # and a technician asking for it is refused, nothing exported
    with pytest.raises(DomainError) as refused:
        product_bundle(session, product.din, reader=run.user("tech1"), identified=True)
    assert refused.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(DomainError):
        product_bundle(session, product.din, identified=True)  # nobody named


def test_qc_and_follow_up_observations_carry_loinc_where_mapped(session):
    # given an administered CD133+ product with its QC results and follow-up values
    run, product, patient = administered(session, "CD133")
    with_follow_up(run, product, patient)

    # when it is exported
    observations = resources(exported(session, product.din), "Observation")

    def loinc(observation: dict[str, Any]) -> str | None:
        return next((c["code"] for c in observation["code"]["coding"] if c["system"] == LOINC),
                    None)

    # then the Gram stain has its LOINC code and every QC result its local test code
    codes = {o["code"]["coding"][-1]["code"]: loinc(o) for o in observations}
    assert codes["gram_stain"] == "664-3"
    assert {"viability", "viable_dose", "cd133_purity", "endotoxin", "sterility"} <= set(codes)
    # and the follow-up values theirs
    assert {codes[a] for a in ("bilirubin", "albumin", "inr", "creatinine", "sodium",
                               "platelets", "alt")} == {
        "1975-2", "1751-7", "6301-6", "2160-0", "2951-2", "777-3", "1742-6"}
    bilirubin = next(o for o in observations if loinc(o) == "1975-2")
    assert bilirubin["valueQuantity"] == {"value": 2.4, "unit": "mg/dL",
                                          "system": "http://unitsofmeasure.org",
                                          "code": "mg/dL"}
    # a culture still incubating is preliminary, not final
    sterility = next(o for o in observations if o["code"]["coding"][-1]["code"] == "sterility")
    assert sterility["status"] == ("preliminary" if sterility.get("valueString") == "pending"
                                   else "final")


def test_re_exports_are_identical(session):
    # given an administered product with follow-up
    run, product, patient = administered(session, "CD133")
    with_follow_up(run, product, patient)

    # when it is exported twice
    first = dumps(product_bundle(session, product.din))
    second = dumps(product_bundle(session, product.din))

    # then byte for byte the same: fullUrls and the timestamp come from the records
    assert first == second


def test_a_product_before_issue_exports_without_dispense_or_infusion(session):
    # given a product only received in the lab
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    # when it is exported
    bundle = exported(session, product.din)

    # then it is still a valid bundle: the patient, the harvest, the marrow bag
    assert_valid_transaction(bundle)
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["BiologicallyDerivedProduct", "Patient", "Procedure"]
    assert resources(bundle, "BiologicallyDerivedProduct")[0]["productStatus"]["code"] == \
        "unavailable"


def test_an_unknown_din_is_refused(session):
    seeded(session)
    with pytest.raises(DomainError) as refused:
        product_bundle(session, "X999926999999")
    assert refused.value.code == ErrorCode.NOT_FOUND


@pytest.mark.parametrize("name", ["bundle-bm-mnc.json", "bundle-cd133.json"])
def test_the_committed_example_bundles_still_validate(name):
    # given the example bundle committed under docs/fhir/
    text = (DOCS / name).read_text(encoding="utf-8")
    bundle = json.loads(text)

    # then it parses as an R5 transaction Bundle, every resource alone too, pseudonymised
    assert_valid_transaction(bundle)
    (subject,) = resources(bundle, "Patient")
    assert "name" not in subject and len(subject["birthDate"]) == 4
    assert len(subject["identifier"]) == 1
    # and it is the serialisation the exporter writes today
    assert dumps(bundle) == text


def test_lims_fhir_export_writes_the_bundle_and_identifies_only_with_a_patient_reader(
        session, engine, monkeypatch, tmp_path):
    # given an administered product, the CLI on the test database
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    _run, product, patient = administered(session, "BM-MNC")
    session.commit()
    runner = CliRunner()
    out = tmp_path / "fhir" / "bundle.json"

    # when it is exported to a file, and to standard output
    written = runner.invoke(app, ["fhir", "export", product.din, "--out", str(out)])
    printed = runner.invoke(app, ["fhir", "export", product.din])

    # then both are the pseudonymised bundle, the same bytes
    assert written.exit_code == 0, written.output
    assert out.read_text(encoding="utf-8") == dumps(product_bundle(session, product.din))
    assert printed.stdout == out.read_text(encoding="utf-8")
    assert patient.name not in printed.stdout
    session.commit()  # end the test's read: signing in writes (SQLite: one writer)

    # when names are asked for: only a signed-in physician, supervisor or QA user gets them
    nobody = runner.invoke(app, ["fhir", "export", product.din, "--identified"])
    technician = runner.invoke(app, ["fhir", "export", product.din, "--identified",
                                     "--user", "tech1", "--password", PASSWORDS["tech1"]])
    physician = runner.invoke(app, ["fhir", "export", product.din, "--identified",
                                    "--user", "doc1"], input=PASSWORDS["doc1"] + "\n")
    assert nobody.exit_code == 1 and "--user" in nobody.output
    assert technician.exit_code == 1 and "forbidden" in technician.output
    assert patient.name not in technician.output
    assert physician.exit_code == 0, physician.output
    assert patient.name in physician.stdout and patient.mrn in physician.stdout
    # an unknown DIN exits non-zero, naming why
    unknown = runner.invoke(app, ["fhir", "export", "X999926999999"])
    assert unknown.exit_code == 1 and "not_found" in unknown.output


def disclosures(session: Session) -> list[AuditEvent]:
    """The disclosure events, read fresh; the read then ended (SQLite: one writer, and the
    command signs in and records in a session of its own)."""
    session.commit()
    found = list(session.exec(select(AuditEvent).where(
        AuditEvent.action == "patient_identity_disclosed").order_by(col(AuditEvent.seq))))
    session.commit()
    return found


def test_lims_fhir_export_identified_records_one_disclosure_naming_the_user_and_the_cli(
        session, engine, monkeypatch):
    # given an administered product, the CLI on the test database
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    _run, product, patient = administered(session, "BM-MNC")
    session.commit()
    runner = CliRunner()

    # when it is exported pseudonymised, refused to a technician, then identified by QA
    plain = runner.invoke(app, ["fhir", "export", product.din])
    technician = runner.invoke(app, ["fhir", "export", product.din, "--identified",
                                     "--user", "tech1", "--password", PASSWORDS["tech1"]])
    assert plain.exit_code == 0 and technician.exit_code == 1
    assert disclosures(session) == []
    named = runner.invoke(app, ["fhir", "export", product.din, "--identified",
                                "--user", "qa1", "--password", PASSWORDS["qa1"]])

    # then the names were written, and one event records who was shown whom, and how
    assert named.exit_code == 0, named.output
    assert patient.name in named.stdout
    [event] = disclosures(session)
    assert (event.entity, event.entity_id, event.field, event.username) == (
        "patient", patient.subject_id, "identity", "qa1")
    assert json.loads(event.new_value or "") == {"din": product.din, "interface": "cli",
                                                 "resource": "Bundle"}
    assert verify_chain(session).ok
