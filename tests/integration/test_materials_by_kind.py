"""Materials and instruments by kind, through perform_step and the master-data services: a
lot field takes only its material and an equipment field only its type; collection sets and
filters are master-data lots with an expiry like the others."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from lims.models import ReagentLot
from lims.services.materials import register_equipment, register_reagent_lot
from lims.services.seed import load_seed, seed
from lims.services.verification import verify_all
from tests.factories import make_product, perform, seeded, step_time
from tests.integration.test_guards import refused, with_values
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def test_an_hes_lot_in_the_ficoll_medium_field_is_refused_naming_both(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="rbc_reduced")

    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", medium_lot="HES2403"))

    assert error.code == E.MATERIAL_WRONG_KIND
    assert "HES2403 is Hydroxyethyl starch 6 % (HES), a sedimentation agent" in error.detail
    assert "this field takes the density gradient medium" in error.detail
    assert verify_all(session).ok


def test_a_ficoll_lot_as_the_diluent_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")

    error = refused(run, product, "formulate",
                    values=with_values(product, "formulate", diluent_lot="FP2404"))

    assert error.code == E.MATERIAL_WRONG_KIND
    assert error.detail == ("Diluent lot: FP2404 is Ficoll-Paque PREMIUM 1.077, a density "
                            "gradient medium; this field takes the diluent")


def test_the_hes_lot_as_the_cd133_reagent_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")

    error = refused(run, product, "enrich",
                    values=with_values(product, "enrich", reagent_lot="HES2403"))

    assert error.code == E.MATERIAL_WRONG_KIND
    assert "CliniMACS CD133 reagent" in error.detail


def test_a_clinimacs_as_the_centrifuge_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="rbc_reduced")

    error = refused(run, product, "isolate_mnc",
                    values=with_values(product, "isolate_mnc", centrifuge_id="MACS-01"))

    assert error.code == E.EQUIPMENT_WRONG_KIND
    assert error.detail == ("Centrifuge: MACS-01 is a CliniMACS instrument (CliniMACS Plus); "
                            "this field takes a centrifuge")


def test_a_centrifuge_as_the_clinimacs_instrument_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")

    error = refused(run, product, "enrich",
                    values=with_values(product, "enrich", instrument_id="CF-01"))

    assert error.code == E.EQUIPMENT_WRONG_KIND


def test_an_expired_filter_lot_is_refused_at_harvest(session):
    # given a filter lot, released for use when it came in, that expired last year (reference
    # data: QA releases no lot already expired, see test_lot_release.py)
    run = seeded(session)
    register_reagent_lot(session, actor=None, reagent="Marrow filter set", lot="FLT2001X",
                         material="filter", expires_on=date(2025, 1, 31),
                         received_on=date(2024, 9, 2))
    product, _ = make_product(run, arm="CD133", until="scheduled")

    error = refused(run, product, "harvest", at=step_time(product, "harvest"),
                    values=with_values(product, "harvest", filter_lot="FLT2001X"))

    assert error.code == E.REAGENT_EXPIRED
    assert "FLT2001X" in error.detail and "2025-01-31" in error.detail


def test_a_collection_set_lot_is_not_a_filter_lot(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="scheduled")

    error = refused(run, product, "harvest", at=step_time(product, "harvest"),
                    values=with_values(product, "harvest", filter_lot="BMC2408"))

    assert error.code == E.MATERIAL_WRONG_KIND
    assert "this field takes the marrow filter" in error.detail


def test_an_unregistered_collection_set_lot_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="scheduled")

    error = refused(run, product, "harvest", at=step_time(product, "harvest"),
                    values=with_values(product, "harvest", collection_set_lot="CS-NONE"))

    assert error.code == E.REAGENT_UNKNOWN


def test_the_harvest_records_its_collection_set_and_filter_lots(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="scheduled")

    record = perform(run, product, "harvest", at=step_time(product, "harvest")).record

    assert (record.values["collection_set_lot"], record.values["filter_lot"]) == (
        "BMC2408", "FLT2409")


# --- master data ------------------------------------------------------------------------------

@pytest.mark.parametrize("material", ["", "ficoll", "HES"])
def test_a_lot_is_registered_only_with_a_known_material(session, material):
    run = seeded(session)

    with pytest.raises(DomainError) as caught:
        register_reagent_lot(session, actor=run.user("super1"), reagent="Ficoll-Paque",
                             lot="FP9999", material=material, expires_on=date(2030, 1, 1))

    assert caught.value.code == E.INVALID_INPUT
    assert "density_gradient_medium" in caught.value.detail
    assert session.exec(select(ReagentLot).where(ReagentLot.lot == "FP9999")).first() is None


def test_equipment_is_registered_only_with_a_known_type(session):
    run = seeded(session)

    with pytest.raises(DomainError) as caught:
        register_equipment(session, actor=run.user("super1"), code="FR-01", kind="Fridge",
                           serial="F-1", calibration_due=date(2030, 1, 1))

    assert caught.value.code == E.INVALID_INPUT


def test_the_seed_gives_every_lot_its_material_and_records_one_a_lot_was_missing(session):
    # given a seeded lab in which one lot predates lots carrying their material
    seeded(session)
    lots = {lot.lot: lot.material for lot in session.exec(select(ReagentLot))}
    assert lots["FLT2409"] == "filter" and lots["FP2404"] == "density_gradient_medium"
    assert all(lots.values())
    old = session.exec(select(ReagentLot).where(ReagentLot.lot == "HES2403")).one()
    old.material = ""  # as the migration leaves a lot registered before it
    session.add(old)
    session.commit()

    # when the seed runs again, then it records that one and creates nothing else
    assert seed(session, load_seed(demo=True), progress=lambda _m: None) == 1
    session.refresh(old)
    assert old.material == "sedimentation_agent"
    assert seed(session, load_seed(demo=True), progress=lambda _m: None) == 0
    assert verify_all(session).ok
